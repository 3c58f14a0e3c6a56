//! API conventions: health, errors, pagination, the OpenAPI document and docs, headers, assets.

use opsdesk_core::auth::tokens::Scope;
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, Backend, spawn_app};
use crate::on_both;

on_both!(
    health_reports_its_checks,
    anonymous_api_calls_get_json_errors,
    user_lists_page_with_cursors,
    openapi_and_docs_are_served_locally,
    pages_carry_security_headers_and_assets_cache
);

async fn health_reports_its_checks(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/api/health").await;
    assert_eq!(r.status, 200);
    let h = r.json();
    assert_eq!(h["status"], json!("ok"));
    assert_eq!(h["checks"]["database"]["status"], json!("ok"));
    assert_eq!(h["checks"]["migrations"]["detail"], json!("current"));
    let expected = if backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(h["instance"]["backend"], json!(expected));
    assert!(h["version"].is_string());

    // A job waiting far past its time makes the instance report itself degraded (503).
    let mut tx = app.state.db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    let stale = opsdesk_core::jobs::NewJob {
        run_at: opsdesk_core::clock::now_ms() - 10 * 60_000,
        ..opsdesk_core::jobs::NewJob::now("audit.checkpoint", json!(null))
    };
    opsdesk_core::jobs::store::enqueue(&mut tx, &stale)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let r = app.get("/api/health").await;
    assert_eq!(r.status, 503);
    let h = r.json();
    assert_eq!(
        (
            h["status"].as_str(),
            h["checks"]["job_queue"]["status"].as_str()
        ),
        (Some("degraded"), Some("warn")),
        "{h}"
    );
    app.state
        .runner
        .try_run_one()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        app.get("/api/health").await.status,
        200,
        "healthy again once the queue catches up"
    );
}

async fn anonymous_api_calls_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let r = app.get("/api/me").await;
    assert_eq!(r.status, 401);
    let body = r.json();
    assert_eq!(body["error"]["code"], json!("unauthenticated"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Bearer"))
    );
    assert!(body["error"]["fields"].is_object());
    let missing = app.get("/api/nothing-here").await;
    assert_eq!(
        (missing.status, missing.error_code()),
        (404, "not_found".to_string())
    );
    let page = app.get_page("/nothing-here").await;
    assert_eq!(page.status, 404);
    assert!(page.text.contains("<h1>Not found</h1>"), "{}", page.text);
}

async fn user_lists_page_with_cursors(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    for i in 0..5 {
        app.add_user(&format!("user{i}@example.com"), "customer", "")
            .await;
    }
    let token = app.token(ADMIN_EMAIL, Scope::Read).await;
    let mut seen = Vec::new();
    let mut path = "/api/users?limit=2".to_string();
    for _ in 0..10 {
        let page = app.get_with_token(&path, &token).await.json();
        for u in page["items"].as_array().cloned().unwrap_or_default() {
            seen.push(u["email"].as_str().unwrap_or_default().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/users?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..5).map(|i| format!("user{i}@example.com")).collect();
    expected.insert(0, ADMIN_EMAIL.to_string());
    assert_eq!(seen, expected, "every user exactly once, in email order");
    let customers = app
        .get_with_token("/api/users?role=customer&limit=200", &token)
        .await
        .json();
    assert_eq!(customers["items"].as_array().map(Vec::len), Some(5));
    let bad = app.get_with_token("/api/users?cursor=%21%21", &token).await;
    assert_eq!(
        (bad.status, bad.error_code()),
        (400, "invalid_cursor".to_string())
    );
}

async fn openapi_and_docs_are_served_locally(backend: Backend) {
    let app = spawn_app(backend).await;
    let spec = app.get("/api/openapi.json").await.json();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        spec["openapi"]
    );
    for path in [
        "/api/health",
        "/api/me",
        "/api/users",
        "/api/tokens",
        "/api/audit",
        "/api/jobs",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the spec"
        );
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app.get_page("/api/docs/").await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger"), "{}", docs.text);
    assert!(
        !docs.text.contains("cdn") && !docs.text.contains("unpkg"),
        "docs must not load from a CDN"
    );
}

async fn pages_carry_security_headers_and_assets_cache(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get_page("/setup").await;
    let csp = r
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(r.headers.get("x-request-id").is_some());
    assert!(r.text.contains("/assets/htmx-2.0.11.min.js"));
    let js = app.get("/assets/htmx-2.0.11.min.js").await;
    assert_eq!(js.status, 200);
    assert!(js.text.starts_with("var htmx="));
    let cache = js
        .headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cache.contains("immutable"), "{cache}");
}
