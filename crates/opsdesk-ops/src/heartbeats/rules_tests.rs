//! The heartbeat rules, walked through a check's life with a hand-moved clock.

use super::*;
use crate::heartbeats::model::{CronSchedule, Keywords};
use proptest::prelude::*;

const MIN: i64 = 60_000;

fn simple(period_min: i64, grace_min: i64) -> Spec {
    Spec {
        period: Period::Every(period_min * MIN),
        grace_ms: grace_min * MIN,
        post_only: false,
        manual_resume: false,
        keywords: None,
    }
}

fn ping(action: Action) -> Ping<'static> {
    Ping {
        action,
        post: false,
        rid: None,
        body: b"",
    }
}

#[test]
fn a_new_check_goes_up_then_grace_then_down() {
    let spec = simple(60, 10);
    let mut s = State::new();
    assert_eq!(shown(&spec, &s, 0), Shown::New);
    assert_eq!(going_down_after(&spec, &s), None);
    let a = apply(&spec, &mut s, &ping(Action::Success), 1_000);
    assert_eq!(a.n, 1);
    let flip = a.flip.unwrap_or_else(|| panic!("no flip"));
    assert_eq!((flip.old, flip.new), (Status::New, Status::Up));
    assert!(!flip.notifies(), "a first success is not news");
    assert_eq!(shown(&spec, &s, 1_000 + 59 * MIN), Shown::Up);
    assert_eq!(shown(&spec, &s, 1_000 + 61 * MIN), Shown::Grace);
    assert_eq!(going_down_after(&spec, &s), Some(1_000 + 70 * MIN));
    assert_eq!(go_down_if_due(&spec, &mut s, 1_000 + 69 * MIN), None);
    let down = go_down_if_due(&spec, &mut s, 1_000 + 70 * MIN).unwrap_or_else(|| panic!("due"));
    assert_eq!(
        (down.old, down.new, down.reason),
        (Status::Up, Status::Down, "timeout")
    );
    assert!(down.notifies());
    assert_eq!(going_down_after(&spec, &s), None);
    // Recovery is news.
    let up = apply(&spec, &mut s, &ping(Action::Success), 2 * 60 * MIN);
    assert!(up.flip.is_some_and(|f| f.notifies() && f.new == Status::Up));
}

#[test]
fn failures_and_exit_statuses_go_down_at_once() {
    let spec = simple(60, 10);
    let mut s = State::new();
    apply(&spec, &mut s, &ping(Action::Success), 0);
    let a = apply(&spec, &mut s, &ping(Action::Fail), MIN);
    assert_eq!(a.flip.map(|f| f.new), Some(Status::Down));
    assert_eq!(shown(&spec, &s, MIN), Shown::Down);
    // A second failure is not another flip.
    assert_eq!(
        apply(&spec, &mut s, &ping(Action::Fail), 2 * MIN).flip,
        None
    );
}

#[test]
fn a_start_opens_a_run_its_end_measures() {
    let spec = simple(60, 10);
    let mut s = State::new();
    apply(&spec, &mut s, &ping(Action::Success), 0);
    let rid_a = "0b4e1a4e-0000-4000-8000-00000000000a";
    let rid_b = "0b4e1a4e-0000-4000-8000-00000000000b";
    let start = |rid| Ping {
        action: Action::Start,
        rid: Some(rid),
        ..ping(Action::Start)
    };
    let done = |rid| Ping {
        action: Action::Success,
        rid: Some(rid),
        ..ping(Action::Success)
    };
    apply(&spec, &mut s, &start(rid_a), 10 * MIN);
    assert_eq!(shown(&spec, &s, 12 * MIN), Shown::Started);
    assert_eq!(
        going_down_after(&spec, &s),
        Some(20 * MIN),
        "a run must end within grace"
    );
    let a = apply(&spec, &mut s, &done(rid_a), 13 * MIN);
    assert_eq!(a.duration_ms, Some(3 * MIN));
    // Overlapping runs: each end is paired with its own start by the run id.
    apply(&spec, &mut s, &start(rid_a), 20 * MIN);
    apply(&spec, &mut s, &start(rid_b), 21 * MIN);
    let a = apply(&spec, &mut s, &done(rid_a), 23 * MIN);
    assert_eq!(a.duration_ms, Some(3 * MIN));
    assert_eq!(
        shown(&spec, &s, 23 * MIN),
        Shown::Started,
        "b is still running"
    );
    let b = apply(&spec, &mut s, &done(rid_b), 25 * MIN);
    assert_eq!(b.duration_ms, Some(4 * MIN));
    assert_eq!(shown(&spec, &s, 25 * MIN), Shown::Up);
    // A success without a start measures nothing.
    assert_eq!(
        apply(&spec, &mut s, &ping(Action::Success), 26 * MIN).duration_ms,
        None
    );
}

#[test]
fn a_killed_run_does_not_keep_the_check_down() {
    let spec = simple(60, 10);
    let mut s = State::new();
    apply(&spec, &mut s, &ping(Action::Success), 0);
    // The job starts and is killed: down after grace.
    apply(&spec, &mut s, &ping(Action::Start), 60 * MIN);
    assert!(go_down_if_due(&spec, &mut s, 70 * MIN).is_some());
    // The next run starts and ends: up, and not due again before its next period.
    apply(&spec, &mut s, &ping(Action::Start), 120 * MIN);
    let up = apply(&spec, &mut s, &ping(Action::Success), 125 * MIN);
    assert_eq!(up.flip.map(|f| f.new), Some(Status::Up));
    assert_eq!(going_down_after(&spec, &s), Some(125 * MIN + 70 * MIN));
    // With run ids too: a killed run's id never ends, the next one does.
    let mut s = State::new();
    let killed = Ping {
        rid: Some("0b4e1a4e-0000-4000-8000-00000000000c"),
        ..ping(Action::Start)
    };
    apply(&spec, &mut s, &killed, 0);
    let next = Ping {
        rid: Some("0b4e1a4e-0000-4000-8000-00000000000d"),
        ..ping(Action::Start)
    };
    apply(&spec, &mut s, &next, 5 * MIN);
    let end = Ping {
        action: Action::Success,
        ..next
    };
    apply(&spec, &mut s, &end, 6 * MIN);
    assert!(
        s.runs.is_empty(),
        "the killed run is dropped with the one that ended after it"
    );
    assert_eq!(going_down_after(&spec, &s), Some(6 * MIN + 70 * MIN));
}

#[test]
fn a_run_that_never_ends_is_down_after_grace() {
    let spec = simple(60, 10);
    let mut s = State::new();
    apply(&spec, &mut s, &ping(Action::Start), 0);
    assert_eq!(shown(&spec, &s, 9 * MIN), Shown::Started);
    assert_eq!(going_down_after(&spec, &s), Some(10 * MIN));
    let f = go_down_if_due(&spec, &mut s, 10 * MIN).unwrap_or_else(|| panic!("due"));
    assert_eq!((f.old, f.new), (Status::New, Status::Down));
}

#[test]
fn logs_and_ignored_pings_change_nothing_but_the_count() {
    let spec = Spec {
        post_only: true,
        ..simple(60, 10)
    };
    let mut s = State::new();
    let a = apply(&spec, &mut s, &ping(Action::Success), 0);
    assert_eq!((a.kind, a.flip, s.status), (Action::Ign, None, Status::New));
    let post = Ping {
        post: true,
        ..ping(Action::Log)
    };
    let a = apply(&spec, &mut s, &post, 0);
    assert_eq!((a.kind, a.n, s.status), (Action::Log, 2, Status::New));
}

#[test]
fn keywords_decide_what_a_success_means() {
    let spec = Spec {
        keywords: Some(Keywords::parse("", "SUCCESS", "ERROR")),
        ..simple(60, 10)
    };
    let mut s = State::new();
    let body = |b: &'static [u8]| Ping {
        body: b,
        ..ping(Action::Success)
    };
    assert_eq!(
        apply(&spec, &mut s, &body(b"ERROR: disk full"), 0).kind,
        Action::Fail
    );
    assert_eq!(
        apply(&spec, &mut s, &body(b"SUCCESS"), 0).kind,
        Action::Success
    );
    assert_eq!(apply(&spec, &mut s, &body(b"hello"), 0).kind, Action::Ign);
    assert_eq!(s.status, Status::Up);
}

#[test]
fn pause_and_manual_resume() {
    let mut spec = simple(60, 10);
    let mut s = State::new();
    apply(&spec, &mut s, &ping(Action::Success), 0);
    assert!(pause(&mut s).is_some_and(|f| !f.notifies()));
    assert_eq!(going_down_after(&spec, &s), None);
    assert_eq!(shown(&spec, &s, 1000 * MIN), Shown::Paused);
    // A ping resumes a paused check...
    let a = apply(&spec, &mut s, &ping(Action::Success), MIN);
    assert!(
        a.flip
            .is_some_and(|f| f.old == Status::Paused && !f.notifies())
    );
    // ...unless it waits for a person.
    spec.manual_resume = true;
    pause(&mut s);
    let a = apply(&spec, &mut s, &ping(Action::Success), 2 * MIN);
    assert_eq!((a.kind, s.status), (Action::Ign, Status::Paused));
    assert!(resume(&mut s).is_some());
    assert_eq!((s.status, s.last_ping), (Status::New, None));
    assert_eq!(resume(&mut s), None, "only a paused check resumes");
}

#[test]
fn cron_checks_expect_the_next_fire_time() {
    let cron = CronSchedule::cached("0 * * * *", "UTC").unwrap_or_else(|e| panic!("{e}"));
    let spec = Spec {
        period: Period::Cron(cron),
        ..simple(60, 5)
    };
    let mut s = State::new();
    // A ping at 10:02 (the 10:00 run, a little late): next expected 11:00, down at 11:05.
    let ten_oh_two = 1_767_261_720_000; // 2026-01-01T10:02:00Z
    apply(&spec, &mut s, &ping(Action::Success), ten_oh_two);
    assert_eq!(grace_start(&spec, &s, true), Some(ten_oh_two + 58 * MIN));
    assert_eq!(going_down_after(&spec, &s), Some(ten_oh_two + 63 * MIN));
}

#[test]
fn runs_survive_storage() {
    let runs = vec![
        Run {
            started: 5,
            rid: None,
        },
        Run {
            started: 7,
            rid: Some("0b4e1a4e-0000-4000-8000-00000000000a".into()),
        },
    ];
    assert_eq!(decode_runs(&encode_runs(&runs)), runs);
    assert!(decode_runs("").is_empty());
    assert!(decode_runs("garbage,,1:").len() == 1);
}

proptest! {
    /// Whatever the pings, the count goes up by one each, a run never outlives its limit, and
    /// a check that is up is never shown down before its deadline.
    #[test]
    fn pings_keep_the_invariants(actions in proptest::collection::vec(0u8..5, 1..60), gaps in proptest::collection::vec(0i64..90, 60)) {
        let spec = simple(60, 10);
        let mut s = State::new();
        let mut now = 0;
        for (i, a) in actions.iter().enumerate() {
            now += gaps[i % gaps.len()] * MIN;
            let action = [Action::Success, Action::Start, Action::Fail, Action::Log, Action::Ign][usize::from(*a)];
            let before = s.n_pings;
            apply(&spec, &mut s, &ping(action), now);
            prop_assert_eq!(s.n_pings, before + 1);
            prop_assert!(s.runs.len() <= MAX_OPEN_RUNS);
            if matches!(action, Action::Success) && s.runs.is_empty() {
                prop_assert!(going_down_after(&spec, &s).is_none_or(|d| d > now), "a success is never overdue at once");
            }
            if let Some(deadline) = going_down_after(&spec, &s) {
                prop_assert!(shown(&spec, &s, deadline - 1) != Shown::Down);
                prop_assert_eq!(shown(&spec, &s, deadline), Shown::Down);
            }
        }
    }
}
