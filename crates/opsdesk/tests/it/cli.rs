//! The command line, run as a real process: users, tokens, backup, audit verify, config, demo.

use opsdesk_core::config::DatabaseUrl;

use crate::helpers::{Backend, fresh_database};
use crate::on_both;
use crate::procs::opsdesk;

on_both!(
    config_file_and_environment_are_read,
    cli_manages_users_and_tokens,
    audit_verify_exits_nonzero_on_tampering,
    demo_seeds_a_populated_desk,
    backup_copies_sqlite_or_points_to_pg_dump
);

fn ok(out: &std::process::Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "command failed: {stderr}");
    (stdout, stderr)
}

async fn setup_db(backend: Backend) -> (tempfile::TempDir, DatabaseUrl) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = fresh_database(backend, dir.path()).await;
    (dir, url)
}

async fn cli_manages_users_and_tokens(backend: Backend) {
    let (dir, url) = setup_db(backend).await;
    let d = dir.path();
    let (stdout, _) = ok(&opsdesk(
        d,
        &url,
        &[
            "user",
            "add",
            "--email",
            "Ops@Example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a good long password\n"),
    ));
    assert_eq!(stdout.trim().len(), 36, "prints the new id: {stdout}");
    let short = opsdesk(
        d,
        &url,
        &[
            "user",
            "add",
            "--email",
            "x@example.com",
            "--role",
            "agent",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("password: must be at least 10 characters")
    );
    let no_tty = opsdesk(
        d,
        &url,
        &["user", "add", "--email", "y@example.com", "--role", "agent"],
        None,
    );
    assert!(
        String::from_utf8_lossy(&no_tty.stderr).contains("--password-stdin"),
        "explains how to pass a password"
    );
    ok(&opsdesk(
        d,
        &url,
        &[
            "user",
            "add",
            "--email",
            "c@globex.example",
            "--role",
            "customer",
            "--org",
            "Globex",
            "--no-password",
        ],
        None,
    ));
    let (list, _) = ok(&opsdesk(d, &url, &["user", "list"], None));
    assert!(
        list.contains("ops@example.com") && list.contains("admin") && list.contains("Globex"),
        "{list}"
    );
    ok(&opsdesk(
        d,
        &url,
        &[
            "user",
            "set-role",
            "--email",
            "c@globex.example",
            "--role",
            "agent",
        ],
        None,
    ));
    let (agents, _) = ok(&opsdesk(
        d,
        &url,
        &["user", "list", "--role", "agent"],
        None,
    ));
    assert!(
        agents.contains("c@globex.example") && !agents.contains("ops@example.com"),
        "{agents}"
    );

    let (token, _) = ok(&opsdesk(
        d,
        &url,
        &[
            "token",
            "create",
            "--email",
            "ops@example.com",
            "--scope",
            "write",
        ],
        None,
    ));
    let token = token.trim().to_string();
    assert!(
        token.starts_with("odt_") && !token.contains('\n') && token.len() == 60,
        "stdout is only the token: {token:?}"
    );
    let (_, revoked) = ok(&opsdesk(d, &url, &["token", "revoke", &token], None));
    assert!(revoked.contains("revoked token"), "{revoked}");
    let (verify, _) = ok(&opsdesk(d, &url, &["audit", "verify"], None));
    assert!(verify.contains("audit chain intact"), "{verify}");
    let help = opsdesk(d, &url, &["token", "create", "--help"], None);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--scope"));
}

async fn audit_verify_exits_nonzero_on_tampering(backend: Backend) {
    let (dir, url) = setup_db(backend).await;
    let d = dir.path();
    for i in 0..3 {
        ok(&opsdesk(
            d,
            &url,
            &[
                "user",
                "add",
                "--email",
                &format!("u{i}@example.com"),
                "--role",
                "agent",
                "--no-password",
            ],
            None,
        ));
    }
    let db = opsdesk_core::db::Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        .execute(db.write())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    db.close().await;
    let out = opsdesk(d, &url, &["audit", "verify"], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("BROKEN: record 2 was modified after it was written"),
        "{stdout}"
    );
}

async fn demo_seeds_a_populated_desk(backend: Backend) {
    let (dir, url) = setup_db(backend).await;
    let d = dir.path();
    ok(&opsdesk(d, &url, &["demo"], None));
    let (_, again) = ok(&opsdesk(d, &url, &["demo"], None));
    assert!(
        again.contains("0 people and 0 tickets added"),
        "the demo is safe to run twice: {again}"
    );
    let (list, _) = ok(&opsdesk(d, &url, &["user", "list"], None));
    assert!(
        list.contains("Brightpixel Agency") && list.contains(opsdesk::demo::DEMO_ADMIN),
        "{list}"
    );
    assert_eq!(list.lines().count(), 9, "header + admin + 7 people: {list}");
    // Demo tickets in different states, walked through the real flow.
    let db = opsdesk_core::db::Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut states: Vec<String> = sqlx::query_scalar("SELECT state FROM tickets")
        .fetch_all(db.read())
        .await
        .unwrap_or_default();
    states.sort();
    assert_eq!(states, vec!["investigating", "new", "responded", "triaged"]);
    db.close().await;
    let (cfg, _) = ok(&opsdesk(d, &url, &["default-config"], None));
    assert!(cfg.contains("listen = \"127.0.0.1:8080\"") && cfg.contains("OPSDESK_DATABASE_URL"));
}

async fn backup_copies_sqlite_or_points_to_pg_dump(backend: Backend) {
    let (dir, url) = setup_db(backend).await;
    let d = dir.path();
    ok(&opsdesk(
        d,
        &url,
        &[
            "user",
            "add",
            "--email",
            "keep@example.com",
            "--role",
            "agent",
            "--no-password",
        ],
        None,
    ));
    let target = d.join("backup.db");
    let out = opsdesk(
        d,
        &url,
        &["backup", target.to_str().unwrap_or_default()],
        None,
    );
    match backend {
        Backend::Sqlite => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let copy = DatabaseUrl(format!("sqlite://{}", target.display()));
            let (list, _) = ok(&opsdesk(d, &copy, &["user", "list"], None));
            assert!(
                list.contains("keep@example.com"),
                "the backup holds the data: {list}"
            );
            let twice = opsdesk(
                d,
                &url,
                &["backup", target.to_str().unwrap_or_default()],
                None,
            );
            assert!(String::from_utf8_lossy(&twice.stderr).contains("already exists"));
        }
        Backend::Postgres => {
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        }
    }
}

async fn config_file_and_environment_are_read(backend: Backend) {
    let (dir, url) = setup_db(backend).await;
    let d = dir.path();
    let cfg = d.join("opsdesk.toml");
    let toml = format!(
        "data_dir = {:?}\ndatabase_url = {:?}\n[lockout]\nwindow_minutes = 5\n",
        d.display().to_string(),
        url.expose()
    );
    std::fs::write(&cfg, toml).unwrap_or_else(|e| panic!("{e}"));
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(crate::procs::bin());
        cmd.arg("--config").arg(&cfg).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap_or_else(|e| panic!("{e}"))
    };
    ok(&run(
        &[
            "user",
            "add",
            "--email",
            "file@example.com",
            "--role",
            "agent",
            "--no-password",
        ],
        &[],
    ));
    let (list, _) = ok(&run(&["user", "list"], &[]));
    assert!(
        list.contains("file@example.com"),
        "the file's database was used: {list}"
    );
    // The environment wins over the file: an unreachable database shows the variable was read.
    let env = run(
        &["user", "list"],
        &[(
            "OPSDESK_DATABASE_URL",
            "sqlite:///nonexistent-dir/x/y.db?mode=ro",
        )],
    );
    assert!(!env.status.success(), "OPSDESK_DATABASE_URL was ignored");
    std::fs::write(&cfg, "listen = \"127.0.0.1:1\"\nlimts = 3\n").unwrap_or_else(|e| panic!("{e}"));
    let typo = run(&["user", "list"], &[]);
    let err = String::from_utf8_lossy(&typo.stderr);
    assert!(
        !typo.status.success() && err.contains("unknown field `limts`"),
        "typos in the file are reported: {err}"
    );
}
