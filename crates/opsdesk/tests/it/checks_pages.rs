//! The checks pages: over plain HTTP (forms, errors that keep the input, escaping of ping
//! bodies, keys shown once), and in headless Chromium with screenshots of the list, a check and
//! the settings (`target/screenshots/{sqlite,postgres}-checks-*.png`).

use std::path::PathBuf;

use fantoccini::Locator;
use serde_json::json;

use crate::browser::{Shots, browser, click, fill, text, wait_path};
use crate::heartbeats::monitored;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, read, spawn_with};
use crate::on_both;

on_both!(checks_pages_over_http, checks_pages_in_chromium);

async fn checks_pages_over_http(backend: Backend) {
    let m = monitored(spawn_with(backend, |_| {}).await).await;
    let app = &m.app;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let r = app.get_page("/checks").await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("No checks yet"),
        "an empty state explains what to do"
    );

    // A bad period is refused with the input kept.
    let r = app
        .post_form(
            "/checks",
            &[
                ("name", "Nightly <b>backup</b>"),
                ("kind", "simple"),
                ("period", "soon"),
                ("grace", "1h"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("period: must be a duration"), "{}", r.text);
    assert!(
        r.text
            .contains("value=\"Nightly &#60;b&#62;backup&#60;/b&#62;\""),
        "the name is kept, escaped"
    );
    let r = app
        .post_form(
            "/checks",
            &[
                ("name", "x"),
                ("kind", "cron"),
                ("schedule", "61 * * * *"),
                ("tz", "UTC"),
                ("grace", "5m"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text
            .contains("schedule: &#34;61 * * * *&#34; is not a valid cron expression"),
        "{}",
        r.text
    );

    let r = app
        .post_form(
            "/checks",
            &[
                ("name", "Nightly backup"),
                ("tags", "prod db"),
                ("kind", "simple"),
                ("period", "1h 30m"),
                ("grace", "15m"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let path = r.location();
    let id = path.trim_start_matches("/checks/").to_string();
    let c = m.check(&id).await;
    assert_eq!(
        (c["timeout"].clone(), c["grace"].clone(), c["slug"].clone()),
        (json!(5400), json!(900), json!("nightly-backup"))
    );

    // A ping with a hostile body shows as text.
    let r = read(
        app.client
            .post(app.url(&format!("/ping/{id}")))
            .body("<script>alert(1)</script> done"),
    )
    .await;
    assert_eq!(r.status, 200);
    let page = app.get_page(&path).await;
    assert_eq!(page.status, 200);
    for want in [
        "&#60;script&#62;alert(1)&#60;/script&#62; done",
        &format!("/ping/{id}"),
        "every 1 h 30 min, grace 15 min",
        "Run durations",
        "hb hb-up",
    ] {
        assert!(page.text.contains(want), "{want} missing");
    }
    assert!(!page.text.contains("<script>alert(1)"));

    // Settings: a key shown once; a channel; the check's form turns it into a cron check with
    // that channel.
    let r = app
        .post_form(
            "/checks/settings/keys",
            &[("name", "deploys"), ("scope", "read")],
        )
        .await;
    assert_eq!(r.status, 303);
    let s = app.get_page("/checks/settings").await;
    assert!(s.text.contains("not shown again"));
    let again = app.get_page("/checks/settings").await;
    assert!(
        !again.text.contains("not shown again"),
        "the key is shown once"
    );
    assert!(again.text.contains("deploys") && again.text.contains("read-only"));
    let r = app
        .post_form(
            "/checks/settings/channels",
            &[
                ("name", "Ops hook"),
                ("kind", "webhook"),
                ("target", "ftp://nope"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "a non-web URL is refused");
    let r = app
        .post_form(
            "/checks/settings/channels",
            &[
                ("name", "Ops hook"),
                ("kind", "webhook"),
                ("target", "https://hooks.example.com/x"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let (_, chans) = m.api(reqwest::Method::GET, "/api/v3/channels/", None).await;
    let chan = chans["channels"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = app
        .post_form(
            &path,
            &[
                ("name", "Nightly backup"),
                ("kind", "cron"),
                ("schedule", "30 2 * * *"),
                ("tz", "Europe/Berlin"),
                ("grace", "20m"),
                ("period", "1h"),
                ("channel", &chan),
                ("methods", "POST"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let c = m.check(&id).await;
    assert_eq!(
        (c["schedule"].clone(), c["tz"].clone(), c["grace"].clone()),
        (json!("30 2 * * *"), json!("Europe/Berlin"), json!(1200))
    );
    assert_eq!(
        (c["channels"].clone(), c["methods"].clone()),
        (json!(chan), json!("POST"))
    );

    // Pause, resume, delete.
    assert_eq!(
        app.post_form(&format!("{path}/pause"), &[]).await.status,
        303
    );
    assert_eq!(m.check(&id).await["status"], "paused");
    assert!(app.get_page(&path).await.text.contains(">Resume</button>"));
    assert_eq!(
        app.post_form(&format!("{path}/resume"), &[]).await.status,
        303
    );
    assert_eq!(m.check(&id).await["status"], "new");
    assert_eq!(app.get_page("/checks/not-a-check").await.status, 404);
    assert_eq!(
        app.post_form(&format!("{path}/delete"), &[]).await.status,
        303
    );
    assert_eq!(app.get_page(&path).await.status, 404);

    // Customers do not see checks.
    app.add_user("customer@example.com", "customer", "").await;
    let customer = crate::helpers::TestAppClient::new(app);
    customer.login("customer@example.com", ADMIN_PASSWORD).await;
    assert_eq!(customer.get("/checks").await.status, 403);
}

async fn checks_pages_in_chromium(backend: Backend) {
    let m = monitored(spawn_with(backend, |_| {}).await).await;
    let app = &m.app;
    for i in 0..3 {
        let c = m.create(json!({"name": format!("Worker {i}"), "tags": if i == 0 { "prod" } else { "staging" }, "timeout": 300, "grace": 60})).await;
        let id = c["uuid"].as_str().unwrap_or_default().to_string();
        for k in 0..6 {
            let rid = uuid::Uuid::new_v4().to_string();
            read(
                app.client
                    .get(app.url(&format!("/ping/{id}/start?rid={rid}"))),
            )
            .await;
            tokio::time::sleep(std::time::Duration::from_millis(20 * (k + 1))).await;
            let end = if i == 1 && k == 5 { "1" } else { "0" };
            read(
                app.client
                    .post(app.url(&format!("/ping/{id}/{end}?rid={rid}")))
                    .body(format!("run {k} ok")),
            )
            .await;
        }
    }
    let c = browser().await;
    let mut shots = Shots {
        dir: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/screenshots"
        )),
        prefix: if backend == Backend::Sqlite {
            "sqlite-checks"
        } else {
            "postgres-checks"
        },
        n: 0,
    };
    c.goto(&app.url("/login?next=/checks"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "input[name=email]", ADMIN_EMAIL).await;
    fill(&c, "input[name=password]", ADMIN_PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_path(&c, "/checks").await;
    let rows = c
        .find_all(Locator::Css("table.checks tbody tr"))
        .await
        .unwrap_or_default();
    assert_eq!(rows.len(), 3, "{}", text(&c).await);
    let sparks = c
        .find_all(Locator::Css("svg.spark rect"))
        .await
        .unwrap_or_default();
    assert_eq!(sparks.len(), 36, "12 pings per check in the sparklines");
    let down = c
        .find_all(Locator::Css("table.checks .hb-down"))
        .await
        .unwrap_or_default();
    assert_eq!(down.len(), 1, "the worker whose last run failed is down");
    shots.take(&c, "list").await;

    // Add a check through the form, in the browser.
    fill(&c, "input[name=name]", "Browser-made check").await;
    fill(&c, "input[name=period]", "10m").await;
    fill(&c, "input[name=grace]", "5m").await;
    click(&c, "form[action='/checks'] button[type=submit]").await;
    wait_for_check_page(&c).await;
    assert!(text(&c).await.contains("Ping it"), "{}", text(&c).await);

    // A check with runs: the durations chart draws a bar per measured run.
    c.goto(&app.url("/checks?tag=prod"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(&c, "table.checks tbody tr a").await;
    wait_for_check_page(&c).await;
    let bars = c
        .find_all(Locator::Css("svg.chart rect.bar"))
        .await
        .unwrap_or_default();
    assert_eq!(bars.len(), 6, "one bar per measured run");
    let size = c
        .find(Locator::Css("svg.chart"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .rectangle()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        size.2 > 300.0 && size.3 > 80.0,
        "the chart is drawn at a readable size: {size:?}"
    );
    assert!(text(&c).await.contains("run 5 ok"));
    shots.take(&c, "check").await;
    c.goto(&app.url("/checks/settings"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(text(&c).await.contains(&m.ping_key));
    shots.take(&c, "settings").await;
    let _ = c.close().await;
}

/// Waits until the browser is on a check's page (`/checks/<uuid>`) and it has loaded.
async fn wait_for_check_page(c: &fantoccini::Client) {
    for _ in 0..100 {
        let on_check = c
            .current_url()
            .await
            .map(|u| u.path().starts_with("/checks/") && u.path().len() > 40)
            .unwrap_or(false);
        if on_check && c.find(Locator::Css("section#usage")).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the browser did not reach a check's page");
}
