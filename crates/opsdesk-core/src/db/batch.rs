//! Group commit (SQLite): hot write paths (ticket intake) hand their transaction body to one
//! writer task that runs many of them in a single transaction — each inside its own savepoint,
//! so one failing body is rolled back alone — and commits once. Every caller is answered only
//! after that commit, so durability is the same as one transaction each, with one fsync per
//! batch.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use sqlx::any::AnyRow;

use super::pipeline::{Arg, Pipeline};
use super::{Backend, Tx};
use crate::error::AppError;

/// Most bodies in one transaction.
const MAX_BATCH: usize = 64;

type Body = Box<dyn for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, Result<(), AppError>> + Send>;

struct Job {
    body: Body,
    done: oneshot::Sender<Result<(), AppError>>,
    /// The body is a single statement: SQLite undoes a failed statement by itself, so it needs
    /// no savepoint of its own.
    single: bool,
}

/// The handle callers queue work on.
#[derive(Clone, Debug)]
pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Batcher {
    /// Starts the writer task on `pool` (the write pool).
    pub fn start(pool: sqlx::AnyPool, backend: Backend) -> Batcher {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        tokio::spawn(writer(pool, backend, rx));
        Batcher { tx }
    }

    /// Runs `body` in a shared transaction; returns its value once that transaction committed.
    pub async fn run<T, F>(&self, body: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, Result<T, AppError>> + Send + 'static,
    {
        self.queue(body, false).await
    }

    /// [`Batcher::run`] for a body that runs exactly one statement.
    pub async fn run_single<T, F>(&self, body: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, Result<T, AppError>> + Send + 'static,
    {
        self.queue(body, true).await
    }

    async fn queue<T, F>(&self, body: F, single: bool) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, Result<T, AppError>> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let job_body: Body = Box::new(move |tx: &mut Tx| {
            Box::pin(async move {
                let v = body(tx).await?;
                if let Ok(mut s) = out.lock() {
                    *s = Some(v);
                }
                Ok(())
            })
        });
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job {
                body: job_body,
                done,
                single,
            })
            .await
            .map_err(|_| AppError::unavailable("shutting_down", "The server is shutting down."))?;
        wait.await
            .map_err(|_| AppError::internal(anyhow::anyhow!("the batch writer stopped")))??;
        let v = slot.lock().ok().and_then(|mut s| s.take());
        v.ok_or_else(|| AppError::internal(anyhow::anyhow!("a batched write returned nothing")))
    }
}

/// Where a [`statement`] body keeps its sqlx error, for a caller that reports sqlx errors.
#[derive(Clone, Debug, Default)]
pub struct Failed(Arc<Mutex<Option<sqlx::Error>>>);

impl Failed {
    /// The statement's own error, or (when the batch failed around it) the batch's.
    pub fn take(&self, batch: AppError) -> sqlx::Error {
        self.0
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .unwrap_or_else(|| sqlx::Error::Protocol(batch.message))
    }
}

/// A body that runs one statement and returns its rows.
pub fn statement(
    sql: &'static str,
    args: Vec<Arg>,
    failed: Failed,
) -> impl for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, Result<Vec<AnyRow>, AppError>> + Send + 'static
{
    move |tx: &mut Tx| {
        Box::pin(async move {
            let mut p = Pipeline::new();
            let stmt = p.push(sql);
            for a in args {
                stmt.bind(a);
            }
            match p.rows(tx).await {
                Ok(mut rows) => Ok(rows.pop().unwrap_or_default()),
                Err(e) => {
                    let app = AppError::internal(anyhow::anyhow!("{e}"));
                    if let Ok(mut s) = failed.0.lock() {
                        *s = Some(e);
                    }
                    Err(app)
                }
            }
        }) as BoxFuture<'_, _>
    }
}

/// The same failure for every caller of a batch (the source stays with the first, logged).
fn again(e: &AppError) -> AppError {
    let mut copy = AppError::new(e.status, e.code, e.message.clone());
    copy.source = e.source.as_ref().map(|s| anyhow::anyhow!("{s:#}"));
    copy
}

async fn begin(pool: &sqlx::AnyPool, backend: Backend) -> Result<Tx, sqlx::Error> {
    match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
}

async fn writer(pool: sqlx::AnyPool, backend: Backend, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut tx = match begin(&pool, backend).await {
            Ok(tx) => tx,
            Err(e) => {
                let e = AppError::from(e);
                for j in jobs {
                    let _ = j.done.send(Err(again(&e)));
                }
                continue;
            }
        };
        let mut results = Vec::with_capacity(jobs.len());
        let mut broken = None;
        // A body that succeeded leaves its savepoint open until the next one starts (one round
        // trip releases it and opens the next) or the commit releases it.
        let mut open = false;
        for j in jobs {
            if broken.is_some() {
                results.push((
                    j.done,
                    Err(AppError::internal(anyhow::anyhow!("batch aborted"))),
                ));
                continue;
            }
            if j.single {
                results.push((j.done, (j.body)(&mut tx).await));
                continue;
            }
            let start = if open {
                "RELEASE SAVEPOINT batch_item; SAVEPOINT batch_item"
            } else {
                "SAVEPOINT batch_item"
            };
            if let Err(e) = sqlx::query(start).execute(&mut *tx).await {
                broken = Some(e);
                results.push((
                    j.done,
                    Err(AppError::internal(anyhow::anyhow!("batch aborted"))),
                ));
                continue;
            }
            let r = (j.body)(&mut tx).await;
            open = r.is_ok();
            if r.is_err()
                && let Err(e) =
                    sqlx::query("ROLLBACK TO SAVEPOINT batch_item; RELEASE SAVEPOINT batch_item")
                        .execute(&mut *tx)
                        .await
            {
                broken = Some(e);
            }
            results.push((j.done, r));
        }
        if let Some(e) = broken {
            let _ = tx.rollback().await;
            let e = AppError::from(e);
            for (done, _) in results {
                let _ = done.send(Err(again(&e)));
            }
            continue;
        }
        match tx.commit().await {
            Ok(()) => {
                for (done, r) in results {
                    let _ = done.send(r);
                }
            }
            Err(e) => {
                let e = AppError::from(e);
                for (done, _) in results {
                    let _ = done.send(Err(again(&e)));
                }
            }
        }
    }
}
