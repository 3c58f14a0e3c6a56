//! A ticket's whole life against a simulated clock, on both backends. The real `opsdesk serve`
//! runs as its own process under libfaketime (`OPSDESK_TEST_FAKETIME`): its wall clock stands
//! still at each instant the test writes to a file, while timers keep real monotonic time. The
//! server's own job workers and scheduler run the SLA sweep, so warnings and breaches are
//! announced by the server as it would in production — the test only moves the clock and acts as
//! the customer and the agent. It asserts the recorded times and the exact notifications sent:
//! email to the assignee through the real SMTP sink, and the webhook.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, read, required_env};
use crate::mail::{inbox_of, mail_desk, unique};
use crate::on_both;
use crate::procs::Server;
use crate::sla_timers::{Received, receiver};

on_both!(a_whole_ticket_life_under_a_simulated_clock);

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2030-01-07 00:00 UTC, a Monday.
const MONDAY: i64 = 1_893_974_400_000;

/// The instant `days` after Monday 2030-01-07 at `h`:`m` UTC.
fn at(days: i64, h: i64, m: i64) -> i64 {
    MONDAY + days * DAY + h * HOUR + m * MIN
}

/// The wall clock of the server process: a libfaketime timestamp file.
struct Clock(PathBuf);

impl Clock {
    fn new(dir: &Path) -> Clock {
        Clock(dir.join("faketime"))
    }

    /// Stops the server's clock at `ms` (January 2030, UTC).
    fn set(&self, ms: i64) {
        let days = (ms - MONDAY).div_euclid(DAY);
        let rest = (ms - MONDAY).rem_euclid(DAY);
        let line = format!(
            "2030-01-{:02} {:02}:{:02}:{:02}\n",
            7 + days,
            rest / HOUR,
            rest % HOUR / MIN,
            rest % MIN / 1000
        );
        std::fs::write(&self.0, line).unwrap_or_else(|e| panic!("writing the clock: {e}"));
    }
}

/// The API of the server process.
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, token: &str, path: &str, body: Value) -> Reply {
        let r = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token);
        let r = if method == reqwest::Method::GET {
            r
        } else {
            r.json(&body)
        };
        read(r).await
    }

    async fn ok(&self, method: reqwest::Method, token: &str, path: &str, body: Value) -> Value {
        let r = self.send(method, token, path, body).await;
        assert!(r.status < 300, "{path}: {} {}", r.status, r.text);
        r.json()
    }
}

/// Moves the server's clock to `now` and waits for its own SLA sweep to run there.
async fn sweep_at(clock: &Clock, db: &opsdesk_core::db::Db, now: i64) {
    clock.set(now);
    sweep_ran(db, now).await;
}

/// Waits until the server's own SLA sweep has run at the clock's current minute `now`.
async fn sweep_ran(db: &opsdesk_core::db::Db, now: i64) {
    let key = format!("sla.sweep:{}", now / MIN);
    for _ in 0..200 {
        let done: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE dedupe_key = $1 AND state = 'done'",
        )
        .bind(&key)
        .fetch_one(db.read())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        if done > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server's SLA sweep did not run at {now}");
}

/// Waits until every queued email and webhook post has been delivered.
async fn delivered(db: &opsdesk_core::db::Db) {
    for _ in 0..200 {
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind IN ('mail.send', 'webhook.post') AND state <> 'done'",
        )
        .fetch_one(db.read())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mail and webhook jobs were not delivered");
}

fn hooks(got: &Received) -> Vec<Value> {
    got.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The ticket's SLA announcements on its timeline: (when, detail).
fn announced(t: &Value) -> Vec<(i64, String)> {
    t["timeline"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("sla_")))
                .map(|e| {
                    (
                        e["at"].as_i64().unwrap_or_default(),
                        e["detail"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn a_whole_ticket_life_under_a_simulated_clock(backend: Backend) {
    use reqwest::Method;
    let (hook, got) = receiver().await;
    let mut d = mail_desk(backend, |_| {}).await;
    let owner = format!("{}@example.com", unique("sla-clock"));
    d.app.add_user(&owner, "agent", "").await;
    let url = d
        .app
        .state
        .config
        .database_url
        .clone()
        .unwrap_or_else(|| panic!("the test app has a database URL"));
    let dir = d.app.data_dir();
    // The in-process app only set the desk up: it stops, so the server process is the one
    // instance (and on PostgreSQL the leader that runs the sweeps).
    d.app.stop().await;
    let db = opsdesk_core::db::Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let clock = Clock::new(&dir);
    clock.set(at(0, 9, 0));
    let clock_file = clock.0.display().to_string();
    let smtp = required_env("OPSDESK_TEST_SMTP_URL");
    let env = [
        ("LD_PRELOAD", required_env("OPSDESK_TEST_FAKETIME")),
        ("FAKETIME_TIMESTAMP_FILE", clock_file),
        ("FAKETIME_NO_CACHE", "1".into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
        ("TZ", "UTC".into()),
        ("OPSDESK_JOBS__WORKERS", "2".into()),
        ("OPSDESK_JOBS__POLL_MS", "50".into()),
        ("OPSDESK_JOBS__SCHEDULE_MS", "100".into()),
        ("OPSDESK_MAIL__SMTP_URL", smtp),
        ("OPSDESK_SLA__WEBHOOK_URL", hook),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&dir, &url, &env).await;
    let api = Api {
        base: server.base.clone(),
        client: crate::helpers::new_client(),
    };
    let set_tier = api
        .send(
            Method::PUT,
            &d.admin,
            "/api/organizations/Alice%20Corp/tier",
            json!({"tier": "Priority"}),
        )
        .await;
    assert_eq!(set_tier.status, 200, "{}", set_tier.text);

    // Monday 09:00: Alice files a ticket; the agent takes it. Priority runs on office hours
    // (UTC, Monday to Friday 09:00-17:00); normal priority: first response within 480 business
    // minutes (warned at 75 %, 360), next response 960, resolution 2,400.
    let t = api
        .ok(
            Method::POST,
            &d.alice,
            "/api/tickets",
            json!({"subject": "Export stops after 30 seconds", "body": "Reports, Billing, Export CSV: timeout."}),
        )
        .await;
    let n = t["number"].as_i64().unwrap_or_default();
    let path = format!("/api/tickets/{n}");
    api.ok(Method::PATCH, &d.agent, &path, json!({"assignee": owner}))
        .await;
    let t = api.ok(Method::GET, &d.agent, &path, Value::Null).await;
    assert_eq!(
        t["created_at"],
        at(0, 9, 0),
        "the server's clock is the test's"
    );
    let sla = &t["sla"];
    assert_eq!(sla["first_response"]["due_at"], at(0, 17, 0), "{sla}");
    assert_eq!(sla["resolution"]["due_at"], at(4, 17, 0), "{sla}");
    assert_eq!(sla["next_response"]["state"], "not_started");

    // 14:59: nothing is due. 15:30: the server's sweep warns of the first response, once.
    sweep_at(&clock, &db, at(0, 14, 59)).await;
    assert!(hooks(&got).is_empty(), "{:?}", hooks(&got));
    sweep_at(&clock, &db, at(0, 15, 30)).await;
    sweep_at(&clock, &db, at(0, 15, 31)).await;
    delivered(&db).await;
    let posted = hooks(&got);
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(
        (posted[0]["event"].as_str(), posted[0]["target"].as_str()),
        (Some("sla.warning"), Some("first response"))
    );

    // 16:00: the agent asks for the file (first response met) and waits on the customer.
    clock.set(at(0, 16, 0));
    api.ok(
        Method::POST,
        &d.agent,
        &format!("{path}/messages"),
        json!({"body": "Could you send us the export settings?"}),
    )
    .await;
    for step in [
        json!({"to": "triaged", "category": "Product"}),
        json!({"to": "waiting_on_customer"}),
    ] {
        api.ok(Method::POST, &d.agent, &format!("{path}/transitions"), step)
            .await;
    }
    let sla = api.ok(Method::GET, &d.agent, &path, Value::Null).await["sla"].clone();
    assert_eq!(sla["first_response"]["state"], "met", "{sla}");
    assert_eq!(sla["first_response"]["stopped_at"], at(0, 16, 0));
    assert_eq!(sla["paused"], true, "{sla}");

    // Overnight and on Tuesday morning the clocks stand still: the sweeps announce nothing.
    for now in [at(0, 17, 0), at(0, 23, 0), at(1, 9, 59)] {
        sweep_at(&clock, &db, now).await;
    }
    delivered(&db).await;
    assert_eq!(hooks(&got).len(), 1, "{:?}", hooks(&got));

    // Tuesday 10:00: Alice answers. The next response is due in 960 business minutes (Tuesday
    // 7 h, Wednesday 8 h, Thursday 1 h: Thursday 10:00), warned at 720 (Wednesday 14:00). The
    // resolution clock counted 420 minutes on Monday; 1,980 are left: next Monday 11:00.
    clock.set(at(1, 10, 0));
    api.ok(
        Method::POST,
        &d.alice,
        &format!("{path}/messages"),
        json!({"body": "Settings attached: CSV, all columns."}),
    )
    .await;
    let sla = api.ok(Method::GET, &d.agent, &path, Value::Null).await["sla"].clone();
    assert_eq!(sla["paused"], false, "{sla}");
    assert_eq!(sla["next_response"]["started_at"], at(1, 10, 0), "{sla}");
    assert_eq!(sla["next_response"]["due_at"], at(3, 10, 0), "{sla}");
    assert_eq!(sla["resolution"]["due_at"], at(7, 11, 0), "{sla}");

    // Wednesday 13:59 nothing; 14:30 the next-response warning.
    sweep_at(&clock, &db, at(2, 13, 59)).await;
    delivered(&db).await;
    assert_eq!(hooks(&got).len(), 1, "{:?}", hooks(&got));
    sweep_at(&clock, &db, at(2, 14, 30)).await;
    delivered(&db).await;
    let posted = hooks(&got);
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert_eq!(
        (posted[1]["event"].as_str(), posted[1]["target"].as_str()),
        (Some("sla.warning"), Some("next response"))
    );

    // Wednesday 15:00 the agent answers; 15:30 the fix; 16:00 resolved.
    clock.set(at(2, 15, 0));
    api.ok(
        Method::POST,
        &d.agent,
        &format!("{path}/messages"),
        json!({"body": "Thanks, we can reproduce it."}),
    )
    .await;
    clock.set(at(2, 15, 30));
    for step in [
        json!({"to": "reproducing", "outcome": "reproduced", "steps": "Export all columns"}),
        json!({"to": "investigating", "evidence": "worker timeout at 30 s"}),
        json!({"to": "fixed", "root_cause": "unbounded query", "fix": "paginate the export"}),
    ] {
        api.ok(Method::POST, &d.agent, &format!("{path}/transitions"), step)
            .await;
    }
    api.ok(
        Method::POST,
        &d.agent,
        &format!("{path}/messages"),
        json!({"body": "Fixed: exports are paginated now."}),
    )
    .await;
    clock.set(at(2, 16, 0));
    let resolved = api
        .ok(
            Method::POST,
            &d.agent,
            &format!("{path}/transitions"),
            json!({"to": "resolved", "note": "Paginated export shipped"}),
        )
        .await;
    assert_eq!(resolved["resolved_at"], at(2, 16, 0));

    // A week later every deadline has passed; nothing more is announced.
    for now in [at(3, 10, 1), at(7, 11, 1), at(8, 10, 0)] {
        sweep_at(&clock, &db, now).await;
    }
    delivered(&db).await;

    // The recorded times.
    let t = api.ok(Method::GET, &d.agent, &path, Value::Null).await;
    let sla = &t["sla"];
    assert_eq!(
        (
            sla["first_response"]["state"].as_str(),
            sla["first_response"]["stopped_at"].as_i64()
        ),
        (Some("met"), Some(at(0, 16, 0))),
        "{sla}"
    );
    assert_eq!(
        (
            sla["next_response"]["state"].as_str(),
            sla["next_response"]["stopped_at"].as_i64()
        ),
        (Some("met"), Some(at(2, 15, 0))),
        "{sla}"
    );
    assert_eq!(
        (
            sla["resolution"]["state"].as_str(),
            sla["resolution"]["stopped_at"].as_i64()
        ),
        (Some("met"), Some(at(2, 16, 0))),
        "{sla}"
    );

    // The exact notifications: two warnings, announced when due, on the timeline, by webhook
    // and by email to the assignee — and no breach.
    let told = announced(&t);
    assert_eq!(
        told.iter().map(|(when, _)| *when).collect::<Vec<_>>(),
        vec![at(0, 15, 30), at(2, 14, 30)],
        "{told:?}"
    );
    assert!(told[0].1.contains("first response"), "{told:?}");
    assert!(told[1].1.contains("next response"), "{told:?}");
    let posted = hooks(&got);
    let events: Vec<(&str, &str)> = posted
        .iter()
        .map(|h| {
            (
                h["event"].as_str().unwrap_or_default(),
                h["target"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("sla.warning", "first response"),
            ("sla.warning", "next response")
        ]
    );
    assert_eq!(posted[0]["at"], at(0, 15, 30), "{posted:?}");
    let mails = inbox_of(&owner, 2).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects.iter().all(|s| s.starts_with("[SLA warning]")),
        "{subjects:?}"
    );
    drop(server);
}
