//! The checks settings page (`/checks/settings`, admins): keys of the Healthchecks-compatible
//! API (a new key shown once), the ping key of slug URLs, and the alert channels.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tower_sessions::Session;

use super::keys::{self, Scope};
use crate::alerts::model::Channel;
use crate::alerts::{service as channel_service, store as channels};
use crate::web::base_url;
use opsdesk_core::accounts::Role;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiForm;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, Shell, flash, take, when};

const NEW_KEY: &str = "new_api_key";

fn admin(me: &PageUser) -> Result<(), PageError> {
    if me.user().role == Role::Admin {
        Ok(())
    } else {
        Err(PageError(AppError::forbidden(
            "Only admins manage API keys, the ping key and alert channels.",
        )))
    }
}

pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/checks/settings", get(settings))
        .route("/checks/settings/keys", post(create_key))
        .route("/checks/settings/keys/{id}/revoke", post(revoke_key))
        .route("/checks/settings/ping-key", post(new_ping_key))
        .route("/checks/settings/channels", post(create_channel))
        .route(
            "/checks/settings/channels/{id}/delete",
            post(delete_channel),
        )
}

pub struct KeyLine {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub prefix: String,
    pub created: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "checks_settings.html")]
struct SettingsPage {
    shell: Shell,
    keys: Vec<KeyLine>,
    new_key: Option<String>,
    ping_key: String,
    channels: Vec<Channel>,
    api_base: String,
}

async fn settings(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    headers: axum::http::HeaderMap,
) -> PageResult {
    admin(&me)?;
    let keys = keys::list(&state.db)
        .await?
        .into_iter()
        .map(|k| KeyLine {
            id: k.id,
            name: k.name,
            scope: if k.scope == "read" {
                "read-only"
            } else {
                "read-write"
            }
            .into(),
            prefix: k.prefix,
            created: when(k.created),
        })
        .collect();
    let new_key = take::<String>(&session, NEW_KEY).await;
    Ok(SettingsPage {
        shell: Shell::load(
            &state,
            &session,
            Some(me.user()),
            "Checks settings",
            "checks",
        )
        .await,
        keys,
        new_key,
        ping_key: keys::ping_key(&state.db).await?,
        channels: channels::channels(&state.db).await?,
        api_base: format!("{}/api/v3/", base_url(&state, &headers)),
    }
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

async fn create_key(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<KeyForm>,
) -> PageResult {
    admin(&me)?;
    let scope =
        Scope::parse(&f.scope).ok_or_else(|| AppError::field("scope", "must be write or read"))?;
    let (_, secret) = keys::create(&state.db, &me.actor(), &f.name, scope).await?;
    session
        .insert(NEW_KEY, secret)
        .await
        .map_err(|e| PageError(AppError::internal(e)))?;
    Ok(Redirect::to("/checks/settings").into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    admin(&me)?;
    keys::revoke(&state.db, &me.actor(), &id).await?;
    flash(&session, "The key is revoked.").await;
    Ok(Redirect::to("/checks/settings").into_response())
}

async fn new_ping_key(State(state): State<AppState>, session: Session, me: PageUser) -> PageResult {
    admin(&me)?;
    keys::new_ping_key(&state.db, &me.actor()).await?;
    flash(
        &session,
        "A new ping key is in place; slug URLs with the old one now answer 404.",
    )
    .await;
    Ok(Redirect::to("/checks/settings").into_response())
}

#[derive(Debug, Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: String,
}

async fn create_channel(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    ApiForm(f): ApiForm<ChannelForm>,
) -> PageResult {
    admin(&me)?;
    let c = channel_service::create(&state.db, &me.actor(), &f.name, &f.kind, &f.target).await?;
    flash(&session, format!("Channel \"{}\" added; choose it on a check's page (or with \"channels\": \"*\" in the API).", c.name)).await;
    Ok(Redirect::to("/checks/settings").into_response())
}

async fn delete_channel(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    Path(id): Path<String>,
) -> PageResult {
    admin(&me)?;
    channel_service::delete(&state.db, &me.actor(), &id).await?;
    flash(&session, "The channel is removed from every check.").await;
    Ok(Redirect::to("/checks/settings").into_response())
}
