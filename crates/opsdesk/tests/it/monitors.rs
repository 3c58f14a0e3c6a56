//! HTTP and multi-step monitors against local targets that answer slowly, fail, redirect (once
//! and in a loop), speak TLS with a self-signed certificate and hold a login flow with cookies
//! and a token; the scheduler claims and runs due monitors; a failing monitor tells its channel.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use opsdesk_core::audit::Actor;
use opsdesk_core::auth::tokens::Scope;
use opsdesk_ops::uptime::runner::Clients;
use opsdesk_ops::uptime::{scheduler, store};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, spawn_with};
use crate::on_both;
use crate::sla_timers::{posted, receiver};

on_both!(
    names_resolving_to_denied_networks_are_not_reached,
    monitors_judge_answers_by_their_conditions,
    flows_carry_cookies_and_captured_tokens,
    the_scheduler_runs_due_monitors_and_alerts_on_failure,
    a_monitor_runs_once_from_the_command_line
);

async fn target_app() -> Router {
    Router::new()
        .route(
            "/ok",
            get(|| async { axum::Json(json!({"status": "UP", "items": [1, 2, 3]})) }),
        )
        .route("/text", get(|| async { "all systems ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1_500)).await;
                "late"
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance") }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/ok") }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/to-metadata",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }),
        )
        .route(
            "/login",
            post(|body: String| async move {
                if body.contains("\"user\":\"probe\"") {
                    (
                        [(header::SET_COOKIE, "sid=s3cr3t; Path=/; HttpOnly")],
                        axum::Json(json!({"token": "t-123"})),
                    )
                        .into_response()
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }),
        )
        .route(
            "/api/me",
            get(|headers: HeaderMap| async move {
                let cookie = headers
                    .get(header::COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if cookie.contains("sid=s3cr3t") && auth == "Bearer t-123" {
                    axum::Json(json!({"user": "ada"})).into_response()
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"error": "who are you"})),
                    )
                        .into_response()
                }
            }),
        )
        .fallback(|r: Request| async move { (StatusCode::NOT_FOUND, r.uri().to_string()) })
}

/// A plain HTTP target; returns its base URL.
async fn http_target() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = target_app().await;
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

/// TLS in front of the target, with a certificate made here (self-signed, 10 days left).
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((s, a)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(s).await {
                return (tls, a);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn tls_target() -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap_or_else(|e| panic!("{e}"));
    let now = jiff::Timestamp::now();
    let in_ten_days = now
        .checked_add(jiff::SignedDuration::from_hours(240))
        .unwrap_or(now);
    let d = in_ten_days.to_zoned(jiff::tz::TimeZone::UTC).date();
    params.not_after = rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8);
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = tcp.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    let app = target_app().await;
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("https://localhost:{port}")
}

struct Ops {
    app: TestApp,
    token: String,
    clients: Clients,
}

async fn ops(backend: Backend) -> Ops {
    let app = spawn_with(backend, |c| {
        // 127.0.0.2 stands for a network the team keeps monitors off.
        c.monitoring.denied_targets.push("127.0.0.2/32".into());
        // The tests run monitors themselves; the app's own scheduler would race them.
        c.monitoring.schedule = false;
    })
    .await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let clients = Clients::new(
        opsdesk_ops::target_policy(&app.state.config).unwrap_or_else(|e| panic!("{e}")),
    );
    Ops {
        app,
        token,
        clients,
    }
}

impl Ops {
    async fn create(&self, body: Value) -> String {
        let r = self
            .app
            .post_json_with_token("/api/monitors", &self.token, &body)
            .await;
        assert_eq!(r.status, 201, "{body} → {}", r.text);
        r.json()["id"].as_str().unwrap_or_default().to_string()
    }

    /// Runs a monitor now; returns (ok, failed step, error).
    async fn run(&self, id: &str) -> (bool, Option<String>, String) {
        let r = scheduler::run_one(
            &self.app.state.db,
            &self.clients,
            id,
            opsdesk_core::clock::now_ms(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("no monitor {id}"));
        (r.ok, r.failed_step, r.error.unwrap_or_default())
    }

    async fn get(&self, id: &str) -> Value {
        let r = self
            .app
            .get_with_token(&format!("/api/monitors/{id}"), &self.token)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }
}

async fn monitors_judge_answers_by_their_conditions(backend: Backend) {
    let o = ops(backend).await;
    let base = http_target().await;
    let tls = tls_target().await;
    let mon = |name: &str, url: String, extra: Value| {
        let mut v = json!({"name": name, "url": url, "interval": 30});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    let healthy = o
        .create(mon("API", format!("{base}/ok"), json!({"conditions": ["[STATUS] == 200", "[BODY].status == UP", "len([BODY].items) > 0", "[RESPONSE_TIME] < 1000"]})))
        .await;
    assert_eq!(o.run(&healthy).await, (true, None, String::new()));
    let v = o.get(&healthy).await;
    assert_eq!(
        (v["status"].clone(), v["uptime"]["h24"].clone()),
        (json!("up"), json!(100.0))
    );

    let text = o
        .create(mon(
            "Text",
            format!("{base}/text"),
            json!({"conditions": ["[BODY] == pat(*ok*)"]}),
        ))
        .await;
    assert!(o.run(&text).await.0);

    let failing = o
        .create(mon(
            "Failing",
            format!("{base}/fail"),
            json!({"conditions": ["[STATUS] == 200"], "failure_threshold": 2}),
        ))
        .await;
    let (ok, step, error) = o.run(&failing).await;
    assert!(!ok);
    assert_eq!(step.as_deref(), Some("step 1"));
    assert!(error.contains("[STATUS] (503) == 200"), "{error}");
    assert_eq!(
        o.get(&failing).await["status"],
        "new",
        "one failure is below the threshold"
    );
    o.run(&failing).await;
    assert_eq!(o.get(&failing).await["status"], "down");

    let slow = o
        .create(mon(
            "Slow",
            format!("{base}/slow"),
            json!({"timeout_ms": 300}),
        ))
        .await;
    let (ok, _, error) = o.run(&slow).await;
    assert!(!ok && error.contains("timed out"), "{error}");

    let moved = o
        .create(mon(
            "Moved",
            format!("{base}/moved"),
            json!({"conditions": ["[STATUS] == 200"]}),
        ))
        .await;
    assert!(o.run(&moved).await.0, "redirects are followed");
    let seen = o
        .create(mon(
            "Moved, not followed",
            format!("{base}/moved"),
            json!({"follow_redirects": false, "conditions": ["[STATUS] == 307"]}),
        ))
        .await;
    assert!(o.run(&seen).await.0);
    let looping = o
        .create(mon("Loop", format!("{base}/loop"), json!({})))
        .await;
    let (ok, _, error) = o.run(&looping).await;
    assert!(!ok && error.contains("too many redirects"), "{error}");

    // TLS: a self-signed certificate fails unless accepted; its expiry is read.
    let strict = o.create(mon("TLS", format!("{tls}/ok"), json!({}))).await;
    let (ok, _, error) = o.run(&strict).await;
    assert!(!ok && error.contains("could not connect"), "{error}");
    let lenient = o
        .create(mon("TLS accepted", format!("{tls}/ok"), json!({"insecure": true, "conditions": ["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"]})))
        .await;
    assert_eq!(o.run(&lenient).await, (true, None, String::new()));
    let expiring = o
        .create(mon(
            "TLS renewal",
            format!("{tls}/ok"),
            json!({"insecure": true, "conditions": ["[CERTIFICATE_EXPIRATION] > 30d"]}),
        ))
        .await;
    let (ok, _, error) = o.run(&expiring).await;
    assert!(!ok && error.contains("[CERTIFICATE_EXPIRATION]"), "{error}");

    // Targets outside the allowed networks are not reached.
    let port = base.rsplit(':').next().unwrap_or_default();
    let fenced = o
        .create(mon(
            "Fenced",
            format!("http://127.0.0.2:{port}/ok"),
            json!({}),
        ))
        .await;
    let (ok, _, error) = o.run(&fenced).await;
    assert!(!ok && error.contains("denied_targets"), "{error}");
    let meta = o
        .create(mon(
            "Metadata",
            "http://169.254.169.254/latest/meta-data/".into(),
            json!({}),
        ))
        .await;
    let (ok, _, error) = o.run(&meta).await;
    assert!(!ok && error.contains("denied_targets"), "{error}");

    let bounced = o
        .create(mon("Bounced", format!("{base}/to-metadata"), json!({})))
        .await;
    let (ok, _, error) = o.run(&bounced).await;
    assert!(
        !ok && error.contains("redirect refused") && error.contains("denied_targets"),
        "{error}"
    );

    // Credentials in a URL stay out of the audit log.
    o.create(mon(
        "With secret",
        format!("http://probe:hunter2@127.0.0.1:{port}/ok?token=abc123"),
        json!({}),
    ))
    .await;
    let summaries: Vec<String> =
        sqlx::query_scalar("SELECT summary FROM audit_log WHERE action = 'monitor.create'")
            .fetch_all(o.app.state.db.read())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(summaries.iter().any(|s| s.contains("name=With secret")));
    assert!(
        summaries
            .iter()
            .all(|s| !s.contains("hunter2") && !s.contains("abc123")),
        "{summaries:?}"
    );

    // Bad input, each named.
    for (body, field) in [
        (
            json!({"name": "x", "url": "ftp://example.com/"}),
            "steps[0].url",
        ),
        (
            json!({"name": "x", "url": "http://example.com/", "conditions": ["[STATUS] 200"]}),
            "steps[0].conditions[0]",
        ),
        (
            json!({"name": "x", "url": "http://example.com/", "interval": 5}),
            "interval",
        ),
        (
            json!({"name": "x", "url": "http://example.com/", "method": "BREW"}),
            "steps[0].method",
        ),
        (json!({"name": "x"}), "url"),
        (
            json!({"name": "x", "url": "http://example.com/", "channels": ["nope"]}),
            "channels",
        ),
    ] {
        let r = o
            .app
            .post_json_with_token("/api/monitors", &o.token, &body)
            .await;
        assert_eq!(r.status, 422, "{body} → {}", r.text);
        assert!(
            r.json()["error"]["fields"].get(field).is_some(),
            "{body} → {}",
            r.text
        );
    }
    let r = o
        .app
        .get_with_token("/api/monitors/not-an-id", &o.token)
        .await;
    assert_eq!(r.status, 404);
    let r = o
        .app
        .get_with_token(
            &format!("/api/monitors/{failing}/results?limit=5"),
            &o.token,
        )
        .await;
    let runs = r.json();
    assert_eq!(runs.as_array().map(Vec::len), Some(2));
    assert_eq!(runs[0]["failed_step"], "step 1");

    // With `[monitoring] schedule = false` a due monitor waits to be asked: resuming makes it due
    // now, and the scheduler (ticking every 200 ms when on) leaves it alone.
    for action in ["pause", "resume"] {
        let r = o
            .app
            .post_json_with_token(
                &format!("/api/monitors/{failing}/{action}"),
                &o.token,
                &json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{action}: {}", r.text);
    }
    let due = o.get(&failing).await["next_run"]
        .as_i64()
        .unwrap_or(i64::MAX);
    assert!(due <= opsdesk_core::clock::now_ms());
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let r = o
        .app
        .get_with_token(&format!("/api/monitors/{failing}/results"), &o.token)
        .await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(2), "not run");
}

async fn flows_carry_cookies_and_captured_tokens(backend: Backend) {
    let o = ops(backend).await;
    let base = http_target().await;
    let flow = |user: &str| {
        json!({
            "name": format!("Verify auth as {user}"),
            "interval": 60,
            "steps": [
                {"name": "login", "method": "POST", "url": format!("{base}/login"),
                 "headers": {"Content-Type": "application/json"}, "body": format!("{{\"user\":\"{user}\"}}"),
                 "conditions": ["[STATUS] == 200"], "capture": {"token": "[BODY].token"}},
                {"name": "me", "url": format!("{base}/api/me"),
                 "headers": {"Authorization": "Bearer {{token}}"},
                 "conditions": ["[STATUS] == 200", "[BODY].user == ada"]}
            ]
        })
    };
    let good = o.create(flow("probe")).await;
    assert_eq!(o.run(&good).await, (true, None, String::new()));
    let bad = o.create(flow("nobody")).await;
    let (ok, step, error) = o.run(&bad).await;
    assert!(!ok);
    assert_eq!(
        step.as_deref(),
        Some("login"),
        "the flow stops at the failing step"
    );
    assert!(error.contains("[STATUS] (401) == 200"), "{error}");

    // A later step's failure names that step.
    let wrong_token = json!({
        "name": "Token not passed",
        "steps": [
            {"name": "login", "method": "POST", "url": format!("{base}/login"), "body": "{\"user\":\"probe\"}"},
            {"name": "me", "url": format!("{base}/api/me"), "conditions": ["[STATUS] == 200"]}
        ]
    });
    let id = o.create(wrong_token).await;
    let (ok, step, error) = o.run(&id).await;
    assert!(
        !ok && step.as_deref() == Some("me") && error.contains("(401)"),
        "{step:?} {error}"
    );
}

async fn the_scheduler_runs_due_monitors_and_alerts_on_failure(backend: Backend) {
    let (hook, got) = receiver().await;
    let o = ops(backend).await;
    let db = &o.app.state.db;
    let chan = opsdesk_ops::alerts::service::create(db, &Actor::cli(), "Hook", "webhook", &hook)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let base = http_target().await;
    let ids: Vec<String> = futures::future::join_all((0..5).map(|i| {
        let url = if i == 0 { format!("{base}/fail") } else { format!("{base}/ok") };
        o.create(json!({"name": format!("svc {i}"), "url": url, "interval": 10, "channels": [chan.id.clone()]}))
    }))
    .await;
    // New monitors are spread over their interval.
    let firsts: Vec<i64> = futures::future::join_all(ids.iter().map(|id| o.get(id)))
        .await
        .iter()
        .filter_map(|v| v["next_run"].as_i64())
        .collect();
    assert_eq!(firsts.len(), 5);
    let now = opsdesk_core::clock::now_ms();
    assert!(
        firsts
            .iter()
            .all(|t| *t >= now - 5_000 && *t <= now + 10_000),
        "{firsts:?}"
    );

    // Everything due in 11 s: one tick claims all five once; a second tick finds none due.
    let clients = Arc::new(Clients::new(
        opsdesk_ops::target_policy(&o.app.state.config).unwrap_or_else(|e| panic!("{e}")),
    ));
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let at = now + 11_000;
    assert_eq!(
        scheduler::tick(db, &clients, &permits, at)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        5
    );
    assert_eq!(
        scheduler::tick(db, &clients, &permits, at)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        0
    );
    let mut all_ran = false;
    for _ in 0..400 {
        let done = futures::future::join_all(ids.iter().map(|id| store::results(db, id, 1))).await;
        if done.iter().all(|r| r.as_ref().is_ok_and(|v| !v.is_empty())) {
            all_ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(all_ran, "the five claimed runs finished within 20 s");
    let v = o.get(&ids[0]).await;
    assert_eq!(v["status"], "down");
    assert!(
        v["next_run"].as_i64().is_some_and(|t| t > at),
        "moved to its next time: {v}"
    );
    assert_eq!(o.get(&ids[1]).await["status"], "up");
    crate::mail::drain(&o.app).await;
    let posts = posted(&got, 1).await;
    assert_eq!(posts.len(), 1, "only the failing one alerts: {posts:?}");
    assert_eq!(posts[0]["event"], "check.down");
    assert_eq!(posts[0]["check"]["name"], "svc 0");

    // Paused monitors are not run.
    let r = o
        .app
        .post_json_with_token(
            &format!("/api/monitors/{}/pause", ids[1]),
            &o.token,
            &json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("paused"))
    );
    assert!(o.get(&ids[1]).await["next_run"].is_null());

    // The pages list them with uptime and show why a run failed.
    o.app
        .login(ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let list = o.app.get_page("/monitors").await;
    assert_eq!(list.status, 200);
    assert!(
        list.text.contains("svc 0") && list.text.contains("100.00 %"),
        "uptime shows"
    );
    let page = o.app.get_page(&format!("/monitors/{}", ids[0])).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("[STATUS] (503) &#60; 400") || page.text.contains("(503)"),
        "the failure is explained"
    );
    assert!(page.text.contains("Response times"));
    assert!(
        page.text.contains("Alerts sent") && page.text.contains("Hook"),
        "the alert and its delivery show"
    );
    let r = o
        .app
        .post_form(
            "/monitors",
            &[
                ("name", "Form-made"),
                ("url", "gopher://x"),
                ("method", "GET"),
                ("interval", "60"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("steps[0].url"), "{}", r.text);
    let r = o
        .app
        .post_form(
            "/monitors",
            &[
                ("name", "Form-made"),
                ("url", &format!("{base}/ok")),
                ("method", "GET"),
                ("conditions", "[STATUS] == 200"),
                ("interval", "60"),
                ("follow_redirects", "on"),
                ("channel", &chan.id),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let made = r.location().trim_start_matches("/monitors/").to_string();
    assert_eq!(
        o.get(&made).await["channels"],
        json!([chan.id]),
        "channels chosen in the form"
    );
    let page = o.app.get_page(&format!("/monitors/{made}")).await;
    assert!(
        page.text
            .contains(&format!("value=\"{}\" checked", chan.id)),
        "the form shows them"
    );

    // In a real browser: the list with uptime and sparklines, a failing monitor's page with its
    // response-time chart and the reason of each failed run.
    let c = crate::browser::browser().await;
    let mut shots = crate::browser::Shots {
        dir: std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/screenshots"
        )),
        prefix: if backend == Backend::Sqlite {
            "sqlite-monitors"
        } else {
            "postgres-monitors"
        },
        n: 0,
    };
    c.goto(&o.app.url("/login?next=/monitors"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    crate::browser::fill(&c, "input[name=email]", ADMIN_EMAIL).await;
    crate::browser::fill(&c, "input[name=password]", crate::helpers::ADMIN_PASSWORD).await;
    crate::browser::click(&c, "form[action='/login'] button[type=submit]").await;
    crate::browser::wait_path(&c, "/monitors").await;
    let rows = c
        .find_all(fantoccini::Locator::Css("table.monitors tbody tr"))
        .await
        .unwrap_or_default();
    assert_eq!(rows.len(), 6, "five from the API and one from the form");
    shots.take(&c, "list").await;
    c.goto(&o.app.url(&format!("/monitors/{}", ids[0])))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    crate::browser::wait_path(&c, &format!("/monitors/{}", ids[0])).await;
    let failed = c
        .find_all(fantoccini::Locator::Css("tr.run-failed"))
        .await
        .unwrap_or_default();
    assert_eq!(failed.len(), 1);
    assert!(crate::browser::text(&c).await.contains("(503)"));
    shots.take(&c, "monitor").await;
    let _ = c.close().await;
}

async fn names_resolving_to_denied_networks_are_not_reached(backend: Backend) {
    let app = spawn_with(backend, |c| {
        c.monitoring.denied_targets = vec!["127.0.0.0/8".into(), "::1/128".into()];
    })
    .await;
    app.setup().await;
    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let base = http_target().await;
    let port = base.rsplit(':').next().unwrap_or_default().to_string();
    let r = app
        .post_json_with_token(
            "/api/monitors",
            &token,
            &json!({"name": "By name", "url": format!("http://localhost:{port}/ok")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap_or_default().to_string();
    let clients = Clients::new(
        opsdesk_ops::target_policy(&app.state.config).unwrap_or_else(|e| panic!("{e}")),
    );
    let run = scheduler::run_one(&app.state.db, &clients, &id, opsdesk_core::clock::now_ms())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("no run"));
    let error = run.error.unwrap_or_default();
    assert!(
        !run.ok && error.contains("denied_targets"),
        "the name resolved to a denied address: {error}"
    );
}

/// `opsdesk monitors run` (the runbook's "verify auth" action): every step printed, the result
/// recorded, exit 1 when it fails.
async fn a_monitor_runs_once_from_the_command_line(backend: Backend) {
    let o = ops(backend).await;
    let base = http_target().await;
    let good = o
        .create(json!({"name": "Auth flow", "url": format!("{base}/ok"), "conditions": ["[STATUS] == 200"]}))
        .await;
    o.create(
        json!({"name": "Broken", "url": format!("{base}/fail"), "conditions": ["[STATUS] == 200"]}),
    )
    .await;
    let url = o
        .app
        .state
        .config
        .database_url
        .clone()
        .unwrap_or_else(|| panic!("no url"));
    let dir = o.app.data_dir();
    let run = move |args: Vec<&'static str>| {
        let (dir, url) = (dir.clone(), url.clone());
        tokio::task::spawn_blocking(move || crate::procs::opsdesk(&dir, &url, &args, None))
    };
    let out = run(vec!["monitors", "run", "Auth flow"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("✓") && stdout.contains("Auth flow: passed"),
        "{stdout}"
    );
    let out = run(vec!["monitors", "run", "Broken", "--json"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["steps"][0]["status"], 503, "{v}");
    let out = run(vec!["monitors", "run", "nope"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no monitor has the id or name"));
    let v = o.get(&good).await;
    assert_eq!(v["status"], "up", "the run was recorded: {v}");
}
