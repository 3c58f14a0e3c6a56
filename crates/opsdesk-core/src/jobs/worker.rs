//! Runs queued jobs: a registry of handlers by kind, `try_run_one` for deterministic draining in
//! tests, and worker loops for the server.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

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
    /// Kinds whose jobs run one at a time, oldest first (see [`Registry::register_in_order`]).
    ordered: HashSet<&'static str>,
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

    /// Registers `f` for jobs that must happen in the order they were queued (an alert's "down"
    /// before its "up"): an instance runs them one at a time, oldest first, beside other work.
    pub fn register_in_order<F, Fut>(&mut self, kind: &'static str, f: F)
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.register(kind, f);
        self.ordered.insert(kind);
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
    /// group commits. Kinds registered in order run one at a time, oldest first. On shutdown,
    /// the jobs in flight are finished first.
    pub async fn work(
        self,
        at_once: usize,
        poll: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let at_once = at_once.clamp(1, MAX_AT_ONCE);
        let places = Arc::new(Semaphore::new(at_once));
        let mut lines: HashMap<String, mpsc::UnboundedSender<(Claimed, OwnedSemaphorePermit)>> =
            HashMap::new();
        while !*shutdown.borrow() {
            let first = tokio::select! {
                biased;
                r = shutdown.changed() => match r {
                    Ok(()) => continue,
                    Err(_) => break,
                },
                p = places.clone().acquire_owned() => p,
            };
            let Ok(first) = first else { break };
            let free = 1 + places.available_permits();
            let idle = match store::claim_many(&self.db, &self.worker_id, self.lease_ms, free).await
            {
                Ok(mut jobs) => {
                    let idle = jobs.len() < free;
                    // Ids are time-ordered: jobs of an ordered kind go in the order they were queued.
                    jobs.sort_by(|a, b| a.id.cmp(&b.id));
                    let mut first = Some(first);
                    for job in jobs {
                        // Only this loop takes places and it claimed no more than were free, so
                        // this does not wait; should it ever, the job waits for a place.
                        let permit = match first.take() {
                            Some(p) => p,
                            None => match places.clone().acquire_owned().await {
                                Ok(p) => p,
                                Err(_) => break,
                            },
                        };
                        if self.registry.ordered.contains(job.kind.as_str()) {
                            let line = lines
                                .entry(job.kind.clone())
                                .or_insert_with(|| self.clone().line());
                            let _ = line.send((job, permit));
                        } else {
                            let runner = self.clone();
                            tokio::spawn(async move {
                                runner.finish(job).await;
                                drop(permit);
                            });
                        }
                    }
                    idle
                }
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
        // Closing the lines lets each finish what it holds; every job in flight holds a place.
        drop(lines);
        let _ = places.acquire_many(at_once as u32).await;
    }

    /// A task running one kind's jobs one at a time, in the order they are sent.
    fn line(self) -> mpsc::UnboundedSender<(Claimed, OwnedSemaphorePermit)> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Claimed, OwnedSemaphorePermit)>();
        tokio::spawn(async move {
            while let Some((job, permit)) = rx.recv().await {
                self.finish(job).await;
                drop(permit);
            }
        });
        tx
    }

    async fn finish(&self, job: Claimed) {
        if let Err(e) = self.execute(job).await {
            tracing::error!(error = %e, "cannot record a job's outcome");
        }
    }
}

/// Jobs one instance runs at once, at most.
pub const MAX_AT_ONCE: usize = 256;
