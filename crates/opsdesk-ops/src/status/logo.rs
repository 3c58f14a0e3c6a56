//! The status page's logo (the team's logo from setup): changed on `/status/manage` and
//! served at `/status/logo` as an image that cannot be anything else. The rules and storage are
//! in `opsdesk_core::setup::logo`.

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_core::setup::logo;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, flash};

pub const MAX_BYTES: usize = logo::MAX_BYTES;

/// Whether a logo is set.
pub async fn exists(db: &Db) -> Result<bool, sqlx::Error> {
    logo::exists(db).await
}

/// `GET /status/logo`.
pub async fn serve(State(state): State<AppState>) -> Response {
    match logo::load(&state.db).await {
        Ok(Some((bytes, kind))) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// `POST /status/manage/logo` (multipart, field `logo`; an empty file removes the logo).
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    me: PageUser,
    mut form: Multipart,
) -> PageResult {
    crate::web::staff(&me, "The status page is managed by the team.")?;
    let mut data = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("logo") {
            let bytes = field.bytes().await.map_err(|_| {
                PageError(AppError::bad_request(
                    "bad_upload",
                    "The upload broke off; try again.",
                ))
            })?;
            data = Some(bytes);
        }
    }
    let Some(bytes) = data else {
        return Err(PageError(AppError::field("logo", "choose an image file")));
    };
    if !bytes.is_empty()
        && let Err(p) = logo::check(&bytes)
    {
        return Err(PageError(AppError::field("logo", p)));
    }
    let mut tx = state.db.begin().await?;
    if bytes.is_empty() {
        logo::remove(&mut tx).await?;
    } else {
        logo::store(&mut tx, &bytes, now_ms()).await?;
    }
    opsdesk_core::audit::store::append(
        &mut tx,
        state.db.backend(),
        me.actor().entry(
            "status.logo",
            "settings:status.logo",
            format!("bytes={}", bytes.len()),
        ),
    )
    .await?;
    tx.commit().await?;
    flash(
        &session,
        if bytes.is_empty() {
            "The logo is removed."
        } else {
            "The status page shows the new logo."
        },
    )
    .await;
    Ok(Redirect::to("/status/manage").into_response())
}
