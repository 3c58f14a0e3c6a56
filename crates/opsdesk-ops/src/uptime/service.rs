//! Monitors' use cases: create, change, delete, pause and resume — validated, audited — and
//! recording a run's result with the flip it causes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{self, Status, Step, Tally};
use super::runner::RunResult;
use super::store::{self, MonitorRow, ResultRow};
use crate::alerts::notify::{self, Change};
use crate::heartbeats::store as links;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

/// Most monitors one desk holds.
pub const MAX_MONITORS: i64 = 20_000;

/// A monitor's settings as the API and pages send them. Give either `url` (with `method`,
/// `headers`, `body`, `follow_redirects`, `conditions`) for a plain HTTP check, or `steps` for a
/// multi-step one. What is absent stays as it is (or takes the default, on create).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorInput {
    pub name: Option<String>,
    /// Space-separated tags.
    pub tags: Option<String>,
    pub url: Option<String>,
    pub method: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub body: Option<String>,
    pub follow_redirects: Option<bool>,
    /// Gatus-style conditions, e.g. `[STATUS] == 200`, `[RESPONSE_TIME] < 300`,
    /// `[BODY].status == UP`, `[CERTIFICATE_EXPIRATION] > 48h`.
    pub conditions: Option<Vec<String>>,
    pub steps: Option<Vec<Step>>,
    /// Seconds between runs (10–86400, default 60).
    pub interval: Option<i64>,
    /// Milliseconds each request may take (100–60000, default 10000).
    pub timeout_ms: Option<i64>,
    /// Failed runs in a row before the monitor is down (1–20, default 1).
    pub failure_threshold: Option<i64>,
    /// Passed runs in a row before a down monitor is up again (1–20, default 1).
    pub success_threshold: Option<i64>,
    /// Accept invalid TLS certificates (self-signed).
    pub insecure: Option<bool>,
    /// Alert channel ids.
    pub channels: Option<Vec<String>>,
}

/// Uptime shares (0–100) over the last day, week, 30 and 90 days; `null` without runs.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Uptime {
    pub h24: Option<f64>,
    pub d7: Option<f64>,
    pub d30: Option<f64>,
    pub d90: Option<f64>,
}

/// A monitor as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Monitor {
    pub id: String,
    pub name: String,
    pub tags: String,
    pub steps: Vec<Step>,
    pub interval: i64,
    pub timeout_ms: i64,
    pub failure_threshold: i64,
    pub success_threshold: i64,
    pub insecure: bool,
    /// new, up, down or paused.
    pub status: String,
    pub last_run: Option<i64>,
    pub last_ok: Option<bool>,
    pub last_response_ms: Option<i64>,
    pub last_error: Option<String>,
    pub next_run: Option<i64>,
    pub uptime: Uptime,
    pub channels: Vec<String>,
}

fn share(t: (i64, i64)) -> Option<f64> {
    (t.0 > 0).then(|| (t.1 as f64 * 10_000.0 / t.0 as f64).round() / 100.0)
}

/// The uptime of a monitor at `now`.
pub async fn uptime(db: &Db, id: &str, now: i64) -> Result<Uptime, sqlx::Error> {
    let day = 86_400_000;
    Ok(Uptime {
        h24: share(store::tally_since(db, id, now - day, true).await?),
        d7: share(store::tally_since(db, id, now - 6 * day, false).await?),
        d30: share(store::tally_since(db, id, now - 29 * day, false).await?),
        d90: share(store::tally_since(db, id, now - 89 * day, false).await?),
    })
}

pub async fn view(db: &Db, m: &MonitorRow) -> Result<Monitor, AppError> {
    Ok(Monitor {
        id: m.id.clone(),
        name: m.name.clone(),
        tags: m.tags.clone(),
        steps: serde_json::from_str(&m.steps).unwrap_or_default(),
        interval: m.interval_s,
        timeout_ms: m.timeout_ms,
        failure_threshold: m.failure_threshold,
        success_threshold: m.success_threshold,
        insecure: m.insecure,
        status: m.status.clone(),
        last_run: m.last_run,
        last_ok: m.last_ok,
        last_response_ms: m.last_ms,
        last_error: m.last_error.clone(),
        next_run: m.next_run,
        uptime: uptime(db, &m.id, now_ms()).await?,
        channels: links::channel_ids(db, &m.id).await?,
    })
}

fn range(fields: &mut Fields, name: &str, v: Option<i64>, lo: i64, hi: i64) -> Option<i64> {
    let v = v?;
    if (lo..=hi).contains(&v) {
        Some(v)
    } else {
        fields.add(name, &format!("must be between {lo} and {hi}"));
        None
    }
}

/// Applies the input to `m`; returns the channel ids to set, when given.
fn apply(m: &mut MonitorRow, input: &MonitorInput, fields: &mut Fields) -> Option<Vec<String>> {
    if let Some(n) = &input.name {
        let n = n.trim();
        if n.is_empty() || n.chars().count() > 100 {
            fields.add("name", "must be 1 to 100 characters");
        } else {
            m.name = n.to_string();
        }
    }
    if let Some(t) = &input.tags {
        m.tags = t.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let single = input.url.as_ref().map(|url| {
        vec![Step {
            name: String::new(),
            method: input.method.clone().unwrap_or_default(),
            url: url.clone(),
            headers: input.headers.clone().unwrap_or_default(),
            body: input.body.clone().unwrap_or_default(),
            follow_redirects: input.follow_redirects,
            conditions: input.conditions.clone().unwrap_or_default(),
            capture: BTreeMap::new(),
        }]
    });
    if input.url.is_some() && input.steps.is_some() {
        fields.add("steps", "give either url or steps, not both");
    }
    if let Some(steps) = input.steps.clone().or(single) {
        match model::check_steps(&steps) {
            Ok(checked) => {
                let steps: Vec<&Step> = checked.iter().map(|c| &c.step).collect();
                m.steps = serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into());
            }
            Err(problems) => {
                for (k, v) in problems {
                    fields.add(&k, &v);
                }
            }
        }
    }
    if let Some(v) = range(
        fields,
        "interval",
        input.interval,
        model::MIN_INTERVAL_S,
        model::MAX_INTERVAL_S,
    ) {
        m.interval_s = v;
    }
    if let Some(v) = range(
        fields,
        "timeout_ms",
        input.timeout_ms,
        model::MIN_TIMEOUT_MS,
        model::MAX_TIMEOUT_MS,
    ) {
        m.timeout_ms = v;
    }
    if let Some(v) = range(fields, "failure_threshold", input.failure_threshold, 1, 20) {
        m.failure_threshold = v;
    }
    if let Some(v) = range(fields, "success_threshold", input.success_threshold, 1, 20) {
        m.success_threshold = v;
    }
    if let Some(b) = input.insecure {
        m.insecure = b;
    }
    input.channels.clone()
}

async fn check_channels(db: &Db, ids: &[String]) -> Result<(), AppError> {
    let all = crate::alerts::store::channels(db).await?;
    for id in ids {
        if !all.iter().any(|c| &c.id == id) {
            return Err(AppError::field(
                "channels",
                &format!("\"{id}\" is not a channel id"),
            ));
        }
    }
    Ok(())
}

/// The first run of a new monitor: spread over its interval so monitors made together do not
/// all run at once.
fn first_run(id: &str, interval_s: i64, now: i64) -> i64 {
    let h = id
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    now + i64::try_from(h % u64::try_from(interval_s * 1000).unwrap_or(1).max(1)).unwrap_or(0)
}

pub async fn create(db: &Db, actor: &Actor, input: &MonitorInput) -> Result<MonitorRow, AppError> {
    let now = now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let mut m = MonitorRow {
        id: id.clone(),
        name: String::new(),
        tags: String::new(),
        steps: String::new(),
        interval_s: 60,
        timeout_ms: 10_000,
        failure_threshold: 1,
        success_threshold: 1,
        insecure: false,
        status: Status::New.as_str().into(),
        fails: 0,
        passes: 0,
        next_run: None,
        last_run: None,
        last_ok: None,
        last_ms: None,
        last_error: None,
        created: now,
    };
    let mut fields = Fields::default();
    if input.url.is_none() && input.steps.is_none() {
        fields.add("url", "give the URL to check (or steps)");
    }
    if input.name.is_none() {
        fields.add("name", "must be 1 to 100 characters");
    }
    let channels = apply(&mut m, input, &mut fields);
    fields.finish()?;
    if let Some(ids) = &channels {
        check_channels(db, ids).await?;
    }
    if store::count(db).await? >= MAX_MONITORS {
        return Err(AppError::forbidden("The monitor limit is reached."));
    }
    m.next_run = Some(first_run(&id, m.interval_s, now));
    let mut tx = db.begin().await?;
    store::insert(&mut tx, &m).await?;
    if let Some(ids) = &channels {
        links::set_channels(&mut tx, &id, ids).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("monitor.create", format!("monitor:{id}"), summary(&m)),
    )
    .await?;
    tx.commit().await?;
    Ok(m)
}

/// A URL for the audit log: no credentials, no query (both may carry secrets).
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

fn summary(m: &MonitorRow) -> String {
    let steps: Vec<Step> = serde_json::from_str(&m.steps).unwrap_or_default();
    let first = steps
        .first()
        .map(|s| format!("{} {}", s.method, redacted(&s.url)))
        .unwrap_or_default();
    format!(
        "name={} steps={} first={first} interval={}s",
        m.name,
        steps.len(),
        m.interval_s
    )
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    id: &str,
    input: &MonitorInput,
) -> Result<MonitorRow, AppError> {
    if let Some(ids) = &input.channels {
        check_channels(db, ids).await?;
    }
    let mut tx = db.begin().await?;
    let mut m = store::find_for_update(&mut tx, db.backend(), id)
        .await?
        .ok_or_else(|| AppError::not_found("This monitor"))?;
    let before = m.interval_s;
    let mut fields = Fields::default();
    let channels = apply(&mut m, input, &mut fields);
    fields.finish()?;
    if m.interval_s != before && m.next_run.is_some() {
        m.next_run = Some(now_ms() + m.interval_s * 1000);
    }
    store::update(&mut tx, &m).await?;
    if let Some(ids) = &channels {
        links::set_channels(&mut tx, id, ids).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("monitor.update", format!("monitor:{id}"), summary(&m)),
    )
    .await?;
    tx.commit().await?;
    Ok(m)
}

pub async fn delete(db: &Db, actor: &Actor, id: &str) -> Result<MonitorRow, AppError> {
    let mut tx = db.begin().await?;
    let m = store::find_for_update(&mut tx, db.backend(), id)
        .await?
        .ok_or_else(|| AppError::not_found("This monitor"))?;
    store::delete(&mut tx, id).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("monitor.delete", format!("monitor:{id}"), summary(&m)),
    )
    .await?;
    tx.commit().await?;
    Ok(m)
}

/// Pauses (no runs, no alerts) or resumes (runs at once, as a new monitor) a monitor.
pub async fn set_paused(
    db: &Db,
    actor: &Actor,
    id: &str,
    paused: bool,
) -> Result<MonitorRow, AppError> {
    let backend = db.backend();
    let mut tx = db.begin().await?;
    let mut m = store::find_for_update(&mut tx, backend, id)
        .await?
        .ok_or_else(|| AppError::not_found("This monitor"))?;
    let old = m.status.clone();
    let new = match (paused, old.as_str()) {
        (true, "paused") | (false, "new" | "up" | "down") => {
            return Ok(m);
        }
        (true, _) => Status::Paused,
        (false, _) => Status::New,
    };
    m.status = new.as_str().into();
    m.fails = 0;
    m.passes = 0;
    m.next_run = (!paused).then(now_ms);
    store::update(&mut tx, &m).await?;
    let reason = if paused { "paused" } else { "resumed" };
    let change = Change {
        id,
        name: &m.name,
        old: &old,
        new: new.as_str(),
        reason,
        notifies: false,
    };
    notify::record(&mut tx, backend, actor, &change, now_ms()).await?;
    tx.commit().await?;
    crate::status::service::forget(db);
    Ok(m)
}

/// Records a run that started at `started` (due at `scheduled`), moving the tally and flipping
/// the status when a threshold is reached. A paused or deleted monitor's result is dropped.
pub async fn record_run(
    db: &Db,
    id: &str,
    scheduled: i64,
    started: i64,
    r: &RunResult,
) -> Result<(), AppError> {
    let backend = db.backend();
    let mut tx = db.begin().await?;
    let Some(m) = store::find_for_update(&mut tx, backend, id).await? else {
        return Ok(());
    };
    if m.status == Status::Paused.as_str() {
        return Ok(());
    }
    let before = Tally {
        status: Status::parse(&m.status),
        fails: m.fails,
        passes: m.passes,
    };
    let (after, flip) = model::after_run(before, r.ok, m.failure_threshold, m.success_threshold);
    let row = ResultRow {
        monitor_id: id.to_string(),
        started,
        scheduled,
        ok: r.ok,
        response_ms: r.ms,
        status_code: r.status.map(i64::from),
        failed_step: r.failed_step.clone(),
        error: r.error.as_ref().map(|e| e.chars().take(2_000).collect()),
    };
    store::record(
        &mut tx,
        &row,
        after.status.as_str(),
        after.fails,
        after.passes,
    )
    .await?;
    if let Some((old, new)) = flip {
        let reason = if r.ok { "recovered" } else { "failed" };
        let change = Change {
            id,
            name: &m.name,
            old: old.as_str(),
            new: new.as_str(),
            reason,
            notifies: !(old == Status::New && new == Status::Up),
        };
        notify::record(&mut tx, backend, &Actor::system(), &change, started + r.ms).await?;
    }
    tx.commit().await?;
    if flip.is_some() {
        crate::status::service::forget(db);
    }
    Ok(())
}
