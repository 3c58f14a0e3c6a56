//! Alerts held by a maintenance window. When the window no longer covers the check, the newest
//! held news per channel is sent if it is still true and the channel has not heard it already
//! (a check that went down in the window and is still down is announced; one that went down
//! and came back within it is not); older held news is marked skipped.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Row as _;

use super::notify;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_core::jobs::{NewJob, store as jobs};

/// The status a check, monitor or environment threshold has now (`up` or `down`), if it exists.
async fn current(tx: &mut opsdesk_core::db::Tx, id: &str) -> Result<Option<String>, sqlx::Error> {
    let s: Option<String> = sqlx::query_scalar(
        "SELECT status FROM hb_checks WHERE id = $1 UNION ALL SELECT status FROM monitors WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    if s.is_some() {
        return Ok(s);
    }
    let broken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM env_breaks WHERE threshold_id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM env_thresholds WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok((exists > 0).then(|| if broken > 0 { "down" } else { "up" }.to_string()))
}

/// Releases what no window holds any more; returns how many notifications were sent.
pub async fn release(db: &Db, now: i64) -> Result<usize, AppError> {
    let rows = sqlx::query(
        "SELECT n.id, n.check_id, n.channel_id, f.new_status FROM alert_notifications n \
         JOIN hb_flips f ON f.id = n.flip_id WHERE n.state = 'held' ORDER BY n.created",
    )
    .fetch_all(db.read())
    .await?;
    // Per (check, channel): every held id, oldest first, with its news.
    let mut groups: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.try_get("check_id")?, r.try_get("channel_id")?))
            .or_default()
            .push((r.try_get("id")?, r.try_get("new_status")?));
    }
    let mut sent = 0;
    for ((check, channel), held) in groups {
        let mut tx = db.begin().await?;
        if crate::status::store::in_maintenance(&mut tx, &check, now).await? {
            continue;
        }
        let status = current(&mut tx, &check).await?;
        let heard: Option<String> = sqlx::query_scalar(
            "SELECT f.new_status FROM alert_notifications n JOIN hb_flips f ON f.id = n.flip_id \
             WHERE n.check_id = $1 AND n.channel_id = $2 AND n.state NOT IN ('held', 'skipped') \
             ORDER BY n.created DESC LIMIT 1",
        )
        .bind(&check)
        .bind(&channel)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((last_id, news)) = held.last().cloned() else {
            continue;
        };
        // A channel that never heard anything takes "up" for granted.
        let already = heard.unwrap_or_else(|| "up".into());
        let send = status.as_deref() == Some(news.as_str()) && news != already;
        for (id, _) in &held {
            let state = if send && *id == last_id {
                "queued"
            } else {
                "skipped"
            };
            sqlx::query("UPDATE alert_notifications SET state = $2, updated = $3 WHERE id = $1")
                .bind(id)
                .bind(state)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        if send {
            let mut job = NewJob::now(notify::KIND, json!({ "notification": last_id }));
            job.max_attempts = 12;
            jobs::enqueue(&mut tx, &job).await?;
            sent += 1;
        }
        tx.commit().await?;
    }
    Ok(sent)
}
