//! Impersonation ("view the portal as this customer"): only through a request tied to the
//! customer's ticket and approved by a second person, time-boxed, read-only, with a banner on
//! every page while it lasts, and audited at start and end on the ticket's timeline.

use serde_json::json;

use crate::helpers::Backend;
use crate::on_both;
use crate::ops_actions::{desk, ops_lines, send};

on_both!(impersonation_is_approved_time_boxed_read_only_and_audited);

async fn impersonation_is_approved_time_boxed_read_only_and_audited(backend: Backend) {
    let d = desk(backend, |_| {}).await;
    let (app, admin, agent, ticket) = (&d.app, &d.admin, &d.agent, d.ticket.as_str());
    let r = send(
        app,
        &format!("/api/tickets/{ticket}/notes"),
        admin,
        json!({"body": "Internal: suspect their SSO setup"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "view-as-customer", "incident": "INC-9"}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "view-as-customer", "ticket": ticket}),
    )
    .await;
    assert_eq!(
        r.status, 202,
        "always approved by a second person: {}",
        r.text
    );
    let id = r.json()["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(r.json()["argv"][1], "carol@customer.example");
    let r = send(
        app,
        &format!("/api/ops/runs/{id}/approve"),
        agent,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = send(
        app,
        &format!("/api/ops/runs/{id}/approve"),
        admin,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Bob starts it in his browser: the customer's portal, read-only, with a banner everywhere.
    app.login("bob@example.com", crate::helpers::ADMIN_PASSWORD)
        .await;
    let r = app.post_form(&format!("/ops/runs/{id}/run"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), format!("/ops/runs/{id}/portal"));
    let portal = app.get_page(&format!("/ops/runs/{id}/portal")).await;
    assert_eq!(portal.status, 200, "{}", portal.text);
    assert!(portal.text.contains("App is slow"), "{}", portal.text);
    assert!(
        portal.text.contains("id=\"banner\""),
        "banner on the portal view"
    );
    let desk_page = app.get_page("/desk").await;
    assert!(
        desk_page
            .text
            .contains("viewing the portal as another person (carol@customer.example)"),
        "banner on every page: {}",
        desk_page.text
    );
    let t = app
        .get_page(&format!("/ops/runs/{id}/portal/tickets/{ticket}"))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert!(t.text.contains("Since this morning."), "{}", t.text);
    assert!(
        !t.text.contains("suspect their SSO"),
        "internal notes stay hidden, as for the customer"
    );
    assert!(
        !t.text.contains("action=\"/portal"),
        "no form acts as the customer"
    );
    let other = app
        .get_page(&format!("/ops/runs/{id}/portal/tickets/999999"))
        .await;
    assert_eq!(other.status, 404, "{}", other.text);
    let by_admin = app
        .get_with_token(&format!("/api/ops/runs/{id}"), admin)
        .await
        .json();
    assert_eq!(by_admin["state"], "running");

    // Ending it: audited, on the ticket's timeline, and the view closes.
    let r = app.post_form(&format!("/ops/runs/{id}/end"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let closed = app.get_page(&format!("/ops/runs/{id}/portal")).await;
    assert_eq!(closed.status, 409, "{}", closed.text);
    assert!(!app.get_page("/desk").await.text.contains("id=\"banner\""));
    let lines = ops_lines(app, admin, ticket).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("impersonation of") && l.contains("read-only")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("impersonation ended by the agent")),
        "{lines:?}"
    );

    // Time-boxed: one whose time is up is ended by the sweep.
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "view-as-customer", "ticket": ticket}),
    )
    .await;
    let id2 = r.json()["id"].as_str().unwrap_or_default().to_string();
    send(
        app,
        &format!("/api/ops/runs/{id2}/approve"),
        admin,
        json!({}),
    )
    .await;
    let r = send(app, "/api/ops/runs", agent, json!({"approval": id2})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ends = r.json()["started_at"].as_str().map(str::to_string);
    assert!(ends.is_some());
    sqlx::query("UPDATE ops_runs SET ends_at = $1 WHERE id = $2")
        .bind(opsdesk_core::clock::now_ms() - 1)
        .bind(&id2)
        .execute(app.state.db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    opsdesk_ops::runbooks::impersonation::sweep(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let over = app
        .get_with_token(&format!("/api/ops/runs/{id2}"), admin)
        .await
        .json();
    assert_eq!(over["state"], "succeeded", "{over}");
    let audit = app.audit_actions().await;
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "ops.impersonation.start")
            .count(),
        2
    );
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "ops.impersonation.end")
            .count(),
        2
    );
}
