//! The postmortem: written once the incident is resolved (required for SEV1 and SEV2), its
//! timeline prefilled from the incident's own, each action item filed as a ticket linked to the
//! incident — so every follow-up fix references a ticket.

use opsdesk_core::accounts::model::User;
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields};
use opsdesk_desk::tickets::input::NewTicket;
use opsdesk_desk::tickets::model::Channel;

use super::model::NewPostmortem;
use super::rules;
use super::service::{event, find};
use super::store::{self, IncidentRow, PostmortemRow};

/// The timeline a new postmortem starts with: the incident's own, one line per entry.
pub async fn prefill(db: &Db, row: &IncidentRow) -> Result<String, AppError> {
    let events = store::events(db, &row.id).await?;
    let names = super::view::names(db, events.iter().map(|e| e.actor.clone())).await?;
    let lines: Vec<rules::Line<'_>> = events
        .iter()
        .map(|e| rules::Line {
            at: e.at,
            actor: names.get(&e.actor).map(String::as_str).unwrap_or(&e.actor),
            kind: &e.kind,
            body: &e.body,
        })
        .collect();
    Ok(rules::timeline_text(&lines))
}

/// Writes (or rewrites) the postmortem; new action items become tickets. Returns the incident
/// and the action items' ticket numbers.
pub async fn write(
    db: &Db,
    mail: &MailConfig,
    actor: &Actor,
    me: &User,
    reference: &str,
    input: &NewPostmortem,
) -> Result<(IncidentRow, Vec<i64>), AppError> {
    let mut row = find(db, reference).await?;
    let mut f = Fields::default();
    let mut field = |name: &str, v: &str, required: bool| {
        let v = v.trim();
        if required && v.is_empty() {
            f.add(name, "is required in a postmortem");
        } else if v.chars().count() > 50_000 {
            f.add(name, "must be at most 50,000 characters");
        }
        v.to_string()
    };
    let impact = field("impact", &input.impact, true);
    let root_cause = field("root_cause", &input.root_cause, true);
    let went_well = field("went_well", &input.went_well, false);
    let went_badly = field("went_badly", &input.went_badly, false);
    let timeline = field("timeline", &input.timeline, false);
    let items: Vec<String> = input
        .action_items
        .iter()
        .flat_map(|i| rules::action_items(i))
        .collect();
    if items.iter().any(|i| i.chars().count() > 200) {
        f.add(
            "action_items",
            "each must be at most 200 characters (it becomes a ticket's subject)",
        );
    }
    if items.len() > 50 {
        f.add("action_items", "at most 50 at a time");
    }
    if !matches!(row.status.as_str(), "resolved" | "postmortem") {
        f.add(
            "status",
            "resolve the incident (with its root cause) before writing the postmortem",
        );
    }
    f.finish()?;
    let timeline = if timeline.is_empty() {
        prefill(db, &row).await?
    } else {
        timeline
    };
    // The postmortem and the status move are saved first (refused if someone changed the
    // incident meanwhile), then each action item is filed as its own ticket and linked.
    let seen = row.updated;
    let now = now_ms().max(seen + 1);
    let existing = store::postmortem(db, &row.id).await?;
    let pm = PostmortemRow {
        impact,
        timeline,
        root_cause,
        went_well,
        went_badly,
        author: actor.label.clone(),
        created: existing.as_ref().map(|p| p.created).unwrap_or(now),
        updated: now,
    };
    row.status = "postmortem".into();
    row.updated = now;
    let mut tx = db.begin().await?;
    super::service::save(&mut tx, &row, seen).await?;
    store::save_postmortem(&mut tx, &row.id, &pm).await?;
    if let Some(n) = &row.notice_id
        && let Some(mut notice) = crate::status::store::notice(&mut tx, n).await?
    {
        notice.status = "postmortem".into();
        notice.updated = now;
        crate::status::store::update_notice(&mut tx, &notice).await?;
    }
    event(
        &mut tx,
        &row.id,
        actor,
        "postmortem",
        false,
        if existing.is_some() {
            "Postmortem revised"
        } else {
            "Postmortem written"
        },
        "",
        now,
    )
    .await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "incident.postmortem",
            format!("incident:{}", row.id),
            format!("INC-{} action items: {}", row.number, items.len()),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::status::service::forget(db);
    let mut filed = Vec::new();
    for item in &items {
        let t = opsdesk_desk::tickets::filing::create(
            db,
            mail,
            actor,
            Some(me),
            Channel::Web,
            NewTicket {
                subject: format!("INC-{} action item: {item}", row.number),
                body: format!(
                    "Action item from the postmortem of INC-{} \"{}\".\n\n{item}",
                    row.number, row.title
                ),
                email: Some(me.email.clone()),
                name: Some(me.name.clone()),
                ..Default::default()
            },
            None,
        )
        .await?;
        let now = now_ms();
        let mut tx = db.begin().await?;
        store::add_link(&mut tx, &row.id, "action_item", &t.id, now).await?;
        opsdesk_desk::tickets::store::insert_event(
            &mut tx,
            &t.id,
            &actor.label,
            "incident",
            &format!("Action item of incident INC-{} {}", row.number, row.title),
            now,
        )
        .await?;
        event(
            &mut tx,
            &row.id,
            actor,
            "link",
            false,
            &format!("Action item #{}", t.number),
            &format!("ticket:{}", t.id),
            now,
        )
        .await?;
        tx.commit().await?;
        filed.push(t.number);
    }
    Ok((row, filed))
}
