//! Running an action's program: directly (never through a shell), in a clean environment and its
//! own process group, with stdout and stderr merged, redacted and streamed as they arrive, the
//! output kept within bounds, and the whole group killed when the time is up.

use std::collections::VecDeque;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep_until};

use super::redact::Redactor;

/// How long a process group has between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long the pipes are still read once the program has exited (something it left behind
/// may hold them open), or once its group has been killed.
const PIPE_GRACE: Duration = Duration::from_secs(1);
/// Bytes read from a pipe at a time.
const CHUNK: usize = 16 * 1024;
/// Where the `kill` program is looked for: it signals the process group, since the workspace
/// forbids the `unsafe` a direct `killpg` would need.
const KILL_PROGRAMS: [&str; 3] = ["/bin/kill", "/usr/bin/kill", "kill"];
/// The PATH given to programs when the server has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What to run.
#[derive(Clone)]
pub struct Spec {
    /// An absolute path, or a name looked up in the server's PATH.
    pub program: String,
    /// Each one reaches the program as one argument, as it is.
    pub args: Vec<String>,
    /// Added to PATH, HOME and LANG (and may override them).
    pub env: Vec<(String, String)>,
    /// Values redacted from the output.
    pub secrets: Vec<String>,
    /// After this the whole process group is killed.
    pub timeout: Duration,
    /// The most output kept (its start and its end).
    pub keep_bytes: usize,
}

/// Never shows the environment or the secrets (which often sit in the environment).
impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("keep_bytes", &self.keep_bytes)
            .finish_non_exhaustive()
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Exit code 0.
    Exited,
    /// A non-zero exit code, or killed by a signal it did not get from us.
    Failed,
    /// Out of time: its process group was killed.
    TimedOut,
    /// The program could not be started; why, readably.
    CouldNotStart(String),
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Finished,
    /// None when it was killed by a signal, or never ran.
    pub exit_code: Option<i32>,
    /// The output kept, redacted: the first 3/4 of `keep_bytes` and the last 1/4, with a line
    /// saying how much was left out between them.
    pub output: Vec<u8>,
    /// Every byte the program wrote to stdout and stderr.
    pub total_bytes: u64,
    /// Some of the output was not kept.
    pub truncated: bool,
    pub elapsed: Duration,
}

/// Runs the program to its end (or its timeout). `on_output` sees the redacted output as it
/// arrives, a chunk at a time.
pub async fn run(spec: Spec, on_output: impl FnMut(&[u8]) + Send) -> Outcome {
    let started = Instant::now();
    let mut child = match command(&spec).spawn() {
        Ok(child) => child,
        Err(e) => {
            return Outcome {
                status: Finished::CouldNotStart(start_error(&spec.program, &e)),
                exit_code: None,
                output: Vec::new(),
                total_bytes: 0,
                truncated: false,
                elapsed: started.elapsed(),
            };
        }
    };
    let mut sink = Sink {
        redactor: Redactor::new(&spec.secrets),
        kept: Kept::new(spec.keep_bytes),
        total: 0,
        on_output,
    };
    let deadline = started
        .checked_add(spec.timeout)
        .unwrap_or_else(|| started + Duration::from_secs(365 * 24 * 3600));
    let (exit, timed_out) = supervise(&mut child, deadline, &mut sink).await;
    let total_bytes = sink.total;
    let (output, truncated) = sink.end();
    let status = match exit {
        _ if timed_out => Finished::TimedOut,
        Some(s) if s.success() => Finished::Exited,
        _ => Finished::Failed,
    };
    Outcome {
        status,
        exit_code: exit.and_then(|s| s.code()),
        output,
        total_bytes,
        truncated,
        elapsed: started.elapsed(),
    }
}

/// The program with its arguments, a clean environment, no input, both outputs piped, leading a
/// process group of its own (so a timeout can kill everything it started).
fn command(spec: &Spec) -> Command {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .env(
            "HOME",
            std::env::var_os("HOME").unwrap_or_else(|| "/".into()),
        )
        .env("LANG", "C.UTF-8")
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    cmd
}

fn start_error(program: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => {
            format!("`{program}` was not found (no such file, or not in PATH)")
        }
        io::ErrorKind::PermissionDenied => {
            format!("`{program}` may not be run (permission denied: is it executable?)")
        }
        _ => format!("`{program}` could not be started: {e}"),
    }
}

/// Reads both pipes as output arrives and waits for the program; at the deadline, SIGTERM to its
/// group, SIGKILL once it has exited or after [`TERM_GRACE`]. Returns its exit status (None when
/// it could not be had) and whether it ran out of time.
async fn supervise<F: FnMut(&[u8])>(
    child: &mut Child,
    deadline: Instant,
    sink: &mut Sink<F>,
) -> (Option<ExitStatus>, bool) {
    let pgid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut out_buf, mut err_buf) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut exited: Option<Option<ExitStatus>> = None;
    let mut term_sent: Option<Instant> = None;
    let mut killed = false;
    // Set once it has exited or been killed: the pipes are given up on after this.
    let mut stop_reading: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if exited.is_none() && term_sent.is_none() && now >= deadline {
            signal_group(pgid, "TERM").await;
            term_sent = Some(now);
        }
        if let Some(t) = term_sent
            && !killed
            && (exited.is_some() || now >= t + TERM_GRACE)
        {
            // Even when the leader is gone: what it started may have ignored SIGTERM.
            signal_group(pgid, "KILL").await;
            if let Err(e) = child.start_kill()
                && exited.is_none()
            {
                tracing::warn!(error = %e, "could not kill a timed-out program");
            }
            killed = true;
            stop_reading = Some(Instant::now() + PIPE_GRACE);
        }
        let pipes_open = stdout.is_some() || stderr.is_some();
        if (exited.is_some() && !pipes_open) || stop_reading.is_some_and(|t| now >= t) {
            break;
        }
        let wake = match (term_sent, stop_reading) {
            (_, Some(t)) => t,
            (None, None) => deadline,
            (Some(t), None) => t + TERM_GRACE,
        };
        tokio::select! {
            n = read_from(&mut stdout, &mut out_buf) => match n {
                Some(n) => sink.take(&out_buf[..n]),
                None => stdout = None,
            },
            n = read_from(&mut stderr, &mut err_buf) => match n {
                Some(n) => sink.take(&err_buf[..n]),
                None => stderr = None,
            },
            status = child.wait(), if exited.is_none() => {
                if let Err(e) = &status {
                    tracing::warn!(error = %e, "could not wait for a program");
                }
                exited = Some(status.ok());
                stop_reading.get_or_insert(Instant::now() + PIPE_GRACE);
            },
            () = sleep_until(wake) => {},
        }
    }
    (exited.flatten(), term_sent.is_some())
}

/// The next bytes from a pipe: None at its end (or on an error); never, for a closed one.
async fn read_from<R: AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    match pipe {
        Some(p) => match p.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}

/// Sends a signal to a whole process group through the `kill` program (no shell).
async fn signal_group(pgid: Option<u32>, signal: &str) {
    let Some(pgid) = pgid else {
        return;
    };
    let group = format!("-{pgid}");
    for program in KILL_PROGRAMS {
        let status = Command::new(program)
            .args(["-s", signal, "--", &group])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status();
        match tokio::time::timeout(Duration::from_secs(2), status).await {
            // A failure here means the group is already gone.
            Ok(Ok(_)) => return,
            Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => continue,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, pgid, signal, "could not signal a process group");
                return;
            }
            Err(_) => {
                tracing::warn!(pgid, signal, "signalling a process group took too long");
                return;
            }
        }
    }
    tracing::warn!(
        pgid,
        signal,
        "no `kill` program to signal a process group with"
    );
}

/// Where output goes: counted, redacted, shown, kept.
struct Sink<F> {
    redactor: Redactor,
    kept: Kept,
    total: u64,
    on_output: F,
}

impl<F: FnMut(&[u8])> Sink<F> {
    fn take(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let shown = self.redactor.push(bytes);
        self.show(&shown);
    }

    fn show(&mut self, shown: &[u8]) {
        if !shown.is_empty() {
            (self.on_output)(shown);
            self.kept.push(shown);
        }
    }

    /// The end of the output: what the redactor held back, then all that was kept.
    fn end(mut self) -> (Vec<u8>, bool) {
        let redactor = std::mem::replace(&mut self.redactor, Redactor::new(Vec::<Vec<u8>>::new()));
        self.show(&redactor.finish());
        self.kept.end()
    }
}

/// The output kept: its start and its end, counting what falls between.
struct Kept {
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    dropped: u64,
}

impl Kept {
    fn new(keep_bytes: usize) -> Kept {
        let tail_cap = keep_bytes / 4;
        Kept {
            head: Vec::new(),
            head_cap: keep_bytes - tail_cap,
            tail: VecDeque::new(),
            tail_cap,
            dropped: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = self.head_cap - self.head.len();
        let (head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(head);
        if rest.len() >= self.tail_cap {
            let keep_from = rest.len() - self.tail_cap;
            self.dropped += (self.tail.len() + keep_from) as u64;
            self.tail.clear();
            self.tail.extend(&rest[keep_from..]);
        } else {
            self.tail.extend(rest);
            let over = self.tail.len().saturating_sub(self.tail_cap);
            self.tail.drain(..over);
            self.dropped += over as u64;
        }
    }

    /// The output, and whether some was left out.
    fn end(self) -> (Vec<u8>, bool) {
        let mut out = self.head;
        if self.dropped > 0 {
            out.extend_from_slice(format!("\n… [{} bytes not kept] …\n", self.dropped).as_bytes());
        }
        out.extend(self.tail);
        (out, self.dropped > 0)
    }
}

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
