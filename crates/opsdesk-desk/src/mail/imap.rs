//! IMAP polling of support mailboxes: fetch unseen messages without marking them (BODY.PEEK),
//! file each through the intake, and only after its transaction committed mark it seen or move
//! it. A crash between the two leaves the message unseen; the next poll fetches it again and the
//! intake recognizes it as a duplicate, so nothing is lost and nothing is filed twice. A message
//! that can never be filed (not an email, too large) gets the `$OpsdeskRejected` keyword and
//! stays in the mailbox for a person to look at.

use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use futures::TryStreamExt as _;
use opsdesk_core::blobs::Blobs;
use opsdesk_core::config::{ImapMailbox, MailConfig};
use opsdesk_core::db::Db;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::intake::{self, IntakeOutcome, Source};

/// The keyword set on messages that cannot be filed.
pub const REJECTED: &str = "$OpsdeskRejected";
/// Messages fetched per round trip.
const BATCH: usize = 25;

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub fetched: usize,
    pub created: usize,
    pub appended: usize,
    pub duplicates: usize,
    pub other: usize,
    pub rejected: usize,
    /// Left unseen for the next poll (the store was unavailable).
    pub deferred: usize,
}

/// The search that finds work: unseen and not given up on.
pub fn search_query() -> String {
    format!("UNSEEN UNKEYWORD {REJECTED}")
}

/// Polls one mailbox once.
pub async fn poll(
    db: &Db,
    blobs: &Blobs,
    cfg: &MailConfig,
    mb: &ImapMailbox,
) -> anyhow::Result<Report> {
    let port = mb.port.unwrap_or(if mb.tls { 993 } else { 143 });
    let tcp = tokio::time::timeout(
        Duration::from_secs(30),
        TcpStream::connect((mb.host.as_str(), port)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting to {}:{port} timed out", mb.host))??;
    if mb.tls {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(mb.host.clone())
            .map_err(|_| anyhow::anyhow!("{:?} is not a valid TLS server name", mb.host))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        session(tls, db, blobs, cfg, mb).await
    } else {
        session(tcp, db, blobs, cfg, mb).await
    }
}

async fn session<T>(
    stream: T,
    db: &Db,
    blobs: &Blobs,
    cfg: &MailConfig,
    mb: &ImapMailbox,
) -> anyhow::Result<Report>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    client
        .read_response()
        .await?
        .ok_or_else(|| anyhow::anyhow!("{} closed the connection before greeting", mb.host))?;
    // The password never appears in an error: only the server's answer does.
    let mut s = client
        .login(&mb.username, mb.password.expose())
        .await
        .map_err(|(e, _)| anyhow::anyhow!("login as {} refused: {e}", mb.username))?;
    let report = work(&mut s, db, blobs, cfg, mb).await;
    let _ = s.logout().await;
    report
}

async fn work<T>(
    s: &mut Session<T>,
    db: &Db,
    blobs: &Blobs,
    cfg: &MailConfig,
    mb: &ImapMailbox,
) -> anyhow::Result<Report>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    s.select(&mb.folder).await?;
    let mut uids: Vec<u32> = s.uid_search(search_query()).await?.into_iter().collect();
    uids.sort_unstable();
    let mut report = Report::default();
    let name = format!("imap:{}", mb.name);
    for batch in uids.chunks(BATCH) {
        let set = uid_set(batch);
        let fetched: Vec<_> = s
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await?
            .try_collect()
            .await?;
        let mut done = Vec::new();
        let mut rejected = Vec::new();
        for m in &fetched {
            let (Some(uid), Some(raw)) = (m.uid, m.body()) else {
                continue;
            };
            report.fetched += 1;
            let source = Source {
                name: &name,
                mailbox: mb.address.as_deref(),
            };
            match intake::ingest(db, blobs, cfg, raw, &source).await {
                Ok(i) if i.outcome == IntakeOutcome::Rejected => {
                    // Recorded in the inbound log, but nothing to file it under: flag it.
                    report.rejected += 1;
                    rejected.push(uid);
                }
                Ok(i) => {
                    match i.outcome {
                        IntakeOutcome::Created | IntakeOutcome::Linked => report.created += 1,
                        IntakeOutcome::Appended | IntakeOutcome::Reopened => report.appended += 1,
                        IntakeOutcome::Duplicate => report.duplicates += 1,
                        _ => report.other += 1,
                    }
                    done.push(uid);
                }
                Err(e) if e.status.is_client_error() => {
                    tracing::warn!(mailbox = %mb.name, uid, error = %e.message, "message cannot be filed; flagged {REJECTED}");
                    report.rejected += 1;
                    rejected.push(uid);
                }
                Err(e) => {
                    tracing::warn!(mailbox = %mb.name, uid, error = %e.message, "message left unseen for the next poll");
                    report.deferred += 1;
                }
            }
        }
        if !done.is_empty() {
            let set = uid_set(&done);
            match &mb.move_to {
                Some(folder) => s.uid_mv(&set, folder).await?,
                None => {
                    let _: Vec<_> = s
                        .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                        .await?
                        .try_collect()
                        .await?;
                }
            }
        }
        if !rejected.is_empty() {
            let _: Vec<_> = s
                .uid_store(uid_set(&rejected), format!("+FLAGS.SILENT ({REJECTED})"))
                .await?
                .try_collect()
                .await?;
        }
    }
    Ok(report)
}

/// `1,2,5` for the given UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Polls every configured mailbox on its own interval while `active()` says this instance
/// should (the leader), until `shutdown`.
pub async fn run(
    db: Db,
    blobs: Blobs,
    cfg: Arc<MailConfig>,
    active: impl Fn() -> bool + Send + Sync + 'static,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let active = Arc::new(active);
    let mut last: Vec<Option<tokio::time::Instant>> = vec![None; cfg.imap.len()];
    loop {
        for (i, mb) in cfg.imap.iter().enumerate() {
            let due =
                last[i].is_none_or(|t| t.elapsed() >= Duration::from_secs(mb.poll_seconds.max(5)));
            if !due || !active() {
                continue;
            }
            last[i] = Some(tokio::time::Instant::now());
            match poll(&db, &blobs, &cfg, mb).await {
                Ok(r) if r.fetched > 0 => {
                    tracing::info!(mailbox = %mb.name, fetched = r.fetched, created = r.created, appended = r.appended, duplicates = r.duplicates, rejected = r.rejected, deferred = r.deferred, "polled mailbox");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(mailbox = %mb.name, error = %format!("{e:#}"), "polling mailbox failed")
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_unseen_mail_not_given_up_on() {
        assert_eq!(search_query(), "UNSEEN UNKEYWORD $OpsdeskRejected");
        assert_eq!(uid_set(&[3, 4, 9]), "3,4,9");
    }
}
