//! The opsdesk application: builds the store, the router and the background workers from a
//! configuration, binds the listener, and runs until told to stop. `main` only parses the CLI.

pub mod checks_commands;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod sla_commands;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use opsdesk_core::auth::authlog::AuthLog;
use opsdesk_core::config::Config;
use opsdesk_core::db::Db;
use opsdesk_core::jobs::{self, Leadership, Runner};
use opsdesk_core::web::{self, AppState};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A built, bound, not yet running server.
pub struct App {
    listener: TcpListener,
    /// The built-in SMTP receiver's listener, when `[smtp] listen` is set.
    smtp: Option<TcpListener>,
    router: Router,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
}

/// Installs the rustls crypto provider once: two of our dependencies pull in a second provider,
/// and rustls refuses to choose on its own.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Connects to the database named by the configuration and applies migrations.
pub async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url()).await?;
    db.migrate().await?;
    db.optimize().await?;
    Ok(db)
}

fn instance_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

impl App {
    /// Opens the store, applies migrations, binds `config.listen` (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<App> {
        install_crypto_provider();
        let metrics = telemetry::metrics_handle();
        let db = open_db(&config).await?;
        let listener = TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let smtp = match &config.smtp.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listening for SMTP on {addr}"))?,
            ),
            None => None,
        };
        let auth_log =
            Arc::new(AuthLog::open(config.auth_log_path()).context("opening the auth log")?);
        let id = instance_id();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let leadership = jobs::leader::campaign(
            &db,
            config.database_url(),
            Duration::from_secs(1),
            shutdown_rx,
        );
        opsdesk_desk::prepare(&db).await?;
        opsdesk_ops::target_policy(&config)?;
        opsdesk_ops::check_actions(&config)?;
        let mut registry = jobs::platform_registry();
        opsdesk_desk::register_jobs(&mut registry, &config);
        opsdesk_ops::register_jobs(&mut registry, &config);
        let runner = Runner::new(db.clone(), registry, &id);
        let setup_done = opsdesk_core::setup::is_complete(&db).await?;
        let state = AppState::new(
            db,
            Arc::new(config),
            auth_log,
            metrics,
            leadership,
            runner,
            &id,
            setup_done,
        )
        .with_nav(opsdesk_desk::nav())
        .with_nav(opsdesk_sla::nav())
        .with_nav(opsdesk_ops::nav());
        let ops = opsdesk_ops::capability(&state.db, &state.config);
        let router = web::router(
            state.clone(),
            vec![opsdesk_desk::capability(), opsdesk_sla::capability(), ops],
        );
        Ok(App {
            listener,
            smtp,
            router,
            state,
            shutdown_tx,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The SMTP receiver's port, when it is on.
    pub fn smtp_port(&self) -> Option<u16> {
        self.smtp
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn leadership(&self) -> &Leadership {
        &self.state.leadership
    }

    /// Serves until `shutdown` resolves, running job workers and the scheduler alongside.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            listener,
            smtp,
            router,
            state,
            shutdown_tx,
        } = self;
        let cfg = state.config.clone();
        let poll = Duration::from_millis(cfg.jobs.poll_ms.max(10));
        let mut tasks = Vec::new();
        if cfg.jobs.workers > 0 {
            tasks.push(tokio::spawn(state.runner.clone().work(
                cfg.jobs.workers,
                poll,
                shutdown_tx.subscribe(),
            )));
            tasks.push(tokio::spawn(jobs::run_scheduler(
                state.db.clone(),
                state.leadership.clone(),
                state.runner.periodic(),
                Duration::from_millis(cfg.jobs.schedule_ms.max(10)),
                shutdown_tx.subscribe(),
            )));
        }
        if let Some(l) = smtp {
            let receiver = opsdesk_desk::mail::smtp::Receiver::new(
                state.db.clone(),
                opsdesk_core::blobs::Blobs::new(&state.db, &cfg.data_dir),
                &cfg.mail,
                &cfg.smtp,
            );
            tracing::info!(addr = %l.local_addr()?, "SMTP receiver is ready");
            tasks.push(tokio::spawn(opsdesk_desk::mail::smtp::serve(
                l,
                receiver,
                cfg.smtp.max_connections,
                shutdown_tx.subscribe(),
            )));
        }
        if !cfg.mail.imap.is_empty() {
            // Only the leader polls, so two instances never fetch the same message at once
            // (a duplicate fetch would still be recognized by its Message-ID).
            let leadership = state.leadership.clone();
            tasks.push(tokio::spawn(opsdesk_desk::mail::imap::run(
                state.db.clone(),
                opsdesk_core::blobs::Blobs::new(&state.db, &cfg.data_dir),
                Arc::new(cfg.mail.clone()),
                move || leadership.is_leader(),
                shutdown_tx.subscribe(),
            )));
        }
        tasks.extend(opsdesk_ops::background(
            &state.db,
            &state.leadership,
            &cfg,
            &shutdown_tx,
        )?);
        tasks.push(tokio::spawn(telemetry::upkeep(
            state.metrics.clone(),
            shutdown_tx.subscribe(),
        )));
        let addr = listener.local_addr()?;
        tracing::info!(%addr, backend = state.db.backend().name(), instance = %state.instance_id, "opsdesk is ready");
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        let _ = shutdown_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        state.db.close().await;
        served.context("serving HTTP")
    }
}
