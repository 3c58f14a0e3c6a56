//! Ops actions run real programs (a pm2 stand-in that succeeds, fails, hangs, prints secrets and
//! floods): typed parameters with shell metacharacters passed as plain arguments, a ticket or
//! incident on every run, two-person approval good once for exactly the approved parameters
//! until it expires, undo, timeouts that kill the process group, redaction, the change freeze
//! and its override, interrupted runs — and, with two instances on one database, one approved
//! run never runs twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opsdesk_core::auth::tokens::Scope;
use opsdesk_core::config::{ActionConfig, Config, ParamConfig, Secret, UndoConfig};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, Backend, Reply, TestApp, spawn_with};
use crate::on_both;

on_both!(
    ops_actions_keep_the_safety_rules,
    ops_runs_fail_time_out_redact_and_bound_their_output,
    one_approval_runs_once_across_two_instances
);

pub const SECRET: &str = "tok-7f3a9c2e51b8d04d";

pub fn fake_pm2() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../opsdesk-ops/tests/fixtures/fake-pm2")
        .display()
        .to_string()
}

fn param(name: &str, kind: &str) -> ParamConfig {
    ParamConfig {
        name: name.into(),
        kind: kind.into(),
        description: String::new(),
        values: Vec::new(),
        min: None,
        max: None,
        pattern: None,
        default: None,
    }
}

fn act(name: &str, kind: &str, args: &[&str]) -> ActionConfig {
    ActionConfig {
        name: name.into(),
        description: String::new(),
        kind: kind.into(),
        program: fake_pm2(),
        args: args.iter().map(|a| a.to_string()).collect(),
        params: Vec::new(),
        role: "agent".into(),
        approval: false,
        timeout_seconds: 10,
        env: BTreeMap::new(),
        secrets: BTreeMap::new(),
        undo: None,
        irreversible: false,
    }
}

/// The actions the tests use; each call appends to `record`.
pub fn actions(c: &mut Config, record: &Path) {
    let rec = |a: &mut ActionConfig| {
        a.env
            .insert("FAKE_PM2_RECORD".into(), record.display().to_string());
    };
    let mut app = param("app", "string");
    app.pattern = Some("[A-Za-z0-9 ._;$()|&/-]{1,64}".into());
    let mut restart = act(
        "restart-app",
        "restart",
        &["restart", "{app}", "--update-env"],
    );
    restart.params = vec![app.clone()];
    restart.approval = true;
    restart.undo = Some(UndoConfig {
        program: fake_pm2(),
        args: vec!["stop".into(), "{app}".into()],
    });
    rec(&mut restart);
    let mut quick = restart.clone();
    quick.name = "restart-now".into();
    quick.approval = false;
    let mut logs = act(
        "show-logs",
        "diagnostic",
        &["logs", "{app}", "--lines", "{lines}", "--nostream"],
    );
    let mut which = param("app", "enum");
    which.values = vec!["web".into(), "worker".into(), "hang".into()];
    let mut lines = param("lines", "integer");
    lines.min = Some(1);
    lines.max = Some(500);
    lines.default = Some("50".into());
    logs.params = vec![which, lines];
    logs.timeout_seconds = 2;
    let mut env = act("print-env", "diagnostic", &["env"]);
    env.secrets
        .insert("PM2_SECRET_TOKEN".into(), Secret(SECRET.into()));
    let flood = act("flood", "diagnostic", &["flood"]);
    let mut deploy = act("deploy-app", "deploy", &["restart", "{app}"]);
    deploy.params = vec![app.clone()];
    deploy.irreversible = true;
    rec(&mut deploy);
    let mut fix = act(
        "fix-data",
        "data_fix",
        &["logs", "{app}", "--lines", "2", "--nostream"],
    );
    fix.params = vec![app];
    fix.irreversible = true;
    let mut admin_only = act(
        "admin-logs",
        "diagnostic",
        &["logs", "web", "--lines", "1", "--nostream"],
    );
    admin_only.role = "admin".into();
    let mut view = act("view-as-customer", "impersonation", &[]);
    view.program = String::new();
    c.ops.actions = vec![
        restart, quick, logs, env, flood, deploy, fix, view, admin_only,
    ];
    c.ops.output_bytes = 64 * 1024;
}

pub async fn send(app: &TestApp, path: &str, token: &str, body: Value) -> Reply {
    app.post_json_with_token(path, token, &body).await
}

/// Waits for a run to end and returns it.
pub async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let r = app
            .get_with_token(&format!("/api/ops/runs/{id}"), token)
            .await
            .json();
        if r["state"] != "running" {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id} did not end");
}

/// The ops lines on a ticket's timeline, oldest first.
pub async fn ops_lines(app: &TestApp, token: &str, ticket: &str) -> Vec<String> {
    let t = app
        .get_with_token(&format!("/api/tickets/{ticket}"), token)
        .await
        .json();
    t["timeline"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["kind"] == "ops")
                .filter_map(|e| e["detail"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn fields(r: &Reply) -> String {
    r.json()["error"]["fields"]
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

fn recorded(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

pub struct Desk {
    pub app: TestApp,
    pub admin: String,
    pub agent: String,
    pub ticket: String,
    pub record: PathBuf,
}

pub async fn desk(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Desk {
    let record = std::env::temp_dir().join(format!("pm2-calls-{}", uuid::Uuid::new_v4()));
    let rec = record.clone();
    let app = spawn_with(backend, move |c| {
        actions(c, &rec);
        adjust(c);
    })
    .await;
    app.setup().await;
    app.add_user("bob@example.com", "agent", "").await;
    app.add_user("carol@customer.example", "customer", "").await;
    let admin = app.token(ADMIN_EMAIL, Scope::Write).await;
    let agent = app.token("bob@example.com", Scope::Write).await;
    let r = app
        .post_json_with_token(
            "/api/tickets",
            &admin,
            &json!({"subject": "App is slow", "body": "Since this morning.", "email": "carol@customer.example"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ticket = r.json()["number"].as_i64().unwrap_or_default().to_string();
    Desk {
        app,
        admin,
        agent,
        ticket,
        record,
    }
}

async fn ops_actions_keep_the_safety_rules(backend: Backend) {
    let d = desk(backend, |_| {}).await;
    let (app, admin, agent, ticket) = (&d.app, &d.admin, &d.agent, d.ticket.as_str());

    let listed = app.get_with_token("/api/ops/actions", agent).await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text.contains(SECRET), "secrets are never shown");
    let v = listed.json();
    let restart = v
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "restart-app"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(restart["approval"], true);
    assert_eq!(restart["params"][0]["name"], "app");

    // Bad requests are refused field by field, and nothing runs.
    for (body, field) in [
        (
            json!({"action": "reboot-world", "ticket": ticket}),
            "action",
        ),
        (
            json!({"action": "show-logs", "params": {"app": "web"}}),
            "ticket",
        ),
        (
            json!({"action": "show-logs", "params": {"app": "web"}, "ticket": "999999"}),
            "ticket",
        ),
        (
            json!({"action": "show-logs", "params": {"app": "db"}, "ticket": ticket}),
            "params.app",
        ),
        (
            json!({"action": "show-logs", "params": {"app": "web", "lines": 0}, "ticket": ticket}),
            "params.lines",
        ),
        (
            json!({"action": "show-logs", "params": {"app": "web", "lines": "5; reboot"}, "ticket": ticket}),
            "params.lines",
        ),
        (
            json!({"action": "show-logs", "params": {"app": "web", "nope": "1"}, "ticket": ticket}),
            "params.nope",
        ),
        (
            json!({"action": "restart-now", "params": {"app": "web\nreboot"}, "ticket": ticket}),
            "params.app",
        ),
        (
            json!({"action": "deploy-app", "params": {"app": "web"}, "ticket": ticket}),
            "confirm",
        ),
        (
            json!({"action": "fix-data", "params": {"app": "web"}, "ticket": ticket, "confirm": "fix-data"}),
            "justification",
        ),
    ] {
        let r = send(app, "/api/ops/runs", agent, body.clone()).await;
        assert_eq!(r.status, 422, "{body} → {}", r.text);
        assert_eq!(fields(&r), field, "{body} → {}", r.text);
    }
    assert!(
        recorded(&d.record).is_empty(),
        "nothing ran: {:?}",
        recorded(&d.record)
    );

    // A diagnostic runs at once, for the ticket; its output is kept.
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "show-logs", "params": {"app": "web", "lines": 3}, "ticket": ticket}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let run = finished(app, agent, r.json()["id"].as_str().unwrap_or_default()).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["argv"][5], "--nostream");
    assert!(
        run["output"].as_str().unwrap_or("").contains("log line 3"),
        "{run}"
    );
    assert_eq!(run["can_undo"], false, "a diagnostic has nothing to undo");

    // Two-person approval, for exactly the approved parameters, once.
    let odd = "web; rm -rf / $(id) | cat && echo";
    let r = send(
        app,
        "/api/ops/runs",
        admin,
        json!({"action": "restart-app", "params": {"app": odd}, "ticket": ticket}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let req = r.json();
    let id = req["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(req["state"], "awaiting_approval");
    assert_eq!(req["argv"][2], odd, "one argument, as typed");
    let r = send(
        app,
        &format!("/api/ops/runs/{id}/approve"),
        admin,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 403, "the requester cannot approve: {}", r.text);
    let r = send(
        app,
        "/api/ops/runs",
        admin,
        json!({"approval": id, "params": {"app": odd}}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "not_approved");
    let r = send(
        app,
        &format!("/api/ops/runs/{id}/approve"),
        agent,
        json!({"params": {"app": "worker"}}),
    )
    .await;
    assert_eq!(
        r.status, 409,
        "the approver saw other parameters: {}",
        r.text
    );
    let r = send(
        app,
        &format!("/api/ops/runs/{id}/approve"),
        agent,
        json!({"params": {"app": odd}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "approved");
    assert!(r.json()["approval_expires"].is_string());
    let r = send(
        app,
        &format!("/api/ops/runs/{id}/approve"),
        agent,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 409, "approved already: {}", r.text);
    let r = send(
        app,
        "/api/ops/runs",
        admin,
        json!({"approval": id, "params": {"app": "worker"}}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "params_changed");
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"approval": id, "params": {"app": odd}}),
    )
    .await;
    assert_eq!(r.status, 403, "only the requester runs it: {}", r.text);
    assert!(
        recorded(&d.record).is_empty(),
        "nothing ran before the approved run"
    );
    let r = send(
        app,
        "/api/ops/runs",
        admin,
        json!({"approval": id, "params": {"app": odd}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let run = finished(app, admin, &id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert!(run["approved_by"].is_string(), "{run}");
    assert_eq!(
        recorded(&d.record),
        vec![format!("restart\t{odd}\t--update-env")],
        "ran once, the metacharacters as a plain argument"
    );
    let r = send(
        app,
        "/api/ops/runs",
        admin,
        json!({"approval": id, "params": {"app": odd}}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "approval_used");

    // Undo runs the undo with the recorded parameters, linked both ways, once.
    assert_eq!(run["can_undo"], true);
    let r = send(
        app,
        &format!("/api/ops/runs/{id}/undo"),
        agent,
        json!({"justification": "made it worse"}),
    )
    .await;
    // The action needs approval, so its undo does too: it waits, then runs once approved.
    assert_eq!(r.status, 202, "{}", r.text);
    let undo_id = r.json()["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(r.json()["state"], "awaiting_approval");
    assert_eq!(recorded(&d.record).len(), 1, "the undo waits for approval");
    let r = send(
        app,
        &format!("/api/ops/runs/{undo_id}/approve"),
        admin,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"approval": undo_id, "params": {"app": odd}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let undo = finished(app, agent, &undo_id).await;
    assert_eq!(undo["state"], "succeeded", "{undo}");
    assert_eq!(undo["undo_of"], id.as_str());
    assert_eq!(
        recorded(&d.record).last().cloned().unwrap_or_default(),
        format!("stop\t{odd}")
    );
    let again = app
        .get_with_token(&format!("/api/ops/runs/{id}"), admin)
        .await
        .json();
    assert_eq!(again["undone_by"], undo["id"]);
    assert_eq!(again["can_undo"], false);
    let r = send(app, &format!("/api/ops/runs/{id}/undo"), agent, json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let uid = undo["id"].as_str().unwrap_or_default();
    let r = send(app, &format!("/api/ops/runs/{uid}/undo"), agent, json!({})).await;
    assert_eq!(r.status, 409, "an undo is not undone: {}", r.text);

    // An approval runs out.
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "restart-app", "params": {"app": "worker"}, "ticket": ticket}),
    )
    .await;
    let late = r.json()["id"].as_str().unwrap_or_default().to_string();
    let r = send(
        app,
        &format!("/api/ops/runs/{late}/approve"),
        admin,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    sqlx::query("UPDATE ops_runs SET approval_expires = $1 WHERE id = $2")
        .bind(opsdesk_core::clock::now_ms() - 1)
        .bind(&late)
        .execute(app.state.db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"approval": late, "params": {"app": "worker"}}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "approval_expired");
    assert_eq!(
        recorded(&d.record).len(),
        2,
        "the expired approval ran nothing"
    );
    let r = send(app, "/api/ops/runs/0190-gone/approve", admin, json!({})).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // A data fix carries its justification; an irreversible action its typed confirmation.
    let r = send(app, "/api/ops/runs", agent, json!({"action": "fix-data", "params": {"app": "web"}, "ticket": ticket, "confirm": "fix-data", "justification": "Customer's duplicate invoice, see ticket"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let fix = finished(app, agent, r.json()["id"].as_str().unwrap_or_default()).await;
    assert_eq!(
        fix["justification"],
        "Customer's duplicate invoice, see ticket"
    );

    // The change freeze: a live SEV1 refuses deploys, naming it; its commander overrides.
    let r = send(
        app,
        "/api/incidents",
        admin,
        json!({"title": "Checkout down", "severity": 1}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let deploy = json!({"action": "deploy-app", "params": {"app": "web"}, "incident": "INC-1", "confirm": "deploy-app"});
    let r = send(app, "/api/ops/runs", agent, deploy.clone()).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.error_code(), "frozen");
    assert!(r.text.contains("INC-1"), "{}", r.text);
    let mut with_reason = deploy.clone();
    with_reason["override_reason"] = json!("The fix for this very incident");
    let r = send(app, "/api/ops/runs", agent, with_reason.clone()).await;
    assert_eq!(r.status, 403, "only the commander or an admin: {}", r.text);
    let r = send(app, "/api/ops/runs", admin, with_reason).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let run = finished(app, admin, r.json()["id"].as_str().unwrap_or_default()).await;
    assert_eq!(run["override_reason"], "The fix for this very incident");
    assert_eq!(run["incident"]["number"], 1);
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "restart-now", "params": {"app": "web"}, "ticket": ticket}),
    )
    .await;
    assert_eq!(r.status, 201, "restarts are not frozen: {}", r.text);
    finished(app, agent, r.json()["id"].as_str().unwrap_or_default()).await;
    let inc = app.get_with_token("/api/incidents/1", admin).await.json();
    let kinds: Vec<&str> = inc["timeline"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        kinds.contains(&"override") && kinds.contains(&"action"),
        "{inc}"
    );
    assert!(
        inc["links"]
            .as_array()
            .is_some_and(|a| a.iter().any(|l| l["kind"] == "run")),
        "{inc}"
    );

    // The ticket's timeline shows every run; the audit log has them all.
    let ops = ops_lines(app, admin, ticket).await;
    assert!(ops.iter().any(|l| l.contains("approved")), "{ops:?}");
    assert!(
        ops.iter().any(|l| l.contains("(undo) succeeded")),
        "{ops:?}"
    );
    let audit = app.audit_actions().await;
    for a in [
        "ops.run.request",
        "ops.run.approve",
        "ops.run.start",
        "ops.run.finish",
        "ops.run.undo",
        "ops.freeze.override",
    ] {
        assert!(audit.iter().any(|x| x == a), "{a} missing");
    }
    let runs = app
        .get_with_token(
            &format!("/api/ops/runs?ticket={ticket}&state=succeeded"),
            admin,
        )
        .await
        .json();
    assert!(
        runs["items"].as_array().is_some_and(|a| a.len() >= 4),
        "{runs}"
    );
    let r = app.get_with_token("/api/ops/runs?state=bogus", admin).await;
    assert_eq!(r.status, 422, "{}", r.text);

    // An admin-only action: agents may neither request it nor read its runs.
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "admin-logs", "ticket": ticket}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = send(
        app,
        "/api/ops/runs",
        admin,
        json!({"action": "admin-logs", "ticket": ticket}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret_run = r.json()["id"].as_str().unwrap_or_default().to_string();
    finished(app, admin, &secret_run).await;
    assert_eq!(
        app.get_with_token(&format!("/api/ops/runs/{secret_run}"), agent)
            .await
            .status,
        404
    );
    let listed = app.get_with_token("/api/ops/runs", agent).await;
    assert!(
        !listed.text.contains(&secret_run),
        "agents do not list admin-only runs"
    );

    // A run whose server died is marked interrupted, not left running.
    sqlx::query("UPDATE ops_runs SET state = 'running', heartbeat = 1 WHERE id = $1")
        .bind(&id)
        .execute(app.state.db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    opsdesk_ops::runbooks::runner::sweep(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let run = app
        .get_with_token(&format!("/api/ops/runs/{id}"), admin)
        .await
        .json();
    assert_eq!(run["state"], "interrupted", "{run}");
}

async fn ops_runs_fail_time_out_redact_and_bound_their_output(backend: Backend) {
    let d = desk(backend, |_| {}).await;
    let (app, agent, ticket) = (&d.app, &d.agent, d.ticket.as_str());
    let run = |body: Value| async move {
        let r = send(app, "/api/ops/runs", agent, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        finished(app, agent, r.json()["id"].as_str().unwrap_or_default()).await
    };

    let failed =
        run(json!({"action": "restart-now", "params": {"app": "broken"}, "ticket": ticket})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["exit_code"], 1);
    assert!(
        failed["output"]
            .as_str()
            .unwrap_or("")
            .contains("failed to restart"),
        "stderr is kept: {failed}"
    );
    assert_eq!(failed["can_undo"], false);

    let secret = run(json!({"action": "print-env", "ticket": ticket})).await;
    let out = secret["output"].as_str().unwrap_or("");
    assert!(out.contains("PM2_SECRET_TOKEN=[redacted]"), "{out}");
    assert!(!out.contains(SECRET));
    let all = app.get_with_token("/api/ops/runs", agent).await;
    assert!(!all.text.contains(SECRET));
    let audit = opsdesk_core::audit::store::list(&app.state.db, &Default::default(), 10_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(audit.iter().all(|r| !r.summary.contains(SECRET)));

    let flood = run(json!({"action": "flood", "ticket": ticket})).await;
    assert_eq!(flood["state"], "succeeded");
    assert_eq!(flood["total_bytes"], 10 * 1024 * 1024);
    assert_eq!(flood["truncated"], true);
    let kept = flood["output"].as_str().unwrap_or("").len();
    assert!(kept <= 64 * 1024 + 200, "kept {kept} bytes");

    // While it runs, its page streams the output as server-sent events, then says how it ended.
    app.login("bob@example.com", crate::helpers::ADMIN_PASSWORD)
        .await;
    let r = send(
        app,
        "/api/ops/runs",
        agent,
        json!({"action": "show-logs", "params": {"app": "hang"}, "ticket": ticket}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let live_id = r.json()["id"].as_str().unwrap_or_default().to_string();
    let mut resp = app
        .client
        .get(app.url(&format!("/ops/runs/{live_id}/stream")))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("text/event-stream")
    );
    let mut events = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        events.push_str(&String::from_utf8_lossy(&chunk));
        if events.contains("event: end") {
            break;
        }
    }
    let output_at = events.find("event: output").unwrap_or(usize::MAX);
    let end_at = events.find("event: end").unwrap_or(0);
    assert!(
        output_at < end_at,
        "output streamed before the end: {events}"
    );
    assert!(events.contains("child pid"), "{events}");
    assert!(events.contains("data: \"timed_out\""), "{events}");
    let page = app.get_page(&format!("/ops/runs/{live_id}")).await;
    assert!(
        page.text.contains("timed out after"),
        "the page after a reload shows the kept output"
    );

    let started = std::time::Instant::now();
    let hung =
        run(json!({"action": "show-logs", "params": {"app": "hang"}, "ticket": ticket})).await;
    assert_eq!(hung["state"], "timed_out", "{hung}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let out = hung["output"].as_str().unwrap_or("");
    let child: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("[PM2] child pid "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {out}"));
    let mut gone = false;
    for _ in 0..30 {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for its reaper.
        if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "the hung action's background child {child} was killed with its group"
    );
}

async fn one_approval_runs_once_across_two_instances(backend: Backend) {
    let d = desk(backend, |_| {}).await;
    let url = d
        .app
        .state
        .config
        .database_url
        .clone()
        .unwrap_or_else(|| panic!("no database url"));
    let record = d.record.clone();
    // SQLite serves one instance by design: there the two racers share it.
    let other = match backend {
        Backend::Postgres => Some(
            spawn_with(backend, move |c| {
                actions(c, &record);
                c.database_url = Some(url);
            })
            .await,
        ),
        Backend::Sqlite => None,
    };
    let second = other.as_ref().unwrap_or(&d.app);
    assert!(
        other.is_none() || second.state.instance_id != d.app.state.instance_id,
        "two instances"
    );
    let (app, admin, agent) = (&d.app, &d.admin, &d.agent);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = send(
            app,
            "/api/ops/runs",
            admin,
            json!({"action": "restart-app", "params": {"app": "web"}, "ticket": d.ticket}),
        )
        .await;
        let id = r.json()["id"].as_str().unwrap_or_default().to_string();
        let r = send(
            app,
            &format!("/api/ops/runs/{id}/approve"),
            agent,
            json!({}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        ids.push(id);
    }
    for id in &ids {
        let body = json!({"approval": id, "params": {"app": "web"}});
        let (a, b) = tokio::join!(
            send(app, "/api/ops/runs", admin, body.clone()),
            send(second, "/api/ops/runs", admin, body.clone()),
        );
        let mut codes = [a.status, b.status];
        codes.sort();
        assert_eq!(codes, [201, 409], "{} / {}", a.text, b.text);
        finished(app, admin, id).await;
    }
    let calls = recorded(&d.record);
    assert_eq!(
        calls.len(),
        5,
        "each approved run ran exactly once: {calls:?}"
    );
}
