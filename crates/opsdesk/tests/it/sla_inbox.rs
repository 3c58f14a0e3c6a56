//! SLA deadlines in the inbox on both backends: the "due soonest" sort (API and page) with
//! cursors, the "breaching soon" view, the time-to-target column, and staff-only access.

use serde_json::{Value, json};

use crate::desk::{Desk, desk};
use crate::helpers::{ADMIN_PASSWORD, Backend, TestAppClient};
use crate::on_both;
use crate::sla_tickets::set_tier;

on_both!(the_inbox_sorts_by_deadline_and_shows_what_is_breaching);

fn numbers(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .map(|v| v.iter().filter_map(|t| t["number"].as_i64()).collect())
        .unwrap_or_default()
}

async fn set_priority(d: &Desk, n: i64, priority: &str) {
    let r = d
        .patch(
            &d.agent,
            &format!("/api/tickets/{n}"),
            json!({"priority": priority}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn the_inbox_sorts_by_deadline_and_shows_what_is_breaching(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    // Agency: low 480 min to first response, urgent 30 min; Bob's default tier has no targets.
    let relaxed = d.file(&d.alice, "Question about invoices", json!({})).await;
    set_priority(&d, relaxed, "low").await;
    let burning = d.file(&d.alice, "Checkout is down", json!({})).await;
    set_priority(&d, burning, "urgent").await;
    let untimed = d.file(&d.bob, "Feature idea", json!({})).await;

    // Nearest deadline first; tickets without a running deadline are left out.
    let page = d.get(&d.agent, "/api/tickets?sort=due").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(numbers(&page.json()), [burning, relaxed]);
    let first = d
        .get(&d.agent, "/api/tickets?sort=due&limit=1")
        .await
        .json();
    assert_eq!(numbers(&first), [burning]);
    let cursor = first["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let second = d
        .get(
            &d.agent,
            &format!("/api/tickets?sort=due&limit=1&cursor={cursor}"),
        )
        .await
        .json();
    assert_eq!(numbers(&second), [relaxed]);
    assert!(second["next_cursor"].is_null(), "{second}");

    // Breaching soon: deadline within 4 hours (or missed).
    let soon = d
        .get(&d.agent, "/api/tickets?due=soon&sort=due")
        .await
        .json();
    assert_eq!(numbers(&soon), [burning]);
    let overdue = d.get(&d.agent, "/api/tickets?due=overdue").await.json();
    assert_eq!(numbers(&overdue), Vec::<i64>::new());
    let bad = d.get(&d.agent, "/api/tickets?due=later").await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(
        bad.json()["error"]["fields"]["due"],
        "must be soon or overdue"
    );
    // Customers do not see the team's deadlines, not even as an order.
    let r = d.get(&d.alice, "/api/tickets?sort=due").await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = d.get(&d.alice, "/api/tickets?due=soon").await;
    assert_eq!(r.status, 422, "{}", r.text);

    // The page: time to target on every row with a deadline, coloured by urgency.
    let agent = TestAppClient::new(&d.app);
    let r = agent.login("agent@example.com", ADMIN_PASSWORD).await;
    assert!(r.status == 303 || r.status == 200, "{}", r.status);
    let inbox = agent.get_page("/desk").await;
    assert_eq!(inbox.status, 200);
    assert!(inbox.text.contains("<th>Target</th>"), "{}", inbox.text);
    assert!(
        inbox.text.contains("min left</span>"),
        "urgent: under 30 minutes left"
    );
    assert!(inbox.text.contains("class=\"sla sla-ok\""));
    assert!(inbox.text.contains("Breaching soon"));
    let sorted = agent.get_page("/desk?sort=due").await.text;
    let pos = |n: i64| sorted.find(&format!("\"/desk/tickets/{n}\""));
    assert!(
        pos(burning) < pos(relaxed) && pos(burning).is_some(),
        "{sorted}"
    );
    assert!(pos(untimed).is_none(), "no deadline, not in the due view");
    let view = agent
        .get_page("/desk?state=open&sort=due&due=soon")
        .await
        .text;
    assert!(view.contains(&format!("\"/desk/tickets/{burning}\"")));
    assert!(!view.contains(&format!("\"/desk/tickets/{relaxed}\"")));
    assert!(view.contains("aria-current=\"page\" title=\"Open tickets whose SLA target"));
    // The open tab counts what the view lists.
    assert!(
        view.contains("Open <span class=\"count\">1</span>"),
        "{view}"
    );
    let bad = agent.get_page("/desk?sort=sideways").await;
    assert_eq!(bad.status, 422);
}
