//! The SLA figures on the seeded desk: how long the sweep's search for due timers takes (with
//! nothing due, and with a full batch due), and how fast a changed tier (the default tier given
//! targets for every priority, so every open ticket of it gets new deadlines) is applied to its
//! open tickets. Timed by the commands themselves, so process start-up is not counted.

use crate::server::Server;
use crate::verdict;

pub struct Figures {
    /// Median over runs of the sweep's search at the current time (none due on a fresh seed).
    find_idle_ms: f64,
    /// Timers due now.
    due_now: i64,
    /// Median over runs of finding a full sweep batch (500) of due timers.
    find_batch_ms: f64,
    /// Timers due within a week (the batch is taken from these).
    due_in_week: i64,
    applied_tier: String,
    applied: u64,
    applied_ms: f64,
    per_second: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Gives the default tier (best effort out of the box) targets for every priority, without
/// applying them: every one of its open tickets then has new deadlines to compute and write.
async fn change_policy(srv: &Server, token: &str) -> anyhow::Result<()> {
    let targets = |f: i64| {
        serde_json::json!({
            "first_response_minutes": f,
            "next_response_minutes": 2 * f,
            "resolution_minutes": 8 * f
        })
    };
    // A kept data directory may hold the change of an earlier run: make it a change again.
    let client = reqwest::Client::new();
    let tiers: serde_json::Value = client
        .get(format!("{}/api/tiers", srv.base))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let current = tiers
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "Community"))
        .and_then(|t| t["targets"]["normal"]["first_response_minutes"].as_i64());
    let day = if current == Some(1_440) { 1_200 } else { 1_440 };
    let r = client
        .put(format!("{}/api/tiers/Community", srv.base))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "name": "Community",
            "calendar": "Office hours",
            "targets": {
                "low": targets(2 * day),
                "normal": targets(day),
                "high": targets(day / 3),
                "urgent": targets(day / 12)
            }
        }))
        .send()
        .await?;
    if !r.status().is_success() {
        anyhow::bail!("changing the Community tier: {}", r.text().await?);
    }
    Ok(())
}

pub async fn measure(srv: &Server, token: &str) -> anyhow::Result<Figures> {
    eprintln!("timing the SLA sweep and a tier applied to its open tickets …");
    let mut idle = Vec::new();
    let mut batch = Vec::new();
    let (mut due_in_week, mut due_now) = (0, 0);
    for _ in 0..7 {
        let now = srv.cli_json(&["sla", "due", "--limit", "500"])?;
        idle.push(now["find_ms"].as_f64().unwrap_or(f64::NAN));
        due_now = now["due"].as_i64().unwrap_or(0);
        let week = srv.cli_json(&["sla", "due", "--within", "168", "--limit", "500"])?;
        batch.push(week["find_ms"].as_f64().unwrap_or(f64::NAN));
        due_in_week = week["due"].as_i64().unwrap_or(0);
    }
    // The default tier holds half the seeded customers; a real change reaches every one of its
    // open tickets.
    change_policy(srv, token).await?;
    let applied = srv.cli_json(&["sla", "apply", "Community"])?;
    Ok(Figures {
        find_idle_ms: median(idle),
        find_batch_ms: median(batch),
        due_in_week,
        due_now,
        applied_tier: applied["tier"].as_str().unwrap_or("?").to_string(),
        applied: applied["tickets"].as_u64().unwrap_or(0),
        applied_ms: applied["ms"].as_f64().unwrap_or(f64::NAN),
        per_second: applied["per_second"].as_f64().unwrap_or(0.0),
    })
}

impl Figures {
    pub fn print(&self) {
        println!();
        println!(
            "sla sweep, now             {:>8.2} ms   target < 50 ms         {}   ({} due now)",
            self.find_idle_ms,
            verdict(self.find_idle_ms < 50.0, ""),
            self.due_now
        );
        println!(
            "sla sweep, 500 due         {:>8.2} ms   target < 50 ms         {}   ({} due within a week)",
            self.find_batch_ms,
            verdict(self.find_batch_ms < 50.0, ""),
            self.due_in_week
        );
        println!(
            "sla apply to open tickets  {:>8.0} /s   target ≥ 50,000/s      {}   ({} open {} tickets in {:.0} ms)",
            self.per_second,
            verdict(self.per_second >= 50_000.0, ""),
            self.applied,
            self.applied_tier,
            self.applied_ms
        );
    }
}
