//! The reply composer: every team reply is reviewed against the communication rules; a flagged
//! reply goes out only when the agent confirms, and the confirmation is on the timeline. Canned
//! replies fill in placeholders; admins edit the phrase lists.

use serde_json::json;

use crate::desk::desk;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, read};
use crate::on_both;

on_both!(flagged_replies_need_confirmation_and_canned_replies_fill_in);

async fn flagged_replies_need_confirmation_and_canned_replies_fill_in(backend: Backend) {
    let d = desk(backend).await;
    let n = d.file(&d.alice, "Sync is broken", json!({})).await;
    let path = format!("/api/tickets/{n}/messages");

    // A clean reply goes straight out.
    let r = d
        .post(
            &d.agent,
            &path,
            json!({"body": "Thanks, we are looking into it."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Blame and a promised date are flagged; nothing is sent until the agent confirms.
    let flagged = "That's user error, you should have updated. It will be fixed by Friday.";
    let check = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/reply-check"),
            json!({"body": flagged}),
        )
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    let kinds: Vec<String> = check.json()["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["concern"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        kinds.contains(&"blame".to_string()) && kinds.contains(&"promised_date".to_string()),
        "{kinds:?}"
    );
    let r = d.post(&d.agent, &path, json!({"body": flagged})).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "reply_needs_confirmation"),
        "{}",
        r.text
    );
    assert!(
        r.json()["error"]["fields"]["body"]
            .as_str()
            .unwrap_or("")
            .contains("user error")
    );
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    assert_eq!(
        t["messages"].as_array().map(Vec::len),
        Some(2),
        "the flagged reply was not stored"
    );
    let r = d
        .post(&d.agent, &path, json!({"body": flagged, "confirm": true}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    let confirmed = t["timeline"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["kind"] == "reply_confirmed").cloned())
        .unwrap_or_default();
    assert!(
        confirmed["detail"]
            .as_str()
            .unwrap_or("")
            .contains("user error"),
        "{confirmed}"
    );
    // Customers' own messages are not reviewed.
    let r = d
        .post(
            &d.alice,
            &path,
            json!({"body": "Probably my fault, maybe."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Admins edit the lists; the review uses them at once.
    let rules = d.get(&d.agent, "/api/reply-rules").await.json();
    let mut edited = rules.clone();
    edited["internal"] = json!(format!(
        "{}\nproject falcon",
        rules["internal"].as_str().unwrap_or("")
    ));
    let r = read(
        d.app
            .client
            .put(d.app.url("/api/reply-rules"))
            .bearer_auth(&d.agent)
            .json(&edited),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = read(
        d.app
            .client
            .put(d.app.url("/api/reply-rules"))
            .bearer_auth(&d.admin)
            .json(&edited),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let check = d
        .post(
            &d.agent,
            &format!("/api/tickets/{n}/reply-check"),
            json!({"body": "Project Falcon will help."}),
        )
        .await;
    assert_eq!(
        check.json()["findings"][0]["concern"],
        "internal_only",
        "{}",
        check.text
    );
    let mut bad = edited.clone();
    bad["blame"] = json!("x".repeat(150));
    let r = read(
        d.app
            .client
            .put(d.app.url("/api/reply-rules"))
            .bearer_auth(&d.admin)
            .json(&bad),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["fields"]["blame"].is_string()),
        (422, true),
        "{}",
        r.text
    );

    // Canned replies: placeholders are checked when saved and filled in for the ticket.
    let r = d
        .post(
            &d.agent,
            "/api/canned-replies",
            json!({"title": "Need logs", "body": "Hi {{nmae}}"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = d.post(&d.agent, "/api/canned-replies", json!({"title": "Need logs", "body": "Hello {{name}}, could you send the logs for {{ref}}?"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap_or("").to_string();
    let r = d
        .post(
            &d.agent,
            "/api/canned-replies",
            json!({"title": "Need logs", "body": "again"}),
        )
        .await;
    assert_eq!(r.status, 422, "duplicate title: {}", r.text);
    assert_eq!(d.get(&d.alice, "/api/canned-replies").await.status, 403);

    // In the page (no JavaScript): insert the canned reply, get flagged, send anyway.
    d.app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = d
        .app
        .get_page(&format!("/desk/tickets/{n}?canned={id}"))
        .await;
    assert!(
        page.text
            .contains(&format!("could you send the logs for #{n}?")),
        "{}",
        page.text
    );
    let form = d
        .app
        .post_form(
            &format!("/desk/tickets/{n}/reply"),
            &[("body", "This is probably a cache issue.")],
        )
        .await;
    assert_eq!(form.status, 422);
    assert!(
        form.text.contains("Before you send") && form.text.contains("Send anyway"),
        "{}",
        form.text
    );
    assert!(
        form.text.contains("This is probably a cache issue."),
        "the draft is kept"
    );
    let sent = d
        .app
        .post_form(
            &format!("/desk/tickets/{n}/reply"),
            &[
                ("body", "This is probably a cache issue."),
                ("confirm", "true"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.text);

    let r = read(
        d.app
            .client
            .delete(d.app.url(&format!("/api/canned-replies/{id}")))
            .bearer_auth(&d.agent),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = read(
        d.app
            .client
            .delete(d.app.url(&format!("/api/canned-replies/{id}")))
            .bearer_auth(&d.agent),
    )
    .await;
    assert_eq!(r.status, 404);
}
