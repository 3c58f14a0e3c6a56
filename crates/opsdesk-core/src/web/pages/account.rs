//! The signed-in person's own account page: details and API tokens.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::{PageError, PageResult, Shell, flash, when};
use crate::accounts::User;
use crate::auth::tokens::{self, Scope};
use crate::error::AppError;
use crate::web::extract::ApiForm;
use crate::web::identity::PageUser;
use crate::web::state::AppState;

const NEW_TOKEN_KEY: &str = "new_token";

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scope: &'static str,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    shell: Shell,
    me: User,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

pub async fn account(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    let user = me.user().clone();
    let tokens = tokens::list_for(&state.db, &user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            scope: t.scope.as_str(),
            created: when(t.created_at),
            last_used: t.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    // The secret survives exactly one page view.
    let new_token = super::take::<String>(&session, NEW_TOKEN_KEY).await;
    let shell = Shell::load(&state, &session, Some(&user), "Your account", "account").await;
    Ok(AccountPage {
        shell,
        me: user,
        tokens,
        new_token,
    }
    .into_response())
}

#[derive(Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(form): ApiForm<NewTokenForm>,
) -> PageResult {
    let scope = Scope::parse(&form.scope)
        .ok_or_else(|| AppError::field("scope", "must be read or write"))?;
    if !tokens::scope_allowed(me.user().role, scope) {
        return Err(PageError(AppError::forbidden(
            "Customers can create read-only tokens.",
        )));
    }
    let (_, secret) =
        tokens::create(&state.db, &me.actor(), &me.user().id, &form.name, scope).await?;
    session
        .insert(NEW_TOKEN_KEY, secret)
        .await
        .map_err(|e| PageError(AppError::internal(e)))?;
    Ok(Redirect::to("/account").into_response())
}

pub async fn revoke_token(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    let t = tokens::revoke(&state.db, &me.actor(), &id, Some(&me.user().id)).await?;
    flash(
        &session,
        format!("Token {} ({}) is revoked.", t.name, t.prefix),
    )
    .await;
    Ok(Redirect::to("/account").into_response())
}
