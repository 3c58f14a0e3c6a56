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

/// The admin-edited phrase lists of the communication rules: (kind, one phrase a line).
pub async fn reply_rule_lists(db: &Db) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query("SELECT kind, phrases FROM reply_rule_lists")
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("phrases")?)))
        .collect()
}

pub async fn set_reply_rule_list(
    tx: &mut Tx,
    kind: &str,
    phrases: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reply_rule_lists (kind, phrases, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (kind) DO UPDATE SET phrases = excluded.phrases, updated_at = excluded.updated_at",
    )
    .bind(kind)
    .bind(phrases)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A canned reply.
pub struct CannedRow {
    pub id: String,
    pub title: String,
    pub body: String,
}

pub async fn canned_replies(db: &Db) -> Result<Vec<CannedRow>, sqlx::Error> {
    sqlx::query("SELECT id, title, body FROM canned_replies ORDER BY title")
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| {
            Ok(CannedRow {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
            })
        })
        .collect()
}

pub async fn insert_canned(
    tx: &mut Tx,
    id: &str,
    title: &str,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO canned_replies (id, title, body, updated_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(title)
        .bind(body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete_canned(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM canned_replies WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        > 0)
}

/// Triage rules in the order they apply.
pub async fn triage_rules(db: &Db) -> Result<Vec<super::triage::Rule>, sqlx::Error> {
    sqlx::query(
        "SELECT id, name, position, enabled, conditions, actions FROM triage_rules ORDER BY position, id",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        let when: String = r.try_get("conditions")?;
        let then: String = r.try_get("actions")?;
        Ok(super::triage::Rule {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            position: r.try_get("position")?,
            enabled: r.try_get::<i64, _>("enabled")? != 0,
            when: serde_json::from_str(&when).unwrap_or_default(),
            then: serde_json::from_str(&then).unwrap_or_default(),
        })
    })
    .collect()
}

/// Inserts or replaces a rule.
pub async fn save_triage_rule(
    tx: &mut Tx,
    rule: &super::triage::Rule,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO triage_rules (id, name, position, enabled, conditions, actions, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
         position = excluded.position, enabled = excluded.enabled, conditions = excluded.conditions, \
         actions = excluded.actions, updated_at = excluded.updated_at",
    )
    .bind(&rule.id)
    .bind(&rule.name)
    .bind(rule.position)
    .bind(opsdesk_core::db::flag(rule.enabled))
    .bind(serde_json::to_string(&rule.when).unwrap_or_default())
    .bind(serde_json::to_string(&rule.then).unwrap_or_default())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn triage_rule_exists(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM triage_rules WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(found.is_some())
}

pub async fn delete_triage_rule(tx: &mut Tx, id: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM triage_rules WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        > 0)
}

/// Moves every message, attachment and known Message-ID of one ticket to another (a merge);
/// returns the moved messages' (kind, body) for the search document.
pub async fn move_conversation(
    tx: &mut Tx,
    from: &str,
    into: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let moved = sqlx::query("SELECT kind, body FROM ticket_messages WHERE ticket_id = $1")
        .bind(from)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("body")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    for table in ["ticket_messages", "ticket_attachments", "mail_ids"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET ticket_id = $2 WHERE ticket_id = $1"
        )))
        .bind(from)
        .bind(into)
        .execute(&mut **tx)
        .await?;
    }
    Ok(moved)
}

/// Organizations with whether they share tickets among their members.
/// Organizations by name: (id, name, shares requests, has a webhook, tier id).
pub async fn organizations(
    db: &Db,
) -> Result<Vec<(String, String, bool, bool, Option<String>)>, sqlx::Error> {
    sqlx::query(
        "SELECT id, name, share_tickets, webhook_url IS NOT NULL AS has_webhook, tier_id \
         FROM organizations ORDER BY name",
    )
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("name")?,
            r.try_get::<i64, _>("share_tickets")? != 0,
            r.try_get::<bool, _>("has_webhook")
                .or_else(|_| r.try_get::<i64, _>("has_webhook").map(|v| v != 0))?,
            r.try_get("tier_id")?,
        ))
    })
    .collect()
}

/// Sets or clears an organization's webhook; returns (name, shares requests) if it exists.
pub async fn set_webhook(
    tx: &mut Tx,
    id: &str,
    url: Option<&str>,
) -> Result<Option<(String, bool)>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE organizations SET webhook_url = $2 WHERE id = $1 RETURNING name, share_tickets",
    )
    .bind(id)
    .bind(url)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("name")?,
            r.try_get::<i64, _>("share_tickets")? != 0,
        ))
    })
    .transpose()
}

pub async fn set_sharing(
    tx: &mut Tx,
    id: &str,
    share: bool,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("UPDATE organizations SET share_tickets = $2 WHERE id = $1 RETURNING name")
        .bind(id)
        .bind(opsdesk_core::db::flag(share))
        .fetch_optional(&mut **tx)
        .await
}
