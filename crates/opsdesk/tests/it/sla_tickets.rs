//! A ticket's SLA through its whole life on both backends: started under the requester's tier,
//! untouched by internal notes, met by public replies, paused while waiting on the customer,
//! restarted by the customer's message, stopped by resolution; deadlines in business time.

use serde_json::{Value, json};

use crate::desk::{Desk, desk};
use crate::helpers::Backend;
use crate::on_both;

on_both!(
    a_ticket_life_under_a_round_the_clock_tier,
    business_hours_deadlines_and_tiers_without_targets,
    a_new_priority_moves_the_deadlines_and_keeps_the_time_counted,
    a_changed_tier_reaches_open_tickets_only_when_applied,
    states_marked_paused_pause_the_clocks,
    new_calendar_hours_reach_open_tickets_and_keep_the_time_counted
);

const MIN: i64 = 60_000;

pub async fn detail(d: &Desk, n: i64) -> Value {
    let r = d.get(&d.agent, &format!("/api/tickets/{n}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

pub async fn set_tier(d: &Desk, path: &str, tier: &str) {
    let r = crate::helpers::read(
        d.app
            .client
            .put(d.app.url(path))
            .bearer_auth(&d.admin)
            .json(&json!({ "tier": tier })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

fn last_message_at(t: &Value) -> i64 {
    t["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["created_at"].as_i64())
        .unwrap_or_default()
}

async fn a_ticket_life_under_a_round_the_clock_tier(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    let n = d.file(&d.alice, "Export fails", json!({})).await;
    let t = detail(&d, n).await;
    let created = t["created_at"].as_i64().unwrap_or_default();
    let sla = &t["sla"];
    // Agency, normal priority: 240 / 480 / 1,920 minutes, round the clock.
    assert_eq!(sla["priority"], "normal");
    assert_eq!(sla["first_response"]["state"], "running", "{sla}");
    assert_eq!(sla["first_response"]["due_at"], created + 240 * MIN);
    assert_eq!(sla["resolution"]["due_at"], created + 1920 * MIN);
    assert_eq!(sla["next_response"]["state"], "not_started");
    // Customers do not see the team's targets.
    let own = d.get(&d.alice, &format!("/api/tickets/{n}")).await.json();
    assert!(
        own["sla"].is_null() && own["tier"]["name"] == "Agency",
        "{own}"
    );

    // An internal note meets nothing; a public reply meets the first-response target.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/notes"),
            json!({"body": "looking"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        detail(&d, n).await["sla"]["first_response"]["state"],
        "running"
    );
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "Which browser?"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = detail(&d, n).await;
    let replied = last_message_at(&t);
    let first = &t["sla"]["first_response"];
    assert_eq!(first["state"], "met", "{first}");
    assert_eq!(first["stopped_at"], replied);
    assert!(first["due_at"].is_null());

    // Waiting on the customer pauses every clock; the customer's answer restarts them and
    // opens a next-response cycle.
    let r = d
        .step(n, json!({"to": "triaged", "category": "Product"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = d.step(n, json!({"to": "waiting_on_customer"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sla = detail(&d, n).await["sla"].clone();
    assert_eq!(sla["paused"], true);
    assert_eq!(sla["resolution"]["state"], "paused");
    assert!(sla["resolution"]["due_at"].is_null());
    let r = d
        .post(
            &d.alice,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "Firefox 140"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = detail(&d, n).await;
    let answered = last_message_at(&t);
    let sla = &t["sla"];
    assert_eq!(sla["paused"], false, "{sla}");
    assert_eq!(sla["resolution"]["state"], "running");
    assert_eq!(sla["next_response"]["state"], "running");
    assert_eq!(sla["next_response"]["started_at"], answered);
    assert_eq!(sla["next_response"]["due_at"], answered + 480 * MIN);
    // Resolution time excludes the wait: it is due later than it first was.
    assert!(sla["resolution"]["due_at"].as_i64().unwrap_or_default() >= created + 1920 * MIN);

    // The next reply meets the next-response target; resolving stops the resolution clock.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "Thanks, checking."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(detail(&d, n).await["sla"]["next_response"]["state"], "met");
    for step in [
        json!({"to": "reproducing", "outcome": "reproduced", "steps": "Export 10k rows"}),
        json!({"to": "investigating", "evidence": "timeout in worker log"}),
        json!({"to": "fixed", "root_cause": "unbounded query", "fix": "paginate the export"}),
    ] {
        let r = d.step(n, step).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "Fixed now."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = d
        .step(
            n,
            json!({"to": "resolved", "note": "Paginated export shipped"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sla = detail(&d, n).await["sla"].clone();
    assert_eq!(sla["resolution"]["state"], "met", "{sla}");
    assert!(sla["resolution"]["stopped_at"].is_i64());
    // The page shows the targets.
    let staff = crate::helpers::TestAppClient::new(&d.app);
    staff
        .login("agent@example.com", crate::helpers::ADMIN_PASSWORD)
        .await;
    let page = staff.get_page(&format!("/desk/tickets/{n}")).await;
    assert!(
        page.text.contains("First response: <strong>met</strong>")
            && page.text.contains("Resolution: <strong>met</strong>"),
        "{}",
        page.text
    );
}

async fn business_hours_deadlines_and_tiers_without_targets(backend: Backend) {
    let d = desk(backend).await;
    // Priority: the office calendar (UTC, Mon–Fri 09:00–17:00), normal priority 480 minutes to
    // a first response — whenever the ticket comes in, the deadline is 8 business hours on.
    set_tier(&d, "/api/users/alice@customer.test/tier", "Priority").await;
    let n = d.file(&d.alice, "Invoice missing", json!({})).await;
    let t = detail(&d, n).await;
    let created = t["created_at"].as_i64().unwrap_or_default();
    let week: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "from": "09:00", "to": "17:00"}))
        .collect();
    let spec: opsdesk_sla::hours::HoursSpec =
        serde_json::from_value(json!({"time_zone": "UTC", "hours": week}))
            .unwrap_or_else(|e| panic!("{e}"));
    let hours = opsdesk_sla::hours::BusinessHours::load(&spec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t["sla"]["first_response"]["due_at"].as_i64(),
        hours.add(created, 480 * MIN)
    );
    assert_eq!(
        t["sla"]["resolution"]["due_at"].as_i64(),
        hours.add(created, 2400 * MIN)
    );
    // Community (the default) is best effort: no targets; Self-service has no ticket SLA.
    let b = d.file(&d.bob, "Question", json!({})).await;
    let sla = detail(&d, b).await["sla"].clone();
    assert_eq!(sla["first_response"]["state"], "best_effort", "{sla}");
    assert!(sla["resolution"]["due_at"].is_null());
    set_tier(&d, "/api/users/bob@other.test/tier", "Self-service").await;
    let b2 = d.file(&d.bob, "Another question", json!({})).await;
    assert!(detail(&d, b2).await["sla"].is_null());
    // A tier changed later leaves tickets already open as they were.
    assert_eq!(
        detail(&d, b).await["sla"]["first_response"]["state"],
        "best_effort"
    );
}

async fn a_new_priority_moves_the_deadlines_and_keeps_the_time_counted(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    let n = d.file(&d.alice, "Orders vanish", json!({})).await;
    let created = detail(&d, n).await["created_at"]
        .as_i64()
        .unwrap_or_default();
    // Agency urgent: 30 / 60 / 240 minutes, counted from filing, not from the change.
    let r = d
        .patch(
            &d.agent,
            &format!("/api/tickets/{n}"),
            json!({"priority": "urgent"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sla = detail(&d, n).await["sla"].clone();
    assert_eq!(sla["priority"], "urgent", "{sla}");
    assert_eq!(sla["first_response"]["target_minutes"], 30);
    assert_eq!(sla["first_response"]["due_at"], created + 30 * MIN, "{sla}");
    assert_eq!(sla["resolution"]["due_at"], created + 240 * MIN, "{sla}");
    // Lowered to low: 480 / 960 / 2,880.
    let r = d
        .patch(
            &d.agent,
            &format!("/api/tickets/{n}"),
            json!({"priority": "low"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sla = detail(&d, n).await["sla"].clone();
    assert_eq!(
        sla["first_response"]["due_at"],
        created + 480 * MIN,
        "{sla}"
    );
    assert_eq!(sla["resolution"]["due_at"], created + 2_880 * MIN, "{sla}");
    // While waiting on the customer a new priority moves the targets, not the pause.
    let r = d
        .step(n, json!({"to": "triaged", "category": "Product"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = d.step(n, json!({"to": "waiting_on_customer"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = d
        .patch(
            &d.agent,
            &format!("/api/tickets/{n}"),
            json!({"priority": "high"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sla = detail(&d, n).await["sla"].clone();
    assert_eq!(sla["paused"], true, "{sla}");
    assert_eq!(sla["first_response"]["state"], "paused", "{sla}");
    assert_eq!(sla["first_response"]["target_minutes"], 120);
    assert!(sla["first_response"]["due_at"].is_null(), "{sla}");
}

async fn put_tier(d: &Desk, token: &str, key: &str, body: Value) -> crate::helpers::Reply {
    crate::helpers::read(
        d.app
            .client
            .put(d.app.url(&format!("/api/tiers/{key}")))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

async fn a_changed_tier_reaches_open_tickets_only_when_applied(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    let open = d.file(&d.alice, "Still open", json!({})).await;
    let done = d.file(&d.alice, "Already done", json!({})).await;
    let r = d
        .step(done, json!({"to": "closed", "reason": "duplicate"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let created = detail(&d, open).await["created_at"]
        .as_i64()
        .unwrap_or_default();
    let tighter = json!({
        "name": "Agency",
        "calendar": null,
        "targets": {
            "normal": {"first_response_minutes": 60, "next_response_minutes": 120, "resolution_minutes": 600},
            "urgent": {"first_response_minutes": 15, "next_response_minutes": 30, "resolution_minutes": 120}
        }
    });
    // Staff may read tiers, not change them; bad input is refused by field; unknown tiers 404.
    let r = put_tier(&d, &d.agent, "Agency", tighter.clone()).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let mut bad = tighter.clone();
    bad["targets"]["normal"]["first_response_minutes"] = json!(-5);
    let r = put_tier(&d, &d.admin, "Agency", bad).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("targets.normal.first_response_minutes"),
        "{}",
        r.text
    );
    let r = put_tier(&d, &d.admin, "Platinum", tighter.clone()).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = put_tier(
        &d,
        &d.admin,
        "Agency",
        json!({"name": "Community", "targets": {}}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("already used"), "{}", r.text);

    // Saved without applying: the open ticket keeps its deadlines, a new one gets the new ones.
    let r = put_tier(&d, &d.admin, "Agency", tighter.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["open_tickets_updated"], 0);
    assert_eq!(
        r.json()["tier"]["targets"]["normal"]["first_response_minutes"],
        60
    );
    assert!(
        r.json()["tier"]["targets"]["low"].is_null(),
        "now best effort"
    );
    let sla = detail(&d, open).await["sla"].clone();
    assert_eq!(
        sla["first_response"]["due_at"],
        created + 240 * MIN,
        "{sla}"
    );
    let fresh = d.file(&d.alice, "Filed after the change", json!({})).await;
    let sla = detail(&d, fresh).await["sla"].clone();
    assert_eq!(sla["first_response"]["target_minutes"], 60, "{sla}");

    // Applied: open tickets move (time counted from filing), closed ones keep their record.
    let mut apply = tighter.clone();
    apply["apply_to_open"] = json!(true);
    let r = put_tier(&d, &d.admin, "Agency", apply).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["open_tickets_updated"], 2, "{}", r.text);
    let sla = detail(&d, open).await["sla"].clone();
    assert_eq!(sla["first_response"]["due_at"], created + 60 * MIN, "{sla}");
    assert_eq!(sla["resolution"]["target_minutes"], 600, "{sla}");
    let sla = detail(&d, done).await["sla"].clone();
    assert_eq!(sla["resolution"]["target_minutes"], 1_920, "{sla}");
    let actions = d.app.audit_actions().await;
    assert!(
        actions.iter().any(|a| a == "sla.tier.update"),
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| a == "sla.tier.apply"), "{actions:?}");
}

async fn put_paused(d: &Desk, token: &str, states: Value) -> crate::helpers::Reply {
    crate::helpers::read(
        d.app
            .client
            .put(d.app.url("/api/sla/paused-states"))
            .bearer_auth(token)
            .json(&json!({ "paused_states": states })),
    )
    .await
}

async fn states_marked_paused_pause_the_clocks(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    assert_eq!(put_paused(&d, &d.agent, json!(["fixed"])).await.status, 403);
    let r = put_paused(&d, &d.admin, json!(["closed"])).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.json()["error"]["fields"]["paused_states"].is_string());
    let r = put_paused(
        &d,
        &d.admin,
        json!(["fixed", "waiting_on_customer", "fixed"]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["paused_states"], json!(["fixed"]));
    let seen = d.get(&d.agent, "/api/sla/paused-states").await;
    assert_eq!(seen.json()["paused_states"], json!(["fixed"]));
    assert_eq!(d.get(&d.alice, "/api/sla/paused-states").await.status, 403);
    assert!(
        d.app
            .audit_actions()
            .await
            .iter()
            .any(|a| a == "sla.paused_states")
    );

    let n = d.file(&d.alice, "Slow export", json!({})).await;
    for step in [
        json!({"to": "triaged", "category": "Product"}),
        json!({"to": "reproducing", "outcome": "reproduced", "steps": "Export 10k rows"}),
        json!({"to": "investigating", "evidence": "timeout in worker log"}),
    ] {
        let r = d.step(n, step).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(detail(&d, n).await["sla"]["paused"], false);
    let r = d
        .step(
            n,
            json!({"to": "fixed", "root_cause": "unbounded query", "fix": "paginate"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sla = detail(&d, n).await["sla"].clone();
    assert_eq!(sla["paused"], true, "{sla}");
    assert_eq!(sla["resolution"]["state"], "paused", "{sla}");
    assert!(sla["resolution"]["due_at"].is_null(), "{sla}");
    // The reply about the fix moves it on to responded: out of the paused state the clocks
    // run again.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "Fixed in 2.4.1."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = detail(&d, n).await;
    assert_eq!(t["state"], "responded", "{t}");
    let sla = t["sla"].clone();
    assert_eq!(sla["paused"], false, "{sla}");
    assert_eq!(sla["resolution"]["state"], "running", "{sla}");
}

async fn new_calendar_hours_reach_open_tickets_and_keep_the_time_counted(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Priority").await;
    let n = d.file(&d.alice, "Reports are empty", json!({})).await;
    let created = detail(&d, n).await["created_at"]
        .as_i64()
        .unwrap_or_default();
    let put = |token: &str, key: &str, body: Value| {
        crate::helpers::read(
            d.app
                .client
                .put(d.app.url(&format!("/api/calendars/{key}")))
                .bearer_auth(token)
                .json(&body),
        )
    };
    let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| json!({"day": day, "from": "00:00", "to": "24:00"}))
        .collect();
    let round_the_clock = json!({"name": "Office hours", "time_zone": "UTC", "hours": every_day});
    assert_eq!(
        put(&d.agent, "Office%20hours", round_the_clock.clone())
            .await
            .status,
        403
    );
    assert_eq!(
        put(&d.admin, "Lunar%20hours", round_the_clock.clone())
            .await
            .status,
        404
    );
    let r = put(
        &d.admin,
        "Office%20hours",
        json!({"name": "Office hours", "time_zone": "UTC", "hours": []}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);

    let r = put(&d.admin, "Office%20hours", round_the_clock).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["open_tickets_updated"], 1, "{}", r.text);
    let after = opsdesk_core::clock::now_ms();
    // Priority normal: 480 minutes to first response, now counted round the clock from the
    // business time counted so far (at most the wall time since filing).
    let due = detail(&d, n).await["sla"]["first_response"]["due_at"]
        .as_i64()
        .unwrap_or_default();
    assert!(
        due >= created + 480 * MIN && due <= after + 480 * MIN,
        "due {due}, filed {created}"
    );
    assert!(
        d.app
            .audit_actions()
            .await
            .iter()
            .any(|a| a == "sla.calendar.update")
    );
}
