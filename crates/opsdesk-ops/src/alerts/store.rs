//! Alert channels and the notifications sent on them, in the database (SQL only).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::model::Channel;
use opsdesk_core::db::{Db, Tx};

fn channel_from(r: &AnyRow) -> Result<Channel, sqlx::Error> {
    Ok(Channel {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        target: r.try_get("target")?,
    })
}

pub async fn channels(db: &Db) -> Result<Vec<Channel>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, kind, target FROM alert_channels ORDER BY LOWER(name), created",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter().map(channel_from).collect()
}

pub async fn channel(db: &Db, id: &str) -> Result<Option<Channel>, sqlx::Error> {
    let row = sqlx::query("SELECT id, name, kind, target FROM alert_channels WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(channel_from).transpose()
}

pub async fn insert_channel(tx: &mut Tx, c: &Channel, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_channels (id, name, kind, target, created) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.target)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_channel(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM hb_check_channels WHERE channel_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let r = sqlx::query("DELETE FROM alert_channels WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The channels a check notifies, read in the flip's transaction.
pub async fn channels_of(tx: &mut Tx, check_id: &str) -> Result<Vec<Channel>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.name, c.kind, c.target FROM alert_channels c \
         JOIN hb_check_channels l ON l.channel_id = c.id WHERE l.check_id = $1 ORDER BY c.id",
    )
    .bind(check_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(channel_from).collect()
}

/// Records a notification to send; false when this flip already has one on this channel.
#[allow(clippy::too_many_arguments)]
pub async fn insert_notification(
    tx: &mut Tx,
    id: &str,
    flip_id: &str,
    check_id: &str,
    channel_id: &str,
    state: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO alert_notifications (id, flip_id, check_id, channel_id, created, state, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $5) ON CONFLICT (flip_id, channel_id) DO NOTHING",
    )
    .bind(id)
    .bind(flip_id)
    .bind(check_id)
    .bind(channel_id)
    .bind(now)
    .bind(state)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// A notification with what it is about.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: String,
    pub state: String,
    pub check_id: String,
    pub channel_id: String,
    pub old_status: String,
    pub new_status: String,
    pub reason: String,
    pub at: i64,
}

pub async fn pending(db: &Db, id: &str) -> Result<Option<Pending>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT n.id, n.state, n.check_id, n.channel_id, f.old_status, f.new_status, f.reason, \
         f.created FROM alert_notifications n JOIN hb_flips f ON f.id = n.flip_id WHERE n.id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await?;
    row.map(|r| {
        Ok(Pending {
            id: r.try_get("id")?,
            state: r.try_get("state")?,
            check_id: r.try_get("check_id")?,
            channel_id: r.try_get("channel_id")?,
            old_status: r.try_get("old_status")?,
            new_status: r.try_get("new_status")?,
            reason: r.try_get("reason")?,
            at: r.try_get("created")?,
        })
    })
    .transpose()
}

pub async fn mark(
    db: &Db,
    id: &str,
    state: &str,
    error: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_notifications SET state = $2, error = $3, updated = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(error)
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Whether a later notification of the same check was already sent on the same channel: then
/// this one is old news (it waited on retries), and sending it now would tell the channel of a
/// state that has passed — a stale "down" after the "up". Ids are time-ordered UUIDv7s.
pub async fn superseded(db: &Db, p: &Pending) -> Result<bool, sqlx::Error> {
    let later = sqlx::query(
        "SELECT id FROM alert_notifications WHERE check_id = $1 AND channel_id = $2 \
         AND id > $3 AND state = 'sent' LIMIT 1",
    )
    .bind(&p.check_id)
    .bind(&p.channel_id)
    .bind(&p.id)
    .fetch_optional(db.read())
    .await?;
    Ok(later.is_some())
}

pub async fn mark_mailed(
    tx: &mut Tx,
    id: &str,
    outbox_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_notifications SET state = 'sent', error = NULL, outbox_id = $2, updated = $3 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(outbox_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A check's notifications as its page lists them, newest first.
#[derive(Clone, Debug)]
pub struct Sent {
    pub created: i64,
    pub channel: String,
    pub kind: String,
    pub new_status: String,
    /// The notification's state; for email, the outgoing message's once it is in the outbox.
    pub state: String,
    pub error: Option<String>,
}

pub async fn sent_for_check(db: &Db, check_id: &str, limit: i64) -> Result<Vec<Sent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT n.created, COALESCE(c.name, '(deleted channel)') AS channel, \
         COALESCE(c.kind, '') AS kind, f.new_status, COALESCE(o.state, n.state) AS state, \
         COALESCE(o.last_error, n.error) AS error \
         FROM alert_notifications n JOIN hb_flips f ON f.id = n.flip_id \
         LEFT JOIN alert_channels c ON c.id = n.channel_id \
         LEFT JOIN mail_outbox o ON o.id = n.outbox_id \
         WHERE n.check_id = $1 ORDER BY n.created DESC LIMIT $2",
    )
    .bind(check_id)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Sent {
                created: r.try_get("created")?,
                channel: r.try_get("channel")?,
                kind: r.try_get("kind")?,
                new_status: r.try_get("new_status")?,
                state: r.try_get("state")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}
