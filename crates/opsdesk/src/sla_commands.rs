//! `opsdesk sla …`: apply a changed tier to its open tickets with a progress bar, and list the
//! tickets whose SLA warning or breach is due.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::{SlaApplyArgs, SlaCommand, SlaDueArgs};
use crate::open_db;
use opsdesk_core::audit::Actor;
use opsdesk_core::clock::now_ms;
use opsdesk_core::config::Config;

pub async fn run(config: &Config, cmd: SlaCommand) -> anyhow::Result<()> {
    match cmd {
        SlaCommand::Apply(args) => apply(config, &args).await,
        SlaCommand::Due(args) => due(config, &args).await,
    }
}

async fn apply(config: &Config, args: &SlaApplyArgs) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let Some((id, name)) = opsdesk_sla::store::find_tier(&db, &args.tier).await? else {
        anyhow::bail!(
            "no tier {:?} (see GET /api/tiers for the tiers' names)",
            args.tier
        );
    };
    let total = opsdesk_sla::ticket_store::count_open_of_tier(&db, &id).await?;
    let pb = ProgressBar::new(u64::try_from(total).unwrap_or(0));
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} open tickets {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if args.json {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = Instant::now();
    let now = now_ms();
    let n =
        opsdesk_sla::apply::apply_tier(&db, &id, now, args.batch, |n| pb.set_position(n)).await?;
    let took = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    opsdesk_sla::service::record_applied(&db, &Actor::cli(), &id, n)
        .await
        .map_err(opsdesk_core::error::AppError::into_anyhow)?;
    db.close().await;
    let rate = n as f64 / took.max(1e-6);
    if args.json {
        println!(
            "{}",
            json!({"tier": name, "tickets": n, "ms": took * 1000.0, "per_second": rate})
        );
    } else {
        println!(
            "{n} open tickets of {name} now served under its current targets ({:.0} ms, {rate:.0} tickets/s)",
            took * 1000.0
        );
    }
    Ok(())
}

async fn due(config: &Config, args: &SlaDueArgs) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let at = args.at_ms.unwrap_or_else(now_ms) + i64::from(args.within) * 3_600_000;
    // The same query the sweep runs every minute, timed.
    let started = Instant::now();
    let listed =
        opsdesk_sla::ticket_store::due_timers(&db, at, i64::from(args.limit.max(1))).await?;
    let find_ms = started.elapsed().as_secs_f64() * 1000.0;
    let total = opsdesk_sla::ticket_store::count_due(&db, at).await?;
    db.close().await;
    let numbers: Vec<i64> = listed.iter().map(|(_, n)| *n).collect();
    if args.json {
        println!(
            "{}",
            json!({"due": total, "tickets": numbers, "find_ms": find_ms, "at": at})
        );
        return Ok(());
    }
    if total == 0 {
        println!("no SLA warning or breach is due");
        return Ok(());
    }
    println!(
        "{total} tickets have an SLA warning or breach due (found in {find_ms:.1} ms); earliest first:"
    );
    for n in &numbers {
        println!("  #{n}");
    }
    Ok(())
}
