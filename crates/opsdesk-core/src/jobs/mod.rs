//! The durable job queue: work is a row, enqueued in the same transaction as the change that
//! needs it, claimed with a lease, retried with backoff, and left visible to admins when it dies.
//! Periodic work is queued by the leader instance only.

pub mod leader;
pub mod rules;
pub mod store;
pub mod worker;

use std::time::Duration;

use crate::audit::{self, Actor};
use crate::clock::now_ms;
use crate::db::Db;
pub use leader::Leadership;
pub use store::{NewJob, QueueStats};
pub use worker::{Outcome, Registry, Runner};

pub const KIND_PRUNE: &str = "maintenance.prune";
pub const KIND_CHECKPOINT: &str = "audit.checkpoint";

/// The platform's own handlers; later capabilities register theirs on the same registry.
pub fn platform_registry() -> Registry {
    let mut r = Registry::default();
    r.register(KIND_PRUNE, |ctx| async move {
        let sessions = crate::auth::sessions::DbSessionStore::prune(&ctx.db).await?;
        let failures = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(now_ms() - 24 * 3_600_000)
            .execute(ctx.db.write())
            .await?
            .rows_affected();
        let jobs = store::prune_done(&ctx.db, 7 * 24 * 3_600_000).await?;
        ctx.db.optimize().await?;
        tracing::info!(sessions, failures, jobs, "pruned expired rows");
        Ok(())
    });
    r.register(KIND_CHECKPOINT, |ctx| async move {
        checkpoint(&ctx.db).await?;
        Ok(())
    });
    r
}

/// Writes a checkpoint record naming the chain head, so a copy of the log kept elsewhere can be
/// compared link by link.
pub async fn checkpoint(db: &Db) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        Actor::system().entry("audit.checkpoint", "audit", format!("head={head}")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Queues the periodic platform jobs once per interval (dedupe keys make this safe even if two
/// instances briefly both think they lead).
pub async fn schedule_periodic(db: &Db, now: i64) -> Result<(), sqlx::Error> {
    schedule_periodic_with(db, now, &[]).await
}

/// [`schedule_periodic`] plus capabilities' periodic kinds (see [`Registry::register_periodic`]).
pub async fn schedule_periodic_with(
    db: &Db,
    now: i64,
    periodic: &[(&'static str, i64)],
) -> Result<(), sqlx::Error> {
    let hour = now / 3_600_000;
    let day = now / 86_400_000;
    let mut tx = db.begin().await?;
    let mut prune = NewJob::now(KIND_PRUNE, serde_json::Value::Null);
    prune.dedupe_key = Some(format!("{KIND_PRUNE}:{hour}"));
    store::enqueue(&mut tx, &prune).await?;
    let mut cp = NewJob::now(KIND_CHECKPOINT, serde_json::Value::Null);
    cp.dedupe_key = Some(format!("{KIND_CHECKPOINT}:{day}"));
    store::enqueue(&mut tx, &cp).await?;
    for (kind, every) in periodic {
        let mut job = NewJob::now(kind, serde_json::Value::Null);
        job.dedupe_key = Some(format!("{kind}:{}", now / every.max(&1)));
        store::enqueue(&mut tx, &job).await?;
    }
    tx.commit().await
}

/// The scheduler loop: while this instance leads, queue periodic work every `every`.
pub async fn run_scheduler(
    db: Db,
    leadership: Leadership,
    periodic: Vec<(&'static str, i64)>,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if leadership.is_leader()
            && let Err(e) = schedule_periodic_with(&db, now_ms(), &periodic).await
        {
            tracing::warn!(error = %e, "cannot queue periodic jobs");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Puts a dead job back in the queue (admin action, audited).
pub async fn retry_dead(db: &Db, actor: &Actor, id: &str) -> Result<(), crate::error::AppError> {
    let mut tx = db.begin().await?;
    if !store::retry(&mut tx, id).await? {
        return Err(crate::error::AppError::not_found("A dead job with this id"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("job.retry", format!("job:{id}"), String::new()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
