//! Per-IP token buckets for logins, public forms and the API (per instance; the login lockout,
//! which must hold across instances, lives in the database).

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;

/// Which bucket a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Login,
    Form,
    Api,
    None,
}

/// Classifies a request by method and path.
pub fn bucket(method: &axum::http::Method, path: &str) -> Bucket {
    let post = method == axum::http::Method::POST;
    if post && (path == "/login" || path == "/api/login" || path.starts_with("/portal/login/")) {
        Bucket::Login
    } else if post
        && (path == "/setup"
            || path == "/api/setup"
            || path == "/support/new"
            || path == "/portal/link"
            || path == "/status/subscribe")
    {
        Bucket::Form
    } else if path.starts_with("/api/") && path != "/api/health" {
        Bucket::Api
    } else {
        Bucket::None
    }
}

pub struct RateLimits {
    login: DefaultKeyedRateLimiter<IpAddr>,
    form: DefaultKeyedRateLimiter<IpAddr>,
    api: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    pub fn new(l: &Limits) -> RateLimits {
        RateLimits {
            login: RateLimiter::keyed(Quota::per_minute(nz(l.login_per_minute))),
            form: RateLimiter::keyed(Quota::per_minute(nz(l.forms_per_minute))),
            api: RateLimiter::keyed(
                Quota::per_second(nz(l.api_per_second))
                    .allow_burst(nz(l.api_per_second.saturating_mul(2))),
            ),
            clock: DefaultClock::default(),
        }
    }

    /// `Ok` to go ahead, or `Err(seconds)` to wait.
    pub fn check(&self, bucket: Bucket, ip: IpAddr) -> Result<(), u64> {
        let limiter = match bucket {
            Bucket::Login => &self.login,
            Bucket::Form => &self.form,
            Bucket::Api => &self.api,
            Bucket::None => return Ok(()),
        };
        limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs().max(1))
    }

    /// Forgets idle keys so memory stays bounded under many client addresses.
    pub fn shrink(&self) {
        self.login.retain_recent();
        self.form.retain_recent();
        self.api.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn requests_are_sorted_into_buckets() {
        assert_eq!(bucket(&Method::POST, "/login"), Bucket::Login);
        assert_eq!(bucket(&Method::GET, "/login"), Bucket::None);
        assert_eq!(bucket(&Method::POST, "/setup"), Bucket::Form);
        assert_eq!(bucket(&Method::GET, "/api/me"), Bucket::Api);
        assert_eq!(bucket(&Method::GET, "/api/health"), Bucket::None);
    }

    #[test]
    fn the_login_bucket_runs_dry_per_ip() {
        let l = RateLimits::new(&Limits {
            login_per_minute: 2,
            ..Limits::default()
        });
        let a: IpAddr = [203, 0, 113, 1].into();
        let b: IpAddr = [203, 0, 113, 2].into();
        assert!(l.check(Bucket::Login, a).is_ok());
        assert!(l.check(Bucket::Login, a).is_ok());
        let wait = l.check(Bucket::Login, a);
        assert!(matches!(wait, Err(s) if (1..=60).contains(&s)), "{wait:?}");
        assert!(l.check(Bucket::Login, b).is_ok());
    }
}
