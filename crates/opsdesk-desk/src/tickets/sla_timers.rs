//! SLA warnings and breaches. A job every minute takes the tickets whose timer is due; each
//! announcement is marked made in the ticket's own transaction (so it is sent once, whichever
//! instance runs the sweep and however often), recorded on the timeline and in the audit log,
//! emailed to the assignee (or, unassigned, to the team) and posted to the webhook by a durable
//! job that retries until the receiver accepts it. A breach also does what the tier says: raise
//! the priority, hand the ticket to a team lead.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use opsdesk_core::audit::Actor;
use opsdesk_core::config::{MailConfig, SlaConfig};
use opsdesk_core::db::{Db, Tx};
use opsdesk_core::error::AppError;
use opsdesk_core::jobs::Registry;
use opsdesk_sla::deadlines::{Announcement, Level};

use super::model::{Priority, Ticket};
use super::{service, store};
use crate::mail::outbox::{self, Letter};

pub const KIND_SWEEP: &str = "sla.sweep";
/// Tickets taken per sweep; a longer backlog is taken by the next minute's sweep.
const BATCH: i64 = 500;

pub fn register(registry: &mut Registry, mail: Arc<MailConfig>, sla: Arc<SlaConfig>) {
    registry.register_periodic(KIND_SWEEP, Duration::from_secs(60), move |ctx| {
        let (mail, sla) = (mail.clone(), sla.clone());
        async move {
            let made = sweep(&ctx.db, &mail, &sla, opsdesk_core::clock::now_ms())
                .await
                .map_err(AppError::into_anyhow)?;
            if made > 0 {
                tracing::info!(made, "SLA warnings and breaches announced");
            }
            Ok(())
        }
    });
}

/// What an announcement says, in one line.
fn line(t: &Ticket, a: &Announcement) -> String {
    let what = match a.level {
        Level::Warning => "is nearing its target",
        Level::Breach => "missed its target",
    };
    format!(
        "SLA {}: #{} \"{}\" {} for {}",
        a.level.as_str(),
        t.number,
        t.subject,
        what,
        a.target.label()
    )
}

/// Announces every warning and breach due by `now`; returns how many were made.
pub async fn sweep(
    db: &Db,
    mail: &MailConfig,
    sla: &SlaConfig,
    now: i64,
) -> Result<usize, AppError> {
    let mut made = 0;
    for (id, number) in opsdesk_sla::ticket_store::due_timers(db, now, BATCH).await? {
        let mut tx = db.begin().await?;
        let Some(t) = store::find_for_update(&mut tx, db, number).await? else {
            continue;
        };
        let announcements = opsdesk_sla::ticket::sweep_one(&mut tx, &id, now).await?;
        let t = if announcements.iter().any(|a| a.level == Level::Breach) {
            on_breach(&mut tx, db, t, now).await?
        } else {
            t
        };
        if !announcements.is_empty() {
            let to = match &t.assignee {
                Some(a) => vec![a.clone()],
                None => store::team_for_notices(db, t.security).await?,
            };
            let sender = outbox::identity(&mut tx).await?;
            for a in &announcements {
                let text = line(&t, a);
                let kind = format!("sla_{}", a.level.as_str());
                service::event(&mut tx, db, &Actor::system(), &t, &kind, text.clone(), now).await?;
                for p in &to {
                    outbox::queue(
                        &mut tx,
                        mail,
                        &sender,
                        &Letter {
                            ticket_id: &t.id,
                            number: t.number,
                            ticket_message_id: None,
                            purpose: &kind,
                            to_email: &p.email,
                            to_name: &p.name,
                            subject: &format!("[SLA {}] {}", a.level.as_str(), t.subject),
                            text: &format!("{text}.\n"),
                            automatic: true,
                            files: &[],
                        },
                        None,
                        now,
                    )
                    .await?;
                }
                if let Some(url) = sla.webhook_url.as_deref() {
                    let body = json!({
                        "text": text,
                        "event": format!("sla.{}", a.level.as_str()),
                        "target": a.target.label(),
                        "ticket": {"number": t.number, "subject": t.subject, "priority": t.priority.as_str()},
                        "at": now,
                    });
                    crate::webhooks::enqueue(&mut tx, url, body).await?;
                }
            }
            made += announcements.len();
        }
        tx.commit().await?;
    }
    Ok(made)
}

/// A breach's actions, as the tier configures them: raise the priority one step (the ticket is
/// then served under the tighter targets), hand the ticket to the named team member. Each is on
/// the timeline and in the audit log; returns the ticket as it now is.
async fn on_breach(tx: &mut Tx, db: &Db, t: Ticket, now: i64) -> Result<Ticket, AppError> {
    let actions = opsdesk_sla::ticket::breach_actions(tx, &t.id).await?;
    let raised = Priority::from_rank(t.priority.rank() + 1);
    let priority = if actions.raise_priority {
        raised
    } else {
        t.priority
    };
    let lead = match &actions.reassign_to {
        Some(id) if t.assignee.as_ref().map(|a| &a.id) != Some(id) => {
            store::staff_for(db, id, t.security).await?
        }
        _ => None,
    };
    if priority == t.priority && lead.is_none() {
        return Ok(t);
    }
    let assignee = lead.clone().or_else(|| t.assignee.clone());
    let row = store::FieldsRow {
        category_id: t.category.as_ref().map(|c| c.id.as_str()),
        priority,
        assignee_id: assignee.as_ref().map(|a| a.id.as_str()),
        subject: &t.subject,
        security: t.security,
    };
    store::update_fields(tx, &t.id, &row, now).await?;
    let system = Actor::system();
    if priority != t.priority {
        let detail = format!("{} -> {priority} (SLA breach)", t.priority);
        service::event(tx, db, &system, &t, "priority", detail, now).await?;
        super::sla::reprioritized(tx, &t.id, priority, now).await?;
    }
    if let Some(lead) = &lead {
        let from = t.assignee.as_ref().map_or("nobody", |a| a.email.as_str());
        let detail = format!("{from} -> {} (SLA breach)", lead.email);
        service::event(tx, db, &system, &t, "assign", detail, now).await?;
    }
    Ok(Ticket {
        priority,
        assignee,
        ..t
    })
}
