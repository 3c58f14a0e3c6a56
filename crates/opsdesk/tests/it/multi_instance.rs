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
    // The leader's scheduler adds one daily checkpoint of its own; never more than one per day.
    assert!(
        (100..=101).contains(&checkpoints),
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
