//! Reminders: while a heartbeat check or a monitor stays down, its channels hear of it again
//! every `[monitoring] reminder_hours`. A reminder is recorded like a flip that keeps the status
//! (`down → down`, reason `reminder`), so it is sent once per channel by the same durable path,
//! is held by maintenance windows, and is not listed among the flips.

use sqlx::Row as _;

use super::notify::{self, Change};
use opsdesk_core::audit::Actor;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

/// Sends the reminders due at `now`; returns how many checks were reminded of.
pub async fn send_due(db: &Db, every_hours: i64, now: i64) -> Result<usize, AppError> {
    if every_hours <= 0 {
        return Ok(0);
    }
    let every = every_hours * 3_600_000;
    // Down things with their name and when their channels last heard of them.
    let rows = sqlx::query(
        "SELECT d.id, d.name, d.kind, (SELECT MAX(n.created) FROM alert_notifications n WHERE n.check_id = d.id) AS last \
         FROM (SELECT id, name, 'check' AS kind FROM hb_checks WHERE status = 'down' \
               UNION ALL SELECT id, name, 'monitor' AS kind FROM monitors WHERE status = 'down') d",
    )
    .fetch_all(db.read())
    .await?;
    let mut sent = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let name: String = r.try_get("name")?;
        let last: Option<i64> = r.try_get("last")?;
        // Never notified (no channels then, or held by maintenance): nothing to repeat.
        let Some(last) = last else { continue };
        if now - last < every {
            continue;
        }
        let kind: String = r.try_get("kind")?;
        let mut tx = db.begin().await?;
        // Re-read under lock: a ping or run may have brought it back meanwhile.
        let still_down = if kind == "check" {
            crate::heartbeats::store::find_for_update(&mut tx, db.backend(), &id)
                .await?
                .is_some_and(|c| c.status == "down")
        } else {
            crate::uptime::store::find_for_update(&mut tx, db.backend(), &id)
                .await?
                .is_some_and(|m| m.status == "down")
        };
        if !still_down {
            continue;
        }
        let change = Change {
            id: &id,
            name: &name,
            old: "down",
            new: "down",
            reason: "reminder",
            notifies: true,
        };
        notify::record(&mut tx, db.backend(), &Actor::system(), &change, now).await?;
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}
