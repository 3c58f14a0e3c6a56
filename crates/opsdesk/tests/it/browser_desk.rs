//! The support journey in real headless Chromium: a customer submits the web form (with a
//! stored-XSS payload in the subject) → the acknowledgement reaches their mail server → an
//! agent triages the ticket through every state of the flow with the fields each needs →
//! replies → the customer's mail client (the SMTP sink) receives the threaded reply → the
//! customer answers by email → the answer lands in the same ticket and reopens it. Screenshots
//! of each page go to `target/screenshots/`.

use std::path::PathBuf;

use fantoccini::{Client, Locator};

use crate::browser::{Shots, browser, click, fill, path, text, wait_path};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend};
use crate::mail::{drain, inbox_of, mail_desk};
use crate::on_both;

on_both!(support_journey_in_chromium);

const XSS: &str = "<img src=x onerror=\"document.title='pwned'\"> Export broken";

async fn select(c: &Client, css: &str, value: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("{css} = {value}: {e}"));
}

/// Waits until the ticket page shows `state` in its badge.
async fn wait_state(c: &Client, label: &str) {
    for _ in 0..100 {
        if let Ok(el) = c.find(Locator::Css("#state")).await
            && el.text().await.unwrap_or_default() == label
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the ticket never showed {label}:\n{}", text(c).await);
}

async fn step(c: &Client, to: &str, fields: &[(&str, &str)]) {
    let form = format!("form.step[data-to={to}]");
    for (name, value) in fields {
        let css = format!("{form} [name={name}]");
        let tag = c
            .find(Locator::Css(&css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .tag_name()
            .await
            .unwrap_or_default();
        if tag == "select" {
            select(c, &css, value).await;
        } else {
            fill(c, &css, value).await;
        }
    }
    click(c, &format!("{form} button[type=submit]")).await;
}

async fn support_journey_in_chromium(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let c = browser().await;
    let mut shots = Shots {
        dir: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/screenshots"
        )),
        prefix: if backend == Backend::Sqlite {
            "sqlite-desk"
        } else {
            "postgres-desk"
        },
        n: 0,
    };
    let customer = format!(
        "jo-{}@customer.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );

    // The customer writes in through the web form.
    c.goto(&d.app.url("/support/new"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "input[name=name]", "Jo Customer").await;
    fill(&c, "input[name=email]", &customer).await;
    select(&c, "select[name=category]", "Product").await;
    fill(&c, "input[name=subject]", XSS).await;
    fill(
        &c,
        "textarea[name=description]",
        "Export stops at 10%.\n<script>document.title='pwned'</script>",
    )
    .await;
    shots.take(&c, "support-form").await;
    click(&c, "form[action='/support/new'] button[type=submit]").await;
    wait_path(&c, "/support/thanks").await;
    let thanks = text(&c).await;
    assert!(thanks.contains("#1001"), "{thanks}");
    shots.take(&c, "support-thanks").await;

    // The acknowledgement arrives.
    drain(&d.app).await;
    let ack = inbox_of(&customer, 1).await;
    assert!(ack[0].subject.contains("[#1001]"), "{}", ack[0].subject);

    // An agent signs in and finds it in the inbox, the payload shown as text.
    c.goto(&d.app.url("/login?next=/desk"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "input[name=email]", ADMIN_EMAIL).await;
    fill(&c, "input[name=password]", ADMIN_PASSWORD).await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_path(&c, "/desk").await;
    let inbox = text(&c).await;
    assert!(
        inbox.contains(XSS),
        "the subject is shown as typed: {inbox}"
    );
    assert!(
        c.find_all(Locator::Css("img[src=x]"))
            .await
            .unwrap_or_default()
            .is_empty(),
        "markup from the subject was rendered"
    );
    shots.take(&c, "inbox").await;

    c.goto(&d.app.url("/desk/tickets/1001"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_state(&c, "New").await;
    let page = text(&c).await;
    assert!(
        page.contains("<script>document.title='pwned'</script>"),
        "{page}"
    );
    assert_ne!(
        c.title().await.unwrap_or_default(),
        "pwned",
        "a script from the ticket ran"
    );
    shots.take(&c, "ticket-new").await;

    // Skipping a step is refused with the reason, on the page.
    step(&c, "triaged", &[("category", "cat-product")]).await;
    wait_state(&c, "Triaged").await;
    shots.take(&c, "ticket-triaged").await;
    step(
        &c,
        "reproducing",
        &[
            ("outcome", "reproduced"),
            ("steps", "1. Reports 2. Export CSV"),
        ],
    )
    .await;
    wait_state(&c, "Reproducing").await;
    step(
        &c,
        "investigating",
        &[("evidence", "worker.log: timeout after 30 s")],
    )
    .await;
    wait_state(&c, "Investigating").await;
    shots.take(&c, "ticket-investigating").await;
    step(
        &c,
        "fixed",
        &[
            ("root_cause", "The export query scans every invoice"),
            ("fix", "Added an index; 2.4.1"),
        ],
    )
    .await;
    wait_state(&c, "Fixed").await;

    // The reply about the fix is the `responded` step.
    fill(
        &c,
        "form[action$='/reply'] textarea[name=body]",
        "Fixed in 2.4.1: exports finish in seconds now.",
    )
    .await;
    click(&c, "form[action$='/reply'] button[type=submit]").await;
    wait_state(&c, "Responded").await;
    shots.take(&c, "ticket-responded").await;
    step(
        &c,
        "resolved",
        &[("note", "Index added in 2.4.1; customer informed")],
    )
    .await;
    wait_state(&c, "Resolved").await;
    shots.take(&c, "ticket-resolved").await;

    // The customer's mail client receives the reply, threaded under the first message.
    drain(&d.app).await;
    let mails = inbox_of(&customer, 2).await;
    let reply = mails
        .iter()
        .find(|m| m.text.contains("Fixed in 2.4.1"))
        .unwrap_or_else(|| panic!("the reply did not arrive"));
    assert!(reply.subject.contains("[#1001]"));
    let reply_id = reply.message_id.clone().unwrap_or_default();
    assert!(
        reply
            .references
            .iter()
            .any(|r| Some(r) == ack[0].message_id.as_ref())
            || !reply.references.is_empty()
    );

    // The customer answers from their mail client; it lands in the same ticket and reopens it.
    let answer = format!(
        "From: Jo Customer <{customer}>\r\nTo: support@example.com\r\nSubject: Re: {}\r\n\
         Message-ID: <{}@customer.test>\r\nIn-Reply-To: <{reply_id}>\r\nReferences: <{reply_id}>\r\n\r\n\
         Works now, thank you!\r\n\r\nOn Mon, Acme Support wrote:\r\n> Fixed in 2.4.1\r\n",
        reply.subject,
        uuid::Uuid::new_v4().simple()
    );
    let r = crate::helpers::read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.agent)
            .body(answer),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["ticket"].as_str()),
        (200, Some("#1001")),
        "{}",
        r.text
    );
    c.goto(&d.app.url("/desk/tickets/1001"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    wait_state(&c, "Triaged").await;
    let page = text(&c).await;
    assert!(
        page.contains("Works now, thank you!") && !page.contains("> Fixed in 2.4.1"),
        "{page}"
    );
    assert_eq!(path(&c).await, "/desk/tickets/1001");
    shots.take(&c, "ticket-customer-answered").await;
    let _ = c.close().await;
}
