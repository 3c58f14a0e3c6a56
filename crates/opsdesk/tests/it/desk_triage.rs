//! Triage rules: admins define them (names checked), and every new ticket — by email, the web
//! form or the API — gets the category, priority and assignee the first matching rules set,
//! with a timeline line naming the rule. What a person chose wins over a rule.

use serde_json::{Value, json};

use crate::helpers::{Backend, read};
use crate::mail::mail_desk;
use crate::on_both;

on_both!(rules_set_category_priority_and_assignee_on_new_tickets);

async fn rules_set_category_priority_and_assignee_on_new_tickets(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let vip = json!({"name": "VIP customers", "position": 1,
        "when": {"sender_domains": ["bigcorp.test"]},
        "then": {"priority": "urgent", "assignee": "agent@example.com"}});
    let billing = json!({"name": "Billing words", "position": 2,
        "when": {"words": ["invoice", "refund"]},
        "then": {"category": "Billing", "priority": "low"}});
    // Bad rules are refused with field problems.
    let r = d
        .post(
            &d.admin,
            "/api/triage-rules",
            json!({"name": "", "when": {}, "then": {}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let f = &r.json()["error"]["fields"];
    assert!(
        f["name"].is_string() && f["when"].is_string() && f["then"].is_string(),
        "{f}"
    );
    let r = d.post(&d.admin, "/api/triage-rules", json!({"name": "x", "when": {"words": ["a"]}, "then": {"category": "Nope", "assignee": "alice@customer.test"}})).await;
    let f = &r.json()["error"]["fields"];
    assert!(
        f["category"].is_string() && f["assignee"].is_string(),
        "{f}"
    );
    assert_eq!(
        d.post(&d.agent, "/api/triage-rules", vip.clone())
            .await
            .status,
        403
    );
    for rule in [&vip, &billing] {
        let r = d.post(&d.admin, "/api/triage-rules", rule.clone()).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let rules = d.get(&d.agent, "/api/triage-rules").await.json();
    assert_eq!(rules.as_array().map(Vec::len), Some(2));

    // By email from a subdomain of the VIP customer, about an invoice: both rules apply, the
    // first one's priority wins.
    let raw = "From: Dana <dana@eu.bigcorp.test>\r\nTo: support@example.com\r\nSubject: Wrong invoice total\r\n\
               Message-ID: <triage-1@bigcorp.test>\r\n\r\nThe March invoice is wrong.\r\n";
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.agent)
            .body(raw),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let n = r.json()["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["priority"], "urgent");
    assert_eq!(t["category"]["name"], "Billing");
    assert_eq!(t["assignee"]["email"], "agent@example.com");
    let lines: Vec<&str> = t["timeline"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["kind"] == "triage")
                .filter_map(|e| e["detail"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        lines,
        vec![
            "triage rule 'Billing words' set category Billing",
            "triage rule 'VIP customers' set priority urgent",
            "triage rule 'VIP customers' assigned agent",
        ]
    );

    // Through the API with a category chosen by the requester: the rule does not override it.
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "Refund please", "body": "Charged twice", "category": "Account"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t: Value = r.json();
    assert_eq!(
        (t["category"]["name"].as_str(), t["priority"].as_str()),
        (Some("Account"), Some("low"))
    );
    // Nothing matches: no triage at all.
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "Hello", "body": "A question"}),
        )
        .await;
    assert_eq!(
        (
            r.json()["priority"].as_str(),
            r.json()["assignee"].is_null()
        ),
        (Some("normal"), true)
    );

    // Disabling and deleting.
    let id = rules[0]["id"].as_str().unwrap_or("").to_string();
    let mut off = vip.clone();
    off["enabled"] = json!(false);
    let r = read(
        d.app
            .client
            .put(d.app.url(&format!("/api/triage-rules/{id}")))
            .bearer_auth(&d.admin)
            .json(&off),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["enabled"].as_bool()),
        (200, Some(false)),
        "{}",
        r.text
    );
    let r = read(
        d.app
            .client
            .delete(d.app.url(&format!("/api/triage-rules/{id}")))
            .bearer_auth(&d.admin),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = read(
        d.app
            .client
            .put(d.app.url(&format!("/api/triage-rules/{id}")))
            .bearer_auth(&d.admin)
            .json(&off),
    )
    .await;
    assert_eq!(r.status, 404);
}
