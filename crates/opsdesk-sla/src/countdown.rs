//! Time to target as the inbox shows it (pure): business time left until a ticket's earliest
//! deadline — or how long ago it passed — and how close it is, for the row's colour.

use serde::Serialize;
use utoipa::ToSchema;

use crate::hours::BusinessHours;

/// A ticket's earliest running deadline, as stored with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub due_at: i64,
    /// The target that deadline belongs to, in business milliseconds.
    pub target_ms: i64,
    pub warn_percent: i64,
}

/// How close a deadline is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Less used than the warning share.
    Ok,
    /// Past the warning share.
    Soon,
    /// Missed.
    Overdue,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Ok => "ok",
            Urgency::Soon => "soon",
            Urgency::Overdue => "overdue",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Countdown {
    pub due_at: i64,
    /// Business minutes left (negative: how long overdue, in business minutes); wall-clock
    /// minutes when `far`.
    pub minutes_left: i64,
    pub urgency: Urgency,
    /// More than three days away, either way: not counted out in business time.
    pub far: bool,
}

impl Countdown {
    /// "2 h 15 min left", "overdue by 40 min", "due now", "more than 3 days left".
    pub fn label(&self) -> String {
        let m = self.minutes_left;
        match m {
            m if self.far && m > 0 => "more than 3 days left".to_string(),
            _ if self.far => "overdue by more than 3 days".to_string(),
            0 if self.urgency == Urgency::Overdue => "overdue".to_string(),
            0 => "due now".to_string(),
            m if m > 0 => format!("{} left", span(m)),
            m => format!("overdue by {}", span(-m)),
        }
    }
}

/// Minutes as "3 d 2 h", "5 h 10 min" or "25 min" (business time: a "day" is 24 business hours).
fn span(minutes: i64) -> String {
    let (d, h, m) = (minutes / 1_440, minutes % 1_440 / 60, minutes % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, h) if m == 0 => format!("{h} h"),
        (0, h) => format!("{h} h {m} min"),
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// Beyond this (wall-clock) a deadline is "far": shown without counting the business time day
/// by day — an inbox page has 50 rows to show.
const FAR_MS: i64 = 3 * 24 * 3_600_000;

pub fn countdown(due: &Due, hours: &BusinessHours, now: i64) -> Countdown {
    const MINUTE: i64 = 60_000;
    let wall = due.due_at - now;
    let far = wall.abs() > FAR_MS;
    if now > due.due_at {
        let late = if far {
            -wall
        } else {
            hours.between(due.due_at, now)
        };
        return Countdown {
            due_at: due.due_at,
            minutes_left: -(late / MINUTE),
            urgency: Urgency::Overdue,
            far,
        };
    }
    // Past the warning share when no more than `margin` business time is left.
    let margin = due.target_ms * (100 - due.warn_percent) / 100;
    let (left, soon) = if !far {
        let left = hours.between(now, due.due_at);
        (left, left <= margin)
    } else if margin >= wall {
        // Business time left is at most the wall-clock time left.
        (wall, true)
    } else if margin > 8 * 60 * MINUTE {
        // A long target may have its warning share ahead of a far deadline: count it.
        (wall, hours.between(now, due.due_at) <= margin)
    } else {
        (wall, false)
    };
    Countdown {
        due_at: due.due_at,
        minutes_left: left / MINUTE,
        urgency: if soon { Urgency::Soon } else { Urgency::Ok },
        far,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn time_left_and_urgency() {
        let h = BusinessHours::always();
        let due = Due {
            due_at: 240 * MIN,
            target_ms: 240 * MIN,
            warn_percent: 75,
        };
        let at = |m: i64| countdown(&due, &h, m * MIN);
        assert_eq!(at(0).urgency, Urgency::Ok);
        assert_eq!(at(0).label(), "4 h left");
        assert_eq!(at(179).urgency, Urgency::Ok);
        assert_eq!(at(180).urgency, Urgency::Soon, "75 % used");
        assert_eq!(at(225).label(), "15 min left");
        assert_eq!(at(240).label(), "due now");
        let late = at(240 + 95);
        assert_eq!((late.urgency, late.minutes_left), (Urgency::Overdue, -95));
        assert_eq!(late.label(), "overdue by 1 h 35 min");
        let ancient = countdown(&due, &h, 240 * MIN + 30 * 1_440 * MIN);
        assert_eq!(ancient.label(), "overdue by more than 3 days");
        assert_eq!(ancient.urgency, Urgency::Overdue);
        // Far deadlines: not soon unless the warning share reaches that far.
        let week = Due {
            due_at: 10 * 1_440 * MIN,
            target_ms: 10 * 1_440 * MIN,
            warn_percent: 75,
        };
        let early = countdown(&week, &h, 0);
        assert_eq!(
            (early.label().as_str(), early.urgency),
            ("more than 3 days left", Urgency::Ok)
        );
        assert_eq!(countdown(&week, &h, 6 * 1_440 * MIN).urgency, Urgency::Ok);
        let month = Due {
            due_at: 20 * 1_440 * MIN,
            target_ms: 20 * 1_440 * MIN,
            warn_percent: 75,
        };
        let late = countdown(&month, &h, 16 * 1_440 * MIN);
        assert!(late.far);
        assert_eq!(
            late.urgency,
            Urgency::Soon,
            "4 of 20 days left, warned at 15"
        );
        assert_eq!(span(3 * 1_440 + 120), "3 d 2 h");
        assert_eq!(span(1_440), "1 d");
    }
}
