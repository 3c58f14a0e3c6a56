//! Static files compiled into the binary: our stylesheet, htmx and the ops run page's live output. File names carry the version
//! (htmx) or are small enough to revalidate (CSS), so caching is safe.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const APP_CSS: &str = include_str!("../../assets/app.css");
const HTMX: &str = include_str!("../../assets/htmx-2.0.11.min.js");
const OPS_RUN: &str = include_str!("../../assets/ops-run.js");

pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type, cache) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8", "public, max-age=3600"),
        "ops-run.js" => (
            OPS_RUN,
            "text/javascript; charset=utf-8",
            "public, max-age=3600",
        ),
        "htmx-2.0.11.min.js" => (
            HTMX,
            "text/javascript; charset=utf-8",
            "public, max-age=31536000, immutable",
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}
