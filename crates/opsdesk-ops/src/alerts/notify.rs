//! News of flips: a flip is recorded with its audit line, and — when it is news (down, or up
//! again) — one notification per channel of the check is queued in the same transaction, so it
//! is sent exactly once whichever instance saw the flip. A durable job delivers each: email
//! through the mail outbox, webhooks by POST, retried with backoff until the receiver accepts.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::model::{Kind, News};
use super::store;
use crate::heartbeats::rules::Flip;
use crate::heartbeats::store::{self as checks, CheckRow, FlipRow};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::{Backend, Db, Tx};
use opsdesk_core::jobs::{NewJob, Registry, store as jobs};

pub const KIND: &str = "alert.deliver";
/// Attempts before a notification is given up (about a day with the queue's backoff).
const MAX_ATTEMPTS: i64 = 12;

/// Records a flip of `check` (whose row already holds the new status) and queues its news.
pub async fn on_flip(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    check: &CheckRow,
    flip: &Flip,
    now: i64,
) -> Result<(), sqlx::Error> {
    let row = FlipRow {
        id: uuid::Uuid::now_v7().to_string(),
        check_id: check.id.clone(),
        created: now,
        old_status: flip.old.as_str().to_string(),
        new_status: flip.new.as_str().to_string(),
        reason: flip.reason.to_string(),
    };
    checks::insert_flip(tx, &row).await?;
    audit::store::append(
        tx,
        backend,
        actor.entry(
            "heartbeat.flip",
            format!("check:{}", check.id),
            format!(
                "name={} {} -> {} ({})",
                check.name, row.old_status, row.new_status, row.reason
            ),
        ),
    )
    .await?;
    if !flip.notifies() {
        return Ok(());
    }
    for ch in store::channels_of(tx, &check.id).await? {
        let id = uuid::Uuid::now_v7().to_string();
        if store::insert_notification(tx, &id, &row.id, &check.id, &ch.id, now).await? {
            let mut job = NewJob::now(KIND, json!({ "notification": id }));
            job.max_attempts = MAX_ATTEMPTS;
            jobs::enqueue(tx, &job).await?;
        }
    }
    Ok(())
}

/// Registers the delivery job.
pub fn register(registry: &mut Registry, mail: Arc<MailConfig>, public_url: Option<String>) {
    let public_url: Arc<Option<String>> = Arc::new(public_url);
    registry.register(KIND, move |ctx| {
        let (mail, public_url) = (mail.clone(), public_url.clone());
        async move {
            let id = ctx.payload["notification"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            deliver(&ctx.db, &mail, public_url.as_deref(), &id, ctx.attempt).await
        }
    });
}

/// Sends one notification; an error leaves it to be retried (and marks it failed on the last
/// attempt).
pub async fn deliver(
    db: &Db,
    mail: &MailConfig,
    public_url: Option<&str>,
    id: &str,
    attempt: i64,
) -> anyhow::Result<()> {
    let Some(p) = store::pending(db, id).await? else {
        return Ok(());
    };
    if p.state == "sent" || p.state == "failed" {
        return Ok(());
    }
    let now = now_ms();
    let (Some(check), Some(channel)) = (
        checks::find(db, &p.check_id).await?,
        store::channel(db, &p.channel_id).await?,
    ) else {
        store::mark(
            db,
            id,
            "failed",
            Some("the check or channel was deleted"),
            now,
        )
        .await?;
        return Ok(());
    };
    let news = News {
        check_id: check.id.clone(),
        check_name: check.name.clone(),
        tags: check.tags.clone(),
        new_status: p.new_status.clone(),
        old_status: p.old_status.clone(),
        reason: p.reason.clone(),
        at_ms: p.at,
        last_ping_ms: check.last_ping,
        link: public_url.map(|u| format!("{}/checks/{}", u.trim_end_matches('/'), check.id)),
    };
    let kind = Kind::parse(&channel.kind).unwrap_or(Kind::Webhook);
    let sent = match kind {
        Kind::Email => mail_it(db, mail, id, &channel.target, &news, now).await,
        Kind::Webhook | Kind::Slack => post(&channel.target, &news.payload(kind)).await,
    };
    match sent {
        Ok(()) => {
            if kind != Kind::Email {
                store::mark(db, id, "sent", None, now_ms()).await?;
            }
            Ok(())
        }
        Err(e) => {
            let state = if attempt >= MAX_ATTEMPTS {
                "failed"
            } else {
                "retrying"
            };
            store::mark(db, id, state, Some(&e.to_string()), now_ms()).await?;
            Err(e)
        }
    }
}

async fn mail_it(
    db: &Db,
    mail: &MailConfig,
    id: &str,
    to: &str,
    news: &News,
    now: i64,
) -> anyhow::Result<()> {
    use opsdesk_desk::mail::outbox;
    let mut tx = db.begin().await?;
    let sender = outbox::identity(&mut tx).await?;
    let to = opsdesk_mail::parse::Address {
        email: to.to_string(),
        name: None,
    };
    let outbox_id = outbox::queue_notice(
        &mut tx,
        mail,
        &sender,
        &to,
        "alert",
        &news.headline(),
        &news.text(),
        now,
    )
    .await?;
    store::mark_mailed(&mut tx, id, &outbox_id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Posts a body; anything but a 2xx answer is an error. The URL is never logged or stored in
/// an error (it carries the receiver's secret).
async fn post(url: &str, body: &serde_json::Value) -> anyhow::Result<()> {
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("the webhook did not answer: {}", e.without_url()))?;
    if !r.status().is_success() {
        anyhow::bail!("the webhook answered {}", r.status());
    }
    Ok(())
}
