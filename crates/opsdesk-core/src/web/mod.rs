//! The web shell: one router for pages, the JSON API and its docs, wrapped in the middleware every
//! request passes through. Later capabilities merge their routers into [`router`]'s input.

pub mod api;
pub mod assets;
pub mod clientip;
pub mod extract;
pub mod identity;
pub mod middleware;
pub mod nav;
pub mod pages;
pub mod pagination;
pub mod ratelimit;
pub mod state;
pub mod tokencache;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::csrf::CsrfLayer;
use tower_http::timeout::TimeoutLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::sessions::DbSessionStore;
use crate::error::AppError;
use extract::BodyLimit;
pub use state::AppState;

pub const SESSION_COOKIE: &str = "opsdesk_session";

/// Page routes of the platform.
fn pages() -> Router<AppState> {
    use pages::{account, admin, auth, home};
    Router::new()
        .route("/", get(home::home))
        .route("/setup", get(auth::setup_form).post(auth::setup_submit))
        .route("/login", get(auth::login_form).post(auth::login_submit))
        .route("/logout", post(auth::logout))
        .route("/account", get(account::account))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}/role", post(admin::set_role))
        .route("/admin/users/{id}/disable", post(admin::disable))
        .route("/admin/users/{id}/enable", post(admin::enable))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/jobs", get(admin::jobs))
        .route("/admin/jobs/{id}/retry", post(admin::retry_job))
        .route("/assets/{file}", get(assets::asset))
        .route("/metrics", get(api::system::metrics))
}

/// What a capability (the desk, monitoring, …) adds to the web app: its pages and its documented
/// API routes. Its navigation entries go to [`AppState::with_nav`].
#[derive(Default)]
pub struct Capability {
    pub pages: Router<AppState>,
    pub api: utoipa_axum::router::OpenApiRouter<AppState>,
    /// Machine endpoints of other tools' wire formats (heartbeat pings): no sessions, CSRF
    /// checks or per-IP rate limits, only the request context, metrics and panic guard.
    pub compat: Router<AppState>,
}

/// The whole application: platform pages and API plus the capabilities', wrapped in the
/// middleware stack. Read the layers bottom-up: the last one added sees the request first.
pub fn router(state: AppState, capabilities: Vec<Capability>) -> Router {
    let mut api_routes = api::router();
    let mut extra = Router::new();
    let mut compat = Router::new();
    for c in capabilities {
        api_routes = api_routes.merge(c.api);
        extra = extra.merge(c.pages);
        compat = compat.merge(c.compat);
    }
    let compat = compat
        .layer(from_fn(middleware::track_metrics))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(from_fn_with_state(state.clone(), middleware::context))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                tracing::error!("request handler panicked");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            },
        ))
        .with_state(state.clone());
    let (api, openapi) = api_routes.split_for_parts();
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_secure(state.secure_cookies())
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(14)));
    let mut csrf = CsrfLayer::new().with_rejection_response(|_e| {
        AppError::forbidden(
            "This form was sent from another site and was refused (cross-site request protection).",
        )
        .into_response()
    });
    if let Some(public) = state.config.public_url.as_deref() {
        let origin = public.trim_end_matches('/');
        match csrf.clone().add_trusted_origin(origin) {
            Ok(c) => csrf = c,
            Err(e) => {
                tracing::warn!(error = %e, "public_url is not a valid origin for CSRF checks")
            }
        }
    }
    let body_limit = state.config.limits.max_body_bytes;
    let main = pages()
        .merge(api)
        .merge(extra)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(middleware::track_metrics))
        .layer(from_fn_with_state(state.clone(), middleware::authenticate))
        .layer(sessions)
        .layer(from_fn_with_state(
            state.clone(),
            middleware::secure_cookies_behind_tls,
        ))
        .layer(from_fn_with_state(state.clone(), middleware::setup_gate))
        .layer(from_fn_with_state(state.clone(), middleware::rate_limit))
        .layer(csrf)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::Extension(BodyLimit(body_limit)))
        .layer(from_fn(extract::reject_nul))
        .layer(from_fn(html_errors))
        .layer(from_fn(middleware::security_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(from_fn_with_state(state.clone(), middleware::context))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                tracing::error!("request handler panicked");
                AppError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side; it has been logged.",
                )
                .into_response()
            },
        ))
        .with_state(state);
    compat.merge(main)
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

async fn not_found(uri: Uri) -> AppError {
    let _ = uri;
    AppError::not_found("This page")
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This address does not accept that method.",
    )
}

/// Browsers get errors as readable pages; API clients keep the JSON. An error response carries
/// its `AppError` parts in the response extensions so this layer can re-render it.
async fn html_errors(req: Request, next: Next) -> Response {
    let html = !is_api(req.uri().path())
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    let request_id = req
        .extensions()
        .get::<identity::RequestCtx>()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let response = next.run(req).await;
    if !html {
        return response;
    }
    match response.extensions().get::<crate::error::ErrorParts>() {
        Some(parts) => pages::render_error(&parts.to_error(), &request_id),
        None => response,
    }
}

/// Whether a request accepts HTML (used by handlers shared between pages and API).
pub fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}
