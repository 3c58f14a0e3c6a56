//! Several instances on one PostgreSQL database: the leader lock moves when the leader dies, and
//! queued work runs exactly once across instances. (SQLite runs a single instance by design.)

use std::time::{Duration, Instant};

use opsdesk_core::jobs::store::{NewJob, enqueue};
use opsdesk_core::jobs::{KIND_CHECKPOINT, store};
use serde_json::{Value, json};

use crate::helpers::{Backend, fresh_database};
use crate::procs::Server;

async fn leader(server: &Server) -> Option<bool> {
    let r = reqwest::get(format!("{}/api/health", server.base))
        .await
        .ok()?;
    let v: Value = r.json().await.ok()?;
    v["instance"]["leader"].as_bool()
}

async fn wait_for(mut cond: impl AsyncFnMut() -> bool, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if cond().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_fails_over_and_jobs_run_once_across_instances() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = fresh_database(Backend::Postgres, dir.path()).await;
    let env = [
        ("OPSDESK_JOBS__WORKERS", "3"),
        ("OPSDESK_JOBS__POLL_MS", "50"),
    ];
    let mut a = Server::start(dir.path(), &url, &env).await;
    assert!(
        wait_for(
            async || leader(&a).await == Some(true),
            Duration::from_secs(10)
        )
        .await
        .is_some(),
        "the first instance leads"
    );
    let b = Server::start(dir.path(), &url, &env).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(leader(&b).await, Some(false), "only one leader at a time");

    let db = opsdesk_core::db::Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tx = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..100 {
        enqueue(&mut tx, &NewJob::now(KIND_CHECKPOINT, json!(null)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let drained = wait_for(
        async || {
            store::attempts_by_kind(&db, KIND_CHECKPOINT)
                .await
                .map(|v| v.iter().filter(|j| j.1 == "done").count() >= 100)
                .unwrap_or(false)
        },
        Duration::from_secs(60),
    )
    .await;
    assert!(drained.is_some(), "100 jobs drained by two instances");
    let runs = store::attempts_by_kind(&db, KIND_CHECKPOINT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        runs.iter().all(|(_, s, n)| s == "done" && *n == 1),
        "each claimed once: {runs:?}"
    );
    let checkpoints: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.checkpoint'")
            .fetch_one(db.read())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    // The leader's scheduler adds one daily checkpoint of its own (two when the test crosses
    // midnight UTC); never more than one per day.
    assert!(
        (100..=102).contains(&checkpoints),
        "ran exactly once each: {checkpoints}"
    );
    let by: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT locked_by FROM jobs WHERE kind = 'audit.checkpoint'")
            .fetch_all(db.read())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by.len(), 2, "both instances took work: {by:?}");

    a.kill();
    let took_over = wait_for(
        async || leader(&b).await == Some(true),
        Duration::from_secs(10),
    )
    .await;
    let after = took_over.unwrap_or_else(|| panic!("the second instance never took the lead"));
    assert!(after < Duration::from_secs(5), "failover took {after:?}");
    eprintln!("leader failover after kill: {after:?}");
    db.close().await;
}

/// Two instances on one database: a heartbeat check that goes quiet goes down once (the
/// leader's sweep), pings arriving at both instances at once bring it up once, and each flip
/// reaches the channel exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_flip_notifies_once_across_instances() {
    let (hook, got) = crate::sla_timers::receiver().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = fresh_database(Backend::Postgres, dir.path()).await;
    let env = [
        ("OPSDESK_JOBS__WORKERS", "3"),
        ("OPSDESK_JOBS__POLL_MS", "50"),
    ];
    let a = Server::start(dir.path(), &url, &env).await;
    let b = Server::start(dir.path(), &url, &env).await;
    let db = opsdesk_core::db::Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let actor = opsdesk_core::audit::Actor::cli();
    let chan = opsdesk_ops::alerts::service::create(&db, &actor, "Hook", "webhook", &hook)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let input = opsdesk_ops::heartbeats::service::CheckInput {
        name: Some("Shared job".into()),
        timeout: Some(60),
        grace: Some(60),
        channels: Some(chan.id.clone()),
        ..Default::default()
    };
    let (check, _) = opsdesk_ops::heartbeats::service::create(&db, &actor, &input)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let ping = |base: &str| format!("{base}/ping/{}", check.id);
    assert_eq!(
        reqwest::get(ping(&a.base))
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(200)
    );

    // Its last ping was three hours ago: the leader's sweep finds it down.
    let long_ago = opsdesk_core::clock::now_ms() - 3 * 3_600_000;
    sqlx::query("UPDATE hb_checks SET last_ping = $1, alert_after = $2 WHERE id = $3")
        .bind(long_ago)
        .bind(long_ago + 120_000)
        .bind(&check.id)
        .execute(db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let down = wait_for(
        async || {
            opsdesk_ops::heartbeats::store::find(&db, &check.id)
                .await
                .ok()
                .flatten()
                .is_some_and(|c| c.status == "down")
        },
        Duration::from_secs(20),
    )
    .await;
    assert!(down.is_some(), "the check went down");

    // Pings at both instances at once: one flip up.
    let client = reqwest::Client::new();
    let sends: Vec<_> = (0..20)
        .map(|i| {
            client
                .get(ping(if i % 2 == 0 { &a.base } else { &b.base }))
                .send()
        })
        .collect();
    for r in futures::future::join_all(sends).await {
        assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(200));
    }
    let posts = crate::sla_timers::posted(&got, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let posts_later = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(posts_later.len(), 2, "down once, up once: {posts_later:?}");
    // Each is delivered by its own job, and the instances' workers run them at once: exactly
    // once each is the promise here, not their order of arrival.
    let mut events = vec![posts[0]["event"].clone(), posts[1]["event"].clone()];
    events.sort_by_key(|e| e.to_string());
    assert_eq!(events, vec![json!("check.down"), json!("check.up")]);
    let flips: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hb_flips WHERE check_id = $1")
        .bind(&check.id)
        .fetch_one(db.read())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(flips, 3, "new→up, up→down, down→up");
    let n: i64 = sqlx::query_scalar("SELECT n_pings FROM hb_checks WHERE id = $1")
        .bind(&check.id)
        .fetch_one(db.read())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 21, "every ping counted once");
}
