//! Filing new tickets: the checks of the web form and the API, and the one write every channel
//! (form, API, email) shares — ticket, first message, search document, timeline, audit, and the
//! acknowledgement in the outbox — in the caller's transaction.

use opsdesk_core::accounts::User;
use opsdesk_core::accounts::model::{DisplayName, EmailAddress};
use opsdesk_core::audit::{self, Actor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::{Backend, Db, Pipeline, Tx};
use opsdesk_core::error::{AppError, Fields};

use super::input::NewTicket;
use super::model::{Category, Channel, MessageKind, Person, Priority, Ticket};
use super::search;
use super::service::{category, parse_body, parse_subject};
use super::store::{self, NewTicketRow};
use super::triage::Incoming;
use super::triage_service;
use crate::mail::outbox::{self, Letter};
use crate::mail::{store as mail_store, templates};
use crate::uploads::Upload;
use opsdesk_core::blobs::Blobs;

/// A checked new ticket, ready to be written.
pub struct Filing<'a> {
    pub subject: &'a str,
    pub body: &'a str,
    pub priority: Priority,
    pub category: Option<&'a Category>,
    /// Filed to a security mailbox: private even without the Security category.
    pub security: bool,
    pub email: &'a str,
    pub name: &'a str,
    pub channel: Channel,
    /// Staff filing on a customer's behalf (their message is then a team reply when they file
    /// for themselves).
    pub by_staff: Option<&'a User>,
    /// Set by a triage rule.
    pub assignee: Option<&'a Person>,
    /// What triage rules did, for the timeline.
    pub triage: &'a [String],
    /// Files uploaded with the first message, and where to keep them.
    pub files: Option<(&'a Blobs, &'a [Upload])>,
    /// Send the acknowledgement now (never for automatic mail; the email intake sends it
    /// itself once the customer's Message-ID is stored, so the acknowledgement answers it).
    pub acknowledge: bool,
}

/// What the write produced.
pub struct Filed {
    pub id: String,
    pub number: i64,
    pub message_id: String,
    pub requester_id: String,
    pub security: bool,
}

/// Files a new ticket from the form or the API. `by` is the signed-in caller (None on the
/// public form).
pub async fn create(
    db: &Db,
    mail: &MailConfig,
    actor: &Actor,
    by: Option<&User>,
    channel: Channel,
    input: NewTicket,
    files: Option<(&Blobs, &[Upload])>,
) -> Result<Ticket, AppError> {
    let mut fields = Fields::default();
    let subject = fields.check("subject", parse_subject(&input.subject));
    let body = fields.check("body", parse_body(&input.body));
    let staff = by.is_some_and(|u| u.role.is_staff());
    let priority = match input.priority.as_deref().map(str::trim) {
        None | Some("") => Some(Priority::Normal),
        Some(_) if !staff => {
            fields.add("priority", "is set by the support team");
            None
        }
        Some(p) => fields.check(
            "priority",
            Priority::parse(p).ok_or("must be low, normal, high or urgent"),
        ),
    };
    let requester = match by {
        Some(u) if !u.role.is_staff() => {
            if let Some(e) = input.email.as_deref().filter(|e| !e.trim().is_empty())
                && !e.trim().eq_ignore_ascii_case(&u.email)
            {
                fields.add("email", "customers file tickets for themselves");
            }
            Some((u.email.clone(), u.name.clone()))
        }
        _ => {
            let email = fields.check(
                "email",
                EmailAddress::parse(input.email.as_deref().unwrap_or("")),
            );
            let fallback = email
                .as_ref()
                .map(|e| e.as_str().split('@').next().unwrap_or("").to_string())
                .unwrap_or_default();
            let raw_name = input
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(fallback);
            let name = fields.check("name", DisplayName::parse(&raw_name));
            email
                .zip(name)
                .map(|(e, n)| (e.as_str().to_string(), n.as_str().to_string()))
        }
    };
    let cat = fields
        .check("category", category(db, input.category.as_deref()).await?)
        .flatten();
    fields.finish()?;
    let (Some(subject), Some(body), Some(priority), Some((email, name))) =
        (subject, body, priority, requester)
    else {
        return Err(AppError::bad_request("invalid_input", "invalid ticket"));
    };
    let triaged = triage_service::prepare(db).await?.decide(&Incoming {
        sender: &email,
        subject: &subject,
        body: &body,
        mailbox: None,
        channel: channel.as_str(),
    });
    // What the requester or an agent chose wins over a rule.
    let mut lines = Vec::new();
    let explicit_priority = input
        .priority
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty());
    let priority = match triaged.priority {
        Some((p, line)) if !explicit_priority => {
            lines.push(line);
            p
        }
        _ => priority,
    };
    let cat = match (cat, triaged.category) {
        (Some(c), _) => Some(c),
        (None, Some((c, line))) => {
            lines.push(line);
            Some(c)
        }
        (None, None) => None,
    };
    let assignee = triaged.assignee.map(|(a, line)| {
        lines.push(line);
        a
    });
    // Group commit: this body shares one transaction (and one fsync) with other tickets filed
    // at the same moment; it returns once that transaction committed.
    let owned = Owned {
        db: db.clone(),
        mail: mail.clone(),
        actor: actor.clone(),
        subject,
        body,
        priority,
        category: cat,
        email,
        name,
        channel,
        by_staff: by.filter(|u| u.role.is_staff()).cloned(),
        assignee,
        lines,
        files: files.map(|(b, f)| (b.clone(), f.to_vec())),
    };
    let filed = db
        .batched(move |tx: &mut Tx| Box::pin(async move { owned.write(tx).await }))
        .await?;
    store::find(db, filed.number).await?.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "ticket {} vanished after commit",
            filed.number
        ))
    })
}

/// A checked new ticket with everything it needs, owned, so the group-commit writer can run it.
struct Owned {
    db: Db,
    mail: MailConfig,
    actor: Actor,
    subject: String,
    body: String,
    priority: Priority,
    category: Option<Category>,
    email: String,
    name: String,
    channel: Channel,
    by_staff: Option<User>,
    assignee: Option<Person>,
    lines: Vec<String>,
    files: Option<(Blobs, Vec<Upload>)>,
}

impl Owned {
    async fn write(self, tx: &mut Tx) -> Result<Filed, AppError> {
        let files = self.files.as_ref().map(|(b, f)| (b, f.as_slice()));
        write_new(
            tx,
            &self.db,
            &self.mail,
            &self.actor,
            &Filing {
                subject: &self.subject,
                body: &self.body,
                priority: self.priority,
                category: self.category.as_ref(),
                security: false,
                email: &self.email,
                name: &self.name,
                channel: self.channel,
                by_staff: self.by_staff.as_ref(),
                assignee: self.assignee.as_ref(),
                triage: &self.lines,
                files,
                acknowledge: true,
            },
            now_ms(),
        )
        .await
    }
}

/// Writes a checked new ticket in `tx`. Lock order for every ticket write: counter or ticket
/// row first, the audit head last. Two round trips to the database on SQLite, three on
/// PostgreSQL (one more with files, one or two more when the requester's organization has a
/// webhook): the statements go in pipelines
/// (see [`Pipeline`]), which on SQLite's one writer connection is what makes intake fast.
pub async fn write_new(
    tx: &mut Tx,
    db: &Db,
    mail: &MailConfig,
    actor: &Actor,
    f: &Filing<'_>,
    now: i64,
) -> Result<Filed, AppError> {
    let backend = db.backend();
    let by_requester = f.by_staff.filter(|u| u.email.eq_ignore_ascii_case(f.email));
    let kind = match by_requester {
        Some(_) => MessageKind::Reply,
        None => MessageKind::Customer,
    };
    let security = f.security || f.category.is_some_and(|c| c.security);
    let ack = f.acknowledge && mail.acknowledge && kind == MessageKind::Customer;
    // On SQLite's one writer connection, where each round trip is the cost, the audit head and
    // the acknowledgement's settings are read with the number (two round trips in all). On
    // PostgreSQL the head is locked as late as possible, as it serializes every audit write;
    // with files, after they are kept.
    let early = backend == Backend::Sqlite && f.files.is_none();
    // The number, the requester's account and the tier they file under.
    let mut p = Pipeline::new();
    store::push_next_number(&mut p);
    let fresh = store::push_requester(&mut p, f.email, f.name, now);
    super::sla::push_tier(&mut p, f.email, f.priority);
    let head_at = early.then(|| push_head_and_letter(&mut p, backend, ack, security));
    let first = p.rows(tx).await?;
    let number = store::number_from(&first[0])?;
    let (requester_id, org_id, new_account) = store::requester_from(&first[1], &fresh)?;
    let id = new_id();
    super::org_feed::opened(tx, org_id.as_deref(), security, number, f.subject, now).await?;

    // The ticket, its clocks, first message, search document and timeline; then the audit head
    // and, for the acknowledgement, the sender settings and template.
    let mut p = Pipeline::new();
    store::push_ticket(
        &mut p,
        &NewTicketRow {
            id: &id,
            number,
            subject: f.subject,
            category_id: f.category.map(|c| c.id.as_str()),
            priority: f.priority,
            channel: f.channel,
            requester_id: &requester_id,
            organization_id: org_id.as_deref(),
            assignee_id: f.assignee.map(|a| a.id.as_str()),
            security,
            now,
        },
    );
    super::sla::push_opened(&mut p, &first[2], &id, f.priority, now)?;
    let author = by_requester.map_or_else(|| requester_id.clone(), |u| u.id.clone());
    let message_id = store::push_message(
        &mut p,
        &id,
        kind,
        Some(&author),
        f.body,
        f.channel.as_str(),
        now,
    );
    search::push_create(&mut p, backend, number, f.subject, f.body, "");
    let detail = format!(
        "#{number} via {} from {}{}{}",
        f.channel.as_str(),
        f.email,
        f.category
            .map(|c| format!(" category={}", c.name))
            .unwrap_or_default(),
        if security { " (security report)" } else { "" }
    );
    store::push_event(&mut p, &id, &actor.label, "create", &detail, now);
    for line in f.triage {
        store::push_event(&mut p, &id, "system", "triage", line, now);
    }
    if let Some((blobs, files)) = f.files {
        // The message must exist before its files, and the files' rows before the audit lock.
        p.execute(tx).await?;
        crate::uploads::keep(tx, blobs, &id, &message_id, files, now).await?;
        p = Pipeline::new();
    }
    // Then the audit head and the acknowledgement's settings, if not read already.
    let (rows, head_at) = match head_at {
        Some(at) => (first, at),
        None => {
            let at = push_head_and_letter(&mut p, backend, ack, security);
            let rows = p.rows(tx).await?;
            p = Pipeline::new();
            (rows, at)
        }
    };

    // The audit records and the acknowledgement.
    let mut chain = audit::store::Chain::from_rows(&rows[head_at])?;
    if new_account {
        chain.append(
            &mut p,
            actor.entry(
                "user.create",
                format!("user:{requester_id}"),
                format!("email={} role=customer (ticket intake)", f.email),
            ),
        );
    }
    chain.append(
        &mut p,
        actor.entry("ticket.create", format!("ticket:{number}"), detail),
    );
    chain.finish(&mut p);
    if ack {
        let settings = mail_store::letter_settings_from(&rows[head_at + 1])?;
        stage_acknowledgement(&mut p, mail, settings, &id, number, f, security, None, now);
    }
    p.execute(tx).await?;
    metrics::counter!("opsdesk_tickets_created_total", "channel" => f.channel.as_str())
        .increment(1);
    Ok(Filed {
        id,
        number,
        message_id,
        requester_id,
        security,
    })
}

/// Pushes the audit head's read (locked on PostgreSQL) and, with `ack`, the acknowledgement's
/// settings right after it; returns the head's index in the pipeline.
fn push_head_and_letter(p: &mut Pipeline, backend: Backend, ack: bool, security: bool) -> usize {
    let at = p.len();
    audit::store::push_head(p, backend);
    if ack {
        mail_store::push_letter_settings(p, ack_template(security));
    }
    at
}

/// The acknowledgement's template: its own for security reports.
fn ack_template(security: bool) -> &'static str {
    if security { "ack_security" } else { "ack" }
}

/// Queues the acknowledgement from the admin-editable template (its own for security reports).
/// `inbound` is the Message-ID of the customer's email the acknowledgement answers, if any.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn acknowledge(
    tx: &mut Tx,
    mail: &MailConfig,
    id: &str,
    number: i64,
    f: &Filing<'_>,
    security: bool,
    inbound: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    let settings = mail_store::letter_settings(tx, ack_template(security)).await?;
    let mut p = Pipeline::new();
    stage_acknowledgement(
        &mut p, mail, settings, id, number, f, security, inbound, now,
    );
    p.execute(tx).await?;
    Ok(())
}

/// [`acknowledge`] with its settings read, as statements of a pipeline.
#[allow(clippy::too_many_arguments)]
fn stage_acknowledgement(
    p: &mut Pipeline,
    mail: &MailConfig,
    settings: mail_store::LetterSettings,
    id: &str,
    number: i64,
    f: &Filing<'_>,
    security: bool,
    inbound: Option<&str>,
    now: i64,
) {
    let (brand, support, secret, template) = settings;
    let Some((subject, body)) = template else {
        return;
    };
    let key = ack_template(security);
    let sender = outbox::Sender::from_settings(brand, support, secret);
    let reference = format!("#{number}");
    let vars = [
        ("name", f.name),
        ("email", f.email),
        ("ref", reference.as_str()),
        ("subject", f.subject),
        ("brand", sender.brand.as_str()),
    ];
    // A new ticket's conversation is just the customer's message (if it came by email).
    let thread = (
        inbound.map(str::to_string),
        inbound.map(|i| vec![i.to_string()]).unwrap_or_default(),
    );
    outbox::stage(
        p,
        mail,
        &sender,
        &Letter {
            ticket_id: id,
            number,
            ticket_message_id: None,
            purpose: key,
            to_email: f.email,
            to_name: f.name,
            subject: &templates::render(&subject, &vars),
            text: &templates::render(&body, &vars),
            automatic: true,
            files: &[],
        },
        thread,
        now,
    );
}
