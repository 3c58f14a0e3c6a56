//! Ticket search on both backends: every word anywhere in a ticket, notes only for staff, the
//! same answers on SQLite and PostgreSQL, and query syntax of either backend treated as text.

use serde_json::json;

use crate::desk::desk;
use crate::helpers::Backend;
use crate::on_both;

on_both!(search_finds_every_word_anywhere_in_a_ticket);

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
