//! `opsdesk checks …`: API keys and the ping key of the Healthchecks-compatible endpoints, and
//! the list of checks; `opsdesk monitors drift`: how punctually monitors run.

use serde_json::json;

use crate::cli::{ApiKeyArgs, ChecksCommand, ChecksListArgs, DriftArgs, PingKeyArgs};
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
