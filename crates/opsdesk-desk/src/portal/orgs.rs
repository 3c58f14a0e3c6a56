//! Organizations in the portal: an admin lets an organization's members see each other's
//! requests (never security reports), and gives it a webhook for its ticket updates.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::tickets::policy_store;
use opsdesk_core::accounts::{Role, User};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiJson;
use opsdesk_core::web::identity::ApiUser;

/// An organization as the sharing settings show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    /// Members see each other's requests in the portal (never security reports).
    pub share_tickets: bool,
    /// Its ticket updates are posted to its own webhook (the URL itself is not shown).
    pub webhook: bool,
    /// Its support tier's id, if it has one of its own (else its members get the default).
    pub tier_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// An http(s) URL that receives the organization's ticket updates as JSON (with `text`,
    /// so a Slack incoming-webhook URL works as it is); `null` to stop.
    pub url: Option<String>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sharing {
    pub share_tickets: bool,
}

pub async fn list(db: &Db) -> Result<Vec<Organization>, AppError> {
    Ok(policy_store::organizations(db)
        .await?
        .into_iter()
        .map(|(id, name, share_tickets, webhook, tier_id)| Organization {
            id,
            name,
            share_tickets,
            webhook,
            tier_id,
        })
        .collect())
}

/// Turns sharing on or off (admins).
pub async fn set(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    id: &str,
    share: bool,
) -> Result<Organization, AppError> {
    if viewer.role != Role::Admin {
        return Err(AppError::forbidden("This needs an admin account."));
    }
    let mut tx = db.begin().await?;
    let name = policy_store::set_sharing(&mut tx, id, share)
        .await?
        .ok_or_else(|| AppError::not_found("This organization"))?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "organization.sharing",
            format!("organization:{id}"),
            format!("share_tickets={share}"),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(list(db)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .unwrap_or(Organization {
            id: id.to_string(),
            name,
            share_tickets: share,
            webhook: false,
            tier_id: None,
        }))
}

/// Sets or clears an organization's webhook (admins); the URL is not logged or audited.
pub async fn set_webhook(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    id: &str,
    input: &WebhookInput,
) -> Result<Organization, AppError> {
    if viewer.role != Role::Admin {
        return Err(AppError::forbidden("This needs an admin account."));
    }
    let url = match input.url.as_deref().filter(|u| !u.trim().is_empty()) {
        None => None,
        Some(u) => Some(crate::webhooks::check_url(u).map_err(|p| AppError::field("url", p))?),
    };
    let mut tx = db.begin().await?;
    let (name, share_tickets) = policy_store::set_webhook(&mut tx, id, url.as_deref())
        .await?
        .ok_or_else(|| AppError::not_found("This organization"))?;
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "organization.webhook",
            format!("organization:{id}"),
            if url.is_some() { "set" } else { "removed" }.to_string(),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(list(db)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .unwrap_or(Organization {
            id: id.to_string(),
            name,
            share_tickets,
            webhook: url.is_some(),
            tier_id: None,
        }))
}

#[derive(OpenApi)]
#[openapi(tags((name = "organizations", description = "Customer organizations and portal sharing")))]
struct OrgDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(OrgDoc::openapi())
        .routes(routes!(get_organizations))
        .routes(routes!(put_sharing))
        .routes(routes!(put_webhook))
}

#[utoipa::path(put, path = "/api/organizations/{id}/webhook", tag = "organizations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Organization id")),
    request_body = WebhookInput,
    responses(
        (status = 200, description = "Saved: the organization's ticket updates (messages, moves of the flow; never notes or security reports) are posted there", body = Organization),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not an http(s) URL", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_webhook(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<WebhookInput>,
) -> Result<axum::Json<Organization>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        set_webhook(&state.db, &me.actor(), me.user(), &id, &input).await?,
    ))
}

#[utoipa::path(get, path = "/api/organizations", tag = "organizations", security(("bearer" = [])),
    responses(
        (status = 200, description = "Organizations by name", body = Vec<Organization>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn get_organizations(
    State(state): State<AppState>,
    me: ApiUser,
) -> Result<axum::Json<Vec<Organization>>, AppError> {
    me.require_staff()?;
    Ok(axum::Json(list(&state.db).await?))
}

#[utoipa::path(put, path = "/api/organizations/{id}/sharing", tag = "organizations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Organization id")),
    request_body = Sharing,
    responses(
        (status = 200, description = "Saved", body = Organization),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_sharing(
    State(state): State<AppState>,
    me: ApiUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Sharing>,
) -> Result<axum::Json<Organization>, AppError> {
    me.require_write()?;
    Ok(axum::Json(
        set(&state.db, &me.actor(), me.user(), &id, input.share_tickets).await?,
    ))
}
