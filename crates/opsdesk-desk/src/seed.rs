//! Synthetic tickets for load tests and benchmarks (`opsdesk seed`): many tickets and messages
//! with realistic words, written in large transactions through the same store functions (and
//! search index) the desk uses, so a seeded desk behaves like a real one.

use crate::tickets::model::{Channel, MessageKind, Priority, State};
use crate::tickets::search;
use crate::tickets::store::{self, NewTicketRow};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::db::Db;
use opsdesk_sla::clock::Event as SlaEvent;

const WORDS: &[&str] = &[
    "export",
    "invoice",
    "login",
    "password",
    "timeout",
    "dashboard",
    "report",
    "csv",
    "billing",
    "refund",
    "upgrade",
    "plan",
    "webhook",
    "api",
    "token",
    "error",
    "crash",
    "slow",
    "page",
    "email",
    "notification",
    "sync",
    "backup",
    "restore",
    "import",
    "chart",
    "filter",
    "search",
    "account",
    "team",
    "invite",
    "permission",
    "role",
    "sso",
    "saml",
    "mobile",
    "android",
    "ios",
    "browser",
    "firefox",
    "chrome",
    "safari",
    "upload",
    "download",
    "attachment",
    "pdf",
    "print",
    "calendar",
    "timezone",
    "language",
    "translation",
    "integration",
    "slack",
    "github",
    "jira",
    "deploy",
    "release",
    "version",
    "update",
    "cancel",
    "subscription",
    "card",
    "payment",
    "tax",
    "receipt",
    "address",
    "profile",
    "avatar",
    "settings",
    "limit",
    "quota",
    "storage",
    "latency",
    "outage",
    "status",
    "incident",
    "database",
    "query",
    "index",
    "cache",
    "memory",
    "cpu",
    "disk",
];

/// A small deterministic generator (xorshift), so seeded data is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| WORDS[self.below(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Writes `tickets` tickets with `messages` messages in all (at least one per ticket), calling
/// `progress` with the number of tickets written so far.
pub async fn load(
    db: &Db,
    tickets: u64,
    messages: u64,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<()> {
    const BATCH: u64 = 500;
    const REQUESTERS: u64 = 1000;
    let categories = store::list_categories(db).await?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_ticket = (messages / tickets.max(1)).max(1);
    let extra = messages.saturating_sub(per_ticket * tickets);
    let states = [
        State::New,
        State::New,
        State::Triaged,
        State::Reproducing,
        State::Investigating,
        State::WaitingOnCustomer,
        State::Resolved,
        State::Resolved,
        State::Closed,
    ];
    let settled = now_ms();
    let start = settled - i64::try_from(tickets).unwrap_or(0) * 60_000;
    // A quarter of the customers on Priority, a quarter on Agency, the rest on the default tier.
    let mut paid = Vec::new();
    for name in ["Priority", "Agency"] {
        if let Some((id, _)) = opsdesk_sla::store::find_tier(db, name).await? {
            paid.push(id);
        }
    }
    let mut written = 0u64;
    while written < tickets {
        let mut tx = db.begin().await?;
        let end = (written + BATCH).min(tickets);
        for i in written..end {
            let now = start + i64::try_from(i).unwrap_or(0) * 60_000;
            let email = format!("customer{}@seed.example", i % REQUESTERS);
            let (requester, org, fresh) = store::ensure_requester(
                &mut tx,
                &email,
                &format!("Customer {}", i % REQUESTERS),
                now,
            )
            .await?;
            if let Some(tier) = paid.get(usize::try_from(i % 4).unwrap_or(2))
                && fresh
            {
                opsdesk_sla::store::set_user_tier(&mut tx, &requester, Some(tier)).await?;
            }
            let number = store::next_number(&mut tx).await?;
            let id = new_id();
            let cat = &categories[rng.below(categories.len())];
            let priority = Priority::from_rank(i64::try_from(rng.below(4)).unwrap_or(1));
            let subject = format!("{} {}", rng.words(3), rng.words(2));
            store::insert_ticket(
                &mut tx,
                &NewTicketRow {
                    id: &id,
                    number,
                    subject: &subject,
                    category_id: Some(&cat.id),
                    priority,
                    channel: Channel::Email,
                    requester_id: &requester,
                    assignee_id: None,
                    organization_id: org.as_deref(),
                    security: cat.security,
                    now,
                },
            )
            .await?;
            let count = per_ticket + u64::from(i < extra);
            let (mut public, mut notes) = (String::new(), String::new());
            let mut events = Vec::new();
            for m in 0..count {
                let kind = match m % 3 {
                    0 => MessageKind::Customer,
                    1 => MessageKind::Reply,
                    _ => MessageKind::Note,
                };
                events.extend(match kind {
                    MessageKind::Customer if m > 0 => Some(SlaEvent::CustomerMessage(now)),
                    MessageKind::Reply => Some(SlaEvent::PublicReply(now)),
                    _ => None,
                });
                let body = rng.words(30);
                store::insert_message(&mut tx, &id, kind, Some(&requester), &body, "web", now)
                    .await?;
                let doc = if kind.is_public() {
                    &mut public
                } else {
                    &mut notes
                };
                doc.push_str(&body);
                doc.push(' ');
            }
            search::create(&mut tx, db.backend(), number, &subject, &public, &notes).await?;
            let state = states[rng.below(states.len())];
            if state != State::New {
                store::set_state(&mut tx, &id, state).await?;
            }
            events.extend(super::tickets::sla::event_for(State::New, state, now));
            opsdesk_sla::ticket::start_with_history(
                &mut tx,
                &id,
                &requester,
                priority.rank(),
                now,
                &events,
                Some(settled),
            )
            .await?;
        }
        audit::store::append(
            &mut tx,
            db.backend(),
            Actor::cli().entry(
                "desk.seed",
                "tickets",
                format!("{} synthetic tickets", end - written),
            ),
        )
        .await?;
        tx.commit().await?;
        written = end;
        progress(written);
    }
    // A bulk load changes the data's shape: give the planner fresh statistics, and compact the
    // search index its many small inserts left in pieces.
    db.analyze().await?;
    crate::tickets::search::tidy(db, crate::tickets::search::Tidy::Optimize).await?;
    Ok(())
}
