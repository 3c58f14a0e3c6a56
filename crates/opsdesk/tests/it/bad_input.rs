//! Bad input gets a clear error and never a 500: malformed bodies, wrong types, huge and hostile
//! text, forged cookies, cross-site posts, revoked tokens, unknown ids.

use opsdesk_core::auth::tokens::Scope;
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, new_client, read, spawn_app};
use crate::on_both;

on_both!(
    malformed_bodies_get_clear_errors,
    hostile_text_is_stored_verbatim_or_refused,
    forged_and_cross_site_requests_are_refused,
    unknown_ids_and_bad_queries_are_client_errors
);

async fn malformed_bodies_get_clear_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let url = app.url("/api/users");
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            app.client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{\"email\": "),
            400,
            "invalid_json",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"email": "a@b.c", "role": "agent", "admin": true})),
            422,
            "invalid_fields",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"email": 5, "role": "agent"})),
            422,
            "invalid_fields",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(format!("{{\"email\":\"{}\"}}", "x".repeat(3 * 1024 * 1024))),
            413,
            "payload_too_large",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"email": "nul\u{0}@b.c", "role": "agent"})),
            400,
            "invalid_text",
        ),
        (
            app.client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"email": "a@b.c", "role": "root"})),
            422,
            "validation_failed",
        ),
    ];
    for (req, status, code) in cases {
        let r = read(req).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (status, code),
            "{}",
            r.text
        );
    }
    let form = read(
        app.client
            .post(app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=%ZZ&&="),
    )
    .await;
    assert!(
        form.status == 401 || form.status == 400,
        "malformed form: {} {}",
        form.status,
        form.text
    );
    let count = opsdesk_core::accounts::store::count_users(&app.state.db)
        .await
        .unwrap_or(0);
    assert_eq!(count, 1, "nothing was created by bad requests");
}

async fn hostile_text_is_stored_verbatim_or_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let sqlish = "Robert'); DROP TABLE users;-- \"<script>alert(1)</script>";
    let r = app.post_json_with_token("/api/users", &token, &json!({"email": "bobby@example.com", "role": "customer", "name": sqlish, "organization": sqlish})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["name"], json!(sqlish));
    let long = "x".repeat(10 * 1024);
    for field in ["email", "name", "organization", "password"] {
        let mut body =
            json!({"email": "long@example.com", "role": "agent", "password": "long enough pw"});
        body[field] = json!(long);
        let r = app.post_json_with_token("/api/users", &token, &body).await;
        assert_eq!(r.status, 422, "{field}: {}", r.text);
        assert!(
            r.json()["error"]["fields"][field].is_string(),
            "{field}: {}",
            r.text
        );
    }
    let setup_again = read(app.client.post(app.url("/api/setup")).json(&json!({
        "brand_name": long, "support_email": long, "timezone": sqlish, "admin_name": long, "admin_email": long, "admin_password": long
    })))
    .await;
    assert_eq!(setup_again.status, 422);
    let login = app.login(&long, &long).await;
    assert_eq!(login.status, 401);
    for q in [
        "action=%27%20OR%201%3D1--",
        "actor=%25",
        "target=%27%3B%20DROP%20TABLE%20audit_log%3B--",
    ] {
        let r = app.get_with_token(&format!("/api/audit?{q}"), &token).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text);
        assert_eq!(
            r.json()["items"].as_array().map(Vec::len),
            Some(0),
            "{q} matched records: {}",
            r.text
        );
    }
    // The page escapes what it shows.
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app.get_page("/admin/users").await;
    assert!(
        page.text.contains("&#60;script&#62;") && !page.text.contains("<script>alert(1)"),
        "unescaped HTML on the page: {}",
        page.text
    );
}

async fn forged_and_cross_site_requests_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let forged = read(
        new_client()
            .get(app.url("/account"))
            .header("accept", "text/html")
            .header("cookie", "opsdesk_session=AAAAAAAAAAAAAAAAAAAAAA"),
    )
    .await;
    assert_eq!(
        forged.status, 303,
        "a forged cookie is just anonymous: {}",
        forged.text
    );
    assert!(forged.location().starts_with("/login?next="));
    let garbage = read(
        new_client()
            .get(app.url("/api/me"))
            .header("cookie", "opsdesk_session=%%%not-base64"),
    )
    .await;
    assert_eq!(garbage.status, 401);

    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cross = read(
        app.client
            .post(app.url("/admin/users"))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .form(&[
                ("email", "evil@example.com"),
                ("role", "admin"),
                ("password", "evil password 1"),
            ]),
    )
    .await;
    assert_eq!(cross.status, 403, "{}", cross.text);
    assert!(cross.text.contains("another site"), "{}", cross.text);
    assert!(
        opsdesk_core::accounts::service::find(&app.state.db, "evil@example.com")
            .await
            .is_err()
    );
    let same = read(
        app.client
            .post(app.url("/admin/users"))
            .header("origin", app.addr.clone())
            .header("sec-fetch-site", "same-origin")
            .form(&[
                ("email", "good@example.com"),
                ("role", "agent"),
                ("password", "good password 1"),
            ]),
    )
    .await;
    assert_eq!(same.status, 303, "{}", same.text);

    let bogus = app
        .get_with_token(
            "/api/me",
            "odt_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .await;
    assert_eq!(bogus.status, 401);
    let log = std::fs::read_to_string(app.data_dir().join("auth.log")).unwrap_or_default();
    assert!(
        log.contains("user=\"token:0123456789ab\"") && log.contains("reason=bad_token"),
        "{log}"
    );
}

async fn unknown_ids_and_bad_queries_are_client_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    for path in [
        "/api/users/00000000-0000-0000-0000-000000000000",
        "/api/users/nobody@example.com",
    ] {
        let r = app.get_with_token(path, &token).await;
        assert_eq!(
            (r.status, r.error_code()),
            (404, "not_found".to_string()),
            "{path}"
        );
    }
    let r = read(
        app.client
            .delete(app.url("/api/tokens/does-not-exist"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = app.get_with_token("/api/users?limit=abc", &token).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, "invalid_query".to_string())
    );
    let r = app.get_with_token("/api/users?limit=-5", &token).await;
    assert_eq!(r.status, 200, "out-of-range limits are clamped");
    let r = app.get_with_token("/api/audit?actor=%00", &token).await;
    assert_eq!(
        (r.status, r.error_code()),
        (400, "invalid_text".to_string())
    );
    let r = app.get_with_token("/api/jobs?state=exploded", &token).await;
    assert_eq!(r.status, 422);
    let r = read(app.client.put(app.url("/api/health"))).await;
    assert_eq!(
        (r.status, r.error_code()),
        (405, "method_not_allowed".to_string())
    );
}

on_both!(
    rate_limits_answer_429_with_retry_after,
    expired_sessions_are_anonymous
);

async fn rate_limits_answer_429_with_retry_after(backend: Backend) {
    let app = crate::helpers::spawn_with(backend, |c| {
        c.limits.login_per_minute = 2;
        c.limits.api_per_second = 1;
    })
    .await;
    app.setup().await;
    let attempt = || {
        read(
            app.client
                .post(app.url("/login"))
                .header("x-forwarded-for", "203.0.113.9")
                .form(&[("email", "a@b.c"), ("password", "x")]),
        )
    };
    assert_eq!(attempt().await.status, 401);
    assert_eq!(attempt().await.status, 401);
    let limited = attempt().await;
    assert_eq!(
        (limited.status, limited.error_code()),
        (429, "rate_limited".to_string())
    );
    let wait: u64 = limited
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let other = read(
        app.client
            .post(app.url("/login"))
            .header("x-forwarded-for", "203.0.113.10")
            .form(&[("email", "a@b.c"), ("password", "x")]),
    )
    .await;
    assert_eq!(other.status, 401, "limits are per client address");
    // Until the limit answers (a slow machine refills a token between requests now and then).
    let mut statuses = Vec::new();
    while statuses.len() < 20 && !statuses.contains(&429) {
        statuses.push(
            read(
                app.client
                    .get(app.url("/api/me"))
                    .header("x-forwarded-for", "203.0.113.11"),
            )
            .await
            .status,
        );
    }
    assert!(statuses.contains(&429), "API limit never hit: {statuses:?}");
    let health = read(
        app.client
            .get(app.url("/api/health"))
            .header("x-forwarded-for", "203.0.113.11"),
    )
    .await;
    assert_eq!(health.status, 200, "health checks are never rate limited");
}

async fn expired_sessions_are_anonymous(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    assert_eq!(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, 303);
    assert_eq!(app.get("/api/me").await.status, 200);
    sqlx::query("UPDATE sessions SET expires_at = 1")
        .execute(app.state.db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = app.get_page("/account").await;
    assert_eq!(r.status, 303, "an expired session must not sign anyone in");
    assert!(r.location().starts_with("/login"));
}
