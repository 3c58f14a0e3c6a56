//! The incident journey in headless Chromium: a check goes down → an incident is declared from
//! it → the status page shows it → a restart is requested for the incident, approved by a
//! second agent, run, and its output shown → the incident is resolved with a postmortem → its
//! action item is a ticket. Screenshots under `target/screenshots/`.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::browser::{Shots, browser, click, fill, path, text, wait_path};
use crate::heartbeats::monitored;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, read, spawn_with};
use crate::on_both;

on_both!(an_outage_is_run_as_an_incident_in_chromium);

async fn sign_in(c: &Client, base: &str, email: &str) {
    c.delete_all_cookies()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    c.goto(&format!("{base}/login"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fill(c, "input[name=email]", email).await;
    fill(c, "input[name=password]", ADMIN_PASSWORD).await;
    click(c, "form[action='/login'] button[type=submit]").await;
    for _ in 0..100 {
        if path(c).await != "/login" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{email} could not sign in: {}", text(c).await);
}

/// Waits (up to 10 s) for the page to say `needle` (a form posted back to the page it is on
/// cannot be waited for by its path).
async fn wait_text(c: &Client, needle: &str) {
    for _ in 0..100 {
        if text(c).await.contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never said {needle:?}: {}", text(c).await);
}

async fn an_outage_is_run_as_an_incident_in_chromium(backend: Backend) {
    let record = std::env::temp_dir().join(format!("pm2-calls-{}", uuid::Uuid::new_v4()));
    let rec = record.clone();
    let m =
        monitored(spawn_with(backend, move |c| crate::ops_actions::actions(c, &rec)).await).await;
    let app = &m.app;
    app.add_user("bob@example.com", "agent", "").await;
    let check = m
        .create(json!({"name": "Web app", "timeout": 60, "grace": 60}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    read(app.client.get(app.url(&format!("/ping/{uuid}/fail")))).await;
    let base = app.addr.clone();

    let c = browser().await;
    let mut shots = Shots {
        dir: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/screenshots"
        )),
        prefix: if backend == Backend::Sqlite {
            "sqlite-incident"
        } else {
            "postgres-incident"
        },
        n: 0,
    };
    sign_in(&c, &base, ADMIN_EMAIL).await;

    // The down check offers to declare an incident with it linked.
    c.goto(&format!("{base}/checks/{uuid}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(&c, "#incident a[href^='/incidents?check=']").await;
    wait_path(&c, "/incidents").await;
    let title = c
        .find(Locator::Css("form[action='/incidents'] input[name=title]"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .prop("value")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    assert_eq!(title, "Web app is down");
    fill(
        &c,
        "textarea[name=public_message]",
        "The web app is unavailable; we are on it.",
    )
    .await;
    shots.take(&c, "declare").await;
    click(&c, "form[action='/incidents'] button[type=submit]").await;
    wait_path(&c, "/incidents/1").await;
    let page = text(&c).await;
    assert!(page.contains("INC-1 Web app is down"), "{page}");
    assert!(
        page.contains("Web app (down)"),
        "the check is linked: {page}"
    );
    shots.take(&c, "incident").await;

    // The public status page shows it.
    c.goto(&format!("{base}/status"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page = text(&c).await;
    assert!(page.contains("Web app is down"), "{page}");
    assert!(
        page.contains("The web app is unavailable; we are on it."),
        "{page}"
    );
    shots.take(&c, "status-page").await;

    // A restart for the incident, requested here…
    c.goto(&format!("{base}/incidents/1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(&c, "#runs a[href='/ops?incident=INC-1']").await;
    wait_path(&c, "/ops").await;
    fill(&c, "#action-restart-app input[name='param:app']", "web").await;
    shots.take(&c, "request").await;
    click(&c, "#action-restart-app button[type=submit]").await;
    for _ in 0..100 {
        if path(&c).await.starts_with("/ops/runs/") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run_path = path(&c).await;
    assert!(run_path.starts_with("/ops/runs/"), "{}", text(&c).await);
    assert!(
        text(&c)
            .await
            .contains("Waiting for a second person to approve")
    );
    assert!(
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .is_empty(),
        "nothing ran yet"
    );

    // …approved by a second agent…
    sign_in(&c, &base, "bob@example.com").await;
    c.goto(&format!("{base}{run_path}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    shots.take(&c, "approve").await;
    click(&c, "#approval button[type=submit]").await;
    wait_text(&c, "Approved: the requester can run it now.").await;

    // …run by the requester, its output shown.
    sign_in(&c, &base, ADMIN_EMAIL).await;
    c.goto(&format!("{base}{run_path}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(&c, "#approved button[type=submit]").await;
    let mut state = String::new();
    for _ in 0..100 {
        state = match c.find(Locator::Css("#run-state")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if state == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "succeeded", "{}", text(&c).await);
    let output = c
        .find(Locator::Css("#output"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(output.contains("[PM2] [web](0) ✓"), "{output}");
    shots.take(&c, "run-output").await;

    // Resolved with its root cause, then the postmortem; the action item is a ticket.
    c.goto(&format!("{base}/incidents/1"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text(&c)
            .await
            .contains("Ops action: restart-app app=web succeeded")
    );
    fill(
        &c,
        "#resolve textarea[name=root_cause]",
        "The web app ran out of memory.",
    )
    .await;
    click(&c, "#resolve button[type=submit]").await;
    wait_text(&c, "need a postmortem").await;
    fill(
        &c,
        "#postmortem textarea[name=impact]",
        "The web app was down for 5 minutes.",
    )
    .await;
    fill(
        &c,
        "#postmortem textarea[name=action_items]",
        "Alert on memory use",
    )
    .await;
    shots.take(&c, "postmortem").await;
    click(&c, "#postmortem button[type=submit]").await;
    wait_text(&c, "Postmortem saved; action items filed as").await;
    click(&c, "#links a[href^='/desk/tickets/']").await;
    for _ in 0..100 {
        if text(&c)
            .await
            .contains("INC-1 action item: Alert on memory use")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = text(&c).await;
    assert!(
        page.contains("INC-1 action item: Alert on memory use"),
        "{page}"
    );
    shots.take(&c, "action-item").await;
    let _ = c.close().await;
}
