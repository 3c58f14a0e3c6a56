//! Heartbeat checks with the clients people point at Healthchecks.io: `curl` for every ping
//! form, the Python `healthchecks-io` library for the management API, the Rust `healthchecks`
//! crate's ping client; and a check going down and up again telling its channels once each.

use std::process::Command;

use opsdesk_core::audit::Actor;
use opsdesk_ops::heartbeats::keys::{self, Scope};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, read, required_env, spawn_with};
use crate::mail::{drain, inbox_of, unique};
use crate::on_both;
use crate::sla_timers::{posted, receiver};

on_both!(
    every_ping_form_answers_as_healthchecks_does,
    the_python_client_manages_checks,
    the_rust_ping_client_reports_runs,
    a_check_that_goes_quiet_goes_down_and_tells_its_channels_once
);

/// A set-up desk with a read-write and a read-only API key and the ping key.
pub struct Monitored {
    pub app: TestApp,
    pub write: String,
    pub read: String,
    pub ping_key: String,
}

pub async fn monitored(app: TestApp) -> Monitored {
    app.setup().await;
    let db = &app.state.db;
    let (_, write) = keys::create(db, &Actor::cli(), "ci", Scope::Write)
        .await
        .unwrap_or_else(|e| panic!("key: {e:?}"));
    let (_, read) = keys::create(db, &Actor::cli(), "dashboard", Scope::Read)
        .await
        .unwrap_or_else(|e| panic!("key: {e:?}"));
    let ping_key = keys::ping_key(db)
        .await
        .unwrap_or_else(|e| panic!("ping key: {e:?}"));
    Monitored {
        app,
        write,
        read,
        ping_key,
    }
}

impl Monitored {
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .app
            .client
            .request(method, self.app.url(path))
            .header("x-api-key", &self.write);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = read(r).await;
        (
            r.status,
            serde_json::from_str(&r.text).unwrap_or(Value::Null),
        )
    }

    pub async fn create(&self, body: Value) -> Value {
        let (status, v) = self
            .api(reqwest::Method::POST, "/api/v3/checks/", Some(body))
            .await;
        assert_eq!(status, 201, "{v}");
        v
    }

    pub async fn check(&self, uuid: &str) -> Value {
        let (status, v) = self
            .api(
                reqwest::Method::GET,
                &format!("/api/v3/checks/{uuid}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

/// Runs curl; returns (status, headers text, body).
fn curl(args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--max-time",
            "10",
            // No `100 Continue` before the answer on large bodies.
            "-H",
            "Expect:",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("curl: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (rest, code) = text.rsplit_once('\n').unwrap_or_default();
    let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (
        code.trim().parse().unwrap_or(0),
        head.to_lowercase(),
        body.to_string(),
    )
}

async fn every_ping_form_answers_as_healthchecks_does(backend: Backend) {
    let m = monitored(spawn_with(backend, |c| c.monitoring.ping_body_limit = 1_000).await).await;
    let check = m
        .create(json!({"name": "Backups", "slug": "backups", "timeout": 3600, "grace": 600}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    let ping = m.app.url(&format!("/ping/{uuid}"));

    // Plain success, with the headers Healthchecks.io sends.
    let (code, head, body) = curl(&[&ping]);
    assert_eq!((code, body.as_str()), (200, "OK"));
    assert!(head.contains("ping-body-limit: 1000"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert_eq!(m.check(&uuid).await["status"], "up");

    // Start with a run id, then its end: the run is measured.
    let rid = uuid::Uuid::new_v4().to_string();
    assert_eq!(curl(&[&format!("{ping}/start?rid={rid}")]).2, "OK");
    assert_eq!(m.check(&uuid).await["status"], "started");
    assert_eq!(
        curl(&[
            "-X",
            "POST",
            "--data-raw",
            "all done",
            &format!("{ping}?rid={rid}")
        ])
        .2,
        "OK"
    );
    // HEAD counts too; /log records without changing the status.
    assert_eq!(curl(&["-I", &ping]).0, 200);
    assert_eq!(
        curl(&["--data-raw", "just a note", &format!("{ping}/log")]).0,
        200
    );
    // Exit statuses: 0 is success, 1–255 failure, 256 not a URL.
    assert_eq!(curl(&[&format!("{ping}/0")]).0, 200);
    assert_eq!(curl(&[&format!("{ping}/3")]).0, 200);
    assert_eq!(m.check(&uuid).await["status"], "down");
    let (code, _, body) = curl(&[&format!("{ping}/256")]);
    assert_eq!((code, body.as_str()), (400, "invalid url format"));
    assert_eq!(curl(&[&format!("{ping}/fail")]).0, 200);
    assert_eq!(
        curl(&[&format!("{ping}?rid=not-a-uuid")]).2,
        "invalid uuid format"
    );
    // A huge body is cut to the limit, never refused.
    let big = "x".repeat(3_000_000);
    let body_file = m.app.dir.path().join("big.txt");
    std::fs::write(&body_file, &big).unwrap_or_else(|e| panic!("{e}"));
    let (code, _, body) = curl(&["--data-binary", &format!("@{}", body_file.display()), &ping]);
    assert_eq!((code, body.as_str()), (200, "OK"));

    // Unknown and malformed checks.
    let other = uuid::Uuid::new_v4();
    assert_eq!(curl(&[&m.app.url(&format!("/ping/{other}"))]).0, 404);
    assert_eq!(
        curl(&[&m.app.url(&format!("/ping/{other}"))]).2,
        "not found"
    );
    assert_eq!(curl(&[&m.app.url("/ping/not-a-uuid")]).0, 404);
    assert_eq!(curl(&[&m.app.url(&format!("/ping/{uuid}/unknown"))]).0, 404);

    // Slug URLs with the ping key; ?create=1 makes a missing check.
    let key = &m.ping_key;
    assert_eq!(curl(&[&m.app.url(&format!("/ping/{key}/backups"))]).2, "OK");
    assert_eq!(
        curl(&[&m.app.url(&format!("/ping/{key}/backups/start"))]).0,
        200
    );
    assert_eq!(curl(&[&m.app.url("/ping/wrongkey/backups")]).0, 404);
    assert_eq!(curl(&[&m.app.url(&format!("/ping/{key}/new-job"))]).0, 404);
    let (code, _, body) = curl(&[&m.app.url(&format!("/ping/{key}/new-job?create=1"))]);
    assert_eq!((code, body.as_str()), (201, "Created"));
    assert_eq!(
        curl(&[&m.app.url(&format!("/ping/{key}/new-job?create=1"))]).0,
        200
    );
    m.create(json!({"name": "Backups again", "slug": "backups"}))
        .await;
    let (code, _, body) = curl(&[&m.app.url(&format!("/ping/{key}/backups"))]);
    assert_eq!((code, body.as_str()), (409, "ambiguous slug"));

    // The log, newest first, as the API lists it.
    let (status, pings) = m
        .api(
            reqwest::Method::GET,
            &format!("/api/v3/checks/{uuid}/pings/"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let list = pings["pings"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = list.iter().filter_map(|p| p["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "start", "success", "success", "fail", "fail", "success", "log", "success", "success",
            "start", "success"
        ],
        "{pings}"
    );
    let measured = list
        .iter()
        .find(|p| p["rid"] == rid.as_str() && p["type"] == "success");
    assert!(
        measured.is_some_and(|p| p["duration"].as_f64().is_some()),
        "{pings}"
    );
    let newest_body = list
        .iter()
        .find(|p| p["n"] == 9)
        .and_then(|p| p["body_url"].as_str())
        .unwrap_or_default()
        .to_string();
    let r = read(m.app.client.get(&newest_body).header("x-api-key", &m.write)).await;
    assert_eq!(
        r.text,
        "x".repeat(1_000),
        "the kept body is the limit's worth"
    );
    assert_eq!(
        list.iter()
            .find(|p| p["n"] == 9)
            .map(|p| p["method"].clone()),
        Some(json!("POST"))
    );
    let log = list
        .iter()
        .find(|p| p["type"] == "log")
        .cloned()
        .unwrap_or_default();
    let r = read(
        m.app
            .client
            .get(log["body_url"].as_str().unwrap_or_default())
            .header("x-api-key", &m.write),
    )
    .await;
    assert_eq!(r.text, "just a note");
    let heads: Vec<&Value> = list.iter().filter(|p| p["method"] == "HEAD").collect();
    assert_eq!(heads.len(), 1);

    // The log keeps the newest lines of each check; the count goes on.
    let gone = opsdesk_ops::heartbeats::store::prune_pings(&m.app.state.db, 4)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(gone >= 7, "{gone}");
    let (_, pings) = m
        .api(
            reqwest::Method::GET,
            &format!("/api/v3/checks/{uuid}/pings/"),
            None,
        )
        .await;
    let ns: Vec<i64> = pings["pings"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["n"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(ns, [11, 10, 9, 8]);
    assert_eq!(m.check(&uuid).await["n_pings"], 11);
}

async fn the_python_client_manages_checks(backend: Backend) {
    let m = monitored(spawn_with(backend, |_| {}).await).await;
    opsdesk_ops::alerts::service::create(
        &m.app.state.db,
        &Actor::cli(),
        "Ops mail",
        "email",
        "ops@example.com",
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let venv = required_env("OPSDESK_TEST_VENV");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/py/healthchecks_client.py"
    );
    let (addr, write, read_key, ping_key) = (
        m.app.addr.clone(),
        m.write.clone(),
        m.read.clone(),
        m.ping_key.clone(),
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new(format!("{venv}/bin/python"))
            .args([script, &addr, &write, &read_key, &ping_key])
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("python: {e}"));
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["created"]["slug"], "nightly-backup");
    assert_eq!(v["created"]["status"], "new");
    assert_eq!(
        (
            v["created"]["timeout"].clone(),
            v["created"]["grace"].clone()
        ),
        (json!(3600), json!(600))
    );
    assert_eq!(v["upsert_same_uuid"], true);
    assert_eq!(v["upsert_timeout"], 7200);
    for k in [
        "start_ping",
        "success_ping",
        "slug_ping",
        "exit_ping",
        "fail_ping",
    ] {
        assert_eq!(v[k], true, "{k}: {v}");
    }
    assert_eq!(v["unknown_ping"], "not found");
    assert_eq!(v["listed"], json!(["Hourly report", "Nightly backup"]));
    assert_eq!(v["tag_filter"], json!(["Nightly backup"]));
    assert_eq!(
        v["got"],
        json!({"status": "up", "n_pings": 3, "last_ping": true, "next_ping": true})
    );
    assert_eq!(v["cron_status"], "down");
    assert_eq!(v["updated_grace"], 900);
    assert_eq!(v["paused_status"], "paused");
    assert_eq!(v["ping_types"], json!(["success", "success", "start"]));
    assert_eq!(v["ping_numbers"], json!([3, 2, 1]));
    assert!(
        v["ping_durations"][1].as_f64().is_some(),
        "the start was measured: {v}"
    );
    assert_eq!(v["integrations"], json!(["email"]));
    assert_eq!(v["bad_cron"], "refused");
    assert_eq!(v["deleted_name"], "Hourly report");
    assert_eq!(v["after_delete"], "not found");
    assert_eq!(v["readonly_unique_keys"], true);
    assert!(
        v["readonly_uuids"]
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_null)),
        "read-only keys never see UUIDs: {v}"
    );
    assert_eq!(v["readonly_write"], "refused");
    assert_eq!(v["wrong_key"], "refused");

    // What the client cannot check: the flips format (its own parser is broken against the
    // real server too) and the API's answers to bad input.
    let checks = m
        .api(reqwest::Method::GET, "/api/v3/checks/?tag=prod", None)
        .await
        .1;
    let uuid = checks["checks"][0]["uuid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, flips) = m
        .api(
            reqwest::Method::GET,
            &format!("/api/v3/checks/{uuid}/flips/"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let ups: Vec<i64> = flips["flips"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["up"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(
        ups,
        [1],
        "new→up; the pause is not a flip to up or down: {flips}"
    );
    assert!(
        flips["flips"][0]["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with("+00:00"))
    );
    let bad = [
        (json!({"name": "x", "timeout": 10}), "timeout"),
        (json!({"name": "x", "schedule": "* * *"}), "five fields"),
        (
            json!({"name": "x", "schedule": "0 9 * * *", "tz": "Mars/Base"}),
            "time zone",
        ),
        (
            json!({"name": "x", "timeout": "soon"}),
            "json validation error",
        ),
        (json!({"name": "x", "methods": "PUT"}), "methods"),
        (
            json!({"name": "x", "channels": "no-such-channel"}),
            "channel",
        ),
        (json!({"name": "x", "unique": ["desc"]}), "unique"),
    ];
    for (body, word) in bad {
        let (status, v) = m
            .api(reqwest::Method::POST, "/api/v3/checks/", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(word)),
            "{body} → {v}"
        );
    }
    let r = read(
        m.app
            .client
            .post(m.app.url("/api/v3/checks/"))
            .header("x-api-key", &m.write)
            .body("{not json"),
    )
    .await;
    assert_eq!(r.status, 400);
    for _ in 0..2 {
        let (status, _) = m
            .api(
                reqwest::Method::POST,
                "/api/v3/checks/",
                Some(json!({"unique": ["name"], "tags": "unnamed"})),
            )
            .await;
        assert_eq!(
            status, 201,
            "a unique field the request leaves out matches nothing"
        );
    }
    let r = read(m.app.client.get(m.app.url("/api/v3/checks/"))).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (401, r#"{"error":"missing api key"}"#)
    );
    let (status, _) = m
        .api(
            reqwest::Method::GET,
            &format!("/api/v3/checks/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = m
        .api(
            reqwest::Method::GET,
            &format!("/api/v3/checks/{uuid}/flips/?seconds=abc"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, v) = m
        .api(
            reqwest::Method::POST,
            &format!("/api/v3/checks/{}/resume", uuid),
            None,
        )
        .await;
    assert_eq!(
        (status, v["status"].clone()),
        (200, json!("new")),
        "a paused check resumes"
    );
    let (status, _) = m
        .api(
            reqwest::Method::POST,
            &format!("/api/v3/checks/{}/resume", uuid),
            None,
        )
        .await;
    assert_eq!(status, 409, "only a paused check resumes");
}

async fn the_rust_ping_client_reports_runs(backend: Backend) {
    let m = monitored(spawn_with(backend, |_| {}).await).await;
    let check = m
        .create(json!({"name": "Rust worker", "timeout": 60, "grace": 60}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    let base = m.app.url("/ping");
    let u = uuid.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let client = healthchecks::ping::get_client_with_url(&u, &base)
            .unwrap_or_else(|e| panic!("{e}"))
            .set_user_agent("worker/1.0");
        let run = uuid::Uuid::new_v4();
        [
            client.start_timer_with_run_id(Some(&run)),
            client.report_success_with_run_id(Some(&run)),
            client.report_failure_with_logs("disk full"),
        ]
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok, [true, true, true]);
    let c = m.check(&uuid).await;
    assert_eq!(
        (c["status"].clone(), c["n_pings"].clone()),
        (json!("down"), json!(3))
    );
    let (_, pings) = m
        .api(
            reqwest::Method::GET,
            &format!("/api/v3/checks/{uuid}/pings/"),
            None,
        )
        .await;
    assert_eq!(pings["pings"][0]["ua"], "worker/1.0");
    assert_eq!(pings["pings"][0]["type"], "fail");
    assert!(pings["pings"][1]["duration"].as_f64().is_some(), "{pings}");
}

async fn a_check_that_goes_quiet_goes_down_and_tells_its_channels_once(backend: Backend) {
    let (hook, got) = receiver().await;
    let (slack, slack_got) = receiver().await;
    let m = monitored(
        spawn_with(backend, |c| {
            c.mail.smtp_url = Some(opsdesk_core::config::DatabaseUrl(required_env(
                "OPSDESK_TEST_SMTP_URL",
            )));
            c.public_url = Some("https://ops.example.com".into());
        })
        .await,
    )
    .await;
    let db = &m.app.state.db;
    let to = format!("{}@example.com", unique("oncall"));
    for (name, kind, target) in [
        ("On call", "email", to.as_str()),
        ("Hook", "webhook", hook.as_str()),
        ("Chat", "slack", slack.as_str()),
    ] {
        opsdesk_ops::alerts::service::create(db, &Actor::cli(), name, kind, target)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
    let check = m
        .create(json!({"name": "Billing sync", "timeout": 60, "grace": 60, "channels": "*"}))
        .await;
    let uuid = check["uuid"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        check["channels"].as_str().map(|c| c.split(',').count()),
        Some(3)
    );
    let ping = m.app.url(&format!("/ping/{uuid}"));
    let before_ping = opsdesk_core::clock::now_ms();
    assert_eq!(curl(&[&ping]).0, 200);
    drain(&m.app).await;
    assert!(
        got.lock().unwrap_or_else(|e| e.into_inner()).is_empty(),
        "a first ping is not news"
    );

    // Two minutes of silence later the sweep finds it down — once, however often it runs.
    let later = opsdesk_core::clock::now_ms() + 121_000;
    let sweep = |at| opsdesk_ops::heartbeats::sweep::sweep(db, at);
    assert_eq!(
        sweep(before_ping + 110_000)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        0,
        "still in grace"
    );
    assert_eq!(sweep(later).await.unwrap_or_else(|e| panic!("{e:?}")), 1);
    assert_eq!(
        sweep(later + 1_000)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        0
    );
    drain(&m.app).await;
    let posts = posted(&got, 1).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["event"], "check.down");
    assert_eq!(posts[0]["check"]["name"], "Billing sync");
    assert_eq!(posts[0]["flip"]["reason"], "timeout");
    assert_eq!(
        posts[0]["check"]["url"],
        format!("https://ops.example.com/checks/{uuid}")
    );
    let chat = posted(&slack_got, 1).await;
    assert!(
        chat[0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("DOWN: \"Billing sync\" is down")),
        "{chat:?}"
    );
    let mail = inbox_of(&to, 1).await;
    assert!(mail[0].subject.contains("DOWN"), "{}", mail[0].subject);

    // Still down an hour later: with hourly reminders, the channels hear of it again, once.
    let remind = |at| opsdesk_ops::alerts::reminders::send_due(db, 1, at);
    assert_eq!(
        remind(later + 1_000)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        0,
        "not yet"
    );
    assert_eq!(
        remind(later + 3_700_000)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        1
    );
    drain(&m.app).await;
    assert_eq!(
        remind(later + 3_700_000)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        0,
        "once"
    );
    assert_eq!(
        remind(later + 3_700_000)
            .await
            .unwrap_or_else(|e| panic!("{e:?}")),
        0
    );
    let posts = posted(&got, 2).await;
    assert!(
        posts[1]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("STILL DOWN")),
        "{posts:?}"
    );
    let mail = inbox_of(&to, 2).await;
    assert!(mail.iter().any(|m| m.subject.contains("STILL DOWN")));

    // A ping brings it back: news again, once.
    assert_eq!(curl(&[&ping]).0, 200);
    drain(&m.app).await;
    let posts = posted(&got, 3).await;
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[2]["event"], "check.up");
    inbox_of(&to, 3).await;
    let (_, flips) = m
        .api(
            reqwest::Method::GET,
            &format!("/api/v3/checks/{uuid}/flips/"),
            None,
        )
        .await;
    let ups: Vec<i64> = flips["flips"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["up"].as_i64()).collect())
        .unwrap_or_default();
    // The sweep ran at a simulated "later", so in time order the down flip comes last.
    let mut sorted = ups.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 1], "{flips}");
}
