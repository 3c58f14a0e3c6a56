//! The SLA clock through whole ticket lives on an office calendar: pauses while waiting on the
//! customer, restarts on any customer message, response targets that never override each other,
//! resolution time across a reopen; and properties over random event sequences.

use jiff::civil::date;
use jiff::tz::TimeZone;
use proptest::prelude::*;

use crate::clock::{Event, TicketClocks};
use crate::deadlines::{Level, TargetsMs, deadlines, take_due};
use crate::hours::{BusinessHours, HoursSpec, OpenSpan};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const TZ: &str = "Europe/Berlin";

fn office() -> BusinessHours {
    let hours = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| OpenSpan {
            day: (*d).into(),
            from: "09:00".into(),
            to: "17:00".into(),
        })
        .collect();
    let spec = HoursSpec {
        time_zone: TZ.into(),
        hours,
        holidays: Vec::new(),
    };
    BusinessHours::parse(&spec, date(2026, 1, 1)).unwrap_or_else(|e| panic!("{e}"))
}

/// A Berlin wall-clock time in the week of Monday 2026-03-02.
fn at(day: i8, h: i8, m: i8) -> i64 {
    let tz = TimeZone::get(TZ).unwrap_or_else(|e| panic!("{e}"));
    date(2026, 3, day)
        .at(h, m, 0, 0)
        .to_zoned(tz)
        .unwrap_or_else(|e| panic!("{e}"))
        .timestamp()
        .as_millisecond()
}

fn run(events: &[Event], hours: &BusinessHours) -> TicketClocks {
    let mut c = TicketClocks::default();
    for e in events {
        c.apply(*e, hours);
    }
    c
}

#[test]
fn announcements_wait_for_business_hours_and_a_deadline_at_closing_is_missed_that_evening() {
    let h = office();
    let targets = TargetsMs {
        first_response: Some(2 * HOUR),
        next_response: None,
        resolution: Some(HOUR),
    };
    // Friday 15:00 filed: resolution due at 16:00, first response at closing time (17:00).
    let mut c = run(&[Event::Opened(at(6, 15, 0))], &h);
    let d = deadlines(&c, &targets, 75, &h);
    assert_eq!(d.first_response, Some(at(6, 17, 0)));
    assert_eq!(d.timer_at, Some(at(6, 15, 45)), "the resolution warning");
    let levels = |v: Vec<crate::deadlines::Announcement>| -> Vec<Level> {
        v.iter().map(|a| a.level).collect()
    };
    assert_eq!(
        levels(take_due(&mut c, &targets, 75, &h, at(6, 15, 44))),
        vec![]
    );
    assert_eq!(
        levels(take_due(&mut c, &targets, 75, &h, at(6, 16, 30))),
        vec![Level::Warning, Level::Breach],
        "first response warned at 16:30, resolution missed at 16:00"
    );
    // The first-response deadline passed at closing: breached from Friday 17:00 on, but no one
    // is paged on Friday evening or over the weekend; the breach is announced Monday at 09:00,
    // once.
    assert_eq!(
        d.first_response.map(|t| t + 1),
        deadlines(&c, &targets, 75, &h).timer_at
    );
    assert!(c.first_response.is_breached(2 * HOUR, at(6, 17, 1), &h));
    assert!(!c.first_response.is_breached(2 * HOUR, at(6, 16, 59), &h));
    assert!(take_due(&mut c, &targets, 75, &h, at(6, 19, 0)).is_empty());
    assert!(take_due(&mut c, &targets, 75, &h, at(8, 12, 0)).is_empty());
    assert_eq!(
        levels(take_due(&mut c, &targets, 75, &h, at(9, 9, 0))),
        vec![Level::Breach]
    );
    assert!(take_due(&mut c, &targets, 75, &h, at(9, 10, 0)).is_empty());
    assert_eq!(deadlines(&c, &targets, 75, &h).timer_at, None);

    // Filed on Saturday: nothing is due over the weekend; the first warning comes Monday 09:45.
    let mut weekend = run(&[Event::Opened(at(7, 11, 0))], &h);
    assert!(take_due(&mut weekend, &targets, 75, &h, at(8, 23, 0)).is_empty());
    let d = deadlines(&weekend, &targets, 75, &h);
    assert_eq!(
        (d.first_response, d.timer_at),
        (Some(at(9, 11, 0)), Some(at(9, 9, 45)))
    );
}

#[test]
fn a_whole_ticket_life_counts_only_business_time_outside_waiting() {
    let h = office();
    // Monday 16:00 filed; Monday 16:30 the agent asks a question (first response met after 30
    // minutes) and sets waiting on customer; the customer answers Tuesday 08:00 (before opening);
    // the agent replies Tuesday 11:00; resolved Tuesday 12:00.
    let mut c = TicketClocks::default();
    c.apply(Event::Opened(at(2, 16, 0)), &h);
    assert_eq!(c.first_response.due(4 * HOUR, &h), Some(at(3, 12, 0)));
    c.apply(Event::PublicReply(at(2, 16, 30)), &h);
    assert_eq!(c.first_response.elapsed_ms, 30 * MIN);
    assert_eq!(c.first_response.stopped_at, Some(at(2, 16, 30)));
    assert!(!c.first_response.is_breached(HOUR, at(5, 9, 0), &h));
    c.apply(Event::Paused(at(2, 16, 30)), &h);
    assert!(c.paused && !c.resolution.is_running());
    // Paused: nothing is due, nothing counts overnight.
    assert_eq!(c.resolution.due(8 * HOUR, &h), None);
    assert_eq!(c.resolution.elapsed_at(at(3, 8, 0), &h), 30 * MIN);
    // The customer's answer restarts the clock without any state change, and opens a
    // next-response cycle.
    c.apply(Event::CustomerMessage(at(3, 8, 0)), &h);
    assert!(!c.paused && c.resolution.is_running());
    assert_eq!(c.next_response.started_at, Some(at(3, 8, 0)));
    assert_eq!(c.next_response.due(2 * HOUR, &h), Some(at(3, 11, 0)));
    assert_eq!(
        c.next_response.reaches(2 * HOUR, 0.75, &h),
        Some(at(3, 10, 30))
    );
    c.apply(Event::PublicReply(at(3, 11, 0)), &h);
    assert_eq!(c.next_response.elapsed_ms, 2 * HOUR);
    assert!(!c.next_response.is_breached(2 * HOUR, at(3, 11, 0), &h));
    c.apply(Event::Resolved(at(3, 12, 0)), &h);
    // Resolution: Monday 16:00–16:30 and Tuesday 09:00–12:00.
    assert_eq!(c.resolution.elapsed_ms, 3 * HOUR + 30 * MIN);
    assert_eq!(c.resolution.due(8 * HOUR, &h), None);
}

#[test]
fn a_second_message_before_the_first_answer_stays_under_the_first_response_target() {
    let h = office();
    let c = run(
        &[
            Event::Opened(at(2, 9, 0)),
            Event::CustomerMessage(at(2, 10, 0)),
            Event::CustomerMessage(at(2, 11, 0)),
        ],
        &h,
    );
    assert!(c.first_response.is_running());
    assert_eq!(c.next_response.started_at, None);
    assert_eq!(c.first_response.due(4 * HOUR, &h), Some(at(2, 13, 0)));
    // Breached at 13:00 + 1 ms, not before.
    assert!(!c.first_response.is_breached(4 * HOUR, at(2, 13, 0), &h));
    assert!(c.first_response.is_breached(4 * HOUR, at(2, 13, 0) + 1, &h));
    // The answer meets the first-response target; the next message starts a new cycle.
    let mut c = c;
    c.apply(Event::PublicReply(at(2, 12, 0)), &h);
    assert!(!c.next_response.is_active());
    c.apply(Event::CustomerMessage(at(2, 14, 0)), &h);
    assert_eq!(c.next_response.started_at, Some(at(2, 14, 0)));
    // Two customer messages in a row keep the cycle's start at the first.
    c.apply(Event::CustomerMessage(at(2, 15, 0)), &h);
    assert_eq!(c.next_response.started_at, Some(at(2, 14, 0)));
}

#[test]
fn an_agent_resuming_work_restarts_the_clock_and_resolution_spans_reopens() {
    let h = office();
    let mut c = run(
        &[
            Event::Opened(at(2, 9, 0)),
            Event::PublicReply(at(2, 10, 0)),
            Event::Paused(at(2, 10, 0)),
            Event::Resumed(at(2, 14, 0)),
            Event::Resolved(at(2, 15, 0)),
        ],
        &h,
    );
    assert_eq!(c.resolution.elapsed_ms, 2 * HOUR);
    // Reopened on Wednesday 09:00 by the customer's reply: resolution time continues.
    c.apply(Event::CustomerMessage(at(4, 9, 0)), &h);
    assert!(c.resolution.is_running());
    assert_eq!(c.resolution.elapsed_at(at(4, 10, 0), &h), 3 * HOUR);
    assert_eq!(c.resolution.due(4 * HOUR, &h), Some(at(4, 11, 0)));
    // A reopen by an agent (no message) continues it the same way.
    c.apply(Event::Resolved(at(4, 10, 0)), &h);
    c.apply(Event::Reopened(at(5, 9, 0)), &h);
    assert_eq!(
        c.resolution.elapsed_at(at(5, 9, 30), &h),
        3 * HOUR + 30 * MIN
    );
}

#[test]
fn a_target_already_passed_while_paused_is_due_the_moment_it_resumes() {
    let h = office();
    let mut c = run(
        &[
            Event::Opened(at(2, 9, 0)),
            Event::PublicReply(at(2, 9, 30)),
            Event::Paused(at(2, 17, 0)),
        ],
        &h,
    );
    assert!(c.resolution.is_breached(4 * HOUR, at(3, 9, 0), &h));
    c.apply(Event::Resumed(at(3, 10, 0)), &h);
    assert_eq!(c.resolution.due(4 * HOUR, &h), Some(at(3, 10, 0)));
}

fn events() -> impl Strategy<Value = Vec<(u8, i64)>> {
    proptest::collection::vec((0u8..6, 0i64..(48 * HOUR)), 0..25)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn clocks_never_count_more_than_business_time_and_never_run_backwards(
        steps in events(),
        later in 0i64..(72 * HOUR),
    ) {
        let h = office();
        let start = at(2, 8, 0);
        let mut c = TicketClocks::default();
        c.apply(Event::Opened(start), &h);
        let mut t = start;
        for (kind, gap) in steps {
            t += gap;
            let e = match kind {
                0 => Event::CustomerMessage(t),
                1 => Event::PublicReply(t),
                2 => Event::Paused(t),
                3 => Event::Resumed(t),
                4 => Event::Resolved(t),
                _ => Event::Reopened(t),
            };
            let before = c.resolution.elapsed_at(t, &h);
            c.apply(e, &h);
            prop_assert_eq!(c.resolution.elapsed_at(t, &h), before, "an event never changes time already counted");
        }
        let now = t + later;
        for clock in [c.first_response, c.next_response, c.resolution] {
            if let Some(started) = clock.started_at {
                prop_assert!(clock.elapsed_at(now, &h) <= h.between(started, now));
                prop_assert!(clock.elapsed_at(now, &h) <= clock.elapsed_at(now + HOUR, &h));
            }
            if clock.is_running() {
                prop_assert!(!c.paused);
                let due = clock.due(8 * HOUR, &h);
                prop_assert!(due.is_some());
            } else {
                prop_assert_eq!(clock.due(8 * HOUR, &h), None);
                prop_assert_eq!(clock.elapsed_at(now, &h), clock.elapsed_at(now + HOUR, &h));
            }
        }
    }
}

#[test]
fn stored_clocks_are_compact_and_the_long_names_still_read() {
    let h = office();
    let c = run(
        &[
            Event::Opened(at(2, 10, 0)),
            Event::PublicReply(at(2, 10, 30)),
        ],
        &h,
    );
    let json = serde_json::to_string(&c).unwrap_or_default();
    assert!(json.len() < 140, "{json}");
    assert_eq!(serde_json::from_str::<TicketClocks>(&json).ok(), Some(c));
    let long = r#"{"first_response":{"started_at":5,"running_since":null,"elapsed_ms":7,"stopped_at":9,"warned":true,"breached":false},"next_response":{"started_at":null,"running_since":null,"elapsed_ms":0,"stopped_at":null,"warned":false,"breached":false},"resolution":{"started_at":5,"running_since":9,"elapsed_ms":4,"stopped_at":null,"warned":false,"breached":false},"paused":false}"#;
    let old: TicketClocks = serde_json::from_str(long).unwrap_or_default();
    assert_eq!(
        (
            old.first_response.elapsed_ms,
            old.first_response.stopped_at,
            old.first_response.warned
        ),
        (7, Some(9), true)
    );
    assert_eq!(old.resolution.running_since, Some(9));
}
