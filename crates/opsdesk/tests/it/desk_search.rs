//! Ticket search on both backends: every word anywhere in a ticket, notes only for staff, the
//! same answers on SQLite and PostgreSQL, and query syntax of either backend treated as text.

use serde_json::json;

use crate::desk::desk;
use crate::helpers::Backend;
use crate::on_both;

on_both!(
    search_finds_every_word_anywhere_in_a_ticket,
    search_pages_in_order_before_and_after_the_index_is_tidied
);

async fn search_finds_every_word_anywhere_in_a_ticket(backend: Backend) {
    let d = desk(backend).await;
    let export = d.file(&d.alice, "Export fails", json!({})).await;
    let invoice = d
        .file(
            &d.alice,
            "Invoice question",
            json!({"body": "Please check my bill"}),
        )
        .await;
    let german = d.file(&d.bob, "Größe der Datei", json!({})).await;
    d.post(
        &d.alice,
        &format!("/api/tickets/{export}/messages"),
        json!({"body": "Only the CSV variant, since Tuesday."}),
    )
    .await;
    d.post(
        &d.agent,
        &format!("/api/tickets/{invoice}/notes"),
        json!({"body": "customer is on the legacy-plan"}),
    )
    .await;
    d.patch(
        &d.agent,
        &format!("/api/tickets/{invoice}"),
        json!({"subject": "Invoice for March"}),
    )
    .await;

    let found = |token: String, q: &'static str| {
        let d = &d;
        async move {
            let r = d.get(&token, &format!("/api/tickets?q={q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            r.json()["items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t["number"].as_i64())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    let agent = d.agent.clone();
    // Words from the subject and a later message together; case does not matter.
    assert_eq!(found(agent.clone(), "export%20csv").await, vec![export]);
    assert_eq!(found(agent.clone(), "TUESDAY").await, vec![export]);
    assert_eq!(
        found(agent.clone(), "export%20invoice").await,
        Vec::<i64>::new()
    );
    // Internal notes are searchable for staff, never for customers.
    assert_eq!(found(agent.clone(), "legacy%20plan").await, vec![invoice]);
    assert_eq!(found(d.alice.clone(), "legacy").await, Vec::<i64>::new());
    // A changed subject is searched by its new words only.
    assert_eq!(found(agent.clone(), "march").await, vec![invoice]);
    assert_eq!(found(agent.clone(), "question").await, Vec::<i64>::new());
    // Non-ASCII words, and customers only ever find their own tickets.
    assert_eq!(found(agent.clone(), "gr%C3%B6%C3%9Fe").await, vec![german]);
    assert_eq!(found(d.alice.clone(), "datei").await, Vec::<i64>::new());
    // Query syntax of either backend is just text.
    for q in [
        "%22",
        "*",
        "NEAR(export",
        "export%20OR%20invoice",
        "%27%3B%20DROP",
        "%21%40%23",
        "a%26b%7Cc%3A*",
    ] {
        let r = d.get(&agent, &format!("/api/tickets?q={q}")).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text);
    }
    assert_eq!(
        found(agent.clone(), "export%20OR%20invoice").await,
        Vec::<i64>::new()
    );
    // Search combines with the other filters and the inbox page.
    let staff = crate::helpers::TestAppClient::new(&d.app);
    staff
        .login("agent@example.com", crate::helpers::ADMIN_PASSWORD)
        .await;
    let page = staff.get_page("/desk?q=csv").await;
    assert!(
        page.text.contains(&format!("#{export}")) && !page.text.contains(&format!("#{invoice}"))
    );
    assert!(
        page.text.contains("Open <span class=\"count\">1</span>"),
        "{}",
        page.text
    );
}

/// Walks every page of `/api/tickets?{query}` three at a time; returns the numbers in order.
async fn all_pages(d: &crate::desk::Desk, token: &str, query: &str) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..20 {
        let r = d
            .get(token, &format!("/api/tickets?limit=3&{query}{cursor}"))
            .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        let page = r.json();
        seen.extend(
            page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["number"].as_i64()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return seen,
        }
    }
    panic!("{query}: more pages than tickets");
}

async fn search_pages_in_order_before_and_after_the_index_is_tidied(backend: Backend) {
    let d = desk(backend).await;
    let mut printers = Vec::new();
    for i in 0..7 {
        printers.push(
            d.file(&d.alice, &format!("Printer jam {i}"), json!({}))
                .await,
        );
        d.file(&d.bob, &format!("Scanner noise {i}"), json!({}))
            .await;
    }
    // One printer ticket moves on, so a state filter drops it from the middle of the pages.
    let triaged = printers[3];
    let r = d
        .step(triaged, json!({"to": "triaged", "category": "Product"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let newest: Vec<i64> = printers.iter().rev().copied().collect();
    let oldest = printers.clone();
    let new_only: Vec<i64> = newest.iter().copied().filter(|n| *n != triaged).collect();

    let check = |label: &'static str| {
        let (d, newest, oldest, new_only) = (&d, &newest, &oldest, &new_only);
        async move {
            let agent = d.agent.clone();
            assert_eq!(&all_pages(d, &agent, "q=printer").await, newest, "{label}");
            assert_eq!(
                &all_pages(d, &agent, "q=printer&sort=oldest").await,
                oldest,
                "{label}"
            );
            assert_eq!(
                &all_pages(d, &agent, "q=printer%20jam&state=new").await,
                new_only,
                "{label}"
            );
            // A customer pages through their own matches only (Bob filed none).
            assert_eq!(
                &all_pages(d, &d.alice, "q=printer").await,
                newest,
                "{label}"
            );
            assert!(
                all_pages(d, &d.bob, "q=printer").await.is_empty(),
                "{label}"
            );
        }
    };
    check("as written").await;

    // The hourly upkeep is scheduled with the platform's jobs and leaves every answer the same.
    let state = d.app.state.clone();
    assert!(
        state
            .runner
            .periodic()
            .contains(&(opsdesk_desk::tickets::search::KIND_TIDY, 3_600_000))
    );
    opsdesk_core::jobs::schedule_periodic_with(
        &state.db,
        1_800_000_000_000,
        &state.runner.periodic(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut ran = Vec::new();
    while let Some(o) = state
        .runner
        .try_run_one()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        // (Acknowledgements queued by the filing may be among them, and may retry.)
        if let opsdesk_core::jobs::Outcome::Done { kind, .. } = o {
            ran.push(kind);
        }
    }
    assert!(
        ran.iter()
            .any(|k| k == opsdesk_desk::tickets::search::KIND_TIDY),
        "{ran:?}"
    );
    check("after the hourly merge").await;
    opsdesk_desk::tickets::search::tidy(&state.db, opsdesk_desk::tickets::search::Tidy::Optimize)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    check("after a full optimize").await;
}
