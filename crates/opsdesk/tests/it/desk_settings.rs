//! The desk settings page: admins edit templates, triage rules, unsupported types, the
//! communication rules and canned replies without the API; others are refused.

use crate::desk::desk;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestAppClient};
use crate::on_both;

on_both!(admins_edit_desk_settings_in_the_page);

async fn admins_edit_desk_settings_in_the_page(backend: Backend) {
    let d = desk(backend).await;
    let agent = TestAppClient::new(&d.app);
    agent.login("agent@example.com", ADMIN_PASSWORD).await;
    assert_eq!(agent.get_page("/desk/settings").await.status, 403);

    d.app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = d.app.get_page("/desk/settings").await;
    assert_eq!(page.status, 200);
    for section in [
        "Email templates",
        "Triage rules",
        "Unsupported request types",
        "Communication rules",
        "Canned replies",
    ] {
        assert!(page.text.contains(section), "{section} missing");
    }
    assert!(page.text.contains("No rules yet"));
    // SLA pauses: a checkbox per state that may pause the clocks.
    assert!(page.text.contains("SLA pauses") && page.text.contains("name=\"paused_fixed\""));
    let r = d
        .app
        .post_form("/desk/settings/sla-paused", &[("paused_fixed", "on")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let again = d.app.get_page("/desk/settings").await.text;
    assert!(
        again.contains("SLA clocks now also pause in: fixed."),
        "{again}"
    );
    assert!(again.contains("name=\"paused_fixed\" checked"), "{again}");
    // Organizations get a tier from the list; on Agency their requests are shared.
    let tier_form = again
        .split("action=\"/desk/settings/organizations/")
        .find_map(|rest| rest.split_once("/tier\"").map(|(id, _)| id.to_string()))
        .unwrap_or_else(|| panic!("no tier form: {again}"));
    let r = d
        .app
        .post_form(
            &format!("/desk/settings/organizations/{tier_form}/tier"),
            &[("tier", "tier-agency")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let after = d.app.get_page("/desk/settings").await.text;
    assert!(after.contains("now served under Agency"), "{after}");
    assert!(
        after.contains("<option value=\"tier-agency\" selected>"),
        "{after}"
    );
    assert!(
        after.contains("Stop sharing"),
        "Agency turns sharing on: {after}"
    );
    let n = d
        .file(&d.alice, "Served as Agency", serde_json::json!({}))
        .await;
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["tier"]["name"], "Agency", "{t}");
    // Staff navigate the desk, not the customer portal.
    assert!(page.text.contains("Desk settings") && !page.text.contains("My requests"));

    // A template with an unknown placeholder is refused and explained; a good one is saved.
    let bad = d
        .app
        .post_form(
            "/desk/settings/templates/ack",
            &[("subject", "Got it {{subjct}}"), ("body", "Hi")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.text.contains("subjct"), "{}", bad.text);
    let ok = d
        .app
        .post_form(
            "/desk/settings/templates/ack",
            &[
                ("subject", "Got it: {{subject}}"),
                ("body", "Hello {{name}}, thanks."),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    let page = d.app.get_page("/desk/settings").await;
    assert!(
        page.text.contains("Saved the ack template.")
            && page.text.contains("Hello {{name}}, thanks."),
        "{}",
        page.text
    );

    // A triage rule from the form applies to the next ticket.
    let r = d
        .app
        .post_form(
            "/desk/settings/triage",
            &[
                ("name", "Refunds"),
                ("position", "1"),
                ("words", "refund, chargeback"),
                ("priority", "high"),
                ("category", "cat-billing"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = d.app.get_page("/desk/settings").await;
    assert!(
        page.text.contains("Refunds")
            && page.text.contains("words refund, chargeback")
            && page.text.contains("category Billing"),
        "{}",
        page.text
    );
    let n = d
        .file(&d.alice, "Refund for March", serde_json::json!({}))
        .await;
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(
        (t["priority"].as_str(), t["category"]["name"].as_str()),
        (Some("high"), Some("Billing"))
    );
    let empty = d
        .app
        .post_form("/desk/settings/triage", &[("name", "Nothing")])
        .await;
    assert_eq!(empty.status, 422);

    // Phrase lists, canned replies and policy answers.
    let r = d
        .app
        .post_form(
            "/desk/settings/reply-rules",
            &[
                ("blame", "your fault"),
                ("speculation", "maybe"),
                ("promises", "by tomorrow"),
                ("internal", "jira"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let rules = d.get(&d.agent, "/api/reply-rules").await.json();
    assert_eq!(rules["internal"], "jira");
    let r = d
        .app
        .post_form(
            "/desk/settings/canned",
            &[("title", "Thanks"), ("body", "Thanks {{name}}!")],
        )
        .await;
    assert_eq!(r.status, 303);
    let canned = d.get(&d.agent, "/api/canned-replies").await.json();
    assert_eq!(canned[0]["title"], "Thanks");
    let r = d
        .app
        .post_form(
            "/desk/settings/unsupported/data-recovery",
            &[
                ("name", "Data recovery outside policy"),
                ("answer", "Sorry {{name}}, not possible."),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let types = d.get(&d.agent, "/api/unsupported-types").await.json();
    assert_eq!(types[2]["answer"], "Sorry {{name}}, not possible.");
}
