//! Users over JSON.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::service::{self as accounts, NewUserInput};
use crate::accounts::{Role, User};
use crate::error::{AppError, ErrorBody};
use crate::web::extract::{ApiJson, ApiQuery};
use crate::web::identity::ApiUser;
use crate::web::pagination::Cursor;
use crate::web::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only users with this role.
    pub role: Option<Role>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = [])), params(UserQuery),
    responses(
        (status = 200, description = "Users ordered by email", body = UserPage),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    me: ApiUser,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<axum::Json<UserPage>, AppError> {
    me.require_staff()?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let after = Cursor::decode_text(q.cursor.as_deref().unwrap_or(""))?;
    let mut items = accounts::list(&state.db, q.role, &after, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| Cursor::encode_text(&u.email))
    } else {
        None
    };
    Ok(axum::Json(UserPage { items, next_cursor }))
}

#[utoipa::path(post, path = "/api/users", tag = "users", security(("bearer" = [])), request_body = NewUserInput,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (e.g. the email is taken)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<NewUserInput>,
) -> Result<Response, AppError> {
    me.require_admin()?.require_write()?;
    let user = accounts::create_user(&state.db, &me.actor(), input).await?;
    Ok((StatusCode::CREATED, axum::Json(user)).into_response())
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id or email")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::Json<User>, AppError> {
    me.require_staff()?;
    Ok(axum::Json(accounts::find(&state.db, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
    /// May read private security reports (staff only).
    #[serde(default)]
    pub security: bool,
}

#[utoipa::path(put, path = "/api/users/{id}/role", tag = "users", security(("bearer" = [])), request_body = RoleChange,
    params(("id" = String, Path, description = "User id or email")),
    responses(
        (status = 200, description = "Updated", body = User),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Would remove the last admin", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn set_role(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<axum::Json<User>, AppError> {
    me.require_admin()?.require_write()?;
    Ok(axum::Json(
        accounts::set_role(&state.db, &me.actor(), &id, body.role, body.security).await?,
    ))
}
