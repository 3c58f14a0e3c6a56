//! opsdesk-bench: starts a release build of the server on a fresh database, drives workloads over
//! loopback with N connections, and prints each figure beside the same-run HTTP ceiling (an
//! endpoint that does no work) and its target, so results read as ratios on any machine.
//!
//!   cargo run --release -p opsdesk-bench -- [--connections 64] [--seconds 5] [--keep-data DIR] [WORKLOAD ...]
//!
//! Workloads: ceiling, health, login, api-me, tickets, email, inbox, search, pings, sla (default:
//! all). `pings` sends success pings spread over `--checks` heartbeat checks; `checks` runs
//! `--monitors` HTTP monitors every 30 s against a local target for two minutes and reads the
//! scheduler's drift and the server's CPU.
//! `inbox`, `search` and `sla` run against a desk seeded with `--seed-tickets` tickets
//! (`opsdesk seed`). `sla` times the SLA sweep's search for due timers and applying a changed
//! tier to its open tickets (through `opsdesk sla due/apply --json`).
//! The server sends its mail to an SMTP sink in the bench; after `tickets` and `email` the bench
//! times how the acknowledgements those queued are worked off.

mod monitors;
mod sla;

mod load;
mod raw;
mod server;
mod smtp_sink;

use std::time::Duration;

use clap::Parser;

use load::{Auth, Run, Workload};

/// Benchmark opsdesk over loopback.
#[derive(Debug, Parser)]
#[command(name = "opsdesk-bench", version, about)]
struct Args {
    /// Concurrent connections per workload.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds per workload (after one second of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Use this server binary instead of building `target/release/opsdesk`.
    #[arg(long)]
    server: Option<std::path::PathBuf>,
    /// Run on this (empty) PostgreSQL database instead of a fresh SQLite file.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Keep the data directory here (SQLite) and reuse its seeded desk on the next run with the
    /// same seed sizes — for iterating on the read workloads without seeding each time.
    #[arg(long, value_name = "DIR")]
    keep_data: Option<std::path::PathBuf>,
    /// Tickets loaded before the inbox and search workloads.
    #[arg(long, default_value_t = 100_000)]
    seed_tickets: u64,
    /// Messages loaded (in all) before the inbox and search workloads.
    #[arg(long, default_value_t = 500_000)]
    seed_messages: u64,
    /// HTTP monitors of the checks workload.
    #[arg(long, default_value_t = 2_000)]
    monitors: usize,
    /// Their interval, in seconds.
    #[arg(long, default_value_t = 30)]
    monitor_interval: u64,
    /// Heartbeat checks created before the pings workload.
    #[arg(long, default_value_t = 10_000)]
    checks: usize,
    /// Workloads to run: ceiling, health, login, api-me, tickets, email, inbox, search, pings,
    /// checks, sla (default: all).
    workloads: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let mut selected: Vec<Workload> = Vec::new();
    let run_sla = args.workloads.is_empty() || args.workloads.iter().any(|w| w == "sla");
    let run_checks = args.workloads.is_empty() || args.workloads.iter().any(|w| w == "checks");
    for name in args
        .workloads
        .iter()
        .filter(|w| *w != "sla" && *w != "checks")
    {
        selected.push(Workload::parse(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown workload {name:?}: use ceiling, health, login, api-me, tickets, email, inbox, search, pings, checks or sla"
            )
        })?);
    }
    if args.workloads.is_empty() {
        selected = Workload::ALL.to_vec();
    }
    let binary = match args.server.clone() {
        Some(p) => p,
        None => server::build_release()?,
    };
    let mut srv = server::Server::start(
        &binary,
        args.database_url.as_deref(),
        args.keep_data.as_deref(),
    )
    .await?;
    let token = srv.prepare().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Idle memory is read before the sign-in below: one argon2 hash grows the heap by ~20 MiB
    // that the allocator keeps, which is not what an idle server holds.
    let idle_rss = srv.rss_kib();
    let checks = if selected.contains(&Workload::Pings) {
        srv.heartbeat_checks(args.checks).await?
    } else {
        Vec::new()
    };
    let auth = Auth {
        token,
        cookie: srv.session_cookie().await?,
        checks: std::sync::Arc::new(checks),
    };

    let duration = Duration::from_secs(args.seconds.max(1));
    // The ceiling always runs first: every other figure is read against it.
    let ceiling = load::run(
        &srv.base,
        Workload::Ceiling,
        args.connections,
        duration,
        &auth,
    )
    .await?;
    let mut runs: Vec<Run> = vec![ceiling.clone()];
    let mut seeded = None;
    // How the acknowledgements an intake workload queued were worked off after it.
    let mut drains: Vec<(Workload, f64, server::Drain)> = Vec::new();
    for w in selected.into_iter().filter(|w| *w != Workload::Ceiling) {
        if w.needs_seed() && seeded.is_none() {
            seeded = Some(seed(&mut srv, &args).await?);
        }
        srv.wait_for_quiet().await?;
        let run = load::run(&srv.base, w, args.connections, duration, &auth).await?;
        if matches!(w, Workload::Tickets | Workload::Email) {
            drains.push((w, run.rps, srv.wait_for_quiet().await?));
        }
        runs.push(run);
    }
    let sla_figures = if run_sla {
        if seeded.is_none() {
            seeded = Some(seed(&mut srv, &args).await?);
        }
        srv.wait_for_quiet().await?;
        Some(sla::measure(&srv, &auth.token).await?)
    } else {
        None
    };
    let check_figures = if run_checks {
        srv.wait_for_quiet().await?;
        Some(monitors::measure(&srv, &auth.token, args.monitors, args.monitor_interval).await?)
    } else {
        None
    };
    let busy_rss = srv.rss_kib();

    println!();
    println!(
        "opsdesk-bench: {}, {} connections, {} s per workload, {} cores",
        if args.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        args.connections,
        duration.as_secs(),
        num_cpus()
    );
    println!(
        "{:<10} {:>10} {:>9} {:>9} {:>9} {:>8} {:>7}  target",
        "workload", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "×ceil"
    );
    for r in &runs {
        let ratio = r.rps / ceiling.rps.max(1.0);
        let target = match r.workload {
            Workload::ApiMe => verdict(
                ratio >= 0.5 && r.p99_ms < 10.0,
                "≥ 0.50 × ceiling and p99 < 10 ms",
            ),
            Workload::Tickets => verdict(r.rps >= 2000.0, "≥ 2,000 tickets/s"),
            Workload::Email => verdict(r.rps >= 1000.0, "≥ 1,000 messages/s"),
            Workload::Inbox => verdict(r.p95_ms < 50.0, "p95 < 50 ms"),
            Workload::Search => verdict(r.p95_ms < 30.0, "p95 < 30 ms"),
            Workload::Pings => verdict(
                r.rps >= 20_000.0 && ratio >= 0.4 && r.p99_ms < 25.0,
                "≥ 20,000 pings/s, ≥ 0.40 × ceiling, p99 < 25 ms",
            ),
            Workload::Ceiling => "(reference)".to_string(),
            _ => "-".to_string(),
        };
        println!(
            "{:<10} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>7.2}  {target}",
            r.workload.name(),
            r.rps,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.errors,
            ratio
        );
    }
    if !drains.is_empty() {
        println!();
    }
    // A burst's acknowledgements are all sent within twelve times the burst (a minute after a
    // five-second burst at full intake speed).
    let within = 12.0 * duration.as_secs_f64();
    for (w, intake, d) in &drains {
        println!(
            "jobs after {:<7} {:>8.0} jobs/s  {:.0} jobs ({} mails over {} SMTP connections) in {:.1} s after {:.0}/s for {} s   target drained < {within:.0} s: {}",
            w.name(),
            d.jobs_per_second(),
            d.jobs,
            d.mails,
            d.connections,
            d.seconds,
            intake,
            duration.as_secs(),
            verdict(d.seconds < within, "")
        );
    }
    if let Some(f) = &sla_figures {
        f.print();
    }
    if let Some(f) = &check_figures {
        f.print();
    }
    println!();
    let ready_ms = srv.ready_after.as_secs_f64() * 1000.0;
    println!(
        "start to ready    {ready_ms:>8.1} ms   target < 300 ms        {}",
        verdict(ready_ms < 300.0, "")
    );
    println!(
        "idle server RSS   {:>8.1} MiB  target < 40 MiB        {}",
        idle_rss as f64 / 1024.0,
        verdict(idle_rss < 40 * 1024, "")
    );
    println!("RSS after load    {:>8.1} MiB", busy_rss as f64 / 1024.0);
    if let Some(Some(took)) = seeded {
        println!(
            "seed              {:>8.1} s    {} tickets, {} messages ({:.0} tickets/s)",
            took.as_secs_f64(),
            args.seed_tickets,
            args.seed_messages,
            args.seed_tickets as f64 / took.as_secs_f64().max(0.001)
        );
    }
    Ok(())
}

/// Seeds the desk (unless a kept directory holds it) and restarts the server on it, so that it
/// plans its queries with the statistics the load left, as a server started on that desk would.
async fn seed(
    srv: &mut server::Server,
    args: &Args,
) -> anyhow::Result<Option<std::time::Duration>> {
    let took = srv.seed(args.seed_tickets, args.seed_messages)?;
    if took.is_some() {
        srv.restart().await?;
    }
    Ok(took)
}

pub fn verdict(ok: bool, what: &str) -> String {
    let mark = if ok { "PASS" } else { "MISS" };
    if what.is_empty() {
        mark.to_string()
    } else {
        format!("{what}: {mark}")
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
