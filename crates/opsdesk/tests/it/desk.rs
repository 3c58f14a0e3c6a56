//! The support desk over the API: filing tickets, walking the enforced escalation flow, who may
//! see what (other customers' tickets, internal notes, security reports), filters and cursors.

use opsdesk_core::auth::tokens::Scope;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, Backend, Reply, TestApp, read, spawn_app};
use crate::on_both;

on_both!(
    a_ticket_walks_the_whole_flow,
    customers_see_only_their_own_tickets_and_never_notes,
    security_reports_stay_with_the_security_team,
    lists_filter_sort_and_page_with_cursors,
    ticket_numbers_stay_unique_under_concurrent_creation,
    bad_ticket_input_gets_clear_errors
);

/// An app after setup with an agent and two customers, and a write token for each.
pub struct Desk {
    pub app: TestApp,
    pub admin: String,
    pub agent: String,
    pub alice: String,
    pub bob: String,
}

pub async fn desk(backend: Backend) -> Desk {
    desk_from(spawn_app(backend).await).await
}

/// [`desk`] on an app started with its own configuration.
pub async fn desk_from(app: TestApp) -> Desk {
    app.setup().await;
    app.add_user("agent@example.com", "agent", "").await;
    app.add_user("alice@customer.test", "customer", "Alice Corp")
        .await;
    app.add_user("bob@other.test", "customer", "").await;
    Desk {
        admin: app.token(ADMIN_EMAIL, Scope::Write).await,
        agent: app.token("agent@example.com", Scope::Write).await,
        alice: app.token("alice@customer.test", Scope::Write).await,
        bob: app.token("bob@other.test", Scope::Write).await,
        app,
    }
}

impl Desk {
    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.app.post_json_with_token(path, token, &body).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.app.get_with_token(path, token).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> Reply {
        read(
            self.app
                .client
                .patch(self.app.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// Files a ticket as `token`'s user; returns its number.
    pub async fn file(&self, token: &str, subject: &str, extra: Value) -> i64 {
        let mut body = json!({"subject": subject, "body": format!("{subject}: details")});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post(token, "/api/tickets", body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["number"].as_i64().unwrap_or_default()
    }

    pub async fn step(&self, n: i64, body: Value) -> Reply {
        self.post(&self.agent, &format!("/api/tickets/{n}/transitions"), body)
            .await
    }
}

async fn a_ticket_walks_the_whole_flow(backend: Backend) {
    let d = desk(backend).await;
    let n = d.file(&d.alice, "Export fails", json!({})).await;
    assert!(n >= 1001);
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["state"], "new");
    assert_eq!(t["requester"]["email"], "alice@customer.test");
    assert_eq!(t["organization"], "Alice Corp");
    assert_eq!(t["next_steps"][0]["to"], "triaged");
    assert_eq!(t["next_steps"][0]["needs"], json!(["category"]));

    // Skipping a step is refused with the way forward.
    let r = d
        .step(n, json!({"to": "investigating", "evidence": "x"}))
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "invalid_transition")
    );
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("triaged") && msg.contains("one step at a time"),
        "{msg}"
    );

    // Each step names what it needs.
    let r = d.step(n, json!({"to": "triaged"})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.json()["error"]["fields"]["category"].is_string());
    let r = d
        .step(n, json!({"to": "triaged", "category": "product"}))
        .await;
    assert_eq!(
        (r.status, r.json()["state"].as_str()),
        (200, Some("triaged")),
        "{}",
        r.text
    );
    assert_eq!(r.json()["category"]["name"], "Product");

    let r = d
        .step(n, json!({"to": "reproducing", "outcome": "reproduced"}))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["fields"]["steps"].is_string());
    let r = d
        .step(
            n,
            json!({"to": "reproducing", "outcome": "reproduced", "steps": "Export 10k rows"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = d
        .step(
            n,
            json!({"to": "investigating", "evidence": "timeout in worker log"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = d
        .step(n, json!({"to": "fixed", "fix": "raise the limit"}))
        .await;
    assert_eq!(r.status, 422);
    let fields = &r.json()["error"]["fields"];
    assert!(
        fields["root_cause"]
            .as_str()
            .unwrap_or_default()
            .contains("root cause"),
        "{fields}"
    );
    let r = d
        .step(
            n,
            json!({"to": "fixed", "root_cause": "unbounded query", "fix": "paginate the export"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Responded needs a reply; the reply itself is that step.
    let r = d.step(n, json!({"to": "responded"})).await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["fields"]["reply"].is_string());
    let path = format!("/api/tickets/{n}/messages");
    let r = d
        .post(
            &d.agent,
            &path,
            json!({"body": "Fixed: exports are paginated now."}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["kind"].as_str()),
        (201, Some("reply")),
        "{}",
        r.text
    );
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["state"], "responded");

    let r = d.step(n, json!({"to": "resolved"})).await;
    assert_eq!(r.status, 422);
    let r = d
        .step(
            n,
            json!({"to": "resolved", "note": "Paginated export shipped"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = r.json();
    assert_eq!(t["resolution"], "Paginated export shipped");
    assert_eq!(t["root_cause"], "unbounded query");
    assert_eq!(t["reproduction_outcome"], "reproduced");
    assert!(t["resolved_at"].is_i64());

    // The customer answers: a resolved ticket reopens.
    let r = d
        .post(&d.alice, &path, json!({"body": "Still failing for CSV"}))
        .await;
    assert_eq!(
        (r.status, r.json()["kind"].as_str()),
        (201, Some("customer"))
    );
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["state"], "triaged");
    assert!(t["resolved_at"].is_null());

    // Waiting on the customer and back.
    let r = d.step(n, json!({"to": "waiting_on_customer"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    d.post(&d.alice, &path, json!({"body": "Here is the file"}))
        .await;
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["state"], "triaged");

    // Every move is on the timeline and in the audit chain.
    let kinds: Vec<&str> = t["timeline"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["detail"].as_str()).collect())
        .unwrap_or_default();
    for expected in [
        "new -> triaged",
        "triaged -> reproducing; outcome=reproduced",
        "reproducing -> investigating",
        "investigating -> fixed",
        "fixed -> responded",
        "responded -> resolved",
        "resolved -> triaged",
        "triaged -> waiting_on_customer",
        "waiting_on_customer -> triaged",
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected} missing from {kinds:?}"
        );
    }
    let actions = d.app.audit_actions().await;
    assert!(
        actions.iter().filter(|a| *a == "ticket.transition").count() >= 9,
        "{actions:?}"
    );
    assert!(actions.contains(&"ticket.create".to_string()));
    let verdict = opsdesk_core::audit::store::verify(&d.app.state.db, |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(
            verdict,
            opsdesk_core::audit::store::Verification::Intact { .. }
        ),
        "{verdict:?}"
    );
}

async fn customers_see_only_their_own_tickets_and_never_notes(backend: Backend) {
    let d = desk(backend).await;
    let n = d.file(&d.alice, "Alice's invoice", json!({})).await;
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/notes"),
            json!({"body": "internal: VIP"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    d.post(
        &d.agent,
        &format!("/api/tickets/{n}/messages"),
        json!({"body": "Looking"}),
    )
    .await;

    // Alice sees her ticket and the public conversation only.
    let t = d.get(&d.alice, &format!("/api/tickets/{n}")).await.json();
    let bodies: Vec<&str> = t["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["body"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(bodies, vec!["Alice's invoice: details", "Looking"]);
    assert_eq!(t["timeline"], json!([]));
    assert_eq!(t["next_steps"], json!([]));

    // Bob gets "not found" for every way in, exactly as for a ticket that does not exist.
    for path in [format!("/api/tickets/{n}"), format!("/api/tickets/%23{n}")] {
        let r = d.get(&d.bob, &path).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (404, "not_found"),
            "{path}"
        );
    }
    let missing = d.get(&d.bob, "/api/tickets/999999").await;
    assert_eq!(
        missing.text,
        d.get(&d.bob, &format!("/api/tickets/{n}")).await.text
    );
    let r = d
        .post(
            &d.bob,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "hi"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "not_found"),
        "{}",
        r.text
    );
    let r = d
        .patch(
            &d.bob,
            &format!("/api/tickets/{n}"),
            json!({"subject": "mine"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "not_found"),
        "{}",
        r.text
    );
    let list = d.get(&d.bob, "/api/tickets").await.json();
    assert_eq!(list["items"], json!([]));
    assert_eq!(
        d.get(&d.alice, "/api/tickets").await.json()["items"][0]["number"],
        json!(n)
    );

    // Customers cannot take staff actions on their own tickets either.
    let r = d
        .post(
            &d.alice,
            &format!("/api/tickets/{n}/notes"),
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "forbidden"),
        "{}",
        r.text
    );
    let r = d
        .post(
            &d.alice,
            &format!("/api/tickets/{n}/transitions"),
            json!({"to": "closed", "reason": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "forbidden"),
        "{}",
        r.text
    );
    let r = d
        .patch(
            &d.alice,
            &format!("/api/tickets/{n}"),
            json!({"priority": "urgent"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "forbidden"),
        "{}",
        r.text
    );
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "s", "body": "b", "email": "bob@other.test"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"]["fields"]["email"].is_string());
}

async fn security_reports_stay_with_the_security_team(backend: Backend) {
    let d = desk(backend).await;
    let sec = d
        .file(
            &d.alice,
            "XSS in profile page",
            json!({"category": "Security"}),
        )
        .await;
    let plain = d.file(&d.alice, "Slow dashboard", json!({})).await;
    let t = d.get(&d.admin, &format!("/api/tickets/{sec}")).await.json();
    assert_eq!(t["security"], json!(true));

    // An agent without the security flag neither finds nor lists it.
    assert_eq!(
        d.get(&d.agent, &format!("/api/tickets/{sec}")).await.status,
        404
    );
    let listed: Vec<i64> = d.get(&d.agent, "/api/tickets").await.json()["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["number"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(listed, vec![plain]);

    // With the flag they do; the reporter always sees their own report.
    opsdesk_core::accounts::service::set_role(
        &d.app.state.db,
        &opsdesk_core::audit::Actor::cli(),
        "agent@example.com",
        opsdesk_core::accounts::Role::Agent,
        true,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        d.get(&d.agent, &format!("/api/tickets/{sec}")).await.status,
        200
    );
    assert_eq!(
        d.get(&d.alice, &format!("/api/tickets/{sec}")).await.status,
        200
    );
    let listed = d.get(&d.agent, "/api/tickets").await.json()["items"]
        .as_array()
        .map(Vec::len);
    assert_eq!(listed, Some(2));

    // Moving a ticket into the Security category makes it private too.
    let r = d
        .patch(
            &d.admin,
            &format!("/api/tickets/{plain}"),
            json!({"category": "Security"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["security"].as_bool()),
        (200, Some(true)),
        "{}",
        r.text
    );
}

async fn lists_filter_sort_and_page_with_cursors(backend: Backend) {
    let d = desk(backend).await;
    let mut numbers = Vec::new();
    for i in 0..7 {
        numbers.push(d.file(&d.alice, &format!("Question {i}"), json!({})).await);
    }
    let urgent = numbers[2];
    let r = d
        .patch(
            &d.agent,
            &format!("/api/tickets/{urgent}"),
            json!({"priority": "urgent", "assignee": "me"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["assignee"]["email"], "agent@example.com");
    d.step(numbers[0], json!({"to": "triaged", "category": "Billing"}))
        .await;

    // Pages of 3 in every order, following next_cursor to the end: each ticket exactly once,
    // in the same order as one big page.
    let walk = |sort: &'static str, limit: usize| {
        let d = &d;
        async move {
            let mut seen = Vec::new();
            let mut cursor = String::new();
            loop {
                let path = format!("/api/tickets?sort={sort}&limit={limit}&cursor={cursor}");
                let page = d.get(&d.agent, &path).await.json();
                seen.extend(
                    page["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t["number"].as_i64()),
                );
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = c.to_string(),
                    None => break seen,
                }
            }
        }
    };
    let mut newest_first = numbers.clone();
    newest_first.reverse();
    assert_eq!(walk("newest", 3).await, newest_first);
    for sort in ["oldest", "updated", "priority"] {
        let whole = walk(sort, 50).await;
        assert_eq!(whole.len(), 7, "{sort}");
        assert_eq!(walk(sort, 3).await, whole, "{sort}");
    }

    let first = |r: Reply| r.json()["items"][0]["number"].as_i64();
    assert_eq!(
        first(d.get(&d.agent, "/api/tickets?sort=priority").await),
        Some(urgent)
    );
    assert_eq!(
        first(d.get(&d.agent, "/api/tickets?sort=oldest").await),
        Some(numbers[0])
    );
    assert_eq!(
        first(d.get(&d.agent, "/api/tickets?assignee=me").await),
        Some(urgent)
    );
    let r = d.get(&d.agent, "/api/tickets?assignee=none").await.json();
    assert_eq!(r["items"].as_array().map(Vec::len), Some(6));
    let r = d
        .get(&d.agent, "/api/tickets?state=triaged&category=billing")
        .await
        .json();
    assert_eq!(r["items"].as_array().map(Vec::len), Some(1));
    let r = d
        .get(&d.agent, "/api/tickets?state=new,triaged")
        .await
        .json();
    assert_eq!(r["items"].as_array().map(Vec::len), Some(7));
    let r = d
        .get(&d.agent, "/api/tickets?state=open&sort=updated&limit=2")
        .await
        .json();
    assert_eq!(r["items"][0]["number"].as_i64(), Some(numbers[0]), "{r}");
    assert!(r["next_cursor"].is_string());

    let cats = d.get(&d.alice, "/api/categories").await.json();
    let names: Vec<&str> = cats
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        vec!["Account", "Billing", "Product", "Security", "Availability"]
    );
}

async fn ticket_numbers_stay_unique_under_concurrent_creation(backend: Backend) {
    let d = desk(backend).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = d.app.client.clone();
        let url = d.app.url("/api/tickets");
        let token = if i % 2 == 0 {
            d.alice.clone()
        } else {
            d.agent.clone()
        };
        tasks.push(tokio::spawn(async move {
            let body = json!({"subject": format!("parallel {i}"), "body": "b", "email": format!("new{i}@fresh.test")});
            let mut body = body;
            if i % 2 == 0 {
                body.as_object_mut().map(|b| b.remove("email"));
            }
            read(client.post(url).bearer_auth(token).json(&body)).await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 201, "{}", r.text);
        numbers.push(r.json()["number"].as_i64().unwrap_or_default());
    }
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 24);
    assert_eq!(numbers.first().copied(), Some(1001));
    assert_eq!(numbers.last().copied(), Some(1024));
    // Requesters new to the desk became customer accounts.
    let u = opsdesk_core::accounts::service::find(&d.app.state.db, "new1@fresh.test")
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(u.role, opsdesk_core::accounts::Role::Customer);
}

async fn bad_ticket_input_gets_clear_errors(backend: Backend) {
    let d = desk(backend).await;
    let n = d.file(&d.alice, "Fine", json!({})).await;
    for path in [
        "/api/tickets/abc",
        "/api/tickets/0",
        "/api/tickets/-1",
        "/api/tickets/99999999",
        "/api/tickets/1001%27%20OR%201=1",
    ] {
        let r = d.get(&d.agent, path).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (404, "not_found"),
            "{path}: {}",
            r.text
        );
    }
    let cases = [
        (json!({"subject": "", "body": ""}), vec!["body", "subject"]),
        (
            json!({"subject": "Hi\r\nBcc: victim@example.com", "body": "x"}),
            vec!["subject"],
        ),
        (
            json!({"subject": "x".repeat(251), "body": "x"}),
            vec!["subject"],
        ),
        (
            json!({"subject": "s", "body": "b", "category": "Nope"}),
            vec!["category"],
        ),
        (
            json!({"subject": "s", "body": "b", "priority": "urgent"}),
            vec!["priority"],
        ),
    ];
    for (body, fields) in cases {
        let r = d.post(&d.alice, "/api/tickets", body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        let got: Vec<String> = r.json()["error"]["fields"]
            .as_object()
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(got, fields, "{body}");
    }
    let r = d
        .post(
            &d.agent,
            "/api/tickets",
            json!({"subject": "s", "body": "b"}),
        )
        .await;
    assert!(
        r.json()["error"]["fields"]["email"].is_string(),
        "staff must name the requester: {}",
        r.text
    );
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "s", "body": "b", "colour": "red"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "invalid_fields"),
        "{}",
        r.text
    );
    let r = d.step(n, json!({"to": "sideways"})).await;
    assert_eq!(r.status, 422);
    let r = d
        .patch(
            &d.agent,
            &format!("/api/tickets/{n}"),
            json!({"assignee": "alice@customer.test"}),
        )
        .await;
    assert_eq!(r.status, 422, "customers cannot be assignees: {}", r.text);
    for q in [
        "state=bogus",
        "sort=sideways",
        "cursor=!!",
        "assignee=ghost@x.test",
        "category=Nope",
    ] {
        let r = d.get(&d.agent, &format!("/api/tickets?{q}")).await;
        assert!(
            matches!(r.status, 400 | 422),
            "{q}: {} {}",
            r.status,
            r.text
        );
    }
    // SQL metacharacters and long text are stored as text.
    let evil = format!("'; DROP TABLE tickets; -- {}", "é".repeat(5000));
    let r = d
        .post(
            &d.alice,
            "/api/tickets",
            json!({"subject": "quote ' \" \\ test", "body": evil}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = d
        .get(&d.alice, &format!("/api/tickets/{}", r.json()["number"]))
        .await
        .json();
    assert_eq!(t["messages"][0]["body"].as_str(), Some(evil.as_str()));
    // A read-only token cannot write.
    let ro = d.app.token("alice@customer.test", Scope::Read).await;
    let r = d
        .post(&ro, "/api/tickets", json!({"subject": "s", "body": "b"}))
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "forbidden"),
        "{}",
        r.text
    );
}
