//! Pure job-queue rules: retry backoff and what happens after a failed attempt.

/// Delay before retry number `attempts` (1-based): 2 s, 4 s, 8 s … capped at one hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (2_000i64.saturating_mul(1i64 << exp)).min(3_600_000)
}

/// After a failed attempt: try again at a time, or give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(i64),
    Dead,
}

pub fn after_failure(attempts: i64, max_attempts: i64, now: i64) -> AfterFailure {
    if attempts >= max_attempts {
        AfterFailure::Dead
    } else {
        AfterFailure::RetryAt(now + backoff_ms(attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1), 2_000);
        assert_eq!(backoff_ms(2), 4_000);
        assert_eq!(backoff_ms(5), 32_000);
        assert_eq!(backoff_ms(40), 3_600_000);
        assert_eq!(backoff_ms(0), 2_000);
    }

    #[test]
    fn gives_up_after_max_attempts() {
        assert_eq!(after_failure(1, 3, 100), AfterFailure::RetryAt(2_100));
        assert_eq!(after_failure(3, 3, 100), AfterFailure::Dead);
    }
}
