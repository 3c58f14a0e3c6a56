//! The customer portal: sign in with an emailed one-time link (read from the real SMTP sink),
//! see only your own requests and their public conversation, reply, and nothing else.

use serde_json::json;

use crate::helpers::{Backend, TestAppClient, read};
use crate::mail::{drain, inbox_of, mail_desk};
use crate::on_both;

on_both!(
    customers_sign_in_by_link_and_see_only_their_public_conversation,
    organizations_that_share_show_colleagues_requests_but_never_security_reports
);

fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains("/portal/login/"))
        .map(|w| w.trim_end_matches(['.', ',']).to_string())
        .unwrap_or_else(|| panic!("no sign-in link in: {text}"))
}

async fn customers_sign_in_by_link_and_see_only_their_public_conversation(backend: Backend) {
    let d = mail_desk(backend, |c| {
        c.public_url = Some("https://desk.example.test".into())
    })
    .await;
    let customer = format!(
        "portal-{}@customer.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let n = d
        .file(
            &d.admin,
            "Cannot download invoice",
            json!({"email": customer, "name": "Robin"}),
        )
        .await;
    let other = d.file(&d.bob, "Bob's own problem", json!({})).await;
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/notes"),
            json!({"body": "INTERNAL: customer is on the legacy plan"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "Could you send a screenshot?"}),
        )
        .await;
    assert_eq!(r.status, 201);

    let browser = TestAppClient::new(&d.app);
    let page = browser.get_page("/portal").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Email me a sign-in link"),
        "{}",
        page.text
    );

    // Unknown addresses get the same answer, and no link.
    let post_link = |email: String| {
        let c = browser.client.clone();
        let url = format!("{}/portal/link", browser.base);
        async move {
            read(
                c.post(url)
                    .header("accept", "text/html")
                    .form(&[("email", email)]),
            )
            .await
        }
    };
    let unknown = post_link("nobody@nowhere.test".into()).await;
    assert_eq!(unknown.status, 200);
    assert!(unknown.text.contains("a sign-in link is on its way"));
    let bad = post_link("not an address".into()).await;
    assert_eq!(bad.status, 422);
    let known = post_link(customer.clone()).await;
    assert_eq!(known.status, 200);
    assert!(known.text.contains("a sign-in link is on its way"));
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM login_links")
        .fetch_one(d.app.state.db.read())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(links, 1, "only the known customer got a link");

    drain(&d.app).await;
    let mails = inbox_of(&customer, 3).await;
    let signin = mails
        .iter()
        .find(|m| m.subject.starts_with("Your sign-in link"))
        .unwrap_or_else(|| panic!("no sign-in email"));
    let link = link_in(&signin.text);
    assert!(
        link.starts_with("https://desk.example.test/portal/login/"),
        "{link}"
    );
    let path = link.trim_start_matches("https://desk.example.test");
    // The sent link is not kept in the outbox.
    let raws: Vec<String> =
        sqlx::query_scalar("SELECT raw FROM mail_outbox WHERE purpose = 'signin'")
            .fetch_all(d.app.state.db.read())
            .await
            .unwrap_or_default();
    assert_eq!(raws, vec![String::new()]);

    // Opening the link only shows a button (mail scanners fetch links); pressing it signs in.
    let confirm = browser.get_page(path).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.text.contains("Continue"));
    let r = read(
        browser
            .client
            .post(format!("{}{path}", browser.base))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(
        (r.status, r.location().as_str()),
        (303, "/portal"),
        "{}",
        r.text
    );
    let again = read(
        browser
            .client
            .post(format!("{}{path}", browser.base))
            .header("accept", "text/html"),
    )
    .await;
    assert_eq!(again.status, 410, "a link works once");

    let home = browser.get_page("/portal").await;
    assert!(
        home.text.contains(&format!("#{n}")) && home.text.contains("Cannot download invoice"),
        "{}",
        home.text
    );
    assert!(home.text.contains("My requests") && !home.text.contains("Desk settings"));
    assert!(
        !home.text.contains("Bob&#x27;s own problem") && !home.text.contains(&format!("#{other}")),
        "{}",
        home.text
    );
    let t = browser.get_page(&format!("/portal/tickets/{n}")).await;
    assert_eq!(t.status, 200);
    assert!(t.text.contains("Could you send a screenshot?"));
    assert!(
        !t.text.contains("INTERNAL"),
        "internal notes leaked: {}",
        t.text
    );
    let stranger = browser.get_page(&format!("/portal/tickets/{other}")).await;
    assert_eq!(stranger.status, 404);
    // The desk itself stays closed to customers.
    assert_eq!(
        browser.get_page(&format!("/desk/tickets/{n}")).await.status,
        403
    );

    // Replying from the portal adds to the conversation; an empty reply is refused with the text kept.
    let empty = read(
        browser
            .client
            .post(format!("{}/portal/tickets/{n}/reply", browser.base))
            .header("accept", "text/html")
            .form(&[("body", "  ")]),
    )
    .await;
    assert_eq!(empty.status, 422);
    let r = read(
        browser
            .client
            .post(format!("{}/portal/tickets/{n}/reply", browser.base))
            .header("accept", "text/html")
            .form(&[("body", "Screenshot: the button is grey.")]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    let last = t["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (last["kind"].as_str(), last["body"].as_str()),
        (Some("customer"), Some("Screenshot: the button is grey."))
    );
    // Nonsense tokens are refused without touching the database.
    assert_eq!(
        browser
            .get_page("/portal/login/../../etc/passwd")
            .await
            .status,
        404
    );
    assert_eq!(browser.get_page("/portal/login/abc").await.status, 410);
}

async fn organizations_that_share_show_colleagues_requests_but_never_security_reports(
    backend: Backend,
) {
    let d = crate::desk::desk(backend).await;
    // alice@customer.test is in "Alice Corp"; carol joins her, bob is elsewhere.
    d.app
        .add_user("carol@customer.test", "customer", "Alice Corp")
        .await;
    let carol = d
        .app
        .token(
            "carol@customer.test",
            opsdesk_core::auth::tokens::Scope::Write,
        )
        .await;
    let n = d.file(&d.alice, "Team billing question", json!({})).await;
    let s = d
        .file(&d.alice, "Found an XSS", json!({"category": "Security"}))
        .await;
    assert_eq!(
        d.get(&carol, &format!("/api/tickets/{n}")).await.status,
        404
    );

    let orgs = d.get(&d.admin, "/api/organizations").await.json();
    let org = orgs
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == "Alice Corp").cloned())
        .unwrap_or_else(|| panic!("no Alice Corp: {orgs}"));
    assert_eq!(org["share_tickets"], false);
    let id = org["id"].as_str().unwrap_or("");
    let put = |token: String, share: bool| {
        let c = d.app.client.clone();
        let url = d.app.url(&format!("/api/organizations/{id}/sharing"));
        async move {
            read(
                c.put(url)
                    .bearer_auth(token)
                    .json(&json!({"share_tickets": share})),
            )
            .await
        }
    };
    assert_eq!(put(d.agent.clone(), true).await.status, 403);
    let r = put(d.admin.clone(), true).await;
    assert_eq!(
        (r.status, r.json()["share_tickets"].as_bool()),
        (200, Some(true)),
        "{}",
        r.text
    );

    // Carol now sees Alice's request (listed and readable), not the security report; Bob sees neither.
    let t = d.get(&carol, &format!("/api/tickets/{n}")).await;
    assert_eq!(t.status, 200);
    assert_eq!(
        d.get(&carol, &format!("/api/tickets/{s}")).await.status,
        404
    );
    let list = d.get(&carol, "/api/tickets").await.json();
    let numbers: Vec<i64> = list["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["number"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(numbers, vec![n]);
    assert_eq!(
        d.get(&d.bob, &format!("/api/tickets/{n}")).await.status,
        404
    );
    // In the portal too, marked as a colleague's.
    let browser = TestAppClient::new(&d.app);
    browser
        .login("carol@customer.test", crate::helpers::ADMIN_PASSWORD)
        .await;
    let home = browser.get_page("/portal").await;
    assert!(
        home.text.contains("Team billing question") && home.text.contains("asked by"),
        "{}",
        home.text
    );
    assert!(!home.text.contains("Found an XSS"));

    // Turned off again: back to her own only.
    let r = put(d.admin.clone(), false).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        d.get(&carol, &format!("/api/tickets/{n}")).await.status,
        404
    );
}
