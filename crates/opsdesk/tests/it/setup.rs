//! The first-run setup wizard.

use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, read, spawn_app};
use crate::on_both;

on_both!(
    fresh_instance_leads_every_page_to_setup,
    wizard_validates_then_signs_the_admin_in,
    setup_happens_exactly_once_under_concurrency,
    the_wizard_takes_the_teams_logo
);

async fn fresh_instance_leads_every_page_to_setup(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/", "/login", "/admin/users", "/account"] {
        let r = app.get_page(path).await;
        assert_eq!(
            (r.status, r.location()),
            (303, "/setup".to_string()),
            "{path}"
        );
    }
    let me = app.get("/api/me").await;
    assert_eq!(
        (me.status, me.error_code()),
        (503, "setup_required".to_string())
    );
    let page = app.get_page("/setup").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Welcome to opsdesk") && page.text.contains("Europe/Berlin"),
        "{}",
        page.text
    );
    let health = app.get("/api/health").await.json();
    assert_eq!(health["setup_complete"], json!(false));
}

async fn wizard_validates_then_signs_the_admin_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let bad = app
        .post_form(
            "/setup",
            &[
                ("brand_name", ""),
                ("support_email", "not-an-email"),
                ("timezone", "Mars/Olympus"),
                ("admin_name", "Ada"),
                ("admin_email", ADMIN_EMAIL),
                ("admin_password", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for expected in [
        "Team name is required",
        "Support email must look like",
        "Time zone is not a known",
        "Password must be at least 10",
    ] {
        assert!(bad.text.contains(expected), "missing {expected:?}");
    }
    assert!(
        !opsdesk_core::setup::is_complete(&app.state.db)
            .await
            .unwrap_or(true),
        "a failed setup must not be saved"
    );

    let ok = app
        .post_form(
            "/setup",
            &[
                ("brand_name", "Acme Support"),
                ("support_email", "support@acme.example"),
                ("timezone", "America/New_York"),
                ("admin_name", "Ada Admin"),
                ("admin_email", ADMIN_EMAIL),
                ("admin_password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (ok.status, ok.location()),
        (303, "/".to_string()),
        "{}",
        ok.text
    );
    let home = app.get_page("/").await;
    assert_eq!(home.status, 200);
    assert!(
        home.text.contains("Acme Support") && home.text.contains("Setup is complete"),
        "{}",
        home.text
    );
    assert!(home.text.contains("America/New_York"));
    let me = app.get("/api/me").await.json();
    assert_eq!(
        (
            me["email"].as_str(),
            me["role"].as_str(),
            me["auth"].as_str()
        ),
        (Some(ADMIN_EMAIL), Some("admin"), Some("session"))
    );
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"setup.complete".to_string())
            && actions.contains(&"user.create".to_string()),
        "{actions:?}"
    );
    // The wizard is gone once done.
    let again = app.get_page("/setup").await;
    assert_eq!(
        (again.status, again.location()),
        (303, "/login".to_string())
    );
}

async fn setup_happens_exactly_once_under_concurrency(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = app.client.clone();
        let url = app.url("/api/setup");
        tasks.push(tokio::spawn(async move {
            read(
                client
                    .post(url)
                    .header("x-forwarded-for", format!("198.51.100.{i}"))
                    .json(&json!({
                        "brand_name": format!("Team {i}"),
                        "support_email": "support@example.com",
                        "timezone": "UTC",
                        "admin_name": "Admin",
                        "admin_email": format!("admin{i}@example.com"),
                        "admin_password": ADMIN_PASSWORD,
                    })),
            )
            .await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| panic!("{e}"));
        if r.status == 409 {
            assert_eq!(r.error_code(), "setup_already_complete");
        }
        statuses.push(r.status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409, 409, 409]);
    let admins = opsdesk_core::accounts::service::list(
        &app.state.db,
        Some(opsdesk_core::accounts::Role::Admin),
        "",
        50,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        admins.len(),
        1,
        "exactly one admin may exist after racing setups"
    );
}

/// The wizard's form as the browser sends it (multipart, with a file).
fn wizard(logo: &[u8], name: &str) -> reqwest::multipart::Form {
    let mut f = reqwest::multipart::Form::new();
    for (k, v) in [
        ("brand_name", "Pixel Support"),
        ("support_email", "support@pixel.example"),
        ("timezone", "Europe/Berlin"),
        ("admin_name", "Ada Admin"),
        ("admin_email", ADMIN_EMAIL),
        ("admin_password", ADMIN_PASSWORD),
    ] {
        f = f.text(k, v);
    }
    f.part(
        "logo",
        reqwest::multipart::Part::bytes(logo.to_vec()).file_name(name.to_string()),
    )
}

async fn the_wizard_takes_the_teams_logo(backend: Backend) {
    let app = spawn_app(backend).await;
    // Not an image, whatever its name says: refused, nothing saved.
    let r = read(
        app.client
            .post(app.url("/setup"))
            .header("accept", "text/html")
            .multipart(wizard(b"<svg onload=alert(1)>", "logo.png")),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text
            .contains("Logo must be a PNG, JPEG, GIF or WebP image"),
        "{}",
        r.text
    );
    assert!(
        !opsdesk_core::setup::is_complete(&app.state.db)
            .await
            .unwrap_or(true)
    );
    assert_eq!(
        app.get("/status/logo").await.status,
        303,
        "before setup every page leads to it"
    );

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-tiny-test-logo";
    let r = read(
        app.client
            .post(app.url("/setup"))
            .header("accept", "text/html")
            .multipart(wizard(png, "logo.png")),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let logo = read(app.client.get(app.url("/status/logo"))).await;
    assert_eq!(logo.status, 200);
    assert_eq!(
        logo.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    let page = app.get_page("/status").await;
    assert!(
        page.text.contains("/status/logo"),
        "the status page shows it"
    );
}
