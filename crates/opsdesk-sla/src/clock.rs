//! The SLA clock of one ticket, as pure rules: three clocks (first response, next response,
//! resolution) that start, pause, resume and stop on the ticket's events and count only business
//! time. The state is small and stored with the ticket, so deadlines can be recomputed for a new
//! policy from it alone — no event history needed.
//!
//! The rules avoid the standing complaints about other desks: the clock pauses while the ticket
//! waits on the customer; any customer message — by email, portal or API — restarts it, whatever
//! state the ticket is in; the first-response and next-response targets never override each
//! other (a customer's second message before the first answer stays under the first-response
//! target); only a public reply meets a response target, never an internal note (notes are not
//! events here at all).

use serde::{Deserialize, Serialize};

use crate::hours::BusinessHours;

/// Something that happened to the ticket, at an instant (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The ticket was filed (the customer's first message).
    Opened(i64),
    /// A later message from the customer (any channel).
    CustomerMessage(i64),
    /// A public reply from the team (not an internal note).
    PublicReply(i64),
    /// The ticket entered a paused state (waiting on customer, or one the admin marked).
    Paused(i64),
    /// The ticket left the paused states without a customer message (an agent moved it on).
    Resumed(i64),
    /// Resolved or closed.
    Resolved(i64),
    /// Reopened after resolution.
    Reopened(i64),
}

/// One clock. `running_since` is set while it counts; `elapsed_ms` is the business time counted
/// before that. Stopped means met (or ended by resolution) for this cycle.
///
/// Stored as JSON with every ticket (and rewritten in bulk when a policy is applied), so the
/// names are short and empty fields are left out; the long names are still read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Clock {
    #[serde(
        rename = "start",
        alias = "started_at",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<i64>,
    #[serde(
        rename = "run",
        alias = "running_since",
        skip_serializing_if = "Option::is_none"
    )]
    pub running_since: Option<i64>,
    #[serde(rename = "ms", alias = "elapsed_ms", skip_serializing_if = "is_zero")]
    pub elapsed_ms: i64,
    #[serde(
        rename = "stop",
        alias = "stopped_at",
        skip_serializing_if = "Option::is_none"
    )]
    pub stopped_at: Option<i64>,
    /// The warning and the breach of this cycle were sent (each at most once).
    #[serde(rename = "warn", alias = "warned", skip_serializing_if = "is_false")]
    pub warned: bool,
    #[serde(
        rename = "breach",
        alias = "breached",
        skip_serializing_if = "is_false"
    )]
    pub breached: bool,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

impl Clock {
    fn started(at: i64, paused: bool) -> Clock {
        Clock {
            started_at: Some(at),
            running_since: (!paused).then_some(at),
            ..Clock::default()
        }
    }

    /// Started, not stopped.
    pub fn is_active(&self) -> bool {
        self.started_at.is_some() && self.stopped_at.is_none()
    }

    pub fn is_running(&self) -> bool {
        self.running_since.is_some()
    }

    fn pause(&mut self, at: i64, hours: &BusinessHours) {
        if let Some(since) = self.running_since.take() {
            self.elapsed_ms += hours.between(since, at);
        }
    }

    fn resume(&mut self, at: i64) {
        if self.is_active() && self.running_since.is_none() {
            self.running_since = Some(at);
        }
    }

    fn stop(&mut self, at: i64, hours: &BusinessHours) {
        if self.is_active() {
            self.pause(at, hours);
            self.stopped_at = Some(at);
        }
    }

    /// Business time counted up to `now` (or to when it stopped).
    pub fn elapsed_at(&self, now: i64, hours: &BusinessHours) -> i64 {
        self.elapsed_ms
            + self
                .running_since
                .map_or(0, |since| hours.between(since, now.max(since)))
    }

    /// When the clock reaches `share` (e.g. 0.75) of `target_ms`, if it is running; a target
    /// already passed gives the instant it resumed.
    pub fn reaches(&self, target_ms: i64, share: f64, hours: &BusinessHours) -> Option<i64> {
        let since = self.running_since?;
        let mark = (target_ms as f64 * share).round() as i64;
        hours.add(since, mark - self.elapsed_ms)
    }

    /// When the target is due, if the clock is running.
    pub fn due(&self, target_ms: i64, hours: &BusinessHours) -> Option<i64> {
        self.reaches(target_ms, 1.0, hours)
    }

    /// Whether the target was missed by `now`: the clock counted more than `target_ms`, or it is
    /// running and its deadline has passed (a deadline at closing time is missed that evening,
    /// not when the calendar next opens).
    pub fn is_breached(&self, target_ms: i64, now: i64, hours: &BusinessHours) -> bool {
        self.started_at.is_some()
            && (self.elapsed_at(now, hours) > target_ms
                || self.due(target_ms, hours).is_some_and(|due| now > due))
    }
}

/// The three clocks of a ticket and whether it sits in a paused state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketClocks {
    #[serde(rename = "first", alias = "first_response")]
    pub first_response: Clock,
    /// The current cycle: from the first unanswered customer message after a reply to the next
    /// reply. A new cycle replaces a stopped one.
    #[serde(rename = "next", alias = "next_response")]
    pub next_response: Clock,
    #[serde(rename = "res", alias = "resolution")]
    pub resolution: Clock,
    #[serde(skip_serializing_if = "is_false")]
    pub paused: bool,
}

impl TicketClocks {
    fn each(&mut self) -> [&mut Clock; 3] {
        [
            &mut self.first_response,
            &mut self.next_response,
            &mut self.resolution,
        ]
    }

    /// Counts the business time of the running clocks up to `at` under `hours` and carries on
    /// from `at`: what was counted stays counted when the calendar changes afterwards.
    pub fn settle(&mut self, at: i64, hours: &BusinessHours) {
        for c in self.each() {
            if c.running_since.is_some_and(|since| since < at) {
                c.pause(at, hours);
                c.running_since = Some(at);
            }
        }
    }

    /// Applies one event (events come in time order).
    pub fn apply(&mut self, event: Event, hours: &BusinessHours) {
        match event {
            Event::Opened(at) => {
                if self.first_response.started_at.is_none() {
                    self.first_response = Clock::started(at, self.paused);
                    self.resolution = Clock::started(at, self.paused);
                }
            }
            Event::CustomerMessage(at) => {
                // The customer writing always restarts the clock.
                self.paused = false;
                for c in self.each() {
                    c.resume(at);
                }
                if self.resolution.stopped_at.is_some() {
                    self.resolution.stopped_at = None;
                    self.resolution.resume(at);
                }
                // Awaiting a first answer still: that target covers this message too.
                let answered = self.first_response.stopped_at.is_some();
                if answered && !self.next_response.is_active() {
                    self.next_response = Clock::started(at, false);
                }
            }
            Event::PublicReply(at) => {
                if self.first_response.is_active() {
                    self.first_response.stop(at, hours);
                } else if self.next_response.is_active() {
                    self.next_response.stop(at, hours);
                }
            }
            Event::Paused(at) => {
                self.paused = true;
                for c in self.each() {
                    c.pause(at, hours);
                }
            }
            Event::Resumed(at) => {
                self.paused = false;
                for c in self.each() {
                    c.resume(at);
                }
            }
            Event::Resolved(at) => {
                for c in self.each() {
                    c.stop(at, hours);
                }
            }
            Event::Reopened(at) => {
                self.paused = false;
                if self.resolution.stopped_at.is_some() {
                    self.resolution.stopped_at = None;
                    self.resolution.resume(at);
                }
            }
        }
    }
}
