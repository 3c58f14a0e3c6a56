//! Reported facts, thresholds and current breaks in the database (SQL only).

use sqlx::Row as _;

use opsdesk_core::db::{Db, Tx};

/// A fact as stored: its JSON value and when it was last reported.
#[derive(Clone, Debug)]
pub struct FactRow {
    pub app: String,
    pub key: String,
    pub value: String,
    pub updated: i64,
}

pub async fn upsert_fact(
    tx: &mut Tx,
    app: &str,
    key: &str,
    value: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO env_facts (app, key, value, updated) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (app, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
    )
    .bind(app)
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn facts_of(tx: &mut Tx, app: &str) -> Result<Vec<FactRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT app, key, value, updated FROM env_facts WHERE app = $1")
        .bind(app)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(fact_from).collect()
}

fn fact_from(r: &sqlx::any::AnyRow) -> Result<FactRow, sqlx::Error> {
    Ok(FactRow {
        app: r.try_get("app")?,
        key: r.try_get("key")?,
        value: r.try_get("value")?,
        updated: r.try_get("updated")?,
    })
}

pub async fn all_facts(db: &Db) -> Result<Vec<FactRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT app, key, value, updated FROM env_facts ORDER BY app, key")
        .fetch_all(db.read())
        .await?;
    rows.iter().map(fact_from).collect()
}

/// A threshold: which app (or `*`) and its rule.
#[derive(Clone, Debug)]
pub struct ThresholdRow {
    pub id: String,
    pub app: String,
    pub rule: String,
}

fn threshold_from(r: &sqlx::any::AnyRow) -> Result<ThresholdRow, sqlx::Error> {
    Ok(ThresholdRow {
        id: r.try_get("id")?,
        app: r.try_get("app")?,
        rule: r.try_get("rule")?,
    })
}

pub async fn thresholds(db: &Db) -> Result<Vec<ThresholdRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, app, rule FROM env_thresholds ORDER BY app, rule")
        .fetch_all(db.read())
        .await?;
    rows.iter().map(threshold_from).collect()
}

pub async fn thresholds_for(tx: &mut Tx, app: &str) -> Result<Vec<ThresholdRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, app, rule FROM env_thresholds WHERE app = $1 OR app = '*'")
        .bind(app)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(threshold_from).collect()
}

pub async fn threshold(db: &Db, id: &str) -> Result<Option<ThresholdRow>, sqlx::Error> {
    let r = sqlx::query("SELECT id, app, rule FROM env_thresholds WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    r.as_ref().map(threshold_from).transpose()
}

pub async fn insert_threshold(tx: &mut Tx, t: &ThresholdRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO env_thresholds (id, app, rule, created) VALUES ($1, $2, $3, $4)")
        .bind(&t.id)
        .bind(&t.app)
        .bind(&t.rule)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete_threshold(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    for sql in [
        "DELETE FROM env_breaks WHERE threshold_id = $1",
        "DELETE FROM hb_check_channels WHERE check_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    let r = sqlx::query("DELETE FROM env_thresholds WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Thresholds broken now for an app: (threshold id, since).
pub async fn breaks_of(tx: &mut Tx, app: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT threshold_id, since FROM env_breaks WHERE app = $1")
        .bind(app)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("threshold_id")?, r.try_get("since")?)))
        .collect()
}

/// Every break: (threshold id, app, since, detail).
pub async fn all_breaks(db: &Db) -> Result<Vec<(String, String, i64, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT threshold_id, app, since, detail FROM env_breaks")
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("threshold_id")?,
                r.try_get("app")?,
                r.try_get("since")?,
                r.try_get("detail")?,
            ))
        })
        .collect()
}

/// Records a break; true when it is new (false: it was broken already, its detail is updated).
pub async fn set_break(
    tx: &mut Tx,
    threshold_id: &str,
    app: &str,
    since: i64,
    detail: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO env_breaks (threshold_id, app, since, detail) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (threshold_id, app) DO NOTHING",
    )
    .bind(threshold_id)
    .bind(app)
    .bind(since)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    if r.rows_affected() == 0 {
        sqlx::query("UPDATE env_breaks SET detail = $3 WHERE threshold_id = $1 AND app = $2")
            .bind(threshold_id)
            .bind(app)
            .bind(detail)
            .execute(&mut **tx)
            .await?;
    }
    Ok(r.rows_affected() > 0)
}

/// Clears a break; true when there was one.
pub async fn clear_break(tx: &mut Tx, threshold_id: &str, app: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM env_breaks WHERE threshold_id = $1 AND app = $2")
        .bind(threshold_id)
        .bind(app)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() > 0)
}
