//! The team's logo: set in the setup wizard (or later on the status page's settings), shown on
//! the public status page. PNG, JPEG, GIF or WebP up to 256 KiB, recognised by its bytes (never
//! by what the browser says, so nothing else is ever served as an image), kept in `settings`.

use base64::Engine as _;

use crate::db::{Db, Tx};

/// The settings key (named when only the status page had a logo; kept so stored logos stay).
pub const KEY: &str = "status.logo";
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

/// Whether these bytes may be the logo; the problem otherwise.
pub fn check(b: &[u8]) -> Result<(), &'static str> {
    if b.len() > MAX_BYTES {
        Err("must be at most 256 KiB")
    } else if sniff(b).is_none() {
        Err("must be a PNG, JPEG, GIF or WebP image")
    } else {
        Ok(())
    }
}

/// Stores a checked logo.
pub async fn store(tx: &mut Tx, b: &[u8], now: i64) -> Result<(), sqlx::Error> {
    let value = base64::engine::general_purpose::STANDARD.encode(b);
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(KEY)
    .bind(value)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn remove(tx: &mut Tx) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM settings WHERE key = $1")
        .bind(KEY)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether a logo is set.
pub async fn exists(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settings WHERE key = $1")
        .bind(KEY)
        .fetch_one(db.read())
        .await?;
    Ok(n > 0)
}

/// The logo and its type.
pub async fn load(db: &Db) -> Result<Option<(Vec<u8>, &'static str)>, sqlx::Error> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(KEY)
        .fetch_optional(db.read())
        .await?;
    Ok(stored
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .and_then(|b| sniff(&b).map(|k| (b, k))))
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
        assert!(check(&[0u8; 10]).is_err());
        assert!(check(b"\x89PNG....").is_ok());
    }
}
