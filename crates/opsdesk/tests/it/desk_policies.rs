//! Desk policies end to end: unsupported request types answered with their policy and closed,
//! and the follow-up email after resolution (sent once, skipped if the ticket reopened).

use serde_json::{Value, json};

use crate::desk::Desk;
use crate::helpers::{Backend, read};
use crate::mail::{drain, inbox_of, mail_desk};
use crate::on_both;

on_both!(
    unsupported_requests_get_the_policy_answer_and_close,
    resolved_tickets_get_one_follow_up_unless_reopened,
    duplicates_merge_and_related_tickets_link
);

async fn walk_to_resolved(d: &Desk, n: i64) {
    for body in [
        json!({"to": "triaged", "category": "Product"}),
        json!({"to": "reproducing", "outcome": "reproduced", "steps": "Open the report"}),
        json!({"to": "investigating", "evidence": "worker log: timeout"}),
        json!({"to": "fixed", "root_cause": "N+1 query", "fix": "Batched the query"}),
    ] {
        let r = d.step(n, body.clone()).await;
        assert_eq!(r.status, 200, "{body}: {}", r.text);
    }
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/messages"),
            json!({"body": "Fixed, please try again."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The reply about the fix was the `responded` step.
    let r = d
        .step(
            n,
            json!({"to": "resolved", "note": "Query batched in 2.4.1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn unsupported_requests_get_the_policy_answer_and_close(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let customer = format!(
        "policy-{}@customer.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let n = d
        .file(
            &d.admin,
            "Please debug my script",
            json!({"email": customer, "name": "Pat"}),
        )
        .await;

    let types = d.get(&d.agent, "/api/unsupported-types").await.json();
    let names: Vec<&str> = types
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        vec![
            "Custom debugging",
            "On-demand configuration",
            "Data recovery outside policy"
        ]
    );

    // Bad input first: unknown type, customers, another customer's ticket.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/unsupported"),
            json!({"type": "nope"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["fields"]["type"].is_string()),
        (422, true),
        "{}",
        r.text
    );
    let r = d
        .post(
            &d.bob,
            &format!("/api/tickets/{n}/unsupported"),
            json!({"type": "custom-debugging"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = d.get(&d.alice, "/api/unsupported-types").await;
    assert_eq!(r.status, 403);

    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/unsupported"),
            json!({"type": "custom-debugging"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(t["state"], "closed");
    assert_eq!(t["close_reason"], "Unsupported request: Custom debugging");
    let last = t["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(last["kind"], "reply");
    let text = last["body"].as_str().unwrap_or("");
    assert!(
        text.starts_with("Hello Pat,") && text.contains(&format!("(#{n})")),
        "{text}"
    );
    let kinds: Vec<&str> = t["timeline"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(kinds.contains(&"unsupported"), "{kinds:?}");
    drain(&d.app).await;
    let got = inbox_of(&customer, 2).await;
    assert!(
        got.iter()
            .any(|m| m.text.contains("outside what") && m.subject.contains(&format!("[#{n}]"))),
        "policy answer not delivered"
    );

    // Closed already: the flow refuses a second close.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/unsupported"),
            json!({"type": "data-recovery"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "invalid_transition")
    );

    // Admins edit the policy text; placeholders are checked.
    let r = read(
        d.app
            .client
            .put(d.app.url("/api/unsupported-types/custom-debugging"))
            .bearer_auth(&d.admin)
            .json(&json!({"name": "Custom debugging", "answer": "Hi {{nmae}}"})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = read(
        d.app
            .client
            .put(d.app.url("/api/unsupported-types/custom-debugging"))
            .bearer_auth(&d.agent)
            .json(&json!({"name": "Custom debugging", "answer": "Hi {{name}}"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = read(
        d.app
            .client
            .put(d.app.url("/api/unsupported-types/custom-debugging"))
            .bearer_auth(&d.admin)
            .json(&json!({"name": "Custom code", "answer": "Hi {{name}}, not covered."})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = read(
        d.app
            .client
            .put(d.app.url("/api/unsupported-types/custom-debugging"))
            .bearer_auth(&d.admin)
            .json(&json!({"name": "On-demand configuration", "answer": "x"})),
    )
    .await;
    assert_eq!(r.status, 422, "a name already used: {}", r.text);
}

async fn resolved_tickets_get_one_follow_up_unless_reopened(backend: Backend) {
    let d = mail_desk(backend, |c| c.mail.followup_hours = 48).await;
    let customer = format!(
        "follow-{}@customer.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let n = d
        .file(
            &d.admin,
            "Report is slow",
            json!({"email": customer, "name": "Quinn"}),
        )
        .await;
    walk_to_resolved(&d, n).await;
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    let resolved_at = t["resolved_at"].as_i64().unwrap_or_default();
    // The follow-up waits in the job queue for 48 hours.
    let jobs = d.get(&d.admin, "/api/jobs?state=queued").await.json();
    let job = jobs["items"]
        .as_array()
        .and_then(|a| a.iter().find(|j| j["kind"] == "desk.followup").cloned())
        .unwrap_or_else(|| panic!("no follow-up job: {jobs}"));
    assert_eq!(job["run_at"].as_i64(), Some(resolved_at + 48 * 3_600_000));

    // Time passes: the job runs and the customer gets the follow-up.
    let db = &d.app.state.db;
    let cfg = &d.app.state.config.mail;
    opsdesk_desk::tickets::followup::send(db, cfg, n, resolved_at)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    drain(&d.app).await;
    let got = inbox_of(&customer, 3).await;
    assert!(
        got.iter().any(|m| m.subject.contains("How is it going?")),
        "no follow-up"
    );
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    let purposes: Vec<&str> = t["deliveries"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["purpose"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(purposes, vec!["ack", "reply", "followup"]);

    // A ticket that reopened before the follow-up was due gets none.
    let m = d
        .file(&d.admin, "Second issue", json!({"email": customer}))
        .await;
    walk_to_resolved(&d, m).await;
    let t = d.get(&d.agent, &format!("/api/tickets/{m}")).await.json();
    let resolved_at = t["resolved_at"].as_i64().unwrap_or_default();
    let r = d.step(m, json!({"to": "triaged"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    opsdesk_desk::tickets::followup::send(db, cfg, m, resolved_at)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let t = d.get(&d.agent, &format!("/api/tickets/{m}")).await.json();
    let purposes: Vec<&str> = t["deliveries"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["purpose"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(purposes, vec!["ack", "reply"]);
    let last = t["timeline"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        last["detail"],
        "no follow-up sent: the ticket is triaged now"
    );
}

async fn duplicates_merge_and_related_tickets_link(backend: Backend) {
    let d = mail_desk(backend, |_| {}).await;
    let customer = format!(
        "dup-{}@customer.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    // The same problem twice by email; the second one is the duplicate.
    let mail = |subject: &str, id: &str, body: &str| {
        format!(
            "From: <{customer}>\r\nTo: support@example.com\r\nSubject: {subject}\r\nMessage-ID: <{id}@customer.test>\r\n\r\n{body}\r\n"
        )
    };
    let post = |raw: String| {
        let c = d.app.client.clone();
        let url = d.app.url("/api/inbound/email");
        let token = d.agent.clone();
        async move { read(c.post(url).bearer_auth(token).body(raw)).await.json() }
    };
    let kept = post(mail("Login fails", "first", "Cannot log in")).await["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let dup = post(mail("Login still fails", "second", "Still cannot log in")).await["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{dup}/notes"),
            json!({"body": "Saw this in the auth log"}),
        )
        .await;
    assert_eq!(r.status, 201);

    // Bad merges are refused with the reason.
    for (target, why) in [
        (dup.clone(), "this ticket"),
        ("99999".to_string(), "can see"),
        ("abc".to_string(), "ticket number"),
    ] {
        let r = d
            .post(
                &d.agent,
                &format!("/api/tickets/{dup}/merge"),
                json!({"ticket": target}),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(
            r.json()["error"]["fields"]["ticket"]
                .as_str()
                .unwrap_or("")
                .contains(why),
            "{}",
            r.text
        );
    }
    assert_eq!(
        d.post(
            &d.alice,
            &format!("/api/tickets/{dup}/merge"),
            json!({"ticket": kept})
        )
        .await
        .status,
        404
    );

    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{dup}/merge"),
            json!({"ticket": format!("#{kept}")}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let k = d
        .get(&d.agent, &format!("/api/tickets/{kept}"))
        .await
        .json();
    let bodies: Vec<&str> = k["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["body"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        bodies,
        vec![
            "Cannot log in",
            "Still cannot log in",
            "Saw this in the auth log"
        ]
    );
    let old = d.get(&d.agent, &format!("/api/tickets/{dup}")).await.json();
    assert_eq!(
        (old["state"].as_str(), old["close_reason"].as_str()),
        (
            Some("closed"),
            Some(format!("Merged into #{kept}").as_str())
        )
    );
    assert_eq!(old["links"][0]["kind"], "merged");
    // The merged conversation is found by search in the kept ticket.
    let found = d
        .get(&d.agent, "/api/tickets?q=still%20cannot")
        .await
        .json();
    let numbers: Vec<String> = found["items"]
        .as_array()
        .map(|a| a.iter().map(|t| t["number"].to_string()).collect())
        .unwrap_or_default();
    assert!(numbers.contains(&kept), "{numbers:?}");
    // A reply to the duplicate's thread now lands in the kept ticket.
    let r = post(format!("From: <{customer}>\r\nTo: support@example.com\r\nSubject: Re: Login still fails\r\nMessage-ID: <third@customer.test>\r\nIn-Reply-To: <second@customer.test>\r\n\r\nAny news?\r\n")).await;
    assert_eq!(r["ticket"], format!("#{kept}"), "{r}");
    // Merging into a closed ticket is refused.
    let third = d.file(&d.alice, "Other thing", json!({})).await;
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{third}/merge"),
            json!({"ticket": dup}),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "invalid_transition"),
        "{}",
        r.text
    );

    // Linking related tickets shows the link on both.
    let r = d
        .post(
            &d.agent,
            &format!("/api/tickets/{third}/links"),
            json!({"ticket": kept}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let k = d
        .get(&d.agent, &format!("/api/tickets/{kept}"))
        .await
        .json();
    let kinds: Vec<(String, String)> = k["links"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["number"].to_string(),
                        l["kind"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        kinds.contains(&(third.to_string(), "related".into()))
            && kinds.contains(&(dup.clone(), "merged".into())),
        "{kinds:?}"
    );
}
