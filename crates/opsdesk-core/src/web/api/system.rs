//! System endpoints: health, identity, first-run setup over JSON, the no-work ceiling, metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::Role;
use crate::auth::tokens::Scope;
use crate::error::{AppError, ErrorBody};
use crate::setup::{self, SetupInput};
use crate::web::extract::ApiJson;
use crate::web::identity::{ApiUser, AuthMethod, Caller};
use crate::web::state::AppState;

/// One health check.
#[derive(Serialize, ToSchema)]
pub struct Check {
    /// `ok`, `warn` or `fail`.
    pub status: &'static str,
    pub detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct HealthChecks {
    pub database: Check,
    pub migrations: Check,
    pub job_queue: Check,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceInfo {
    pub id: String,
    /// Whether this instance runs the periodic schedulers.
    pub leader: bool,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    pub uptime_seconds: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `degraded` or `down`.
    pub status: &'static str,
    pub version: &'static str,
    pub setup_complete: bool,
    pub instance: InstanceInfo,
    pub checks: HealthChecks,
}

/// Job-queue lag above which the instance reports itself degraded.
pub const LAG_WARN_MS: i64 = 5 * 60_000;

/// The overall status from the three checks.
pub fn overall(database_ok: bool, pending_migrations: usize, lag_ms: Option<i64>) -> &'static str {
    if !database_ok {
        "down"
    } else if pending_migrations > 0 || lag_ms.is_none_or(|l| l > LAG_WARN_MS) {
        "degraded"
    } else {
        "ok"
    }
}

#[utoipa::path(get, path = "/api/health", tag = "system",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "Degraded or down; the body says which check failed", body = Health),
    ))]
pub async fn health(State(state): State<AppState>) -> Response {
    let db = &state.db;
    let writable = db.check_writable().await;
    let pending = db.pending_migrations().await;
    let stats = crate::jobs::store::stats(db).await;
    let database = match &writable {
        Ok(()) => Check {
            status: "ok",
            detail: "reachable and writable".into(),
        },
        Err(e) => {
            tracing::error!(error = %e, "health: database check failed");
            Check {
                status: "fail",
                detail: "not reachable or not writable".into(),
            }
        }
    };
    let migrations = match &pending {
        Ok(0) => Check {
            status: "ok",
            detail: "current".into(),
        },
        Ok(n) => Check {
            status: "fail",
            detail: format!("{n} migration(s) pending: run `opsdesk migrate`"),
        },
        Err(_) => Check {
            status: "fail",
            detail: "cannot read migration state".into(),
        },
    };
    let lag = stats.as_ref().ok().map(|s| s.lag_ms);
    let job_queue = match &stats {
        Ok(s) if s.lag_ms <= LAG_WARN_MS => Check {
            status: "ok",
            detail: format!("{} waiting, {} dead, lag {} ms", s.queued, s.dead, s.lag_ms),
        },
        Ok(s) => Check {
            status: "warn",
            detail: format!("oldest due job has waited {} s", s.lag_ms / 1000),
        },
        Err(_) => Check {
            status: "fail",
            detail: "cannot read the job queue".into(),
        },
    };
    let status = overall(writable.is_ok(), *pending.as_ref().unwrap_or(&1), lag);
    let body = Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        setup_complete: state.setup_done().await,
        instance: InstanceInfo {
            id: state.instance_id.to_string(),
            leader: state.leadership.is_leader(),
            backend: db.backend().name(),
            uptime_seconds: state.started.elapsed().as_secs(),
        },
        checks: HealthChecks {
            database,
            migrations,
            job_queue,
        },
    };
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

#[derive(Serialize, ToSchema)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

/// The caller as the server sees them.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub security: bool,
    pub organization: Option<OrgRef>,
    /// `session` or `token`.
    pub auth: AuthMethod,
    /// The token's scope; absent for sessions.
    pub scope: Option<Scope>,
}

#[utoipa::path(get, path = "/api/me", tag = "system", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in caller", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Setup not complete", body = ErrorBody),
    ))]
pub async fn me(me: ApiUser) -> axum::Json<Me> {
    let u = &me.identity.user;
    axum::Json(Me {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        role: u.role,
        security: u.security,
        organization: match (&u.organization_id, &u.organization) {
            (Some(id), Some(name)) => Some(OrgRef {
                id: id.clone(),
                name: name.clone(),
            }),
            _ => None,
        },
        auth: me.identity.method.clone(),
        scope: me.identity.scope,
    })
}

#[derive(Serialize, ToSchema)]
pub struct SetupDone {
    pub admin_id: String,
    pub admin_email: String,
}

#[utoipa::path(post, path = "/api/setup", tag = "system", request_body = SetupInput,
    responses(
        (status = 201, description = "Setup completed; sign in as the new admin", body = SetupDone),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 409, description = "Setup was already completed", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn setup_json(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<SetupInput>,
) -> Result<Response, AppError> {
    let admin = setup::complete(&state.db, &caller.actor(), input, None).await?;
    state.mark_setup_done();
    Ok((
        StatusCode::CREATED,
        axum::Json(SetupDone {
            admin_id: admin.id,
            admin_email: admin.email,
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/noop", tag = "system",
    responses((status = 204, description = "Does nothing: the benchmark's same-run HTTP ceiling")))]
pub async fn noop() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Prometheus text exposition. Gauges that mirror the database are refreshed at scrape time.
pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(s) = crate::jobs::store::stats(&state.db).await {
        metrics::gauge!("opsdesk_jobs_queued").set(s.queued as f64);
        metrics::gauge!("opsdesk_jobs_dead").set(s.dead as f64);
        metrics::gauge!("opsdesk_jobs_lag_seconds").set(s.lag_ms as f64 / 1000.0);
    }
    let pool = state.db.pool_stats();
    metrics::gauge!("opsdesk_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("opsdesk_db_pool_connections", "state" => "active")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("opsdesk_leader").set(if state.leadership.is_leader() {
        1.0
    } else {
        0.0
    });
    state.limits.shrink();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::overall;

    #[test]
    fn overall_status_follows_the_worst_check() {
        assert_eq!(overall(true, 0, Some(0)), "ok");
        assert_eq!(overall(true, 1, Some(0)), "degraded");
        assert_eq!(overall(true, 0, Some(10 * 60_000)), "degraded");
        assert_eq!(overall(true, 0, None), "degraded");
        assert_eq!(overall(false, 0, Some(0)), "down");
    }
}
