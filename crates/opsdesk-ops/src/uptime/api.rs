//! Monitors over JSON: `GET/POST /api/monitors`, `GET/PUT/DELETE /api/monitors/{id}`,
//! `POST /api/monitors/{id}/pause|resume`, `GET /api/monitors/{id}/results`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Monitor, MonitorInput};
use super::store;
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiJson, ApiQuery};
use opsdesk_core::web::identity::ApiUser;

#[derive(OpenApi)]
#[openapi(tags((name = "monitors", description = "HTTP and multi-step synthetic checks with Gatus-style conditions")))]
struct MonitorsDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(MonitorsDoc::openapi())
        .routes(routes!(list, create))
        .routes(routes!(read, update, delete))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(results))
}

fn parse_id(id: &str) -> Result<String, AppError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| AppError::not_found("This monitor"))
}

async fn found(state: &AppState, id: &str) -> Result<store::MonitorRow, AppError> {
    store::find(&state.db, &parse_id(id)?)
        .await?
        .ok_or_else(|| AppError::not_found("This monitor"))
}

#[utoipa::path(get, path = "/api/monitors", tag = "monitors", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every monitor with its status and uptime", body = Vec<Monitor>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<Monitor>>, AppError> {
    me.require_staff()?;
    let mut out = Vec::new();
    for m in store::list(&state.db).await? {
        out.push(service::view(&state.db, &m).await?);
    }
    Ok(axum::Json(out))
}

#[utoipa::path(post, path = "/api/monitors", tag = "monitors", security(("bearer" = [])),
    request_body = MonitorInput,
    responses(
        (status = 201, description = "Created; it first runs within its interval", body = Monitor),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, a read-only token, or the limit is reached", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (name, url, steps[n].…, conditions, interval, timeout_ms, thresholds, channels)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<MonitorInput>,
) -> Result<(StatusCode, axum::Json<Monitor>), AppError> {
    me.require_staff()?.require_write()?;
    let m = service::create(&state.db, &me.actor(), &input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(service::view(&state.db, &m).await?),
    ))
}

#[utoipa::path(get, path = "/api/monitors/{id}", tag = "monitors", security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id")),
    responses(
        (status = 200, description = "The monitor", body = Monitor),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn read(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Monitor>, AppError> {
    me.require_staff()?;
    let m = found(&state, &id).await?;
    Ok(axum::Json(service::view(&state.db, &m).await?))
}

#[utoipa::path(put, path = "/api/monitors/{id}", tag = "monitors", security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id")),
    request_body = MonitorInput,
    responses(
        (status = 200, description = "Saved", body = Monitor),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<MonitorInput>,
) -> Result<axum::Json<Monitor>, AppError> {
    me.require_staff()?.require_write()?;
    let m = found(&state, &id).await?;
    let m = service::update(&state.db, &me.actor(), &m.id, &input).await?;
    Ok(axum::Json(service::view(&state.db, &m).await?))
}

#[utoipa::path(delete, path = "/api/monitors/{id}", tag = "monitors", security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id")),
    responses(
        (status = 204, description = "Deleted with its results"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    me.require_staff()?.require_write()?;
    let m = found(&state, &id).await?;
    service::delete(&state.db, &me.actor(), &m.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/monitors/{id}/pause", tag = "monitors", security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id")),
    responses(
        (status = 200, description = "Paused: no runs, no alerts", body = Monitor),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn pause(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Monitor>, AppError> {
    me.require_staff()?.require_write()?;
    let m = found(&state, &id).await?;
    let m = service::set_paused(&state.db, &me.actor(), &m.id, true).await?;
    Ok(axum::Json(service::view(&state.db, &m).await?))
}

#[utoipa::path(post, path = "/api/monitors/{id}/resume", tag = "monitors", security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id")),
    responses(
        (status = 200, description = "Resumed: it runs at once", body = Monitor),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::Json<Monitor>, AppError> {
    me.require_staff()?.require_write()?;
    let m = found(&state, &id).await?;
    let m = service::set_paused(&state.db, &me.actor(), &m.id, false).await?;
    Ok(axum::Json(service::view(&state.db, &m).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ResultsQuery {
    /// How many, newest first (1–500, default 50).
    limit: Option<i64>,
}

/// One run's result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub started: i64,
    pub scheduled: i64,
    /// How late the run started, in ms.
    pub drift_ms: i64,
    pub ok: bool,
    pub response_ms: i64,
    pub status_code: Option<i64>,
    pub failed_step: Option<String>,
    pub error: Option<String>,
}

#[utoipa::path(get, path = "/api/monitors/{id}/results", tag = "monitors", security(("bearer" = [])),
    params(("id" = String, Path, description = "The monitor's id"), ResultsQuery),
    responses(
        (status = 200, description = "Recent results, newest first", body = Vec<RunView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
        (status = 422, description = "Invalid limit", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn results(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ResultsQuery>,
) -> Result<axum::Json<Vec<RunView>>, AppError> {
    me.require_staff()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::field("limit", "must be between 1 and 500"));
    }
    let m = found(&state, &id).await?;
    let rows = store::results(&state.db, &m.id, limit).await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| RunView {
                started: r.started,
                scheduled: r.scheduled,
                drift_ms: r.started - r.scheduled,
                ok: r.ok,
                response_ms: r.response_ms,
                status_code: r.status_code,
                failed_step: r.failed_step,
                error: r.error,
            })
            .collect(),
    ))
}
