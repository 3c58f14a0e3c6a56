//! Time and ids: every timestamp in the store is Unix milliseconds (UTC), every id a UUID string.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as stored in every `*_at` column.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh id for a new row (not a secret: never use it where guessing must be impossible).
pub fn new_id() -> String {
    // Time-ordered (UUIDv7, monotonic within the process): rows written in one transaction
    // sort in the order they were written, and new rows land at the end of their indexes.
    uuid::Uuid::now_v7().to_string()
}

/// Formats a millisecond timestamp as RFC 3339 UTC with milliseconds (`2026-11-23T04:30:00.123Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => String::from("invalid-time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_zulu() {
        assert_eq!(rfc3339_ms(1_795_408_200_123), "2026-11-23T04:30:00.123Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn ids_are_unique_uuids() {
        let a = new_id();
        assert_eq!(a.len(), 36);
        assert_ne!(a, new_id());
    }
}
