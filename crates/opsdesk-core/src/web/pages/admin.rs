//! Admin pages: users, the audit log and background jobs.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::{PageError, PageResult, Shell, field_errors, flash, when};
use crate::accounts::service::{self as accounts, NewUserInput};
use crate::accounts::{Role, User};
use crate::audit::store::{AuditFilter, list as list_audit};
use crate::error::AppError;
use crate::jobs::QueueStats;
use crate::web::extract::ApiForm;
use crate::web::identity::PageUser;
use crate::web::pagination::Cursor;
use crate::web::state::AppState;

const PAGE: i64 = 50;

fn require_admin(me: &PageUser) -> Result<(), PageError> {
    if me.user().role == Role::Admin {
        Ok(())
    } else {
        Err(PageError(AppError::forbidden("This page is for admins.")))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_users.html")]
struct UsersPage {
    shell: Shell,
    users: Vec<User>,
    roles: Vec<&'static str>,
    form: NewUserInput,
    errors: BTreeMap<String, String>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct CursorQuery {
    #[serde(default)]
    cursor: String,
}

async fn users_page(
    state: &AppState,
    session: &Session,
    me: &PageUser,
    cursor: &str,
    form: NewUserInput,
    errors: BTreeMap<String, String>,
) -> Result<UsersPage, PageError> {
    let after = Cursor::decode_text(cursor)?;
    let mut users = accounts::list(&state.db, None, &after, PAGE + 1).await?;
    let next_cursor = if users.len() as i64 > PAGE {
        users.truncate(PAGE as usize);
        users.last().map(|u| Cursor::encode_text(&u.email))
    } else {
        None
    };
    let shell = Shell::load(state, session, Some(me.user()), "Users", "users").await;
    Ok(UsersPage {
        shell,
        users,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        form,
        errors,
        next_cursor,
    })
}

pub async fn users(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    require_admin(&me)?;
    let form = NewUserInput {
        role: "agent".into(),
        ..NewUserInput::default()
    };
    Ok(
        users_page(&state, &session, &me, &q.cursor, form, BTreeMap::new())
            .await?
            .into_response(),
    )
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    security: Option<String>,
}

pub async fn create_user(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<UserForm>,
) -> PageResult {
    require_admin(&me)?;
    let input = NewUserInput {
        email: f.email,
        name: f.name,
        role: f.role,
        password: f.password,
        organization: f.organization,
        security: f.security.is_some_and(|v| v == "true" || v == "on"),
    };
    match accounts::create_user(&state.db, &me.actor(), input.clone()).await {
        Ok(user) => {
            flash(&session, format!("Added {} as {}.", user.email, user.role)).await;
            Ok(Redirect::to("/admin/users").into_response())
        }
        Err(e) => {
            let errors = field_errors(e)?;
            let form = NewUserInput {
                password: String::new(),
                ..input
            };
            let page = users_page(&state, &session, &me, "", form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
    ApiForm(f): ApiForm<RoleForm>,
) -> PageResult {
    require_admin(&me)?;
    let role = Role::parse(&f.role)
        .ok_or_else(|| AppError::field("role", "must be admin, agent or customer"))?;
    let current = accounts::find(&state.db, &id).await?;
    let security = current.security && role.is_staff();
    let user = accounts::set_role(&state.db, &me.actor(), &id, role, security).await?;
    flash(&session, format!("{} is now {}.", user.email, user.role)).await;
    Ok(Redirect::to("/admin/users").into_response())
}

pub async fn disable(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    set_disabled(state, session, me, id, true).await
}

pub async fn enable(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    set_disabled(state, session, me, id, false).await
}

async fn set_disabled(
    state: AppState,
    session: Session,
    me: PageUser,
    id: String,
    disabled: bool,
) -> PageResult {
    require_admin(&me)?;
    if disabled && id == me.user().id {
        return Err(PageError(AppError::conflict(
            "cannot_disable_self",
            "You cannot disable your own account.",
        )));
    }
    let user = accounts::set_disabled(&state.db, &me.actor(), &id, disabled).await?;
    let what = if disabled {
        "disabled; their sessions have ended"
    } else {
        "enabled"
    };
    flash(&session, format!("{} is {what}.", user.email)).await;
    Ok(Redirect::to("/admin/users").into_response())
}

pub struct AuditRow {
    pub seq: i64,
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub summary: String,
    pub client_ip: String,
}

#[derive(Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub cursor: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    shell: Shell,
    filter: AuditQuery,
    records: Vec<AuditRow>,
    older_query: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    require_admin(&me)?;
    let before = Cursor::decode_seq(&q.cursor)?;
    let filter = AuditFilter {
        action: q.action.trim().into(),
        actor: q.actor.trim().into(),
        target: q.target.trim().into(),
        before_seq: before,
    };
    let mut records = list_audit(&state.db, &filter, PAGE + 1).await?;
    let older_query = if records.len() as i64 > PAGE {
        records.truncate(PAGE as usize);
        records.last().map(|r| {
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("action", &filter.action)
                .append_pair("actor", &filter.actor)
                .append_pair("target", &filter.target)
                .append_pair("cursor", &Cursor::encode_seq(r.seq))
                .finish()
        })
    } else {
        None
    };
    let names = super::actor_names(&state, records.iter().map(|r| r.actor.as_str())).await;
    let records = records
        .into_iter()
        .map(|r| AuditRow {
            seq: r.seq,
            when: when(r.at),
            actor: names.get(&r.actor).cloned().unwrap_or(r.actor),
            action: r.action,
            target: r.target,
            summary: r.summary,
            client_ip: r.client_ip,
        })
        .collect();
    let shell = Shell::load(&state, &session, Some(me.user()), "Audit log", "audit").await;
    Ok(AuditPage {
        shell,
        filter: q,
        records,
        older_query,
    }
    .into_response())
}

pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub created: String,
    pub last_error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_jobs.html")]
struct JobsPage {
    shell: Shell,
    stats: QueueStats,
    leader: bool,
    states: Vec<&'static str>,
    state: String,
    jobs: Vec<JobRow>,
}

#[derive(Deserialize)]
pub struct JobsQuery {
    #[serde(default)]
    state: String,
}

pub const JOB_STATES: [&str; 4] = ["queued", "running", "dead", "done"];

pub async fn jobs(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Query(q): Query<JobsQuery>,
) -> PageResult {
    require_admin(&me)?;
    let which = if q.state.is_empty() {
        "dead".to_string()
    } else {
        q.state
    };
    if !JOB_STATES.contains(&which.as_str()) {
        return Err(PageError(AppError::field(
            "state",
            "must be queued, running, dead or done",
        )));
    }
    let jobs = crate::jobs::store::list(&state.db, &which, 0, 100)
        .await?
        .into_iter()
        .map(|j| JobRow {
            id: j.id,
            kind: j.kind,
            state: j.state,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            created: when(j.created_at),
            last_error: j.last_error.unwrap_or_default(),
        })
        .collect();
    let stats = crate::jobs::store::stats(&state.db).await?;
    let shell = Shell::load(&state, &session, Some(me.user()), "Jobs", "jobs").await;
    Ok(JobsPage {
        shell,
        stats,
        leader: state.leadership.is_leader(),
        states: JOB_STATES.to_vec(),
        state: which,
        jobs,
    }
    .into_response())
}

pub async fn retry_job(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    require_admin(&me)?;
    crate::jobs::retry_dead(&state.db, &me.actor(), &id).await?;
    flash(&session, "The job is queued again.").await;
    Ok(Redirect::to("/admin/jobs?state=queued").into_response())
}
