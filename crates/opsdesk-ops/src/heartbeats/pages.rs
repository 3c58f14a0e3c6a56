//! The checks pages.

use axum::Router;
use opsdesk_core::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
