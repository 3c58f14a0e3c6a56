//! Outgoing mail: a letter is built into its final bytes (signed Message-ID, threading headers,
//! subject tag, body marker) inside the transaction of the change that causes it, recorded in
//! the outbox with its Message-ID, and handed to the `mail.send` job, which delivers it over
//! SMTP with retries. Nothing is sent for a change that did not commit.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lettre::address::{Address as SmtpAddress, Envelope};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use opsdesk_core::clock::{new_id, now_ms};
use opsdesk_core::config::MailConfig;
use opsdesk_core::db::{Db, Pipeline, Tx};
use opsdesk_core::jobs::{NewJob, Registry, store as jobs};
use opsdesk_mail::{Address, Outbound, Signer};

use super::store::{self, MailIdRow, OutboxRow};

pub const KIND_SEND: &str = "mail.send";

/// What to send about a ticket.
pub struct Letter<'a> {
    pub ticket_id: &'a str,
    pub number: i64,
    /// The ticket message this letter carries, if any.
    pub ticket_message_id: Option<&'a str>,
    /// `ack`, `ack_security`, `reply`…
    pub purpose: &'a str,
    pub to_email: &'a str,
    pub to_name: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    /// Automatic mail (acknowledgements) is marked `Auto-Submitted: auto-replied`.
    pub automatic: bool,
    /// Files sent along.
    pub files: &'a [crate::uploads::Upload],
}

/// Who sends: the signer of our Message-IDs, the From address and the brand name.
pub struct Sender {
    pub signer: Signer,
    pub from: Address,
    pub brand: String,
}

impl Sender {
    /// From the instance settings (brand, support address) and the signing secret.
    pub fn from_settings(brand: String, support: String, secret: String) -> Sender {
        let brand = if brand.trim().is_empty() {
            "opsdesk".to_string()
        } else {
            brand
        };
        let domain = support
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "localhost".into());
        let signer = Signer::new(secret, &domain);
        let email = if support.contains('@') {
            support
        } else {
            format!("support@{}", signer.domain())
        };
        let from = Address {
            email,
            name: Some(format!("{brand} Support")),
        };
        Sender {
            signer,
            from,
            brand,
        }
    }
}

/// The sender of this instance, read inside `tx`.
pub async fn identity(tx: &mut Tx) -> Result<Sender, sqlx::Error> {
    let (brand, support, secret) = store::sender_settings(tx).await?;
    Ok(Sender::from_settings(brand, support, secret))
}

/// The ids a letter refers to: the message it answers and the conversation so far.
pub type Thread = (Option<String>, Vec<String>);

/// Builds `letter`, records it and queues its delivery; returns the outbox id. `thread` is read
/// from the store when not given (a brand-new ticket knows its own). A letter that cannot be
/// built (an address no server would accept) is recorded as failed, not dropped.
pub async fn queue(
    tx: &mut Tx,
    cfg: &MailConfig,
    sender: &Sender,
    letter: &Letter<'_>,
    thread: Option<Thread>,
    now: i64,
) -> Result<String, sqlx::Error> {
    let thread = match thread {
        Some(t) => t,
        None => store::thread_ids(tx, letter.ticket_id).await?,
    };
    let mut p = Pipeline::new();
    let id = stage(&mut p, cfg, sender, letter, thread, now);
    p.execute(tx).await?;
    Ok(id)
}

/// [`queue`] with the thread known, as statements of a pipeline; returns the outbox id.
pub fn stage(
    p: &mut Pipeline,
    cfg: &MailConfig,
    sender: &Sender,
    letter: &Letter<'_>,
    thread: Thread,
    now: i64,
) -> String {
    let signer = &sender.signer;
    let from = &sender.from;
    let (in_reply_to, previous) = thread;
    let id = new_id();
    let out = Outbound {
        from: from.clone(),
        to: vec![Address {
            email: letter.to_email.to_string(),
            name: Some(letter.to_name.to_string()),
        }],
        cc: Vec::new(),
        subject: letter.subject.to_string(),
        ticket_number: letter.number,
        message_key: letter.ticket_message_id.unwrap_or(&id).to_string(),
        in_reply_to,
        previous_ids: previous,
        automatic: letter.automatic,
        date_ms: now,
        text: letter.text.to_string(),
        html: None,
        attachments: letter
            .files
            .iter()
            .map(|f| opsdesk_mail::OutAttachment {
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                data: f.data.clone(),
            })
            .collect(),
    };
    let (subject, message_id, raw, state, error) = match out.build(signer) {
        Ok(b) => (
            b.subject,
            b.message_id,
            String::from_utf8_lossy(&b.bytes).into_owned(),
            "queued",
            None,
        ),
        Err(e) => (
            letter.subject.to_string(),
            signer.message_id(letter.number, &id),
            String::new(),
            "failed",
            Some(e.to_string()),
        ),
    };
    store::push_outbox(
        p,
        &OutboxRow {
            id: &id,
            ticket_id: Some(letter.ticket_id),
            ticket_message_id: letter.ticket_message_id,
            purpose: letter.purpose,
            sender: &from.email,
            recipients: letter.to_email,
            subject: &subject,
            message_id: &message_id,
            raw: &raw,
            state,
            last_error: error.as_deref(),
            now,
        },
    );
    if error.is_some() {
        return id;
    }
    store::push_mail_id(
        p,
        &MailIdRow {
            message_id: &message_id,
            ticket_id: letter.ticket_id,
            ticket_message_id: letter.ticket_message_id,
            direction: "out",
            sender: None,
            now,
        },
    );
    let mut job = NewJob::now(KIND_SEND, serde_json::json!({ "outbox": id }));
    job.max_attempts = i64::from(cfg.max_attempts.max(1));
    jobs::push_enqueue(p, &job);
    id
}

/// Queues a message that is not about a ticket (a portal sign-in link); returns the outbox id.
#[allow(clippy::too_many_arguments)]
pub async fn queue_notice(
    tx: &mut Tx,
    cfg: &MailConfig,
    sender: &Sender,
    to: &Address,
    purpose: &str,
    subject: &str,
    text: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let message_id = format!("{purpose}.{id}@{}", sender.signer.domain());
    let notice = opsdesk_mail::Notice {
        from: sender.from.clone(),
        to: to.clone(),
        subject: subject.to_string(),
        message_id: message_id.clone(),
        date_ms: now,
        text: text.to_string(),
    };
    let (raw, state, error) = match notice.build() {
        Ok(b) => (String::from_utf8_lossy(&b).into_owned(), "queued", None),
        Err(e) => (String::new(), "failed", Some(e.to_string())),
    };
    store::insert_outbox(
        tx,
        &OutboxRow {
            id: &id,
            ticket_id: None,
            ticket_message_id: None,
            purpose,
            sender: &sender.from.email,
            recipients: &to.email,
            subject,
            message_id: &message_id,
            raw: &raw,
            state,
            last_error: error.as_deref(),
            now,
        },
    )
    .await?;
    if error.is_none() {
        let mut job = NewJob::now(KIND_SEND, serde_json::json!({ "outbox": id }));
        job.max_attempts = i64::from(cfg.max_attempts.max(1));
        jobs::enqueue(tx, &job).await?;
    }
    Ok(id)
}

/// Registers the delivery job with the mail configuration it needs.
pub fn register(registry: &mut Registry, cfg: Arc<MailConfig>) {
    let transport = Arc::new(Transport::new(cfg.smtp_connections));
    registry.register(KIND_SEND, move |ctx| {
        let (cfg, transport) = (cfg.clone(), transport.clone());
        async move {
            let id = ctx
                .payload
                .get("outbox")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            deliver(&ctx.db, &cfg, &transport, &id, ctx.attempt).await
        }
    });
}

/// The outgoing mail server's client, built on first use and kept: its pool keeps connections
/// open between messages, so a message costs its own dialogue only — not a new connection, the
/// greeting and EHLO (nor, with TLS, a handshake) each time. A pooled connection is tested with
/// NOOP before it is used again; a broken one is dropped. At most `[mail] smtp_connections`
/// messages are sent at once, so no more connections than that are open.
pub struct Transport {
    client: OnceLock<Result<AsyncSmtpTransport<Tokio1Executor>, String>>,
    sending: tokio::sync::Semaphore,
    connections: u32,
}

impl Transport {
    pub fn new(connections: u32) -> Transport {
        let connections = connections.clamp(1, 100);
        Transport {
            client: OnceLock::new(),
            sending: tokio::sync::Semaphore::new(connections as usize),
            connections,
        }
    }

    /// The client for `url` (the configuration's, which does not change while the server runs).
    fn get(&self, url: &str) -> Result<&AsyncSmtpTransport<Tokio1Executor>, Failure> {
        self.client
            .get_or_init(|| {
                // The URL may hold a password: its parse error is described, never echoed.
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|b| {
                        b.timeout(Some(Duration::from_secs(30)))
                            .pool_config(PoolConfig::new().max_size(self.connections))
                            .build()
                    })
                    .map_err(|_| "the configured smtp_url is not a valid SMTP URL".to_string())
            })
            .as_ref()
            .map_err(|e| Failure::Permanent(e.clone()))
    }
}

/// Sends one outbox message. Temporary failures return an error so the queue retries with
/// backoff; permanent ones (5xx) and the last attempt mark the message failed.
pub async fn deliver(
    db: &Db,
    cfg: &MailConfig,
    transport: &Transport,
    id: &str,
    attempt: i64,
) -> anyhow::Result<()> {
    let Some(p) = store::pending(db, id).await? else {
        return Ok(());
    };
    if p.state == "sent" || p.state == "failed" {
        return Ok(());
    }
    let Some(url) = &cfg.smtp_url else {
        store::mark_outbox(
            db,
            id,
            "unsent",
            Some("no outgoing mail server is configured ([mail] smtp_url)"),
            now_ms(),
        )
        .await?;
        return Ok(());
    };
    let result = match transport.get(url.expose()) {
        Ok(t) => {
            let _sending = transport.sending.acquire().await;
            send(t, &p).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            store::mark_outbox(db, id, "sent", None, now_ms()).await?;
            metrics::counter!("opsdesk_mail_sent_total").increment(1);
            Ok(())
        }
        Err(Failure::Permanent(e)) => {
            store::mark_outbox(db, id, "failed", Some(&e), now_ms()).await?;
            metrics::counter!("opsdesk_mail_failed_total").increment(1);
            Ok(())
        }
        Err(Failure::Temporary(e)) => {
            let last = attempt >= i64::from(cfg.max_attempts.max(1));
            let state = if last { "failed" } else { "retrying" };
            store::mark_outbox(db, id, state, Some(&e), now_ms()).await?;
            if last {
                metrics::counter!("opsdesk_mail_failed_total").increment(1);
            }
            anyhow::bail!("delivering {id}: {e}")
        }
    }
}

enum Failure {
    Permanent(String),
    Temporary(String),
}

async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    p: &store::Pending,
) -> Result<(), Failure> {
    let from: SmtpAddress = p
        .sender
        .parse()
        .map_err(|_| Failure::Permanent(format!("invalid sender address {:?}", p.sender)))?;
    let to = p
        .recipients
        .iter()
        .map(|r| {
            r.parse::<SmtpAddress>()
                .map_err(|_| Failure::Permanent(format!("invalid recipient address {r:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let envelope = Envelope::new(Some(from), to).map_err(|e| Failure::Permanent(e.to_string()))?;
    match transport.send_raw(&envelope, p.raw.as_bytes()).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(Failure::Permanent(e.to_string())),
        Err(e) => Err(Failure::Temporary(e.to_string())),
    }
}
