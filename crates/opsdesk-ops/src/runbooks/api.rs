//! Ops actions over JSON (staff): `GET /api/ops/actions`, `GET/POST /api/ops/runs`,
//! `GET /api/ops/runs/{id}`, `POST /api/ops/runs/{id}/approve`, `POST /api/ops/runs/{id}/undo`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{ActionView, Approval, RunPage, RunRequest, RunView, UndoRequest};
use super::service::{self, Ctx};
use super::{approvals, store, undo, view};
use opsdesk_core::error::{AppError, ErrorBody, Fields};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiJson, ApiQuery};
use opsdesk_core::web::identity::ApiUser;

#[derive(OpenApi)]
#[openapi(tags((name = "ops", description = "Ops actions (runbooks): typed parameters, a ticket or incident reference, approval, freeze, undo and captured output")))]
struct OpsDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(OpsDoc::openapi())
        .routes(routes!(actions))
        .routes(routes!(list, request))
        .routes(routes!(read))
        .routes(routes!(approve))
        .routes(routes!(undo))
}

/// The context of a use case from the app state.
pub fn ctx(state: &AppState) -> Ctx<'_> {
    Ctx {
        db: &state.db,
        config: &state.config,
        instance: &state.instance_id,
    }
}

/// Every action with its parameters, and why it is frozen now if it is.
pub async fn action_views(
    state: &AppState,
    me: &opsdesk_core::accounts::model::User,
) -> Result<Vec<ActionView>, AppError> {
    let catalog = service::catalog(&state.config)?;
    let now = opsdesk_core::clock::now_ms();
    let severity = i64::from(state.config.incidents.freeze_severity);
    // One look per kind, not per action.
    let mut frozen: std::collections::HashMap<&str, Option<String>> = Default::default();
    let mut out = Vec::new();
    for a in &catalog.actions {
        if !frozen.contains_key(a.kind.as_str()) {
            let f = crate::incidents::freeze::current(&state.db, severity, &a.kind, now)
                .await?
                .map(|(f, _)| f.message());
            frozen.insert(&a.kind, f);
        }
        out.push(view::action(
            a,
            me,
            frozen.get(a.kind.as_str()).cloned().flatten(),
        ));
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/ops/actions", tag = "ops", security(("bearer" = [])),
    responses(
        (status = 200, description = "The configured actions (never their secrets)", body = Vec<ActionView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn actions(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<ActionView>>, AppError> {
    me.require_staff()?;
    Ok(axum::Json(action_views(&state, me.user()).await?))
}

/// States a list can ask for.
pub const STATES: [&str; 9] = [
    "awaiting_approval",
    "approved",
    "running",
    "succeeded",
    "failed",
    "timed_out",
    "could_not_start",
    "interrupted",
    "expired",
];

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Runs for this ticket number.
    pub ticket: Option<String>,
    /// Runs for this incident (`INC-12`).
    pub incident: Option<String>,
    /// Comma-separated states.
    pub state: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

/// Reads a list query (unknown states, tickets and incidents are refused).
pub async fn filter(
    state: &AppState,
    me: &opsdesk_core::accounts::model::User,
    q: &RunQuery,
) -> Result<store::Filter, AppError> {
    let mut f = Fields::default();
    let mut out = store::Filter {
        limit: q.limit.unwrap_or(50),
        ..Default::default()
    };
    if !(1..=200).contains(&out.limit) {
        f.add("limit", "must be 1 to 200");
    }
    for s in q
        .state
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if STATES.contains(&s) {
            out.states.push(s.to_string());
        } else {
            f.add("state", &format!("must be among {}", STATES.join(", ")));
        }
    }
    if let Some(t) = q.ticket.as_deref().filter(|t| !t.is_empty()) {
        match opsdesk_desk::tickets::service::visible(&state.db, me, t.trim_start_matches('#'))
            .await
        {
            Ok(t) => out.ticket_id = Some(t.id),
            Err(_) => f.add("ticket", "is not a ticket"),
        }
    }
    if let Some(i) = q.incident.as_deref().filter(|i| !i.is_empty()) {
        match crate::incidents::service::find(&state.db, i).await {
            Ok(i) => out.incident_id = Some(i.id),
            Err(_) => f.add("incident", "is not an incident"),
        }
    }
    f.finish()?;
    Ok(out)
}

#[utoipa::path(get, path = "/api/ops/runs", tag = "ops", security(("bearer" = [])), params(RunQuery),
    responses(
        (status = 200, description = "Runs, newest first", body = RunPage),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 422, description = "Unknown state, ticket or incident", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    me: ApiUser,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> Result<axum::Json<RunPage>, AppError> {
    me.require_staff()?;
    let f = filter(&state, me.user(), &q).await?;
    let catalog = service::catalog(&state.config)?;
    let mut items = Vec::new();
    for r in store::list(&state.db, &f).await? {
        if view::may_see(&catalog, me.user(), &r) {
            items.push(view::run(&state.db, &catalog, me.user(), &r).await?);
        }
    }
    Ok(axum::Json(RunPage { items }))
}

#[utoipa::path(post, path = "/api/ops/runs", tag = "ops", security(("bearer" = [])),
    request_body = RunRequest,
    responses(
        (status = 201, description = "Started (the run goes on; read it for its output)", body = RunView),
        (status = 202, description = "Waiting for a second person's approval", body = RunView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed to request this action, override the freeze, or run someone else's approval", body = ErrorBody),
        (status = 404, description = "No such approved request", body = ErrorBody),
        (status = 409, description = "Frozen, approval used, expired or not given yet, or parameters differ from the approved ones", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Unknown action, bad parameters, no ticket or incident, no justification or confirmation", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn request(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(req): ApiJson<RunRequest>,
) -> Result<(StatusCode, axum::Json<RunView>), AppError> {
    me.require_staff()?.require_write()?;
    let run = service::request(ctx(&state), &me.actor(), me.user(), &req).await?;
    let code = if run.state == "awaiting_approval" {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    let catalog = service::catalog(&state.config)?;
    Ok((
        code,
        axum::Json(view::run(&state.db, &catalog, me.user(), &run).await?),
    ))
}

async fn found(state: &AppState, id: &str) -> Result<store::RunRow, AppError> {
    store::find(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("This run"))
}

#[utoipa::path(get, path = "/api/ops/runs/{id}", tag = "ops", security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run with its output so far", body = RunView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn read(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::Json<RunView>, AppError> {
    me.require_staff()?;
    let r = found(&state, &id).await?;
    let catalog = service::catalog(&state.config)?;
    if !view::may_see(&catalog, me.user(), &r) {
        return Err(AppError::not_found("This run"));
    }
    Ok(axum::Json(
        view::run(&state.db, &catalog, me.user(), &r).await?,
    ))
}

#[utoipa::path(post, path = "/api/ops/runs/{id}/approve", tag = "ops", security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id")),
    request_body = Approval,
    responses(
        (status = 200, description = "Approved: the requester may run it once, with these parameters, until approval_expires", body = RunView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Your own request, or an admin-only action", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Not waiting for approval, or parameters differ from what you saw", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Unknown fields, or parameters that are not strings or numbers", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn approve(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(a): ApiJson<Approval>,
) -> Result<axum::Json<RunView>, AppError> {
    me.require_staff()?.require_write()?;
    let run = approvals::approve(ctx(&state), &me.actor(), me.user(), &id, &a).await?;
    let catalog = service::catalog(&state.config)?;
    Ok(axum::Json(
        view::run(&state.db, &catalog, me.user(), &run).await?,
    ))
}

#[utoipa::path(post, path = "/api/ops/runs/{id}/undo", tag = "ops", security(("bearer" = [])),
    params(("id" = String, Path, description = "The run to undo")),
    request_body = UndoRequest,
    responses(
        (status = 201, description = "The undo started (a new run linked to this one)", body = RunView),
        (status = 202, description = "The undo waits for a second person's approval (the action needs one)", body = RunView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not allowed to run this action", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Irreversible, not successful, or undone already", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Unknown fields, or a justification over 5,000 characters", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn undo(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(u): ApiJson<UndoRequest>,
) -> Result<(StatusCode, axum::Json<RunView>), AppError> {
    me.require_staff()?.require_write()?;
    let run = undo::undo(ctx(&state), &me.actor(), me.user(), &id, &u).await?;
    let catalog = service::catalog(&state.config)?;
    Ok((
        if run.state == "awaiting_approval" {
            StatusCode::ACCEPTED
        } else {
            StatusCode::CREATED
        },
        axum::Json(view::run(&state.db, &catalog, me.user(), &run).await?),
    ))
}
