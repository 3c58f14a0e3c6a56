//! The change freeze: scheduled windows (with their time zone) and the question every ops run
//! asks — is an action of this kind frozen right now, and by what?

use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

use super::rules::{self, Freeze, LiveIncident, Window};
use super::store::{self, WindowRow};

/// What is frozen for an action of `kind` at `now` (live incidents at or above
/// `freeze_severity`, then windows).
pub async fn current(
    db: &Db,
    freeze_severity: i64,
    kind: &str,
    now: i64,
) -> Result<Option<(Freeze, Option<String>)>, AppError> {
    if !rules::frozen_kind(kind) {
        return Ok(None);
    }
    let live_rows = store::live(db).await?;
    let live: Vec<LiveIncident> = live_rows
        .iter()
        .map(|i| LiveIncident {
            number: i.number,
            title: i.title.clone(),
            severity: i.severity,
        })
        .collect();
    let windows: Vec<Window> = store::windows(db, now)
        .await?
        .into_iter()
        .map(|w| Window {
            starts_at: w.starts_at,
            ends_at: w.ends_at,
            reason: w.reason,
        })
        .collect();
    Ok(
        rules::freeze(kind, &live, &windows, freeze_severity, now).map(|f| {
            // The incident's id, so an override lands on its timeline.
            let id = match &f {
                Freeze::Incident { number, .. } => live_rows
                    .iter()
                    .find(|i| i.number == *number)
                    .map(|i| i.id.clone()),
                Freeze::Window { .. } => None,
            };
            (f, id)
        }),
    )
}

/// Who may override a freeze: admins, and the commander of the incident causing it.
pub async fn may_override(
    db: &Db,
    user: &opsdesk_core::accounts::model::User,
    incident_id: Option<&str>,
) -> Result<bool, AppError> {
    if user.role == opsdesk_core::accounts::model::Role::Admin {
        return Ok(true);
    }
    Ok(match incident_id {
        Some(id) => store::find(db, Some(id), None)
            .await?
            .is_some_and(|i| i.commander_id.as_deref() == Some(user.id.as_str())),
        None => false,
    })
}

/// A window as entered: local date-times in a time zone.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    /// `2026-11-27T00:00` (local to `time_zone`) or an RFC 3339 time.
    pub starts_at: String,
    pub ends_at: String,
    /// IANA name, e.g. `Europe/Berlin`; default UTC.
    #[serde(default)]
    pub time_zone: String,
    pub reason: String,
}

fn local(f: &mut Fields, name: &str, v: &str, tz: &jiff::tz::TimeZone) -> Option<i64> {
    let v = v.trim();
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    match v.parse::<jiff::civil::DateTime>() {
        Ok(dt) => match dt.to_zoned(tz.clone()) {
            Ok(z) => Some(z.timestamp().as_millisecond()),
            Err(_) => {
                f.add(name, "does not exist in that time zone");
                None
            }
        },
        Err(_) => {
            f.add(name, "must be a date and time such as 2026-11-27T00:00");
            None
        }
    }
}

pub async fn add_window(db: &Db, actor: &Actor, w: &NewWindow) -> Result<WindowRow, AppError> {
    let mut f = Fields::default();
    let zone = if w.time_zone.trim().is_empty() {
        "UTC".to_string()
    } else {
        w.time_zone.trim().to_string()
    };
    let tz = match jiff::tz::TimeZone::get(&zone) {
        Ok(tz) => tz,
        Err(_) => {
            f.add("time_zone", "is not a time zone name such as Europe/Berlin");
            jiff::tz::TimeZone::UTC
        }
    };
    let starts = local(&mut f, "starts_at", &w.starts_at, &tz);
    let ends = local(&mut f, "ends_at", &w.ends_at, &tz);
    if let (Some(s), Some(e)) = (starts, ends)
        && e <= s
    {
        f.add("ends_at", "must be after starts_at");
    }
    let reason = w.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        f.add(
            "reason",
            "must be 1 to 500 characters (it is shown when changes are refused)",
        );
    }
    f.finish()?;
    let row = WindowRow {
        id: new_id(),
        starts_at: starts.unwrap_or_default(),
        ends_at: ends.unwrap_or_default(),
        time_zone: zone,
        reason: reason.to_string(),
        created_by: actor.label.clone(),
        created: now_ms(),
    };
    let mut tx = db.begin().await?;
    store::insert_window(&mut tx, &row).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "freeze.window.create",
            format!("freeze:{}", row.id),
            format!(
                "{} → {} ({}) {}",
                opsdesk_core::clock::rfc3339_ms(row.starts_at),
                opsdesk_core::clock::rfc3339_ms(row.ends_at),
                row.time_zone,
                row.reason
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn remove_window(db: &Db, actor: &Actor, id: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    if !store::delete_window(&mut tx, id).await? {
        return Err(AppError::not_found("This freeze window"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("freeze.window.delete", format!("freeze:{id}"), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
