//! The status page's use cases: what it shows now (components with the status of what they
//! follow, open and recent incidents, maintenance windows) and the changes staff make —
//! components, incidents with their updates, maintenance windows — validated and audited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;

use super::rules;
use super::store::{self, ComponentRow, NoticeRow};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

/// A component with its status now.
#[derive(Clone, Debug)]
pub struct Component {
    pub row: ComponentRow,
    pub status: &'static str,
}

/// A notice with its updates (newest first: id, status, body, time) and components (with the
/// status an incident sets them to while open, '' when none).
#[derive(Clone, Debug)]
pub struct Notice {
    pub row: NoticeRow,
    pub status: String,
    pub updates: Vec<(String, String, String, i64)>,
    pub components: Vec<String>,
    pub impacts: Vec<(String, String)>,
}

/// Everything the page and the JSON show.
#[derive(Clone, Debug)]
pub struct Page {
    pub components: Vec<Component>,
    pub incidents: Vec<Notice>,
    pub maintenances: Vec<Notice>,
    pub indicator: &'static str,
    pub description: &'static str,
    pub updated: i64,
}

fn known(list: &[&str], v: &str) -> bool {
    list.contains(&v)
}

/// How long a built page is served again (the page and its JSON are public and read often:
/// every client polling `summary.json`, every visitor).
const CACHE_MS: i64 = 5_000;

type PageCache = HashMap<(usize, i64), (i64, Arc<Page>)>;

fn cache() -> &'static Mutex<PageCache> {
    static CACHE: OnceLock<Mutex<PageCache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Drops this database's cached page (after a change made here; other instances see a change
/// within [`CACHE_MS`]).
pub fn forget(db: &Db) {
    if let Ok(mut c) = cache().lock() {
        c.retain(|k, _| k.0 != db.identity());
    }
}

/// The page now, built at most every few seconds.
pub async fn page_cached(db: &Db, now: i64, days: i64) -> Result<Arc<Page>, AppError> {
    let key = (db.identity(), days);
    if let Some((at, p)) = cache().lock().ok().and_then(|c| c.get(&key).cloned())
        && now - at < CACHE_MS
        && now >= at
    {
        return Ok(p);
    }
    let p = Arc::new(page(db, now, days).await?);
    if let Ok(mut c) = cache().lock() {
        c.insert(key, (now, p.clone()));
    }
    Ok(p)
}

/// The page now: incidents of the last `days` and open ones, maintenance windows not long over.
pub async fn page(db: &Db, now: i64, days: i64) -> Result<Page, AppError> {
    let rows = store::components(db).await?;
    // Only what the components follow is read.
    let mut checks: HashMap<String, String> = HashMap::new();
    let mut monitors: HashMap<String, String> = HashMap::new();
    for c in &rows {
        match (c.source_kind.as_str(), c.source_id.as_deref()) {
            ("check", Some(id)) => {
                if let Some(ch) = crate::heartbeats::store::find(db, id).await? {
                    let shown = crate::heartbeats::rules::shown(&ch.spec(), &ch.state(), now);
                    checks.insert(ch.id, shown.as_str().to_string());
                }
            }
            ("monitor", Some(id)) => {
                if let Some(m) = crate::uptime::store::find(db, id).await? {
                    monitors.insert(m.id, m.status);
                }
            }
            _ => {}
        }
    }
    let since = now - days * 86_400_000;
    let (updates, links) = store::details(db, since).await?;
    let notice = |row: NoticeRow| {
        let status = if row.kind == "maintenance" {
            rules::maintenance_phase(
                row.starts_at.unwrap_or(0),
                row.ends_at.unwrap_or(0),
                row.resolved_at,
                now,
            )
            .to_string()
        } else {
            row.status.clone()
        };
        Notice {
            updates: updates
                .iter()
                .filter(|u| u.1 == row.id)
                .map(|u| (u.0.clone(), u.2.clone(), u.3.clone(), u.4))
                .collect(),
            components: links
                .iter()
                .filter(|l| l.0 == row.id)
                .map(|l| l.1.clone())
                .collect(),
            impacts: links
                .iter()
                .filter(|l| l.0 == row.id && !l.2.is_empty())
                .map(|l| (l.1.clone(), l.2.clone()))
                .collect(),
            status,
            row,
        }
    };
    let incidents: Vec<Notice> = store::notices(db, "incident", since)
        .await?
        .into_iter()
        .map(notice)
        .collect();
    let maintenances: Vec<Notice> = store::notices(db, "maintenance", since)
        .await?
        .into_iter()
        .map(notice)
        .collect();
    // Open incidents set their affected components to (at least) the impact they name.
    let mut hit: HashMap<&str, &str> = HashMap::new();
    for i in incidents.iter().filter(|i| rules::is_open(&i.status)) {
        for (c, impact) in &i.impacts {
            let e = hit.entry(c.as_str()).or_insert(impact.as_str());
            *e = rules::worse(e, impact);
        }
    }
    let maintained: Vec<&String> = maintenances
        .iter()
        .filter(|m| m.status == "in_progress")
        .flat_map(|m| m.components.iter())
        .collect();
    let components: Vec<Component> = rows
        .into_iter()
        .map(|row| {
            let followed = match (row.source_kind.as_str(), row.source_id.as_ref()) {
                ("check", Some(id)) => checks.get(id).map(|s| rules::from_check(s)),
                ("monitor", Some(id)) => monitors.get(id).map(|s| rules::from_check(s)),
                _ => None,
            };
            let mut status = followed.unwrap_or_else(|| {
                rules::COMPONENT_STATUSES
                    .iter()
                    .find(|s| **s == row.manual_status)
                    .copied()
                    .unwrap_or("operational")
            });
            if maintained.contains(&&row.id) && status == "operational" {
                status = "under_maintenance";
            }
            if let Some(impact) = hit.get(row.id.as_str()) {
                status = rules::worse(status, impact);
            }
            Component { row, status }
        })
        .collect();
    let statuses: Vec<&str> = components.iter().map(|c| c.status).collect();
    let impacts: Vec<&str> = incidents
        .iter()
        .filter(|i| rules::is_open(&i.status))
        .map(|i| i.row.impact.as_str())
        .collect();
    let (indicator, description) = rules::overall(&statuses, &impacts);
    let updated = components
        .iter()
        .map(|c| c.row.updated)
        .chain(incidents.iter().map(|i| i.row.updated))
        .chain(maintenances.iter().map(|m| m.row.updated))
        .max()
        .unwrap_or(0);
    Ok(Page {
        components,
        incidents,
        maintenances,
        indicator,
        description,
        updated,
    })
}

/// A component as staff send it.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentInput {
    pub name: String,
    /// The group it is shown in (none when empty).
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub description: String,
    /// `manual` (default), `check` (a heartbeat check) or `monitor`.
    #[serde(default)]
    pub source: String,
    /// The followed check's or monitor's id.
    pub source_id: Option<String>,
    /// For manual components: operational, degraded_performance, partial_outage, major_outage or
    /// under_maintenance.
    #[serde(default)]
    pub status: Option<String>,
    /// Order on the page (smaller first).
    #[serde(default)]
    pub position: Option<i64>,
}

async fn checked_component(
    db: &Db,
    input: &ComponentInput,
    row: &mut ComponentRow,
) -> Result<(), AppError> {
    let mut f = Fields::default();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        f.add("name", "must be 1 to 100 characters");
    }
    if input.group.chars().count() > 100 || input.description.chars().count() > 1_000 {
        f.add(
            "group",
            "group at most 100 characters, description at most 1,000",
        );
    }
    let source = if input.source.trim().is_empty() {
        "manual"
    } else {
        input.source.trim()
    };
    match (source, input.source_id.as_deref()) {
        ("manual", _) => {}
        ("check", Some(id)) => {
            if crate::heartbeats::store::find(db, id).await?.is_none() {
                f.add("source_id", "is not a heartbeat check's id");
            }
        }
        ("monitor", Some(id)) => {
            if crate::uptime::store::find(db, id).await?.is_none() {
                f.add("source_id", "is not a monitor's id");
            }
        }
        ("check" | "monitor", None) => f.add("source_id", "names the check or monitor to follow"),
        _ => f.add("source", "must be manual, check or monitor"),
    }
    if let Some(s) = &input.status
        && !known(&rules::COMPONENT_STATUSES, s)
    {
        f.add("status", "must be operational, degraded_performance, partial_outage, major_outage or under_maintenance");
    }
    f.finish()?;
    row.name = name.to_string();
    row.group_name = input.group.trim().to_string();
    row.description = input.description.trim().to_string();
    row.source_kind = source.to_string();
    row.source_id = (source != "manual")
        .then(|| input.source_id.clone())
        .flatten();
    if let Some(s) = &input.status {
        row.manual_status = s.clone();
    }
    if let Some(p) = input.position {
        row.position = p;
    }
    row.updated = now_ms();
    Ok(())
}

pub async fn create_component(
    db: &Db,
    actor: &Actor,
    input: &ComponentInput,
) -> Result<ComponentRow, AppError> {
    let now = now_ms();
    let mut row = ComponentRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: String::new(),
        group_name: String::new(),
        description: String::new(),
        position: store::components(db).await?.len() as i64,
        source_kind: "manual".into(),
        source_id: None,
        manual_status: "operational".into(),
        created: now,
        updated: now,
    };
    checked_component(db, input, &mut row).await?;
    let mut tx = db.begin().await?;
    store::insert_component(&mut tx, &row).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "status.component.create",
            format!("component:{}", row.id),
            format!("name={} source={}", row.name, row.source_kind),
        ),
    )
    .await?;
    tx.commit().await?;
    forget(db);
    Ok(row)
}

pub async fn update_component(
    db: &Db,
    actor: &Actor,
    id: &str,
    input: &ComponentInput,
) -> Result<ComponentRow, AppError> {
    let mut row = store::components(db)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::not_found("This component"))?;
    checked_component(db, input, &mut row).await?;
    let mut tx = db.begin().await?;
    store::update_component(&mut tx, &row).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "status.component.update",
            format!("component:{id}"),
            format!("name={} status={}", row.name, row.manual_status),
        ),
    )
    .await?;
    tx.commit().await?;
    forget(db);
    Ok(row)
}

pub async fn delete_component(db: &Db, actor: &Actor, id: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store::delete_component(&mut tx, id).await? {
        return Err(AppError::not_found("This component"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("status.component.delete", format!("component:{id}"), ""),
    )
    .await?;
    tx.commit().await?;
    forget(db);
    Ok(())
}

/// An incident or maintenance window as staff post it.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    pub name: String,
    /// What is known, for people reading the page.
    pub body: String,
    /// Incidents: investigating (default), identified, monitoring or resolved.
    #[serde(default)]
    pub status: Option<String>,
    /// Incidents: none, minor (default), major or critical.
    #[serde(default)]
    pub impact: Option<String>,
    /// Affected component ids.
    #[serde(default)]
    pub components: Vec<String>,
    /// Maintenance: start and end, RFC 3339 (`2026-11-24T22:00:00Z`).
    #[serde(default)]
    pub starts_at: Option<String>,
    #[serde(default)]
    pub ends_at: Option<String>,
}

fn time(f: &mut Fields, name: &str, v: &Option<String>) -> Option<i64> {
    match v.as_deref().map(str::parse::<jiff::Timestamp>) {
        Some(Ok(t)) => Some(t.as_millisecond()),
        Some(Err(_)) => {
            f.add(name, "must be a time such as 2026-11-24T22:00:00Z");
            None
        }
        None => {
            f.add(name, "is needed for a maintenance window");
            None
        }
    }
}

/// Posts an incident (`kind = incident`) or schedules a maintenance window.
pub async fn create_notice(
    db: &Db,
    actor: &Actor,
    kind: &str,
    input: &NoticeInput,
) -> Result<NoticeRow, AppError> {
    let mut f = Fields::default();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        f.add("name", "must be 1 to 200 characters");
    }
    if input.body.trim().is_empty() || input.body.chars().count() > 10_000 {
        f.add("body", "must be 1 to 10,000 characters");
    }
    let status = input
        .status
        .clone()
        .unwrap_or_else(|| "investigating".into());
    let impact = input.impact.clone().unwrap_or_else(|| "minor".into());
    let (mut starts, mut ends) = (None, None);
    if kind == "maintenance" {
        starts = time(&mut f, "starts_at", &input.starts_at);
        ends = time(&mut f, "ends_at", &input.ends_at);
        if let (Some(s), Some(e)) = (starts, ends)
            && e <= s
        {
            f.add("ends_at", "must be after starts_at");
        }
    } else {
        if !known(&rules::INCIDENT_STATUSES, &status) {
            f.add(
                "status",
                "must be investigating, identified, monitoring or resolved",
            );
        }
        if !known(&rules::IMPACTS, &impact) {
            f.add("impact", "must be none, minor, major or critical");
        }
    }
    let all = store::components(db).await?;
    for c in &input.components {
        if !all.iter().any(|a| &a.id == c) {
            f.add("components", &format!("\"{c}\" is not a component id"));
        }
    }
    f.finish()?;
    let now = now_ms();
    let row = NoticeRow {
        id: uuid::Uuid::new_v4().to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
        status: if kind == "maintenance" {
            "scheduled".into()
        } else {
            status.clone()
        },
        impact: if kind == "maintenance" {
            "maintenance".into()
        } else {
            impact
        },
        starts_at: starts,
        ends_at: ends,
        created: now,
        updated: now,
        resolved_at: (kind == "incident" && status == "resolved").then_some(now),
    };
    let mut tx = db.begin().await?;
    store::insert_notice(&mut tx, &row).await?;
    store::add_update(
        &mut tx,
        &uuid::Uuid::now_v7().to_string(),
        &row.id,
        &row.status,
        input.body.trim(),
        now,
    )
    .await?;
    store::set_notice_components(&mut tx, &row.id, &input.components).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            &format!("status.{kind}.create"),
            format!("notice:{}", row.id),
            format!(
                "name={} status={} impact={}",
                row.name, row.status, row.impact
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    forget(db);
    Ok(row)
}

/// An update to an incident (a new status and what is known), or ending a window early.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// investigating, identified, monitoring or resolved (maintenance: completed).
    pub status: String,
    pub body: String,
    #[serde(default)]
    pub impact: Option<String>,
}

pub async fn update_notice(
    db: &Db,
    actor: &Actor,
    id: &str,
    input: &UpdateInput,
) -> Result<NoticeRow, AppError> {
    let mut tx = db.begin().await?;
    let mut n = store::notice(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("This notice"))?;
    let mut f = Fields::default();
    let ok_status = if n.kind == "maintenance" {
        input.status == "completed"
    } else {
        known(&rules::INCIDENT_STATUSES, &input.status)
    };
    if !ok_status {
        f.add(
            "status",
            "must be investigating, identified, monitoring or resolved (maintenance: completed)",
        );
    }
    if input.body.trim().is_empty() || input.body.chars().count() > 10_000 {
        f.add("body", "must be 1 to 10,000 characters");
    }
    if let Some(i) = &input.impact
        && !known(&rules::IMPACTS, i)
    {
        f.add("impact", "must be none, minor, major or critical");
    }
    f.finish()?;
    let now = now_ms();
    n.status = input.status.clone();
    if let Some(i) = &input.impact {
        n.impact = i.clone();
    }
    n.updated = now;
    if matches!(input.status.as_str(), "resolved" | "completed") && n.resolved_at.is_none() {
        n.resolved_at = Some(now);
    }
    store::update_notice(&mut tx, &n).await?;
    store::add_update(
        &mut tx,
        &uuid::Uuid::now_v7().to_string(),
        id,
        &n.status,
        input.body.trim(),
        now,
    )
    .await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "status.notice.update",
            format!("notice:{id}"),
            format!("status={}", n.status),
        ),
    )
    .await?;
    tx.commit().await?;
    forget(db);
    Ok(n)
}
