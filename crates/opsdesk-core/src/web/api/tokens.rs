//! The caller's own API tokens over JSON.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::tokens::{self, Scope, TokenInfo};
use crate::error::{AppError, ErrorBody};
use crate::web::extract::ApiJson;
use crate::web::identity::ApiUser;
use crate::web::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenInfo>,
}

#[utoipa::path(get, path = "/api/tokens", tag = "tokens", security(("bearer" = [])),
    responses(
        (status = 200, description = "Your tokens, newest first (secrets are never shown again)", body = TokenList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<TokenList>, AppError> {
    Ok(axum::Json(TokenList {
        items: tokens::list_for(&state.db, &me.user().id).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[serde(default)]
    pub name: String,
    pub scope: Scope,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenInfo,
    /// The token itself. Shown once; store it now.
    pub secret: String,
}

#[utoipa::path(post, path = "/api/tokens", tag = "tokens", security(("bearer" = [])), request_body = NewToken,
    responses(
        (status = 201, description = "Created", body = CreatedToken),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Read-only token, or a write token for a customer", body = ErrorBody),
        (status = 409, description = "Account disabled", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    me: ApiUser,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<Response, AppError> {
    me.require_write()?;
    if !tokens::scope_allowed(me.user().role, body.scope) {
        return Err(AppError::forbidden(
            "Customers can create read-only tokens.",
        ));
    }
    let (token, secret) = tokens::create(
        &state.db,
        &me.actor(),
        &me.user().id,
        &body.name,
        body.scope,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken { token, secret }),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id or prefix")),
    responses(
        (status = 200, description = "Revoked (revoking twice is harmless)", body = TokenInfo),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Read-only token", body = ErrorBody),
        (status = 404, description = "No such token of yours", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
) -> Result<axum::Json<TokenInfo>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        tokens::revoke(&state.db, &me.actor(), &id, Some(&me.user().id)).await?,
    ))
}
