//! Tiers and business-hours calendars over the API on both backends: the seeded tiers, creating
//! calendars and tiers, every kind of bad input refused by field, who may see and change them,
//! and the audit record of each change.

use serde_json::{Value, json};

use crate::desk::desk;
use crate::helpers::Backend;
use crate::on_both;

on_both!(
    seeded_tiers_and_calendars_are_listed_for_staff_only,
    admins_create_calendars_and_tiers_that_use_them,
    bad_calendars_and_tiers_are_refused_by_field,
    tickets_show_the_tier_their_requester_is_served_under,
    the_sla_page_shows_tiers_and_lets_admins_change_targets,
    admins_add_tiers_and_set_breach_actions_in_forms
);

fn fields(r: &crate::helpers::Reply) -> Vec<String> {
    r.json()["error"]["fields"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn office(name: &str) -> Value {
    let hours: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"day": d, "from": "09:00", "to": "17:00"}))
        .collect();
    json!({
        "name": name,
        "time_zone": "Europe/Berlin",
        "hours": hours,
        "holidays": [{"date": "12-25", "name": "Christmas"}, {"date": "2099-01-02"}],
    })
}

async fn seeded_tiers_and_calendars_are_listed_for_staff_only(backend: Backend) {
    let d = desk(backend).await;
    let r = d.get(&d.agent, "/api/tiers").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let tiers = r.json();
    let names: Vec<&str> = tiers
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["Self-service", "Community", "Priority", "Agency"]);
    // Self-service has no ticket SLA; Community is business hours, best effort; Priority
    // guarantees response times in business hours; Agency is covered round the clock.
    assert_eq!(tiers[0]["ticket_sla"], false);
    assert_eq!(tiers[1]["targets"], json!({}));
    assert_eq!(tiers[1]["calendar"]["name"], "Office hours");
    assert_eq!(
        tiers[2]["targets"]["urgent"],
        json!({"first_response_minutes": 60, "next_response_minutes": 120, "resolution_minutes": 480})
    );
    assert_eq!(tiers[2]["targets"]["low"]["first_response_minutes"], 960);
    assert!(tiers[3]["calendar"].is_null());
    assert_eq!(tiers[3]["targets"]["urgent"]["first_response_minutes"], 30);

    let r = d.get(&d.agent, "/api/calendars").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cal = &r.json()[0];
    assert_eq!(cal["name"], "Office hours");
    assert_eq!(cal["time_zone"], "UTC");
    assert_eq!(cal["weekly_open_minutes"], 5 * 8 * 60);

    for path in ["/api/tiers", "/api/calendars"] {
        let r = d.get(&d.alice, path).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        let r = d.app.client.get(d.app.url(path)).send().await;
        assert_eq!(r.map(|r| r.status().as_u16()).unwrap_or(0), 401, "{path}");
    }
}

async fn admins_create_calendars_and_tiers_that_use_them(backend: Backend) {
    let d = desk(backend).await;
    let r = d.post(&d.admin, "/api/calendars", office("EU team")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let cal = r.json();
    assert_eq!(cal["weekly_open_minutes"], 2400);
    assert_eq!(cal["holidays"][0]["name"], "Christmas");
    // A night shift across midnight, in another zone.
    let r = d
        .post(
            &d.admin,
            "/api/calendars",
            json!({"name": "US nights", "time_zone": "America/New_York",
                   "hours": [{"day": "sun", "from": "22:00", "to": "06:00"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["weekly_open_minutes"], 8 * 60);

    let r = d
        .post(
            &d.admin,
            "/api/tiers",
            json!({"name": "Gold", "calendar": "eu team", "warn_percent": 80,
                   "targets": {"urgent": {"first_response_minutes": 15, "resolution_minutes": 240},
                               "normal": {"first_response_minutes": 120}}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gold = r.json();
    assert_eq!(gold["calendar"]["id"], cal["id"]);
    assert_eq!(gold["position"], 4);
    assert_eq!(gold["warn_percent"], 80);
    assert_eq!(
        gold["targets"]["urgent"]["next_response_minutes"],
        Value::Null
    );
    assert_eq!(gold["targets"]["normal"]["first_response_minutes"], 120);
    assert!(
        gold["targets"]["high"].is_null(),
        "unset priorities are best effort"
    );
    // Round the clock: no calendar.
    let r = d
        .post(
            &d.admin,
            "/api/tiers",
            json!({"name": "Always on", "calendar": null}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.json()["calendar"].is_null());

    let listed = d.get(&d.agent, "/api/tiers").await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(6));
    assert_eq!(listed[4]["name"], "Gold");
    // Each change has its audit record.
    let audit = d.get(&d.admin, "/api/audit?limit=20").await;
    assert!(audit.text.contains("sla.calendar.create"), "{}", audit.text);
    assert!(audit.text.contains("sla.tier.create"), "{}", audit.text);

    // Agents and customers may not change them; read-only tokens neither.
    for who in [&d.agent, &d.alice] {
        let r = d.post(who, "/api/tiers", json!({"name": "Mine"})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = d.post(who, "/api/calendars", office("Mine")).await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
}

async fn bad_calendars_and_tiers_are_refused_by_field(backend: Backend) {
    let d = desk(backend).await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"name": "", "time_zone": "Mars/Olympus", "hours": []}),
            vec!["name", "time_zone", "hours"],
        ),
        (
            json!({"name": "Inverted", "time_zone": "UTC",
                   "hours": [{"day": "mon", "from": "17:00", "to": "17:00"},
                             {"day": "funday", "from": "25:00", "to": "9"}]}),
            vec![
                "hours[0].to",
                "hours[1].day",
                "hours[1].from",
                "hours[1].to",
            ],
        ),
        (
            json!({"name": "Overlap", "time_zone": "UTC",
                   "hours": [{"day": "tue", "from": "09:00", "to": "17:00"},
                             {"day": "tue", "from": "12:00", "to": "20:00"}]}),
            vec!["hours[1].from"],
        ),
        (
            json!({"name": "Past", "time_zone": "UTC",
                   "hours": [{"day": "tue", "from": "09:00", "to": "17:00"}],
                   "holidays": [{"date": "2020-01-01"}, {"date": "02-30"}]}),
            vec!["holidays[0].date", "holidays[1].date"],
        ),
    ];
    for (body, expected) in cases {
        let r = d.post(&d.admin, "/api/calendars", body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        let mut got = fields(&r);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{body}: {}", r.text);
    }
    // A duplicate name, and malformed JSON.
    let r = d
        .post(&d.admin, "/api/calendars", office("Office hours"))
        .await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["name".to_string()]),
        "{}",
        r.text
    );
    let r = crate::helpers::read(
        d.app
            .client
            .post(d.app.url("/api/calendars"))
            .bearer_auth(&d.admin)
            .header("content-type", "application/json")
            .body("{\"name\": "),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);

    let tier_cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"name": "Neg", "targets": {"urgent": {"first_response_minutes": -1,
                   "resolution_minutes": 9999999}, "asap": {}}}),
            vec![
                "targets.urgent.first_response_minutes",
                "targets.urgent.resolution_minutes",
                "targets.asap",
            ],
        ),
        (
            json!({"name": "Nowhere", "calendar": "Atlantis"}),
            vec!["calendar"],
        ),
        (json!({"name": "Priority"}), vec!["name"]),
        (
            json!({"name": "Loud", "warn_percent": 0}),
            vec!["warn_percent"],
        ),
        (
            json!({"name": "Free", "ticket_sla": false,
                   "targets": {"low": {"first_response_minutes": 60}}}),
            vec!["targets"],
        ),
    ];
    for (body, expected) in tier_cases {
        let r = d.post(&d.admin, "/api/tiers", body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        let mut got = fields(&r);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{body}: {}", r.text);
    }
    // Nothing half-made was kept.
    let listed = d.get(&d.admin, "/api/tiers").await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(4));
    let cals = d.get(&d.admin, "/api/calendars").await.json();
    assert_eq!(cals.as_array().map(Vec::len), Some(1));
}

async fn tickets_show_the_tier_their_requester_is_served_under(backend: Backend) {
    let d = desk(backend).await;
    let alice = d.file(&d.alice, "Export fails", json!({})).await;
    let bob = d.file(&d.bob, "Login loops", json!({})).await;
    let tier_of = |n: i64| {
        let d = &d;
        async move {
            let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
            (
                t["tier"]["name"].as_str().unwrap_or("-").to_string(),
                t["tier"]["source"].as_str().unwrap_or("-").to_string(),
            )
        }
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(tier_of(alice).await, pair("Community", "default"));

    // The organization's tier, then the customer's own, then back to the organization's.
    let put = |path: String, tier: Value| {
        let d = &d;
        async move {
            d.app
                .client
                .put(d.app.url(&path))
                .bearer_auth(&d.admin)
                .json(&json!({"tier": tier}))
                .send()
                .await
        }
    };
    let r = put(
        "/api/organizations/Alice%20Corp/tier".into(),
        json!("Priority"),
    )
    .await;
    assert_eq!(r.map(|r| r.status().as_u16()).unwrap_or(0), 200);
    assert_eq!(tier_of(alice).await, pair("Priority", "organization"));
    let r = put(
        "/api/users/alice@customer.test/tier".into(),
        json!("agency"),
    )
    .await;
    assert_eq!(r.map(|r| r.status().as_u16()).unwrap_or(0), 200);
    assert_eq!(tier_of(alice).await, pair("Agency", "customer"));
    assert_eq!(tier_of(bob).await, pair("Community", "default"));
    // The customer sees it on their own ticket, and the agent's ticket page shows it.
    let own = d
        .get(&d.alice, &format!("/api/tickets/{alice}"))
        .await
        .json();
    assert_eq!(own["tier"]["name"], "Agency");
    let r = put("/api/users/alice@customer.test/tier".into(), Value::Null).await;
    assert_eq!(r.map(|r| r.status().as_u16()).unwrap_or(0), 200);
    assert_eq!(tier_of(alice).await, pair("Priority", "organization"));
    let staff = crate::helpers::TestAppClient::new(&d.app);
    staff
        .login("agent@example.com", crate::helpers::ADMIN_PASSWORD)
        .await;
    let page = staff.get_page(&format!("/desk/tickets/{alice}")).await;
    assert!(
        page.text.contains("Tier: <strong>Priority</strong>")
            && page.text.contains("from the organization"),
        "{}",
        page.text
    );

    // Unknown tier, unknown or non-customer holder, and who may do it.
    let r = crate::helpers::read(
        d.app
            .client
            .put(d.app.url("/api/users/bob@other.test/tier"))
            .bearer_auth(&d.admin)
            .json(&json!({"tier": "Platinum"})),
    )
    .await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["tier".to_string()]),
        "{}",
        r.text
    );
    for path in [
        "/api/users/nobody@nowhere.test/tier",
        "/api/users/agent@example.com/tier",
        "/api/organizations/Nope/tier",
    ] {
        let r = crate::helpers::read(
            d.app
                .client
                .put(d.app.url(path))
                .bearer_auth(&d.admin)
                .json(&json!({"tier": "Priority"})),
        )
        .await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    let r = crate::helpers::read(
        d.app
            .client
            .put(d.app.url("/api/users/bob@other.test/tier"))
            .bearer_auth(&d.agent)
            .json(&json!({"tier": "Priority"})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(tier_of(bob).await, pair("Community", "default"));
    let audit = d.get(&d.admin, "/api/audit?limit=20").await;
    assert!(
        audit.text.contains("sla.tier.assign.organization"),
        "{}",
        audit.text
    );
    assert!(
        audit.text.contains("sla.tier.assign.user"),
        "{}",
        audit.text
    );
}

async fn the_sla_page_shows_tiers_and_lets_admins_change_targets(backend: Backend) {
    use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestAppClient};
    let app = crate::helpers::spawn_app(backend).await;
    app.setup().await;
    app.add_user("agent@example.com", "agent", "").await;
    let agent = TestAppClient::new(&app);
    agent.login("agent@example.com", ADMIN_PASSWORD).await;
    let page = agent.get_page("/sla").await;
    assert_eq!(page.status, 200);
    for text in [
        "Self-service",
        "Community",
        "Priority",
        "Agency",
        "Office hours",
        "Round the clock",
    ] {
        assert!(page.text.contains(text), "{text} missing");
    }
    assert!(
        !page.text.contains("name=\"normal_first\""),
        "staff read, admins edit"
    );
    let r = agent
        .client
        .post(format!("{}/sla/tiers/tier-agency", agent.base))
        .header("accept", "text/html")
        .form(&[("normal_first", "60")])
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or_default();
    assert_eq!(r, 403);

    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app.get_page("/sla").await;
    assert!(
        page.text.contains("name=\"normal_first\" value=\"240\""),
        "{}",
        page.text
    );
    let mut form: Vec<(String, String)> = Vec::new();
    for (p, f, n, r) in [
        ("low", "480", "960", "2880"),
        ("normal", "60", "480", "1920"),
        ("high", "120", "240", "960"),
        ("urgent", "", "", ""),
    ] {
        form.push((format!("{p}_first"), f.into()));
        form.push((format!("{p}_next"), n.into()));
        form.push((format!("{p}_resolution"), r.into()));
    }
    form.push(("warn_percent".into(), "80".into()));
    let as_refs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    let post = |f: Vec<(String, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> =
                f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.post_form("/sla/tiers/tier-agency", &pairs).await
        }
    };
    let mut bad = as_refs(&form);
    bad[3].1 = "soon".into();
    let r = post(bad).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("must be a whole number of minutes"),
        "{}",
        r.text
    );
    let mut absurd = as_refs(&form);
    absurd[3].1 = "-5".into();
    let r = post(absurd).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = post(as_refs(&form)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get_page("/sla").await;
    assert!(
        page.text
            .contains("Saved Agency; open tickets keep their deadlines."),
        "{}",
        page.text
    );
    let token = app
        .token(ADMIN_EMAIL, opsdesk_core::auth::tokens::Scope::Read)
        .await;
    let tiers = app.get_with_token("/api/tiers", &token).await.json();
    let agency = tiers
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "Agency"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        agency["targets"]["normal"]["first_response_minutes"], 60,
        "{agency}"
    );
    assert_eq!(agency["warn_percent"], 80);
    assert!(
        agency["targets"]["urgent"].is_null(),
        "emptied: best effort"
    );
    assert_eq!(agency["shared_space"], true, "kept");

    // Calendars: added and changed in the page, bad lines refused by line.
    let r = app
        .post_form(
            "/sla/calendars",
            &[
                ("name", "US team"),
                ("time_zone", "America/New_York"),
                ("hours", "weekdays 9 to 5"),
                ("holidays", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("hours line 1"), "{}", r.text);
    let r = app
        .post_form(
            "/sla/calendars",
            &[
                ("name", "US team"),
                ("time_zone", "America/Gotham"),
                ("hours", "mon 09:00-17:00"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("time_zone"), "{}", r.text);
    let r = app
        .post_form(
            "/sla/calendars",
            &[
                ("name", "US team"),
                ("time_zone", "America/New_York"),
                ("hours", "mon 09:00-17:00\ntue 09:00-17:00"),
                ("holidays", "11-26 Thanksgiving"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = app
        .post_form(
            "/sla/calendars/cal-office",
            &[
                ("name", "Office hours"),
                ("time_zone", "UTC"),
                ("hours", "mon 08:00-18:00\nfri 08:00-16:00"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get_page("/sla").await.text;
    assert!(
        page.contains("Saved Office hours; 0 open tickets"),
        "{page}"
    );
    let calendars = app.get_with_token("/api/calendars", &token).await.json();
    let named = |n: &str| {
        calendars
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == n))
            .cloned()
            .unwrap_or_else(|| panic!("no {n}: {calendars}"))
    };
    assert_eq!(named("US team")["holidays"][0]["name"], "Thanksgiving");
    assert_eq!(named("US team")["hours"].as_array().map(Vec::len), Some(2));
    assert_eq!(named("Office hours")["weekly_open_minutes"], 18 * 60);
    assert!(
        page.contains("mon 08:00-18:00"),
        "the form shows the hours as saved"
    );
}

async fn admins_add_tiers_and_set_breach_actions_in_forms(backend: Backend) {
    use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD};
    let app = crate::helpers::spawn_app(backend).await;
    app.setup().await;
    let lead = app.add_user("lead@example.com", "agent", "").await;
    let token = app
        .token(ADMIN_EMAIL, opsdesk_core::auth::tokens::Scope::Write)
        .await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app.get_page("/sla").await;
    assert!(page.text.contains("New tier"), "{}", page.text);

    let r = app
        .post_form("/sla/tiers", &[("name", ""), ("ticket_sla", "on")])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("New tier:"), "{}", r.text);
    let r = app
        .post_form(
            "/sla/tiers",
            &[
                ("name", "Enterprise"),
                ("ticket_sla", "on"),
                ("reassign_to", "nobody@example.com"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "an unknown team lead is refused: {}", r.text);
    let r = app
        .post_form(
            "/sla/tiers",
            &[
                ("name", "Enterprise"),
                ("calendar", ""),
                ("warn_percent", "60"),
                ("ticket_sla", "on"),
                ("urgent_first", "15"),
                ("urgent_resolution", "240"),
                ("normal_first", "60"),
                ("raise_priority", "on"),
                ("reassign_to", "lead@example.com"),
                ("shared_space", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let tiers = app.get_with_token("/api/tiers", &token).await.json();
    let t = tiers
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "Enterprise"))
        .cloned()
        .unwrap_or_else(|| panic!("no Enterprise tier in {tiers}"));
    assert_eq!(t["warn_percent"], 60);
    assert_eq!(t["targets"]["urgent"]["first_response_minutes"], 15);
    assert_eq!(t["targets"]["normal"]["first_response_minutes"], 60);
    assert_eq!(t["breach_actions"]["raise_priority"], true);
    assert_eq!(t["breach_actions"]["reassign_to"]["id"], lead.id.as_str());
    assert_eq!(t["shared_space"], true);
    assert!(t["calendar"].is_null(), "round the clock: {t}");

    // The tier's own form changes its calendar and breach actions too.
    let id = t["id"].as_str().unwrap_or_default().to_string();
    let calendars = app.get_with_token("/api/calendars", &token).await.json();
    let office = calendars[0]["id"].as_str().unwrap_or_default().to_string();
    let r = app
        .post_form(
            &format!("/sla/tiers/{id}"),
            &[
                ("settings", "1"),
                ("calendar", &office),
                ("urgent_first", "15"),
                ("reassign_to", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let tiers = app.get_with_token("/api/tiers", &token).await.json();
    let t = tiers
        .as_array()
        .and_then(|a| a.iter().find(|t| t["name"] == "Enterprise"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(t["calendar"]["id"], office.as_str(), "{t}");
    assert_eq!(t["breach_actions"]["raise_priority"], false);
    assert!(t["breach_actions"]["reassign_to"].is_null(), "{t}");
    assert_eq!(t["shared_space"], false);
}
