//! SLA pages in real headless Chromium: the inbox's time-to-target column and "due soonest"
//! order, the breaching-soon view, and the SLA report with its three SVG charts laid out at a
//! readable size, regrouped through the form. Screenshots go to `target/screenshots/`.

use std::path::PathBuf;

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::browser::{Shots, browser, click, fill, text, wait_path};
use crate::desk::desk;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend};
use crate::on_both;
use crate::sla_tickets::set_tier;

on_both!(sla_pages_in_chromium);

async fn go(c: &Client, url: &str) {
    c.goto(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
}

async fn sla_pages_in_chromium(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    let answered = d.file(&d.alice, "Answered question", json!({})).await;
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{answered}/messages"),
            json!({"body": "Here is how."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let waiting = d.file(&d.alice, "Unanswered question", json!({})).await;
    d.file(&d.bob, "No targets here", json!({})).await;

    let c = browser().await;
    let mut shots = Shots {
        dir: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/screenshots"
        )),
        prefix: if backend == Backend::Sqlite {
            "sqlite-sla"
        } else {
            "postgres-sla"
        },
        n: 0,
    };
    go(&c, &d.app.url("/login?next=/desk")).await;
    fill(&c, "input[name=email]", ADMIN_EMAIL).await;
    fill(&c, "input[name=password]", ADMIN_PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_path(&c, "/desk").await;

    // Due soonest: only tickets with a running deadline, each with its time left.
    go(&c, &d.app.url("/desk?sort=due")).await;
    let targets = c
        .find_all(Locator::Css("table.tickets span.sla"))
        .await
        .unwrap_or_default();
    assert_eq!(targets.len(), 2, "{}", text(&c).await);
    for t in &targets {
        let label = t.text().await.unwrap_or_default();
        assert!(label.ends_with("left"), "{label}");
    }
    let first_row = c
        .find(Locator::Css(
            "table.tickets tbody tr:first-child td:first-child",
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    // The unanswered ticket's first response (4 h) is due before the answered one's
    // resolution (32 h).
    assert_eq!(first_row, format!("#{waiting}"));
    shots.take(&c, "inbox-due").await;
    click(&c, "nav.views a.soon").await;
    // Breaching soon: the first response due within 4 hours, not the day-long resolution.
    let soon = text(&c).await;
    assert!(soon.contains("Unanswered question"), "{soon}");
    assert!(
        !soon.contains("Answered question") && !soon.contains("No targets here"),
        "{soon}"
    );

    // The report: table and three charts drawn at a readable size.
    go(&c, &d.app.url("/reports/sla")).await;
    let charts = c
        .find_all(Locator::Css("svg.chart"))
        .await
        .unwrap_or_default();
    assert_eq!(charts.len(), 3);
    for chart in &charts {
        let (_, _, w, h) = chart.rectangle().await.unwrap_or_default();
        assert!(w > 200.0 && h > 60.0, "chart drawn at {w}×{h}");
    }
    let page = text(&c).await;
    assert!(
        page.contains("Agency") && page.contains("Community"),
        "{page}"
    );
    shots.take(&c, "report-by-tier").await;
    c.find(Locator::Css("select[name=group]"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .select_by_value("agent")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(&c, "form[action='/reports/sla'] button[type=submit]").await;
    for _ in 0..50 {
        if text(&c).await.contains("Unassigned") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let by_agent = text(&c).await;
    assert!(by_agent.contains("Unassigned"), "{by_agent}");
    shots.take(&c, "report-by-agent").await;
    let _ = c.close().await;
}
