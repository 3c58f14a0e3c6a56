//! Status page subscribers in the database (SQL only).

use sqlx::Row as _;

use opsdesk_core::db::{Db, Tx};

#[derive(Clone, Debug)]
pub struct SubscriberRow {
    pub id: String,
    pub email: String,
    pub token: String,
    pub confirmed: bool,
}

/// Adds a pending subscriber, or gives an existing one a fresh token; returns the row.
pub async fn upsert(
    tx: &mut Tx,
    id: &str,
    email: &str,
    token: &str,
    now: i64,
) -> Result<SubscriberRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO status_subscribers (id, email, token, confirmed, created) VALUES ($1, $2, $3, 0, $4) \
         ON CONFLICT (email) DO UPDATE SET token = $3",
    )
    .bind(id)
    .bind(email)
    .bind(token)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let r =
        sqlx::query("SELECT id, email, token, confirmed FROM status_subscribers WHERE email = $1")
            .bind(email)
            .fetch_one(&mut **tx)
            .await?;
    Ok(SubscriberRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        token: r.try_get("token")?,
        confirmed: r.try_get::<i64, _>("confirmed")? != 0,
    })
}

pub async fn by_token(db: &Db, token: &str) -> Result<Option<SubscriberRow>, sqlx::Error> {
    let r =
        sqlx::query("SELECT id, email, token, confirmed FROM status_subscribers WHERE token = $1")
            .bind(token)
            .fetch_optional(db.read())
            .await?;
    r.map(|r| {
        Ok(SubscriberRow {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            token: r.try_get("token")?,
            confirmed: r.try_get::<i64, _>("confirmed")? != 0,
        })
    })
    .transpose()
}

pub async fn confirm(tx: &mut Tx, token: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE status_subscribers SET confirmed = 1, confirmed_at = $2 WHERE token = $1",
    )
    .bind(token)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn remove(tx: &mut Tx, token: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM status_subscribers WHERE token = $1")
        .bind(token)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Confirmed subscribers: (email, token).
pub async fn confirmed(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT email, token FROM status_subscribers WHERE confirmed = 1 ORDER BY created",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("email")?, r.try_get("token")?)))
        .collect()
}

pub async fn count_confirmed(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM status_subscribers WHERE confirmed = 1")
        .fetch_one(db.read())
        .await
}
