//! What every handler can reach: the store, the configuration and the per-instance services.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;

use super::ratelimit::RateLimits;
use crate::auth::authlog::AuthLog;
use crate::config::Config;
use crate::db::Db;
use crate::jobs::{Leadership, Runner};

/// Cloned for every request by each layer of the middleware stack, so it is one shared pointer:
/// a clone is one reference count, not one per service (on two cores, the cloning and dropping
/// of a dozen shared counts per layer was half the server's CPU under load).
#[derive(Clone)]
pub struct AppState(Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

/// What [`AppState`] points at.
#[derive(Clone)]
pub struct State {
    pub db: Db,
    pub config: Arc<Config>,
    pub auth_log: Arc<AuthLog>,
    pub limits: Arc<RateLimits>,
    pub token_cache: Arc<super::tokencache::TokenCache>,
    /// Main navigation entries (the platform's plus those of later capabilities).
    pub nav: Arc<Vec<super::nav::NavItem>>,
    pub metrics: PrometheusHandle,
    pub leadership: Leadership,
    pub runner: Runner,
    pub instance_id: Arc<str>,
    pub started: Instant,
    setup_done: Arc<AtomicBool>,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        config: Arc<Config>,
        auth_log: Arc<AuthLog>,
        metrics: PrometheusHandle,
        leadership: Leadership,
        runner: Runner,
        instance_id: &str,
        setup_done: bool,
    ) -> AppState {
        let limits = Arc::new(RateLimits::new(&config.limits));
        AppState(Arc::new(State {
            db,
            config,
            auth_log,
            limits,
            token_cache: Arc::default(),
            nav: Arc::new(super::nav::platform()),
            metrics,
            leadership,
            runner,
            instance_id: instance_id.into(),
            started: Instant::now(),
            setup_done: Arc::new(AtomicBool::new(setup_done)),
        }))
    }

    /// Adds a capability's navigation entries after the platform's own user-facing ones (the
    /// admin pages stay last).
    pub fn with_nav(self, items: Vec<super::nav::NavItem>) -> AppState {
        let mut nav = (*self.nav).clone();
        let at = nav
            .iter()
            .position(|i| i.audience == super::nav::Audience::Admins)
            .unwrap_or(nav.len());
        for (k, item) in items.into_iter().enumerate() {
            nav.insert(at + k, item);
        }
        let mut state = Arc::unwrap_or_clone(self.0);
        state.nav = Arc::new(nav);
        AppState(Arc::new(state))
    }

    /// Whether setup is complete. Once true it stays true, so only the first requests of a
    /// fresh instance (or another instance's first requests) pay for the lookup.
    pub async fn setup_done(&self) -> bool {
        if self.setup_done.load(Ordering::Relaxed) {
            return true;
        }
        let done = crate::setup::is_complete(&self.db).await.unwrap_or(false);
        if done {
            self.setup_done.store(true, Ordering::Relaxed);
        }
        done
    }

    pub fn mark_setup_done(&self) {
        self.setup_done.store(true, Ordering::Relaxed);
    }

    /// The Secure cookie flag: configured, or on when the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.config.secure_cookies.unwrap_or_else(|| {
            self.config
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        })
    }
}
