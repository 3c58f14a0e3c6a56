//! The load generator: N connections, each a keep-alive client looping one request kind until the
//! deadline, recording every latency.

use std::time::{Duration, Instant};

pub const ADMIN: &str = "bench@bench.example";
pub const PASSWORD: &str = "bench password 1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Ceiling,
    Health,
    Login,
    ApiMe,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::Ceiling,
        Workload::Health,
        Workload::Login,
        Workload::ApiMe,
    ];

    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Ceiling => "ceiling",
            Workload::Health => "health",
            Workload::Login => "login",
            Workload::ApiMe => "api-me",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Run {
    pub workload: Workload,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

async fn once(client: &reqwest::Client, base: &str, w: Workload, token: &str) -> bool {
    let req = match w {
        Workload::Ceiling => client.get(format!("{base}/api/noop")),
        Workload::Health => client.get(format!("{base}/api/health")),
        Workload::ApiMe => client.get(format!("{base}/api/me")).bearer_auth(token),
        Workload::Login => client
            .post(format!("{base}/login"))
            .form(&[("email", ADMIN), ("password", PASSWORD)]),
    };
    match req.send().await {
        Ok(r) => {
            let expected = if w == Workload::Login {
                r.status().as_u16() == 303
            } else {
                r.status().is_success()
            };
            let _ = r.bytes().await;
            expected
        }
        Err(_) => false,
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx.min(sorted.len() - 1)]) / 1000.0
}

pub async fn run(
    base: &str,
    w: Workload,
    connections: usize,
    duration: Duration,
    token: &str,
) -> anyhow::Result<Run> {
    eprintln!("running {} for {} s …", w.name(), duration.as_secs());
    let warm_until = Instant::now() + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let base = base.to_string();
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < warm_until {
                once(&client, &base, w, &token).await;
            }
            let end = Instant::now() + duration;
            let mut lat = Vec::with_capacity(4096);
            let mut errors = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                if !once(&client, &base, w, &token).await {
                    errors += 1;
                }
                lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    all.sort_unstable();
    Ok(Run {
        workload: w,
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: percentile(&all, 0.50),
        p95_ms: percentile(&all, 0.95),
        p99_ms: percentile(&all, 0.99),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_sorted_samples() {
        let v: Vec<u32> = (1..=100).map(|n| n * 1000).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn workloads_parse_by_name() {
        for w in Workload::ALL {
            assert_eq!(Workload::parse(w.name()), Some(w));
        }
        assert_eq!(Workload::parse("nope"), None);
    }
}
