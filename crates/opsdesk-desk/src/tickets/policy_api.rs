//! Desk policies over JSON: unsupported request types (list, edit, answer-and-close a ticket),
//! the communication-rules review of replies and its phrase lists, canned replies.

use axum::extract::{Path, State as AxState};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::composer::{self, Canned, CannedInput, Concern, RuleLists};
use super::merge::{self, OtherTicket};
use super::model::Ticket;
use super::policy::{self, UnsupportedEdit, UnsupportedInput, UnsupportedType};
use super::service;
use super::triage_service::{self, RuleInput, RuleView};
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
        .routes(routes!(reply_check))
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(list_canned, post_canned))
        .routes(routes!(delete_canned))
        .routes(routes!(list_rules, post_rule))
        .routes(routes!(put_rule, delete_rule))
        .routes(routes!(post_merge))
        .routes(routes!(post_link))
}

#[utoipa::path(post, path = "/api/tickets/{ref}/merge", tag = "tickets", security(("bearer" = [])),
    params(("ref" = String, Path, description = "The duplicate, e.g. 1043")),
    request_body = OtherTicket,
    responses(
        (status = 200, description = "The kept ticket, now with the duplicate's conversation; the duplicate is closed", body = Ticket),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 409, description = "One of the tickets is closed", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not a ticket that can be merged into", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_merge(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<OtherTicket>,
) -> Result<axum::Json<Ticket>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        merge::merge(&state.db, &me.actor(), me.user(), &reference, input).await?,
    ))
}

#[utoipa::path(post, path = "/api/tickets/{ref}/links", tag = "tickets", security(("bearer" = [])),
    params(("ref" = String, Path, description = "Ticket number, e.g. 1042")),
    request_body = OtherTicket,
    responses(
        (status = 200, description = "Linked both ways", body = Ticket),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not a ticket that can be linked", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_link(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<OtherTicket>,
) -> Result<axum::Json<Ticket>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        merge::link(&state.db, &me.actor(), me.user(), &reference, input).await?,
    ))
}

#[utoipa::path(get, path = "/api/triage-rules", tag = "policies", security(("bearer" = [])),
    responses(
        (status = 200, description = "Triage rules in the order they apply", body = Vec<RuleView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list_rules(
    AxState(state): AxState<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<RuleView>>, AppError> {
    me.require_staff()?;
    Ok(axum::Json(triage_service::rules(&state.db).await?))
}

#[utoipa::path(post, path = "/api/triage-rules", tag = "policies", security(("bearer" = [])),
    request_body = RuleInput,
    responses(
        (status = 201, description = "Created", body = RuleView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_rule(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<(axum::http::StatusCode, axum::Json<RuleView>), AppError> {
    me.require_write()?;
    let r = triage_service::save(&state.db, &me.actor(), me.user(), None, input).await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(r)))
}

#[utoipa::path(put, path = "/api/triage-rules/{id}", tag = "policies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Rule id")),
    request_body = RuleInput,
    responses(
        (status = 200, description = "Saved", body = RuleView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_rule(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<axum::Json<RuleView>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        triage_service::save(&state.db, &me.actor(), me.user(), Some(&id), input).await?,
    ))
}

#[utoipa::path(delete, path = "/api/triage-rules/{id}", tag = "policies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn delete_rule(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, AppError> {
    me.require_write()?;
    triage_service::delete(&state.db, &me.actor(), me.user(), &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyDraft {
    pub body: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReplyReview {
    /// Empty when the reply follows the communication rules.
    pub findings: Vec<Concern>,
}

#[utoipa::path(post, path = "/api/tickets/{ref}/reply-check", tag = "policies", security(("bearer" = [])),
    params(("ref" = String, Path, description = "Ticket number, e.g. 1042")),
    request_body = ReplyDraft,
    responses(
        (status = 200, description = "What the communication rules find in a draft reply (nothing is sent)", body = ReplyReview),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn reply_check(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<ReplyDraft>,
) -> Result<axum::Json<ReplyReview>, AppError> {
    me.require_staff()?;
    service::visible(&state.db, me.user(), &reference).await?;
    if input.body.chars().count() > service::MAX_BODY {
        return Err(AppError::field("body", "is longer than 200,000 characters"));
    }
    Ok(axum::Json(ReplyReview {
        findings: composer::review(&state.db, &input.body).await?,
    }))
}

#[utoipa::path(get, path = "/api/reply-rules", tag = "policies", security(("bearer" = [])),
    responses(
        (status = 200, description = "The phrase lists of the communication rules, one phrase a line", body = RuleLists),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn get_rules(
    AxState(state): AxState<AppState>,
    me: ApiUser,
) -> Result<axum::Json<RuleLists>, AppError> {
    me.require_staff()?;
    Ok(axum::Json(composer::rule_lists(&state.db).await?))
}

#[utoipa::path(put, path = "/api/reply-rules", tag = "policies", security(("bearer" = [])),
    request_body = RuleLists,
    responses(
        (status = 200, description = "Saved", body = RuleLists),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_rules(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<RuleLists>,
) -> Result<axum::Json<RuleLists>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        composer::set_rule_lists(&state.db, &me.actor(), me.user(), input).await?,
    ))
}

#[utoipa::path(get, path = "/api/canned-replies", tag = "policies", security(("bearer" = [])),
    responses(
        (status = 200, description = "Canned replies by title", body = Vec<Canned>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list_canned(
    AxState(state): AxState<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<Canned>>, AppError> {
    me.require_staff()?;
    Ok(axum::Json(composer::canned(&state.db).await?))
}

#[utoipa::path(post, path = "/api/canned-replies", tag = "policies", security(("bearer" = [])),
    request_body = CannedInput,
    responses(
        (status = 201, description = "Created", body = Canned),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_canned(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<CannedInput>,
) -> Result<(axum::http::StatusCode, axum::Json<Canned>), AppError> {
    me.require_write()?;
    let c = composer::add_canned(&state.db, &me.actor(), me.user(), input).await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(c)))
}

#[utoipa::path(delete, path = "/api/canned-replies/{id}", tag = "policies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Canned reply id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such canned reply", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn delete_canned(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, AppError> {
    me.require_write()?;
    composer::delete_canned(&state.db, &me.actor(), me.user(), &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
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
