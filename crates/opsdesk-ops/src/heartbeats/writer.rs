//! The ping path's group commit. Pings arriving together are taken as one batch: their checks
//! are read (and locked, on PostgreSQL) with one statement, the rules applied in arrival order,
//! the log lines written with one multi-row insert and the checks' new states with one update,
//! and the transaction committed once; only then is each caller answered. Durability is that of
//! one transaction per ping, with one fsync per batch.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use super::model::Action;
use super::rules::{self, Ping};
use super::service;
use super::store::{self, CheckRow, Keyed, PingRow};
use crate::alerts::notify;
use opsdesk_core::audit::Actor;
use opsdesk_core::db::{Db, Tx};
use opsdesk_core::error::AppError;

/// Most pings in one transaction.
const MAX_BATCH: usize = 1_000;

/// Which check a ping is for.
#[derive(Clone, Debug)]
pub enum Target {
    /// `/ping/<uuid>`: the UUID, lower case.
    Code(String),
    /// `/ping/<ping-key>/<slug>`; `create` with `?create=1`.
    Slug {
        key: String,
        slug: String,
        create: bool,
    },
}

/// A ping as received.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub target: Target,
    pub action: Action,
    pub exitstatus: Option<i64>,
    pub method: String,
    pub scheme: String,
    pub remote_addr: String,
    pub ua: String,
    pub rid: Option<String>,
    /// The body up to the limit.
    pub body: Vec<u8>,
    /// The size received (more than `body.len()` when cut).
    pub body_size: i64,
    pub received: i64,
}

/// How a ping went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Recorded,
    /// Recorded on a check created for it (`?create=1`).
    Created,
    NotFound,
    /// The slug names more than one check.
    Ambiguous,
}

struct Pending {
    ping: Incoming,
    done: oneshot::Sender<Result<Outcome, AppError>>,
}

/// The handle the ping handlers send to.
#[derive(Clone, Debug)]
pub struct PingWriter {
    tx: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

impl PingWriter {
    /// Starts the writer task for `db`.
    pub fn start(db: Db) -> PingWriter {
        let (tx, rx) = mpsc::channel(8_192);
        tokio::spawn(run(db, rx));
        PingWriter { tx }
    }

    /// Records a ping; answers once it is committed.
    pub async fn record(&self, ping: Incoming) -> Result<Outcome, AppError> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Pending { ping, done })
            .await
            .map_err(|_| AppError::unavailable("shutting_down", "opsdesk is stopping"))?;
        answer
            .await
            .map_err(|_| AppError::unavailable("shutting_down", "opsdesk is stopping"))?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let pings: Vec<&Incoming> = batch.iter().map(|p| &p.ping).collect();
        match write_batch(&db, &pings).await {
            Ok(outcomes) => {
                metrics::counter!("opsdesk_pings_total").increment(batch.len() as u64);
                for (p, o) in batch.into_iter().zip(outcomes) {
                    let _ = p.done.send(Ok(o));
                }
            }
            Err(e) => {
                e.log();
                tracing::error!(pings = batch.len(), "cannot record pings");
                for p in batch {
                    let _ = p.done.send(Err(AppError::unavailable(
                        "store_unavailable",
                        "the ping could not be recorded; try again",
                    )));
                }
            }
        }
    }
}

/// A batch's checks: loaded rows, by id, and which changed.
struct Loaded {
    rows: HashMap<String, CheckRow>,
    by_slug: HashMap<String, Vec<String>>,
    changed: Vec<String>,
}

async fn write_batch(db: &Db, pings: &[&Incoming]) -> Result<Vec<Outcome>, AppError> {
    let backend = db.backend();
    let mut tx = db.begin().await?;
    let mut loaded = load(&mut tx, db, pings).await?;
    let key_ok = match pings
        .iter()
        .any(|p| matches!(p.target, Target::Slug { .. }))
    {
        true => store::ping_key(&mut tx).await?,
        false => None,
    };
    let mut outcomes = Vec::with_capacity(pings.len());
    let mut log = Vec::with_capacity(pings.len());
    let mut flips = Vec::new();
    for p in pings {
        let (id, outcome) = match &p.target {
            Target::Code(code) => match loaded.rows.contains_key(code) {
                true => (code.clone(), Outcome::Recorded),
                false => {
                    outcomes.push(Outcome::NotFound);
                    continue;
                }
            },
            Target::Slug { key, slug, create } => {
                if key_ok.as_deref() != Some(key.as_str()) {
                    outcomes.push(Outcome::NotFound);
                    continue;
                }
                match loaded.by_slug.get(slug).map(Vec::as_slice) {
                    Some([one]) => (one.clone(), Outcome::Recorded),
                    Some([_, _, ..]) => {
                        outcomes.push(Outcome::Ambiguous);
                        continue;
                    }
                    _ if *create => {
                        let row = service::new_slug_check(slug, p.received);
                        store::insert(&mut tx, &row).await?;
                        // As Healthchecks.io: a check made by its first ping notifies every channel.
                        let channels = store::all_channel_ids(&mut tx).await?;
                        store::set_channels(&mut tx, &row.id, &channels).await?;
                        let id = row.id.clone();
                        loaded.by_slug.insert(slug.clone(), vec![id.clone()]);
                        loaded.rows.insert(id.clone(), row);
                        (id, Outcome::Created)
                    }
                    _ => {
                        outcomes.push(Outcome::NotFound);
                        continue;
                    }
                }
            }
        };
        let Some(row) = loaded.rows.get_mut(&id) else {
            outcomes.push(Outcome::NotFound);
            continue;
        };
        let spec = row.spec();
        let mut state = row.state();
        let applied = rules::apply(
            &spec,
            &mut state,
            &Ping {
                action: p.action,
                post: p.method == "POST",
                rid: p.rid.as_deref(),
                body: &p.body,
            },
            p.received,
        );
        row.set_state(&spec, &state);
        if let Some(f) = applied.flip {
            flips.push((id.clone(), f, p.received));
        }
        if !loaded.changed.contains(&id) {
            loaded.changed.push(id.clone());
        }
        log.push(PingRow {
            check_id: id,
            n: applied.n,
            created: p.received,
            kind: applied.kind.as_str().to_string(),
            scheme: p.scheme.clone(),
            method: p.method.clone(),
            remote_addr: p.remote_addr.clone(),
            ua: p.ua.clone(),
            body: (!p.body.is_empty()).then(|| p.body.clone()),
            body_size: p.body_size,
            exitstatus: p.exitstatus,
            rid: p.rid.clone(),
            duration_ms: applied.duration_ms,
        });
        outcomes.push(outcome);
    }
    store::insert_pings(&mut tx, backend, &log).await?;
    let changed: Vec<&CheckRow> = loaded
        .changed
        .iter()
        .filter_map(|id| loaded.rows.get(id))
        .collect();
    store::save_states(&mut tx, backend, &changed).await?;
    let actor = Actor::system();
    let flipped = !flips.is_empty();
    for (id, flip, at) in flips {
        if let Some(row) = loaded.rows.get(&id) {
            notify::on_flip(&mut tx, backend, &actor, row, &flip, at).await?;
        }
    }
    tx.commit().await?;
    if flipped {
        crate::status::service::forget(db);
    }
    Ok(outcomes)
}

/// Reads the batch's checks by id and by slug.
async fn load(tx: &mut Tx, db: &Db, pings: &[&Incoming]) -> Result<Loaded, sqlx::Error> {
    let mut codes: Vec<&str> = Vec::new();
    let mut slugs: Vec<&str> = Vec::new();
    for p in pings {
        match &p.target {
            Target::Code(c) => codes.push(c),
            Target::Slug { slug, .. } => slugs.push(slug),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    slugs.sort_unstable();
    slugs.dedup();
    // Slugs are turned into ids first, then every row is locked by id in one ordered
    // statement: two instances never wait on each other in a circle.
    let mut ids: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    if !slugs.is_empty() {
        ids.extend(store::ids_by_slug(tx, db.backend(), &slugs).await?);
    }
    ids.sort_unstable();
    ids.dedup();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut rows = HashMap::new();
    let mut by_slug: HashMap<String, Vec<String>> = HashMap::new();
    if !id_refs.is_empty() {
        for r in store::many_for_update(tx, db.backend(), Keyed::Id, &id_refs).await? {
            if !r.slug.is_empty() && slugs.contains(&r.slug.as_str()) {
                by_slug
                    .entry(r.slug.clone())
                    .or_default()
                    .push(r.id.clone());
            }
            rows.insert(r.id.clone(), r);
        }
    }
    Ok(Loaded {
        rows,
        by_slug,
        changed: Vec::new(),
    })
}
