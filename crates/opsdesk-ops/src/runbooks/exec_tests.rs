//! Running real programs: output, exit codes, start failures, timeouts that kill the whole
//! process group, redaction, bounded output and arguments that arrive as they were given.

use super::*;

fn spec(program: &str, args: &[&str]) -> Spec {
    Spec {
        program: program.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        secrets: Vec::new(),
        timeout: Duration::from_secs(20),
        keep_bytes: 64 * 1024,
    }
}

fn fake_pm2(args: &[&str]) -> Spec {
    spec(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-pm2"),
        args,
    )
}

async fn run_quiet(spec: Spec) -> Outcome {
    run(spec, |_| {}).await
}

fn text(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.output).into_owned()
}

/// The pid on the line that ends with `marker`.
fn pid_after(o: &Outcome, marker: &str) -> u32 {
    let out = text(o);
    let line = out.lines().find(|l| l.starts_with(marker));
    line.and_then(|l| l[marker.len()..].trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid after {marker:?} in {out:?}"))
}

/// The process has ended (a zombie waiting for its reaper counts as ended).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X'])),
    }
}

async fn assert_gone(pid: u32) {
    for _ in 0..40 {
        if gone(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("process {pid} survived the run");
}

#[tokio::test]
async fn output_is_captured_and_streamed() {
    let mut seen = Vec::new();
    let o = run(spec("printf", &["%s\n", "hello", "world"]), |c| {
        seen.extend_from_slice(c)
    })
    .await;
    assert_eq!(o.status, Finished::Exited);
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(text(&o), "hello\nworld\n");
    assert_eq!(seen, o.output);
    assert_eq!(o.total_bytes, 12);
    assert!(!o.truncated);
}

#[tokio::test]
async fn stdout_and_stderr_are_merged_and_a_nonzero_exit_fails() {
    let o = run_quiet(spec(
        "sh",
        &["-c", "echo out; sleep 0.1; echo err >&2; exit 3"],
    ))
    .await;
    assert_eq!(o.status, Finished::Failed);
    assert_eq!(o.exit_code, Some(3));
    assert_eq!(text(&o), "out\nerr\n");
}

#[tokio::test]
async fn a_missing_program_could_not_start() {
    let o = run_quiet(spec("opsdesk-no-such-program", &[])).await;
    assert_eq!(
        o.status,
        Finished::CouldNotStart(
            "`opsdesk-no-such-program` was not found (no such file, or not in PATH)".into()
        )
    );
    assert_eq!(o.exit_code, None);

    let not_executable = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let o = run_quiet(spec(not_executable, &[])).await;
    let Finished::CouldNotStart(why) = o.status else {
        panic!("{o:?}");
    };
    assert!(why.contains("permission denied"), "{why}");
}

#[tokio::test]
async fn arguments_arrive_verbatim() {
    let args = [
        "x; rm -rf / $(id)",
        "`id`",
        "a b",
        "'q\"",
        "$HOME",
        "*",
        "",
        "|&<>",
    ];
    let mut all = vec!["%s\n"];
    all.extend(args);
    let o = run_quiet(spec("printf", &all)).await;
    assert_eq!(o.status, Finished::Exited);
    assert_eq!(text(&o), args.map(|a| format!("{a}\n")).concat());
}

#[tokio::test]
async fn the_environment_is_clean() {
    let mut s = spec("env", &[]);
    s.env = vec![("EXTRA".into(), "1".into())];
    let o = run_quiet(s).await;
    let out = text(&o);
    let mut names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["EXTRA", "HOME", "LANG", "PATH"], "{out}");
    assert!(
        out.contains("LANG=C.UTF-8\n") && out.contains("EXTRA=1\n"),
        "{out}"
    );
}

#[tokio::test]
async fn input_is_empty() {
    let o = run_quiet(spec("cat", &[])).await;
    assert_eq!(o.status, Finished::Exited);
    assert_eq!(o.total_bytes, 0);
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let mut s = spec("sh", &["-c", "sleep 1000 & echo \"bg $!\"; wait"]);
    s.timeout = Duration::from_millis(300);
    let o = run_quiet(s).await;
    assert_eq!(o.status, Finished::TimedOut);
    assert_eq!(o.exit_code, None);
    assert!(o.elapsed < Duration::from_secs(2), "{:?}", o.elapsed);
    assert_gone(pid_after(&o, "bg ")).await;
}

#[tokio::test]
async fn a_group_ignoring_sigterm_gets_sigkill() {
    let script = "trap '' TERM; sleep 1000 & echo \"bg $!\"; while :; do sleep 0.1; done";
    let mut s = spec("sh", &["-c", script]);
    s.timeout = Duration::from_millis(200);
    let o = run_quiet(s).await;
    assert_eq!(o.status, Finished::TimedOut);
    assert!(o.elapsed >= TERM_GRACE, "{:?}", o.elapsed);
    assert!(
        o.elapsed < TERM_GRACE + Duration::from_secs(2),
        "{:?}",
        o.elapsed
    );
    assert_gone(pid_after(&o, "bg ")).await;
}

#[tokio::test]
async fn a_hanging_pm2_is_killed_with_its_children() {
    let mut s = fake_pm2(&["restart", "hang", "--update-env"]);
    s.timeout = Duration::from_millis(500);
    let o = run_quiet(s).await;
    assert_eq!(o.status, Finished::TimedOut);
    assert!(
        text(&o).contains("restartProcessId on app [hang]"),
        "{}",
        text(&o)
    );
    assert_gone(pid_after(&o, "[PM2] child pid ")).await;
}

#[tokio::test]
async fn something_left_holding_the_pipes_does_not_hang_the_run() {
    // `setsid` takes the sleep out of the group; it keeps the output pipes open for 3 s.
    let o = run_quiet(spec("sh", &["-c", "setsid sleep 3 & echo done"])).await;
    assert_eq!(o.status, Finished::Exited);
    assert_eq!(text(&o), "done\n");
    assert!(
        o.elapsed < PIPE_GRACE + Duration::from_millis(1500),
        "{:?}",
        o.elapsed
    );

    let mut s = spec("sh", &["-c", "setsid sleep 3 & sleep 1000"]);
    s.timeout = Duration::from_millis(200);
    let o = run_quiet(s).await;
    assert_eq!(o.status, Finished::TimedOut);
    assert!(
        o.elapsed < PIPE_GRACE + Duration::from_millis(1500),
        "{:?}",
        o.elapsed
    );
}

#[tokio::test]
async fn secrets_are_redacted_before_anyone_sees_them() {
    let secret = "tok-5ecret-value";
    let mut s = fake_pm2(&["env"]);
    s.env = vec![("PM2_SECRET_TOKEN".into(), secret.into())];
    s.secrets = vec![secret.into()];
    let o = run_quiet(s).await;
    assert_eq!(text(&o), "PM2_SECRET_TOKEN=[redacted]\n");

    // Written in two pieces, read in two chunks.
    let mut s = spec(
        "sh",
        &["-c", "printf tok-5ec; sleep 0.2; printf 'ret-value!\\n'"],
    );
    s.secrets = vec![secret.into()];
    let mut chunks = Vec::new();
    let o = run(s, |c| chunks.push(c.to_vec())).await;
    assert_eq!(text(&o), "[redacted]!\n");
    assert_eq!(chunks.concat(), o.output);
    assert_eq!(o.total_bytes, 18);
}

#[tokio::test]
async fn a_flood_of_output_is_cut_but_counted() {
    let mut calls = 0;
    let o = run(fake_pm2(&["flood"]), |_| calls += 1).await;
    assert_eq!(o.status, Finished::Exited);
    assert_eq!(o.total_bytes, 10 * 1024 * 1024);
    assert!(o.truncated);
    let marker = format!("\n… [{} bytes not kept] …\n", 10 * 1024 * 1024 - 64 * 1024);
    assert_eq!(o.output.len(), 64 * 1024 + marker.len());
    let out = text(&o);
    assert!(out.starts_with(&format!("{}\n", "x".repeat(99))));
    assert!(out.contains(&marker) && out.ends_with("xxx"));
    assert!(o.elapsed < Duration::from_secs(15), "{:?}", o.elapsed);
    assert!(calls <= 10 * 1024 * 1024 / 64, "{calls} calls");
}

#[tokio::test]
async fn fake_pm2_acts_like_pm2_and_records_its_calls() {
    let record = std::env::temp_dir().join(format!("fake-pm2-{}.txt", std::process::id()));
    let with_record = |mut s: Spec| {
        s.env = vec![("FAKE_PM2_RECORD".into(), record.display().to_string())];
        s
    };
    let o = run_quiet(with_record(fake_pm2(&["restart", "web", "--update-env"]))).await;
    assert_eq!(o.status, Finished::Exited);
    assert_eq!(
        text(&o),
        "[PM2] Applying action restartProcessId on app [web](ids: [ 0 ])\n[PM2] [web](0) ✓\n"
    );
    let o = run_quiet(with_record(fake_pm2(&[
        "restart",
        "broken",
        "--update-env",
    ])))
    .await;
    assert_eq!((o.status.clone(), o.exit_code), (Finished::Failed, Some(1)));
    assert!(text(&o).contains("[PM2][ERROR]"), "{}", text(&o));
    let o = run_quiet(with_record(fake_pm2(&[
        "logs",
        "web",
        "--lines",
        "5",
        "--nostream",
    ])))
    .await;
    assert_eq!(
        text(&o)
            .lines()
            .filter(|l| l.contains("| log line "))
            .count(),
        5
    );
    for undo in ["stop", "start"] {
        assert_eq!(
            run_quiet(fake_pm2(&[undo, "web"])).await.status,
            Finished::Exited
        );
    }
    let recorded = std::fs::read_to_string(&record).unwrap_or_default();
    let _ = std::fs::remove_file(&record);
    assert_eq!(
        recorded,
        "restart\tweb\t--update-env\nrestart\tbroken\t--update-env\nlogs\tweb\t--lines\t5\t--nostream\n"
    );
}

#[test]
fn kept_output_is_its_start_and_its_end() {
    let all = b"abcdefghij";
    let mut whole = Kept::new(8);
    whole.push(all);
    let mut bytewise = Kept::new(8);
    all.iter().for_each(|b| bytewise.push(&[*b]));
    let expected = "abcdef\n… [2 bytes not kept] …\nij".as_bytes().to_vec();
    assert_eq!(whole.end(), (expected.clone(), true));
    assert_eq!(bytewise.end(), (expected, true));

    let mut small = Kept::new(100);
    small.push(all);
    assert_eq!(small.end(), (all.to_vec(), false));
}

#[test]
fn the_run_can_be_spawned() {
    fn send<T: Send>(_: &T) {}
    send(&run(spec("true", &[]), |_| {}));
}

#[test]
fn debug_shows_no_environment_values() {
    let mut s = spec("x", &[]);
    s.env = vec![("TOKEN".into(), "hunter2".into())];
    s.secrets = vec!["hunter2".into()];
    assert!(!format!("{s:?}").contains("hunter2"));
}
