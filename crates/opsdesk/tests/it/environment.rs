//! The environment dashboard: apps report facts, thresholds turn them into warnings and alerts
//! (once per break and once per recovery), opsdesk shows its own facts, bad reports are refused
//! with the field named.

use opsdesk_core::audit::Actor;
use opsdesk_core::auth::tokens::Scope;
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, spawn_with};
use crate::mail::drain;
use crate::on_both;
use crate::sla_timers::{posted, receiver};

on_both!(apps_report_facts_and_thresholds_warn_once);

async fn apps_report_facts_and_thresholds_warn_once(backend: Backend) {
    let (hook, got) = receiver().await;
    let app = spawn_with(backend, |_| {}).await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let chan =
        opsdesk_ops::alerts::service::create(&app.state.db, &Actor::cli(), "Ops", "webhook", &hook)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    let r = app
        .post_json_with_token(
            "/api/environment/thresholds",
            &token,
            &json!({"app": "shop-web", "rule": "php.memory_limit >= 256M", "channels": [chan.id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post_json_with_token(
            "/api/environment/thresholds",
            &token,
            &json!({"app": "*", "rule": "api.llm.reachable == true"}),
        )
        .await;
    assert_eq!(r.status, 201);

    let report = |facts: serde_json::Value| {
        let (app, token) = (&app, &token);
        async move {
            app.post_json_with_token("/api/environment/shop-web", token, &facts)
                .await
        }
    };
    let r = report(json!({"php": {"memory_limit": "128M"}, "cpu.count": 4, "api.llm.reachable": true, "app.version": "2.4.1"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["facts"], 4);
    assert_eq!(
        v["broken"],
        json!(["php.memory_limit is 128M, wants >= 256M"])
    );
    // Still broken on the next report: no second alert.
    report(json!({"php.memory_limit": "128M"})).await;
    drain(&app).await;
    let posts = posted(&got, 1).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["event"], "check.down");
    assert!(
        posts[0]["check"]["name"]
            .as_str()
            .is_some_and(|n| n.contains("shop-web: php.memory_limit >= 256M"))
    );

    let dash = app.get_with_token("/api/environment", &token).await.json();
    assert_eq!(dash[0]["app"], "opsdesk", "opsdesk's own facts come first");
    let own: Vec<&str> = dash[0]["facts"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["key"].as_str()).collect())
        .unwrap_or_default();
    for k in [
        "app.version",
        "database.size_bytes",
        "jobs.queued",
        "jobs.lag_ms",
        "process.memory_rss_bytes",
        "process.uptime_s",
    ] {
        assert!(own.contains(&k), "{k} in {own:?}");
    }
    assert_eq!(
        (dash[1]["app"].clone(), dash[1]["warning"].clone()),
        (json!("shop-web"), json!(true))
    );
    let mem = dash[1]["facts"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["key"] == "php.memory_limit"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        mem["broken"],
        json!(["php.memory_limit is 128M, wants >= 256M"])
    );

    // Fixed: the recovery is announced once, and the warning clears.
    let r = report(json!({"php.memory_limit": "512M"})).await;
    assert_eq!(r.json()["broken"], json!([]));
    drain(&app).await;
    let posts = posted(&got, 2).await;
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1]["event"], "check.up");
    let dash = app.get_with_token("/api/environment", &token).await.json();
    assert_eq!(dash[1]["warning"], false);

    // Another app breaks the every-app threshold by not being reachable.
    let r = app
        .post_json_with_token(
            "/api/environment/worker",
            &token,
            &json!({"api.llm.reachable": false}),
        )
        .await;
    assert_eq!(
        r.json()["broken"],
        json!(["api.llm.reachable is false, wants == true"])
    );

    // Bad reports, each named.
    for (path, body, field) in [
        (
            "/api/environment/shop-web",
            json!({"regions": ["eu", "us"]}),
            "regions",
        ),
        (
            "/api/environment/shop-web",
            json!({"note": "x".repeat(2_000)}),
            "note",
        ),
        (
            "/api/environment/shop-web",
            json!({"bad key!": 1}),
            "bad key!",
        ),
        ("/api/environment/bad%20app", json!({"a": 1}), "app"),
        (
            "/api/environment/thresholds",
            json!({"app": "x", "rule": "memory >= lots"}),
            "rule",
        ),
        (
            "/api/environment/thresholds",
            json!({"app": "x", "rule": "a == 1", "channels": ["nope"]}),
            "channels",
        ),
    ] {
        let r = app.post_json_with_token(path, &token, &body).await;
        assert_eq!(r.status, 422, "{path} {body} → {}", r.text);
        assert!(
            r.json()["error"]["fields"].get(field).is_some(),
            "{path} → {}",
            r.text
        );
    }
    let r = app
        .post_json_with_token("/api/environment/shop-web", &token, &json!([1, 2]))
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text);

    // The page shows it all, escaped.
    report(json!({"app.name": "<b>Shop</b>"})).await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app.get_page("/environment").await;
    assert_eq!(page.status, 200);
    for want in [
        "shop-web",
        "php.memory_limit",
        "512M",
        "worker",
        "api.llm.reachable is false, wants == true",
        "&#60;b&#62;Shop&#60;/b&#62;",
        "database.size_bytes",
    ] {
        assert!(page.text.contains(want), "{want} missing");
    }
}
