//! The status page's logo: uploaded on `/status/manage` (PNG, JPEG, GIF or WebP, at most
//! 256 KiB; recognised by its bytes, not by what the browser says), kept in the settings table
//! and served at `/status/logo` as an image that cannot be anything else.

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use tower_sessions::Session;

use opsdesk_core::clock::now_ms;
use opsdesk_core::db::Db;
use opsdesk_core::error::AppError;
use opsdesk_core::web::AppState;
use opsdesk_core::web::identity::PageUser;
use opsdesk_core::web::pages::{PageError, PageResult, flash};

const KEY: &str = "status.logo";
pub const MAX_BYTES: usize = 256 * 1024;

/// The image type of these bytes, if they are an image we serve.
pub fn sniff(b: &[u8]) -> Option<&'static str> {
    match b {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        _ => None,
    }
}

/// Whether a logo is set.
pub async fn exists(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settings WHERE key = $1")
        .bind(KEY)
        .fetch_one(db.read())
        .await?;
    Ok(n > 0)
}

/// `GET /status/logo`.
pub async fn serve(State(state): State<AppState>) -> Response {
    let stored: Option<String> =
        match sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(KEY)
            .fetch_optional(state.db.read())
            .await
        {
            Ok(v) => v,
            Err(e) => return AppError::from(e).into_response(),
        };
    let Some(bytes) = stored.and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(kind) = sniff(&bytes) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes,
    )
        .into_response()
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
    let mut tx = state.db.begin().await?;
    if bytes.is_empty() {
        sqlx::query("DELETE FROM settings WHERE key = $1")
            .bind(KEY)
            .execute(&mut *tx)
            .await?;
    } else {
        if bytes.len() > MAX_BYTES {
            return Err(PageError(AppError::field(
                "logo",
                "must be at most 256 KiB",
            )));
        }
        if sniff(&bytes).is_none() {
            return Err(PageError(AppError::field(
                "logo",
                "must be a PNG, JPEG, GIF or WebP image",
            )));
        }
        let value = base64::engine::general_purpose::STANDARD.encode(&bytes);
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(KEY)
        .bind(value)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_are_served_as_images() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF1234WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
    }
}
