//! Files from people: the support form, the agent's reply and the portal reply take
//! attachments (multipart), with per-file limits, safe names, and downloads only for those who
//! may see the ticket.

use reqwest::multipart::{Form, Part};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, read};
use crate::mail::mail_desk;
use crate::on_both;

on_both!(forms_take_attachments_within_limits);

fn file(name: &str, bytes: Vec<u8>, mime: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(mime)
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn forms_take_attachments_within_limits(backend: Backend) {
    let d = mail_desk(backend, |c| c.mail.max_attachment_bytes = 50_000).await;
    let uma = format!(
        "uma-{}@customer.test",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n"
        .iter()
        .copied()
        .chain((0..1000u32).map(|i| (i % 256) as u8))
        .collect();
    let form = Form::new()
        .text("name", "Uma Upload")
        .text("email", uma.clone())
        .text("subject", "Screenshot of the error")
        .text("description", "See the attached files.")
        .part(
            "files",
            file("../../etc/passwd", b"root:x:0:0".to_vec(), "text/plain"),
        )
        .part("files", file("screen.png", png.clone(), "image/png"))
        .part("files", Part::bytes(Vec::new()).file_name(""));
    let r = read(
        d.app
            .client
            .post(d.app.url("/support/new"))
            .header("accept", "text/html")
            .multipart(form),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let list = d.get(&d.agent, "/api/tickets?limit=1").await.json();
    let n = list["items"][0]["number"].as_i64().unwrap_or_default();
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    let names: Vec<&str> = t["attachments"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["filename"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec!["passwd", "screen.png"], "{}", t["attachments"]);
    let id = t["attachments"][1]["id"].as_str().unwrap_or("");
    let got = d
        .app
        .client
        .get(d.app.url(&format!("/api/tickets/{n}/attachments/{id}")))
        .bearer_auth(&d.agent)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got.headers()["content-disposition"].to_str().unwrap_or(""),
        "attachment; filename=\"screen.png\"; filename*=UTF-8''screen.png"
    );
    assert_eq!(
        got.bytes().await.unwrap_or_default().as_ref(),
        png.as_slice()
    );

    // Over the per-file limit: refused, nothing filed.
    let before = d.get(&d.agent, "/api/tickets?limit=100").await.json()["items"]
        .as_array()
        .map(Vec::len);
    let form = Form::new()
        .text("name", "Uma Upload")
        .text("email", uma.clone())
        .text("subject", "Big file")
        .text("description", "Too big.")
        .part(
            "files",
            file("dump.bin", vec![7u8; 60_000], "application/octet-stream"),
        );
    let r = read(
        d.app
            .client
            .post(d.app.url("/support/new"))
            .header("accept", "text/html")
            .multipart(form),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text);
    let after = d.get(&d.agent, "/api/tickets?limit=100").await.json()["items"]
        .as_array()
        .map(Vec::len);
    assert_eq!(before, after);

    // The agent's reply carries a file too.
    d.app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let form = Form::new()
        .text("body", "Here is the corrected export.")
        .part(
            "files",
            file("export.csv", b"a,b\n1,2\n".to_vec(), "text/csv"),
        );
    let r = read(
        d.app
            .client
            .post(d.app.url(&format!("/desk/tickets/{n}/reply")))
            .header("accept", "text/html")
            .multipart(form),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let t = d.get(&d.agent, &format!("/api/tickets/{n}")).await.json();
    let last = t["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    let on_reply: Vec<&str> = t["attachments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["message_id"] == last["id"])
                .filter_map(|x| x["filename"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(on_reply, vec!["export.csv"]);
    let page = d.app.get_page(&format!("/desk/tickets/{n}")).await;
    assert!(
        page.text.contains("export.csv") && page.text.contains("screen.png"),
        "{}",
        page.text
    );
    // The customer's mail client gets the file with the reply.
    crate::mail::drain(&d.app).await;
    let mails = crate::mail::inbox_of(&uma, 2).await;
    let with_file = mails
        .iter()
        .find(|m| m.text.contains("corrected export"))
        .unwrap_or_else(|| panic!("the reply did not arrive"));
    assert_eq!(with_file.attachments.len(), 1);
    assert_eq!(with_file.attachments[0].filename, "export.csv");
    assert_eq!(with_file.attachments[0].data, b"a,b\n1,2\n".to_vec());
    // Another customer cannot fetch them.
    let r = d
        .get(&d.bob, &format!("/api/tickets/{n}/attachments/{id}"))
        .await;
    assert_eq!(r.status, 404);
}
