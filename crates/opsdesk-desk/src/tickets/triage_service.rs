//! Triage rules at work: applied to every new ticket from any channel (the pure matching lives
//! in `triage`), and kept by admins with the names they point at checked when saved.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use opsdesk_core::accounts::{Role, User};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;

use super::model::{Category, Person, Priority};
use super::triage::{self, Actions, Conditions, Incoming, Rule};
use super::{policy_store, store};

/// What the rules decided for a new ticket, resolved to real categories and people, each with
/// its timeline line ("triage rule 'VIP customers' set priority urgent").
#[derive(Default)]
pub struct Triaged {
    pub category: Option<(Category, String)>,
    pub priority: Option<(Priority, String)>,
    pub assignee: Option<(Person, String)>,
}

/// The rules and what they may point at, read before a write transaction begins (reading
/// them inside one would take a second pooled connection per request, which on PostgreSQL can
/// exhaust the pool under load).
#[derive(Default)]
pub struct Prepared {
    rules: Vec<Rule>,
    categories: Vec<Category>,
    staff: Vec<Person>,
}

/// Loads what triage needs (one query when there are no rules).
pub async fn prepare(db: &Db) -> Result<Prepared, AppError> {
    let rules = policy_store::triage_rules(db).await?;
    if rules.is_empty() {
        return Ok(Prepared::default());
    }
    Ok(Prepared {
        rules,
        categories: store::list_categories(db).await?,
        staff: store::assignable(db).await?,
    })
}

impl Prepared {
    /// Applies the rules to a new ticket. A rule pointing at something deleted since is skipped.
    pub fn decide(&self, msg: &Incoming<'_>) -> Triaged {
        let mut t = Triaged::default();
        if self.rules.is_empty() {
            return t;
        }
        let out = triage::apply(&self.rules, msg);
        if let Some((id, rule)) = &out.category
            && let Some(c) = self.categories.iter().find(|c| &c.id == id)
        {
            let line = format!("triage rule '{rule}' set category {}", c.name);
            t.category = Some((c.clone(), line));
        }
        if let Some((p, rule)) = &out.priority
            && let Some(p) = Priority::parse(p)
        {
            t.priority = Some((
                p,
                format!("triage rule '{rule}' set priority {}", p.as_str()),
            ));
        }
        if let Some((id, rule)) = &out.assignee
            && let Some(a) = self.staff.iter().find(|a| &a.id == id)
        {
            let line = format!("triage rule '{rule}' assigned {}", a.name);
            t.assignee = Some((a.clone(), line));
        }
        t
    }
}

/// A rule as an admin writes it (category by id or name, assignee by id or email).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub when: Conditions,
    #[schema(value_type = Object)]
    pub then: Actions,
}

fn yes() -> bool {
    true
}

/// A stored rule.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    /// `sender_domains`, `words`, `mailboxes`, `channels` (each a list; empty lists do not
    /// constrain, and a rule needs at least one).
    #[schema(value_type = Object)]
    pub when: Conditions,
    /// `category` (id), `priority` (low, normal, high, urgent), `assignee` (user id).
    #[schema(value_type = Object)]
    pub then: Actions,
}

impl From<Rule> for RuleView {
    fn from(r: Rule) -> RuleView {
        RuleView {
            id: r.id,
            name: r.name,
            position: r.position,
            enabled: r.enabled,
            when: r.when,
            then: r.then,
        }
    }
}

pub async fn rules(db: &Db) -> Result<Vec<RuleView>, AppError> {
    Ok(policy_store::triage_rules(db)
        .await?
        .into_iter()
        .map(RuleView::from)
        .collect())
}

/// Creates (`id` None) or replaces a rule (admins).
pub async fn save(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    id: Option<&str>,
    input: RuleInput,
) -> Result<RuleView, AppError> {
    if viewer.role != Role::Admin {
        return Err(AppError::forbidden("This needs an admin account."));
    }
    let mut when = input.when;
    for list in [
        &mut when.sender_domains,
        &mut when.words,
        &mut when.mailboxes,
        &mut when.channels,
    ] {
        *list = triage::parse_lines(&list.join("\n"));
    }
    let mut then = input.then;
    let mut problems: Vec<(&'static str, String)> = triage::validate(&input.name, &when, &then);
    if let Some(c) = then.category.clone().filter(|c| !c.trim().is_empty()) {
        match store::find_category(db, &c).await? {
            Some(found) => then.category = Some(found.id),
            None => problems.push(("category", format!("{c:?} is not a known category"))),
        }
    }
    if let Some(a) = then.assignee.clone().filter(|a| !a.trim().is_empty()) {
        let staff = store::assignable(db).await?;
        match staff
            .iter()
            .find(|p| p.id == a || p.email.eq_ignore_ascii_case(&a))
        {
            Some(p) => then.assignee = Some(p.id.clone()),
            None => problems.push(("assignee", format!("{a:?} is not an agent or admin"))),
        }
    }
    if !problems.is_empty() {
        return Err(AppError::validation(
            problems
                .into_iter()
                .map(|(f, p)| (f.to_string(), p))
                .collect(),
        ));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    let id = match id {
        Some(id) => {
            if !policy_store::triage_rule_exists(&mut tx, id).await? {
                return Err(AppError::not_found("This triage rule"));
            }
            id.to_string()
        }
        None => new_id(),
    };
    let rule = Rule {
        id: id.clone(),
        name: input.name.trim().to_string(),
        position: input.position.unwrap_or(100),
        enabled: input.enabled,
        when,
        then,
    };
    policy_store::save_triage_rule(&mut tx, &rule, now).await?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "desk.triage_rule.save",
            format!("triage_rule:{id}"),
            format!("name={}", rule.name),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(rule.into())
}

pub async fn delete(db: &Db, actor: &Actor, viewer: &User, id: &str) -> Result<(), AppError> {
    if viewer.role != Role::Admin {
        return Err(AppError::forbidden("This needs an admin account."));
    }
    let mut tx = db.begin().await?;
    if !policy_store::delete_triage_rule(&mut tx, id).await? {
        return Err(AppError::not_found("This triage rule"));
    }
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry("desk.triage_rule.delete", format!("triage_rule:{id}"), ""),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
