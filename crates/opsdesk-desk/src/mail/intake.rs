//! The one intake path for inbound email (API, pipe, IMAP, SMTP): parse, keep the raw message,
//! decide the thread, then file a new ticket or add the customer's words to an existing one —
//! all in one transaction, so a message is either fully taken in or not at all, and a second
//! delivery of the same message is recognized by its Message-ID (or, without one, its hash).

use opsdesk_core::audit::Actor;
use opsdesk_core::blobs::{Blobs, sha256_hex};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::{Db, Tx};
use opsdesk_core::error::AppError;
use opsdesk_mail::{AutoKind, Inbound, Prefetched, Thread, decide, strip_quoted};
use serde::Serialize;
use utoipa::ToSchema;

use super::outbox;
use super::store::{self, AttachmentRow, InboundRow, MailIdRow};
use crate::tickets::filing::{self, Filing};
use crate::tickets::flow::{self, StepFields};
use crate::tickets::model::{Category, Channel, MessageKind, Priority, State, Ticket};
use crate::tickets::service::{self, MAX_BODY, MAX_SUBJECT};
use crate::tickets::triage::Incoming;
use crate::tickets::{search, store as tickets, triage_service};

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntakeOutcome {
    /// A new ticket.
    Created,
    /// Added to an open ticket.
    Appended,
    /// Added to a closed ticket, which it reopened.
    Reopened,
    /// The ticket it answers was closed too long ago: a new ticket linked to it.
    Linked,
    /// Already taken in (a redelivery, an IMAP re-fetch, or our own mail coming back).
    Duplicate,
    /// A bounce: recorded (and noted on its ticket) but opens nothing.
    Bounce,
    /// Nothing to file it under (no sender address); the raw message is kept.
    Rejected,
}

impl IntakeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeOutcome::Created => "created",
            IntakeOutcome::Appended => "appended",
            IntakeOutcome::Reopened => "reopened",
            IntakeOutcome::Linked => "linked",
            IntakeOutcome::Duplicate => "duplicate",
            IntakeOutcome::Bounce => "bounce",
            IntakeOutcome::Rejected => "rejected",
        }
    }
}

/// The answer of an intake.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Intake {
    /// The id of the inbound log entry.
    pub id: String,
    pub outcome: IntakeOutcome,
    /// The ticket the message went to (`#1042`), if any.
    pub ticket: Option<String>,
    /// How it was matched: `signed_id`, `stored_id`, `body_marker` or `subject_tag`.
    pub via: Option<String>,
    /// `human`, `auto_reply`, `bounce` or `bulk`.
    pub auto: String,
    /// Why a rejected message was not filed.
    pub reason: Option<String>,
}

/// Where a message came from (`api`, `pipe`, `imap:<mailbox>`, `smtp`).
pub struct Source<'a> {
    pub name: &'a str,
    /// The mailbox it was delivered to, if known (a `security@` mailbox files security reports).
    pub mailbox: Option<&'a str>,
}

/// What the intake writes with.
struct Ctx<'a> {
    db: &'a Db,
    blobs: &'a Blobs,
    cfg: &'a MailConfig,
    prepared: &'a Prepared,
}

/// Read before the write transaction.
struct Prepared {
    triage: triage_service::Prepared,
    security: Option<Category>,
}

/// Takes in one raw message.
pub async fn ingest(
    db: &Db,
    blobs: &Blobs,
    cfg: &MailConfig,
    raw: &[u8],
    source: &Source<'_>,
) -> Result<Intake, AppError> {
    if raw.len() > cfg.max_message_bytes {
        return Err(AppError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "message_too_large",
            format!(
                "The message is {} bytes; the limit is {} bytes ([mail] max_message_bytes).",
                raw.len(),
                cfg.max_message_bytes
            ),
        ));
    }
    let msg = opsdesk_mail::parse(raw).map_err(|e| {
        AppError::bad_request("unreadable_message", format!("This is not an email: {e}."))
    })?;
    // Without a Message-ID the content hash stands in, so a redelivery is still recognized.
    let own_id = msg
        .message_id
        .clone()
        .unwrap_or_else(|| format!("sha256.{}@opsdesk.invalid", &sha256_hex(raw)[..40]));
    let mut keys = msg.thread_keys();
    keys.message_id = Some(own_id.clone());
    let now = now_ms();
    // Everything read from the pool is read before the transaction takes its connection.
    let prepared = Prepared {
        triage: triage_service::prepare(db).await?,
        security: tickets::find_category(db, "Security").await?,
    };
    let job = Job {
        db: db.clone(),
        blobs: blobs.clone(),
        cfg: cfg.clone(),
        raw: raw.to_vec(),
        source_name: source.name.to_string(),
        mailbox: source.mailbox.map(str::to_string),
        msg,
        own_id,
        keys,
        prepared,
        now,
    };
    // Group commit: this message shares one transaction with others arriving at the same
    // moment; the answer comes after that transaction committed.
    let result = db
        .batched(move |tx: &mut Tx| Box::pin(async move { job.take_in(tx).await }))
        .await?;
    metrics::counter!("opsdesk_mail_received_total", "outcome" => result.outcome.as_str())
        .increment(1);
    Ok(result)
}

/// One message's write, owned so the group-commit writer can run it.
struct Job {
    db: Db,
    blobs: Blobs,
    cfg: MailConfig,
    raw: Vec<u8>,
    source_name: String,
    mailbox: Option<String>,
    msg: Inbound,
    own_id: String,
    keys: opsdesk_mail::InboundKeys,
    prepared: Prepared,
    now: i64,
}

impl Job {
    async fn take_in(self, tx: &mut Tx) -> Result<Intake, AppError> {
        let Job {
            db,
            blobs,
            cfg,
            raw,
            source_name,
            mailbox,
            msg,
            own_id,
            keys,
            prepared,
            now,
        } = self;
        let (db, blobs, cfg) = (&db, &blobs, &cfg);
        let source = Source {
            name: &source_name,
            mailbox: mailbox.as_deref(),
        };
        let source = &source;
        let raw_sha = blobs.put(tx, &raw, now).await?;
        let signer = outbox::identity(tx).await?.signer;
        let mut pre = Prefetched::default();
        let mut ids: Vec<&str> = keys.lookup_ids();
        ids.push(own_id.as_str());
        for (id, number) in store::known_ids(tx, &ids).await? {
            pre.seen.insert(id.clone());
            pre.tickets.insert(id, number);
        }
        if let (Some(n), Some(from)) = (keys.tagged_ticket(), &keys.from)
            && store::is_participant(tx, n, &from.to_lowercase()).await?
        {
            pre.participants.insert((n, from.to_lowercase()));
        }
        let thread = decide(&keys, &pre, &signer);
        let ctx = Ctx {
            db,
            blobs,
            cfg,
            prepared: &prepared,
        };
        let sender = msg.reply_address().map(|a| a.email.to_lowercase());
        let mut log = Logged {
            id: new_id(),
            source: source.name,
            message_id: own_id.clone(),
            sender: sender.clone(),
            subject: msg.subject.clone(),
            raw_sha,
            size: raw.len() as i64,
            auto: msg.auto,
            now,
        };
        let result = match thread {
            Thread::Duplicate => log.write(tx, IntakeOutcome::Duplicate, None, None).await?,
            _ if msg.auto == AutoKind::Bounce => {
                let ticket = match thread {
                    Thread::Existing { ticket, .. } => {
                        let t = tickets::find_for_update(tx, db, ticket).await?;
                        if let Some(t) = &t {
                            service::event(
                                tx,
                                db,
                                &Actor::system(),
                                t,
                                "bounce",
                                format!(
                                    "a mail server reported a delivery failure: {}",
                                    msg.subject
                                ),
                                now,
                            )
                            .await?;
                        }
                        t
                    }
                    _ => None,
                };
                log.write(tx, IntakeOutcome::Bounce, ticket.as_ref(), None)
                    .await?
            }
            _ if sender.is_none() => {
                let mut i = log.write(tx, IntakeOutcome::Rejected, None, None).await?;
                i.reason = Some("the message has no From address to answer".into());
                i
            }
            Thread::Existing { ticket, via } => {
                let t = tickets::find_for_update(tx, db, ticket).await?;
                match t {
                    Some(t) if t.state != State::Closed => {
                        append(tx, &ctx, &msg, &t, &own_id, now).await?;
                        log.write(tx, IntakeOutcome::Appended, Some(&t), Some(via.as_str()))
                            .await?
                    }
                    Some(t) => {
                        let f = service::facts(&t);
                        let window = i64::from(cfg.reopen_days) * 86_400_000;
                        if flow::reopens(&f, t.closed_at, now, window) {
                            append(tx, &ctx, &msg, &t, &own_id, now).await?;
                            log.write(tx, IntakeOutcome::Reopened, Some(&t), Some(via.as_str()))
                                .await?
                        } else {
                            let new = file(tx, &ctx, &msg, &own_id, source, now).await?;
                            store::link(tx, &new.id, &t.id, "follow_up", now).await?;
                            log.write(tx, IntakeOutcome::Linked, Some(&new), Some(via.as_str()))
                                .await?
                        }
                    }
                    None => {
                        let new = file(tx, &ctx, &msg, &own_id, source, now).await?;
                        log.write(tx, IntakeOutcome::Created, Some(&new), None)
                            .await?
                    }
                }
            }
            Thread::New => {
                let new = file(tx, &ctx, &msg, &own_id, source, now).await?;
                log.write(tx, IntakeOutcome::Created, Some(&new), None)
                    .await?
            }
        };
        Ok(result)
    }
}

struct Logged<'a> {
    id: String,
    source: &'a str,
    message_id: String,
    sender: Option<String>,
    subject: String,
    raw_sha: String,
    size: i64,
    auto: AutoKind,
    now: i64,
}

impl Logged<'_> {
    async fn write(
        &mut self,
        tx: &mut Tx,
        outcome: IntakeOutcome,
        ticket: Option<&Ticket>,
        via: Option<&str>,
    ) -> Result<Intake, AppError> {
        store::insert_inbound(
            tx,
            &InboundRow {
                id: &self.id,
                source: self.source,
                message_id: Some(&self.message_id),
                sender: self.sender.as_deref(),
                subject: &self.subject,
                raw_sha256: &self.raw_sha,
                size: self.size,
                auto: self.auto.as_str(),
                outcome: outcome.as_str(),
                via,
                ticket_id: ticket.map(|t| t.id.as_str()),
                now: self.now,
            },
        )
        .await?;
        Ok(Intake {
            id: self.id.clone(),
            outcome,
            ticket: ticket.map(|t| format!("#{}", t.number)),
            via: via.map(str::to_string),
            auto: self.auto.as_str().to_string(),
            reason: None,
        })
    }
}

/// The text a message adds: the whole text for a new ticket, the new words for a reply;
/// never empty and never over the body limit (the raw message keeps everything).
fn text_of(msg: &Inbound, reply: bool) -> String {
    let text = if reply {
        strip_quoted(&msg.text)
    } else {
        msg.text.clone()
    };
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return if msg.attachments.is_empty() {
            "(This email had no text.)".into()
        } else {
            "(This email had only attachments.)".into()
        };
    }
    if text.chars().count() > MAX_BODY {
        let cut: String = text.chars().take(MAX_BODY - 200).collect();
        return format!(
            "{cut}\n\n[The message was longer than {MAX_BODY} characters and is shortened here; the original email is kept in full.]"
        );
    }
    text
}

/// A subject fit for a ticket: one line, not empty, within the limit.
fn subject_of(msg: &Inbound) -> String {
    let s: String = msg
        .subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return "(no subject)".into();
    }
    s.chars().take(MAX_SUBJECT).collect()
}

/// Whether the message was addressed to a security mailbox (`security@…`).
fn to_security(msg: &Inbound, source: &Source<'_>) -> bool {
    let local_is_security = |e: &str| e.split('@').next().unwrap_or("") == "security";
    source.mailbox.is_some_and(local_is_security)
        || msg
            .to
            .iter()
            .chain(&msg.cc)
            .any(|a| local_is_security(&a.email))
}

async fn file(
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    msg: &Inbound,
    own_id: &str,
    source: &Source<'_>,
    now: i64,
) -> Result<Ticket, AppError> {
    let from = msg
        .reply_address()
        .cloned()
        .unwrap_or_else(|| opsdesk_mail::Address {
            email: String::new(),
            name: None,
        });
    let email = from.email.to_lowercase();
    let local = email.split('@').next().unwrap_or("customer").to_string();
    let name = from
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 200 && !n.chars().any(char::is_control))
        .map(str::to_string)
        .unwrap_or(local);
    let security = to_security(msg, source);
    let security_category: Option<Category> = if security {
        ctx.prepared.security.clone()
    } else {
        None
    };
    let subject = subject_of(msg);
    let body = text_of(msg, false);
    let mailbox = source
        .mailbox
        .map(str::to_lowercase)
        .or_else(|| msg.to.first().map(|a| a.email.to_lowercase()));
    let triaged = ctx.prepared.triage.decide(&Incoming {
        sender: &email,
        subject: &subject,
        body: &body,
        mailbox: mailbox.as_deref(),
        channel: Channel::Email.as_str(),
    });
    // A security report stays in the Security category whatever a rule says.
    let mut lines = Vec::new();
    let category = match (security_category, triaged.category) {
        (Some(c), _) => Some(c),
        (None, Some((c, line))) => {
            lines.push(line);
            Some(c)
        }
        (None, None) => None,
    };
    let priority = triaged.priority.map(|(p, line)| {
        lines.push(line);
        p
    });
    let assignee = triaged.assignee.map(|(a, line)| {
        lines.push(line);
        a
    });
    let filed = filing::write_new(
        tx,
        ctx.db,
        ctx.cfg,
        &Actor::system(),
        &Filing {
            subject: &subject,
            body: &body,
            priority: priority.unwrap_or(Priority::Normal),
            category: category.as_ref(),
            security,
            email: &email,
            name: &name,
            channel: Channel::Email,
            by_staff: None,
            assignee: assignee.as_ref(),
            triage: &lines,
            files: None,
            acknowledge: false,
        },
        now,
    )
    .await?;
    let t = tickets::find_for_update(tx, ctx.db, filed.number)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("ticket {} vanished", filed.number)))?;
    keep_mail(tx, ctx, msg, own_id, &t, &filed.message_id, &email, now).await?;
    if ctx.cfg.acknowledge && !msg.auto.is_automatic() {
        let f = Filing {
            subject: &subject,
            body: &body,
            priority: Priority::Normal,
            category: None,
            security,
            email: &email,
            name: &name,
            channel: Channel::Email,
            by_staff: None,
            assignee: None,
            triage: &[],
            files: None,
            acknowledge: true,
        };
        filing::acknowledge(
            tx,
            ctx.cfg,
            &t.id,
            t.number,
            &f,
            filed.security,
            Some(own_id),
            now,
        )
        .await?;
    }
    Ok(t)
}

/// Adds the customer's new words to `t` and applies what a customer message does to the flow.
async fn append(
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    msg: &Inbound,
    t: &Ticket,
    own_id: &str,
    now: i64,
) -> Result<(), AppError> {
    let email = msg
        .reply_address()
        .map(|a| a.email.to_lowercase())
        .unwrap_or_default();
    let name = msg
        .reply_address()
        .and_then(|a| a.name.clone())
        .filter(|n| !n.trim().is_empty() && n.chars().count() <= 200)
        .unwrap_or_else(|| email.split('@').next().unwrap_or("customer").to_string());
    let (author, _, _) = tickets::ensure_requester(tx, &email, &name, now).await?;
    let body = text_of(msg, true);
    let id = tickets::insert_message(
        tx,
        &t.id,
        MessageKind::Customer,
        Some(&author),
        &body,
        "email",
        now,
    )
    .await?;
    crate::tickets::sla::message(tx, &t.id, MessageKind::Customer, now).await?;
    crate::tickets::org_feed::message(tx, t, MessageKind::Customer, &body, now).await?;
    let db = ctx.db;
    search::append(tx, db.backend(), t.number, search::Part::Public, &body).await?;
    tickets::touch(tx, &t.id, false, now).await?;
    let actor = Actor::system();
    service::event(
        tx,
        db,
        &actor,
        t,
        "customer",
        format!("email from {email}"),
        now,
    )
    .await?;
    let f = service::facts(t);
    let follow = if t.state == State::Closed {
        Some(State::Triaged)
    } else {
        flow::on_customer_message(&f)
    };
    if let Some(to) = follow {
        let fields = StepFields {
            category: f.has_category,
            ..StepFields::default()
        };
        let change = flow::plan(&f, to, &fields).map_err(service::flow_error)?;
        tickets::apply_change(tx, &t.id, &change, now).await?;
        crate::tickets::sla::moved(tx, &t.id, t.state, change.to, now).await?;
        crate::tickets::org_feed::moved(tx, t, change.to, now).await?;
        service::event(
            tx,
            db,
            &actor,
            t,
            "transition",
            service::describe(&change),
            now,
        )
        .await?;
    }
    keep_mail(tx, ctx, msg, own_id, t, &id, &email, now).await
}

/// Records the message's id (for threading) and its attachments (each stored once, by hash);
/// attachments over the size limit are named on the timeline (the raw message keeps them).
#[allow(clippy::too_many_arguments)]
async fn keep_mail(
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    msg: &Inbound,
    own_id: &str,
    t: &Ticket,
    message_id: &str,
    sender: &str,
    now: i64,
) -> Result<(), AppError> {
    store::insert_mail_id(
        tx,
        &MailIdRow {
            message_id: own_id,
            ticket_id: &t.id,
            ticket_message_id: Some(message_id),
            direction: "in",
            sender: Some(sender),
            now,
        },
    )
    .await?;
    for a in &msg.attachments {
        if a.data.len() > ctx.cfg.max_attachment_bytes {
            service::event(
                tx,
                ctx.db,
                &Actor::system(),
                t,
                "attachment_skipped",
                format!(
                    "{} ({} bytes) is over the {}-byte attachment limit; it is kept in the original email only",
                    a.filename,
                    a.data.len(),
                    ctx.cfg.max_attachment_bytes
                ),
                now,
            )
            .await?;
            continue;
        }
        let sha = ctx.blobs.put(tx, &a.data, now).await?;
        store::insert_attachment(
            tx,
            &AttachmentRow {
                ticket_id: &t.id,
                ticket_message_id: message_id,
                filename: &a.filename,
                content_type: &a.content_type,
                size: a.data.len() as i64,
                sha256: &sha,
                inline: a.inline,
                content_id: a.content_id.as_deref(),
                now,
            },
        )
        .await?;
    }
    Ok(())
}
