//! A ticket's SLA through its life: started under the requester's tier when it is filed, moved
//! on by the desk's events inside the same transaction as the change that caused them, and shown
//! with its deadlines and state.

use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::{Clock, Event, TicketClocks};
use crate::deadlines::{Announcement, TargetsMs, deadlines, mark_due, rebase, take_due};
use crate::hours::{BusinessHours, HoursSpec};
use crate::policy::PRIORITIES;
use crate::ticket_store::{self, SlaRow};
use opsdesk_core::db::{Db, Pipeline, Tx};
use sqlx::any::AnyRow;

const MINUTE: i64 = 60_000;

pub(crate) fn decode(what: &str, e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("ticket SLA {what}: {e}").into())
}

/// The business hours of a calendar spec (round the clock without one).
pub(crate) fn hours_of(spec: Option<&str>) -> Result<BusinessHours, sqlx::Error> {
    match spec {
        None => Ok(BusinessHours::always()),
        Some(s) => {
            let spec: HoursSpec = serde_json::from_str(s).map_err(|e| decode("calendar", e))?;
            BusinessHours::load(&spec).map_err(|e| decode("calendar", e))
        }
    }
}

fn ms(minutes: Option<i64>) -> Option<i64> {
    minutes.map(|m| m * MINUTE)
}

/// Starts the SLA of a ticket with a past (bulk loads): its later `events` applied, and — as if the
/// sweep had run all along — the warnings and breaches due by `settled_at` marked as made.
pub async fn start_with_history(
    tx: &mut Tx,
    ticket_id: &str,
    requester_id: &str,
    priority: i64,
    at: i64,
    events: &[Event],
    settled_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    let Some(info) = ticket_store::start_info(tx, requester_id, priority).await? else {
        return Ok(());
    };
    let mut p = Pipeline::new();
    stage(&mut p, &info, ticket_id, priority, at, events, settled_at)?;
    p.execute(tx).await
}

/// Starts the SLA of a ticket just filed, in a pipeline (no row when its tier has no ticket
/// targets). First half: reads the tier the requester with this email files under
/// (the statement must come after their account exists, in the same pipeline or before it).
pub fn push_start_info(p: &mut Pipeline, requester_email: &str, priority: i64) {
    ticket_store::push_start_info(p, requester_email, priority);
}

/// Second half of [`push_start_info`]: from the rows [`push_start_info`] read, adds the new
/// ticket's SLA row (nothing when its tier has no ticket targets).
pub fn push_start(
    p: &mut Pipeline,
    info_rows: &[AnyRow],
    ticket_id: &str,
    priority: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    match ticket_store::start_info_of(info_rows)? {
        Some(info) => stage(p, &info, ticket_id, priority, at, &[], None),
        None => Ok(()),
    }
}

/// The clocks and deadlines of a ticket filed at `at` (its later `events` applied; the
/// announcements due by `settled_at` marked as made), added as its row.
fn stage(
    p: &mut Pipeline,
    info: &ticket_store::StartInfo,
    ticket_id: &str,
    priority: i64,
    at: i64,
    events: &[Event],
    settled_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    if !info.ticket_sla {
        return Ok(());
    }
    let hours = hours_of(info.calendar_spec.as_deref())?;
    let mut clocks = TicketClocks::default();
    clocks.apply(Event::Opened(at), &hours);
    for e in events {
        clocks.apply(*e, &hours);
    }
    let targets = targets_ms(&info.targets);
    if let Some(now) = settled_at {
        mark_due(&mut clocks, &targets, info.warn_percent, &hours, now);
    }
    let d = deadlines(&clocks, &targets, info.warn_percent, &hours);
    let row = SlaRow {
        ticket_id: ticket_id.to_string(),
        tier_id: info.tier_id.clone(),
        calendar_id: info.calendar_id.clone(),
        calendar_spec: None,
        priority,
        warn_percent: info.warn_percent,
        targets,
        clocks: serde_json::to_string(&clocks).map_err(|e| decode("clocks", e))?,
    };
    ticket_store::push_insert(p, &row, &d, at);
    Ok(())
}

pub(crate) fn targets_ms(t: &crate::policy::Targets) -> TargetsMs {
    TargetsMs {
        first_response: ms(t.first_response_minutes),
        next_response: ms(t.next_response_minutes),
        resolution: ms(t.resolution_minutes),
    }
}

/// Serves a ticket under its tier's targets for a new priority: the time counted so far stays,
/// the deadlines move (nothing for a ticket without an SLA).
pub async fn change_priority(
    tx: &mut Tx,
    ticket_id: &str,
    priority: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    let Some(mut row) = ticket_store::load(&mut **tx, ticket_id).await? else {
        return Ok(());
    };
    let Some(policy) = ticket_store::tier_policy(tx, &row.tier_id, priority).await? else {
        return Ok(());
    };
    let old = hours_of(row.calendar_spec.as_deref())?;
    let new = hours_of(policy.calendar_spec.as_deref())?;
    let mut clocks: TicketClocks =
        serde_json::from_str(&row.clocks).map_err(|e| decode("clocks", e))?;
    row.priority = priority;
    row.calendar_id = policy.calendar_id;
    row.warn_percent = policy.warn_percent;
    row.targets = if policy.ticket_sla {
        targets_ms(&policy.targets)
    } else {
        TargetsMs::default()
    };
    let d = rebase(&mut clocks, &old, &new, &row.targets, row.warn_percent, now);
    row.clocks = serde_json::to_string(&clocks).map_err(|e| decode("clocks", e))?;
    ticket_store::update_policy(tx, &row, &d, now).await
}

/// Moves a ticket's SLA on by one event (nothing for a ticket without targets).
pub async fn record(tx: &mut Tx, ticket_id: &str, event: Event) -> Result<(), sqlx::Error> {
    let Some(row) = ticket_store::load(&mut **tx, ticket_id).await? else {
        return Ok(());
    };
    let hours = hours_of(row.calendar_spec.as_deref())?;
    let mut clocks: TicketClocks =
        serde_json::from_str(&row.clocks).map_err(|e| decode("clocks", e))?;
    clocks.apply(event, &hours);
    let d = deadlines(&clocks, &row.targets, row.warn_percent, &hours);
    let json = serde_json::to_string(&clocks).map_err(|e| decode("clocks", e))?;
    let at = match event {
        Event::Opened(t)
        | Event::CustomerMessage(t)
        | Event::PublicReply(t)
        | Event::Paused(t)
        | Event::Resumed(t)
        | Event::Resolved(t)
        | Event::Reopened(t) => t,
    };
    ticket_store::update(tx, ticket_id, &json, &d, at).await
}

/// Takes the warnings and breaches of one ticket due by `now` (marking them made) and moves its
/// timer on to the next announcement (while the calendar is closed, no earlier than it opens).
pub async fn sweep_one(
    tx: &mut Tx,
    ticket_id: &str,
    now: i64,
) -> Result<Vec<Announcement>, sqlx::Error> {
    let Some(row) = ticket_store::load(&mut **tx, ticket_id).await? else {
        return Ok(Vec::new());
    };
    let hours = hours_of(row.calendar_spec.as_deref())?;
    let mut clocks: TicketClocks =
        serde_json::from_str(&row.clocks).map_err(|e| decode("clocks", e))?;
    let made = take_due(&mut clocks, &row.targets, row.warn_percent, &hours, now);
    let mut d = deadlines(&clocks, &row.targets, row.warn_percent, &hours);
    if !hours.is_open(now) {
        // What fell due after closing is announced when the calendar opens.
        let opens = hours.next_open(now);
        d.timer_at = d.timer_at.map(|t| opens.map_or(t, |o| t.max(o)));
    }
    // Never leave a timer in the past: the sweep would pick the ticket up again at once.
    d.timer_at = d.timer_at.map(|t| t.max(now + 60_000));
    let json = serde_json::to_string(&clocks).map_err(|e| decode("clocks", e))?;
    ticket_store::update(tx, ticket_id, &json, &d, now).await?;
    Ok(made)
}

/// What a breach of this ticket's targets does besides notifying, by its tier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BreachActions {
    pub raise_priority: bool,
    /// The team member (user id) the ticket is handed to.
    pub reassign_to: Option<String>,
}

pub async fn breach_actions(tx: &mut Tx, ticket_id: &str) -> Result<BreachActions, sqlx::Error> {
    use sqlx::Row as _;
    let row = sqlx::query(
        "SELECT t.breach_raise_priority, t.breach_reassign_to FROM ticket_sla s \
         JOIN sla_tiers t ON t.id = s.tier_id \
         LEFT JOIN users u ON u.id = t.breach_reassign_to \
         WHERE s.ticket_id = $1 AND (u.id IS NULL OR u.disabled = 0)",
    )
    .bind(ticket_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match row {
        Some(r) => BreachActions {
            raise_priority: r.try_get::<i64, _>("breach_raise_priority")? != 0,
            reassign_to: r.try_get("breach_reassign_to")?,
        },
        None => BreachActions::default(),
    })
}

/// One target of a ticket as people read it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TargetView {
    /// Business minutes; absent for best effort.
    pub target_minutes: Option<i64>,
    /// `best_effort`, `not_started`, `running`, `paused`, `met` or `breached`.
    pub state: String,
    /// When it is due, while running (Unix ms).
    pub due_at: Option<i64>,
    /// Business minutes counted so far.
    pub elapsed_minutes: i64,
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
}

/// A ticket's SLA: the targets it is held to and where each stands.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SlaView {
    pub tier_id: String,
    /// The priority the targets were taken for.
    pub priority: String,
    /// Waiting on the customer (or another paused state): no clock runs.
    pub paused: bool,
    pub first_response: TargetView,
    pub next_response: TargetView,
    pub resolution: TargetView,
}

fn target_view(c: &Clock, target: Option<i64>, now: i64, hours: &BusinessHours) -> TargetView {
    let elapsed = c.elapsed_at(now, hours);
    let state = match target {
        None => "best_effort",
        Some(_) if c.started_at.is_none() => "not_started",
        Some(t) if c.is_breached(t, now, hours) => "breached",
        Some(_) if c.stopped_at.is_some() => "met",
        Some(_) if c.is_running() => "running",
        Some(_) => "paused",
    };
    TargetView {
        target_minutes: target.map(|t| t / MINUTE),
        state: state.to_string(),
        due_at: target.and_then(|t| c.due(t, hours)),
        elapsed_minutes: elapsed / MINUTE,
        started_at: c.started_at,
        stopped_at: c.stopped_at,
    }
}

/// A ticket's SLA as of `now`, if it has one.
pub async fn view(db: &Db, ticket_id: &str, now: i64) -> Result<Option<SlaView>, sqlx::Error> {
    let Some(row) = ticket_store::load(db.read(), ticket_id).await? else {
        return Ok(None);
    };
    let hours = hours_of(row.calendar_spec.as_deref())?;
    let c: TicketClocks = serde_json::from_str(&row.clocks).map_err(|e| decode("clocks", e))?;
    let t = row.targets;
    Ok(Some(SlaView {
        tier_id: row.tier_id,
        priority: usize::try_from(row.priority)
            .ok()
            .and_then(|p| PRIORITIES.get(p))
            .map_or_else(|| row.priority.to_string(), |p| (*p).to_string()),
        paused: c.paused,
        first_response: target_view(&c.first_response, t.first_response, now, &hours),
        next_response: target_view(&c.next_response, t.next_response, now, &hours),
        resolution: target_view(&c.resolution, t.resolution, now, &hours),
    }))
}

/// Every calendar's business hours, for showing many tickets' time to target at once.
pub struct CalendarSet {
    by_id: std::collections::HashMap<String, BusinessHours>,
    always: BusinessHours,
}

/// How long a loaded [`CalendarSet`] is reused before it is read again (calendars change
/// rarely; a changed one reaches the inbox's countdowns within this time).
const CALENDARS_FRESH: std::time::Duration = std::time::Duration::from_secs(30);

type CachedCalendars = (usize, std::time::Instant, std::sync::Arc<CalendarSet>);

/// Loaded calendar sets by database ([`Db::identity`]).
static CALENDARS: std::sync::Mutex<Vec<CachedCalendars>> = std::sync::Mutex::new(Vec::new());

impl CalendarSet {
    /// The database's calendars as of at most [`CALENDARS_FRESH`] ago (shared by every
    /// request; a change made by this process is seen at once, see [`CalendarSet::forget`]).
    pub async fn cached(db: &Db) -> Result<std::sync::Arc<CalendarSet>, sqlx::Error> {
        let key = db.identity();
        {
            let cache = CALENDARS.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, set)) = cache
                .iter()
                .find(|(k, at, _)| *k == key && at.elapsed() < CALENDARS_FRESH)
            {
                return Ok(set.clone());
            }
        }
        let set = std::sync::Arc::new(CalendarSet::load(db).await?);
        let mut cache = CALENDARS.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, at, _)| *k != key && at.elapsed() < CALENDARS_FRESH);
        cache.push((key, std::time::Instant::now(), set.clone()));
        Ok(set)
    }

    /// Drops the database's cached calendars (after a calendar changed).
    pub fn forget(db: &Db) {
        let key = db.identity();
        CALENDARS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(k, _, _)| *k != key);
    }

    pub async fn load(db: &Db) -> Result<CalendarSet, sqlx::Error> {
        let mut by_id = std::collections::HashMap::new();
        for row in crate::store::list_calendars(db).await? {
            by_id.insert(row.id.clone(), hours_of(Some(&row.spec))?);
        }
        Ok(CalendarSet {
            by_id,
            always: BusinessHours::always(),
        })
    }

    /// A calendar's business hours (round the clock without one, or for an unknown id).
    pub fn hours(&self, calendar_id: Option<&str>) -> &BusinessHours {
        calendar_id
            .and_then(|id| self.by_id.get(id))
            .unwrap_or(&self.always)
    }

    /// The time left to a deadline counted in its calendar (round the clock without one).
    pub fn countdown(
        &self,
        calendar_id: Option<&str>,
        due: &crate::countdown::Due,
        now: i64,
    ) -> crate::countdown::Countdown {
        let hours = calendar_id
            .and_then(|id| self.by_id.get(id))
            .unwrap_or(&self.always);
        crate::countdown::countdown(due, hours, now)
    }
}
