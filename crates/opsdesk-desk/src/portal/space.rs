//! The organization's shared space in the portal (tiers with a shared space, e.g. Agency): the
//! organization's open work across its members, who handles it on the team, the organization's
//! named contacts, and whether its updates channel (webhook) is on. Only members see it; for
//! anyone else it does not exist.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use sqlx::Row as _;
use tower_sessions::Session;

use crate::tickets::model::State as TicketState;
use crate::tickets::queries::{self, ListQuery};
use crate::tickets::store::Sort;
use opsdesk_core::accounts::User;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageResult, Shell, when};

/// An organization with a shared space: (name, tier name, has a webhook).
pub async fn space_of(db: &Db, user: &User) -> Result<Option<(String, String, bool)>, AppError> {
    let Some(org) = user
        .organization_id
        .as_deref()
        .filter(|_| !user.role.is_staff())
    else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT o.name, t.name AS tier, o.webhook_url FROM organizations o \
         JOIN sla_tiers t ON t.id = o.tier_id WHERE o.id = $1 AND t.shared_space = 1",
    )
    .bind(org)
    .fetch_optional(db.read())
    .await?;
    Ok(row
        .map(|r| -> Result<_, sqlx::Error> {
            Ok((
                r.try_get("name")?,
                r.try_get("tier")?,
                r.try_get::<Option<String>, _>("webhook_url")?.is_some(),
            ))
        })
        .transpose()?)
}

/// The organization's members: (name, email).
async fn members(db: &Db, org: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query(
        "SELECT name, email FROM users WHERE organization_id = $1 AND disabled = 0 \
         ORDER BY name, email LIMIT 200",
    )
    .bind(org)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("name")?, r.try_get("email")?)))
    .collect()
}

struct Work {
    number: i64,
    subject: String,
    asked_by: String,
    state: &'static str,
    handled_by: String,
    updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal_space.html")]
struct SpacePage {
    shell: Shell,
    org: String,
    tier: String,
    webhook: bool,
    work: Vec<Work>,
    team: Vec<String>,
    members: Vec<(String, String)>,
}

pub async fn show(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    let user = me.user();
    let Some((org, tier, webhook)) = space_of(&state.db, user).await? else {
        return Err(AppError::not_found("This page").into());
    };
    let q = ListQuery {
        states: TicketState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect(),
        category: None,
        assignee: None,
        sort: Sort::Updated,
        after: None,
        limit: 200,
        q: None,
        due: None,
    };
    let open = queries::list_for_requester(&state.db, user, &user.id, &q).await?;
    let mut team: Vec<String> = open
        .iter()
        .filter_map(|t| t.assignee.as_ref().map(|a| a.name.clone()))
        .collect();
    team.sort();
    team.dedup();
    let work = open
        .into_iter()
        .map(|t| Work {
            number: t.number,
            asked_by: t.requester.name.clone(),
            state: super::label(t.state),
            handled_by: t.assignee.map(|a| a.name).unwrap_or_default(),
            updated: when(t.updated_at),
            subject: t.subject,
        })
        .collect();
    let org_id = user.organization_id.clone().unwrap_or_default();
    Ok(SpacePage {
        shell: Shell::load(&state, &session, Some(user), &org, "space").await,
        members: members(&state.db, &org_id).await?,
        org,
        tier,
        webhook,
        work,
        team,
    }
    .into_response())
}
