//! The desk's side of the SLA: which ticket changes are SLA events. Called inside the
//! transaction of the change, so a ticket's clocks never disagree with its history.

use opsdesk_core::db::{Pipeline, Tx};
use opsdesk_sla::clock::Event;
use sqlx::any::AnyRow;

use super::model::{MessageKind, Priority, State};

/// The settings key of the states an admin marks as paused (besides waiting on the customer).
pub const PAUSED_KEY: &str = "sla.paused_states";

/// States that may be marked as paused: the working states (not new, and not the end states,
/// which stop the clocks).
pub const PAUSABLE: [State; 5] = [
    State::Triaged,
    State::Reproducing,
    State::Investigating,
    State::Fixed,
    State::Responded,
];

/// The SLA event a move of the flow is, if any (with no admin-marked paused states).
pub fn event_for(from: State, to: State, at: i64) -> Option<Event> {
    event_with(from, to, at, &[])
}

/// The SLA event a move of the flow is, if any: into waiting on the customer or a state the
/// admin marked as paused pauses the clocks, out of one into a running state resumes them.
pub fn event_with(from: State, to: State, at: i64, paused: &[State]) -> Option<Event> {
    let done = |s: State| matches!(s, State::Resolved | State::Closed);
    let pausing = |s: State| s == State::WaitingOnCustomer || paused.contains(&s);
    if from == to {
        None
    } else if done(to) && !done(from) {
        Some(Event::Resolved(at))
    } else if done(from) && !done(to) {
        Some(Event::Reopened(at))
    } else if pausing(to) && !pausing(from) {
        Some(Event::Paused(at))
    } else if pausing(from) && !pausing(to) {
        Some(Event::Resumed(at))
    } else {
        None
    }
}

/// Parses the stored list of paused states (unknown names are ignored).
pub fn parse_paused(raw: Option<&str>) -> Vec<State> {
    raw.and_then(|r| serde_json::from_str::<Vec<String>>(r).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| State::parse(s))
        .filter(|s| PAUSABLE.contains(s))
        .collect()
}

/// The states an admin marked as paused.
pub async fn paused_states(tx: &mut Tx) -> Result<Vec<State>, sqlx::Error> {
    let raw: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(PAUSED_KEY)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(parse_paused(raw.as_deref()))
}

/// Marks the states in which the clocks pause.
pub async fn set_paused_states(tx: &mut Tx, states: &[State], now: i64) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let value = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(PAUSED_KEY)
    .bind(value)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Starts the SLA of a ticket just filed, in a pipeline. First half: the tier the requester with
/// this email files under (after the statement that makes sure their account exists).
pub fn push_tier(p: &mut Pipeline, requester_email: &str, priority: Priority) {
    opsdesk_sla::ticket::push_start_info(p, requester_email, priority.rank());
}

/// Second half of [`push_tier`]: the ticket's clocks from the rows [`push_tier`] read.
pub fn push_opened(
    p: &mut Pipeline,
    tier_rows: &[AnyRow],
    ticket_id: &str,
    priority: Priority,
    at: i64,
) -> Result<(), sqlx::Error> {
    opsdesk_sla::ticket::push_start(p, tier_rows, ticket_id, priority.rank(), at)
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
    if from == to {
        return Ok(());
    }
    let paused = paused_states(tx).await?;
    match event_with(from, to, at, &paused) {
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

    #[test]
    fn states_marked_paused_pause_and_resume_the_clocks() {
        use State::*;
        let paused = [Fixed];
        assert_eq!(
            event_with(Investigating, Fixed, 1, &paused),
            Some(Event::Paused(1))
        );
        assert_eq!(
            event_with(Fixed, Responded, 2, &paused),
            Some(Event::Resumed(2))
        );
        // From one paused state to another: still paused.
        assert_eq!(event_with(Fixed, WaitingOnCustomer, 3, &paused), None);
        assert_eq!(event_with(WaitingOnCustomer, Fixed, 3, &paused), None);
        assert_eq!(
            event_with(Fixed, Resolved, 4, &paused),
            Some(Event::Resolved(4))
        );
        assert_eq!(event_with(Investigating, Fixed, 1, &[]), None);
        assert_eq!(
            parse_paused(Some(r#"["fixed", "resolved", "nonsense", "triaged"]"#)),
            vec![Fixed, Triaged],
            "end states and unknown names are never paused states"
        );
        assert_eq!(parse_paused(Some("not json")), Vec::<State>::new());
    }
}
