//! The durable job queue: transactional enqueue, exactly-once claiming, retries and dead jobs.

use opsdesk_core::audit::Actor;
use opsdesk_core::auth::tokens::Scope;
use opsdesk_core::jobs::store::{NewJob, enqueue};
use opsdesk_core::jobs::{KIND_CHECKPOINT, Outcome, schedule_periodic};
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, spawn_app};
use crate::on_both;

on_both!(
    jobs_exist_only_if_their_transaction_commits,
    concurrent_workers_run_each_job_once,
    a_worker_runs_jobs_side_by_side_and_finishes_them_before_stopping,
    failing_jobs_back_off_then_die_and_can_be_retried,
    periodic_jobs_are_queued_once_per_interval
);

async fn jobs_exist_only_if_their_transaction_commits(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.state.db;
    let mut tx = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    enqueue(&mut tx, &NewJob::now(KIND_CHECKPOINT, json!(null)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.rollback().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        app.state
            .runner
            .try_run_one()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
    let mut tx = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    enqueue(&mut tx, &NewJob::now(KIND_CHECKPOINT, json!(null)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = app
        .state
        .runner
        .try_run_one()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(outcome, Some(Outcome::Done { ref kind, .. }) if kind == KIND_CHECKPOINT),
        "{outcome:?}"
    );
    assert_eq!(
        app.audit_actions().await.last().map(String::as_str),
        Some("audit.checkpoint")
    );
}

async fn concurrent_workers_run_each_job_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.state.db;
    let mut tx = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..40 {
        enqueue(&mut tx, &NewJob::now(KIND_CHECKPOINT, json!(null)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let runner = app.state.runner.clone();
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while let Some(o) = runner.try_run_one().await.unwrap_or_else(|e| panic!("{e}")) {
                assert!(matches!(o, Outcome::Done { .. }), "{o:?}");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(total, 40);
    let runs = opsdesk_core::jobs::store::attempts_by_kind(db, KIND_CHECKPOINT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        runs.iter()
            .all(|(_, state, attempts)| state == "done" && *attempts == 1),
        "{runs:?}"
    );
    let checkpoints = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "audit.checkpoint")
        .count();
    assert_eq!(checkpoints, 40, "each job's effect happened exactly once");
}

/// `work` keeps up to its number of jobs in flight (claimed together), never more, and on
/// shutdown finishes the ones it holds before it returns.
async fn a_worker_runs_jobs_side_by_side_and_finishes_them_before_stopping(backend: Backend) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let app = spawn_app(backend).await;
    let db = app.state.db.clone();
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut registry = opsdesk_core::jobs::Registry::default();
    let (n, m) = (now.clone(), most.clone());
    registry.register("test.wait", move |_| {
        let (n, m) = (n.clone(), m.clone());
        async move {
            let here = n.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(here, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            n.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    });
    // A kind that must keep its order: later ones are quicker, so side by side they would pass
    // the earlier ones.
    let seen = Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let s = seen.clone();
    registry.register_in_order("test.line", move |ctx| {
        let s = s.clone();
        async move {
            let i = ctx.payload.as_i64().unwrap_or(-1);
            tokio::time::sleep(std::time::Duration::from_millis(
                u64::try_from(60 - 10 * i).unwrap_or(0),
            ))
            .await;
            s.lock().unwrap_or_else(|e| e.into_inner()).push(i);
            Ok(())
        }
    });
    let mut tx = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    for i in 0..20 {
        enqueue(&mut tx, &NewJob::now("test.wait", json!(null)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if i < 6 {
            enqueue(&mut tx, &NewJob::now("test.line", json!(i)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let runner = opsdesk_core::jobs::Runner::new(db.clone(), registry, "side-by-side");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(runner.work(8, std::time::Duration::from_millis(20), stopped));
    // Stop while a second round is in flight.
    let done = || async {
        opsdesk_core::jobs::store::attempts_by_kind(&db, "test.wait")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .filter(|j| j.1 == "done")
            .count()
    };
    let mut waited = 0;
    while done().await < 8 || now.load(Ordering::SeqCst) == 0 {
        waited += 1;
        assert!(waited < 400, "the first eight never finished");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let _ = stop.send(true);
    worker.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now.load(Ordering::SeqCst), 0, "nothing left running");
    let most = most.load(Ordering::SeqCst);
    assert!((2..=8).contains(&most), "{most} jobs ran at once");
    let jobs = opsdesk_core::jobs::store::attempts_by_kind(&db, "test.wait")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        jobs.iter().all(|j| j.1 != "running" && j.2 <= 1),
        "what was claimed was finished, each once: {jobs:?}"
    );
    assert!(
        jobs.iter().filter(|j| j.1 == "done").count() >= 9,
        "{jobs:?}"
    );
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(!seen.is_empty(), "the ordered kind ran");
    assert_eq!(
        seen,
        (0..i64::try_from(seen.len()).unwrap_or(0)).collect::<Vec<_>>(),
        "in the order queued"
    );
}

async fn failing_jobs_back_off_then_die_and_can_be_retried(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup().await;
    let db = &app.state.db;
    let mut tx = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    let job = NewJob {
        max_attempts: 2,
        ..NewJob::now("no.such.kind", json!({"x": 1}))
    };
    enqueue(&mut tx, &job)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let first = app
        .state
        .runner
        .try_run_one()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(first, Some(Outcome::Retrying { ref error, .. }) if error.contains("no handler")),
        "{first:?}"
    );
    assert_eq!(
        app.state
            .runner
            .try_run_one()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None,
        "backoff: not due yet"
    );
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
        .execute(db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = app
        .state
        .runner
        .try_run_one()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(second, Some(Outcome::Dead { .. })), "{second:?}");

    let token = app.token(ADMIN_EMAIL, Scope::Write).await;
    let dead = app
        .get_with_token("/api/jobs?state=dead", &token)
        .await
        .json();
    let id = dead["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(dead["items"][0]["attempts"], json!(2));
    assert!(
        dead["items"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no.such.kind"))
    );
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app.get_page("/admin/jobs?state=dead").await;
    assert!(
        page.text.contains("no.such.kind") && page.text.contains("Retry"),
        "{}",
        page.text
    );
    let retried = app
        .post_json_with_token(&format!("/api/jobs/{id}/retry"), &token, &json!({}))
        .await;
    assert_eq!(retried.status, 204, "{}", retried.text);
    let queued = app
        .get_with_token("/api/jobs?state=queued", &token)
        .await
        .json();
    assert_eq!(queued["items"][0]["id"], json!(id));
    let again = app
        .post_json_with_token(&format!("/api/jobs/{id}/retry"), &token, &json!({}))
        .await;
    assert_eq!(again.status, 404, "only dead jobs can be retried");
    assert!(app.audit_actions().await.contains(&"job.retry".to_string()));
    let _ = Actor::system();
}

async fn periodic_jobs_are_queued_once_per_interval(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = &app.state.db;
    let now = 1_800_000_000_000;
    schedule_periodic(db, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    schedule_periodic(db, now + 1_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let queued = opsdesk_core::jobs::store::stats(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queued;
    assert_eq!(queued, 2, "one prune and one checkpoint, not four");
    schedule_periodic(db, now + 3_600_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let queued = opsdesk_core::jobs::store::stats(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queued;
    assert_eq!(queued, 3, "the next hour brings another prune");
}
