//! The built-in SMTP receiver: smtp-proto parses the commands, a small pure session decides the
//! replies, and a tokio loop per connection moves the bytes. A message is answered `250` only
//! after the intake has committed it, so a sending server keeps (and retries) anything we could
//! not store. SIZE and 8BITMIME are offered; no relaying, no AUTH, no STARTTLS (put a relay with
//! TLS in front when receiving from the internet).

use std::sync::Arc;
use std::time::Duration;

use opsdesk_core::blobs::Blobs;
use opsdesk_core::config::{MailConfig, SmtpConfig};
use opsdesk_core::db::Db;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{EXT_8BIT_MIME, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE};
use smtp_proto::{EhloResponse, Error as ProtoError, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::intake::{self, Source};

/// Most recipients taken for one message.
const MAX_RECIPIENTS: usize = 100;
/// A client silent this long is disconnected.
const IDLE: Duration = Duration::from_secs(300);

/// What the session wants next after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the reply and read the next command.
    Reply(String),
    /// Send the reply and read message data.
    Data(String),
    /// Send the reply and close.
    Close(String),
}

/// The state of one SMTP conversation (pure: no I/O).
#[derive(Debug, Default)]
pub struct Session {
    greeted: bool,
    from: Option<String>,
    rcpt: Vec<String>,
}

impl Session {
    /// Answers one command.
    pub fn command(&mut self, req: Request<std::borrow::Cow<'_, str>>, cfg: &Limits) -> Next {
        match req {
            Request::Ehlo { .. } => {
                self.greeted = true;
                self.reset();
                let mut e = EhloResponse::new(cfg.hostname.as_str());
                e.capabilities =
                    EXT_8BIT_MIME | EXT_SIZE | EXT_PIPELINING | EXT_ENHANCED_STATUS_CODES;
                e.size = cfg.max_bytes;
                let mut out = Vec::new();
                let _ = e.write(&mut out);
                Next::Reply(String::from_utf8_lossy(&out).into_owned())
            }
            Request::Helo { .. } | Request::Lhlo { .. } => {
                self.greeted = true;
                self.reset();
                Next::Reply(format!("250 {}\r\n", cfg.hostname))
            }
            Request::Mail { from } => {
                if !self.greeted {
                    return Next::Reply("503 5.5.1 Say EHLO first\r\n".into());
                }
                if self.from.is_some() {
                    return Next::Reply("503 5.5.1 Sender already given\r\n".into());
                }
                if from.size > cfg.max_bytes {
                    return Next::Reply(format!(
                        "552 5.3.4 Message too big: the limit is {} bytes\r\n",
                        cfg.max_bytes
                    ));
                }
                self.from = Some(from.address.to_string());
                Next::Reply("250 2.1.0 Sender OK\r\n".into())
            }
            Request::Rcpt { to } => {
                if self.from.is_none() {
                    return Next::Reply("503 5.5.1 MAIL FROM first\r\n".into());
                }
                if self.rcpt.len() >= MAX_RECIPIENTS {
                    return Next::Reply("452 4.5.3 Too many recipients\r\n".into());
                }
                let address = to.address.to_lowercase();
                let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
                if !cfg.accept_domains.is_empty()
                    && !cfg
                        .accept_domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(domain))
                {
                    return Next::Reply(format!(
                        "550 5.7.1 Relaying denied: not accepting mail for {domain}\r\n"
                    ));
                }
                self.rcpt.push(address);
                Next::Reply("250 2.1.5 Recipient OK\r\n".into())
            }
            Request::Data => {
                if self.rcpt.is_empty() {
                    return Next::Reply("503 5.5.1 RCPT TO first\r\n".into());
                }
                Next::Data("354 Start mail input; end with <CRLF>.<CRLF>\r\n".into())
            }
            Request::Rset => {
                self.reset();
                Next::Reply("250 2.0.0 OK\r\n".into())
            }
            Request::Noop { .. } => Next::Reply("250 2.0.0 OK\r\n".into()),
            Request::Vrfy { .. } => {
                Next::Reply("252 2.5.0 Cannot verify, but will accept the message\r\n".into())
            }
            Request::Quit => Next::Close("221 2.0.0 Bye\r\n".into()),
            Request::StartTls => Next::Reply("502 5.5.1 STARTTLS is not offered here\r\n".into()),
            Request::Auth { .. } => Next::Reply("502 5.5.1 AUTH is not offered here\r\n".into()),
            other => Next::Reply(format!("502 5.5.1 {} is not supported\r\n", other.name())),
        }
    }

    /// The first recipient (the mailbox a message was sent to).
    pub fn mailbox(&self) -> Option<&str> {
        self.rcpt.first().map(String::as_str)
    }

    /// Forgets the current message (after it was taken, or on RSET/EHLO).
    pub fn reset(&mut self) {
        self.from = None;
        self.rcpt.clear();
    }
}

/// The receiver's settings as the session needs them.
#[derive(Clone, Debug)]
pub struct Limits {
    pub hostname: String,
    pub max_bytes: usize,
    pub accept_domains: Vec<String>,
}

/// What a connection needs to file mail.
#[derive(Clone)]
pub struct Receiver {
    pub db: Db,
    pub blobs: Blobs,
    pub mail: Arc<MailConfig>,
    pub limits: Arc<Limits>,
}

impl Receiver {
    pub fn new(db: Db, blobs: Blobs, mail: &MailConfig, smtp: &SmtpConfig) -> Receiver {
        Receiver {
            db,
            blobs,
            mail: Arc::new(mail.clone()),
            limits: Arc::new(Limits {
                hostname: smtp.hostname.clone(),
                max_bytes: mail.max_message_bytes,
                accept_domains: smtp.accept_domains.clone(),
            }),
        }
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    receiver: Receiver,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "smtp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, &r).await {
                tracing::debug!(%peer, error = %e, "smtp connection ended");
            }
            drop(permit);
        });
    }
}

async fn read_some(stream: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    match tokio::time::timeout(IDLE, stream.read(buf)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "idle timeout",
        )),
    }
}

async fn connection(mut stream: TcpStream, r: &Receiver) -> std::io::Result<()> {
    stream
        .write_all(format!("220 {} opsdesk ESMTP ready\r\n", r.limits.hostname).as_bytes())
        .await?;
    let mut session = Session::default();
    let mut parser = RequestReceiver::default();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut input: Vec<u8> = Vec::new();
    loop {
        if input.is_empty() {
            let n = read_some(&mut stream, &mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            input = chunk[..n].to_vec();
        }
        let bytes = std::mem::take(&mut input);
        let mut iter = bytes.iter();
        let mut out = String::new();
        let mut then = None;
        while !iter.as_slice().is_empty() {
            let before = iter.as_slice().len();
            match parser.ingest(&mut iter) {
                Ok(req) => match session.command(req, &r.limits) {
                    Next::Reply(s) => out.push_str(&s),
                    next => {
                        then = Some(next);
                        break;
                    }
                },
                // The parser keeps a partial line until the rest arrives.
                Err(ProtoError::NeedsMoreData { .. }) => break,
                Err(ProtoError::ResponseTooLong) => out.push_str("500 5.5.2 Line too long\r\n"),
                Err(ProtoError::UnknownCommand) => out.push_str("500 5.5.2 Unknown command\r\n"),
                Err(_) => out.push_str("501 5.5.4 Syntax error in parameters\r\n"),
            }
            if iter.as_slice().len() == before {
                break;
            }
        }
        let rest = iter.as_slice().to_vec();
        match then {
            None => stream.write_all(out.as_bytes()).await?,
            Some(Next::Close(s)) => {
                out.push_str(&s);
                stream.write_all(out.as_bytes()).await?;
                return Ok(());
            }
            Some(Next::Data(s) | Next::Reply(s)) => {
                out.push_str(&s);
                stream.write_all(out.as_bytes()).await?;
                let (reply, after) =
                    receive_data(&mut stream, rest, &mut chunk, r, &session).await?;
                session.reset();
                stream.write_all(reply.as_bytes()).await?;
                input = after;
            }
        }
    }
}

/// Reads message data up to the final dot, files it, and says how it went. Returns the reply
/// and any bytes that followed the data (a pipelined next command).
async fn receive_data(
    stream: &mut TcpStream,
    first: Vec<u8>,
    chunk: &mut [u8],
    r: &Receiver,
    session: &Session,
) -> std::io::Result<(String, Vec<u8>)> {
    let mut receiver = DataReceiver::new();
    let mut message = Vec::new();
    let mut input = first;
    let mut too_big = false;
    loop {
        let mut iter = input.iter();
        let done = receiver.ingest(&mut iter, &mut message);
        if message.len() > r.limits.max_bytes {
            too_big = true;
            message.clear();
            message.shrink_to(64 * 1024);
        }
        if done {
            let after = iter.as_slice().to_vec();
            if too_big {
                return Ok((
                    format!(
                        "552 5.3.4 Message too big: the limit is {} bytes\r\n",
                        r.limits.max_bytes
                    ),
                    after,
                ));
            }
            return Ok((file(&message, r, session).await, after));
        }
        let n = read_some(stream, chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed during DATA",
            ));
        }
        input = chunk[..n].to_vec();
    }
}

async fn file(message: &[u8], r: &Receiver, session: &Session) -> String {
    let source = Source {
        name: "smtp",
        mailbox: session.mailbox(),
    };
    match intake::ingest(&r.db, &r.blobs, &r.mail, message, &source).await {
        Ok(i) => format!(
            "250 2.0.0 OK {}{}\r\n",
            i.outcome.as_str(),
            i.ticket.map(|t| format!(" {t}")).unwrap_or_default()
        ),
        Err(e) if e.status.is_client_error() => {
            format!("554 5.6.0 {}\r\n", one_line(&e.message))
        }
        Err(e) => {
            e.log();
            "451 4.3.0 Temporary failure storing the message, try again later\r\n".into()
        }
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn limits() -> Limits {
        Limits {
            hostname: "desk.test".into(),
            max_bytes: 1000,
            accept_domains: vec!["support.test".into()],
        }
    }

    fn parse(line: &str) -> Request<Cow<'_, str>> {
        Request::parse(&mut line.as_bytes().iter()).unwrap_or_else(|e| panic!("{line}: {e:?}"))
    }

    fn text(n: Next) -> String {
        match n {
            Next::Reply(s) | Next::Data(s) | Next::Close(s) => s,
        }
    }

    #[test]
    fn a_conversation_in_order_is_accepted() {
        let l = limits();
        let mut s = Session::default();
        let ehlo = text(s.command(parse("EHLO client.test\r\n"), &l));
        assert!(ehlo.contains("SIZE 1000"), "{ehlo}");
        assert!(ehlo.contains("8BITMIME"), "{ehlo}");
        assert!(text(s.command(parse("MAIL FROM:<a@b.test>\r\n"), &l)).starts_with("250"));
        assert!(text(s.command(parse("RCPT TO:<Help@Support.test>\r\n"), &l)).starts_with("250"));
        assert_eq!(s.mailbox(), Some("help@support.test"));
        assert!(matches!(s.command(parse("DATA\r\n"), &l), Next::Data(_)));
        assert!(matches!(s.command(parse("QUIT\r\n"), &l), Next::Close(_)));
    }

    #[test]
    fn out_of_order_oversized_and_foreign_mail_is_refused() {
        let l = limits();
        let mut s = Session::default();
        assert!(text(s.command(parse("MAIL FROM:<a@b.test>\r\n"), &l)).starts_with("503"));
        s.command(parse("EHLO x\r\n"), &l);
        assert!(text(s.command(parse("RCPT TO:<a@support.test>\r\n"), &l)).starts_with("503"));
        assert!(text(s.command(parse("DATA\r\n"), &l)).starts_with("503"));
        assert!(
            text(s.command(parse("MAIL FROM:<a@b.test> SIZE=5000\r\n"), &l)).starts_with("552")
        );
        s.command(parse("MAIL FROM:<a@b.test>\r\n"), &l);
        assert!(text(s.command(parse("RCPT TO:<x@elsewhere.test>\r\n"), &l)).starts_with("550"));
        assert!(text(s.command(parse("STARTTLS\r\n"), &l)).starts_with("502"));
    }
}
