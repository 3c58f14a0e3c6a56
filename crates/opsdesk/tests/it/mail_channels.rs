//! Email through every way in: a corpus of real-world-shaped messages through the API (each
//! taken in once, attachments served as downloads, a 20 MB file byte for byte), the
//! `opsdesk mail ingest` pipe, and the built-in SMTP receiver fed by swaks.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::{Backend, read};
use crate::mail::{email, mail_desk, unique};
use crate::on_both;
use crate::procs::opsdesk;

on_both!(
    every_corpus_message_is_taken_in_without_loss,
    attachments_download_safely_and_only_for_those_who_may_see_them,
    the_mail_pipe_files_messages_from_standard_input,
    the_smtp_receiver_takes_mail_from_a_real_client
);

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

    // A 20 MB attachment (kept outside the table on SQLite) comes back byte for byte.
    use base64::Engine as _;
    let data: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let raw = format!(
        "From: <big@customer.test>\r\nTo: help@example.com\r\nSubject: Crash dump\r\n\
         Message-ID: <{}@customer.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain\r\n\r\nThe dump is attached.\r\n--b1\r\n\
         Content-Type: application/octet-stream; name=\"core.dump\"\r\n\
         Content-Disposition: attachment; filename=\"core.dump\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        uuid::Uuid::new_v4().simple(),
        wrapped.join("\r\n")
    );
    let r = read(
        d.app
            .client
            .post(d.app.url("/api/inbound/email"))
            .bearer_auth(&d.agent)
            .body(raw),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let big = r.json()["ticket"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('#')
        .to_string();
    let t = d.get(&d.agent, &format!("/api/tickets/{big}")).await.json();
    assert_eq!(t["attachments"][0]["filename"], "core.dump");
    assert_eq!(t["attachments"][0]["size"], data.len());
    let got = d
        .app
        .client
        .get(d.app.url(&format!(
            "/api/tickets/{big}/attachments/{}",
            t["attachments"][0]["id"].as_str().unwrap_or("")
        )))
        .bearer_auth(&d.agent)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.status().as_u16(), 200);
    let bytes = got.bytes().await.unwrap_or_default();
    assert!(
        bytes.as_ref() == data.as_slice(),
        "the 20 MB attachment changed"
    );
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
