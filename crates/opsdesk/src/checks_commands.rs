//! `opsdesk checks …`: API keys and the ping key of the Healthchecks-compatible endpoints, and
//! the list of checks; `opsdesk monitors drift`: how punctually monitors run; `opsdesk monitors
//! run`: one monitor now, step by step.

use serde_json::json;

use std::process::ExitCode;

use crate::cli::{
    ApiKeyArgs, ChecksCommand, ChecksListArgs, DriftArgs, MonitorRunArgs, PingKeyArgs,
};
use crate::open_db;
use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::Config;
use opsdesk_core::error::AppError;
use opsdesk_ops::heartbeats::{keys, rules, store, v3};

pub async fn run(config: &Config, cmd: ChecksCommand) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let out = match cmd {
        ChecksCommand::ApiKey(args) => api_key(&db, &args).await,
        ChecksCommand::PingKey(args) => ping_key(&db, &args).await,
        ChecksCommand::List(args) => list(&db, config, &args).await,
    };
    db.close().await;
    out
}

async fn api_key(db: &opsdesk_core::db::Db, args: &ApiKeyArgs) -> anyhow::Result<()> {
    let scope = keys::Scope::parse(&args.scope)
        .ok_or_else(|| anyhow::anyhow!("--scope must be write or read"))?;
    let (_, key) = keys::create(db, &Actor::cli(), &args.name, scope)
        .await
        .map_err(AppError::into_anyhow)?;
    println!("{key}");
    Ok(())
}

async fn ping_key(db: &opsdesk_core::db::Db, args: &PingKeyArgs) -> anyhow::Result<()> {
    let key = if args.new {
        keys::new_ping_key(db, &Actor::cli()).await
    } else {
        keys::ping_key(db).await
    }
    .map_err(AppError::into_anyhow)?;
    println!("{key}");
    Ok(())
}

async fn list(
    db: &opsdesk_core::db::Db,
    config: &Config,
    args: &ChecksListArgs,
) -> anyhow::Result<()> {
    let rows = store::list(db, &store::ListFilter::default()).await?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let base = base.trim_end_matches('/');
    if args.json {
        let links = store::all_channel_links(db).await?;
        let checks: Vec<_> = rows
            .iter()
            .map(|c| {
                v3::check_json(
                    c,
                    links.get(&c.id).map(Vec::as_slice).unwrap_or(&[]),
                    base,
                    false,
                )
            })
            .collect();
        println!("{}", json!({ "checks": checks }));
        return Ok(());
    }
    if rows.is_empty() {
        println!("No checks yet. Create one on the Checks page or with POST /api/v3/checks/.");
        return Ok(());
    }
    let now = now_ms();
    println!(
        "{:<8} {:<30} {:<25} PING URL",
        "STATUS", "NAME", "LAST PING"
    );
    for c in &rows {
        let status = rules::shown(&c.spec(), &c.state(), now);
        let last = c
            .last_ping
            .map(opsdesk_ops::alerts::model::iso)
            .unwrap_or_else(|| "never".into());
        println!(
            "{:<8} {:<30} {:<25} {base}/ping/{}",
            status.as_str(),
            c.name.chars().take(30).collect::<String>(),
            last,
            c.id
        );
    }
    Ok(())
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub async fn drift(config: &Config, args: &DriftArgs) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let drifts =
        opsdesk_ops::uptime::store::drifts(&db, now_ms() - args.since.max(1) * 1000).await?;
    db.close().await;
    let (p50, p99, max) = (
        percentile(&drifts, 0.5),
        percentile(&drifts, 0.99),
        drifts.last().copied().unwrap_or(0),
    );
    if args.json {
        println!(
            "{}",
            json!({"runs": drifts.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max})
        );
    } else {
        println!(
            "{} runs in the last {} s started late by p50 {p50} ms, p99 {p99} ms, at most {max} ms",
            drifts.len(),
            args.since
        );
    }
    Ok(())
}

/// Runs one monitor now and prints how each step went; exit 1 when it failed.
pub async fn run_monitor(config: &Config, args: &MonitorRunArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(config).await?;
    let monitors = opsdesk_ops::uptime::store::list(&db).await?;
    let Some(m) = monitors
        .iter()
        .find(|m| m.id == args.monitor || m.name == args.monitor)
    else {
        db.close().await;
        anyhow::bail!("no monitor has the id or name \"{}\"", args.monitor);
    };
    let clients = opsdesk_ops::uptime::runner::Clients::new(opsdesk_ops::target_policy(config)?);
    let r = opsdesk_ops::uptime::scheduler::run_one(&db, &clients, &m.id, now_ms())
        .await
        .map_err(AppError::into_anyhow)?;
    db.close().await;
    let Some(r) = r else {
        anyhow::bail!("the monitor was deleted meanwhile");
    };
    if args.json {
        let steps: Vec<_> = r
            .steps
            .iter()
            .map(|s| json!({"name": s.name, "ok": s.ok, "status": s.status, "ms": s.ms, "problems": s.problems}))
            .collect();
        println!(
            "{}",
            json!({"monitor": m.name, "ok": r.ok, "ms": r.ms, "error": r.error, "steps": steps})
        );
    } else {
        for s in &r.steps {
            let status = s
                .status
                .map(|c| c.to_string())
                .unwrap_or_else(|| "—".into());
            println!(
                "{} {}: {status} in {} ms{}",
                if s.ok { "✓" } else { "✗" },
                s.name,
                s.ms,
                if s.problems.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", s.problems.join("; "))
                }
            );
        }
        if let Some(e) = &r.error {
            println!("error: {e}");
        }
        println!(
            "{}: {} in {} ms",
            m.name,
            if r.ok { "passed" } else { "FAILED" },
            r.ms
        );
    }
    Ok(if r.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
