//! Running a claimed run: the program runs in its own process group while its (redacted)
//! output is written as live chunks every quarter second, the runner's heartbeat is kept, and
//! the end — state, exit code, kept output — is recorded with its timeline entries and audit
//! line. Runs whose server died are found by their stale heartbeat and marked interrupted.

use std::time::Duration;

use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::now_ms;
use opsdesk_core::db::{Db, Tx};

use super::exec::{self, Finished, Outcome, Spec};
use super::store::{self, Finish, RunRow};

/// Everything streamed live so far (every chunk, page by page).
pub async fn live_output(db: &Db, id: &str) -> Result<String, sqlx::Error> {
    let (mut out, mut after) = (String::new(), 0);
    loop {
        let page = store::chunks(db, id, after).await?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = last.0;
        for (_, d) in &page {
            out.push_str(d);
        }
    }
}

/// A run whose heartbeat is older than this is taken for dead.
pub const STALE_MS: i64 = 30_000;
const BEAT_MS: i64 = 5_000;
const FLUSH: Duration = Duration::from_millis(250);
/// Bytes buffered before a flush without waiting for the tick.
const FLUSH_BYTES: usize = 64 * 1024;
/// Bytes of live output written while a run goes (the kept output is bounded separately).
const LIVE_BYTES: usize = 1024 * 1024;

/// Starts a claimed run in the background.
pub fn start(db: Db, run: RunRow, spec: Spec) {
    tokio::spawn(async move {
        let live_cap = spec.keep_bytes.min(LIVE_BYTES);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let writer = tokio::spawn(write_live(db.clone(), run.id.clone(), rx, live_cap));
        let outcome = exec::run(spec, move |b: &[u8]| {
            let _ = tx.send(b.to_vec());
        })
        .await;
        if let Err(e) = writer.await {
            tracing::warn!(run = %run.id, error = %e, "the live output writer stopped");
        }
        if let Err(e) = finish(&db, &run, &outcome).await {
            tracing::error!(run = %run.id, error = %e, "recording the end of an ops run failed");
        }
    });
}

/// The longest valid UTF-8 prefix of `buf` (an incomplete character at the end waits for the
/// rest), as text; invalid bytes elsewhere become U+FFFD.
fn take_text(buf: &mut Vec<u8>) -> String {
    let cut = match std::str::from_utf8(buf) {
        Ok(_) => buf.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => buf.len(),
    };
    let rest = buf.split_off(cut);
    let text = String::from_utf8_lossy(buf).into_owned();
    *buf = rest;
    text
}

async fn write_live(
    db: Db,
    id: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    cap: usize,
) {
    let mut buf: Vec<u8> = Vec::new();
    let (mut seq, mut written, mut told) = (0i64, 0usize, false);
    let mut last_beat = now_ms();
    let mut tick = tokio::time::interval(FLUSH);
    loop {
        let (open, ticked) = tokio::select! {
            m = rx.recv() => (match m {
                Some(b) => {
                    if written + buf.len() < cap {
                        buf.extend_from_slice(&b);
                    } else if !told {
                        buf.extend_from_slice(
                            b"\n[live output stops here; the start and the end are kept when the run ends]\n",
                        );
                        told = true;
                    }
                    true
                }
                None => false,
            }, false),
            _ = tick.tick() => (true, true),
        };
        let now = now_ms();
        // Written on the tick (or when much is waiting), not per pipe read.
        if !buf.is_empty() && (ticked || !open || buf.len() >= FLUSH_BYTES) {
            let text = if open {
                take_text(&mut buf)
            } else {
                String::from_utf8_lossy(&std::mem::take(&mut buf)).into_owned()
            };
            if !text.is_empty() {
                seq += 1;
                written += text.len();
                if let Err(e) = store::add_chunk(&db, &id, seq, now, &text).await {
                    tracing::warn!(run = %id, error = %e, "live output not written");
                }
            }
        }
        if now - last_beat >= BEAT_MS {
            last_beat = now;
            if let Err(e) = store::beat(&db, &id, now).await {
                tracing::warn!(run = %id, error = %e, "the run's heartbeat was not written");
            }
        }
        if !open {
            break;
        }
    }
}

fn state_of(o: &Outcome) -> &'static str {
    match o.status {
        Finished::Exited => "succeeded",
        Finished::Failed => "failed",
        Finished::TimedOut => "timed_out",
        Finished::CouldNotStart(_) => "could_not_start",
    }
}

async fn finish(db: &Db, run: &RunRow, o: &Outcome) -> Result<(), sqlx::Error> {
    let state = state_of(o);
    let mut output = String::from_utf8_lossy(&o.output).into_owned();
    if let Finished::CouldNotStart(why) = &o.status {
        output = format!("could not start: {why}");
    }
    if let Finished::TimedOut = o.status {
        output.push_str(&format!(
            "\n[timed out after {} s: the process group was killed]",
            o.elapsed.as_secs()
        ));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    let done = store::finish(
        &mut tx,
        &run.id,
        &Finish {
            state,
            exit_code: o.exit_code.map(i64::from),
            output: &output,
            total_bytes: i64::try_from(o.total_bytes).unwrap_or(i64::MAX),
            truncated: o.truncated,
            now,
        },
    )
    .await?;
    if done {
        let code = o
            .exit_code
            .map(|c| format!(" (exit {c})"))
            .unwrap_or_default();
        let what = format!("{} {state}{code}", describe(run));
        let summary = format!("{} {state}{code}", run.action);
        record(
            &mut tx,
            db.backend(),
            run,
            &Actor::system(),
            &what,
            "ops.run.finish",
            summary,
            now,
        )
        .await?;
    } else {
        tracing::warn!(run = %run.id, state, "a run ended after it was marked ended (interrupted?); its result is not recorded");
    }
    tx.commit().await
}

/// `restart-app app=web` (what a timeline line calls a run).
pub fn describe(run: &RunRow) -> String {
    let params: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.params).unwrap_or_default();
    let mut s = run.action.clone();
    for (k, v) in params {
        s.push_str(&format!(" {k}={}", v.as_str().unwrap_or_default()));
    }
    if run.undo_of.is_some() {
        s.push_str(" (undo)");
    }
    s
}

/// A step of a run: `what` on its timelines ([`timeline`]) and `action` with `summary` in the
/// audit log, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    tx: &mut Tx,
    backend: opsdesk_core::db::Backend,
    run: &RunRow,
    actor: &Actor,
    what: &str,
    action: &str,
    summary: String,
    now: i64,
) -> Result<(), sqlx::Error> {
    timeline(tx, run, actor, what, now).await?;
    audit::store::append(
        tx,
        backend,
        actor.entry(action, format!("run:{}", run.id), summary),
    )
    .await?;
    Ok(())
}

/// Puts a line about the run on its ticket's and incident's timelines.
pub async fn timeline(
    tx: &mut Tx,
    run: &RunRow,
    actor: &Actor,
    what: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let line = format!("Ops action: {what}");
    if let Some(t) = &run.ticket_id {
        opsdesk_desk::tickets::store::insert_event(tx, t, &actor.label, "ops", &line, now).await?;
    }
    if let Some(i) = &run.incident_id {
        crate::incidents::service::event(
            tx,
            i,
            actor,
            "action",
            false,
            &line,
            &format!("run:{}", run.id),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Marks runs whose server died as interrupted (keeping the output streamed so far), and
/// approvals that ran out as expired.
pub async fn sweep(db: &Db) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for run in store::lapsed(db, now).await? {
        let mut tx = db.begin().await?;
        if store::expire(&mut tx, &run.id, now).await? {
            let what = format!("{} not run: its approval expired", describe(&run));
            record(
                &mut tx,
                db.backend(),
                &run,
                &Actor::system(),
                &what,
                "ops.run.expired",
                run.action.clone(),
                now,
            )
            .await?;
        }
        tx.commit().await?;
    }
    for run in store::orphans(db, now - STALE_MS).await? {
        let mut output = live_output(db, &run.id).await?;
        output.push_str("\n[interrupted: the server running this action stopped before it ended]");
        let mut tx = db.begin().await?;
        if store::interrupt(&mut tx, &run.id, &output, now).await? {
            let what = format!("{} interrupted (its server stopped)", describe(&run));
            record(
                &mut tx,
                db.backend(),
                &run,
                &Actor::system(),
                &what,
                "ops.run.interrupted",
                run.action.clone(),
                now,
            )
            .await?;
        }
        tx.commit().await?;
    }
    store::prune_chunks(db, now - 3_600_000).await?;
    Ok(())
}
