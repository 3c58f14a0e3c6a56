//! The desk's settings page for admins: email templates, triage rules, unsupported request
//! types, the communication rules' phrase lists and canned replies. Each form calls the same
//! service as the API and comes back here with what happened.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use tower_sessions::Session;

use crate::mail::api::{TemplateInput, save_template};
use crate::mail::store as mail_store;
use crate::tickets::composer::{self, CannedInput, RuleLists};
use crate::tickets::model::{Category, Person};
use crate::tickets::policy::{self, UnsupportedEdit, UnsupportedType};
use crate::tickets::queries;
use crate::tickets::triage::{Actions, Conditions, parse_lines};
use crate::tickets::triage_service::{self, RuleInput};
use opsdesk_core::accounts::Role;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash};

struct RuleLine {
    id: String,
    position: i64,
    name: String,
    enabled: bool,
    when: String,
    then: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "desk_settings.html")]
struct SettingsPage {
    shell: Shell,
    error: Option<String>,
    /// (key, subject, body)
    templates: Vec<(String, String, String)>,
    rules: Vec<RuleLine>,
    categories: Vec<Category>,
    agents: Vec<Person>,
    unsupported: Vec<UnsupportedType>,
    lists: RuleLists,
    canned: Vec<composer::Canned>,
    organizations: Vec<crate::portal::orgs::Organization>,
    /// (id, name) of every tier, for the organizations' tier choice.
    tiers: Vec<(String, String)>,
    /// (state key, label, paused) for each state that may pause the SLA clocks.
    sla_paused: Vec<(&'static str, &'static str, bool)>,
}

fn admin(me: &PageUser) -> Result<(), PageError> {
    if me.user().role == Role::Admin {
        Ok(())
    } else {
        Err(PageError(AppError::forbidden(
            "Desk settings are for admins.",
        )))
    }
}

fn describe(
    when: &Conditions,
    then: &Actions,
    categories: &[Category],
    agents: &[Person],
) -> (String, String) {
    let mut w = Vec::new();
    for (label, list) in [
        ("from", &when.sender_domains),
        ("words", &when.words),
        ("to", &when.mailboxes),
        ("via", &when.channels),
    ] {
        if !list.is_empty() {
            w.push(format!("{label} {}", list.join(", ")));
        }
    }
    let mut t = Vec::new();
    if let Some(c) = &then.category {
        let name = categories
            .iter()
            .find(|x| &x.id == c)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| c.clone());
        t.push(format!("category {name}"));
    }
    if let Some(p) = &then.priority {
        t.push(format!("priority {p}"));
    }
    if let Some(a) = &then.assignee {
        let name = agents
            .iter()
            .find(|x| &x.id == a)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| a.clone());
        t.push(format!("assign {name}"));
    }
    (w.join("; "), t.join("; "))
}

async fn page(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    error: Option<String>,
) -> Result<SettingsPage, PageError> {
    let categories = queries::categories(&state.db).await?;
    let agents = queries::assignable(&state.db).await?;
    let rules = triage_service::rules(&state.db)
        .await?
        .into_iter()
        .map(|r| {
            let (when, then) = describe(&r.when, &r.then, &categories, &agents);
            RuleLine {
                id: r.id,
                position: r.position,
                name: r.name,
                enabled: r.enabled,
                when,
                then,
            }
        })
        .collect();
    Ok(SettingsPage {
        shell: Shell::load(state, session, Some(me.user()), "Desk settings", "settings").await,
        error,
        templates: mail_store::templates(&state.db)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|(k, s, b, _)| (k, s, b))
            .collect(),
        rules,
        categories,
        agents,
        unsupported: policy::types(&state.db).await?,
        lists: composer::rule_lists(&state.db).await?,
        canned: composer::canned(&state.db).await?,
        organizations: crate::portal::orgs::list(&state.db).await?,
        tiers: opsdesk_sla::service::tiers(&state.db, me.user())
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect(),
        sla_paused: {
            let on = crate::tickets::sla_settings::get(&state.db, me.user())
                .await?
                .paused_states;
            crate::tickets::sla::PAUSABLE
                .iter()
                .map(|s| (s.as_str(), s.label(), on.iter().any(|n| n == s.as_str())))
                .collect()
        },
    })
}

pub async fn show(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    admin(&me)?;
    Ok(page(&state, &session, &me, None).await?.into_response())
}

/// Back to the settings with a flash, or the page again with the problem.
async fn done(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    outcome: Result<String, AppError>,
    anchor: &str,
) -> PageResult {
    match outcome {
        Ok(msg) => {
            flash(session, msg).await;
            Ok(Redirect::to(&format!("/desk/settings#{anchor}")).into_response())
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            let mut problem = e.message.clone();
            for (f, p) in &e.fields {
                problem.push_str(&format!(" {f}: {p}."));
            }
            let p = page(state, session, me, Some(problem)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
        }
        Err(e) => Err(PageError(e)),
    }
}

type Form = ApiForm<BTreeMap<String, String>>;

fn field(f: &BTreeMap<String, String>, k: &str) -> String {
    f.get(k).cloned().unwrap_or_default()
}

pub async fn template(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(key): Path<String>,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let input = TemplateInput {
        subject: field(&f, "subject"),
        body: field(&f, "body"),
    };
    let outcome = save_template(&state.db, &me.actor(), &key, input)
        .await
        .map(|t| format!("Saved the {} template.", t.key));
    done(&state, &session, &me, outcome, "templates").await
}

pub async fn add_rule(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let some = |k: &str| Some(field(&f, k)).filter(|v| !v.trim().is_empty());
    let input = RuleInput {
        name: field(&f, "name"),
        position: field(&f, "position").trim().parse().ok(),
        enabled: true,
        when: Conditions {
            sender_domains: parse_lines(&field(&f, "sender_domains")),
            words: parse_lines(&field(&f, "words")),
            mailboxes: parse_lines(&field(&f, "mailboxes")),
            channels: parse_lines(&field(&f, "channels")),
        },
        then: Actions {
            category: some("category"),
            priority: some("priority"),
            assignee: some("assignee"),
        },
    };
    let outcome = triage_service::save(&state.db, &me.actor(), me.user(), None, input)
        .await
        .map(|r| format!("Added the rule {}.", r.name));
    done(&state, &session, &me, outcome, "triage").await
}

pub async fn delete_rule(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    admin(&me)?;
    let outcome = triage_service::delete(&state.db, &me.actor(), me.user(), &id)
        .await
        .map(|_| "Deleted the rule.".to_string());
    done(&state, &session, &me, outcome, "triage").await
}

pub async fn unsupported(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let input = UnsupportedEdit {
        name: field(&f, "name"),
        answer: field(&f, "answer"),
    };
    let outcome = policy::edit_type(&state.db, &me.actor(), me.user(), &id, input)
        .await
        .map(|t| format!("Saved {}.", t.name));
    done(&state, &session, &me, outcome, "unsupported").await
}

pub async fn reply_rules(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let input = RuleLists {
        blame: field(&f, "blame"),
        speculation: field(&f, "speculation"),
        promises: field(&f, "promises"),
        internal: field(&f, "internal"),
    };
    let outcome = composer::set_rule_lists(&state.db, &me.actor(), me.user(), input)
        .await
        .map(|_| "Saved the communication rules.".to_string());
    done(&state, &session, &me, outcome, "rules").await
}

pub async fn add_canned(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let input = CannedInput {
        title: field(&f, "title"),
        body: field(&f, "body"),
    };
    let outcome = composer::add_canned(&state.db, &me.actor(), me.user(), input)
        .await
        .map(|c| format!("Added the canned reply {}.", c.title));
    done(&state, &session, &me, outcome, "canned").await
}

pub async fn delete_canned(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    admin(&me)?;
    let outcome = composer::delete_canned(&state.db, &me.actor(), me.user(), &id)
        .await
        .map(|_| "Deleted the canned reply.".to_string());
    done(&state, &session, &me, outcome, "canned").await
}

pub async fn sharing(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let share = field(&f, "share_tickets") == "true";
    let outcome = crate::portal::orgs::set(&state.db, &me.actor(), me.user(), &id, share)
        .await
        .map(|o| {
            if o.share_tickets {
                format!("Members of {} now see each other's requests.", o.name)
            } else {
                format!("Members of {} see only their own requests.", o.name)
            }
        });
    done(&state, &session, &me, outcome, "organizations").await
}

pub async fn sla_paused(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let names: Vec<String> = crate::tickets::sla::PAUSABLE
        .iter()
        .filter(|s| f.contains_key(&format!("paused_{}", s.as_str())))
        .map(|s| s.as_str().to_string())
        .collect();
    let outcome = crate::tickets::sla_settings::set(&state.db, &me.actor(), me.user(), &names)
        .await
        .map(|saved| {
            if saved.paused_states.is_empty() {
                "SLA clocks now pause only while waiting on the customer.".to_string()
            } else {
                format!(
                    "SLA clocks now also pause in: {}.",
                    saved.paused_states.join(", ")
                )
            }
        });
    done(&state, &session, &me, outcome, "sla").await
}

pub async fn org_tier(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): Form,
) -> PageResult {
    admin(&me)?;
    let choice = opsdesk_sla::policy::TierChoice {
        tier: Some(field(&f, "tier")).filter(|t| !t.is_empty()),
    };
    let outcome = opsdesk_sla::service::assign(
        &state.db,
        &me.actor(),
        me.user(),
        opsdesk_sla::service::Holder::Organization,
        &id,
        choice,
    )
    .await
    .map(|a| match a.tier {
        Some(t) => format!("The organization is now served under {}.", t.name),
        None => "The organization now gets the default tier.".to_string(),
    });
    done(&state, &session, &me, outcome, "organizations").await
}
