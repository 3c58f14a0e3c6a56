//! SQL for email: the Message-IDs that thread mail to tickets, the inbound log, the outbox,
//! templates, attachments, links between tickets and the signing secret.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row as _};

use opsdesk_core::db::{Db, Pipeline, Tx, flag};
use opsdesk_core::setup::{KEY_BRAND, KEY_SUPPORT_EMAIL};

const SECRET_KEY: &str = "mail.signing_secret";

/// The secret that signs our Message-IDs, created on first use and never changed (changing it
/// would break threading of every conversation in flight).
pub async fn ensure_secret(db: &Db) -> Result<String, sqlx::Error> {
    let fresh = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
    )
    .bind(SECRET_KEY)
    .bind(&fresh)
    .bind(opsdesk_core::clock::now_ms())
    .execute(db.write())
    .await?;
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(SECRET_KEY)
        .fetch_one(db.write())
        .await
}

/// Settings a message needs: brand, support address, secret.
pub async fn sender_settings(tx: &mut Tx) -> Result<(String, String, String), sqlx::Error> {
    let rows = sqlx::query("SELECT key, value FROM settings WHERE key IN ($1, $2, $3)")
        .bind(KEY_BRAND)
        .bind(KEY_SUPPORT_EMAIL)
        .bind(SECRET_KEY)
        .fetch_all(&mut **tx)
        .await?;
    let (mut brand, mut email, mut secret) = (String::new(), String::new(), String::new());
    for r in rows {
        let k: String = r.try_get("key")?;
        let v: String = r.try_get("value")?;
        match k.as_str() {
            KEY_BRAND => brand = v,
            KEY_SUPPORT_EMAIL => email = v,
            _ => secret = v,
        }
    }
    Ok((brand, email, secret))
}

/// Stored Message-IDs among `ids`, with the number of the ticket each belongs to.
pub async fn known_ids(tx: &mut Tx, ids: &[&str]) -> Result<Vec<(String, i64)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT m.message_id, t.number FROM mail_ids m JOIN tickets t ON t.id = m.ticket_id \
         WHERE m.message_id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(*id);
    }
    q.fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("message_id")?, r.try_get("number")?)))
        .collect()
}

/// Whether `email` (lowercase) is the requester of ticket `number` or has written to it.
pub async fn is_participant(tx: &mut Tx, number: i64, email: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM tickets t JOIN users u ON u.id = t.requester_id \
         WHERE t.number = $1 AND (lower(u.email) = $2 OR EXISTS (\
         SELECT 1 FROM mail_ids m WHERE m.ticket_id = t.id AND m.sender = $2))",
    )
    .bind(number)
    .bind(email)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

pub struct MailIdRow<'a> {
    pub message_id: &'a str,
    pub ticket_id: &'a str,
    pub ticket_message_id: Option<&'a str>,
    pub direction: &'a str,
    pub sender: Option<&'a str>,
    pub now: i64,
}

/// Records a Message-ID; false when it was already known.
pub async fn insert_mail_id(tx: &mut Tx, r: &MailIdRow<'_>) -> Result<bool, sqlx::Error> {
    let mut p = Pipeline::new();
    push_mail_id(&mut p, r);
    Ok(p.run(tx).await?.first().is_some_and(|o| o.affected > 0))
}

/// [`insert_mail_id`] as one statement of a pipeline.
pub fn push_mail_id(p: &mut Pipeline, r: &MailIdRow<'_>) {
    p.push(INSERT_MAIL_ID)
        .bind(r.message_id)
        .bind(r.ticket_id)
        .bind(r.ticket_message_id)
        .bind(r.direction)
        .bind(r.sender)
        .bind(r.now);
}

const INSERT_MAIL_ID: &str = "INSERT INTO mail_ids (message_id, ticket_id, ticket_message_id, direction, sender, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING";

/// The ids a reply on this ticket refers to: the customer's last message (for In-Reply-To)
/// and every id of the conversation, oldest first.
pub async fn thread_ids(
    tx: &mut Tx,
    ticket_id: &str,
) -> Result<(Option<String>, Vec<String>), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT message_id, direction FROM mail_ids WHERE ticket_id = $1 ORDER BY created_at, message_id",
    )
    .bind(ticket_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut last_in = None;
    let mut all = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("message_id")?;
        if r.try_get::<String, _>("direction")? == "in" {
            last_in = Some(id.clone());
        }
        all.push(id);
    }
    Ok((last_in, all))
}

pub struct InboundRow<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub message_id: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub subject: &'a str,
    pub raw_sha256: &'a str,
    pub size: i64,
    pub auto: &'a str,
    pub outcome: &'a str,
    pub via: Option<&'a str>,
    pub ticket_id: Option<&'a str>,
    pub now: i64,
}

pub async fn insert_inbound(tx: &mut Tx, r: &InboundRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_inbound (id, received_at, source, message_id, sender, subject, raw_sha256, \
         size, auto, outcome, via, ticket_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(r.id)
    .bind(r.now)
    .bind(r.source)
    .bind(r.message_id)
    .bind(r.sender)
    .bind(r.subject)
    .bind(r.raw_sha256)
    .bind(r.size)
    .bind(r.auto)
    .bind(r.outcome)
    .bind(r.via)
    .bind(r.ticket_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A template's subject and body.
pub async fn template(tx: &mut Tx, key: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT subject, body FROM mail_templates WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("subject")?, r.try_get("body")?)))
        .transpose()
}

/// Every template: key, subject, body, last change.
pub async fn templates(db: &Db) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    sqlx::query("SELECT key, subject, body, updated_at FROM mail_templates ORDER BY key")
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("key")?,
                r.try_get("subject")?,
                r.try_get("body")?,
                r.try_get("updated_at")?,
            ))
        })
        .collect()
}

/// Changes a template; false when there is no template of that key.
pub async fn set_template(
    tx: &mut Tx,
    key: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE mail_templates SET subject = $2, body = $3, updated_at = $4 WHERE key = $1",
    )
    .bind(key)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0)
}

pub struct OutboxRow<'a> {
    pub id: &'a str,
    pub ticket_id: Option<&'a str>,
    pub ticket_message_id: Option<&'a str>,
    pub purpose: &'a str,
    pub sender: &'a str,
    pub recipients: &'a str,
    pub subject: &'a str,
    pub message_id: &'a str,
    pub raw: &'a str,
    pub state: &'a str,
    pub last_error: Option<&'a str>,
    pub now: i64,
}

pub async fn insert_outbox(tx: &mut Tx, r: &OutboxRow<'_>) -> Result<(), sqlx::Error> {
    let mut p = Pipeline::new();
    push_outbox(&mut p, r);
    p.execute(tx).await
}

/// [`insert_outbox`] as one statement of a pipeline.
pub fn push_outbox(p: &mut Pipeline, r: &OutboxRow<'_>) {
    p.push(
        "INSERT INTO mail_outbox (id, ticket_id, ticket_message_id, purpose, sender, recipients, \
         subject, message_id, raw, state, attempts, last_error, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12)",
    )
    .bind(r.id)
    .bind(r.ticket_id)
    .bind(r.ticket_message_id)
    .bind(r.purpose)
    .bind(r.sender)
    .bind(r.recipients)
    .bind(r.subject)
    .bind(r.message_id)
    .bind(r.raw)
    .bind(r.state)
    .bind(r.last_error)
    .bind(r.now);
}

/// Sender settings and one template in a single round trip (the acknowledgement path runs for
/// every new ticket): (brand, support address, secret, template subject and body).
pub async fn letter_settings(
    tx: &mut Tx,
    template_key: &str,
) -> Result<LetterSettings, sqlx::Error> {
    let mut p = Pipeline::new();
    push_letter_settings(&mut p, template_key);
    let rows = p.rows(tx).await?;
    letter_settings_from(rows.first().map(Vec::as_slice).unwrap_or_default())
}

/// Brand, support address, secret, and the template's subject and body if it exists.
pub type LetterSettings = (String, String, String, Option<(String, String)>);

/// The statement [`letter_settings_from`] reads, as one of a pipeline.
pub fn push_letter_settings(p: &mut Pipeline, template_key: &str) {
    p.push(
        "SELECT key AS k, value AS a, '' AS b FROM settings WHERE key IN ($1, $2, $3) \
         UNION ALL SELECT 'template' AS k, subject AS a, body AS b FROM mail_templates WHERE key = $4",
    )
    .bind(KEY_BRAND)
    .bind(KEY_SUPPORT_EMAIL)
    .bind(SECRET_KEY)
    .bind(template_key);
}

pub fn letter_settings_from(rows: &[AnyRow]) -> Result<LetterSettings, sqlx::Error> {
    let (mut brand, mut email, mut secret, mut template) =
        (String::new(), String::new(), String::new(), None);
    for r in rows {
        let k: String = r.try_get("k")?;
        let a: String = r.try_get("a")?;
        match k.as_str() {
            KEY_BRAND => brand = a,
            KEY_SUPPORT_EMAIL => email = a,
            SECRET_KEY => secret = a,
            _ => template = Some((a, r.try_get("b")?)),
        }
    }
    Ok((brand, email, secret, template))
}

/// One outgoing message as the sender job needs it.
pub struct Pending {
    pub sender: String,
    pub recipients: Vec<String>,
    pub raw: String,
    pub state: String,
}

pub async fn pending(db: &Db, id: &str) -> Result<Option<Pending>, sqlx::Error> {
    let row = sqlx::query("SELECT sender, recipients, raw, state FROM mail_outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(db.read())
        .await?;
    row.map(|r| {
        let recipients: String = r.try_get("recipients")?;
        Ok(Pending {
            sender: r.try_get("sender")?,
            recipients: recipients.split(',').map(str::to_string).collect(),
            raw: r.try_get("raw")?,
            state: r.try_get("state")?,
        })
    })
    .transpose()
}

/// Records a delivery attempt's result.
pub async fn mark_outbox(
    db: &Db,
    id: &str,
    state: &str,
    error: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    // A sent sign-in link is not kept: its token must not sit in the outbox.
    db.batched_query(
        "UPDATE mail_outbox SET state = $2, last_error = $3, attempts = attempts + 1, \
         sent_at = CASE WHEN $2 = 'sent' THEN $4 ELSE sent_at END, \
         raw = CASE WHEN $2 = 'sent' AND purpose = 'signin' THEN '' ELSE raw END WHERE id = $1",
        vec![id.into(), state.into(), error.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Outgoing mail of a ticket, oldest first.
pub async fn outbox_of(db: &Db, ticket_id: &str) -> Result<Vec<super::Delivery>, sqlx::Error> {
    sqlx::query(
        "SELECT id, ticket_message_id, purpose, recipients, subject, state, attempts, last_error, \
         created_at, sent_at FROM mail_outbox WHERE ticket_id = $1 ORDER BY created_at, id",
    )
    .bind(ticket_id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        Ok(super::Delivery {
            id: r.try_get("id")?,
            message_id: r.try_get("ticket_message_id")?,
            purpose: r.try_get("purpose")?,
            recipients: r.try_get("recipients")?,
            subject: r.try_get("subject")?,
            state: r.try_get("state")?,
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
            created_at: r.try_get("created_at")?,
            sent_at: r.try_get("sent_at")?,
        })
    })
    .collect()
}

pub struct AttachmentRow<'a> {
    pub ticket_id: &'a str,
    pub ticket_message_id: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub inline: bool,
    pub content_id: Option<&'a str>,
    pub now: i64,
}

pub async fn insert_attachment(tx: &mut Tx, r: &AttachmentRow<'_>) -> Result<String, sqlx::Error> {
    let id = opsdesk_core::clock::new_id();
    sqlx::query(
        "INSERT INTO ticket_attachments (id, ticket_id, ticket_message_id, filename, content_type, \
         size, sha256, inline, content_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(r.ticket_id)
    .bind(r.ticket_message_id)
    .bind(r.filename)
    .bind(r.content_type)
    .bind(r.size)
    .bind(r.sha256)
    .bind(flag(r.inline))
    .bind(r.content_id)
    .bind(r.now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

fn attachment_from(r: &sqlx::any::AnyRow) -> Result<super::AttachmentInfo, sqlx::Error> {
    Ok(super::AttachmentInfo {
        id: r.try_get("id")?,
        message_id: r.try_get("ticket_message_id")?,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        inline: r.try_get::<i64, _>("inline")? != 0,
    })
}

const ATTACHMENT_SELECT: &str = "SELECT id, ticket_message_id, filename, content_type, size, sha256, inline \
     FROM ticket_attachments";

pub async fn attachments_of(
    db: &Db,
    ticket_id: &str,
) -> Result<Vec<super::AttachmentInfo>, sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "{ATTACHMENT_SELECT} WHERE ticket_id = $1 ORDER BY created_at, id"
    )))
    .bind(ticket_id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(attachment_from)
    .collect()
}

pub async fn attachment(
    db: &Db,
    ticket_id: &str,
    id: &str,
) -> Result<Option<super::AttachmentInfo>, sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!(
        "{ATTACHMENT_SELECT} WHERE ticket_id = $1 AND id = $2"
    )))
    .bind(ticket_id)
    .bind(id)
    .fetch_optional(db.read())
    .await?
    .as_ref()
    .map(attachment_from)
    .transpose()
}

/// Links two tickets both ways.
pub async fn link(tx: &mut Tx, a: &str, b: &str, kind: &str, now: i64) -> Result<(), sqlx::Error> {
    for (x, y) in [(a, b), (b, a)] {
        sqlx::query(
            "INSERT INTO ticket_links (ticket_id, other_id, kind, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (ticket_id, other_id) DO NOTHING",
        )
        .bind(x)
        .bind(y)
        .bind(kind)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Numbers of the tickets linked to this one.
pub async fn links_of(db: &Db, ticket_id: &str) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query(
        "SELECT t.number, l.kind FROM ticket_links l JOIN tickets t ON t.id = l.other_id \
         WHERE l.ticket_id = $1 ORDER BY t.number",
    )
    .bind(ticket_id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("number")?, r.try_get("kind")?)))
    .collect()
}
