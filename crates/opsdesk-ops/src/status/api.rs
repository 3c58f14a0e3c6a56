//! Managing the status page over JSON (staff): components, incidents and their updates,
//! maintenance windows. The public side is in `v2` and `pages`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, ComponentInput, NoticeInput, UpdateInput};
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiJson;
use opsdesk_core::web::identity::ApiUser;

#[derive(OpenApi)]
#[openapi(tags((name = "status", description = "The public status page: components, incidents, maintenance")))]
struct StatusDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(StatusDoc::openapi())
        .routes(routes!(create_component))
        .routes(routes!(update_component, delete_component))
        .routes(routes!(create_incident))
        .routes(routes!(create_maintenance))
        .routes(routes!(update_notice))
}

/// What was made or changed: its id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Made {
    pub id: String,
}

#[utoipa::path(post, path = "/api/status/components", tag = "status", security(("bearer" = [])),
    request_body = ComponentInput,
    responses(
        (status = 201, description = "Added to the page", body = Made),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid name, source, source_id or status", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn create_component(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<ComponentInput>,
) -> Result<(StatusCode, axum::Json<Made>), AppError> {
    me.require_staff()?.require_write()?;
    let c = service::create_component(&state.db, &me.actor(), &input).await?;
    Ok((StatusCode::CREATED, axum::Json(Made { id: c.id })))
}

#[utoipa::path(put, path = "/api/status/components/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = String, Path, description = "The component's id")),
    request_body = ComponentInput,
    responses(
        (status = 200, description = "Saved", body = Made),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such component", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn update_component(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ComponentInput>,
) -> Result<axum::Json<Made>, AppError> {
    me.require_staff()?.require_write()?;
    let c = service::update_component(&state.db, &me.actor(), &id, &input).await?;
    Ok(axum::Json(Made { id: c.id }))
}

#[utoipa::path(delete, path = "/api/status/components/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = String, Path, description = "The component's id")),
    responses(
        (status = 204, description = "Removed from the page"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such component", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn delete_component(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    me.require_staff()?.require_write()?;
    service::delete_component(&state.db, &me.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/status/incidents", tag = "status", security(("bearer" = [])),
    request_body = NoticeInput,
    responses(
        (status = 201, description = "Posted on the page", body = Made),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid name, body, status, impact or components", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn create_incident(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<NoticeInput>,
) -> Result<(StatusCode, axum::Json<Made>), AppError> {
    me.require_staff()?.require_write()?;
    let n = service::create_notice(&state.db, &me.actor(), "incident", &input).await?;
    Ok((StatusCode::CREATED, axum::Json(Made { id: n.id })))
}

#[utoipa::path(post, path = "/api/status/maintenances", tag = "status", security(("bearer" = [])),
    request_body = NoticeInput,
    responses(
        (status = 201, description = "Scheduled; alerts of the components' checks are held while it runs", body = Made),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid name, body, times or components", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn create_maintenance(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<NoticeInput>,
) -> Result<(StatusCode, axum::Json<Made>), AppError> {
    me.require_staff()?.require_write()?;
    let n = service::create_notice(&state.db, &me.actor(), "maintenance", &input).await?;
    Ok((StatusCode::CREATED, axum::Json(Made { id: n.id })))
}

#[utoipa::path(post, path = "/api/status/notices/{id}/updates", tag = "status", security(("bearer" = [])),
    params(("id" = String, Path, description = "The incident's or maintenance window's id")),
    request_body = UpdateInput,
    responses(
        (status = 200, description = "Updated", body = Made),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such notice", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid status, body or impact", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn update_notice(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UpdateInput>,
) -> Result<axum::Json<Made>, AppError> {
    me.require_staff()?.require_write()?;
    let n = service::update_notice(&state.db, &me.actor(), &id, &input).await?;
    Ok(axum::Json(Made { id: n.id }))
}
