//! Starting the server under test: a release build, a fresh data directory, limits lifted so the
//! benchmark measures work rather than the rate limiter.

use futures::StreamExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Builds `target/release/opsdesk` (a no-op when it is current) and returns its path.
pub fn build_release() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    eprintln!("building the release server …");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "opsdesk", "--bin", "opsdesk"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        bail!("cargo build --release -p opsdesk failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    Ok(target.join("release/opsdesk"))
}

pub struct Server {
    child: Child,
    pub base: String,
    pub ready_after: Duration,
    binary: PathBuf,
    dir: DataDir,
    database_url: Option<String>,
    /// The SMTP sink the server sends its mail to.
    smtp: std::sync::Arc<crate::smtp_sink::Counts>,
    smtp_port: u16,
}

/// Where the server keeps its data: a throwaway directory, or one kept between runs.
enum DataDir {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Temp(t) => t.path(),
            DataDir::Kept(p) => p,
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts the server on the data directory; returns it once `/api/health` answers, with its
/// base URL and how long that took.
async fn spawn(
    binary: &Path,
    dir: &DataDir,
    database_url: Option<&str>,
    smtp_port: u16,
) -> anyhow::Result<(Child, String, Duration)> {
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    let started = Instant::now();
    let mut cmd = Command::new(binary);
    if let Some(url) = database_url {
        cmd.env("OPSDESK_DATABASE_URL", url);
    }
    let child = cmd
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("OPSDESK_LIMITS__API_PER_SECOND", "100000000")
        .env("OPSDESK_LIMITS__LOGIN_PER_MINUTE", "100000000")
        .env("OPSDESK_LIMITS__FORMS_PER_MINUTE", "100000000")
        .env("OPSDESK_LOCKOUT__MAX_FAILURES_PER_IP", "100000000")
        .env(
            "OPSDESK_MAIL__SMTP_URL",
            format!("smtp://127.0.0.1:{smtp_port}"),
        )
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    // Generous: a server started on a large, freshly loaded desk may take a while.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = client.get(format!("{base}/api/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the server did not become ready; see {}",
                dir.path().join("server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((child, base, started.elapsed()))
}

/// From the server's metrics: its queued jobs, how long the oldest due one has waited (s), and
/// how many jobs it has finished.
async fn job_queue(client: &reqwest::Client, base: &str) -> anyhow::Result<(f64, f64, f64)> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let finished: f64 = text
        .lines()
        .filter(|l| l.starts_with("opsdesk_jobs_finished_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.trim().parse::<f64>().ok())
        .sum();
    Ok((
        gauge("opsdesk_jobs_queued"),
        gauge("opsdesk_jobs_lag_seconds"),
        finished,
    ))
}

/// How a queue of jobs was worked off: jobs finished, mails the SMTP sink took (and over how
/// many connections), in how long.
#[derive(Clone, Copy, Debug)]
pub struct Drain {
    pub jobs: f64,
    pub mails: u64,
    pub connections: u64,
    pub seconds: f64,
}

impl Drain {
    pub fn jobs_per_second(&self) -> f64 {
        self.jobs / self.seconds.max(0.001)
    }
}

impl Server {
    /// Waits (two minutes at most) for the server's job queue to drain, so a figure does not
    /// depend on the workloads run before it: the intake workloads leave thousands of
    /// acknowledgements queued, and while the server works them off its writer is busy (and
    /// SQLite's write lock held against the commands the `sla` figures time). Returns how the
    /// queue was worked off.
    pub async fn wait_for_quiet(&self) -> anyhow::Result<Drain> {
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let (conns0, mails0) = self.smtp.get();
        // Quiet: no job that is due waits (jobs retried later or scheduled ahead may stay).
        let (first, mut lag, done0) = job_queue(&client, &self.base).await?;
        let (mut queued, mut done) = (first, done0);
        while lag > 0.0 && started.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            (queued, lag, done) = job_queue(&client, &self.base).await?;
        }
        let (conns, mails) = self.smtp.get();
        let drain = Drain {
            jobs: done - done0,
            mails: mails - mails0,
            connections: conns - conns0,
            seconds: started.elapsed().as_secs_f64(),
        };
        if started.elapsed() > Duration::from_secs(1) {
            eprintln!(
                "waited {:.1} s for {first:.0} queued jobs to drain ({queued:.0} left, the oldest due waiting {lag:.1} s; {:.0} jobs/s)",
                drain.seconds,
                drain.jobs_per_second()
            );
        }
        Ok(drain)
    }

    /// Starts the server on a fresh SQLite database, or on `database_url` (which should name an
    /// empty PostgreSQL database). With `keep`, the data directory is that one and survives the
    /// run, so a seeded desk can be measured again without seeding it again.
    pub async fn start(
        binary: &Path,
        database_url: Option<&str>,
        keep: Option<&Path>,
    ) -> anyhow::Result<Server> {
        let dir = match keep {
            Some(p) => {
                std::fs::create_dir_all(p)?;
                DataDir::Kept(p.to_path_buf())
            }
            None => DataDir::Temp(tempfile::tempdir()?),
        };
        let (smtp_port, smtp) = crate::smtp_sink::start().await?;
        let (child, base, ready_after) = spawn(binary, &dir, database_url, smtp_port).await?;
        Ok(Server {
            child,
            base,
            ready_after,
            binary: binary.to_path_buf(),
            dir,
            database_url: database_url.map(str::to_string),
            smtp,
            smtp_port,
        })
    }

    /// Stops the server and starts it again on the same data (after a bulk load, so that it
    /// plans its queries with the statistics the load left, as a server started on that desk
    /// would). The start-up time measured stays the first one.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base, _) = spawn(
            &self.binary,
            &self.dir,
            self.database_url.as_deref(),
            self.smtp_port,
        )
        .await?;
        self.child = child;
        self.base = base;
        Ok(())
    }

    /// The opsdesk CLI against the same database.
    fn cli(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        if let Some(url) = &self.database_url {
            cmd.env("OPSDESK_DATABASE_URL", url);
        }
        cmd.arg("--data-dir").arg(self.dir.path());
        cmd
    }

    /// Runs an `opsdesk` command that prints JSON (`--json`) and returns what it printed.
    pub fn cli_json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let out = self
            .cli()
            .args(args)
            .arg("--json")
            .stderr(Stdio::inherit())
            .output()?;
        if !out.status.success() {
            bail!("opsdesk {} failed", args.join(" "));
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("opsdesk {} printed no JSON", args.join(" ")))
    }

    /// Loads synthetic tickets with `opsdesk seed`; returns how long it took, or `None` when a
    /// kept data directory already holds this seed.
    pub fn seed(&self, tickets: u64, messages: u64) -> anyhow::Result<Option<Duration>> {
        let marker = self
            .dir
            .path()
            .join(format!("bench-seed-{tickets}-{messages}"));
        if marker.exists() {
            eprintln!("reusing the seeded desk in {}", self.dir.path().display());
            return Ok(None);
        }
        eprintln!("seeding {tickets} tickets and {messages} messages …");
        let started = Instant::now();
        let out = self
            .cli()
            .args([
                "seed",
                "--tickets",
                &tickets.to_string(),
                "--messages",
                &messages.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()?;
        if !out.success() {
            bail!("opsdesk seed failed");
        }
        let took = started.elapsed();
        if matches!(self.dir, DataDir::Kept(_)) {
            std::fs::write(&marker, b"")?;
        }
        Ok(Some(took))
    }

    /// Signs the admin in through the login form; returns the session cookie (`name=value`).
    pub async fn session_cookie(&self) -> anyhow::Result<String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let r = client
            .post(format!("{}/login", self.base))
            .form(&[
                ("email", crate::load::ADMIN),
                ("password", crate::load::PASSWORD),
            ])
            .send()
            .await?;
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("opsdesk_session="))
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        cookie.ok_or_else(|| anyhow::anyhow!("signing in gave no session cookie"))
    }

    /// Completes setup and returns a read-write token for the admin.
    pub async fn prepare(&self) -> anyhow::Result<String> {
        let r = reqwest::Client::new()
            .post(format!("{}/api/setup", self.base))
            .json(&serde_json::json!({
                "brand_name": "Bench", "support_email": "support@bench.example", "timezone": "UTC",
                "admin_name": "Bench Admin", "admin_email": crate::load::ADMIN, "admin_password": crate::load::PASSWORD,
            }))
            .send()
            .await?;
        // A kept data directory was set up by an earlier run.
        let set_up_before = r.status().as_u16() == 409 && matches!(self.dir, DataDir::Kept(_));
        if r.status().as_u16() != 201 && !set_up_before {
            bail!("setup failed: {}", r.text().await.unwrap_or_default());
        }
        let out = self
            .cli()
            .args([
                "token",
                "create",
                "--email",
                crate::load::ADMIN,
                "--scope",
                "write",
            ])
            .output()?;
        if !out.status.success() {
            bail!(
                "token create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Creates `count` heartbeat checks through the Healthchecks-compatible API (with a key from
    /// `opsdesk checks api-key`); returns their UUIDs.
    pub async fn heartbeat_checks(&self, count: usize) -> anyhow::Result<Vec<String>> {
        let out = self
            .cli()
            .args(["checks", "api-key", "--name", "bench"])
            .output()?;
        if !out.status.success() {
            bail!(
                "checks api-key failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
        eprintln!("creating {count} heartbeat checks …");
        let client = reqwest::Client::new();
        let mut uuids = Vec::with_capacity(count);
        let mut tasks = futures::stream::iter(0..count)
            .map(|i| {
                let (client, key, base) = (client.clone(), key.clone(), self.base.clone());
                async move {
                    let r = client
                        .post(format!("{base}/api/v3/checks/"))
                        .header("x-api-key", key)
                        .json(&serde_json::json!({
                            "name": format!("bench job {i}"),
                            "tags": "bench",
                            "timeout": 3600,
                            "grace": 600,
                        }))
                        .send()
                        .await?;
                    let v: serde_json::Value = r.json().await?;
                    v["uuid"]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| anyhow::anyhow!("creating a check: {v}"))
                }
            })
            .buffer_unordered(32);
        while let Some(uuid) = tasks.next().await {
            uuids.push(uuid?);
        }
        Ok(uuids)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
