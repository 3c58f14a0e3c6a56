//! SLA warnings and breaches on both backends: the sweep (run here at chosen instants) announces
//! each once — on the timeline, in the audit log, by email to the assignee through the real SMTP
//! sink and to the webhook (an HTTP receiver in the test) — and never to the customer.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::mail::{drain, inbox_of, mail_desk, unique};
use crate::on_both;
use crate::sla_tickets::{detail, set_tier};
use opsdesk_desk::tickets::sla_timers::sweep;

on_both!(
    warnings_and_breaches_are_announced_once_by_email_timeline_and_webhook,
    nobody_is_paged_outside_business_hours,
    a_breach_raises_the_priority_and_hands_the_ticket_to_the_lead
);

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

/// Runs the SLA sweep as if it were `at`; returns how many announcements it made.
async fn sweep_at(app: &crate::helpers::TestApp, at: i64) -> usize {
    let (db, config) = (&app.state.db, &app.state.config);
    sweep(db, &config.mail, &config.sla, at)
        .await
        .unwrap_or_else(|e| panic!("sweep: {e:?}"))
}

pub type Received = Arc<Mutex<Vec<Value>>>;

/// An HTTP server that keeps every JSON body posted to it; returns its URL.
pub async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap_or_else(|e| e.into_inner()).push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

/// The webhook bodies received so far (waits briefly for `at_least`).
pub async fn posted(got: &Received, at_least: usize) -> Vec<Value> {
    // Up to 20 s: a loaded two-core machine can be slow to deliver.
    for _ in 0..200 {
        let now = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if now.len() >= at_least {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {at_least} webhook posts arrived");
}

async fn warnings_and_breaches_are_announced_once_by_email_timeline_and_webhook(backend: Backend) {
    let (url, got) = receiver().await;
    let d = mail_desk(backend, |c| c.sla.webhook_url = Some(url)).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    let owner = format!("{}@example.com", unique("sla-owner"));
    d.app.add_user(&owner, "agent", "").await;
    let n = d.file(&d.alice, "Checkout is down", json!({})).await;
    let r = d
        .patch(
            &d.agent,
            &format!("/api/tickets/{n}"),
            json!({"assignee": owner}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let created = detail(&d, n).await["created_at"]
        .as_i64()
        .unwrap_or_default();

    let run = |at: i64| sweep_at(&d.app, created + at);
    // Agency, normal priority: first response within 240 minutes, warned at 75 % (180).
    assert_eq!(run(179 * MIN).await, 0, "nothing is due yet");
    assert_eq!(run(181 * MIN).await, 1, "the first-response warning");
    assert_eq!(run(181 * MIN).await, 0, "announced once");
    assert_eq!(run(230 * MIN).await, 0, "the breach is not due yet");
    assert_eq!(run(241 * MIN).await, 1, "the first-response breach");
    assert_eq!(run(300 * MIN).await, 0, "announced once");

    // On the timeline and in the audit log, once each.
    let t = detail(&d, n).await;
    let kinds: Vec<&str> = t["timeline"]
        .as_array()
        .map(|v| v.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(
        (count("sla_warning"), count("sla_breach")),
        (1, 1),
        "{kinds:?}"
    );
    let breach = t["timeline"]
        .as_array()
        .and_then(|v| v.iter().find(|e| e["kind"] == "sla_breach"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(breach["actor"], "system");
    assert!(
        breach["detail"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("#{n}")) && s.contains("first response")),
        "{breach}"
    );
    let actions = d.app.audit_actions().await;
    assert!(
        actions.iter().any(|a| a == "ticket.sla_warning"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == "ticket.sla_breach"),
        "{actions:?}"
    );

    // The customer sees none of it.
    let own = d.get(&d.alice, &format!("/api/tickets/{n}")).await.json();
    assert!(
        !own.to_string().contains("sla_breach") && own["sla"].is_null(),
        "{own}"
    );

    // Email to the assignee through the SMTP sink; the webhook got both, in order.
    drain(&d.app).await;
    let mails = inbox_of(&owner, 2).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.starts_with("[SLA warning]")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.starts_with("[SLA breach]")),
        "{subjects:?}"
    );
    let hooks = posted(&got, 2).await;
    let events: Vec<&str> = hooks.iter().filter_map(|h| h["event"].as_str()).collect();
    assert_eq!(events, ["sla.warning", "sla.breach"], "{hooks:?}");
    assert_eq!(hooks[1]["ticket"]["number"], n);
    assert_eq!(hooks[1]["target"], "first response");
    assert!(
        hooks[1]["text"]
            .as_str()
            .is_some_and(|s| s.contains("missed"))
    );

    // A public reply meets the first response; only the resolution target is left to warn of,
    // at 75 % of 1,920 minutes.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "On it."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(run(1_439 * MIN).await, 0);
    assert_eq!(run(1_441 * MIN).await, 1, "the resolution warning");
    drain(&d.app).await;
    let hooks = posted(&got, 3).await;
    assert_eq!(hooks[2]["target"], "resolution");
    assert_eq!(hooks.len(), 3, "{hooks:?}");
}

/// The first Saturday (UTC) after `t`, at `hour`:00, and the Monday after it.
fn next_weekend(t: i64, hour: i64) -> (i64, i64) {
    let mut day = t.div_euclid(DAY) + 1;
    // 1970-01-01 was a Thursday: weekday 0 is Sunday, 6 Saturday.
    while (day + 4).rem_euclid(7) != 6 {
        day += 1;
    }
    (day * DAY + hour * 60 * MIN, (day + 2) * DAY)
}

async fn nobody_is_paged_outside_business_hours(backend: Backend) {
    let d = crate::desk::desk(backend).await;
    // Priority runs on the seeded office calendar (UTC, Monday to Friday 09:00–17:00).
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Priority").await;
    let n = d.file(&d.alice, "Invoices are wrong", json!({})).await;
    let sla = detail(&d, n).await["sla"].clone();
    let resolution_due = sla["resolution"]["due_at"].as_i64().unwrap_or_default();
    for due in [
        sla["first_response"]["due_at"].as_i64(),
        Some(resolution_due),
    ] {
        let due = due.unwrap_or_default();
        let (hour, weekday) = (
            due.rem_euclid(DAY) / (60 * MIN),
            (due.div_euclid(DAY) + 4).rem_euclid(7),
        );
        assert!(
            (9..=17).contains(&hour) && (1..=5).contains(&weekday),
            "{sla}"
        );
    }
    // Both targets are missed by the Saturday after the resolution deadline, but nobody is paged
    // on the weekend: the breaches are announced on Monday at opening, once.
    let (saturday, monday) = next_weekend(resolution_due, 12);
    let run = |at: i64| sweep_at(&d.app, at);
    assert_eq!(run(saturday).await, 0);
    assert_eq!(run(saturday + DAY).await, 0, "nor on Sunday");
    assert_eq!(
        run(monday + 9 * 60 * MIN).await,
        2,
        "both breaches at opening"
    );
    assert_eq!(run(monday + 10 * 60 * MIN).await, 0, "once");
    let t = detail(&d, n).await;
    let breaches: Vec<&Value> = t["timeline"]
        .as_array()
        .map(|v| v.iter().filter(|e| e["kind"] == "sla_breach").collect())
        .unwrap_or_default();
    assert_eq!(breaches.len(), 2, "{t}");
    assert!(
        breaches.iter().all(|e| e["at"] == monday + 9 * 60 * MIN),
        "{breaches:?}"
    );
}

async fn a_breach_raises_the_priority_and_hands_the_ticket_to_the_lead(backend: Backend) {
    let d = crate::desk::desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    let lead = "lead@example.com";
    d.app.add_user(lead, "agent", "").await;
    let put = |body: Value| {
        crate::helpers::read(
            d.app
                .client
                .put(d.app.url("/api/tiers/Agency"))
                .bearer_auth(&d.admin)
                .json(&body),
        )
    };
    let targets = json!({
        "normal": {"first_response_minutes": 240, "next_response_minutes": 480, "resolution_minutes": 1920},
        "high": {"first_response_minutes": 120, "next_response_minutes": 240, "resolution_minutes": 960}
    });
    let r = put(json!({"name": "Agency", "targets": targets,
        "breach_actions": {"raise_priority": true, "reassign_to": "nobody@example.com"}}))
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.json()["error"]["fields"]["breach_actions.reassign_to"].is_string());
    let r = put(json!({"name": "Agency", "targets": targets,
        "breach_actions": {"raise_priority": true, "reassign_to": lead}}))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let actions = &r.json()["tier"]["breach_actions"];
    assert_eq!(actions["raise_priority"], true, "{actions}");
    assert_eq!(actions["reassign_to"]["name"], "lead", "shown by name");

    let n = d.file(&d.alice, "Payments stuck", json!({})).await;
    let created = detail(&d, n).await["created_at"]
        .as_i64()
        .unwrap_or_default();
    let run = |at: i64| sweep_at(&d.app, created + at);
    assert_eq!(run(181 * MIN).await, 1, "warning: nothing else happens");
    assert_eq!(detail(&d, n).await["priority"], "normal");
    assert_eq!(run(241 * MIN).await, 1, "the breach");
    let t = detail(&d, n).await;
    assert_eq!(t["priority"], "high", "{t}");
    assert_eq!(t["assignee"]["email"], lead, "{t}");
    assert_eq!(
        t["sla"]["first_response"]["target_minutes"], 120,
        "served as high now"
    );
    let details: Vec<&str> = t["timeline"]
        .as_array()
        .map(|v| v.iter().filter_map(|e| e["detail"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        details.contains(&"normal -> high (SLA breach)"),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.ends_with(&format!("-> {lead} (SLA breach)"))),
        "{details:?}"
    );
    // Still breached under the tighter target: not announced (or acted on) again.
    assert_eq!(run(242 * MIN).await, 0);
    assert_eq!(detail(&d, n).await["priority"], "high");
}
