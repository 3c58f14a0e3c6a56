//! The escalation flow as a pure state machine: which moves exist, what each needs, and what a
//! reply does to the state. The server enforces it; pages and the API only show it.
//!
//! new → triaged (category) → reproducing (outcome + steps) → investigating (evidence) →
//! fixed (root cause + fix) → responded (a reply was sent) → resolved (resolution note).
//! Working states may wait on the customer and come back; any open ticket may be closed with a
//! reason (unsupported request types); resolved and closed tickets may be reopened.

use std::collections::BTreeMap;

use super::model::{Outcome, State};

/// The longest text a flow field accepts (characters).
pub const MAX_TEXT: usize = 20_000;

/// The states the team works a ticket in (the ones that may wait on the customer).
pub const WORKING: [State; 5] = [
    State::Triaged,
    State::Reproducing,
    State::Investigating,
    State::Fixed,
    State::Responded,
];

/// The main line of the flow, in order.
pub const MAIN_LINE: [State; 7] = [
    State::New,
    State::Triaged,
    State::Reproducing,
    State::Investigating,
    State::Fixed,
    State::Responded,
    State::Resolved,
];

/// What the flow needs to know about a ticket.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub state: Option<State>,
    pub resume_state: Option<State>,
    pub has_category: bool,
    pub fixed_at: Option<i64>,
    pub last_reply_at: Option<i64>,
}

impl Facts {
    fn state(&self) -> State {
        self.state.unwrap_or(State::New)
    }

    /// A reply went to the customer after the fix was recorded.
    fn replied_since_fix(&self) -> bool {
        matches!((self.fixed_at, self.last_reply_at), (Some(f), Some(r)) if r >= f)
    }
}

/// The fields a move may carry (as typed by an agent; checked here).
#[derive(Clone, Debug, Default)]
pub struct StepFields {
    /// Set when the request names a category (already resolved to a known one by the service).
    pub category: bool,
    pub outcome: Option<String>,
    pub steps: Option<String>,
    pub evidence: Option<String>,
    pub root_cause: Option<String>,
    pub fix: Option<String>,
    pub note: Option<String>,
    pub reason: Option<String>,
}

/// What a permitted move records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub outcome: Option<Outcome>,
    pub steps: Option<String>,
    pub evidence: Option<String>,
    pub root_cause: Option<String>,
    pub fix: Option<String>,
    pub resolution: Option<String>,
    pub close_reason: Option<String>,
}

/// A permitted move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub from: State,
    pub to: State,
    /// Where a waiting ticket goes back to (set when entering `waiting_on_customer`).
    pub resume_state: Option<State>,
    pub recorded: Recorded,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// The move does not exist from here; `next` lists those that do.
    NotAllowed {
        from: State,
        to: State,
        next: Vec<State>,
    },
    /// The move exists but fields are missing or invalid (field name → problem).
    Needs(BTreeMap<String, String>),
}

impl FlowError {
    /// A sentence for people: what was refused and what comes next.
    pub fn message(&self) -> String {
        match self {
            FlowError::NotAllowed { from, to, next } => {
                let next: Vec<&str> = next.iter().map(|s| s.as_str()).collect();
                let next = if next.is_empty() {
                    "nothing".to_string()
                } else {
                    next.join(", ")
                };
                let hint = if MAIN_LINE.contains(from) && MAIN_LINE.contains(to) {
                    " Tickets go new → triaged → reproducing → investigating → fixed → responded → resolved, one step at a time."
                } else {
                    ""
                };
                format!(
                    "A {from} ticket cannot move to {to}; from {from} it can move to: {next}.{hint}"
                )
            }
            FlowError::Needs(_) => "This step needs more information.".to_string(),
        }
    }
}

/// One move the UI can offer, with the fields it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextStep {
    pub to: State,
    pub needs: &'static [&'static str],
}

fn needs(from: State, to: State) -> &'static [&'static str] {
    if from == State::WaitingOnCustomer && to != State::Closed {
        // Coming back to where the work stopped: that step's fields are already recorded.
        return &[];
    }
    match to {
        State::Triaged if from == State::New => &["category"],
        State::Reproducing => &["outcome", "steps"],
        State::Investigating => &["evidence"],
        State::Fixed => &["root_cause", "fix"],
        State::Resolved => &["note"],
        State::Closed => &["reason"],
        _ => &[],
    }
}

/// The moves that exist from `facts` (whether or not their fields are filled in yet).
pub fn next_steps(facts: &Facts) -> Vec<NextStep> {
    let from = facts.state();
    let mut to: Vec<State> = match from {
        State::New => vec![State::Triaged],
        State::Triaged => vec![State::Reproducing],
        State::Reproducing => vec![State::Investigating],
        State::Investigating => vec![State::Fixed],
        State::Fixed => vec![State::Responded],
        State::Responded => vec![State::Resolved],
        State::WaitingOnCustomer => facts.resume_state.into_iter().collect(),
        State::Resolved | State::Closed => vec![State::Triaged],
    };
    if WORKING.contains(&from) {
        to.push(State::WaitingOnCustomer);
    }
    if from != State::Closed {
        to.push(State::Closed);
    }
    to.into_iter()
        .map(|t| NextStep {
            to: t,
            needs: needs(from, t),
        })
        .collect()
}

fn text(
    problems: &mut BTreeMap<String, String>,
    name: &str,
    value: &Option<String>,
) -> Option<String> {
    let v = value.as_deref().map(str::trim).unwrap_or("");
    if v.is_empty() {
        problems.insert(name.into(), "is required for this step".into());
        return None;
    }
    if v.chars().count() > MAX_TEXT {
        problems.insert(name.into(), format!("is longer than {MAX_TEXT} characters"));
        return None;
    }
    Some(v.to_string())
}

/// Checks a requested move against the flow; returns what to record, or why not.
pub fn plan(facts: &Facts, to: State, f: &StepFields) -> Result<Change, FlowError> {
    let from = facts.state();
    let steps = next_steps(facts);
    if !steps.iter().any(|s| s.to == to) {
        return Err(FlowError::NotAllowed {
            from,
            to,
            next: steps.into_iter().map(|s| s.to).collect(),
        });
    }
    let mut p = BTreeMap::new();
    let mut rec = Recorded::default();
    let mut resume_state = None;
    if from == State::WaitingOnCustomer && to != State::Closed {
        return Ok(Change {
            from,
            to,
            resume_state: None,
            recorded: rec,
        });
    }
    match to {
        State::Triaged => {
            if !(facts.has_category || f.category) {
                p.insert(
                    "category".into(),
                    "is required: triage puts the ticket in a category".into(),
                );
            }
        }
        State::Reproducing => {
            match f.outcome.as_deref().map(str::trim) {
                None | Some("") => {
                    p.insert(
                        "outcome".into(),
                        "is required: reproduced or not_reproduced".into(),
                    );
                }
                Some(o) => match Outcome::parse(o) {
                    Some(o) => rec.outcome = Some(o),
                    None => {
                        p.insert(
                            "outcome".into(),
                            "must be reproduced or not_reproduced".into(),
                        );
                    }
                },
            }
            rec.steps = text(&mut p, "steps", &f.steps);
        }
        State::Investigating => rec.evidence = text(&mut p, "evidence", &f.evidence),
        State::Fixed => {
            rec.root_cause = text(&mut p, "root_cause", &f.root_cause);
            rec.fix = text(&mut p, "fix", &f.fix);
            if p.contains_key("root_cause") {
                p.insert(
                    "root_cause".into(),
                    "is required: no fix without understanding the root cause".into(),
                );
            }
        }
        State::Responded => {
            if !facts.replied_since_fix() {
                p.insert(
                    "reply".into(),
                    "send the customer a reply about the fix first".into(),
                );
            }
        }
        State::Resolved => rec.resolution = text(&mut p, "note", &f.note),
        State::WaitingOnCustomer => resume_state = Some(from),
        State::Closed => rec.close_reason = text(&mut p, "reason", &f.reason),
        State::New => {}
    }
    if !p.is_empty() {
        return Err(FlowError::Needs(p));
    }
    Ok(Change {
        from,
        to,
        resume_state,
        recorded: rec,
    })
}

/// What a customer's message does: a waiting ticket goes back to work, a resolved one reopens.
pub fn on_customer_message(facts: &Facts) -> Option<State> {
    match facts.state() {
        State::WaitingOnCustomer => Some(facts.resume_state.unwrap_or(State::Triaged)),
        State::Resolved => Some(if facts.has_category {
            State::Triaged
        } else {
            State::New
        }),
        _ => None,
    }
}

/// Whether a customer's message reopens a closed ticket: only within `window_ms` of closing,
/// and only one that was triaged (it goes back to triaged). Otherwise the message starts a new
/// ticket linked to the closed one.
pub fn reopens(facts: &Facts, closed_at: Option<i64>, now: i64, window_ms: i64) -> bool {
    facts.state() == State::Closed
        && facts.has_category
        && closed_at.is_some_and(|c| now.saturating_sub(c) <= window_ms)
}

/// What the team's public reply does: replying about a fix is the `responded` step.
pub fn on_team_reply(facts: &Facts) -> Option<State> {
    (facts.state() == State::Fixed).then_some(State::Responded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(state: State) -> Facts {
        Facts {
            state: Some(state),
            has_category: state != State::New,
            ..Facts::default()
        }
    }

    fn filled() -> StepFields {
        StepFields {
            category: true,
            outcome: Some("reproduced".into()),
            steps: Some("1. open 2. click".into()),
            evidence: Some("log line".into()),
            root_cause: Some("race".into()),
            fix: Some("lock".into()),
            note: Some("done".into()),
            reason: Some("custom debugging".into()),
        }
    }

    #[test]
    fn a_closed_ticket_reopens_only_within_the_window_and_when_triaged() {
        let closed = at(State::Closed);
        let day = 86_400_000;
        assert!(reopens(&closed, Some(0), 13 * day, 14 * day));
        assert!(!reopens(&closed, Some(0), 15 * day, 14 * day));
        assert!(!reopens(&closed, None, 1, 14 * day));
        let untriaged = Facts {
            has_category: false,
            ..at(State::Closed)
        };
        assert!(!reopens(&untriaged, Some(0), 1, 14 * day));
        assert!(!reopens(&at(State::Resolved), Some(0), 1, 14 * day));
    }

    #[test]
    fn the_main_line_is_walked_one_step_at_a_time() {
        let mut facts = at(State::New);
        for w in MAIN_LINE.windows(2) {
            let (from, to) = (w[0], w[1]);
            if to == State::Responded {
                facts.last_reply_at = facts.fixed_at;
            }
            let c = plan(&facts, to, &filled()).unwrap_or_else(|e| panic!("{from}->{to}: {e:?}"));
            assert_eq!((c.from, c.to), (from, to));
            facts.state = Some(to);
            facts.has_category = true;
            if to == State::Fixed {
                facts.fixed_at = Some(100);
            }
        }
        assert_eq!(facts.state, Some(State::Resolved));
    }

    #[test]
    fn skipping_a_step_is_refused_with_the_way_forward() {
        let e = plan(&at(State::New), State::Investigating, &filled());
        let Err(FlowError::NotAllowed { next, .. }) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(next, &vec![State::Triaged, State::Closed]);
        let msg = e.err().map(|e| e.message()).unwrap_or_default();
        assert!(msg.contains("new → triaged → reproducing"), "{msg}");
        assert!(plan(&at(State::Triaged), State::Fixed, &filled()).is_err());
        assert!(plan(&at(State::Fixed), State::Resolved, &filled()).is_err());
    }

    #[test]
    fn every_step_names_what_it_needs() {
        let empty = StepFields::default();
        let cases = [
            (State::New, State::Triaged, vec!["category"]),
            (State::Triaged, State::Reproducing, vec!["outcome", "steps"]),
            (State::Reproducing, State::Investigating, vec!["evidence"]),
            (
                State::Investigating,
                State::Fixed,
                vec!["fix", "root_cause"],
            ),
            (State::Fixed, State::Responded, vec!["reply"]),
            (State::Responded, State::Resolved, vec!["note"]),
            (State::Triaged, State::Closed, vec!["reason"]),
        ];
        for (from, to, fields) in cases {
            let mut facts = at(from);
            facts.has_category = false;
            match plan(&facts, to, &empty) {
                Err(FlowError::Needs(p)) => {
                    assert_eq!(
                        p.keys().cloned().collect::<Vec<_>>(),
                        fields,
                        "{from}->{to}"
                    )
                }
                other => panic!("{from}->{to}: {other:?}"),
            }
        }
        let Err(FlowError::Needs(p)) = plan(&at(State::Investigating), State::Fixed, &empty) else {
            panic!()
        };
        assert!(p["root_cause"].contains("root cause"));
    }

    #[test]
    fn blank_long_and_unknown_values_are_refused() {
        let mut f = filled();
        f.steps = Some("   ".into());
        f.outcome = Some("maybe".into());
        let Err(FlowError::Needs(p)) = plan(&at(State::Triaged), State::Reproducing, &f) else {
            panic!()
        };
        assert!(p.contains_key("steps") && p["outcome"].contains("reproduced"));
        let mut f = filled();
        f.evidence = Some("x".repeat(MAX_TEXT + 1));
        assert!(plan(&at(State::Reproducing), State::Investigating, &f).is_err());
    }

    #[test]
    fn waiting_remembers_where_to_come_back() {
        for from in WORKING {
            let c = plan(&at(from), State::WaitingOnCustomer, &StepFields::default())
                .unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(c.resume_state, Some(from));
            let waiting = Facts {
                state: Some(State::WaitingOnCustomer),
                resume_state: Some(from),
                has_category: true,
                ..Facts::default()
            };
            assert_eq!(on_customer_message(&waiting), Some(from));
            assert!(plan(&waiting, from, &StepFields::default()).is_ok());
            let other = WORKING.into_iter().find(|s| *s != from).unwrap_or(from);
            assert!(plan(&waiting, other, &StepFields::default()).is_err());
        }
        assert!(plan(&at(State::New), State::WaitingOnCustomer, &filled()).is_err());
        let waiting = Facts {
            state: Some(State::WaitingOnCustomer),
            resume_state: Some(State::Triaged),
            has_category: true,
            ..Facts::default()
        };
        assert!(matches!(
            plan(&waiting, State::Closed, &StepFields::default()),
            Err(FlowError::Needs(_))
        ));
    }

    #[test]
    fn replies_move_the_flow() {
        assert_eq!(
            on_customer_message(&at(State::Resolved)),
            Some(State::Triaged)
        );
        assert_eq!(on_customer_message(&at(State::Investigating)), None);
        assert_eq!(on_team_reply(&at(State::Fixed)), Some(State::Responded));
        assert_eq!(on_team_reply(&at(State::Triaged)), None);
        let mut fixed = at(State::Fixed);
        fixed.fixed_at = Some(10);
        fixed.last_reply_at = Some(5);
        assert!(plan(&fixed, State::Responded, &filled()).is_err());
        fixed.last_reply_at = Some(11);
        assert!(plan(&fixed, State::Responded, &filled()).is_ok());
    }

    #[test]
    fn closed_tickets_only_reopen() {
        let steps: Vec<State> = next_steps(&at(State::Closed))
            .into_iter()
            .map(|s| s.to)
            .collect();
        assert_eq!(steps, vec![State::Triaged]);
        for s in State::ALL {
            if s != State::Closed {
                assert!(
                    next_steps(&at(s)).iter().any(|n| n.to == State::Closed),
                    "{s}"
                );
            }
        }
    }
}
