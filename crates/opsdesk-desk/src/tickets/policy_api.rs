//! Desk policies over JSON: unsupported request types (list, edit, answer-and-close a ticket).

use axum::extract::{Path, State as AxState};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::Ticket;
use super::policy::{self, UnsupportedEdit, UnsupportedInput, UnsupportedType};
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiJson;
use opsdesk_core::web::identity::ApiUser;

#[derive(OpenApi)]
#[openapi(tags((name = "policies", description = "Unsupported request types and their policy answers")))]
struct PolicyDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(PolicyDoc::openapi())
        .routes(routes!(list_types))
        .routes(routes!(edit_type))
        .routes(routes!(post_unsupported))
}

#[utoipa::path(get, path = "/api/unsupported-types", tag = "policies", security(("bearer" = [])),
    responses(
        (status = 200, description = "Request types support does not take on, with their policy answers", body = Vec<UnsupportedType>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list_types(
    AxState(state): AxState<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<UnsupportedType>>, AppError> {
    me.require_staff()?;
    Ok(axum::Json(policy::types(&state.db).await?))
}

#[utoipa::path(put, path = "/api/unsupported-types/{id}", tag = "policies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Type id, e.g. custom-debugging")),
    request_body = UnsupportedEdit,
    responses(
        (status = 200, description = "Saved", body = UnsupportedType),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such type", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn edit_type(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UnsupportedEdit>,
) -> Result<axum::Json<UnsupportedType>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        policy::edit_type(&state.db, &me.actor(), me.user(), &id, input).await?,
    ))
}

#[utoipa::path(post, path = "/api/tickets/{ref}/unsupported", tag = "policies", security(("bearer" = [])),
    params(("ref" = String, Path, description = "Ticket number, e.g. 1042")),
    request_body = UnsupportedInput,
    responses(
        (status = 200, description = "The requester was sent the policy answer and the ticket closed with that reason", body = Ticket),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 409, description = "The ticket is already closed", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Unknown type", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_unsupported(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<UnsupportedInput>,
) -> Result<axum::Json<Ticket>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        policy::mark_unsupported(
            &state.db,
            &state.config.mail,
            &me.actor(),
            me.user(),
            &reference,
            input,
        )
        .await?,
    ))
}
