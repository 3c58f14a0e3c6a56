//! Keys of the Healthchecks-compatible API (`X-Api-Key`, read-write or read-only; long random
//! values stored as SHA-256, shown once) and the ping key of slug URLs.

use rand::Rng as _;
use rand::distr::Alphanumeric;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use super::store;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Write,
    Read,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Write => "write",
            Scope::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s.trim() {
            "write" | "rw" | "read-write" => Some(Scope::Write),
            "read" | "ro" | "read-only" => Some(Scope::Read),
            _ => None,
        }
    }
}

/// A key as listed (never its value).
#[derive(Clone, Debug)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub prefix: String,
    pub created: i64,
}

fn random(n: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Creates a key; returns it with its value, which is shown this once.
pub async fn create(
    db: &Db,
    actor: &Actor,
    name: &str,
    scope: Scope,
) -> Result<(KeyRow, String), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field("name", "must be 1 to 100 characters"));
    }
    let secret = random(32);
    let row = KeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_string(),
        scope: scope.as_str().to_string(),
        prefix: secret[..6].to_string(),
        created: now_ms(),
    };
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO hb_api_keys (id, name, scope, prefix, hash, created) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.scope)
    .bind(&row.prefix)
    .bind(hash(&secret))
    .bind(row.created)
    .execute(&mut *tx)
    .await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "heartbeat.api_key.create",
            format!("api_key:{}", row.id),
            format!(
                "name={} scope={} prefix={}",
                row.name, row.scope, row.prefix
            ),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((row, secret))
}

/// The scope of a presented key, if it is a live one.
pub async fn verify(db: &Db, key: &str) -> Result<Option<Scope>, sqlx::Error> {
    if key.is_empty() || key.len() > 200 {
        return Ok(None);
    }
    let scope: Option<String> =
        sqlx::query_scalar("SELECT scope FROM hb_api_keys WHERE hash = $1 AND revoked IS NULL")
            .bind(hash(key))
            .fetch_optional(db.read())
            .await?;
    Ok(scope.as_deref().and_then(Scope::parse))
}

pub async fn list(db: &Db) -> Result<Vec<KeyRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, scope, prefix, created FROM hb_api_keys WHERE revoked IS NULL \
         ORDER BY created",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                scope: r.try_get("scope")?,
                prefix: r.try_get("prefix")?,
                created: r.try_get("created")?,
            })
        })
        .collect()
}

pub async fn revoke(db: &Db, actor: &Actor, id: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let r = sqlx::query("UPDATE hb_api_keys SET revoked = $2 WHERE id = $1 AND revoked IS NULL")
        .bind(id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    if r.rows_affected() == 0 {
        return Err(AppError::not_found("This key"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("heartbeat.api_key.revoke", format!("api_key:{id}"), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The ping key, made on first use (22 URL-safe characters, as Healthchecks.io).
pub async fn ping_key(db: &Db) -> Result<String, AppError> {
    if let Some(k) = store::read_ping_key(db).await? {
        return Ok(k);
    }
    let mut tx = db.begin().await?;
    let key = match store::ping_key(&mut tx).await? {
        Some(k) => k,
        None => {
            let k = random(22).to_lowercase();
            store::set_ping_key(&mut tx, &k, now_ms()).await?;
            k
        }
    };
    tx.commit().await?;
    Ok(key)
}

/// Replaces the ping key: slug URLs with the old one stop working.
pub async fn new_ping_key(db: &Db, actor: &Actor) -> Result<String, AppError> {
    let k = random(22).to_lowercase();
    let mut tx = db.begin().await?;
    store::set_ping_key(&mut tx, &k, now_ms()).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("heartbeat.ping_key.replace", "settings:ping_key", ""),
    )
    .await?;
    tx.commit().await?;
    Ok(k)
}
