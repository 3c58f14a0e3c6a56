//! Logs and metrics: JSON (or text) logs through `tracing`, and one process-wide Prometheus
//! recorder whose metrics are described once so `promtool check metrics` finds help text.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Starts logging to standard output. `RUST_LOG` overrides the default level (`info`).
pub fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if format == "text" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    };
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The recorder, installed on first use (several apps in one test process share it).
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let handle = match builder.install_recorder() {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder is already installed; metrics will be empty");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            };
            describe();
            opsdesk_desk::describe_metrics();
            opsdesk_ops::describe_metrics();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "opsdesk_http_requests_total",
        "HTTP requests by method, matched route and status code."
    );
    describe_histogram!(
        "opsdesk_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and matched route."
    );
    describe_counter!(
        "opsdesk_rate_limited_total",
        "Requests refused with 429 by the per-IP rate limits."
    );
    describe_counter!(
        "opsdesk_jobs_finished_total",
        "Job attempts by kind and outcome (done, retry, dead)."
    );
    describe_gauge!(
        "opsdesk_jobs_queued",
        "Jobs waiting to run (including retries)."
    );
    describe_gauge!(
        "opsdesk_jobs_dead",
        "Jobs that failed every attempt and wait for an admin."
    );
    describe_gauge!(
        "opsdesk_jobs_lag_seconds",
        Unit::Seconds,
        "How long the oldest due job has waited."
    );
    describe_gauge!(
        "opsdesk_db_pool_connections",
        "Database pool connections by state (idle, active)."
    );
    describe_gauge!(
        "opsdesk_leader",
        "1 when this instance runs the periodic schedulers."
    );
    metrics::gauge!("opsdesk_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    describe_gauge!("opsdesk_build_info", "Build information; always 1.");
}

/// Folds recorded histogram samples into their buckets every few seconds. Without this the
/// recorder keeps every sample until the next scrape, and memory grows with traffic.
pub async fn upkeep(handle: PrometheusHandle, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => handle.run_upkeep(),
            _ = shutdown.changed() => return,
        }
    }
}
