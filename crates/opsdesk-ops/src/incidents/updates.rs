//! Incident updates: posting a public update or an internal note, mirroring the incident on
//! the status page, and telling the linked tickets' customers and the page's subscribers.

use opsdesk_core::accounts::model::User;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::{Db, Tx};
use opsdesk_core::error::{AppError, Fields};

use super::model::NewUpdate;
use super::rules;
use super::service::{components_of, event, find, moved, save, text};
use super::store::{self, IncidentRow};
use crate::status::store::{self as page, NoticeRow};

/// Where public updates go out: the mail settings and this server's address (for links).
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    pub mail: &'a MailConfig,
    pub base: &'a str,
}

/// Who heard of an update.
#[derive(Clone, Copy, Debug, Default)]
pub struct Told {
    /// Linked tickets that got it as a reply.
    pub tickets: usize,
    /// Status page subscribers emailed.
    pub subscribers: usize,
}

/// Posts an update (public or internal), possibly with a new status; a public one can go to
/// the linked tickets' customers as a reply. Returns how many tickets were told.
pub async fn post_update(
    db: &Db,
    out: Outgoing<'_>,
    actor: &Actor,
    me: &User,
    reference: &str,
    u: &NewUpdate,
) -> Result<(IncidentRow, Told), AppError> {
    let mail = out.mail;
    let mut row = find(db, reference).await?;
    let seen = row.updated;
    let mut f = Fields::default();
    let body = text(&mut f, "body", &u.body, 10_000, true);
    if u.notify && !u.public {
        f.add("notify", "only public updates are sent to customers");
    }
    if u.subscribers && !u.public {
        f.add("subscribers", "only public updates are sent to subscribers");
    }
    row.updated = now_ms().max(seen + 1);
    let mut status_note = None;
    if let Some(to) = u.status.as_deref().filter(|s| !s.is_empty()) {
        let has_pm = store::postmortem(db, &row.id).await?.is_some();
        match moved(&mut row, to, has_pm) {
            Ok(true) => status_note = Some(format!("Status: {to}")),
            Ok(false) => {}
            Err(why) => f.add("status", why),
        }
    }
    f.finish()?;
    let now = row.updated;
    let mut tx = db.begin().await?;
    if u.public {
        publish(&mut tx, &mut row, &body, now).await?;
    } else {
        sync_notice(&mut tx, &row, now).await?;
    }
    save(&mut tx, &row, seen).await?;
    if let Some(n) = &status_note {
        event(&mut tx, &row.id, actor, "status", false, n, "", now).await?;
    }
    let kind = if u.public { "update" } else { "note" };
    event(&mut tx, &row.id, actor, kind, u.public, &body, "", now).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            if u.public {
                "incident.update.public"
            } else {
                "incident.note"
            },
            format!("incident:{}", row.id),
            format!("INC-{} status={}", row.number, row.status),
        ),
    )
    .await?;
    tx.commit().await?;
    if row.notice_id.is_some() {
        crate::status::service::forget(db);
    }
    let mut told = 0;
    if u.notify {
        let text = format!(
            "Update on the incident affecting your request (INC-{}, {}):\n\n{body}",
            row.number, row.status
        );
        for (kind, id) in store::links(db, &row.id).await? {
            if kind != "ticket" {
                continue;
            }
            let Some(t) = opsdesk_desk::tickets::store::find_by_id(db, &id).await? else {
                continue;
            };
            let input = opsdesk_desk::tickets::input::MessageInput {
                body: text.clone(),
                confirm: true,
            };
            match opsdesk_desk::tickets::service::add_message(
                db,
                mail,
                actor,
                me,
                &t.number.to_string(),
                input,
            )
            .await
            {
                Ok(_) => told += 1,
                Err(e) => {
                    tracing::warn!(ticket = t.number, error = %e.message, "incident update not sent to ticket")
                }
            }
        }
    }
    let subscribers = if u.subscribers {
        crate::status::subscribers::notify(db, mail, out.base, &row.title, &row.status, &body)
            .await?
    } else {
        0
    };
    Ok((
        row,
        Told {
            tickets: told,
            subscribers,
        },
    ))
}

/// Puts the incident on the status page (creating its notice the first time) with an update.
pub(super) async fn publish(
    tx: &mut Tx,
    row: &mut IncidentRow,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let notice_id = match &row.notice_id {
        Some(id) => id.clone(),
        None => {
            let n = NoticeRow {
                id: new_id(),
                kind: "incident".into(),
                name: row.title.clone(),
                status: row.status.clone(),
                impact: rules::impact_of(row.severity).into(),
                starts_at: None,
                ends_at: None,
                created: now,
                updated: now,
                resolved_at: row.resolved_at,
            };
            page::insert_notice(tx, &n).await?;
            row.notice_id = Some(n.id.clone());
            n.id
        }
    };
    sync_notice(tx, row, now).await?;
    page::add_update(tx, &new_id(), &notice_id, &row.status, body, now).await
}

/// Brings the notice (status, impact, name, components) in line with the incident.
pub(super) async fn sync_notice(
    tx: &mut Tx,
    row: &IncidentRow,
    now: i64,
) -> Result<(), sqlx::Error> {
    let Some(id) = &row.notice_id else {
        return Ok(());
    };
    let n = NoticeRow {
        id: id.clone(),
        kind: "incident".into(),
        name: row.title.clone(),
        status: row.status.clone(),
        impact: rules::impact_of(row.severity).into(),
        starts_at: None,
        ends_at: None,
        created: row.created,
        updated: now,
        resolved_at: row.resolved_at,
    };
    page::update_notice(tx, &n).await?;
    page::rename_notice(tx, id, &row.title, now).await?;
    page::set_component_impacts(tx, id, &components_of(row)).await
}
