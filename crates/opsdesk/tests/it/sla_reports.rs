//! SLA reports on both backends: the numbers per tier, category and agent over a period from
//! the API, the same as CSV, the report page with its SVG charts and CSV download, and every
//! bad period refused by field.

use serde_json::json;

use crate::desk::desk;
use crate::helpers::{ADMIN_PASSWORD, Backend, TestAppClient};
use crate::on_both;
use crate::sla_tickets::set_tier;

on_both!(reports_give_times_and_breach_rates_per_group);

async fn reports_give_times_and_breach_rates_per_group(backend: Backend) {
    let d = desk(backend).await;
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    let answered = d.file(&d.alice, "Export fails", json!({})).await;
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{answered}/messages"),
            json!({"body": "Looking into it."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    d.file(&d.alice, "Second question", json!({})).await;
    d.file(&d.bob, "Community question", json!({})).await;

    let r = d.get(&d.agent, "/api/reports/sla").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let report = r.json();
    assert_eq!(report["total"]["tickets"], 3, "{report}");
    assert_eq!(report["total"]["first_response"]["count"], 1);
    assert_eq!(report["total"]["first_response"]["median_minutes"], 0);
    let group = |name: &str| {
        report["groups"]
            .as_array()
            .and_then(|g| g.iter().find(|g| g["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {report}"))
    };
    let agency = group("Agency");
    assert_eq!(
        (agency["tickets"].as_i64(), agency["with_targets"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(agency["breach_rate"], 0.0);
    assert!(
        group("Community")["breach_rate"].is_null(),
        "best effort: no rate"
    );
    assert_eq!(report["weeks"].as_array().map(Vec::len), Some(1));
    let bands = &report["first_response_distribution"];
    assert_eq!(bands[0]["label"], "< 1 h");
    assert_eq!(bands[0]["tickets"], 1);

    let by_agent = d.get(&d.agent, "/api/reports/sla?group=agent").await.json();
    assert_eq!(by_agent["groups"][0]["name"], "Unassigned", "{by_agent}");
    let csv = d.get(&d.agent, "/api/reports/sla?format=csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/csv")
    );
    assert!(
        csv.text.starts_with("tier,tickets,first_response_count,"),
        "{}",
        csv.text
    );
    assert!(
        csv.text.contains("\r\nAgency,2,1,0,0,0,,,2,0,0.0000\r\n"),
        "{}",
        csv.text
    );

    // Staff only; every bad period or grouping is refused by field.
    assert_eq!(d.get(&d.alice, "/api/reports/sla").await.status, 403);
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("to=soon", "to"),
        ("from=2026-03-01&to=2026-02-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("group=weather", "group"),
        ("format=pdf", "format"),
    ] {
        let r = d.get(&d.agent, &format!("/api/reports/sla?{query}")).await;
        assert_eq!(r.status, 422, "{query}: {}", r.text);
        assert!(
            r.json()["error"]["fields"][field].is_string(),
            "{query}: {}",
            r.text
        );
    }
    // A period without tickets is a report of zeros, not an error.
    let empty = d
        .get(&d.agent, "/api/reports/sla?from=2025-01-01&to=2025-01-31")
        .await
        .json();
    assert_eq!(empty["total"]["tickets"], 0, "{empty}");

    // The page: table, charts and the CSV download.
    let agent = TestAppClient::new(&d.app);
    agent.login("agent@example.com", ADMIN_PASSWORD).await;
    let page = agent.get_page("/reports/sla?group=tier").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("<td>Agency</td><td>2</td>"),
        "{}",
        page.text
    );
    assert_eq!(page.text.matches("<svg").count(), 3);
    assert!(page.text.contains("href=\"/reports/sla.csv?from="));
    assert!(page.text.contains("SLA report"));
    let download = agent.get("/reports/sla.csv").await;
    assert_eq!(download.status, 200);
    assert!(
        download.headers["content-disposition"]
            .to_str()
            .unwrap_or("")
            .contains("attachment; filename=\"sla-")
    );
    let none = agent
        .get_page("/reports/sla?from=2025-01-01&to=2025-01-31")
        .await;
    assert!(none.text.contains("No tickets were filed in this period"));
    assert!(none.text.contains("No data in this period"));
    let bad = agent.get_page("/reports/sla?from=yesterday").await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.text.contains("must be a date, YYYY-MM-DD"),
        "{}",
        bad.text
    );
}
