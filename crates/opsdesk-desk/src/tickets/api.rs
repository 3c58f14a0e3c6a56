//! Tickets over JSON: create, list with filters and cursors, read, edit, reply, note, and move
//! along the escalation flow. Customers use the same endpoints and see only their own tickets.

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::filing;
use super::model::{Category, Channel, Message, State, Ticket};
use super::queries::{self, ListQuery};
use super::service::{self, MessageInput, NewTicket, TicketDetail, TicketPatch, TransitionInput};
use super::store::Sort;
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::{ApiJson, ApiQuery};
use opsdesk_core::web::identity::ApiUser;
use opsdesk_core::web::pagination::Cursor;

#[derive(OpenApi)]
#[openapi(tags((name = "tickets", description = "Support tickets and the escalation flow")))]
struct TicketDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(TicketDoc::openapi())
        .routes(routes!(categories))
        .routes(routes!(list, create))
        .routes(routes!(get, patch))
        .routes(routes!(post_message))
        .routes(routes!(post_note))
        .routes(routes!(post_transition))
}

#[utoipa::path(get, path = "/api/categories", tag = "tickets", security(("bearer" = [])),
    responses(
        (status = 200, description = "Ticket categories in display order", body = Vec<Category>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn categories(
    AxState(state): AxState<AppState>,
    _me: ApiUser,
) -> Result<axum::Json<Vec<Category>>, AppError> {
    Ok(axum::Json(queries::categories(&state.db).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// Comma-separated states, or `open` for every state that needs work.
    pub state: Option<String>,
    /// Category name or id.
    pub category: Option<String>,
    /// `me`, `none`, or an agent's id or email.
    pub assignee: Option<String>,
    /// newest (default), oldest, updated, priority, or (staff) due: the nearest SLA deadline
    /// first, tickets without a running deadline left out.
    pub sort: Option<Sort>,
    /// Staff: `soon` for tickets whose SLA deadline is within the next 4 hours or missed,
    /// `overdue` for missed ones.
    pub due: Option<String>,
    /// Full-text search over subjects, messages and (for staff) internal notes: tickets
    /// containing every word.
    pub q: Option<String>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketPage {
    pub items: Vec<Ticket>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Parses `state=new,triaged` or `state=open`.
pub fn parse_states(raw: Option<&str>) -> Result<Vec<State>, AppError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    if raw == "open" {
        return Ok(State::ALL.into_iter().filter(|s| s.is_open()).collect());
    }
    raw.split(',')
        .map(|s| {
            State::parse(s).ok_or_else(|| {
                AppError::field(
                    "state",
                    "lists an unknown state (try new, triaged, … or open)",
                )
            })
        })
        .collect()
}

pub fn encode_cursor(next: Option<(i64, i64)>) -> Option<String> {
    next.map(|(k, n)| Cursor::encode_text(&format!("{k}:{n}")))
}

pub fn decode_cursor(raw: Option<&str>) -> Result<Option<(i64, i64)>, AppError> {
    let text = Cursor::decode_text(raw.unwrap_or(""))?;
    if text.is_empty() {
        return Ok(None);
    }
    text.split_once(':')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_cursor",
                "The cursor is not one this server handed out.",
            )
        })
}

#[utoipa::path(get, path = "/api/tickets", tag = "tickets", security(("bearer" = [])), params(TicketQuery),
    responses(
        (status = 200, description = "Tickets the caller may see", body = TicketPage),
        (status = 400, description = "Bad query or cursor", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Unknown state, category or assignee", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> Result<axum::Json<TicketPage>, AppError> {
    let query = ListQuery {
        states: parse_states(q.state.as_deref())?,
        category: q.category,
        assignee: q.assignee,
        sort: q.sort.unwrap_or(Sort::Newest),
        after: decode_cursor(q.cursor.as_deref())?,
        limit: q.limit.unwrap_or(50),
        q: q.q,
        due: q.due,
    };
    let (items, next) = queries::list(&state.db, me.user(), &query).await?;
    Ok(axum::Json(TicketPage {
        items,
        next_cursor: encode_cursor(next),
    }))
}

#[utoipa::path(post, path = "/api/tickets", tag = "tickets", security(("bearer" = [])), request_body = NewTicket,
    responses(
        (status = 201, description = "Created", body = Ticket),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Read-only token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn create(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<NewTicket>,
) -> Result<Response, AppError> {
    me.require_write()?;
    let t = filing::create(
        &state.db,
        &state.config.mail,
        &me.actor(),
        Some(me.user()),
        Channel::Api,
        input,
        None,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(t)).into_response())
}

#[utoipa::path(get, path = "/api/tickets/{ref}", tag = "tickets", security(("bearer" = [])),
    params(("ref" = String, Path, description = "Ticket number, e.g. 1042")),
    responses(
        (status = 200, description = "The ticket with its conversation (and, for staff, notes, timeline and next steps)", body = TicketDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such ticket, or not yours", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn get(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
) -> Result<axum::Json<TicketDetail>, AppError> {
    Ok(axum::Json(
        service::detail(&state.db, me.user(), &reference).await?,
    ))
}

#[utoipa::path(patch, path = "/api/tickets/{ref}", tag = "tickets", security(("bearer" = [])), request_body = TicketPatch,
    params(("ref" = String, Path, description = "Ticket number")),
    responses(
        (status = 200, description = "Updated", body = Ticket),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn patch(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<TicketPatch>,
) -> Result<axum::Json<Ticket>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        service::update(&state.db, &me.actor(), me.user(), &reference, input).await?,
    ))
}

#[utoipa::path(post, path = "/api/tickets/{ref}/messages", tag = "tickets", security(("bearer" = [])), request_body = MessageInput,
    params(("ref" = String, Path, description = "Ticket number")),
    responses(
        (status = 201, description = "Added: the team's reply, or the customer's message", body = Message),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket, or not yours", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_message(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<Response, AppError> {
    me.require_write()?;
    let m = service::add_message(
        &state.db,
        &state.config.mail,
        &me.actor(),
        me.user(),
        &reference,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(m)).into_response())
}

#[utoipa::path(post, path = "/api/tickets/{ref}/notes", tag = "tickets", security(("bearer" = [])), request_body = MessageInput,
    params(("ref" = String, Path, description = "Ticket number")),
    responses(
        (status = 201, description = "Internal note added", body = Message),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_note(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<Response, AppError> {
    me.require_write()?;
    let m = service::add_note(&state.db, &me.actor(), me.user(), &reference, input).await?;
    Ok((StatusCode::CREATED, axum::Json(m)).into_response())
}

#[utoipa::path(post, path = "/api/tickets/{ref}/transitions", tag = "tickets", security(("bearer" = [])), request_body = TransitionInput,
    params(("ref" = String, Path, description = "Ticket number")),
    responses(
        (status = 200, description = "Moved", body = Ticket),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 409, description = "The flow does not allow this move from the current state", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "The step needs fields that are missing", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn post_transition(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    Path(reference): Path<String>,
    ApiJson(input): ApiJson<TransitionInput>,
) -> Result<axum::Json<Ticket>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        service::transition(
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
