//! The reply composer's helpers: the communication-rules review of every outgoing reply (with
//! the admin-edited phrase lists), and canned replies with placeholders.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use opsdesk_core::accounts::{Role, User};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, Fields, on_unique};

use super::model::Ticket;
use super::policy_store;
use super::reply_rules::{self, Finding, Lists};
use crate::mail::templates;

/// The rule kinds an admin can edit, in the order shown.
pub const KINDS: [&str; 4] = ["blame", "speculation", "promises", "internal"];

/// What the review found in a reply, with the reason, for people and for the API.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Concern {
    /// `blame`, `speculation`, `promised_date` or `internal_only`.
    pub concern: String,
    /// The words as they appear in the reply.
    pub phrase: String,
    /// Byte offset in the reply.
    pub start: usize,
    pub explanation: String,
}

impl From<Finding> for Concern {
    fn from(f: Finding) -> Concern {
        Concern {
            concern: f.concern.as_str().to_string(),
            explanation: f.concern.explain().to_string(),
            phrase: f.phrase,
            start: f.start,
        }
    }
}

/// The lists in force: the admin's where edited, the built-in ones otherwise.
pub async fn lists(db: &Db) -> Result<Lists, AppError> {
    let mut l = Lists::default();
    for (kind, phrases) in policy_store::reply_rule_lists(db).await? {
        let parsed = reply_rules::parse_list(&phrases).unwrap_or_default();
        match kind.as_str() {
            "blame" => l.blame = parsed,
            "speculation" => l.speculation = parsed,
            "promises" => l.promises = parsed,
            "internal" => l.internal = parsed,
            _ => {}
        }
    }
    Ok(l)
}

/// Reviews a reply before it is sent.
pub async fn review(db: &Db, body: &str) -> Result<Vec<Concern>, AppError> {
    let l = lists(db).await?;
    Ok(reply_rules::check(body, &l)
        .into_iter()
        .map(Concern::from)
        .collect())
}

/// One line per concern, for the refusal and the timeline.
pub fn summary(found: &[Concern]) -> String {
    found
        .iter()
        .map(|c| format!("{} \"{}\"", c.concern.replace('_', " "), c.phrase))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The refusal of a reply the agent has not confirmed.
pub fn needs_confirmation(found: &[Concern]) -> AppError {
    let mut e = AppError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "reply_needs_confirmation",
        format!(
            "The communication rules found: {}. Edit the reply, or send it again with \"confirm\": true.",
            summary(found)
        ),
    );
    e.fields.insert("body".into(), summary(found));
    e
}

/// The phrase lists as an admin edits them (one phrase a line).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleLists {
    pub blame: String,
    pub speculation: String,
    pub promises: String,
    pub internal: String,
}

pub async fn rule_lists(db: &Db) -> Result<RuleLists, AppError> {
    let l = lists(db).await?;
    Ok(RuleLists {
        blame: l.blame.join("\n"),
        speculation: l.speculation.join("\n"),
        promises: l.promises.join("\n"),
        internal: l.internal.join("\n"),
    })
}

pub async fn set_rule_lists(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    input: RuleLists,
) -> Result<RuleLists, AppError> {
    if viewer.role != Role::Admin {
        return Err(AppError::forbidden("This needs an admin account."));
    }
    let mut fields = Fields::default();
    let parsed: Vec<(&str, Option<Vec<String>>)> = [
        ("blame", &input.blame),
        ("speculation", &input.speculation),
        ("promises", &input.promises),
        ("internal", &input.internal),
    ]
    .into_iter()
    .map(|(k, text)| {
        let p = reply_rules::parse_list(text);
        if let Err(problem) = &p {
            fields.add(k, problem);
        }
        (k, p.ok())
    })
    .collect();
    fields.finish()?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    for (kind, list) in &parsed {
        let text = list.clone().unwrap_or_default().join("\n");
        policy_store::set_reply_rule_list(&mut tx, kind, &text, now).await?;
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("desk.reply_rules.update", "reply_rules", ""),
    )
    .await?;
    tx.commit().await?;
    rule_lists(db).await
}

/// A canned reply: a titled text with placeholders.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Canned {
    pub id: String,
    pub title: String,
    /// May use `{{name}}`, `{{email}}`, `{{ref}}`, `{{subject}}`, `{{brand}}`.
    pub body: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    pub title: String,
    pub body: String,
}

pub async fn canned(db: &Db) -> Result<Vec<Canned>, AppError> {
    Ok(policy_store::canned_replies(db)
        .await?
        .into_iter()
        .map(|r| Canned {
            id: r.id,
            title: r.title,
            body: r.body,
        })
        .collect())
}

/// Adds a canned reply (staff).
pub async fn add_canned(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    input: CannedInput,
) -> Result<Canned, AppError> {
    if !viewer.role.is_staff() {
        return Err(AppError::forbidden("Only the support team can do this."));
    }
    let title = input.title.trim().to_string();
    let mut fields = Fields::default();
    if title.is_empty() || title.chars().count() > 100 || title.chars().any(char::is_control) {
        fields.add("title", "is required: one line, at most 100 characters");
    }
    for (_, p) in templates::check("x", &input.body) {
        fields.add("body", &p);
    }
    fields.finish()?;
    let id = new_id();
    let mut tx = db.begin().await?;
    policy_store::insert_canned(&mut tx, &id, &title, &input.body, now_ms())
        .await
        .map_err(|e| on_unique(e, "title", "is already used by another canned reply"))?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "desk.canned.create",
            format!("canned:{id}"),
            format!("title={title}"),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Canned {
        id,
        title,
        body: input.body,
    })
}

pub async fn delete_canned(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    id: &str,
) -> Result<(), AppError> {
    if !viewer.role.is_staff() {
        return Err(AppError::forbidden("Only the support team can do this."));
    }
    let mut tx = db.begin().await?;
    if !policy_store::delete_canned(&mut tx, id).await? {
        return Err(AppError::not_found("This canned reply"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("desk.canned.delete", format!("canned:{id}"), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A canned reply filled in for a ticket.
pub fn fill(body: &str, t: &Ticket, brand: &str) -> String {
    let reference = format!("#{}", t.number);
    templates::render(
        body,
        &[
            ("name", t.requester.name.as_str()),
            ("email", t.requester.email.as_str()),
            ("ref", reference.as_str()),
            ("subject", t.subject.as_str()),
            ("brand", brand),
        ],
    )
}
