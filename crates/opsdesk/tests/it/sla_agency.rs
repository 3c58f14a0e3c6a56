//! The Agency tier's private channel on both backends: members of an organization on a tier with
//! a shared space see all its requests and its shared space in the portal, and the
//! organization's webhook receives its public ticket updates — never internal notes.

use opsdesk_core::auth::tokens::Scope;
use serde_json::{Value, json};

use crate::desk::desk;
use crate::helpers::{ADMIN_PASSWORD, Backend, TestAppClient, read};
use crate::mail::drain;
use crate::on_both;
use crate::sla_tickets::set_tier;
use crate::sla_timers::{posted, receiver};

on_both!(an_agency_organization_shares_its_work_and_gets_its_updates);

fn numbers(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .map(|v| v.iter().filter_map(|t| t["number"].as_i64()).collect())
        .unwrap_or_default()
}

async fn an_agency_organization_shares_its_work_and_gets_its_updates(backend: Backend) {
    let d = desk(backend).await;
    d.app
        .add_user("carol@customer.test", "customer", "Alice Corp")
        .await;
    let carol = d.app.token("carol@customer.test", Scope::Write).await;
    let n = d.file(&d.alice, "Deploys are slow", json!({})).await;
    assert_eq!(
        numbers(&d.get(&carol, "/api/tickets").await.json()),
        Vec::<i64>::new()
    );

    // On Agency the organization shares its requests.
    set_tier(&d, "/api/organizations/Alice%20Corp/tier", "Agency").await;
    assert_eq!(numbers(&d.get(&carol, "/api/tickets").await.json()), [n]);
    let orgs = d.get(&d.agent, "/api/organizations").await.json();
    let org = orgs
        .as_array()
        .and_then(|o| o.iter().find(|o| o["name"] == "Alice Corp"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(org["share_tickets"], true, "{org}");
    assert_eq!(org["webhook"], false, "{org}");
    let org_id = org["id"].as_str().unwrap_or_default().to_string();

    // Its webhook: admins only, web URLs only.
    let (url, got) = receiver().await;
    let put = |token: &str, body: Value| {
        read(
            d.app
                .client
                .put(d.app.url(&format!("/api/organizations/{org_id}/webhook")))
                .bearer_auth(token)
                .json(&body),
        )
    };
    assert_eq!(put(&d.agent, json!({"url": url})).await.status, 403);
    let r = put(&d.admin, json!({"url": "ftp://example.com/x"})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.json()["error"]["fields"]["url"].is_string());
    let r = put(&d.admin, json!({"url": url})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["webhook"], true);
    assert!(
        !r.text.contains("/hook"),
        "the URL is not echoed: {}",
        r.text
    );

    // Public updates reach it — new requests too; internal notes never do.
    let second = d.file(&carol, "Invoices missing", json!({})).await;
    let post = |token: String, path: String, body: Value| {
        let d = &d;
        async move { d.post(&token, &path, body).await }
    };
    let r = post(
        d.alice.clone(),
        format!("/api/tickets/{n}/messages"),
        json!({"body": "Still slow today."}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = post(
        d.agent.clone(),
        format!("/api/tickets/{n}/notes"),
        json!({"body": "SECRET internal theory"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = post(
        d.agent.clone(),
        format!("/api/tickets/{n}/messages"),
        json!({"body": "We are on it."}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = d
        .step(n, json!({"to": "triaged", "category": "Product"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    drain(&d.app).await;
    let hooks = posted(&got, 4).await;
    let events: Vec<&str> = hooks.iter().filter_map(|h| h["event"].as_str()).collect();
    assert_eq!(
        events,
        [
            "ticket.created",
            "ticket.message",
            "ticket.message",
            "ticket.state"
        ],
        "{hooks:?}"
    );
    assert_eq!(hooks[0]["ticket"]["number"], second);
    assert!(
        hooks[1]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Still slow today."))
    );
    assert!(
        hooks[2]["text"]
            .as_str()
            .is_some_and(|t| t.contains("support team"))
    );
    assert_eq!(hooks[3]["ticket"]["number"], n);
    assert!(
        hooks[3]["text"]
            .as_str()
            .is_some_and(|t| t.ends_with("is now In progress")),
        "customers' words, not the team's steps: {hooks:?}"
    );
    assert!(!format!("{hooks:?}").contains("SECRET"), "{hooks:?}");
    // A further internal step (still "In progress" for the customer) is not posted.
    let r = d
        .step(
            n,
            json!({"to": "reproducing", "outcome": "reproduced", "steps": "Deploy twice"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    drain(&d.app).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        posted(&got, 4).await.len(),
        4,
        "no post for an internal step"
    );

    // The shared space: open work, who handles it, the organization's contacts.
    let c = TestAppClient::new(&d.app);
    c.login("carol@customer.test", ADMIN_PASSWORD).await;
    let home = c.get_page("/portal").await;
    assert!(home.text.contains("href=\"/portal/org\""), "{}", home.text);
    let space = c.get_page("/portal/org").await;
    assert_eq!(space.status, 200);
    assert!(space.text.contains("Open work") && space.text.contains("Deploys are slow"));
    assert!(
        space.text.contains("alice@customer.test") && space.text.contains("carol@customer.test")
    );
    assert!(
        space.text.contains("posted to your team&#x27;s channel")
            || space.text.contains("posted to your team's channel")
    );
    // Anyone else: there is no such page.
    let b = TestAppClient::new(&d.app);
    b.login("bob@other.test", ADMIN_PASSWORD).await;
    assert_eq!(b.get_page("/portal/org").await.status, 404);
    let bob_home = b.get_page("/portal").await;
    assert!(!bob_home.text.contains("/portal/org"));
}
