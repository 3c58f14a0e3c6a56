//! Browser sessions kept in our database: a `tower-sessions` store of our own. The signed-in user's
//! id is also kept in its own column so that a password reset can end that user's sessions.

use async_trait::async_trait;
use sqlx::Row as _;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};

use crate::clock::now_ms;
use crate::db::Db;

/// The session key holding the signed-in user's id.
pub const USER_KEY: &str = "user_id";

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        DbSessionStore { db }
    }

    /// Deletes expired sessions; run by the maintenance job.
    pub async fn prune(db: &Db) -> std::result::Result<u64, sqlx::Error> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now_ms())
            .execute(db.write())
            .await?;
        Ok(r.rows_affected())
    }
}

fn backend(e: sqlx::Error) -> Error {
    Error::Backend(e.to_string())
}

fn expiry_ms(record: &Record) -> i64 {
    i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn user_of(record: &Record) -> Option<String> {
    record
        .data
        .get(USER_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        // A collision of two random 128-bit ids is practically impossible, but if the insert hits
        // one we draw a new id rather than overwrite someone else's session.
        for _ in 0..3 {
            let inserted = sqlx::query(
                "INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(record.id.to_string())
            .bind(user_of(record))
            .bind(&data)
            .bind(expiry_ms(record))
            .execute(self.db.write())
            .await;
            match inserted {
                Ok(_) => return Ok(()),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    record.id = Id::default()
                }
                Err(e) => return Err(backend(e)),
            }
        }
        Err(Error::Backend("could not allocate a session id".into()))
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
        let updated = sqlx::query(
            "UPDATE sessions SET user_id = $1, data = $2, expires_at = $3 WHERE id = $4",
        )
        .bind(user_of(record))
        .bind(&data)
        .bind(expiry_ms(record))
        .bind(record.id.to_string())
        .execute(self.db.write())
        .await
        .map_err(backend)?;
        if updated.rows_affected() == 0 {
            let mut copy = record.clone();
            return self.create(&mut copy).await;
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let row =
            sqlx::query("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id.to_string())
                .bind(now_ms())
                .fetch_optional(self.db.read())
                .await
                .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend)?;
        let expires: i64 = row.try_get("expires_at").map_err(backend)?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires) * 1_000_000)
                .map_err(|e| Error::Decode(e.to_string()))?;
        let data = serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.db.write())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
