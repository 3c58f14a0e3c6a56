//! The `checks` figures: 2,000 HTTP monitors at a 30 s interval against a local target (a
//! minimal keep-alive HTTP responder in this process). After they are created and have had an
//! interval to spread, the server's CPU time is read from /proc over a minute of steady running
//! and the scheduler's drift (how late runs started) from `opsdesk monitors drift`.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::server::Server;
use crate::verdict;

pub struct Figures {
    monitors: usize,
    runs: i64,
    p50_ms: i64,
    p99_ms: i64,
    cpu_percent: f64,
    window_s: f64,
}

/// Answers every request with `200 ok`, keeping connections open.
async fn target() -> anyhow::Result<String> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut have = 0;
                loop {
                    let Ok(n) = s.read(&mut buf[have..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
                        if s.write_all(reply).await.is_err() {
                            return;
                        }
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                    }
                    if have == buf.len() {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("http://{addr}/health"))
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start after ") ".
            let rest = s.rsplit_once(") ")?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let u: f64 = f.get(11)?.parse().ok()?;
            let k: f64 = f.get(12)?.parse().ok()?;
            Some((u + k) / ticks)
        })
        .unwrap_or(0.0)
}

pub async fn measure(
    srv: &Server,
    token: &str,
    count: usize,
    interval_s: u64,
) -> anyhow::Result<Figures> {
    let url = target().await?;
    eprintln!("creating {count} HTTP monitors every {interval_s} s …");
    let client = reqwest::Client::new();
    let mut made = futures::stream::iter(0..count)
        .map(|i| {
            let (client, base, url, token) = (
                client.clone(),
                srv.base.clone(),
                url.clone(),
                token.to_string(),
            );
            async move {
                let r = client
                    .post(format!("{base}/api/monitors"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({
                        "name": format!("bench service {i}"),
                        "url": url,
                        "interval": interval_s,
                        "conditions": ["[STATUS] == 200", "[RESPONSE_TIME] < 1000"],
                    }))
                    .send()
                    .await?;
                if r.status().as_u16() != 201 {
                    anyhow::bail!("creating a monitor: {}", r.text().await?);
                }
                Ok(())
            }
        })
        .buffer_unordered(32);
    while let Some(r) = made.next().await {
        r?;
    }
    // One interval for the first runs to spread in, then a measured window.
    eprintln!("letting them settle for {interval_s} s …");
    tokio::time::sleep(Duration::from_secs(interval_s)).await;
    let window = Duration::from_secs(interval_s * 2);
    eprintln!("measuring for {} s …", window.as_secs());
    let started = Instant::now();
    let before = cpu_seconds(srv.pid());
    tokio::time::sleep(window).await;
    let used = cpu_seconds(srv.pid()) - before;
    let took = started.elapsed().as_secs_f64();
    let d = srv.cli_json(&[
        "monitors",
        "drift",
        "--since",
        &window.as_secs().to_string(),
    ])?;
    Ok(Figures {
        monitors: count,
        runs: d["runs"].as_i64().unwrap_or(0),
        p50_ms: d["p50_ms"].as_i64().unwrap_or(0),
        p99_ms: d["p99_ms"].as_i64().unwrap_or(0),
        cpu_percent: used / took * 100.0,
        window_s: took,
    })
}

impl Figures {
    pub fn print(&self) {
        println!(
            "checks: {} monitors, {} runs in {:.0} s ({:.1} runs/s)",
            self.monitors,
            self.runs,
            self.window_s,
            self.runs as f64 / self.window_s.max(1.0)
        );
        println!(
            "schedule drift p99 {:>8} ms   target < 1000 ms       {}   (p50 {} ms)",
            self.p99_ms,
            verdict(self.p99_ms < 1_000 && self.runs > 0, ""),
            self.p50_ms
        );
        println!(
            "server CPU        {:>8.1} %    target < 25 % of a core {}",
            self.cpu_percent,
            verdict(self.cpu_percent < 25.0, "")
        );
    }
}
