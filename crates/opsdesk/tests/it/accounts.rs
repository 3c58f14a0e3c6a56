//! Sign-in, sessions, lockout, roles and API tokens.

use opsdesk_core::auth::tokens::Scope;
use serde_json::json;

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, new_client, read, spawn_app, spawn_with,
};
use crate::on_both;

on_both!(
    login_sets_a_safe_session_cookie_and_logout_ends_it,
    wrong_passwords_are_refused_audited_and_lock_the_account,
    admin_adds_an_agent_who_can_sign_in_but_not_administer,
    api_tokens_are_scoped_revocable_and_record_use,
    password_reset_ends_existing_sessions,
    page_views_do_not_rewrite_the_session_but_keep_it_alive_daily,
);

async fn login_sets_a_safe_session_cookie_and_logout_ends_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let r = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!((r.status, r.location()), (303, "/".to_string()));
    let cookie = r
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.starts_with("opsdesk_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain-HTTP test server must not set Secure: {cookie}"
    );
    let session_value = cookie.split(';').next().unwrap_or_default().to_string();
    // Behind a TLS-terminating proxy the same cookie is marked Secure.
    let via_tls = read(
        new_client()
            .post(app.url("/login"))
            .header("x-forwarded-proto", "https")
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]),
    )
    .await;
    let tls_cookie = via_tls
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        tls_cookie.starts_with("opsdesk_session=") && tls_cookie.contains("; Secure"),
        "{tls_cookie}"
    );
    assert_eq!(app.get("/api/me").await.json()["auth"], json!("session"));

    let out = app.post_form("/logout", &[]).await;
    assert_eq!((out.status, out.location()), (303, "/login".to_string()));
    assert_eq!(app.get("/api/me").await.status, 401);
    // The old cookie is dead on the server too, not just forgotten by this client.
    let replay = read(
        new_client()
            .get(app.url("/api/me"))
            .header("cookie", session_value),
    )
    .await;
    assert_eq!(replay.status, 401);
    let actions = app.audit_actions().await;
    assert!(
        actions.ends_with(&["auth.login".to_string(), "auth.logout".to_string()]),
        "{actions:?}"
    );
}

async fn wrong_passwords_are_refused_audited_and_lock_the_account(backend: Backend) {
    let app = spawn_with(backend, |c| c.lockout.max_failures_per_account = 3).await;
    app.setup().await;
    for _ in 0..3 {
        let r = app.login(ADMIN_EMAIL, "wrong password!").await;
        assert_eq!(r.status, 401);
        assert!(
            r.text.contains("do not match an active account"),
            "{}",
            r.text
        );
    }
    // Locked now: even the right password is refused, from another address and another client.
    let locked = read(
        new_client()
            .post(app.url("/login"))
            .header("x-forwarded-for", "203.0.113.50")
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]),
    )
    .await;
    assert_eq!(locked.status, 429);
    assert!(locked.text.contains("Too many failed sign-ins"));
    let unknown = app.login("nobody@example.com", "whatever123").await;
    assert_eq!(
        unknown.status, 401,
        "unknown users get the same answer as wrong passwords"
    );
    let actions = app.audit_actions().await;
    assert_eq!(
        actions.iter().filter(|a| *a == "auth.login_failed").count(),
        5,
        "{actions:?}"
    );
    let log = std::fs::read_to_string(app.data_dir().join("auth.log")).unwrap_or_default();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("event=auth_failure"))
            .count(),
        5,
        "{log}"
    );
    assert!(
        log.contains("client_ip=203.0.113.50 reason=locked path=/login"),
        "{log}"
    );
}

async fn admin_adds_an_agent_who_can_sign_in_but_not_administer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let dup = app
        .post_form(
            "/admin/users",
            &[
                ("email", ADMIN_EMAIL),
                ("role", "agent"),
                ("password", "another password"),
            ],
        )
        .await;
    assert_eq!(dup.status, 422);
    assert!(
        dup.text
            .contains("Email is already used by another account"),
        "{}",
        dup.text
    );
    let r = app
        .post_form(
            "/admin/users",
            &[
                ("email", "Bo@Example.com"),
                ("name", "Bo Agent"),
                ("role", "agent"),
                ("password", "agent password 1"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.location()),
        (303, "/admin/users".to_string()),
        "{}",
        r.text
    );
    let list = app.get_page("/admin/users").await;
    assert!(
        list.text.contains("Added bo@example.com as agent.") && list.text.contains("Bo Agent"),
        "{}",
        list.text
    );

    let agent = crate::helpers::TestAppClient::new(&app);
    let login = agent.login("bo@example.com", "agent password 1").await;
    assert_eq!(login.status, 303);
    assert_eq!(agent.get_json("/api/me").await["role"], json!("agent"));
    let admin_page = agent.get_page("/admin/users").await;
    assert_eq!(admin_page.status, 403);
    assert!(
        admin_page.text.contains("This page is for admins."),
        "{}",
        admin_page.text
    );
}

async fn api_tokens_are_scoped_revocable_and_record_use(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let created = read(
        app.client
            .post(app.url("/api/tokens"))
            .json(&json!({"name": "ci", "scope": "read"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    let secret = body["secret"].as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("odt_"));
    let token_id = body["token"]["id"].as_str().unwrap_or_default().to_string();

    let me = app.get_with_token("/api/me", &secret).await.json();
    assert_eq!(
        (me["auth"].as_str(), me["scope"].as_str()),
        (Some("token"), Some("read"))
    );
    let write = app
        .post_json_with_token(
            "/api/users",
            &secret,
            &json!({"email": "x@example.com", "role": "agent"}),
        )
        .await;
    assert_eq!(
        (write.status, write.error_code()),
        (403, "forbidden".to_string())
    );

    let listed = app.get_with_token("/api/tokens", &secret).await.json();
    assert!(
        listed["items"][0]["last_used_at"].is_i64(),
        "last use must be recorded: {listed}"
    );
    assert!(
        !listed.to_string().contains(&secret),
        "secrets are never listed again"
    );

    let revoked = read(
        app.client
            .delete(app.url(&format!("/api/tokens/{token_id}"))),
    )
    .await;
    assert_eq!(revoked.status, 200);
    let after = app.get_with_token("/api/me", &secret).await;
    assert_eq!(
        (after.status, after.error_code()),
        (401, "unauthenticated".to_string())
    );

    let writer = app.token(ADMIN_EMAIL, Scope::Write).await;
    let made = app
        .post_json_with_token(
            "/api/users",
            &writer,
            &json!({"email": "cust@example.com", "role": "customer", "organization": "Globex"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.json()["organization"], json!("Globex"));
    let cust_token = app.token("cust@example.com", Scope::Read).await;
    let cust_me = app.get_with_token("/api/me", &cust_token).await.json();
    assert_eq!(cust_me["organization"]["name"], json!("Globex"));
    let denied = app.get_with_token("/api/users", &cust_token).await;
    assert_eq!(denied.status, 403, "customers cannot list users");
}

async fn password_reset_ends_existing_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    app.add_user("agent@example.com", "agent", "").await;
    let agent = crate::helpers::TestAppClient::new(&app);
    assert_eq!(
        agent
            .login("agent@example.com", ADMIN_PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(
        agent.get_json("/api/me").await["email"],
        json!("agent@example.com")
    );
    let new = opsdesk_core::accounts::NewPassword::parse("a brand new secret")
        .unwrap_or_else(|e| panic!("{e}"));
    opsdesk_core::accounts::service::reset_password(
        &app.state.db,
        &opsdesk_core::audit::Actor::cli(),
        "agent@example.com",
        &new,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        agent.get("/api/me").await.status,
        401,
        "the old session must end"
    );
    assert_eq!(
        agent
            .login("agent@example.com", ADMIN_PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        agent
            .login("agent@example.com", "a brand new secret")
            .await
            .status,
        303
    );
}

/// The stored session rows: (data, expires_at).
async fn session_rows(app: &crate::helpers::TestApp) -> Vec<(String, i64)> {
    use sqlx::Row as _;
    sqlx::query("SELECT data, expires_at FROM sessions ORDER BY id")
        .fetch_all(app.state.db.read())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|r| (r.get::<String, _>("data"), r.get::<i64, _>("expires_at")))
        .collect()
}

async fn page_views_do_not_rewrite_the_session_but_keep_it_alive_daily(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let r = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status, 303);
    // The first page of the day marks the session seen (one write that moves its expiry on).
    let first = app.get_page("/").await;
    assert_eq!(first.status, 200);
    let after_first = session_rows(&app).await;
    assert_eq!(after_first.len(), 1);
    assert!(after_first[0].0.contains("seen_day"), "{after_first:?}");
    // Later pages read the session and leave the row exactly as it was.
    for path in ["/", "/account", "/"] {
        assert_eq!(app.get_page(path).await.status, 200, "{path}");
    }
    assert_eq!(session_rows(&app).await, after_first);
}
