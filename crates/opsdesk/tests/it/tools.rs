//! Checks with the real tools our users run against us: `promtool check metrics` on /metrics,
//! `fail2ban-regex` with the shipped filter on the server's own auth log, and `schemathesis`
//! fuzzing the API against /api/openapi.json.

use std::process::Command;

use opsdesk_core::auth::tokens::Scope;
use serde_json::json;

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, fresh_database, new_client, read, required_env,
    spawn_with,
};
use crate::on_both;
use crate::procs::Server;

on_both!(
    metrics_pass_promtool,
    fail2ban_bans_exactly_the_failing_addresses,
    schemathesis_finds_no_errors_or_schema_violations
);

async fn metrics_pass_promtool(backend: Backend) {
    let app = spawn_with(backend, |_| {}).await;
    app.setup().await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.get("/api/me").await;
    app.get("/api/nope").await;
    app.login(ADMIN_EMAIL, "wrong password").await;
    // Monitoring's metrics too: a heartbeat check pinged, a monitor run.
    let db = &app.state.db;
    let actor = opsdesk_core::audit::Actor::cli();
    // Gauges are process-wide and other tests' apps publish theirs: this check's name is its own.
    let tag = crate::mail::unique("n");
    let input = opsdesk_ops::heartbeats::service::CheckInput {
        name: Some(format!("Nightly \"backup\" {tag}")),
        ..Default::default()
    };
    let (check, _) = opsdesk_ops::heartbeats::service::create(db, &actor, &input)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    app.get(&format!("/ping/{}", check.id)).await;
    let monitor = opsdesk_ops::uptime::service::create(
        db,
        &actor,
        &opsdesk_ops::uptime::service::MonitorInput {
            name: Some("Own health".into()),
            url: Some(app.url("/api/health")),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let clients = opsdesk_ops::uptime::runner::Clients::new(
        opsdesk_ops::target_policy(&app.state.config).unwrap_or_else(|e| panic!("{e}")),
    );
    opsdesk_ops::uptime::scheduler::run_one(
        db,
        &clients,
        &monitor.id,
        opsdesk_core::clock::now_ms(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    opsdesk_ops::heartbeats::sweep::publish_metrics(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = app.get("/metrics").await;
    assert_eq!(r.status, 200);
    let own_check = format!("opsdesk_heartbeat_up{{check=\"nightly-backup-{tag}\"}} 1");
    for name in [
        "opsdesk_http_requests_total{",
        "opsdesk_http_request_duration_seconds_bucket{",
        "opsdesk_jobs_queued ",
        "opsdesk_db_pool_connections{",
        "opsdesk_leader ",
        "# HELP opsdesk_http_requests_total",
        "opsdesk_pings_total",
        "opsdesk_heartbeats{status=\"up\"} ",
        own_check.as_str(),
        "opsdesk_check_up{check=\"Own health\"} 1",
        "opsdesk_check_response_seconds{check=\"Own health\"}",
        "opsdesk_check_drift_seconds_bucket",
    ] {
        assert!(r.text.contains(name), "{name} missing from:\n{}", r.text);
    }
    assert!(
        r.text.contains("route=\"/api/me\"") && r.text.contains("route=\"unmatched\""),
        "routes, not raw paths, label requests"
    );
    let file = app.data_dir().join("metrics.txt");
    std::fs::write(&file, &r.text).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(required_env("OPSDESK_TEST_PROMTOOL"))
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap_or_else(|e| panic!("{e}")))
        .output()
        .unwrap_or_else(|e| panic!("running promtool: {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics found problems:\n{said}"
    );
}

async fn fail2ban_bans_exactly_the_failing_addresses(backend: Backend) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = fresh_database(backend, dir.path()).await;
    let server = Server::start(
        dir.path(),
        &url,
        &[("OPSDESK_TRUSTED_PROXIES", "127.0.0.1")],
    )
    .await;
    let c = new_client();
    let setup = read(c.post(format!("{}/api/setup", server.base)).json(&json!({
        "brand_name": "Acme", "support_email": "s@example.com", "timezone": "UTC",
        "admin_name": "Ada", "admin_email": ADMIN_EMAIL, "admin_password": ADMIN_PASSWORD,
    })))
    .await;
    assert_eq!(setup.status, 201, "{}", setup.text);
    let login = |ip: &'static str, user: &'static str| {
        read(
            c.post(format!("{}/login", server.base))
                .header("x-forwarded-for", ip)
                .form(&[("email", user), ("password", "not the password")]),
        )
    };
    for _ in 0..3 {
        assert_eq!(login("203.0.113.7", ADMIN_EMAIL).await.status, 401);
    }
    assert_eq!(login("2001:db8::1", "nobody@example.com").await.status, 401);
    assert_eq!(
        login("198.51.100.9", "x\" client_ip=6.6.6.6 reason=x")
            .await
            .status,
        401
    );
    let token = read(
        c.get(format!("{}/api/me", server.base))
            .header("x-forwarded-for", "192.0.2.44")
            .bearer_auth("odt_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    )
    .await;
    assert_eq!(token.status, 401);
    let ok = read(
        c.post(format!("{}/login", server.base))
            .header("x-forwarded-for", "192.0.2.200")
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]),
    )
    .await;
    assert_eq!(ok.status, 303, "a good login is not a failure");

    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/fail2ban/filter.d/opsdesk.conf"
    );
    let log = dir.path().join("auth.log");
    let out = Command::new(required_env("OPSDESK_TEST_FAIL2BAN_REGEX"))
        .args(["-o", "ip"])
        .arg(&log)
        .arg(filter)
        .output()
        .unwrap_or_else(|e| panic!("running fail2ban-regex: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ips: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    ips.sort();
    assert_eq!(
        ips,
        vec![
            "192.0.2.44",
            "198.51.100.9",
            "2001:db8::1",
            "203.0.113.7",
            "203.0.113.7",
            "203.0.113.7"
        ],
        "auth log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

async fn schemathesis_finds_no_errors_or_schema_violations(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.limits.api_per_second = 100_000;
        c.limits.forms_per_minute = 100_000;
        c.limits.login_per_minute = 100_000;
    })
    .await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    app.add_user("agent@example.com", "agent", "").await;
    let out = Command::new(required_env("OPSDESK_TEST_SCHEMATHESIS"))
        .arg("run")
        .arg(app.url("/api/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["--max-examples", "25", "--seed", "1", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(app.data_dir())
        .output()
        .unwrap_or_else(|e| panic!("running schemathesis: {e}"));
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}"
    );
    // Every documented operation was exercised, and nothing failed.
    let number_after = |label: &str| -> usize {
        report
            .split(label)
            .nth(1)
            .and_then(|rest| {
                rest.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let tested = number_after("Tested:");
    assert!(
        tested >= 14 && report.contains(&format!("Selected: {tested}/{tested}")),
        "not every operation was tested:\n{report}"
    );
    // "N failed" counts and the FAILURES/ERRORS sections are defects; warnings are not (for
    // example "Authentication failed" when the run demoted its own admin through the API).
    let counted_failure = report
        .match_indices(" failed")
        .any(|(i, _)| report[..i].ends_with(|c: char| c.is_ascii_digit()));
    assert!(
        !counted_failure && !report.contains("= FAILURES =") && !report.contains("= ERRORS ="),
        "{report}"
    );
}
