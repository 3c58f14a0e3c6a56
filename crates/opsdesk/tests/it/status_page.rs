//! The public status page: components set by hand or following a heartbeat check, incidents
//! with updates, maintenance windows that hold alerts; Statuspage's v2 JSON read by the real
//! `statuspage-prometheus-exporter`; the page itself in headless Chromium with a screenshot.

use std::path::PathBuf;
use std::process::Command;

use fantoccini::Locator;
use opsdesk_core::audit::Actor;
use opsdesk_core::auth::tokens::Scope;
use serde_json::{Value, json};

use crate::browser::{Shots, browser, text};
use crate::heartbeats::monitored;
use crate::helpers::{ADMIN_EMAIL, Backend, read, required_env, spawn_with};
use crate::mail::drain;
use crate::on_both;

on_both!(
    the_status_page_tells_clients_and_people,
    the_status_page_is_managed_in_forms
);

async fn json(app: &crate::helpers::TestApp, path: &str) -> Value {
    let r = read(app.client.get(app.url(path))).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json()
}

fn iso_in(minutes: i64) -> String {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_mins(minutes))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

async fn the_status_page_tells_clients_and_people(backend: Backend) {
    let (hook, got) = crate::sla_timers::receiver().await;
    let m = monitored(spawn_with(backend, |_| {}).await).await;
    let app = &m.app;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let chan = opsdesk_ops::alerts::service::create(
        &app.state.db,
        &Actor::cli(),
        "Hook",
        "webhook",
        &hook,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let check = m
        .create(
            json!({"name": "Nightly backup", "timeout": 3600, "grace": 600, "channels": chan.id}),
        )
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    read(app.client.get(app.url(&format!("/ping/{uuid}")))).await;

    let add = |body: Value| {
        let (app, token) = (app, &token);
        async move {
            let r = app
                .post_json_with_token("/api/status/components", token, &body)
                .await;
            assert_eq!(r.status, 201, "{body} → {}", r.text);
            r.json()["id"].as_str().unwrap_or_default().to_string()
        }
    };
    let website = add(json!({"name": "Website", "group": "Web"})).await;
    let api = add(json!({"name": "API", "group": "Web"})).await;
    let backups =
        add(json!({"name": "Backups", "group": "Jobs", "source": "check", "source_id": uuid}))
            .await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "source": "check"}), "source_id"),
        (
            json!({"name": "x", "source": "check", "source_id": "nope"}),
            "source_id",
        ),
        (json!({"name": "x", "status": "fine"}), "status"),
    ] {
        let r = app
            .post_json_with_token("/api/status/components", &token, &body)
            .await;
        assert_eq!(r.status, 422, "{body}");
        assert!(
            r.json()["error"]["fields"].get(field).is_some(),
            "{body} → {}",
            r.text
        );
    }

    let s = json(app, "/api/v2/status.json").await;
    assert_eq!(
        s["status"],
        json!({"indicator": "none", "description": "All Systems Operational"})
    );
    assert_eq!(s["page"]["name"], "Acme Support");
    let c = json(app, "/api/v2/components.json").await;
    let comps = c["components"].as_array().cloned().unwrap_or_default();
    assert_eq!(comps.len(), 5, "three components and two groups: {c}");
    let web = comps
        .iter()
        .find(|x| x["name"] == "Web")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            web["group"].clone(),
            web["components"].as_array().map(Vec::len)
        ),
        (json!(true), Some(2))
    );

    // A manual status, then the backups failing: the page reads its worst component.
    let r = read(
        app.client
            .put(app.url(&format!("/api/status/components/{api}")))
            .bearer_auth(&token)
            .json(&json!({"name": "API", "group": "Web", "status": "degraded_performance"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        json(app, "/api/v2/status.json").await["status"]["indicator"],
        "minor"
    );
    read(app.client.get(app.url(&format!("/ping/{uuid}/fail")))).await;
    let sum = json(app, "/api/v2/summary.json").await;
    assert_eq!(sum["status"]["indicator"], "major");
    let b = sum["components"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == backups.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(b["status"], "major_outage");
    drain(app).await;
    crate::sla_timers::posted(&got, 1).await;

    // An incident with updates.
    let r = app
        .post_json_with_token("/api/status/incidents", &token, &json!({"name": "Backups failing", "body": "We are looking into failed backups.", "impact": "major", "components": [backups]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let inc = r.json()["id"].as_str().unwrap_or_default().to_string();
    let open = json(app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(open["incidents"][0]["status"], "investigating");
    assert_eq!(open["incidents"][0]["components"][0]["name"], "Backups");
    let r = app
        .post_json_with_token(
            &format!("/api/status/notices/{inc}/updates"),
            &token,
            &json!({"status": "resolved", "body": "Disk replaced; backups run again."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        json(app, "/api/v2/incidents/unresolved.json").await["incidents"],
        json!([])
    );
    let all = json(app, "/api/v2/incidents.json").await;
    assert_eq!(
        all["incidents"][0]["incident_updates"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert!(all["incidents"][0]["resolved_at"].is_string());
    let r = app
        .post_json_with_token(
            &format!("/api/status/notices/{inc}/updates"),
            &token,
            &json!({"status": "fixed", "body": "x"}),
        )
        .await;
    assert_eq!(r.status, 422);

    // Maintenance: upcoming, active; an active window holds the check's alerts.
    let r = app
        .post_json_with_token("/api/status/maintenances", &token, &json!({"name": "Storage upgrade", "body": "New disks.", "starts_at": iso_in(-5), "ends_at": iso_in(60), "components": [backups]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post_json_with_token("/api/status/maintenances", &token, &json!({"name": "Network work", "body": "Switches.", "starts_at": iso_in(60 * 24), "ends_at": iso_in(60 * 25), "components": [website]}))
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .post_json_with_token(
            "/api/status/maintenances",
            &token,
            &json!({"name": "Bad", "body": "x", "starts_at": iso_in(10), "ends_at": iso_in(5)}),
        )
        .await;
    assert_eq!(r.status, 422, "the end comes after the start");
    assert_eq!(
        json(app, "/api/v2/scheduled-maintenances/active.json").await["scheduled_maintenances"][0]
            ["name"],
        "Storage upgrade"
    );
    let up = json(app, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(up["scheduled_maintenances"][0]["status"], "scheduled");
    assert!(up["scheduled_maintenances"][0]["scheduled_for"].is_string());
    read(app.client.get(app.url(&format!("/ping/{uuid}")))).await;
    read(app.client.get(app.url(&format!("/ping/{uuid}/fail")))).await;
    let count = |state: &'static str| {
        let db = app.state.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM alert_notifications WHERE state = $1",
            )
            .bind(state)
            .fetch_one(db.read())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    assert_eq!(
        count("held").await,
        2,
        "the window holds the up and the down"
    );
    let release =
        || opsdesk_ops::alerts::held::release(&app.state.db, opsdesk_core::clock::now_ms());
    assert_eq!(
        release().await.unwrap_or_else(|e| panic!("{e:?}")),
        0,
        "not while the window runs"
    );

    // A check that goes down in a window and stays down is announced when the window ends.
    let check2 = m
        .create(json!({"name": "Cache warmer", "timeout": 3600, "grace": 600, "channels": chan.id}))
        .await;
    let uuid2 = check2["uuid"].as_str().unwrap_or_default().to_string();
    read(app.client.get(app.url(&format!("/ping/{uuid2}")))).await;
    let cache =
        add(json!({"name": "Cache", "group": "Jobs", "source": "check", "source_id": uuid2})).await;
    let r = app
        .post_json_with_token("/api/status/maintenances", &token, &json!({"name": "Cache work", "body": "Resizing.", "starts_at": iso_in(-1), "ends_at": iso_in(30), "components": [cache]}))
        .await;
    let window = r.json()["id"].as_str().unwrap_or_default().to_string();
    read(app.client.get(app.url(&format!("/ping/{uuid2}/fail")))).await;
    assert_eq!(count("held").await, 3);
    let r = app
        .post_json_with_token(
            &format!("/api/status/notices/{window}/updates"),
            &token,
            &json!({"status": "completed", "body": "Done early."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Released by this call or by the server's own loop (every ten seconds), whichever is first.
    release().await.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        count("held").await,
        2,
        "the down that is still true is let go"
    );
    drain(app).await;
    let posts = crate::sla_timers::posted(&got, 2).await;
    assert_eq!(posts[1]["check"]["name"], "Cache warmer");
    assert_eq!(posts[1]["event"], "check.down");
    assert_eq!(
        release().await.unwrap_or_else(|e| panic!("{e:?}")),
        0,
        "sent once"
    );

    // The real exporter reads the summary and reports the components we set.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("services.json"),
        json!({"acme": {"url": app.url("/api/v2/summary.json"), "name": "Acme"}}).to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let venv = required_env("OPSDESK_TEST_VENV");
    let prom = dir.path().join("metrics.prom");
    let (d, p) = (dir.path().to_path_buf(), prom.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(format!("{venv}/bin/statuspage-prometheus-exporter"))
            .current_dir(&d)
            .env("RUN_MODE", "once")
            .env("SERVICES_JSON_PATH", d.join("services.json"))
            .env("METRICS_TEXTFILE_PATH", &p)
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("exporter: {e}"));
    assert!(
        out.status.success(),
        "exporter failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = std::fs::read_to_string(&prom).unwrap_or_else(|e| panic!("{e}"));
    let line = |needle: &str| {
        metrics
            .lines()
            .find(|l| l.contains(needle) && !l.starts_with('#'))
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert!(
        line("component_name=\"Website\"").ends_with(" 1.0"),
        "{metrics}"
    );
    assert!(
        line("component_name=\"API\"").ends_with(" 0.0"),
        "{metrics}"
    );
    assert!(
        line("component_name=\"Backups\"").ends_with(" 0.0"),
        "{metrics}"
    );
    assert!(
        line("statuspage_service_status{").ends_with(" 0.0"),
        "{metrics}"
    );

    // The page, without signing in, in a real browser.
    let c = browser().await;
    c.goto(&app.url("/status"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let banner = c
        .find(Locator::Css(".status-banner"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(banner, "Partial System Outage");
    let bars = c
        .find_all(Locator::Css("svg.bars"))
        .await
        .unwrap_or_default();
    assert_eq!(bars.len(), 4, "a 90-day bar per component");
    let rects = c
        .find_all(Locator::Css("svg.bars rect"))
        .await
        .unwrap_or_default();
    assert_eq!(rects.len(), 360);
    let page = text(&c).await;
    for want in [
        "Web",
        "Jobs",
        "Major outage",
        "Degraded performance",
        "Storage upgrade",
        "Disk replaced; backups run again.",
    ] {
        assert!(page.contains(want), "{want} missing from {page}");
    }
    let mut shots = Shots {
        dir: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/screenshots"
        )),
        prefix: if backend == Backend::Sqlite {
            "sqlite-status"
        } else {
            "postgres-status"
        },
        n: 0,
    };
    shots.take(&c, "page").await;
    let _ = c.close().await;
}

async fn the_status_page_is_managed_in_forms(backend: Backend) {
    let m = monitored(spawn_with(backend, |_| {}).await).await;
    let app = &m.app;
    let check = m
        .create(json!({"name": "Invoice run", "timeout": 3600, "grace": 600}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    app.login(ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    let page = app.get_page("/status/manage").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("No components yet")
            && page.text.contains("Heartbeat check: Invoice run")
    );
    let follows = format!("check:{uuid}");
    for form in [
        vec![
            ("name", "Billing"),
            ("group", "Back office"),
            ("follows", follows.as_str()),
        ],
        vec![("name", "Website"), ("group", ""), ("follows", "manual")],
    ] {
        assert_eq!(
            app.post_form("/status/manage/components", &form)
                .await
                .status,
            303
        );
    }
    let sum = json(app, "/api/v2/summary.json").await;
    let website = sum["components"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "Website"))
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let r = app
        .post_form(
            &format!("/status/manage/components/{website}"),
            &[
                ("name", "Website"),
                ("follows", "manual"),
                ("status", "partial_outage"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        json(app, "/api/v2/status.json").await["status"]["indicator"],
        "minor"
    );

    // A refused incident keeps what was typed.
    let r = app
        .post_form(
            "/status/manage/incidents",
            &[
                ("name", "Checkout errors"),
                ("status", "investigating"),
                ("impact", "major"),
                ("body", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("body: must be 1 to 10,000 characters")
            && r.text.contains("value=\"Checkout errors\""),
        "{}",
        r.text
    );
    let r = app
        .post_form(
            "/status/manage/incidents",
            &[
                ("name", "Checkout errors"),
                ("status", "identified"),
                ("impact", "major"),
                ("body", "Payments fail for some cards."),
                ("component", &website),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let inc = json(app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(
        (
            inc["incidents"][0]["status"].clone(),
            inc["incidents"][0]["impact"].clone()
        ),
        (json!("identified"), json!("major"))
    );
    let id = inc["incidents"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = app
        .post_form(
            &format!("/status/manage/notices/{id}/updates"),
            &[("status", "resolved"), ("body", "Fixed.")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        json(app, "/api/v2/incidents/unresolved.json").await["incidents"],
        json!([])
    );

    // Maintenance from the datetime-local fields (UTC).
    let at = |h: i64| {
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(h))
            .map(|t| t.strftime("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    };
    let (from, to) = (at(24), at(26));
    let r = app
        .post_form(
            "/status/manage/maintenances",
            &[
                ("name", "Database upgrade"),
                ("starts_at", &from),
                ("ends_at", &to),
                ("body", "A short read-only period."),
                ("component", &website),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let up = json(app, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(up["scheduled_maintenances"][0]["name"], "Database upgrade");
    assert!(
        up["scheduled_maintenances"][0]["scheduled_for"]
            .as_str()
            .is_some_and(|t| t.starts_with(&from))
    );
    let r = app
        .post_form(
            "/status/manage/maintenances",
            &[
                ("name", "Backwards"),
                ("starts_at", &to),
                ("ends_at", &from),
                ("body", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("ends_at: must be after starts_at"));

    // A logo: images only, recognised by their bytes.
    let upload = |bytes: Vec<u8>| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("logo.png");
        read(
            app.client
                .post(app.url("/status/manage/logo"))
                .header("accept", "text/html")
                .multipart(reqwest::multipart::Form::new().part("logo", part)),
        )
    };
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 64]].concat();
    assert_eq!(upload(png.clone()).await.status, 303);
    let status_page = app.get_page("/status").await;
    assert!(status_page.text.contains("<img src=\"/status/logo\""));
    let logo = read(app.client.get(app.url("/status/logo"))).await;
    assert_eq!(logo.status, 200);
    assert_eq!(
        logo.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(
        logo.headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    let r = upload(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("PNG, JPEG, GIF or WebP"));
    let r = upload([png.as_slice(), &vec![0u8; 300 * 1024]].concat()).await;
    assert!(r.status == 413 || r.status == 422, "{}", r.status);
    assert_eq!(
        upload(Vec::new()).await.status,
        303,
        "an empty choice removes it"
    );
    assert_eq!(
        read(app.client.get(app.url("/status/logo"))).await.status,
        404
    );

    // Customers cannot manage it.
    app.add_user("customer@example.com", "customer", "").await;
    let customer = crate::helpers::TestAppClient::new(app);
    customer
        .login("customer@example.com", crate::helpers::ADMIN_PASSWORD)
        .await;
    assert_eq!(customer.get("/status/manage").await.status, 403);
    assert_eq!(
        customer.get("/status").await.status,
        200,
        "the page itself is public"
    );
}
