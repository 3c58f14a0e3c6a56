//! Running the real `opsdesk` binary as a child process (for the CLI, fail2ban and
//! multi-instance tests): fresh data directory, free port, waits for readiness, killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use opsdesk_core::config::DatabaseUrl;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_opsdesk")
}

/// `opsdesk --data-dir DIR --database-url URL <args>` with optional stdin, waited for.
pub fn opsdesk(dir: &Path, url: &DatabaseUrl, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir")
        .arg(dir)
        .arg("--database-url")
        .arg(url.expose())
        .args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning opsdesk: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write as _;
        let _ = pipe.write_all(text.as_bytes());
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for opsdesk: {e}"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A running `opsdesk serve` process.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts a server and waits until `/api/health` answers.
    pub async fn start(dir: &Path, url: &DatabaseUrl, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = dir.join(format!("server-{port}.log"));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::new(bin());
        cmd.arg("--data-dir")
            .arg(dir)
            .arg("--database-url")
            .arg(url.expose())
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning opsdesk serve: {e}"));
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = client
                .get(format!("{}/api/health", server.base))
                .send()
                .await
                && r.status().as_u16() < 500
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "server did not become ready; log:\n{}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
