//! The inbox's counts per state agree with the tickets actually listed, for every view and
//! viewer, after every kind of ticket write (SQLite keeps them in a trigger-maintained table,
//! PostgreSQL counts from its indexes; a drift on either shows here).

use serde_json::json;

use crate::desk::{Desk, desk};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestAppClient};
use crate::on_both;

on_both!(inbox_counts_match_the_listed_tickets_after_every_kind_of_change);

const STATES: [(&str, &str); 9] = [
    ("new", "New"),
    ("triaged", "Triaged"),
    ("reproducing", "Reproducing"),
    ("investigating", "Investigating"),
    ("fixed", "Fixed"),
    ("responded", "Responded"),
    ("resolved", "Resolved"),
    ("waiting_on_customer", "Waiting on customer"),
    ("closed", "Closed"),
];

/// The count a tab shows, from the inbox page's HTML.
fn tab_count(html: &str, label: &str) -> i64 {
    let marker = format!(">{label} <span class=\"count\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {label:?} tab in the inbox"));
    html[at + marker.len()..]
        .split('<')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number in the {label:?} tab"))
}

/// For one view (`filter` in both the page's and the API's query syntax) and one viewer: each
/// state tab's count equals the number of tickets the API lists in that state.
async fn agree(d: &Desk, page: &TestAppClient, token: &str, filter: &str, when: &str) {
    let html = page.get_page(&format!("/desk?{filter}")).await.text;
    for (state, label) in STATES {
        let r = d
            .get(
                token,
                &format!("/api/tickets?limit=200&state={state}&{filter}"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let listed = r.json()["items"].as_array().map(Vec::len).unwrap_or(0) as i64;
        assert_eq!(
            tab_count(&html, label),
            listed,
            "{when}: the {label} tab of /desk?{filter} disagrees with the list"
        );
    }
}

async fn inbox_counts_match_the_listed_tickets_after_every_kind_of_change(backend: Backend) {
    let d = desk(backend).await;
    let admin = TestAppClient::new(&d.app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let agent = TestAppClient::new(&d.app);
    agent.login("agent@example.com", ADMIN_PASSWORD).await;
    let views = [
        "sort=oldest",
        "category=cat-billing",
        "category=cat-product",
        "assignee=none",
        "assignee=agent%40example.com",
    ];
    let check = |when: &'static str| {
        let (d, admin, agent) = (&d, &admin, &agent);
        async move {
            for v in views {
                agree(d, admin, &d.admin, v, when).await;
                agree(d, agent, &d.agent, v, when).await;
            }
        }
    };
    check("an empty desk").await;

    let mut n = Vec::new();
    for (i, cat) in ["Billing", "Billing", "Product", "", "Security", "Product"]
        .into_iter()
        .enumerate()
    {
        let extra = if cat.is_empty() {
            json!({})
        } else {
            json!({"category": cat})
        };
        n.push(d.file(&d.alice, &format!("Ticket {i}"), extra).await);
    }
    check("after filing").await;

    // Moves through the flow, assignment, a category change, privacy, and back again.
    let r = d
        .step(n[0], json!({"to": "triaged", "category": "Billing"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = d
        .step(
            n[0],
            json!({"to": "reproducing", "outcome": "reproduced", "steps": "open the invoice"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (t, body) in [
        (n[1], json!({"assignee": "agent@example.com"})),
        (
            n[2],
            json!({"category": "Billing", "assignee": "agent@example.com"}),
        ),
        (n[3], json!({"category": "Product"})),
        (n[5], json!({"security": true})),
    ] {
        let r = d.patch(&d.admin, &format!("/api/tickets/{t}"), body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    check("after moves and edits").await;
    for (t, body) in [
        (n[1], json!({"assignee": null})),
        (n[5], json!({"security": false})),
    ] {
        let r = d.patch(&d.admin, &format!("/api/tickets/{t}"), body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // A merge closes the duplicate.
    let r = d
        .post(
            &d.admin,
            &format!("/api/tickets/{}/merge", n[3]),
            json!({"ticket": n[2].to_string()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    check("after undoing and merging").await;
}
