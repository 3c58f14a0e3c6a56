//! An organization's own channel (the Agency tier's "private channel"): its tickets' public
//! updates — new requests, customer messages, the team's replies, moves of the flow — posted to the
//! organization's webhook, e.g. their Slack channel. Never internal notes, never security
//! reports. Queued in the transaction of the change, delivered by a retrying job.

use serde_json::json;

use super::model::{MessageKind, State, Ticket};
use opsdesk_core::db::Tx;

/// The organization's webhook, if it has one (never for a security report).
async fn webhook_of(
    tx: &mut Tx,
    org: Option<&str>,
    security: bool,
) -> Result<Option<String>, sqlx::Error> {
    let Some(org) = org.filter(|_| !security) else {
        return Ok(None);
    };
    let url: Option<Option<String>> =
        sqlx::query_scalar("SELECT webhook_url FROM organizations WHERE id = $1")
            .bind(org)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(url.flatten())
}

/// What an update is about.
struct About<'a> {
    organization_id: Option<&'a str>,
    security: bool,
    number: i64,
    subject: &'a str,
}

impl<'a> About<'a> {
    fn of(t: &'a Ticket) -> About<'a> {
        About {
            organization_id: t.organization_id.as_deref(),
            security: t.security,
            number: t.number,
            subject: &t.subject,
        }
    }
}

async fn post(
    tx: &mut Tx,
    t: &About<'_>,
    event: &str,
    text: String,
    now: i64,
) -> Result<(), sqlx::Error> {
    let Some(url) = webhook_of(tx, t.organization_id, t.security).await? else {
        return Ok(());
    };
    let body = json!({
        "text": text,
        "event": event,
        "ticket": {"number": t.number, "subject": t.subject},
        "at": now,
    });
    crate::webhooks::enqueue(tx, &url, body).await
}

/// A new request from someone in the organization.
pub async fn opened(
    tx: &mut Tx,
    organization_id: Option<&str>,
    security: bool,
    number: i64,
    subject: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let about = About {
        organization_id,
        security,
        number,
        subject,
    };
    let text = format!("#{number} {subject}: new request");
    post(tx, &about, "ticket.created", text, now).await
}

/// The first line of a message, at most 200 characters.
fn excerpt(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut s: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        s.push('…');
    }
    s
}

/// A message on a ticket (internal notes are not posted).
pub async fn message(
    tx: &mut Tx,
    t: &Ticket,
    kind: MessageKind,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let who = match kind {
        MessageKind::Customer => "the customer",
        MessageKind::Reply => "the support team",
        MessageKind::Note => return Ok(()),
    };
    let text = format!(
        "#{} {}: new message from {who}: {}",
        t.number,
        t.subject,
        excerpt(body)
    );
    post(tx, &About::of(t), "ticket.message", text, now).await
}

/// A move of the flow, as the customer sees it: the team's internal steps (triaged,
/// reproducing, …) are all "In progress", so only a change the customer would see is posted.
pub async fn moved(tx: &mut Tx, t: &Ticket, to: State, now: i64) -> Result<(), sqlx::Error> {
    let (before, after) = (crate::portal::label(t.state), crate::portal::label(to));
    if before == after {
        return Ok(());
    }
    let text = format!("#{} {} is now {after}", t.number, t.subject);
    post(tx, &About::of(t), "ticket.state", text, now).await
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("\n\n  Hello there  \nsecond line"), "Hello there");
        assert_eq!(excerpt(&"x".repeat(300)).chars().count(), 201);
        assert_eq!(excerpt(""), "");
    }
}
