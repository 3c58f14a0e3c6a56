//! Incidents over JSON (staff), so other tools can open and update them: `GET/POST
//! /api/incidents`, `GET/PATCH /api/incidents/{id}`, `POST /api/incidents/{id}/updates`,
//! `…/links`, `…/postmortem`; freeze windows at `/api/freeze-windows`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::freeze::{self, NewWindow};
use super::model::{
    IncidentPatch, IncidentSummary, IncidentView, NewIncident, NewLink, NewPostmortem, NewUpdate,
};
use super::{postmortem, service, store, updates, view};
use opsdesk_core::clock::rfc3339_ms;
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiJson, ApiQuery};
use opsdesk_core::web::identity::ApiUser;

#[derive(OpenApi)]
#[openapi(tags((name = "incidents", description = "Incidents with their timeline, public updates, links and postmortem; change-freeze windows")))]
struct IncidentsDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(IncidentsDoc::openapi())
        .routes(routes!(list, declare))
        .routes(routes!(read, patch))
        .routes(routes!(post_update))
        .routes(routes!(link))
        .routes(routes!(write_postmortem))
        .routes(routes!(windows, add_window))
        .routes(routes!(remove_window))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// live (investigating, identified, monitoring), resolved (resolved or postmortem), or all
    /// (default).
    pub state: Option<String>,
    /// 1 to 4.
    pub severity: Option<i64>,
    /// The next page: `next_before` of the previous one.
    pub before: Option<i64>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct IncidentPage {
    pub items: Vec<IncidentSummary>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next_before: Option<i64>,
}

/// Reads a list query, refusing what it cannot mean.
pub fn filter(q: &IncidentQuery) -> Result<store::Filter, AppError> {
    let mut f = opsdesk_core::error::Fields::default();
    let state = q.state.clone().unwrap_or_else(|| "all".into());
    if !matches!(state.as_str(), "live" | "resolved" | "all" | "") {
        f.add("state", "must be live, resolved or all");
    }
    if let Some(s) = q.severity
        && !super::rules::SEVERITIES.contains(&s)
    {
        f.add("severity", "must be 1 to 4");
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        f.add("limit", "must be 1 to 200");
    }
    f.finish()?;
    Ok(store::Filter {
        state,
        severity: q.severity,
        before: q.before,
        limit,
    })
}

#[utoipa::path(get, path = "/api/incidents", tag = "incidents", security(("bearer" = [])), params(IncidentQuery),
    responses(
        (status = 200, description = "Incidents, newest first", body = IncidentPage),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 422, description = "Unknown state, severity or limit", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    me: ApiUser,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> Result<axum::Json<IncidentPage>, AppError> {
    me.require_staff()?;
    let f = filter(&q)?;
    let rows = store::list(&state.db, &f).await?;
    let next_before = (rows.len() as i64 == f.limit)
        .then(|| rows.last().map(|r| r.number))
        .flatten();
    Ok(axum::Json(IncidentPage {
        items: rows.iter().map(view::summary).collect(),
        next_before,
    }))
}

#[utoipa::path(post, path = "/api/incidents", tag = "incidents", security(("bearer" = [])),
    request_body = NewIncident,
    responses(
        (status = 201, description = "Declared", body = IncidentView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields, unknown tickets, checks, monitors or components", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn declare(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<NewIncident>,
) -> Result<(StatusCode, axum::Json<IncidentView>), AppError> {
    me.require_staff()?.require_write()?;
    let row = service::declare(&state.db, &me.actor(), me.user(), "api", &input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(view::view(&state.db, me.user(), &row).await?),
    ))
}

#[utoipa::path(get, path = "/api/incidents/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "`INC-12`, `12` or the incident's id")),
    responses(
        (status = 200, description = "The incident with its timeline, links and postmortem", body = IncidentView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn read(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::Json<IncidentView>, AppError> {
    me.require_staff()?;
    let row = service::find(&state.db, &id).await?;
    Ok(axum::Json(view::view(&state.db, me.user(), &row).await?))
}

#[utoipa::path(patch, path = "/api/incidents/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "`INC-12`, `12` or the incident's id")),
    request_body = IncidentPatch,
    responses(
        (status = 200, description = "Changed", body = IncidentView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields, or a move the incident cannot make (resolving without a root cause)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<IncidentPatch>,
) -> Result<axum::Json<IncidentView>, AppError> {
    me.require_staff()?.require_write()?;
    let row = service::patch(&state.db, &me.actor(), me.user(), &id, &p).await?;
    Ok(axum::Json(view::view(&state.db, me.user(), &row).await?))
}

#[utoipa::path(post, path = "/api/incidents/{id}/updates", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "`INC-12`, `12` or the incident's id")),
    request_body = NewUpdate,
    responses(
        (status = 201, description = "Posted (public ones on the status page)", body = IncidentView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Empty body, or a status move the incident cannot make", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_update(
    State(state): State<AppState>,
    me: ApiUser,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    ApiJson(u): ApiJson<NewUpdate>,
) -> Result<(StatusCode, axum::Json<IncidentView>), AppError> {
    me.require_staff()?.require_write()?;
    let base = crate::web::base_url(&state, &headers);
    let (row, _) = updates::post_update(
        &state.db,
        updates::Outgoing {
            mail: &state.config.mail,
            base: &base,
        },
        &me.actor(),
        me.user(),
        &id,
        &u,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(view::view(&state.db, me.user(), &row).await?),
    ))
}

#[utoipa::path(post, path = "/api/incidents/{id}/links", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "`INC-12`, `12` or the incident's id")),
    request_body = NewLink,
    responses(
        (status = 200, description = "Linked (linking twice is harmless)", body = IncidentView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Unknown kind, ticket, check or monitor", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn link(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(l): ApiJson<NewLink>,
) -> Result<axum::Json<IncidentView>, AppError> {
    me.require_staff()?.require_write()?;
    let row = service::link(&state.db, &me.actor(), me.user(), &id, &l).await?;
    Ok(axum::Json(view::view(&state.db, me.user(), &row).await?))
}

#[utoipa::path(post, path = "/api/incidents/{id}/postmortem", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "`INC-12`, `12` or the incident's id")),
    request_body = NewPostmortem,
    responses(
        (status = 200, description = "Written; each action item is now a ticket linked to the incident", body = IncidentView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "No root cause or impact, or the incident is not resolved", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn write_postmortem(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<NewPostmortem>,
) -> Result<axum::Json<IncidentView>, AppError> {
    me.require_staff()?.require_write()?;
    let (row, _) = postmortem::write(
        &state.db,
        &state.config.mail,
        &me.actor(),
        me.user(),
        &id,
        &p,
    )
    .await?;
    Ok(axum::Json(view::view(&state.db, me.user(), &row).await?))
}

/// A freeze window.
#[derive(Serialize, ToSchema)]
pub struct WindowView {
    pub id: String,
    pub starts_at: String,
    pub ends_at: String,
    pub time_zone: String,
    pub reason: String,
}

#[utoipa::path(get, path = "/api/freeze-windows", tag = "incidents", security(("bearer" = [])),
    responses(
        (status = 200, description = "Freeze windows not over yet, soonest first", body = Vec<WindowView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn windows(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<WindowView>>, AppError> {
    me.require_staff()?;
    let now = opsdesk_core::clock::now_ms();
    Ok(axum::Json(
        store::windows(&state.db, now)
            .await?
            .into_iter()
            .map(|w| WindowView {
                id: w.id,
                starts_at: rfc3339_ms(w.starts_at),
                ends_at: rfc3339_ms(w.ends_at),
                time_zone: w.time_zone,
                reason: w.reason,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/freeze-windows", tag = "incidents", security(("bearer" = [])),
    request_body = NewWindow,
    responses(
        (status = 201, description = "Scheduled", body = WindowView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Bad times, time zone or reason", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn add_window(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(w): ApiJson<NewWindow>,
) -> Result<(StatusCode, axum::Json<WindowView>), AppError> {
    me.require_admin()?.require_write()?;
    let w = freeze::add_window(&state.db, &me.actor(), &w).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(WindowView {
            id: w.id,
            starts_at: rfc3339_ms(w.starts_at),
            ends_at: rfc3339_ms(w.ends_at),
            time_zone: w.time_zone,
            reason: w.reason,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/freeze-windows/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path, description = "The window's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such window", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn remove_window(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    me.require_admin()?.require_write()?;
    freeze::remove_window(&state.db, &me.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
