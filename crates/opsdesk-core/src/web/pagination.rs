//! Opaque cursors for keyset pagination: clients pass back what we gave them, never offsets.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::AppError;

pub struct Cursor;

impl Cursor {
    pub fn encode_text(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s.as_bytes())
    }

    /// Empty means "from the start".
    pub fn decode_text(c: &str) -> Result<String, AppError> {
        if c.is_empty() {
            return Ok(String::new());
        }
        URL_SAFE_NO_PAD
            .decode(c.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                AppError::bad_request(
                    "invalid_cursor",
                    "The cursor is not one this server handed out.",
                )
            })
    }

    pub fn encode_seq(n: i64) -> String {
        Self::encode_text(&n.to_string())
    }

    /// Empty means "from the newest" (0).
    pub fn decode_seq(c: &str) -> Result<i64, AppError> {
        let text = Self::decode_text(c)?;
        if text.is_empty() {
            return Ok(0);
        }
        text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            AppError::bad_request(
                "invalid_cursor",
                "The cursor is not one this server handed out.",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(Cursor::decode_seq(&Cursor::encode_seq(42)).ok(), Some(42));
        assert_eq!(
            Cursor::decode_text(&Cursor::encode_text("a@b.c")).ok(),
            Some("a@b.c".into())
        );
        assert!(Cursor::decode_seq("!!!").is_err());
        assert!(Cursor::decode_seq(&Cursor::encode_text("-1")).is_err());
        assert_eq!(Cursor::decode_seq("").ok(), Some(0));
    }
}
