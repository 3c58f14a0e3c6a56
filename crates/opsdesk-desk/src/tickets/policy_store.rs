//! SQL for desk policies: unsupported request types, canned replies, triage rules and the
//! communication rules' phrase lists.

use sqlx::Row as _;

use opsdesk_core::db::{Db, Tx};

use super::policy::UnsupportedType;

pub async fn unsupported_types(db: &Db) -> Result<Vec<UnsupportedType>, sqlx::Error> {
    sqlx::query("SELECT id, name, answer FROM unsupported_types ORDER BY position, name")
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| {
            Ok(UnsupportedType {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                answer: r.try_get("answer")?,
            })
        })
        .collect()
}

pub async fn unsupported_type(db: &Db, key: &str) -> Result<Option<UnsupportedType>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, name, answer FROM unsupported_types WHERE id = $1 OR name = $1")
            .bind(key.trim())
            .fetch_optional(db.read())
            .await?;
    row.map(|r| {
        Ok(UnsupportedType {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            answer: r.try_get("answer")?,
        })
    })
    .transpose()
}

/// Changes a type's name and answer; false when there is no such type.
pub async fn set_unsupported_type(
    tx: &mut Tx,
    id: &str,
    name: &str,
    answer: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE unsupported_types SET name = $2, answer = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(answer)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0)
}
