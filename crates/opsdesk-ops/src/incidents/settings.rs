//! Incident settings: severity labels, and whether a check or monitor going down declares an
//! incident.

use opsdesk_core::audit::{self, Actor};
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};

use super::rules;
use super::service::text;
use super::store;

/// Renames a severity (admins).
pub async fn set_severity_label(
    db: &Db,
    actor: &Actor,
    level: i64,
    label: &str,
) -> Result<(), AppError> {
    let mut f = Fields::default();
    let label = text(&mut f, "label", label, 200, true);
    if !rules::SEVERITIES.contains(&level) {
        f.add("level", "must be 1 to 4");
    }
    f.finish()?;
    let mut tx = db.begin().await?;
    store::set_severity_label(&mut tx, level, &label).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "incident.severity.label",
            format!("severity:{level}"),
            label,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A check's or monitor's incident settings: its auto-declare severity (0: off) and how many
/// live incidents it is linked to.
pub async fn watch_of(db: &Db, kind: &str, id: &str) -> Result<(i64, usize), AppError> {
    // A page view: read from the read pool, no transaction on the writer.
    let auto = store::auto_declare(db.read(), id).await?.unwrap_or(0);
    let live = store::live_linked(db.read(), kind, id).await?.len();
    Ok((auto, live))
}

/// Sets whether a check or monitor going down declares an incident (severity 0: it does not).
pub async fn set_auto_declare(
    db: &Db,
    actor: &Actor,
    source_id: &str,
    severity: i64,
) -> Result<(), AppError> {
    let exists = crate::heartbeats::store::find(db, source_id)
        .await?
        .is_some()
        || crate::uptime::store::find(db, source_id).await?.is_some();
    if !exists {
        return Err(AppError::not_found("This check or monitor"));
    }
    if severity != 0 && !rules::SEVERITIES.contains(&severity) {
        return Err(AppError::field("severity", "must be 0 (off) or 1 to 4"));
    }
    let mut tx = db.begin().await?;
    store::set_auto_declare(&mut tx, source_id, (severity > 0).then_some(severity)).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "incident.auto_declare",
            format!("check:{source_id}"),
            format!("severity={severity}"),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
