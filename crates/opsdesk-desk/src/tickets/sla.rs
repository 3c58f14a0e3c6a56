//! The desk's side of the SLA: which ticket changes are SLA events. Called inside the
//! transaction of the change, so a ticket's clocks never disagree with its history.

use opsdesk_core::db::Tx;
use opsdesk_sla::clock::Event;

use super::model::{MessageKind, Priority, State};

/// The SLA event a move of the flow is, if any.
pub fn event_for(from: State, to: State, at: i64) -> Option<Event> {
    let done = |s: State| matches!(s, State::Resolved | State::Closed);
    if from == to {
        None
    } else if done(to) && !done(from) {
        Some(Event::Resolved(at))
    } else if done(from) && !done(to) {
        Some(Event::Reopened(at))
    } else if to == State::WaitingOnCustomer {
        Some(Event::Paused(at))
    } else if from == State::WaitingOnCustomer {
        Some(Event::Resumed(at))
    } else {
        None
    }
}

/// Starts the SLA of a ticket just filed under its requester's tier.
pub async fn opened(
    tx: &mut Tx,
    ticket_id: &str,
    requester_id: &str,
    priority: Priority,
    at: i64,
) -> Result<(), sqlx::Error> {
    opsdesk_sla::ticket::start(tx, ticket_id, requester_id, priority.rank(), at).await
}

/// A message on an existing ticket: a customer's restarts the clock, the team's public reply
/// meets a response target, an internal note is no event.
pub async fn message(
    tx: &mut Tx,
    ticket_id: &str,
    kind: MessageKind,
    at: i64,
) -> Result<(), sqlx::Error> {
    let event = match kind {
        MessageKind::Customer => Event::CustomerMessage(at),
        MessageKind::Reply => Event::PublicReply(at),
        MessageKind::Note => return Ok(()),
    };
    opsdesk_sla::ticket::record(tx, ticket_id, event).await
}

/// A new priority: the ticket is served under its tier's targets for it from now on.
pub async fn reprioritized(
    tx: &mut Tx,
    ticket_id: &str,
    priority: Priority,
    at: i64,
) -> Result<(), sqlx::Error> {
    opsdesk_sla::ticket::change_priority(tx, ticket_id, priority.rank(), at).await
}

/// A move of the flow.
pub async fn moved(
    tx: &mut Tx,
    ticket_id: &str,
    from: State,
    to: State,
    at: i64,
) -> Result<(), sqlx::Error> {
    match event_for(from, to, at) {
        Some(e) => opsdesk_sla::ticket::record(tx, ticket_id, e).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_of_the_flow_map_to_clock_events() {
        use State::*;
        assert_eq!(event_for(New, Triaged, 1), None);
        assert_eq!(
            event_for(Investigating, WaitingOnCustomer, 1),
            Some(Event::Paused(1))
        );
        assert_eq!(
            event_for(WaitingOnCustomer, Investigating, 2),
            Some(Event::Resumed(2))
        );
        assert_eq!(event_for(Responded, Resolved, 3), Some(Event::Resolved(3)));
        assert_eq!(
            event_for(WaitingOnCustomer, Closed, 3),
            Some(Event::Resolved(3))
        );
        assert_eq!(event_for(Resolved, Closed, 4), None);
        assert_eq!(event_for(Resolved, Triaged, 5), Some(Event::Reopened(5)));
        assert_eq!(event_for(Closed, Triaged, 5), Some(Event::Reopened(5)));
    }
}
