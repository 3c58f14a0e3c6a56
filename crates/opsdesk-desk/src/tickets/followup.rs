//! Following up after resolution ("follow up after resolution"): resolving a ticket schedules a
//! durable job; when it runs and the ticket is still resolved, the requester gets the follow-up
//! email and the timeline records it. A ticket reopened in the meantime gets no follow-up.

use std::sync::Arc;

use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::{Db, Tx};
use opsdesk_core::jobs::{NewJob, Registry, store as jobs};

use super::model::State;
use super::{service, store};
use crate::mail::outbox::{self, Letter};
use crate::mail::store as mail_store;

pub const KIND_FOLLOWUP: &str = "desk.followup";

/// Schedules the follow-up of a ticket resolved at `resolved_at` (once per resolution).
pub async fn schedule(
    tx: &mut Tx,
    cfg: &MailConfig,
    number: i64,
    resolved_at: i64,
) -> Result<(), sqlx::Error> {
    if cfg.followup_hours == 0 {
        return Ok(());
    }
    let mut job = NewJob::now(
        KIND_FOLLOWUP,
        serde_json::json!({ "ticket": number, "resolved_at": resolved_at }),
    );
    job.run_at = resolved_at + i64::from(cfg.followup_hours) * 3_600_000;
    job.dedupe_key = Some(format!("{KIND_FOLLOWUP}:{number}:{resolved_at}"));
    jobs::enqueue(tx, &job).await?;
    Ok(())
}

pub fn register(registry: &mut Registry, cfg: Arc<MailConfig>) {
    registry.register(KIND_FOLLOWUP, move |ctx| {
        let cfg = cfg.clone();
        async move {
            let number = ctx.payload["ticket"].as_i64().unwrap_or_default();
            let resolved_at = ctx.payload["resolved_at"].as_i64().unwrap_or_default();
            send(&ctx.db, &cfg, number, resolved_at).await
        }
    });
}

/// Sends the follow-up if the ticket is still in the resolution it was scheduled for.
pub async fn send(db: &Db, cfg: &MailConfig, number: i64, resolved_at: i64) -> anyhow::Result<()> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let Some(t) = store::find_for_update(&mut tx, db, number).await? else {
        return Ok(());
    };
    let actor = Actor::system();
    if t.state != State::Resolved || t.resolved_at != Some(resolved_at) {
        service::event(
            &mut tx,
            db,
            &actor,
            &t,
            "followup",
            format!("no follow-up sent: the ticket is {} now", t.state),
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
        tx.commit().await?;
        return Ok(());
    }
    let (brand, support, secret, template) =
        mail_store::letter_settings(&mut tx, "followup").await?;
    let Some((subject, body)) = template else {
        return Ok(());
    };
    let sender = outbox::Sender::from_settings(brand, support, secret);
    outbox::queue(
        &mut tx,
        cfg,
        &sender,
        &Letter {
            ticket_id: &t.id,
            number,
            ticket_message_id: None,
            purpose: "followup",
            to_email: &t.requester.email,
            to_name: &t.requester.name,
            subject: &super::composer::fill(&subject, &t, &sender.brand),
            text: &super::composer::fill(&body, &t, &sender.brand),
            automatic: true,
            files: &[],
        },
        None,
        now,
    )
    .await?;
    service::event(
        &mut tx,
        db,
        &actor,
        &t,
        "followup",
        format!("follow-up email to {}", t.requester.email),
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message))?;
    tx.commit().await?;
    Ok(())
}
