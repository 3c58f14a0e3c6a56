//! Deadlines from a ticket's clocks and the targets it is served under (pure): when each running
//! target is due, the earliest of them, and the next warning or breach still to announce.

use crate::clock::{Clock, TicketClocks};
use crate::hours::BusinessHours;

/// Targets in business milliseconds; `None` is best effort.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetsMs {
    pub first_response: Option<i64>,
    pub next_response: Option<i64>,
    pub resolution: Option<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    pub first_response: Option<i64>,
    pub next_response: Option<i64>,
    pub resolution: Option<i64>,
    /// The earliest of the running deadlines.
    pub due_at: Option<i64>,
    /// The earliest warning or breach not yet announced.
    pub timer_at: Option<i64>,
}

/// A clock's deadline and the next announcement it needs (warning at `warn_percent` of the
/// target, breach just after the deadline), if it is running under a target.
fn one(
    clock: &Clock,
    target: Option<i64>,
    warn_percent: i64,
    hours: &BusinessHours,
) -> (Option<i64>, Option<i64>) {
    let Some(target) = target else {
        return (None, None);
    };
    let due = clock.due(target, hours);
    let warn = (!clock.warned)
        .then(|| clock.reaches(target, warn_percent as f64 / 100.0, hours))
        .flatten();
    let breach = (!clock.breached).then(|| due.map(|d| d + 1)).flatten();
    (due, min(warn, breach))
}

fn min(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

pub fn deadlines(
    c: &TicketClocks,
    targets: &TargetsMs,
    warn_percent: i64,
    hours: &BusinessHours,
) -> Deadlines {
    let (first, t1) = one(
        &c.first_response,
        targets.first_response,
        warn_percent,
        hours,
    );
    let (next, t2) = one(&c.next_response, targets.next_response, warn_percent, hours);
    let (resolution, t3) = one(&c.resolution, targets.resolution, warn_percent, hours);
    Deadlines {
        first_response: first,
        next_response: next,
        resolution,
        due_at: min(min(first, next), resolution),
        timer_at: min(min(t1, t2), t3),
    }
}

/// Which target an announcement is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::FirstResponse => "first response",
            Target::NextResponse => "next response",
            Target::Resolution => "resolution",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Warning,
    Breach,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Breach => "breach",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub target: Target,
    pub level: Level,
}

/// The warnings and breaches due by `now`, marked as made on the clocks so each is announced
/// once per cycle (a breach found first also uses up its warning). Nothing is announced while
/// the calendar is closed — no escalation mail at midnight or on weekends: what fell due then is
/// announced when it opens (a 24/7 calendar is always open).
pub fn take_due(
    c: &mut TicketClocks,
    targets: &TargetsMs,
    warn_percent: i64,
    hours: &BusinessHours,
    now: i64,
) -> Vec<Announcement> {
    if !hours.is_open(now) {
        return Vec::new();
    }
    mark_due(c, targets, warn_percent, hours, now)
}

/// The warnings and breaches due by `now`, marked as made, whether or not the calendar is open
/// (for history loaded in bulk; announcements go through [`take_due`]).
pub fn mark_due(
    c: &mut TicketClocks,
    targets: &TargetsMs,
    warn_percent: i64,
    hours: &BusinessHours,
    now: i64,
) -> Vec<Announcement> {
    let mut out = Vec::new();
    for (target, clock, limit) in [
        (
            Target::FirstResponse,
            &mut c.first_response,
            targets.first_response,
        ),
        (
            Target::NextResponse,
            &mut c.next_response,
            targets.next_response,
        ),
        (Target::Resolution, &mut c.resolution, targets.resolution),
    ] {
        let Some(limit) = limit else { continue };
        if !clock.is_active() {
            continue;
        }
        let elapsed = clock.elapsed_at(now, hours);
        if clock.is_breached(limit, now, hours) && !clock.breached {
            clock.breached = true;
            clock.warned = true;
            out.push(Announcement {
                target,
                level: Level::Breach,
            });
        } else if !clock.warned && elapsed * 100 >= limit * warn_percent {
            clock.warned = true;
            out.push(Announcement {
                target,
                level: Level::Warning,
            });
        }
    }
    out
}

/// Serves a ticket under new targets (its priority changed, or a changed policy is applied to
/// open tickets), with its clocks already settled up to `now`: the time counted stays, each
/// deadline moves with its target, and an announcement already made stands only while it is
/// still true under the new target — a tighter target can warn or breach anew, a looser one
/// does not repeat what was said.
pub fn retarget(
    c: &mut TicketClocks,
    new: &TargetsMs,
    warn_percent: i64,
    hours: &BusinessHours,
    now: i64,
) {
    for (clock, limit) in [
        (&mut c.first_response, new.first_response),
        (&mut c.next_response, new.next_response),
        (&mut c.resolution, new.resolution),
    ] {
        let Some(limit) = limit else {
            // Best effort: nothing to announce.
            (clock.warned, clock.breached) = (false, false);
            continue;
        };
        let elapsed = clock.elapsed_at(now, hours);
        clock.warned &= elapsed * 100 >= limit * warn_percent;
        clock.breached &= clock.is_breached(limit, now, hours);
    }
}

/// Moves a ticket to a new policy at `now`: business time counted so far under the `old`
/// calendar stays, the clocks count on under `new`, and the deadlines follow the new targets.
pub fn rebase(
    c: &mut TicketClocks,
    old: &BusinessHours,
    new: &BusinessHours,
    targets: &TargetsMs,
    warn_percent: i64,
    now: i64,
) -> Deadlines {
    c.settle(now, old);
    retarget(c, targets, warn_percent, new, now);
    deadlines(c, targets, warn_percent, new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Event;

    #[test]
    fn running_targets_give_deadlines_warnings_and_breaches() {
        let h = BusinessHours::always();
        let mut c = TicketClocks::default();
        c.apply(Event::Opened(0), &h);
        let t = TargetsMs {
            first_response: Some(1_000),
            next_response: Some(5_000),
            resolution: None,
        };
        let d = deadlines(&c, &t, 75, &h);
        assert_eq!(d.first_response, Some(1_000));
        assert_eq!((d.next_response, d.resolution), (None, None));
        assert_eq!((d.due_at, d.timer_at), (Some(1_000), Some(750)));
        // Warned: the breach is next; breached too: nothing left to announce.
        c.first_response.warned = true;
        assert_eq!(deadlines(&c, &t, 75, &h).timer_at, Some(1_001));
        c.first_response.breached = true;
        assert_eq!(deadlines(&c, &t, 75, &h).timer_at, None);
        // A paused ticket has no running deadline.
        c.apply(Event::Paused(500), &h);
        assert_eq!(deadlines(&c, &t, 75, &h), Deadlines::default());
    }

    #[test]
    fn a_new_target_keeps_the_time_counted_and_only_true_announcements() {
        let h = BusinessHours::always();
        let mut c = TicketClocks::default();
        c.apply(Event::Opened(0), &h);
        let normal = TargetsMs {
            first_response: Some(1_000),
            next_response: None,
            resolution: Some(4_000),
        };
        assert_eq!(take_due(&mut c, &normal, 75, &h, 800).len(), 1, "warned");
        // Raised to urgent at 800: first response now due at 500, so it is breached (the
        // warning stands); resolution 2,000 warns at 1,500.
        let urgent = TargetsMs {
            first_response: Some(500),
            next_response: None,
            resolution: Some(2_000),
        };
        retarget(&mut c, &urgent, 75, &h, 800);
        let d = deadlines(&c, &urgent, 75, &h);
        assert_eq!((d.first_response, d.resolution), (Some(500), Some(2_000)));
        assert_eq!(d.timer_at, Some(501), "the breach is due at once");
        let got = take_due(&mut c, &urgent, 75, &h, 801);
        assert_eq!(
            got,
            vec![Announcement {
                target: Target::FirstResponse,
                level: Level::Breach
            }]
        );
        // Lowered again: the breach is no longer true, so it is withdrawn and announced again
        // only if the looser target is missed too; the warning (800 of 1,000) stands.
        retarget(&mut c, &normal, 75, &h, 900);
        assert!(c.first_response.warned && !c.first_response.breached);
        assert_eq!(deadlines(&c, &normal, 75, &h).timer_at, Some(1_001));
        // Best effort: nothing left to announce for that target.
        let loose = TargetsMs {
            first_response: None,
            ..normal
        };
        retarget(&mut c, &loose, 75, &h, 900);
        assert_eq!(deadlines(&c, &loose, 75, &h).timer_at, Some(3_000));
    }

    #[test]
    fn warnings_and_breaches_are_announced_once_each() {
        let h = BusinessHours::always();
        let mut c = TicketClocks::default();
        c.apply(Event::Opened(0), &h);
        let t = TargetsMs {
            first_response: Some(1_000),
            next_response: None,
            resolution: Some(10_000),
        };
        assert!(take_due(&mut c, &t, 75, &h, 700).is_empty());
        let warn = Announcement {
            target: Target::FirstResponse,
            level: Level::Warning,
        };
        assert_eq!(take_due(&mut c, &t, 75, &h, 750), vec![warn]);
        assert!(take_due(&mut c, &t, 75, &h, 900).is_empty(), "never twice");
        let breach = Announcement {
            target: Target::FirstResponse,
            level: Level::Breach,
        };
        assert_eq!(take_due(&mut c, &t, 75, &h, 1_001), vec![breach]);
        assert!(take_due(&mut c, &t, 75, &h, 5_000).is_empty());
        // A sweep that comes late announces the breach alone, not a stale warning first.
        let mut late = TicketClocks::default();
        late.apply(Event::Opened(0), &h);
        let got = take_due(&mut late, &t, 75, &h, 20_000);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|a| a.level == Level::Breach));
        // Met targets announce nothing.
        let mut met = TicketClocks::default();
        met.apply(Event::Opened(0), &h);
        met.apply(Event::PublicReply(100), &h);
        assert!(take_due(&mut met, &t, 75, &h, 1_500).is_empty());
    }
}
