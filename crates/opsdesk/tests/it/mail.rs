//! Email end to end: raw messages in through the API and the `opsdesk mail ingest` pipe, the
//! threading rules, acknowledgements and replies delivered to a real SMTP server (the aiosmtpd
//! sink `scripts/test` starts, read back from its Maildir), attachments served as downloads.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::desk::{Desk, desk_from};
use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, read, required_env, spawn_with};
use crate::on_both;
use crate::procs::opsdesk;

on_both!(
    email_threads_into_tickets_and_replies_reach_the_customer,
    automatic_mail_and_strangers_are_handled_safely,
    a_late_reply_to_a_closed_ticket_opens_a_linked_one,
    every_corpus_message_is_taken_in_without_loss,
    attachments_download_safely_and_only_for_those_who_may_see_them,
    the_mail_pipe_files_messages_from_standard_input,
    the_smtp_receiver_takes_mail_from_a_real_client
);

/// A desk whose outgoing mail goes to the test SMTP sink.
pub async fn mail_desk(
    backend: Backend,
    adjust: impl FnOnce(&mut opsdesk_core::config::Config),
) -> Desk {
    let app = spawn_with(backend, |c| {
        c.mail.smtp_url = Some(opsdesk_core::config::DatabaseUrl(required_env(
            "OPSDESK_TEST_SMTP_URL",
        )));
        adjust(c);
    })
    .await;
    desk_from(app).await
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Posts a raw message as the agent's token would (an MTA hook).
async fn post_raw(d: &Desk, raw: &str) -> (u16, Value) {
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.agent)
            .header("content-type", "message/rfc822")
            .body(raw.to_string()),
    )
    .await;
    (r.status, r.json())
}

/// Runs every due job (outgoing mail) now.
pub async fn drain(app: &TestApp) {
    while let Some(_o) = app
        .state
        .runner
        .try_run_one()
        .await
        .unwrap_or_else(|e| panic!("jobs: {e}"))
    {}
}

/// Messages the sink received for `to`, parsed, oldest first (waits briefly for delivery).
pub async fn inbox_of(to: &str, at_least: usize) -> Vec<opsdesk_mail::Inbound> {
    let dir = PathBuf::from(required_env("OPSDESK_TEST_MAILDIR")).join("new");
    for _ in 0..50 {
        let mut found = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let Ok(raw) = std::fs::read(e.path()) else {
                    continue;
                };
                let Ok(m) = opsdesk_mail::parse(&raw) else {
                    continue;
                };
                if m.to.iter().any(|a| a.email == to) {
                    found.push(m);
                }
            }
        }
        if found.len() >= at_least {
            found.sort_by_key(|m| m.date.unwrap_or(0));
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listing: Vec<String> = std::fs::read_dir(&dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    panic!("fewer than {at_least} messages for {to} arrived at the SMTP sink: {listing:?}");
}

fn email(from: &str, subject: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: Customer <{from}>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{}@mail.customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{extra_headers}\r\n{body}\r\n",
        uuid::Uuid::new_v4().simple()
    )
}

fn header<'a>(m: &'a opsdesk_mail::Inbound, name: &str) -> &'a str {
    m.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

async fn email_threads_into_tickets_and_replies_reach_the_customer(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let customer = format!("{}@customer.test", unique("carol"));
    let first = email(
        &customer,
        "Export fails",
        "",
        "The CSV export stops at 10%.",
    );
    let (status, intake) = post_raw(&d, &first).await;
    assert_eq!(status, 201, "{intake}");
    assert_eq!(intake["outcome"], "created");
    let number = intake["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let t = d
        .get(&d.agent, &format!("/api/tickets/{number}"))
        .await
        .json();
    assert_eq!(t["channel"], "email");
    assert_eq!(t["requester"]["email"], customer.as_str());
    assert_eq!(t["messages"][0]["body"], "The CSV export stops at 10%.");
    assert_eq!(t["messages"][0]["source"], "email");

    // The same message again (an MTA retry, an IMAP re-fetch) is recognized.
    let (status, again) = post_raw(&d, &first).await;
    assert_eq!(
        (status, again["outcome"].as_str()),
        (200, Some("duplicate"))
    );

    // The acknowledgement reaches the customer's mail server, threaded and marked automatic.
    drain(&d.app).await;
    let t = d
        .get(&d.agent, &format!("/api/tickets/{number}"))
        .await
        .json();
    assert_eq!(t["deliveries"][0]["state"], "sent", "{}", t["deliveries"]);
    let got = inbox_of(&customer, 1).await;
    let ack = &got[0];
    assert!(
        ack.subject.contains(&format!("[#{number}]")),
        "{}",
        ack.subject
    );
    assert!(ack.subject.contains("Export fails"), "{}", ack.subject);
    assert!(ack.text.contains(&format!("#{number}")), "{}", ack.text);
    assert_eq!(header(ack, "Auto-Submitted"), "auto-replied");
    let customer_id = first
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .and_then(|l| l.strip_suffix('>'))
        .unwrap_or_default()
        .to_string();
    assert_eq!(ack.in_reply_to, vec![customer_id.clone()]);
    let t = d
        .get(&d.agent, &format!("/api/tickets/{number}"))
        .await
        .json();
    assert_eq!(t["deliveries"][0]["purpose"], "ack");
    assert_eq!(t["deliveries"][0]["state"], "sent", "{}", t["deliveries"]);

    // The customer answers the acknowledgement from their mail client: quoted text is cut.
    let ack_id = ack.message_id.clone().unwrap_or_default();
    let reply = email(
        &customer,
        &format!("Re: {}", ack.subject),
        &format!("In-Reply-To: <{ack_id}>\r\nReferences: <{customer_id}> <{ack_id}>\r\n"),
        "It happens with every file over 2 MB.\r\n\r\nOn Mon, 23 Nov 2026 at 10:01, Acme Support wrote:\r\n> We received your request",
    );
    let (status, intake) = post_raw(&d, &reply).await;
    assert_eq!(status, 200, "{intake}");
    assert_eq!(intake["outcome"], "appended");
    assert_eq!(intake["via"], "signed_id");
    assert_eq!(intake["ticket"], format!("#{number}"));

    // An agent replies in the desk; the customer gets it in the same thread.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{number}/messages"),
            json!({"body": "Fixed in 2.4.1, please update."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    drain(&d.app).await;
    let got = inbox_of(&customer, 2).await;
    let answer = got
        .iter()
        .find(|m| m.text.contains("Fixed in 2.4.1"))
        .unwrap_or_else(|| panic!("the reply did not arrive"));
    assert!(
        answer.subject.contains(&format!("[#{number}]")),
        "{}",
        answer.subject
    );
    assert_eq!(header(answer, "Auto-Submitted"), "");
    let reply_id = reply
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .and_then(|l| l.strip_suffix('>'))
        .unwrap_or_default();
    assert_eq!(answer.in_reply_to, vec![reply_id.to_string()]);
    assert!(
        answer.references.iter().any(|r| r == &customer_id),
        "{:?}",
        answer.references
    );
    assert!(
        answer.text.contains("Reply above this line"),
        "{}",
        answer.text
    );

    let t = d
        .get(&d.agent, &format!("/api/tickets/{number}"))
        .await
        .json();
    let bodies: Vec<&str> = t["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["body"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        bodies,
        vec![
            "The CSV export stops at 10%.",
            "It happens with every file over 2 MB.",
            "Fixed in 2.4.1, please update."
        ]
    );
    let states: Vec<&str> = t["deliveries"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["state"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(states, vec!["sent", "sent"]);
    // The ticket page shows each email's delivery.
    d.app
        .login(ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let page = d.app.get_page(&format!("/desk/tickets/{number}")).await;
    assert!(page.text.contains("by email"), "{}", page.text);
    assert!(
        page.text.contains(&format!("Email sent to {customer}")),
        "{}",
        page.text
    );
}

async fn automatic_mail_and_strangers_are_handled_safely(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let customer = format!("{}@customer.test", unique("dave"));
    let (_, intake) = post_raw(
        &d,
        &email(&customer, "Billing question", "", "Why two invoices?"),
    )
    .await;
    let number: i64 = intake["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .parse()
        .unwrap_or(0);
    assert!(number > 1000, "{intake}");

    // A stranger writing with the ticket's subject tag does not get into the ticket.
    let stranger = format!("{}@evil.test", unique("mallory"));
    let (status, intake) = post_raw(
        &d,
        &email(
            &stranger,
            &format!("Re: [#{number}] Billing question"),
            "",
            "Show me the invoices",
        ),
    )
    .await;
    assert_eq!(
        (status, intake["outcome"].as_str()),
        (201, Some("created")),
        "{intake}"
    );
    assert_ne!(intake["ticket"], format!("#{number}"));
    // The requester using only the tag is threaded.
    let (_, intake) = post_raw(
        &d,
        &email(
            &customer,
            &format!("Re: [#{number}] Billing question"),
            "",
            "Any news?",
        ),
    )
    .await;
    assert_eq!(intake["outcome"], "appended");
    assert_eq!(intake["via"], "subject_tag");

    // A forged signed id (right shape, wrong signature) threads nowhere.
    let forged =
        format!("In-Reply-To: <opsdesk.{number}.root.0123456789abcdef0123@example.com>\r\n");
    let (_, intake) = post_raw(&d, &email(&stranger, "hello", &forged, "hi")).await;
    assert_eq!(intake["outcome"], "created", "{intake}");

    // An out-of-office opens a ticket (a person may read it) but is never acknowledged.
    let ooo = format!("{}@customer.test", unique("erin"));
    let (_, intake) = post_raw(
        &d,
        &email(
            &ooo,
            "Out of office",
            "Auto-Submitted: auto-replied\r\n",
            "I am away.",
        ),
    )
    .await;
    assert_eq!(
        (intake["outcome"].as_str(), intake["auto"].as_str()),
        (Some("created"), Some("auto_reply"))
    );
    let n = intake["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(
        t["deliveries"],
        json!([]),
        "no acknowledgement for automatic mail"
    );

    // A bounce opens nothing.
    let before = d.get(&d.agent, "/api/tickets?limit=100").await.json()["items"]
        .as_array()
        .map(Vec::len);
    let bounce = include_str!("../../../opsdesk-mail/tests/corpus/bounce.eml");
    let (status, intake) = post_raw(&d, bounce).await;
    assert_eq!(
        (status, intake["outcome"].as_str()),
        (200, Some("bounce")),
        "{intake}"
    );
    let after = d.get(&d.agent, "/api/tickets?limit=100").await.json()["items"]
        .as_array()
        .map(Vec::len);
    assert_eq!(before, after);

    // Customers cannot feed raw mail in; a missing token is 401; not an email is 400.
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.alice)
            .body("x"),
    )
    .await;
    assert_eq!((r.status, r.error_code().as_str()), (403, "forbidden"));
    let r = read(d.app.client.post(d.app.url("/api/inbound/email")).body("x")).await;
    assert_eq!(r.status, 401);
    let (status, err) = post_raw(&d, "").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("unreadable_message"))
    );
}

async fn a_late_reply_to_a_closed_ticket_opens_a_linked_one(backend: Backend) {
    // reopen_days = 0: any later reply is "too late".
    let d = mail_desk(backend, |c| c.mail.reopen_days = 0).await;
    let customer = format!("{}@customer.test", unique("finn"));
    let (_, intake) = post_raw(&d, &email(&customer, "Login loop", "", "I cannot sign in.")).await;
    let number = intake["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{number}/transitions"),
            json!({"to": "closed", "reason": "duplicate of a known issue"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, intake) = post_raw(
        &d,
        &email(
            &customer,
            &format!("Re: [#{number}] Login loop"),
            "",
            "Still broken.",
        ),
    )
    .await;
    assert_eq!(
        (status, intake["outcome"].as_str()),
        (201, Some("linked")),
        "{intake}"
    );
    let new = intake["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    assert_ne!(new, number);
    let t = d.get(&d.agent, &format!("/api/tickets/{new}")).await.json();
    assert_eq!(t["links"][0]["number"].to_string(), number);
    let old = d
        .get(&d.agent, &format!("/api/tickets/{number}"))
        .await
        .json();
    assert_eq!(old["state"], "closed");
    assert_eq!(old["links"][0]["number"].to_string(), new);
}

async fn every_corpus_message_is_taken_in_without_loss(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../opsdesk-mail/tests/corpus");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    assert!(names.len() >= 18);
    for path in names {
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let r = read(
            d.app
                .client
                .post(d.app.url("/api/inbound/email"))
                .bearer_auth(&d.agent)
                .body(raw),
        )
        .await;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            r.status == 200 || r.status == 201,
            "{name}: {} {}",
            r.status,
            r.text
        );
        let out = r.json();
        let outcome = out["outcome"].as_str().unwrap_or("");
        match name {
            "bounce.eml" => assert_eq!(outcome, "bounce"),
            _ => assert!(["created", "appended"].contains(&outcome), "{name}: {out}"),
        }
        if let Some(n) = out["ticket"].as_str() {
            let t = d
                .get(
                    &d.agent,
                    &format!("/api/tickets/{}", n.trim_start_matches('#')),
                )
                .await
                .json();
            let last = t["messages"]
                .as_array()
                .and_then(|m| m.last())
                .cloned()
                .unwrap_or_default();
            let body = last["body"].as_str().unwrap_or("");
            assert!(!body.is_empty(), "{name}");
            match name {
                "shift_jis.eml" => assert!(
                    body.contains("お世話になっております")
                        || body.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)),
                    "{name}: {body}"
                ),
                "iso_8859_1.eml" => assert!(
                    body.chars().any(|c| "äöüéèàç".contains(c)),
                    "{name}: {body}"
                ),
                "html_only_xss.eml" => assert!(!body.contains("<script"), "{name}: {body}"),
                "subject_crlf.eml" => assert!(!t["subject"].as_str().unwrap_or("").contains('\n')),
                _ => {}
            }
        }
    }
    // Sending each again changes nothing: every one is a duplicate now.
    let count = |v: Value| v["items"].as_array().map(Vec::len).unwrap_or(0);
    let before = count(d.get(&d.agent, "/api/tickets?limit=100").await.json());
    let raw = std::fs::read(dir.join("no_message_id.eml")).unwrap_or_default();
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.agent)
            .body(raw),
    )
    .await;
    assert_eq!(r.json()["outcome"], "duplicate", "{}", r.text);
    assert_eq!(
        count(d.get(&d.agent, "/api/tickets?limit=100").await.json()),
        before
    );
}

async fn attachments_download_safely_and_only_for_those_who_may_see_them(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let raw = include_str!("../../../opsdesk-mail/tests/corpus/path_traversal_attachment.eml")
        .replace("\n", "\r\n");
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.agent)
            .body(raw.clone()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let number = r.json()["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let t = d
        .get(&d.agent, &format!("/api/tickets/{number}"))
        .await
        .json();
    let a = &t["attachments"][0];
    let name = a["filename"].as_str().unwrap_or("");
    assert!(!name.contains('/') && !name.contains(".."), "{name}");
    let path = format!(
        "/api/tickets/{number}/attachments/{}",
        a["id"].as_str().unwrap_or("")
    );
    let r = d.get(&d.agent, &path).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    let cd = r.headers["content-disposition"].to_str().unwrap_or("");
    assert!(cd.starts_with("attachment;"), "{cd}");
    assert_eq!(r.text.len() as i64, a["size"].as_i64().unwrap_or(-1));
    // Another customer gets the same answer as for a ticket that does not exist.
    let r = d.get(&d.bob, &path).await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    let r = d
        .get(&d.agent, &format!("/api/tickets/{number}/attachments/nope"))
        .await;
    assert_eq!(r.status, 404);
}

async fn the_mail_pipe_files_messages_from_standard_input(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let dir = d.app.data_dir();
    let url = d
        .app
        .state
        .config
        .database_url
        .clone()
        .unwrap_or_else(|| panic!("no database url"));
    let customer = format!("{}@customer.test", unique("gina"));
    let raw = email(
        &customer,
        "Found a vulnerability",
        "",
        "XSS in the search box.",
    )
    .replace("To: support@example.com", "To: security@example.com");
    let out = opsdesk(&dir, &url, &["mail", "ingest"], Some(&raw));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["outcome"], "created");
    let number = v["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    // Sent to security@: a private security report, acknowledged with its own template.
    let t = d
        .get(&d.admin, &format!("/api/tickets/{number}"))
        .await
        .json();
    assert_eq!(t["security"], true);
    assert_eq!(t["deliveries"][0]["purpose"], "ack_security");
    assert_eq!(
        d.get(&d.agent, &format!("/api/tickets/{number}"))
            .await
            .status,
        404
    );
    // Again: a duplicate, still success for the MTA.
    let out = opsdesk(&dir, &url, &["mail", "ingest"], Some(&raw));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"duplicate\""));
    // Not an email: exit status 65 (the MTA bounces it with the reason).
    let out = opsdesk(&dir, &url, &["mail", "ingest"], Some(""));
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an email"));
}

/// Runs swaks (a real SMTP client) against our receiver; returns its exit status and transcript.
fn swaks(port: u16, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("swaks")
        .args([
            "--server",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--timeout",
            "20",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running swaks (scripts/test installs it): {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn the_smtp_receiver_takes_mail_from_a_real_client(backend: Backend) {
    let d = mail_desk(backend, |c| {
        c.smtp.listen = Some("127.0.0.1:0".into());
        c.smtp.accept_domains = vec!["example.com".into()];
        c.mail.max_message_bytes = 200_000;
    })
    .await;
    let port = d
        .app
        .smtp_port
        .unwrap_or_else(|| panic!("the SMTP receiver is not on"));
    let customer = format!("{}@customer.test", unique("hank"));
    let (ok, log) = swaks(
        port,
        &[
            "--from",
            &customer,
            "--to",
            "help@example.com",
            "--header",
            "Subject: Printer on fire",
            "--body",
            "Smoke everywhere.\nPlease help.",
        ],
    );
    assert!(ok, "{log}");
    assert!(log.contains("250 2.0.0 OK created #"), "{log}");
    let number = log
        .split("OK created #")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("")
        .to_string();
    let t = d
        .get(&d.agent, &format!("/api/tickets/{number}"))
        .await
        .json();
    assert_eq!(t["subject"], "Printer on fire");
    assert_eq!(t["requester"]["email"], customer.as_str());
    assert!(
        t["messages"][0]["body"]
            .as_str()
            .unwrap_or("")
            .contains("Smoke everywhere.")
    );

    // Mail for a domain we do not serve is refused at RCPT (no open relay).
    let (ok, log) = swaks(
        port,
        &["--from", &customer, "--to", "someone@elsewhere.test"],
    );
    assert!(!ok, "{log}");
    assert!(log.contains("550 5.7.1"), "{log}");

    // A message over the size limit is refused after DATA and nothing is filed.
    let big_file = d.app.data_dir().join("big.txt");
    std::fs::write(&big_file, "x".repeat(1000).repeat(300)).unwrap_or_else(|e| panic!("{e}"));
    let big = format!("@{}", big_file.display());
    let (ok, log) = swaks(
        port,
        &[
            "--from",
            &customer,
            "--to",
            "help@example.com",
            "--body",
            &big,
        ],
    );
    assert!(!ok, "{log}");
    assert!(log.contains("552 5.3.4"), "{log}");
    // Pipelined commands and a second message on the same connection work.
    let (ok, log) = swaks(
        port,
        &[
            "--pipeline",
            "--from",
            &customer,
            "--to",
            "help@example.com",
            "--header",
            "Subject: Second",
            "--body",
            "Two.",
        ],
    );
    assert!(ok, "{log}");
    let list = d.get(&d.agent, "/api/tickets?limit=100").await.json();
    let subjects: Vec<&str> = list["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["subject"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        subjects
            .iter()
            .filter(|s| **s == "Printer on fire" || **s == "Second")
            .count(),
        2,
        "{subjects:?}"
    );
}
