//! Heartbeat checks' use cases: create (with the API's `unique` upsert), change, delete, pause
//! and resume — each validated, written with its audit record in one transaction.

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::model::{self, CronSchedule, Status};
use super::rules;
use super::store::{self, CheckRow, ListFilter};
use crate::alerts::{notify, store as channels};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

/// Defaults of a new check, as Healthchecks.io: a daily job with an hour's grace.
pub const DEFAULT_TIMEOUT_S: i64 = 86_400;
pub const DEFAULT_GRACE_S: i64 = 3_600;
/// Most checks one desk holds.
pub const MAX_CHECKS: i64 = 100_000;

/// A check's settings as the API and the pages send them; what is absent stays as it is (or
/// takes the default, on create).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CheckInput {
    pub name: Option<String>,
    /// a-z, 0-9, `-` and `_`; derived from the name when absent on create.
    pub slug: Option<String>,
    /// Space-separated tags.
    pub tags: Option<String>,
    pub desc: Option<String>,
    /// Expected period in seconds (60–31536000); makes the check a simple one.
    pub timeout: Option<i64>,
    /// Grace time in seconds (60–31536000).
    pub grace: Option<i64>,
    /// Five-field cron expression; makes the check a cron one.
    pub schedule: Option<String>,
    /// IANA time zone of the schedule (default UTC).
    pub tz: Option<String>,
    /// A paused check ignores pings until resumed by hand.
    pub manual_resume: Option<bool>,
    /// `""` (HEAD, GET and POST count) or `"POST"`.
    pub methods: Option<String>,
    /// Alert channels: `*` for all, `""` for none, or a comma-separated list of ids or names.
    pub channels: Option<String>,
    /// Upsert: fields (name, slug, tags, timeout, grace) by which an existing check is found
    /// and updated instead of a new one created.
    pub unique: Option<Vec<String>>,
    pub start_kw: Option<String>,
    pub success_kw: Option<String>,
    pub failure_kw: Option<String>,
    /// Classify success pings by the keywords in their body.
    pub filter_body: Option<bool>,
}

/// Length limits of text fields.
const MAX_NAME: usize = 100;
const MAX_TAGS: usize = 500;
const MAX_DESC: usize = 10_000;
const MAX_KW: usize = 200;

/// A new check with its UUID and defaults.
fn blank(now: i64) -> CheckRow {
    let id = uuid::Uuid::new_v4().to_string();
    CheckRow {
        unique_key: unique_key(&id),
        id,
        name: String::new(),
        slug: String::new(),
        tags: String::new(),
        descr: String::new(),
        kind: "simple".into(),
        timeout_s: DEFAULT_TIMEOUT_S,
        grace_s: DEFAULT_GRACE_S,
        schedule: "* * * * *".into(),
        tz: "UTC".into(),
        methods: String::new(),
        manual_resume: false,
        start_kw: String::new(),
        success_kw: String::new(),
        failure_kw: String::new(),
        filter_body: false,
        status: Status::New.as_str().into(),
        last_ping: None,
        last_start: None,
        runs: String::new(),
        last_duration_ms: None,
        alert_after: None,
        n_pings: 0,
        created: now,
    }
}

/// What read-only API keys see instead of a check's UUID (which would let them ping it).
pub fn unique_key(id: &str) -> String {
    let h = Sha256::digest(format!("opsdesk-check:{id}").as_bytes());
    hex::encode(&h[..20])
}

/// The check a slug ping with `?create=1` makes.
pub fn new_slug_check(slug: &str, now: i64) -> CheckRow {
    CheckRow {
        name: slug.to_string(),
        slug: slug.to_string(),
        ..blank(now)
    }
}

fn text(fields: &mut Fields, name: &str, v: &Option<String>, max: usize) -> Option<String> {
    let v = v.as_ref()?;
    if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        fields.add(name, "is too long or holds control characters");
        return None;
    }
    Some(v.clone())
}

/// Applies `input` to `row`, collecting every problem; returns the channel list to set, if given.
fn apply_input(row: &mut CheckRow, input: &CheckInput, fields: &mut Fields) -> Option<String> {
    if let Some(n) = text(fields, "name", &input.name, MAX_NAME) {
        row.name = n.trim().to_string();
    }
    if let Some(s) = &input.slug
        && let Some(s) = fields.check("slug", model::check_slug(s))
    {
        row.slug = s;
    }
    if let Some(t) = text(fields, "tags", &input.tags, MAX_TAGS) {
        row.tags = t.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if let Some(d) = text(fields, "desc", &input.desc, MAX_DESC) {
        row.descr = d;
    }
    if let Some(t) = input.timeout
        && let Some(t) = fields.check("timeout", model::check_seconds(t))
    {
        row.timeout_s = t;
        if input.schedule.is_none() {
            row.kind = "simple".into();
        }
    }
    if let Some(g) = input.grace
        && let Some(g) = fields.check("grace", model::check_seconds(g))
    {
        row.grace_s = g;
    }
    if let Some(tz) = &input.tz {
        match model::parse_tz(tz) {
            Ok(_) => row.tz = tz.trim().to_string(),
            Err(e) => fields.add("tz", &e),
        }
    }
    if let Some(s) = &input.schedule {
        row.schedule = s.split_whitespace().collect::<Vec<_>>().join(" ");
        row.kind = "cron".into();
    }
    if row.kind == "cron"
        && (input.schedule.is_some() || input.tz.is_some())
        && let Err(e) = CronSchedule::parse(&row.schedule, &row.tz)
    {
        let field = if model::parse_tz(&row.tz).is_err() {
            "tz"
        } else {
            "schedule"
        };
        fields.add(field, &e);
    }
    if let Some(b) = input.manual_resume {
        row.manual_resume = b;
    }
    if let Some(m) = &input.methods {
        match m.as_str() {
            "" | "POST" => row.methods = m.clone(),
            _ => fields.add("methods", "must be \"\" or \"POST\""),
        }
    }
    for (name, v, slot) in [
        ("start_kw", &input.start_kw, &mut row.start_kw),
        ("success_kw", &input.success_kw, &mut row.success_kw),
        ("failure_kw", &input.failure_kw, &mut row.failure_kw),
    ] {
        if let Some(k) = text(fields, name, v, MAX_KW) {
            *slot = k;
        }
    }
    if let Some(b) = input.filter_body {
        row.filter_body = b;
    }
    if let Some(u) = &input.unique {
        for f in u {
            if !matches!(f.as_str(), "name" | "slug" | "tags" | "timeout" | "grace") {
                fields.add(
                    "unique",
                    "may list only name, slug, tags, timeout and grace",
                );
            }
        }
    }
    input.channels.clone()
}

/// Resolves `*`, `""` or a comma-separated list of channel ids or names.
async fn resolve_channels(db: &Db, spec: &str) -> Result<Vec<String>, AppError> {
    let all = channels::channels(db).await?;
    let spec = spec.trim();
    if spec == "*" {
        return Ok(all.into_iter().map(|c| c.id).collect());
    }
    let mut ids = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let found: Vec<&crate::alerts::model::Channel> = all
            .iter()
            .filter(|c| c.id == part || c.name == part)
            .collect();
        match found.as_slice() {
            [one] => ids.push(one.id.clone()),
            [] => {
                return Err(AppError::field(
                    "channels",
                    &format!("\"{part}\" is not a channel id or name"),
                ));
            }
            _ => {
                return Err(AppError::field(
                    "channels",
                    &format!("\"{part}\" names more than one channel; use its id"),
                ));
            }
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The existing check a `unique` upsert names, if any.
async fn find_unique(
    db: &Db,
    row: &CheckRow,
    input: &CheckInput,
) -> Result<Option<CheckRow>, AppError> {
    let unique = input.unique.as_deref().unwrap_or(&[]);
    // A field named in `unique` but not given matches nothing (as Healthchecks.io, which
    // compares with the request's value, not a default).
    let given = |f: &str| match f {
        "name" => input.name.is_some(),
        "slug" => input.slug.is_some() || input.name.is_some(),
        "tags" => input.tags.is_some(),
        "timeout" => input.timeout.is_some(),
        "grace" => input.grace.is_some(),
        _ => false,
    };
    if unique.is_empty() || !unique.iter().all(|f| given(f)) {
        return Ok(None);
    }
    let all = store::list(db, &ListFilter::default()).await?;
    Ok(all.into_iter().find(|c| {
        unique.iter().all(|f| match f.as_str() {
            "name" => c.name == row.name,
            "slug" => c.slug == row.slug,
            "tags" => c.tags == row.tags,
            "timeout" => c.timeout_s == row.timeout_s,
            "grace" => c.grace_s == row.grace_s,
            _ => false,
        })
    }))
}

fn summary(c: &CheckRow) -> String {
    let when = if c.kind == "cron" {
        format!("schedule={} tz={}", c.schedule, c.tz)
    } else {
        format!("timeout={}s", c.timeout_s)
    };
    format!(
        "name={} slug={} {when} grace={}s",
        c.name, c.slug, c.grace_s
    )
}

/// Creates a check, or with `unique` updates the one it names; true when created.
pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &CheckInput,
) -> Result<(CheckRow, bool), AppError> {
    let now = now_ms();
    let mut row = blank(now);
    let mut fields = Fields::default();
    let channel_spec = apply_input(&mut row, input, &mut fields);
    fields.finish()?;
    if input.slug.is_none() {
        row.slug = model::slugify(&row.name);
    }
    if let Some(existing) = find_unique(db, &row, input).await? {
        let updated = update(db, actor, &existing.id, input).await?;
        return Ok((updated, false));
    }
    if store::count(db).await? >= MAX_CHECKS {
        return Err(AppError::forbidden("Check limit exceeded"));
    }
    let channel_ids = match &channel_spec {
        Some(s) => Some(resolve_channels(db, s).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    store::insert(&mut tx, &row).await?;
    if let Some(ids) = &channel_ids {
        store::set_channels(&mut tx, &row.id, ids).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "heartbeat.create",
            format!("check:{}", row.id),
            summary(&row),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((row, true))
}

/// Changes the given settings of a check.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: &str,
    input: &CheckInput,
) -> Result<CheckRow, AppError> {
    let backend = db.backend();
    // Channels are resolved before the transaction (no second connection while it is open).
    let channel_ids = match &input.channels {
        Some(s) => Some(resolve_channels(db, s).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    let mut row = store::find_for_update(&mut tx, backend, id)
        .await?
        .ok_or_else(|| AppError::not_found("This check"))?;
    let mut fields = Fields::default();
    apply_input(&mut row, input, &mut fields);
    fields.finish()?;
    let spec = row.spec();
    let state = row.state();
    row.set_state(&spec, &state);
    store::update(&mut tx, &row).await?;
    if let Some(ids) = &channel_ids {
        store::set_channels(&mut tx, &row.id, ids).await?;
    }
    audit::store::append(
        &mut tx,
        backend,
        actor.entry(
            "heartbeat.update",
            format!("check:{}", row.id),
            summary(&row),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes a check with its log; returns it as it was.
pub async fn delete(db: &Db, actor: &Actor, id: &str) -> Result<CheckRow, AppError> {
    let mut tx = db.begin().await?;
    let row = store::find_for_update(&mut tx, db.backend(), id)
        .await?
        .ok_or_else(|| AppError::not_found("This check"))?;
    store::delete(&mut tx, id).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("heartbeat.delete", format!("check:{id}"), summary(&row)),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Pauses (`resume == false`) or resumes a check. Resuming a check that is not paused is a
/// conflict, as in Healthchecks.io.
pub async fn set_paused(
    db: &Db,
    actor: &Actor,
    id: &str,
    paused: bool,
) -> Result<CheckRow, AppError> {
    let backend = db.backend();
    let mut tx = db.begin().await?;
    let mut row = store::find_for_update(&mut tx, backend, id)
        .await?
        .ok_or_else(|| AppError::not_found("This check"))?;
    let spec = row.spec();
    let mut state = row.state();
    let flip = if paused {
        rules::pause(&mut state)
    } else {
        match rules::resume(&mut state) {
            Some(f) => Some(f),
            None => {
                return Err(AppError::conflict(
                    "not_paused",
                    "This check is not paused.",
                ));
            }
        }
    };
    row.set_state(&spec, &state);
    store::update(&mut tx, &row).await?;
    if let Some(f) = flip {
        notify::on_flip(&mut tx, backend, actor, &row, &f, now_ms()).await?;
    }
    tx.commit().await?;
    crate::status::service::forget(db);
    Ok(row)
}
