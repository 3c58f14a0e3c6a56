//! The life of a heartbeat check as pure functions over its state, following Healthchecks.io: a
//! ping moves it (success → up, failure → down, start opens a run that its end closes, measuring
//! the duration; `rid` pairs them), time moves it (past its period it is in grace, past grace it
//! is down), and a person pauses and resumes it. A change of stored status is a flip.

use super::model::{Action, Period, Shown, Spec, Status};

/// Runs kept open at once per check; the oldest is forgotten beyond this.
pub const MAX_OPEN_RUNS: usize = 10;

/// A run in progress: its start ping's time and run id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub started: i64,
    pub rid: Option<String>,
}

/// A check's changing state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub status: Status,
    pub last_ping: Option<i64>,
    pub runs: Vec<Run>,
    pub last_duration_ms: Option<i64>,
    pub n_pings: i64,
}

impl State {
    pub fn new() -> State {
        State {
            status: Status::New,
            last_ping: None,
            runs: Vec::new(),
            last_duration_ms: None,
            n_pings: 0,
        }
    }

    /// The start of the newest run still open (as Healthchecks.io's `last_start`).
    pub fn last_start(&self) -> Option<i64> {
        self.runs.iter().map(|r| r.started).max()
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// Open runs as stored: `started:rid` joined by commas (rids are UUIDs, so neither character
/// occurs in them).
pub fn encode_runs(runs: &[Run]) -> String {
    runs.iter()
        .map(|r| format!("{}:{}", r.started, r.rid.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn decode_runs(s: &str) -> Vec<Run> {
    s.split(',')
        .filter_map(|part| {
            let (t, rid) = part.split_once(':')?;
            Some(Run {
                started: t.parse().ok()?,
                rid: (!rid.is_empty()).then(|| rid.to_string()),
            })
        })
        .collect()
}

/// A change of stored status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flip {
    pub old: Status,
    pub new: Status,
    /// `success`, `fail`, `timeout`, `paused`, `resumed`.
    pub reason: &'static str,
}

impl Flip {
    /// Whether the check's channels hear of it: not a first success of a new or paused check,
    /// and not a pause or resume someone did by hand.
    pub fn notifies(&self) -> bool {
        match self.new {
            Status::Up => !matches!(self.old, Status::New | Status::Paused),
            Status::Down => true,
            Status::New | Status::Paused => false,
        }
    }
}

/// One received ping, as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Ping<'a> {
    /// From the URL: success, `/start`, `/fail`, `/log`; an exit status 1–255 is a failure.
    pub action: Action,
    pub post: bool,
    pub rid: Option<&'a str>,
    pub body: &'a [u8],
}

/// What applying a ping did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// What the ping counted as (stored in the log).
    pub kind: Action,
    /// Its number in the check's log.
    pub n: i64,
    /// Time since the start it closed.
    pub duration_ms: Option<i64>,
    pub flip: Option<Flip>,
}

/// What a ping counts as for this check.
pub fn classify(spec: &Spec, status: Status, ping: &Ping<'_>) -> Action {
    if spec.post_only && !ping.post {
        return Action::Ign;
    }
    if status == Status::Paused && spec.manual_resume {
        return Action::Ign;
    }
    match (&spec.keywords, ping.action) {
        (Some(k), Action::Success) => k.classify(ping.body),
        (_, a) => a,
    }
}

/// Applies a ping received at `now`.
pub fn apply(spec: &Spec, state: &mut State, ping: &Ping<'_>, now: i64) -> Applied {
    let kind = classify(spec, state.status, ping);
    let mut duration_ms = None;
    let mut flip = None;
    match kind {
        Action::Start => {
            // A start without a run id replaces the previous one, as Healthchecks.io does.
            if ping.rid.is_none() {
                state.runs.retain(|r| r.rid.is_some());
            }
            state.runs.push(Run {
                started: now,
                rid: ping.rid.map(str::to_string),
            });
            if state.runs.len() > MAX_OPEN_RUNS {
                state.runs.remove(0);
            }
        }
        Action::Success | Action::Fail => {
            state.last_ping = Some(now);
            let rid = ping.rid;
            if let Some(i) = state.runs.iter().rposition(|r| r.rid.as_deref() == rid) {
                let run = state.runs.remove(i);
                duration_ms = Some((now - run.started).max(0));
                // Runs started before the one that ended will not end any more (their job was
                // killed): they would otherwise hold the check in "started" and take it down.
                state.runs.retain(|r| r.started > run.started);
            }
            state.last_duration_ms = duration_ms;
            let new = if kind == Action::Fail {
                Status::Down
            } else {
                Status::Up
            };
            if state.status != new {
                flip = Some(Flip {
                    old: state.status,
                    new,
                    reason: kind.as_str(),
                });
                state.status = new;
            }
        }
        Action::Log | Action::Ign => {}
    }
    state.n_pings += 1;
    Applied {
        kind,
        n: state.n_pings,
        duration_ms,
        flip,
    }
}

/// When the next ping is due: a period after the last one, or the schedule's next time after
/// it; with `with_started`, an open run's start if earlier (a run must end within grace).
pub fn grace_start(spec: &Spec, state: &State, with_started: bool) -> Option<i64> {
    let due = state.last_ping.and_then(|last| match &spec.period {
        Period::Every(ms) => Some(last + ms),
        Period::Cron(c) => c.next_after(last),
    });
    let start = state
        .last_start()
        .filter(|_| with_started && state.status != Status::Down);
    match (due, start) {
        (Some(d), Some(s)) => Some(d.min(s)),
        (d, s) => d.or(s),
    }
}

/// The status shown at `now`.
pub fn shown(spec: &Spec, state: &State, now: i64) -> Shown {
    if let Some(started) = state.last_start() {
        // A run in progress must end within grace of its start, and the job is still due on
        // its own schedule.
        let due = grace_start(spec, state, false).map_or(started, |d| d.min(started));
        return if now >= due + spec.grace_ms {
            Shown::Down
        } else {
            Shown::Started
        };
    }
    match state.status {
        Status::New => return Shown::New,
        Status::Paused => return Shown::Paused,
        Status::Down => return Shown::Down,
        Status::Up => {}
    }
    match grace_start(spec, state, false) {
        Some(g) if now >= g + spec.grace_ms => Shown::Down,
        Some(g) if now >= g => Shown::Grace,
        _ => Shown::Up,
    }
}

/// When the check goes down unless it hears from its job (none while it is down, paused, or
/// new without a run in progress).
pub fn going_down_after(spec: &Spec, state: &State) -> Option<i64> {
    let watched = match state.status {
        Status::Up => true,
        Status::New => state.last_start().is_some(),
        Status::Down | Status::Paused => false,
    };
    if !watched {
        return None;
    }
    grace_start(spec, state, true).map(|g| g + spec.grace_ms)
}

/// The flip to down that is due at `now`, applied to `state`.
pub fn go_down_if_due(spec: &Spec, state: &mut State, now: i64) -> Option<Flip> {
    if !matches!(state.status, Status::Up | Status::New) || shown(spec, state, now) != Shown::Down {
        return None;
    }
    let flip = Flip {
        old: state.status,
        new: Status::Down,
        reason: "timeout",
    };
    state.status = Status::Down;
    // A run that overran is over: the next start begins afresh.
    state.runs.clear();
    Some(flip)
}

/// Pauses monitoring: no alerts until the next ping (or, with manual resume, until resumed).
pub fn pause(state: &mut State) -> Option<Flip> {
    let old = state.status;
    state.status = Status::Paused;
    state.runs.clear();
    (old != Status::Paused).then_some(Flip {
        old,
        new: Status::Paused,
        reason: "paused",
    })
}

/// Resumes a paused check: it is new again and waits for its first ping.
pub fn resume(state: &mut State) -> Option<Flip> {
    if state.status != Status::Paused {
        return None;
    }
    state.status = Status::New;
    state.last_ping = None;
    state.runs.clear();
    Some(Flip {
        old: Status::Paused,
        new: Status::New,
        reason: "resumed",
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
