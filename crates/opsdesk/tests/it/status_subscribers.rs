//! Status page subscribers: subscribe on /status, confirm through the emailed link (double
//! opt-in), get public incident updates by email through the real SMTP sink, and stop them
//! with the link every message carries.

use opsdesk_core::auth::tokens::Scope;
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, Backend, spawn_with};
use crate::incidents::send;
use crate::on_both;

on_both!(status_page_subscribers_get_public_updates_by_email);

/// The path of the subscription link in a message.
fn link_in(text: &str) -> String {
    let at = text
        .find("/status/subscriptions/")
        .unwrap_or_else(|| panic!("no subscription link in {text}"));
    text[at..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn mails_to(to: &str) -> usize {
    let dir =
        std::path::PathBuf::from(crate::helpers::required_env("OPSDESK_TEST_MAILDIR")).join("new");
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .filter_map(|raw| opsdesk_mail::parse(&raw).ok())
                .filter(|m| m.to.iter().any(|a| a.email == to))
                .count()
        })
        .unwrap_or(0)
}

async fn status_page_subscribers_get_public_updates_by_email(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.mail.smtp_url = Some(opsdesk_core::config::DatabaseUrl(
            crate::helpers::required_env("OPSDESK_TEST_SMTP_URL"),
        ));
    })
    .await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let reader = format!("{}@reader.example", crate::mail::unique("sub"));
    let lurker = format!("{}@reader.example", crate::mail::unique("pending"));

    let r = app
        .post_form("/status/subscribe", &[("email", "not an address")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("email:"), "{}", r.text);
    for who in [&reader, &lurker] {
        let r = app.post_form("/status/subscribe", &[("email", who)]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains("Check your email"));
    }
    crate::mail::drain(&app).await;
    let confirm = crate::mail::inbox_of(&reader, 1).await;
    assert!(
        confirm[0]
            .subject
            .contains("Confirm your Acme Support status updates"),
        "{}",
        confirm[0].subject
    );
    let link = link_in(&confirm[0].text);
    let page = app.get_page(&link).await;
    assert!(
        page.text.contains(&format!("Confirm that {reader}")),
        "{}",
        page.text
    );
    let r = app.post_form(&format!("{link}/confirm"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Subscribed"));
    assert_eq!(app.get_page("/status/subscriptions/nope").await.status, 404);

    let r = app
        .post_json_with_token(
            "/api/incidents",
            &token,
            &json!({"title": "Slow uploads", "severity": 3, "public_message": "Uploads are slow."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = send(
        &app,
        reqwest::Method::POST,
        "/api/incidents/1/updates",
        &token,
        json!({"body": "internal", "public": false, "subscribers": true}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = send(&app, reqwest::Method::POST, "/api/incidents/1/updates", &token,
        json!({"body": "We found a slow disk and are replacing it.", "public": true, "subscribers": true, "status": "identified"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    crate::mail::drain(&app).await;
    let got = crate::mail::inbox_of(&reader, 2).await;
    let update = got
        .iter()
        .find(|m| m.subject.contains("Slow uploads"))
        .unwrap_or_else(|| {
            panic!(
                "no update among {:?}",
                got.iter().map(|m| &m.subject).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        update.subject,
        "[Acme Support status] Slow uploads: identified"
    );
    assert!(
        update.text.contains("We found a slow disk"),
        "{}",
        update.text
    );
    let unsubscribe = link_in(&update.text);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        mails_to(&lurker),
        1,
        "an unconfirmed address gets only its confirmation"
    );

    let r = app
        .post_form(&format!("{unsubscribe}/unsubscribe"), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        &app,
        reqwest::Method::POST,
        "/api/incidents/1/updates",
        &token,
        json!({"body": "Fixed.", "public": true, "subscribers": true, "status": "monitoring"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    crate::mail::drain(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(mails_to(&reader), 2, "nothing after unsubscribing");
    let audit = app.audit_actions().await;
    for a in [
        "status.subscribe",
        "status.subscribe.confirm",
        "status.unsubscribe",
    ] {
        assert!(audit.iter().any(|x| x == a), "{a}");
    }
}
