//! Incidents end to end over the API: declared with a ticket, a down check and an affected
//! component; public updates on the status page and its Statuspage JSON and as replies on the
//! linked ticket; resolving needs a root cause; the postmortem's action items become tickets;
//! flips land on the timeline; a check set to auto-declare declares one; the change freeze.

use opsdesk_core::audit::Actor;
use opsdesk_core::auth::tokens::Scope;
use serde_json::{Value, json};

use crate::heartbeats::monitored;
use crate::helpers::{ADMIN_EMAIL, Backend, Reply, TestApp, read, spawn_with};
use crate::on_both;

on_both!(
    an_incident_runs_from_declaration_to_postmortem,
    a_check_set_to_auto_declare_declares_an_incident_and_freezes_changes,
    incidents_are_run_in_forms
);

pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> Reply {
    read(
        app.client
            .request(method, app.url(path))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

async fn ticket(app: &TestApp, token: &str, subject: &str) -> i64 {
    let r = app
        .post_json_with_token(
            "/api/tickets",
            token,
            &json!({"subject": subject, "body": "It does not work.", "email": "carol@customer.example", "name": "Carol"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["number"].as_i64().unwrap_or_default()
}

fn field(r: &Reply) -> String {
    r.json()["error"]["fields"]
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

async fn an_incident_runs_from_declaration_to_postmortem(backend: Backend) {
    let m = monitored(spawn_with(backend, |_| {}).await).await;
    let app = &m.app;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let number = ticket(app, &token, "Cannot log in").await;
    let r = app
        .post_json_with_token("/api/status/components", &token, &json!({"name": "Login"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let component = r.json()["id"].as_str().unwrap_or_default().to_string();
    let check = m
        .create(json!({"name": "Auth probe", "timeout": 60, "grace": 60}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    read(app.client.get(app.url(&format!("/ping/{uuid}/fail")))).await;

    // Bad input is refused, field by field, and nothing is declared.
    for (body, f) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "x", "severity": 9}), "severity"),
        (json!({"title": "x", "tickets": ["999999"]}), "tickets"),
        (json!({"title": "x", "checks": ["nope"]}), "checks"),
        (
            json!({"title": "x", "components": [{"id": component, "impact": "meh"}]}),
            "components",
        ),
        (
            json!({"title": "x", "commander": "nobody@example.com"}),
            "commander",
        ),
    ] {
        let r = app
            .post_json_with_token("/api/incidents", &token, &body)
            .await;
        assert_eq!(r.status, 422, "{body} → {}", r.text);
        assert!(field(&r).contains(f), "{body} → {}", r.text);
    }
    let r = read(
        app.client
            .post(app.url("/api/incidents"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{\"title\": "),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        app.get_with_token("/api/incidents/INC-99", &token)
            .await
            .status,
        404
    );

    let r = app
        .post_json_with_token(
            "/api/incidents",
            &token,
            &json!({
                "title": "Logins fail",
                "severity": 2,
                "summary": "Customers report failed logins.",
                "tickets": [number.to_string()],
                "checks": [uuid],
                "components": [{"id": component, "impact": "major_outage"}],
                "public_message": "We are investigating failed logins."
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let inc = r.json();
    assert_eq!(inc["reference"], "INC-1");
    assert_eq!(inc["status"], "investigating");
    assert_eq!(inc["public"], true);
    assert_eq!(inc["commander"]["email"], ADMIN_EMAIL);
    let mut kinds: Vec<&str> = inc["links"]
        .as_array()
        .map(|a| a.iter().filter_map(|l| l["kind"].as_str()).collect())
        .unwrap_or_default();
    kinds.sort();
    assert_eq!(kinds, ["check", "ticket"], "{inc}");

    // The status page shows it, with the component at the impact the incident names.
    let summary = app.get("/api/v2/summary.json").await.json();
    assert_eq!(
        summary["components"][0]["status"], "major_outage",
        "{summary}"
    );
    // The one component is down: Statuspage calls that critical.
    assert_eq!(summary["status"]["indicator"], "critical", "{summary}");
    let open = app.get("/api/v2/incidents/unresolved.json").await.json();
    assert_eq!(open["incidents"][0]["name"], "Logins fail", "{open}");
    assert_eq!(
        open["incidents"][0]["incident_updates"][0]["body"],
        "We are investigating failed logins."
    );

    // The ticket's timeline knows of the incident.
    let t = app
        .get_with_token(&format!("/api/tickets/{number}"), &token)
        .await
        .json();
    assert!(
        t["timeline"]
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["kind"] == "incident")),
        "{t}"
    );

    // A flip of the linked check lands on the timeline.
    read(app.client.get(app.url(&format!("/ping/{uuid}")))).await;
    let inc = app.get_with_token("/api/incidents/1", &token).await.json();
    assert!(
        inc["timeline"].as_array().is_some_and(|a| a
            .iter()
            .any(|e| e["kind"] == "flip" && e["body"].as_str().unwrap_or("").contains("went up"))),
        "{inc}"
    );

    // An internal note stays internal; a public update with notify is a reply on the ticket.
    let r = send(
        app,
        reqwest::Method::POST,
        "/api/incidents/INC-1/updates",
        &token,
        json!({"body": "Suspect the session store.", "public": false}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = send(app, reqwest::Method::POST, "/api/incidents/INC-1/updates", &token,
        json!({"body": "We found the cause and are fixing it.", "public": true, "notify": true, "status": "identified"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["status"], "identified");
    let r = send(
        app,
        reqwest::Method::POST,
        "/api/incidents/INC-1/updates",
        &token,
        json!({"body": "x", "public": false, "notify": true}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let open = app.get("/api/v2/incidents/unresolved.json").await.json();
    let bodies: Vec<&str> = open["incidents"][0]["incident_updates"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["body"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        bodies.contains(&"We found the cause and are fixing it."),
        "{open}"
    );
    assert!(
        !bodies.iter().any(|b| b.contains("session store")),
        "{open}"
    );
    let t = app
        .get_with_token(&format!("/api/tickets/{number}"), &token)
        .await
        .json();
    assert!(
        t["messages"]
            .as_array()
            .is_some_and(|a| a.iter().any(|msg| msg["body"]
                .as_str()
                .unwrap_or("")
                .contains("We found the cause"))),
        "{t}"
    );

    // Handing over command is the commander's or an admin's.
    app.add_user("bob@example.com", "agent", "").await;
    let bob = app.token("bob@example.com", Scope::Write).await;
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &bob,
        json!({"commander": "me"}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(field(&r), "commander");
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &token,
        json!({"commander": "bob@example.com"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["commander"]["email"], "bob@example.com");
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &bob,
        json!({"commander": ADMIN_EMAIL}),
    )
    .await;
    assert_eq!(r.status, 200, "the commander hands back: {}", r.text);

    // Resolving needs a root cause; the postmortem needs one too, and is due for SEV2.
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &token,
        json!({"status": "resolved"}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(field(&r), "status");
    let r = send(
        app,
        reqwest::Method::POST,
        "/api/incidents/1/postmortem",
        &token,
        json!({"impact": "All logins failed", "root_cause": "x"}),
    )
    .await;
    assert_eq!(r.status, 422, "postmortem before resolving: {}", r.text);
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &token,
        json!({"status": "resolved", "root_cause": "The session store's disk was full."}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let inc = r.json();
    assert_eq!(inc["status"], "resolved");
    assert_eq!(inc["postmortem_due"], true);
    assert!(inc["resolved_at"].is_string());
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &token,
        json!({"root_cause": ""}),
    )
    .await;
    assert_eq!(
        r.status, 422,
        "a resolved incident keeps its root cause: {}",
        r.text
    );
    let listed = app
        .get_with_token("/api/incidents?state=live", &token)
        .await
        .json();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    let r = app
        .get_with_token("/api/incidents?state=nope", &token)
        .await;
    assert_eq!(r.status, 422, "{}", r.text);

    let r = send(
        app,
        reqwest::Method::POST,
        "/api/incidents/1/postmortem",
        &token,
        json!({"impact": "All logins failed for 20 minutes.", "root_cause": " "}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(field(&r), "root_cause");
    let r = send(
        app,
        reqwest::Method::POST,
        "/api/incidents/1/postmortem",
        &token,
        json!({
            "impact": "All logins failed for 20 minutes.",
            "root_cause": "The session store's disk filled up.",
            "went_well": "The probe caught it.",
            "went_badly": "No disk alert.",
            "action_items": ["Add a disk-space alert", "Rotate session logs"]
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let inc = r.json();
    assert_eq!(inc["status"], "postmortem");
    assert_eq!(inc["postmortem_due"], false);
    let timeline = inc["postmortem"]["timeline"].as_str().unwrap_or_default();
    assert!(
        timeline.contains("declared: Declared SEV2: Logins fail"),
        "{timeline}"
    );
    let items: Vec<String> = inc["links"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|l| l["kind"] == "action_item")
                .filter_map(|l| l["label"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(items.len(), 2, "{inc}");
    assert!(
        items[0].contains("INC-1 action item: Add a disk-space alert"),
        "{items:?}"
    );
    let all = app
        .get_with_token("/api/tickets?limit=50", &token)
        .await
        .json();
    let subjects: Vec<&str> = all["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["subject"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        subjects.contains(&"INC-1 action item: Rotate session logs"),
        "{all}"
    );

    let done = app.get("/api/v2/incidents.json").await.json();
    assert_eq!(done["incidents"][0]["status"], "postmortem", "{done}");
    let open = app.get("/api/v2/incidents/unresolved.json").await.json();
    assert_eq!(
        open["incidents"].as_array().map(Vec::len),
        Some(0),
        "{open}"
    );
    let summary = app.get("/api/v2/summary.json").await.json();
    assert_eq!(
        summary["components"][0]["status"], "operational",
        "{summary}"
    );
    // A closed incident does not move again.
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &token,
        json!({"status": "investigating"}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);

    let audit = app.audit_actions().await;
    for a in [
        "incident.declare",
        "incident.note",
        "incident.update.public",
        "incident.update",
        "incident.postmortem",
    ] {
        assert!(audit.iter().any(|x| x == a), "{a} missing from {audit:?}");
    }
}

async fn a_check_set_to_auto_declare_declares_an_incident_and_freezes_changes(backend: Backend) {
    let m = monitored(spawn_with(backend, |c| c.incidents.freeze_severity = 2).await).await;
    let app = &m.app;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let db = &app.state.db;
    let check = m
        .create(json!({"name": "Payments worker", "timeout": 60, "grace": 60}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    let quiet = m
        .create(json!({"name": "Reports", "timeout": 60, "grace": 60}))
        .await;
    let quiet = quiet["uuid"].as_str().unwrap_or_default().to_string();
    opsdesk_ops::incidents::settings::set_auto_declare(db, &Actor::cli(), &uuid, 1)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        opsdesk_ops::incidents::settings::set_auto_declare(db, &Actor::cli(), "nope", 1)
            .await
            .is_err()
    );

    let now = opsdesk_core::clock::now_ms();
    let frozen = |kind: &'static str| async move {
        opsdesk_ops::incidents::freeze::current(db, 2, kind, opsdesk_core::clock::now_ms())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    };
    assert!(frozen("deploy").await.is_none());

    read(app.client.get(app.url(&format!("/ping/{quiet}/fail")))).await;
    read(app.client.get(app.url(&format!("/ping/{uuid}/fail")))).await;
    read(app.client.get(app.url(&format!("/ping/{uuid}")))).await;
    read(app.client.get(app.url(&format!("/ping/{uuid}/fail")))).await;
    let live = app
        .get_with_token("/api/incidents?state=live", &token)
        .await
        .json();
    let items = live["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        items.len(),
        1,
        "one incident, for the check set to declare: {live}"
    );
    assert_eq!(items[0]["title"], "Payments worker is down");
    assert_eq!(items[0]["severity"], 1);
    let inc = app.get_with_token("/api/incidents/1", &token).await.json();
    assert_eq!(inc["source"], "check");
    let flips = inc["timeline"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["kind"] == "flip").count())
        .unwrap_or(0);
    assert_eq!(flips, 2, "up and down again land on its timeline: {inc}");

    // While it is live, deploys and config changes are frozen, naming it; restarts are not.
    let (f, id) = frozen("deploy")
        .await
        .unwrap_or_else(|| panic!("not frozen"));
    assert!(f.message().contains("INC-1"), "{}", f.message());
    assert_eq!(id.as_deref(), inc["id"].as_str());
    assert!(frozen("config_change").await.is_some());
    assert!(frozen("restart").await.is_none());
    assert!(frozen("diagnostic").await.is_none());
    let r = send(
        app,
        reqwest::Method::PATCH,
        "/api/incidents/1",
        &token,
        json!({"status": "resolved", "root_cause": "Worker OOM"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(frozen("deploy").await.is_none());

    // Scheduled windows: validated, in their time zone, and they freeze while they run.
    for (body, f) in [
        (
            json!({"starts_at": "2026-11-27T00:00", "ends_at": "2026-11-28T00:00", "time_zone": "Mars/Base", "reason": "x"}),
            "time_zone",
        ),
        (
            json!({"starts_at": "2026-11-28T00:00", "ends_at": "2026-11-27T00:00", "reason": "x"}),
            "ends_at",
        ),
        (
            json!({"starts_at": "soon", "ends_at": "2026-11-27T00:00", "reason": "x"}),
            "starts_at",
        ),
        (
            json!({"starts_at": "2026-11-27T00:00", "ends_at": "2026-11-28T00:00", "reason": ""}),
            "reason",
        ),
    ] {
        let r = app
            .post_json_with_token("/api/freeze-windows", &token, &body)
            .await;
        assert_eq!(r.status, 422, "{body} → {}", r.text);
        assert_eq!(field(&r), f, "{body} → {}", r.text);
    }
    let start = jiff::Timestamp::from_millisecond(now - 60_000)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}")))
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let r = app
        .post_json_with_token(
            "/api/freeze-windows",
            &token,
            &json!({"starts_at": start, "ends_at": "2099-01-01T00:00", "time_zone": "Europe/Berlin", "reason": "Black Friday"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let window = r.json()["id"].as_str().unwrap_or_default().to_string();
    let (f, _) = frozen("deploy")
        .await
        .unwrap_or_else(|| panic!("not frozen by the window"));
    assert!(f.message().contains("Black Friday"), "{}", f.message());
    let listed = app
        .get_with_token("/api/freeze-windows", &token)
        .await
        .json();
    assert_eq!(listed[0]["time_zone"], "Europe/Berlin", "{listed}");
    let r = read(
        app.client
            .delete(app.url(&format!("/api/freeze-windows/{window}")))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(frozen("deploy").await.is_none());
}

async fn incidents_are_run_in_forms(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let number = ticket(&app, &token, "Checkout is down").await;
    app.login(ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;

    let page = app.get_page("/incidents").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("No live incidents"), "{}", page.text);
    let page = app.get_page(&format!("/incidents?ticket={number}")).await;
    assert!(
        page.text.contains("value=\"Checkout is down\""),
        "prefilled from the ticket"
    );

    let r = app
        .post_form("/incidents", &[("title", ""), ("severity", "2")])
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("title: must be 1 to 200 characters"),
        "{}",
        r.text
    );
    let n = number.to_string();
    let r = app
        .post_form(
            "/incidents",
            &[
                ("title", "Checkout is down"),
                ("severity", "1"),
                ("tickets", &n),
                ("public_message", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), "/incidents/1");
    let page = app.get_page("/incidents/1").await;
    assert!(
        page.text.contains("INC-1 Checkout is down"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("internal"),
        "not on the status page without a public message"
    );
    assert!(
        page.text.contains(&format!("#{number} Checkout is down")),
        "the ticket is linked"
    );

    let r = app
        .post_form(
            "/incidents/1/updates",
            &[
                ("body", "Rolled back the deploy."),
                ("status", "monitoring"),
                ("public", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = app
        .post_form("/incidents/1/resolve", &[("root_cause", "")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("root-cause summary"), "{}", r.text);
    let r = app
        .post_form(
            "/incidents/1/resolve",
            &[
                ("root_cause", "A bad deploy."),
                ("public_message", "Fixed."),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get_page("/incidents/1").await;
    assert!(page.text.contains("need a postmortem"), "{}", page.text);
    assert!(
        page.text
            .contains("declared: Declared SEV1: Checkout is down"),
        "the postmortem timeline is prefilled"
    );
    let r = app
        .post_form(
            "/incidents/1/postmortem",
            &[
                ("impact", "No checkouts for 10 minutes."),
                ("root_cause", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("No checkouts for 10 minutes."),
        "what was typed is kept"
    );
    let r = app
        .post_form(
            "/incidents/1/postmortem",
            &[
                ("impact", "No checkouts for 10 minutes."),
                ("root_cause", "A bad deploy."),
                (
                    "action_items",
                    "- Canary deploys\n- Alert on checkout errors\n",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get_page("/incidents/1").await;
    assert!(
        page.text.contains("INC-1 action item: Canary deploys"),
        "{}",
        page.text
    );
    let status = app.get_page("/status").await;
    assert!(status.text.contains("Checkout is down"), "{}", status.text);
    let list = app.get_page("/incidents?state=resolved&severity=1").await;
    assert!(
        list.text.contains("INC-1 Checkout is down"),
        "{}",
        list.text
    );
    let list = app.get_page("/incidents?state=resolved&severity=2").await;
    assert!(!list.text.contains("INC-1 Checkout is down"));

    // Settings: severity labels and freeze windows, in a time zone.
    assert_eq!(app.get_page("/incidents/settings").await.status, 200);
    let r = app
        .post_form(
            "/incidents/settings/severities",
            &[
                ("sev1", "Everything is down"),
                ("sev2", "Major"),
                ("sev3", "Minor"),
                ("sev4", "Cosmetic"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(
        app.get_page("/incidents")
            .await
            .text
            .contains("SEV1 — Everything is down")
    );
    let r = app
        .post_form("/incidents/settings/severities", &[("sev2", "")])
        .await;
    assert_eq!(r.status, 422);
    let window = |tz: &'static str| {
        [
            ("starts_at", "2030-11-29T00:00"),
            ("ends_at", "2030-11-30T00:00"),
            ("time_zone", tz),
            ("reason", "Black Friday"),
        ]
    };
    let r = app
        .post_form("/incidents/settings/freeze", &window("Nowhere/Land"))
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("time_zone: is not a time zone name"),
        "{}",
        r.text
    );
    let r = app
        .post_form("/incidents/settings/freeze", &window("America/New_York"))
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get_page("/incidents/settings").await;
    assert!(
        page.text.contains("2030-11-29 00:00") && page.text.contains("America/New_York"),
        "{}",
        page.text
    );
    let listed = app
        .get_with_token("/api/freeze-windows", &token)
        .await
        .json();
    assert_eq!(
        listed[0]["starts_at"], "2030-11-29T05:00:00.000Z",
        "{listed}"
    );
}
