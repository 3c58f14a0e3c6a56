//! The audit log: what is recorded, how it is listed, and that tampering is found.

use opsdesk_core::audit::ChainBreak;
use opsdesk_core::audit::store::{Verification, verify};
use opsdesk_core::auth::tokens::Scope;
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, read, spawn_app};
use crate::on_both;

on_both!(
    changes_are_recorded_with_actor_ip_and_request_id,
    audit_lists_filter_and_page,
    tampering_is_found
);

async fn changes_are_recorded_with_actor_ip_and_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let r = read(
        app.client
            .post(app.url("/api/users"))
            .bearer_auth(&token)
            .header("x-forwarded-for", "203.0.113.77")
            .header("x-request-id", "req-audit-1")
            .json(&json!({"email": "new@example.com", "role": "agent", "name": "New Agent"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("req-audit-1")
    );
    let page = app
        .get_with_token("/api/audit?action=user.create&limit=1", &token)
        .await
        .json();
    let rec = &page["items"][0];
    assert_eq!(
        rec["actor"],
        json!(format!(
            "user:{}",
            admin["admin_id"].as_str().unwrap_or_default()
        ))
    );
    assert_eq!(rec["client_ip"], json!("203.0.113.77"));
    assert_eq!(rec["request_id"], json!("req-audit-1"));
    assert!(
        rec["summary"]
            .as_str()
            .is_some_and(|s| s.contains("email=new@example.com role=agent")),
        "{rec}"
    );
    assert_eq!(rec["hash"].as_str().map(str::len), Some(64));
}

async fn audit_lists_filter_and_page(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    for i in 0..4 {
        app.add_user(&format!("a{i}@example.com"), "agent", "")
            .await;
    }
    let token = app.token(ADMIN_EMAIL, Scope::Read).await;
    let family = app
        .get_with_token("/api/audit?action=user", &token)
        .await
        .json();
    let actions: Vec<&str> = family["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec!["user.create"; 5],
        "an action family matches its members only"
    );
    let first = app
        .get_with_token("/api/audit?limit=3", &token)
        .await
        .json();
    let cursor = first["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let second = app
        .get_with_token(&format!("/api/audit?limit=3&cursor={cursor}"), &token)
        .await
        .json();
    let s1: Vec<i64> = first["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["seq"].as_i64())
        .collect();
    let s2: Vec<i64> = second["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["seq"].as_i64())
        .collect();
    assert_eq!(s1.len(), 3);
    assert!(
        s1.iter().zip(s1.iter().skip(1)).all(|(a, b)| a > b),
        "newest first: {s1:?}"
    );
    assert!(
        s2.first().is_some_and(|f| *f < s1[2]),
        "second page continues below the first: {s1:?} {s2:?}"
    );

    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let html = app.get_page("/admin/audit?action=user.create").await;
    assert_eq!(html.status, 200);
    assert!(
        html.text.contains("a3@example.com") && !html.text.contains("setup.complete"),
        "{}",
        html.text
    );
    let agent = crate::helpers::TestAppClient::new(&app);
    agent.login("a0@example.com", ADMIN_PASSWORD).await;
    assert_eq!(
        agent.get("/api/audit").await.status,
        403,
        "agents cannot read the audit log"
    );
}

async fn tampering_is_found(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    for i in 0..3 {
        app.add_user(&format!("t{i}@example.com"), "agent", "")
            .await;
    }
    let db = &app.state.db;
    match verify(db, |_| {}).await.unwrap_or_else(|e| panic!("{e}")) {
        Verification::Intact { records } => assert!(records >= 5, "{records}"),
        Verification::Broken(b) => panic!("fresh chain broken: {b}"),
    }
    sqlx::query("UPDATE audit_log SET summary = 'role=admin' WHERE seq = 3")
        .execute(db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match verify(db, |_| {}).await.unwrap_or_else(|e| panic!("{e}")) {
        Verification::Broken(ChainBreak::Tampered { seq }) => assert_eq!(seq, 3),
        other => panic!("edit not found: {other:?}"),
    }
    sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match verify(db, |_| {}).await.unwrap_or_else(|e| panic!("{e}")) {
        Verification::Broken(ChainBreak::Gap { expected, .. }) => assert_eq!(expected, 3),
        other => panic!("deletion not found: {other:?}"),
    }
}
