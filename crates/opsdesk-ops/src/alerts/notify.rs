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

/// A change of a check's or monitor's status, as recorded and announced.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub old: &'a str,
    pub new: &'a str,
    /// `success`, `fail`, `timeout`, `paused`, `resumed`…
    pub reason: &'a str,
    /// Whether the channels hear of it.
    pub notifies: bool,
}

/// Records a flip of a heartbeat check (whose row already holds the new status) and queues its
/// news.
pub async fn on_flip(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    check: &CheckRow,
    flip: &Flip,
    now: i64,
) -> Result<(), sqlx::Error> {
    let change = Change {
        id: &check.id,
        name: &check.name,
        old: flip.old.as_str(),
        new: flip.new.as_str(),
        reason: flip.reason,
        notifies: flip.notifies(),
    };
    record(tx, backend, actor, &change, now).await
}

/// Records a change with its audit line and, when it is news, one notification per channel.
pub async fn record(
    tx: &mut Tx,
    backend: Backend,
    actor: &Actor,
    c: &Change<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let row = FlipRow {
        id: uuid::Uuid::now_v7().to_string(),
        check_id: c.id.to_string(),
        created: now,
        old_status: c.old.to_string(),
        new_status: c.new.to_string(),
        reason: c.reason.to_string(),
    };
    checks::insert_flip(tx, &row).await?;
    crate::incidents::flips::on_change(tx, backend, c, now).await?;
    audit::store::append(
        tx,
        backend,
        actor.entry(
            "monitoring.flip",
            format!("check:{}", c.id),
            format!("name={} {} -> {} ({})", c.name, c.old, c.new, c.reason),
        ),
    )
    .await?;
    if !c.notifies {
        return Ok(());
    }
    // A maintenance window covering the check holds its alerts: they are kept as `held` and
    // sent when the window ends if they are still true (see `held`).
    let held = crate::status::store::in_maintenance(tx, c.id, now).await?;
    for ch in store::channels_of(tx, c.id).await? {
        let id = uuid::Uuid::now_v7().to_string();
        let state = if held { "held" } else { "queued" };
        if store::insert_notification(tx, &id, &row.id, c.id, &ch.id, state, now).await? && !held {
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
    registry.register_in_order(KIND, move |ctx| {
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
    if matches!(p.state.as_str(), "sent" | "failed" | "superseded") {
        return Ok(());
    }
    let now = now_ms();
    // Each channel hears of a check's changes in order: one overtaken by a later change already
    // sent there (while it waited on retries) is not sent at all.
    if store::superseded(db, &p).await? {
        let why = "a later change of this check was already sent on this channel";
        store::mark(db, id, "superseded", Some(why), now).await?;
        return Ok(());
    }
    let (Some(subject), Some(channel)) = (
        subject(db, &p.check_id).await?,
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
        check_id: p.check_id.clone(),
        check_name: subject.name,
        tags: subject.tags,
        new_status: p.new_status.clone(),
        old_status: p.old_status.clone(),
        reason: p.reason.clone(),
        at_ms: p.at,
        last_ping_ms: subject.last_seen,
        link: public_url.map(|u| format!("{}{}", u.trim_end_matches('/'), subject.path)),
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

/// What a notification is about: a heartbeat check, a monitor or an environment threshold.
struct Subject {
    name: String,
    tags: String,
    /// Its last ping, or its last run.
    last_seen: Option<i64>,
    /// Its page.
    path: String,
}

async fn subject(db: &Db, id: &str) -> Result<Option<Subject>, sqlx::Error> {
    if let Some(c) = checks::find(db, id).await? {
        return Ok(Some(Subject {
            name: c.name,
            tags: c.tags,
            last_seen: c.last_ping,
            path: format!("/checks/{id}"),
        }));
    }
    if let Some(m) = crate::uptime::store::find(db, id).await? {
        return Ok(Some(Subject {
            name: m.name,
            tags: m.tags,
            last_seen: m.last_run,
            path: format!("/monitors/{id}"),
        }));
    }
    Ok(crate::environment::store::threshold(db, id)
        .await?
        .map(|t| Subject {
            name: format!("{}: {}", t.app, t.rule),
            tags: String::new(),
            last_seen: None,
            path: "/environment".into(),
        }))
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
