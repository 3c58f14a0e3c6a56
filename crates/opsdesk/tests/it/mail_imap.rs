//! IMAP polling against a real Dovecot (started by `scripts/test`): unseen mail is filed and
//! then marked seen or moved; a message whose "seen" flag was never set (a crash after the
//! commit) is recognized on the next poll instead of filed twice; one that cannot be filed is
//! flagged and left for a person.

use futures::TryStreamExt as _;
use opsdesk_core::blobs::Blobs;
use opsdesk_core::config::{ImapMailbox, Secret};
use opsdesk_desk::mail::imap::{self, Report};
use tokio::net::TcpStream;

use crate::helpers::{Backend, required_env};
use crate::mail::mail_desk;
use crate::on_both;

on_both!(imap_mail_is_filed_once_and_marked_only_after_it_is_stored);

fn mailbox(folder: &str, move_to: Option<&str>) -> ImapMailbox {
    let addr = required_env("OPSDESK_TEST_IMAP");
    let (host, port) = addr
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("bad OPSDESK_TEST_IMAP {addr}"));
    ImapMailbox {
        name: folder.to_string(),
        host: host.to_string(),
        port: Some(port.parse().unwrap_or_else(|e| panic!("{e}"))),
        tls: false,
        username: required_env("OPSDESK_TEST_IMAP_USER"),
        password: Secret(required_env("OPSDESK_TEST_IMAP_PASSWORD")),
        folder: folder.to_string(),
        move_to: move_to.map(str::to_string),
        address: Some("help@example.com".into()),
        poll_seconds: 60,
    }
}

/// A mail client session of our own, to put mail in and look at flags.
async fn client(mb: &ImapMailbox) -> async_imap::Session<TcpStream> {
    let tcp = TcpStream::connect((mb.host.as_str(), mb.port.unwrap_or(143)))
        .await
        .unwrap_or_else(|e| panic!("connecting to Dovecot: {e}"));
    let mut c = async_imap::Client::new(tcp);
    c.read_response().await.unwrap_or_else(|e| panic!("{e}"));
    c.login(&mb.username, mb.password.expose())
        .await
        .unwrap_or_else(|(e, _)| panic!("login: {e}"))
}

async fn flags_of(s: &mut async_imap::Session<TcpStream>, folder: &str) -> Vec<Vec<String>> {
    s.select(folder).await.unwrap_or_else(|e| panic!("{e}"));
    let fetched: Vec<_> = s
        .fetch("1:*", "(FLAGS)")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .try_collect()
        .await
        .unwrap_or_default();
    fetched
        .iter()
        .map(|f| f.flags().map(|fl| format!("{fl:?}")).collect())
        .collect()
}

fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: help@example.com\r\nSubject: {subject}\r\nMessage-ID: <{}@imap.test>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n",
        uuid::Uuid::new_v4().simple()
    )
}

async fn imap_mail_is_filed_once_and_marked_only_after_it_is_stored(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let folder = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let done = format!("{folder}-filed");
    let mb = mailbox(&folder, None);
    let mut s = client(&mb).await;
    s.create(&folder).await.unwrap_or_else(|e| panic!("{e}"));
    s.create(&done).await.unwrap_or_else(|e| panic!("{e}"));
    let customer = format!("{folder}@customer.test");
    for (subject, body) in [
        ("VPN drops", "Every hour."),
        ("Invoice copy", "Need March."),
    ] {
        s.append(&folder, None, None, message(&customer, subject, body))
            .await
            .unwrap_or_else(|e| panic!("append: {e}"));
    }
    // Not an email at all: it can never be filed.
    s.append(&folder, None, None, "garbage without headers")
        .await
        .unwrap_or_else(|e| panic!("append: {e}"));

    let db = &d.app.state.db;
    let blobs = Blobs::new(db, &d.app.data_dir());
    let cfg = &d.app.state.config.mail;
    let r = imap::poll(db, &blobs, cfg, &mb)
        .await
        .unwrap_or_else(|e| panic!("poll: {e:#}"));
    assert_eq!(
        r,
        Report {
            fetched: 3,
            created: 2,
            rejected: 1,
            ..Report::default()
        }
    );
    let flags = flags_of(&mut s, &folder).await;
    assert!(flags[0].iter().any(|f| f.contains("Seen")), "{flags:?}");
    assert!(flags[1].iter().any(|f| f.contains("Seen")), "{flags:?}");
    assert!(
        flags[2].iter().any(|f| f.contains("OpsdeskRejected")),
        "{flags:?}"
    );
    assert!(!flags[2].iter().any(|f| f.contains("Seen")), "{flags:?}");

    // A crash after the commit but before the flag: the message is unseen again.
    let _: Vec<_> = s
        .store("1", "-FLAGS.SILENT (\\Seen)")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .try_collect()
        .await
        .unwrap_or_default();
    let r = imap::poll(db, &blobs, cfg, &mb)
        .await
        .unwrap_or_else(|e| panic!("poll: {e:#}"));
    assert_eq!(
        r,
        Report {
            fetched: 1,
            duplicates: 1,
            ..Report::default()
        }
    );
    let list = d.get(&d.agent, "/api/tickets?limit=100").await.json();
    let mine = list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|t| t["requester"]["email"] == customer.as_str())
                .count()
        })
        .unwrap_or(0);
    assert_eq!(mine, 2, "each message filed exactly once");

    // With move_to, filed mail leaves the folder.
    s.append(
        &folder,
        None,
        None,
        message(&customer, "Moved", "Please file me."),
    )
    .await
    .unwrap_or_else(|e| panic!("append: {e}"));
    let moving = mailbox(&folder, Some(&done));
    let r = imap::poll(db, &blobs, cfg, &moving)
        .await
        .unwrap_or_else(|e| panic!("poll: {e:#}"));
    assert_eq!(
        r,
        Report {
            fetched: 1,
            created: 1,
            ..Report::default()
        }
    );
    assert_eq!(flags_of(&mut s, &folder).await.len(), 3);
    assert_eq!(flags_of(&mut s, &done).await.len(), 1);

    // A wrong password is a clear error that does not echo the password.
    let mut bad = mailbox(&folder, None);
    bad.password = Secret("wrong-secret-value".into());
    let e = imap::poll(db, &blobs, cfg, &bad)
        .await
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap_or_default();
    assert!(e.contains("login as desk refused"), "{e}");
    assert!(!e.contains("wrong-secret-value"), "{e}");
    let _ = s.logout().await;
}
