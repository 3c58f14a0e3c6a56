//! The desk's bad-input sweep: CR/LF in names on every intake, 100k-line bodies through the API,
//! the form and email, malformed multipart and JSON — clear errors or a faithful ticket, never
//! a 500 and never a header in an outgoing email.

use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::helpers::{Backend, read};
use crate::mail::{drain, inbox_of, mail_desk};
use crate::on_both;

on_both!(names_long_bodies_and_broken_forms_are_handled);

async fn names_long_bodies_and_broken_forms_are_handled(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;

    // CR/LF in a name: refused on the form and the API, so it never reaches a header.
    let r = d
        .app
        .post_form(
            "/support/new",
            &[
                ("name", "Eve\r\nBcc: victim@example.com"),
                ("email", "eve@customer.test"),
                ("subject", "Hi"),
                ("description", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("Name "), "{}", r.text);
    let r = d.post(&d.admin, "/api/tickets", json!({"subject": "Hi", "body": "x", "email": "eve@customer.test", "name": "Eve\nBcc: x@y"})).await;
    assert_eq!(
        (r.status, r.json()["error"]["fields"]["name"].is_string()),
        (422, true),
        "{}",
        r.text
    );
    // By email the display name is cleaned instead (the message is still filed), and the
    // acknowledgement carries no injected header.
    let who = format!(
        "mallory-{}@customer.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let raw = format!(
        "From: =?utf-8?q?Mal=0D=0ABcc=3A_victim=40example=2Ecom?= <{who}>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?Hello=0D=0ABcc=3A_x=40y?=\r\nMessage-ID: <inj-{who}>\r\n\r\nHi\r\n"
    );
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.agent)
            .body(raw),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    drain(&d.app).await;
    let ack = &inbox_of(&who, 1).await[0];
    assert!(
        ack.headers
            .iter()
            .all(|(k, _)| !k.eq_ignore_ascii_case("bcc")),
        "{:?}",
        ack.headers
    );

    // 100k lines: through the API (at the 200,000-character limit) and by email (shortened in
    // the ticket, whole in the raw message).
    let lines = "x\n".repeat(100_000);
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "Long log", "body": lines}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", &r.text[..r.text.len().min(300)]);
    let over = "a line of a log file\n".repeat(15_000);
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "Longer log", "body": over}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["fields"]["body"].is_string()),
        (422, true)
    );
    // Over the request limit altogether: 413 with our error body.
    let longer = "a line of a log file\n".repeat(100_000);
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "Longer log", "body": longer}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (413, "payload_too_large")
    );
    let raw = format!(
        "From: <{who}>\r\nTo: support@example.com\r\nSubject: Huge\r\nMessage-ID: <huge-{who}>\r\n\r\n{}",
        longer.replace('\n', "\r\n")
    );
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
    let body = t["messages"][0]["body"].as_str().unwrap_or("");
    assert!(
        body.ends_with("the original email is kept in full.]"),
        "{}",
        &body[body.len().saturating_sub(200)..]
    );

    // Broken multipart and broken JSON get 400s with our error body.
    let r = read(
        d.app
            .client
            .post(d.app.url("/support/new"))
            .header("content-type", "multipart/form-data; boundary=zzz")
            .body("--zzz\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nunterminated"),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "invalid_form"),
        "{}",
        r.text
    );
    let form = Form::new()
        .part("files", Part::bytes(vec![0xff, 0xfe]).file_name("a.bin"))
        .text("subject", "s")
        .text("description", "d")
        .text("email", "eve@customer.test")
        .text("name", "Eve");
    let too_many = (0..11).fold(form, |f, i| {
        f.part(
            "files",
            Part::bytes(vec![1, 2, 3]).file_name(format!("f{i}.txt")),
        )
    });
    let r = read(
        d.app
            .client
            .post(d.app.url("/support/new"))
            .header("accept", "text/html")
            .multipart(too_many),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/tickets"))
            .bearer_auth(&d.alice)
            .header("content-type", "application/json")
            .body(vec![b'{', 0xff, b'}']),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

on_both!(group_commit_keeps_each_write_alone);

/// Concurrent writes through group commit: the failing ones leave nothing behind, the others
/// are all stored, and each caller hears its own outcome.
async fn group_commit_keeps_each_write_alone(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let db = app.state.db.clone();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.batched(move |tx: &mut opsdesk_core::db::Tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO settings (key, value, updated_at) VALUES ($1, 'x', 0)",
                    )
                    .bind(format!("batch.{i}"))
                    .execute(&mut **tx)
                    .await?;
                    if i % 3 == 0 {
                        return Err(opsdesk_core::error::AppError::bad_request(
                            "nope",
                            format!("{i} fails"),
                        ));
                    }
                    Ok(i)
                })
            })
            .await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap_or_else(|e| panic!("{e}"));
        if i % 3 == 0 {
            assert_eq!(r.err().map(|e| e.message), Some(format!("{i} fails")));
        } else {
            assert_eq!(r.ok(), Some(i));
        }
    }
    let mut stored: Vec<String> =
        sqlx::query_scalar("SELECT key FROM settings WHERE key LIKE 'batch.%'")
            .fetch_all(db.read())
            .await
            .unwrap_or_default();
    stored.sort();
    let mut expected: Vec<String> = (0..40)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("batch.{i}"))
        .collect();
    expected.sort();
    assert_eq!(stored, expected);
}
