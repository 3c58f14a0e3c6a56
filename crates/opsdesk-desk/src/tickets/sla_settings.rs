//! Which states pause the SLA clocks besides waiting on the customer (e.g. `fixed` while a fix
//! waits for a release): read by staff, set by admins, audited; over JSON at
//! `GET/PUT /api/sla/paused-states`.

use axum::extract::State as AxState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::State;
use super::sla::{PAUSABLE, paused_states, set_paused_states};
use opsdesk_core::accounts::{Role, User};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::{AppError, ErrorBody};
use opsdesk_core::web::AppState;
use opsdesk_core::web::extract::ApiJson;
use opsdesk_core::web::identity::ApiUser;

#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct PausedStates {
    /// States in which every SLA clock pauses, besides `waiting_on_customer` (which always
    /// does): any of triaged, reproducing, investigating, fixed, responded.
    pub paused_states: Vec<String>,
}

pub async fn get(db: &Db, viewer: &User) -> Result<PausedStates, AppError> {
    if !viewer.role.is_staff() {
        return Err(AppError::forbidden(
            "SLA settings are for the support team.",
        ));
    }
    let mut tx = db.begin().await?;
    let states = paused_states(&mut tx).await?;
    tx.commit().await?;
    Ok(PausedStates {
        paused_states: states.iter().map(|s| s.as_str().to_string()).collect(),
    })
}

pub async fn set(
    db: &Db,
    actor: &Actor,
    viewer: &User,
    names: &[String],
) -> Result<PausedStates, AppError> {
    if viewer.role != Role::Admin {
        return Err(AppError::forbidden("Only admins can change SLA settings."));
    }
    let mut states = Vec::new();
    for name in names {
        match State::parse(name.trim()) {
            Some(s) if PAUSABLE.contains(&s) => {
                if !states.contains(&s) {
                    states.push(s);
                }
            }
            Some(State::WaitingOnCustomer) => {}
            _ => {
                return Err(AppError::field(
                    "paused_states",
                    "may list triaged, reproducing, investigating, fixed or responded \
                     (waiting on the customer always pauses; new, resolved and closed cannot)",
                ));
            }
        }
    }
    let mut tx = db.begin().await?;
    set_paused_states(&mut tx, &states, now_ms()).await?;
    let names: Vec<String> = states.iter().map(|s| s.as_str().to_string()).collect();
    audit::store::append(
        &mut tx,
        db.backend(),
        actor.entry(
            "sla.paused_states",
            "settings:sla",
            if names.is_empty() {
                "only waiting on the customer pauses".to_string()
            } else {
                format!("also paused in: {}", names.join(", "))
            },
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(PausedStates {
        paused_states: names,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_paused, put_paused))
}

#[utoipa::path(get, path = "/api/sla/paused-states", tag = "sla", security(("bearer" = [])),
    responses(
        (status = 200, description = "The states that pause SLA clocks", body = PausedStates),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn get_paused(
    AxState(state): AxState<AppState>,
    me: ApiUser,
) -> Result<axum::Json<PausedStates>, AppError> {
    Ok(axum::Json(get(&state.db, me.user()).await?))
}

#[utoipa::path(put, path = "/api/sla/paused-states", tag = "sla", security(("bearer" = [])),
    request_body = PausedStates,
    responses(
        (status = 200, description = "Saved: moves into these states pause the clocks from now on", body = PausedStates),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin, or a read-only token", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A state that cannot pause", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn put_paused(
    AxState(state): AxState<AppState>,
    me: ApiUser,
    ApiJson(input): ApiJson<PausedStates>,
) -> Result<axum::Json<PausedStates>, AppError> {
    me.require_write()?;
    let saved = set(&state.db, &me.actor(), me.user(), &input.paused_states).await?;
    Ok(axum::Json(saved))
}
