//! The desk in the browser without JavaScript: the public support form, the inbox with its views
//! and counts, and the ticket page driving the flow with forms that keep what was typed.

use serde_json::json;

use crate::desk::desk;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestAppClient, read};
use crate::on_both;

on_both!(
    the_support_form_files_a_ticket,
    the_support_form_refuses_bad_input_and_keeps_the_text,
    the_inbox_shows_views_counts_and_pages,
    the_ticket_page_drives_the_flow
);

async fn post_form(c: &TestAppClient, path: &str, form: &[(&str, &str)]) -> crate::helpers::Reply {
    read(
        c.client
            .post(format!("{}{path}", c.base))
            .header("accept", "text/html")
            .form(form),
    )
    .await
}

async fn the_support_form_files_a_ticket(backend: Backend) {
    let d = desk(backend).await;
    let visitor = TestAppClient::new(&d.app);
    let page = visitor.get_page("/support/new").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Contact support") && page.text.contains("<option value=\"Billing\"")
    );
    let r = post_form(
        &visitor,
        "/support/new",
        &[
            ("name", "Carol Customer"),
            ("email", "Carol@Example.org"),
            ("category", "Billing"),
            ("subject", "Charged twice"),
            ("description", "My card was charged twice in March."),
            ("website", ""),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.location().as_str()),
        (303, "/support/thanks"),
        "{}",
        r.text
    );
    let thanks = visitor.get_page("/support/thanks").await;
    assert!(
        thanks.text.contains("Your request #1001 was received"),
        "{}",
        thanks.text
    );
    assert!(thanks.text.contains("carol@example.org"));

    let t = d.get(&d.admin, "/api/tickets/1001").await.json();
    assert_eq!(t["channel"], "web");
    assert_eq!(t["category"]["name"], "Billing");
    assert_eq!(t["requester"]["name"], "Carol Customer");
    assert_eq!(
        t["messages"][0]["body"],
        "My card was charged twice in March."
    );

    // The honeypot: a bot gets the same answer, and nothing is filed.
    let r = post_form(
        &visitor,
        "/support/new",
        &[
            ("name", "Bot"),
            ("email", "bot@spam.test"),
            ("subject", "Buy"),
            ("description", "x"),
            ("website", "http://spam"),
        ],
    )
    .await;
    assert_eq!(r.status, 303);
    let all = d.get(&d.admin, "/api/tickets").await.json();
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
}

async fn the_support_form_refuses_bad_input_and_keeps_the_text(backend: Backend) {
    let d = desk(backend).await;
    let visitor = TestAppClient::new(&d.app);
    let long_text = "Line one\nLine <b>two</b> & more";
    let r = post_form(
        &visitor,
        "/support/new",
        &[
            ("name", "Dan"),
            ("email", "not-an-email"),
            ("subject", "Hi\r\nBcc: x@y.z"),
            ("description", long_text),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("Some fields need attention"));
    assert!(
        r.text.contains("Email must look like name@example.com"),
        "{}",
        r.text
    );
    assert!(r.text.contains("Subject must be one line"), "{}", r.text);
    // What was typed comes back, escaped.
    assert!(!r.text.contains("Line <b>two</b>"));
    assert!(
        r.text
            .contains("Line one\nLine &#60;b&#62;two&#60;/b&#62; &#38; more")
            || r.text.contains("Line &lt;b&gt;two&lt;/b&gt; &amp; more"),
        "{}",
        r.text
    );
    let all = d.get(&d.admin, "/api/tickets").await.json();
    assert_eq!(all["items"], json!([]));
}

async fn the_inbox_shows_views_counts_and_pages(backend: Backend) {
    let d = desk(backend).await;
    for i in 0..53 {
        d.file(
            &d.alice,
            &format!("Question <script>alert({i})</script>"),
            json!({}),
        )
        .await;
    }
    d.step(1001, json!({"to": "triaged", "category": "Account"}))
        .await;
    let agent = TestAppClient::new(&d.app);
    agent.login("agent@example.com", ADMIN_PASSWORD).await;
    let inbox = agent.get_page("/desk").await;
    assert_eq!(inbox.status, 200);
    assert!(
        inbox.text.contains("Open <span class=\"count\">53</span>"),
        "{}",
        inbox.text
    );
    assert!(
        inbox
            .text
            .contains("Triaged <span class=\"count\">1</span>")
    );
    assert!(inbox.text.contains("New <span class=\"count\">52</span>"));
    assert!(
        !inbox.text.contains("<script>alert"),
        "subjects must be escaped"
    );
    assert_eq!(
        inbox.text.matches("<tr>").count(),
        1 + 50,
        "a header row and 50 tickets"
    );
    let next = inbox
        .text
        .split("rel=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .map(|s| {
            s.trim_end_matches("\" ")
                .replace("&#38;", "&")
                .replace("&amp;", "&")
        })
        .unwrap_or_default();
    assert!(next.starts_with("/desk?"), "{next}");
    let page2 = agent.get_page(&next).await;
    assert_eq!(page2.text.matches("<tr>").count(), 1 + 3, "{next}");
    assert!(page2.text.contains("#1001"));

    let triaged = agent.get_page("/desk?state=triaged").await;
    assert!(triaged.text.contains("#1001") && !triaged.text.contains("#1002"));
    let mine = agent.get_page("/desk?assignee=me").await;
    assert!(
        mine.text.contains("No tickets in this view"),
        "{}",
        mine.text
    );
    let bad = agent.get_page("/desk?sort=sideways").await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.text
            .contains("must be newest, oldest, updated, priority or due"),
        "{}",
        bad.text
    );

    // Customers are not let into the desk.
    let customer = TestAppClient::new(&d.app);
    customer.login("alice@customer.test", ADMIN_PASSWORD).await;
    for path in ["/desk", "/desk/tickets/1001"] {
        let r = customer.get_page(path).await;
        assert_eq!(r.status, 403, "{path}");
        assert!(
            r.text.contains("The desk is for the support team"),
            "{}",
            r.text
        );
    }
}

async fn the_ticket_page_drives_the_flow(backend: Backend) {
    let d = desk(backend).await;
    let n = d
        .file(
            &d.alice,
            "Login loop <img src=x onerror=alert(1)>",
            json!({}),
        )
        .await;
    let admin = TestAppClient::new(&d.app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let path = format!("/desk/tickets/{n}");
    let page = admin.get_page(&path).await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("<img src=x"), "escaped subject");
    assert!(page.text.contains("data-to=\"triaged\"") && page.text.contains("data-to=\"closed\""));

    // A step without its field: the page comes back with the error, nothing moved.
    let r = post_form(
        &admin,
        &format!("{path}/transition"),
        &[("to", "triaged"), ("category", "")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("Category is required"), "{}", r.text);
    let r = post_form(
        &admin,
        &format!("{path}/transition"),
        &[("to", "triaged"), ("category", "cat-product")],
    )
    .await;
    assert_eq!((r.status, r.location()), (303, path.clone()), "{}", r.text);
    let r = post_form(
        &admin,
        &format!("{path}/transition"),
        &[
            ("to", "reproducing"),
            ("outcome", "reproduced"),
            ("steps", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("Steps to reproduce is required"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("<option value=\"reproduced\" selected>"),
        "the chosen outcome is kept: {}",
        r.text
    );
    let r = post_form(
        &admin,
        &format!("{path}/transition"),
        &[("to", "fixed"), ("root_cause", "typed text survives")],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("cannot move to fixed"), "{}", r.text);
    let r = post_form(
        &admin,
        &format!("{path}/transition"),
        &[
            ("to", "reproducing"),
            ("outcome", "not_reproduced"),
            ("steps", "Tried Firefox and Chrome"),
        ],
    )
    .await;
    assert_eq!(r.status, 303);

    // Reply and note; the note stays internal.
    let r = post_form(&admin, &format!("{path}/reply"), &[("body", "")]).await;
    assert_eq!(r.status, 422);
    let r = post_form(
        &admin,
        &format!("{path}/reply"),
        &[("body", "Could you send a screenshot?")],
    )
    .await;
    assert_eq!(r.status, 303);
    let r = post_form(
        &admin,
        &format!("{path}/note"),
        &[("body", "Probably the SSO cookie")],
    )
    .await;
    assert_eq!(r.status, 303);
    let r = post_form(
        &admin,
        &format!("{path}/edit"),
        &[
            ("subject", "Login loop"),
            ("category", "cat-account"),
            ("priority", "high"),
            ("assignee", ""),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = admin.get_page(&path).await;
    assert!(page.text.contains("Ticket updated."), "{}", page.text);
    assert!(
        page.text.contains("Probably the SSO cookie")
            && page.text.contains("Could you send a screenshot?")
    );
    assert!(
        page.text.contains("id=\"state\">Reproducing<"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("triaged -&gt; reproducing")
            || page.text.contains("triaged -&#62; reproducing"),
        "{}",
        page.text
    );
    let t = d.get(&d.alice, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["subject"], "Login loop");
    assert_eq!(t["priority"], "high");
    let bodies = t["messages"].to_string();
    assert!(bodies.contains("screenshot") && !bodies.contains("SSO cookie"));
    assert_eq!(admin.get_page("/desk/tickets/99999").await.status, 404);
}
