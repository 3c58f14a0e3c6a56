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
    /// Business minutes left (negative: how long overdue, in business minutes).
    pub minutes_left: i64,
    pub urgency: Urgency,
}

impl Countdown {
    /// "2 h 15 min left", "overdue by 40 min", "due now".
    pub fn label(&self) -> String {
        let m = self.minutes_left;
        match m {
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

pub fn countdown(due: &Due, hours: &BusinessHours, now: i64) -> Countdown {
    const MINUTE: i64 = 60_000;
    if now > due.due_at {
        return Countdown {
            due_at: due.due_at,
            minutes_left: -(hours.between(due.due_at, now) / MINUTE),
            urgency: Urgency::Overdue,
        };
    }
    let left = hours.between(now, due.due_at);
    let soon = left * 100 <= due.target_ms * (100 - due.warn_percent);
    Countdown {
        due_at: due.due_at,
        minutes_left: left / MINUTE,
        urgency: if soon { Urgency::Soon } else { Urgency::Ok },
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
        assert_eq!(span(3 * 1_440 + 120), "3 d 2 h");
        assert_eq!(span(1_440), "1 d");
    }
}
