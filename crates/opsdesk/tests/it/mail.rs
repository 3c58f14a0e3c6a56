//! Email end to end: the threading rules, acknowledgements and replies delivered to a real SMTP
//! server (the aiosmtpd sink `scripts/test` starts, read back from its Maildir), and the helpers
//! the other email tests share. The ways in (corpus, pipe, SMTP receiver) are in
//! `mail_channels.rs`, IMAP in `mail_imap.rs`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::desk::{Desk, desk_from};
use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, read, required_env, spawn_with};
use crate::on_both;

on_both!(
    email_threads_into_tickets_and_replies_reach_the_customer,
    automatic_mail_and_strangers_are_handled_safely,
    a_late_reply_to_a_closed_ticket_opens_a_linked_one
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

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Posts a raw message as the agent's token would (an MTA hook).
pub async fn post_raw(d: &Desk, raw: &str) -> (u16, Value) {
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
    // Up to 20 s: a loaded two-core machine can be slow to deliver.
    for _ in 0..200 {
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

pub fn email(from: &str, subject: &str, extra_headers: &str, body: &str) -> String {
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
