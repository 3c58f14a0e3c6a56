//! Runs queued jobs: a registry of handlers by kind, `try_run_one` for deterministic draining in
//! tests, and worker loops for the server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;

use super::rules::AfterFailure;
use super::store::{self, Claimed};
use crate::db::Db;

/// What a handler gets: the store and the job's payload.
#[derive(Clone)]
pub struct JobCtx {
    pub db: Db,
    pub payload: serde_json::Value,
    pub attempt: i64,
}

pub type Handler = Arc<dyn Fn(JobCtx) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
    /// Kinds the scheduler queues once per period (ms): capabilities' own periodic work.
    periodic: Vec<(&'static str, i64)>,
}

impl Registry {
    pub fn register<F, Fut>(&mut self, kind: &'static str, f: F)
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.handlers
            .insert(kind, Arc::new(move |ctx| Box::pin(f(ctx))));
    }

    /// Registers `f` and has the scheduler queue it once an hour.
    pub fn register_hourly<F, Fut>(&mut self, kind: &'static str, f: F)
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.register_periodic(kind, Duration::from_secs(3_600), f);
    }

    /// Registers `f` and has the scheduler queue it once per `every` (at most once per
    /// scheduler tick, which is 30 s).
    pub fn register_periodic<F, Fut>(&mut self, kind: &'static str, every: Duration, f: F)
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.register(kind, f);
        let ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
        self.periodic.retain(|(k, _)| *k != kind);
        self.periodic.push((kind, ms));
    }

    pub fn periodic(&self) -> &[(&'static str, i64)] {
        &self.periodic
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<_> = self.handlers.keys().copied().collect();
        k.sort_unstable();
        k
    }
}

/// What happened to the job `try_run_one` picked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done {
        id: String,
        kind: String,
    },
    Retrying {
        id: String,
        kind: String,
        error: String,
    },
    Dead {
        id: String,
        kind: String,
        error: String,
    },
}

/// The job runner of one instance.
#[derive(Clone)]
pub struct Runner {
    db: Db,
    registry: Arc<Registry>,
    worker_id: String,
    lease_ms: i64,
}

impl Runner {
    /// Kinds the scheduler queues periodically besides the platform's own, with their periods.
    pub fn periodic(&self) -> Vec<(&'static str, i64)> {
        self.registry.periodic().to_vec()
    }

    pub fn new(db: Db, registry: Registry, instance_id: &str) -> Runner {
        Runner {
            db,
            registry: Arc::new(registry),
            worker_id: instance_id.to_string(),
            lease_ms: 5 * 60_000,
        }
    }

    /// Claims and runs one due job; `None` when nothing is due.
    pub async fn try_run_one(&self) -> Result<Option<Outcome>, sqlx::Error> {
        match store::claim(&self.db, &self.worker_id, self.lease_ms).await? {
            Some(job) => Ok(Some(self.execute(job).await?)),
            None => Ok(None),
        }
    }

    /// Runs a claimed job and records how it went.
    async fn execute(&self, job: Claimed) -> Result<Outcome, sqlx::Error> {
        let result = self.run(&job).await;
        let (id, kind) = (job.id.clone(), job.kind.clone());
        match result {
            Ok(()) => {
                store::complete(&self.db, &job, &self.worker_id).await?;
                metrics::counter!("opsdesk_jobs_finished_total", "kind" => kind.clone(), "outcome" => "done").increment(1);
                Ok(Outcome::Done { id, kind })
            }
            Err(e) => {
                let error = format!("{e:#}");
                tracing::warn!(job = %id, kind = %kind, attempt = job.attempts, error = %error, "job failed");
                let next = store::fail(&self.db, &job, &self.worker_id, &error).await?;
                let outcome = if next == AfterFailure::Dead {
                    "dead"
                } else {
                    "retry"
                };
                metrics::counter!("opsdesk_jobs_finished_total", "kind" => kind.clone(), "outcome" => outcome).increment(1);
                Ok(match next {
                    AfterFailure::Dead => Outcome::Dead { id, kind, error },
                    AfterFailure::RetryAt(_) => Outcome::Retrying { id, kind, error },
                })
            }
        }
    }

    async fn run(&self, job: &Claimed) -> anyhow::Result<()> {
        let handler = self.registry.handlers.get(job.kind.as_str()).cloned();
        let Some(handler) = handler else {
            anyhow::bail!("no handler for job kind {:?}", job.kind)
        };
        let payload = serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null);
        let ctx = JobCtx {
            db: self.db.clone(),
            payload,
            attempt: job.attempts,
        };
        // A handler that panics fails its attempt instead of killing the worker.
        match tokio::spawn(handler(ctx)).await {
            Ok(result) => result,
            Err(e) => anyhow::bail!("job handler crashed: {e}"),
        }
    }

    /// Runs jobs until `shutdown` flips: up to `at_once` at a time, claiming as many due jobs as
    /// there are free places in one statement, and sleeping `poll` when none is due. Jobs wait
    /// mostly on other servers (SMTP, webhooks), so many run side by side; their writes share
    /// group commits. On shutdown, the jobs in flight are finished first.
    pub async fn work(
        self,
        at_once: usize,
        poll: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let at_once = at_once.clamp(1, MAX_AT_ONCE);
        let places = Arc::new(Semaphore::new(at_once));
        while !*shutdown.borrow() {
            let first = tokio::select! {
                p = places.clone().acquire_owned() => p,
                r = shutdown.changed() => match r {
                    Ok(()) => continue,
                    Err(_) => break,
                },
            };
            let Ok(first) = first else { break };
            let free = 1 + places.available_permits();
            let idle = match store::claim_many(&self.db, &self.worker_id, self.lease_ms, free).await
            {
                Ok(jobs) if !jobs.is_empty() => {
                    let mut permit = Some(first);
                    for job in jobs {
                        let Some(p) = permit
                            .take()
                            .or_else(|| places.clone().try_acquire_owned().ok())
                        else {
                            // Never: only this loop takes places. Should it happen, the job's
                            // lease runs out and it is claimed again.
                            break;
                        };
                        let runner = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = runner.execute(job).await {
                                tracing::error!(error = %e, "cannot record a job's outcome");
                            }
                            drop(p);
                        });
                    }
                    false
                }
                Ok(_) => true,
                Err(e) => {
                    tracing::error!(error = %e, "job queue unavailable");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        let _ = places.acquire_many(at_once as u32).await;
    }
}

/// Jobs one instance runs at once, at most.
pub const MAX_AT_ONCE: usize = 256;
