//! Real-world-shaped messages from `tests/corpus/` through the whole pipeline: parse, auto
//! detection, quote stripping and the threading decision, asserting the content a person would
//! check (decoded text, names, ids, verdicts), plus a loop that feeds the parser garbage.
//!
//! The signed ids and body markers in the corpus were made with the secret below, so threading
//! through them is tested against real bytes rather than values computed by the code under test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use opsdesk_mail::{
    AutoKind, Inbound, ParseError, Prefetched, Signer, Thread, Via, decide, html::html_to_text,
    parse, strip_quoted,
};

const SECRET: &[u8] = b"corpus-secret";

fn signer() -> Signer {
    Signer::new(SECRET.to_vec(), "desk.example.com")
}

fn raw(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(name: &str) -> Inbound {
    parse(&raw(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Lookups for a desk where ticket 1042 belongs to the people in the corpus replies and
/// `stored-msg-77@desk.example.com` is a stored message of ticket 1042.
fn desk() -> Prefetched {
    let mut l = Prefetched::default();
    l.tickets
        .insert("stored-msg-77@desk.example.com".into(), 1042);
    for who in [
        "chris@icloud.example",
        "joerg@firma.example.de",
        "ann.example@gmail.com",
    ] {
        l.participants.insert((1042, who.into()));
    }
    l
}

fn thread(m: &Inbound) -> Thread {
    decide(&m.thread_keys(), &desk(), &signer())
}

#[test]
fn gmail_reply() {
    let m = load("gmail_reply.eml");
    let from = m.from.clone().unwrap();
    assert_eq!(from.email, "ann.example@gmail.com");
    assert_eq!(from.name.as_deref(), Some("Ann Example"));
    assert_eq!(
        m.message_id.as_deref(),
        Some("CAFx8Gk3mP2kXbQ=Yz+9w@mail.gmail.com")
    );
    assert_eq!(m.subject, "Re: Login broken [#1042]");
    assert_eq!(m.date, Some(1_741_078_923_000));
    assert_eq!(m.auto, AutoKind::Human);
    assert_eq!(m.references.len(), 2);
    assert!(m.references[0].starts_with("opsdesk.1042.root."));
    assert!(
        m.text.contains("please clear the browser cache"),
        "{}",
        m.text
    );
    let html = m.html.clone().unwrap();
    assert!(
        html.contains("gmail_quote") || html.contains("<blockquote"),
        "{html}"
    );
    assert_eq!(
        strip_quoted(&m.text),
        "Thanks, clearing the cache fixed it!\n\nBest,\nAnn"
    );
    // The HTML alternative, converted, strips the same way.
    assert_eq!(
        strip_quoted(&html_to_text(&html)),
        "Thanks, clearing the cache fixed it!\n\nBest,\nAnn"
    );
    assert_eq!(
        thread(&m),
        Thread::Existing {
            ticket: 1042,
            via: Via::SignedId
        }
    );
}

#[test]
fn outlook_reply_windows_1252() {
    let m = load("outlook_reply.eml");
    let from = m.from.clone().unwrap();
    assert_eq!(from.email, "joerg@firma.example.de");
    assert_eq!(from.name.as_deref(), Some("Jörg Weiß"));
    assert_eq!(m.cc[0].email, "buchhaltung@firma.example.de");
    assert_eq!(m.cc[0].name.as_deref(), Some("Buchhaltung"));
    assert!(
        m.text
            .contains("the invoice shows € 1’250 – but we agreed on € 1’000. Can you check?"),
        "{}",
        m.text
    );
    assert_eq!(
        strip_quoted(&m.text),
        "Hello,\n\nthe invoice shows € 1’250 – but we agreed on € 1’000. Can you check?\n\n\
         Regards\nJörg Weiß"
    );
    let html_text = html_to_text(m.html.as_deref().unwrap());
    assert!(html_text.starts_with("Hello,"), "{html_text}");
    assert!(!html_text.contains("margin-top"), "{html_text}");
    // The HTML version (no blank lines, an <hr> above a bold header block) strips too.
    assert_eq!(
        strip_quoted(&html_text),
        "Hello,\nthe invoice shows € 1’250 – but we agreed on € 1’000. Can you check?\n\
         Regards\nJörg Weiß"
    );
    assert_eq!(
        thread(&m),
        Thread::Existing {
            ticket: 1042,
            via: Via::StoredId
        }
    );
}

#[test]
fn outlook_original_message() {
    let m = load("outlook_original_message.eml");
    assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("Smith, Bob"));
    assert_eq!(
        m.message_id.as_deref(),
        Some("000001db8d9f$1a2b3c40$4e5f6a70$@corp.example")
    );
    assert_eq!(
        strip_quoted(&m.text),
        "The export still fails with error 0x80070005.\n\nBob"
    );
    // Bob is not on ticket 2001 in this desk, so the bare tag does not attach his mail.
    assert_eq!(thread(&m), Thread::New);
}

#[test]
fn apple_mail_reply() {
    let m = load("apple_mail_reply.eml");
    assert_eq!(m.from.as_ref().unwrap().email, "chris@icloud.example");
    assert_eq!(
        m.message_id.as_deref(),
        Some("5E1F2A3B-4C5D-6E7F-8091-A2B3C4D5E6F7@icloud.example")
    );
    assert_eq!(strip_quoted(&m.text), "I got the email now, thank you.");
    // No threading headers: the subject tag counts because Chris is on the ticket.
    assert_eq!(
        thread(&m),
        Thread::Existing {
            ticket: 1042,
            via: Via::SubjectTag
        }
    );
}

#[test]
fn thunderbird_reply() {
    let m = load("thunderbird_reply.eml");
    assert_eq!(m.from.as_ref().unwrap().email, "hans@mailbox.example.org");
    assert_eq!(m.subject, "Aw: Ihr Anliegen");
    assert!(m.text.contains("Grüße\nHans"), "{}", m.text);
    assert_eq!(
        strip_quoted(&m.text),
        "Hallo,\n\ndas Problem besteht weiterhin. Screenshot folgt.\n\nGrüße\nHans"
    );
    // Only the quoted body marker ties it to the ticket.
    assert_eq!(
        thread(&m),
        Thread::Existing {
            ticket: 1042,
            via: Via::BodyMarker
        }
    );
}

#[test]
fn iso_8859_1() {
    let m = load("iso_8859_1.eml");
    assert_eq!(m.subject, "Problème de connexion à München");
    assert_eq!(
        m.from.as_ref().unwrap().name.as_deref(),
        Some("François Müller")
    );
    assert!(
        m.text.contains(
            "je ne peux pas me connecter depuis München. Ça dépend du navigateur ? Ñandú, déjà vu."
        ),
        "{}",
        m.text
    );
    assert!(!m.encoding_problem);
    assert_eq!(thread(&m), Thread::New);
}

#[test]
fn shift_jis() {
    let m = load("shift_jis.eml");
    assert_eq!(m.subject, "ログインできません");
    assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("山田太郎"));
    assert_eq!(
        m.text,
        "お世話になっております。\nログインできません。\nよろしくお願いいたします。\n山田"
    );
    assert_eq!(m.date, Some(1_741_078_800_000));
}

#[test]
fn base64_utf8() {
    let m = load("base64_utf8.eml");
    assert_eq!(m.subject, "App crashes 💥");
    assert_eq!(m.from.as_ref().unwrap().name.as_deref(), Some("Ольга"));
    assert_eq!(
        m.text,
        "Привет! The app crashes on start 💥\nVersion: 6.2.1 — Android 14\n\nСпасибо,\nОльга"
    );
}

#[test]
fn html_only_with_scripts() {
    let m = load("html_only_xss.eml");
    let html = m.html.clone().unwrap();
    for bad in [
        "<script",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "<iframe",
        "alert(",
    ] {
        assert!(!html.to_lowercase().contains(bad), "{bad} in {html}");
    }
    assert!(html.contains("<h1>Your invoice</h1>"), "{html}");
    assert!(html.contains("https://attacker.example/pay"), "{html}");
    assert_eq!(
        m.text,
        "Your invoice\n\nPlease pay today & see details.\n\n\
         Visit our portal <https://attacker.example/pay>\n\nThanks"
    );
    assert!(!m.text.contains("ignored title"));
    assert!(!m.text.contains("document.cookie"));
}

#[test]
fn related_inline_image_and_attachment() {
    let m = load("related_inline_image.eml");
    assert_eq!(
        m.text,
        "See the screenshot below.\n\n[image: error.png]\n\nDana"
    );
    let html = m.html.clone().unwrap();
    assert!(
        html.contains("src=\"cid:error-shot@example.net\""),
        "{html}"
    );
    assert_eq!(m.attachments.len(), 2, "{:?}", m.attachments);
    let image = &m.attachments[0];
    assert_eq!(image.filename, "error.png");
    assert_eq!(image.content_type, "image/png");
    assert_eq!(image.content_id.as_deref(), Some("error-shot@example.net"));
    assert!(image.inline);
    assert!(image.data.starts_with(b"\x89PNG\r\n\x1a\n"));
    let pdf = &m.attachments[1];
    assert_eq!(pdf.filename, "log export.pdf");
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(!pdf.inline);
    assert!(pdf.data.starts_with(b"%PDF-1.4"));
}

#[test]
fn bounce() {
    let m = load("bounce.eml");
    assert_eq!(m.auto, AutoKind::Bounce);
    assert_eq!(
        m.from.as_ref().unwrap().email,
        "mailer-daemon@mx.desk.example.com"
    );
    assert!(
        m.text.contains("Recipient address rejected: User unknown"),
        "{}",
        m.text
    );
    // The delivery report and the returned message come along as attachments.
    let types: Vec<&str> = m
        .attachments
        .iter()
        .map(|a| a.content_type.as_str())
        .collect();
    assert!(types.contains(&"message/delivery-status"), "{types:?}");
    assert!(types.contains(&"message/rfc822"), "{types:?}");
    let returned = m
        .attachments
        .iter()
        .find(|a| a.content_type == "message/rfc822")
        .unwrap();
    assert_eq!(returned.filename, "Re_ Login broken [#1042].eml");
    assert!(String::from_utf8_lossy(&returned.data).contains("please clear the cache"));
}

#[test]
fn out_of_office() {
    let m = load("out_of_office.eml");
    assert_eq!(m.auto, AutoKind::AutoReply);
    assert!(m.auto.is_automatic());
    assert_eq!(
        m.text,
        "I am out of the office until March 10 with limited access to email."
    );
    // It still threads (the desk records it, but never answers it).
    assert_eq!(
        thread(&m),
        Thread::Existing {
            ticket: 1042,
            via: Via::SignedId
        }
    );
}

#[test]
fn list_mail() {
    let m = load("list_mail.eml");
    assert_eq!(m.auto, AutoKind::Bulk);
    assert_eq!(m.subject, "[announce] Version 7.0 released");
    assert!(
        m.headers
            .iter()
            .any(|(n, v)| n == "List-ID" && v.contains("announce.lists"))
    );
}

#[test]
fn no_message_id() {
    let m = load("no_message_id.eml");
    assert_eq!(m.message_id, None);
    assert_eq!(
        m.from.as_ref().unwrap().email,
        "legacy-script@server.example"
    );
    assert_eq!(m.subject, "cron: backup failed");
    assert_eq!(m.text, "backup.sh exited with status 2\ndisk full on /var");
    assert_eq!(m.auto, AutoKind::Human);
    assert_eq!(thread(&m), Thread::New);
}

#[test]
fn malformed_mime_degrades() {
    let m = load("malformed_mime.eml");
    assert_eq!(m.from.as_ref().unwrap().email, "broken@example.com");
    assert!(m.text.contains("The first part is fine."), "{}", m.text);
    assert_eq!(m.message_id.as_deref(), Some("malformed-0001@example.com"));
    for (name, value) in &m.headers {
        assert!(!name.contains(['\r', '\n', '\0']) && !value.contains(['\r', '\n', '\0']));
    }
}

#[test]
fn invalid_utf8_body() {
    let m = load("invalid_utf8.eml");
    assert!(m.text.starts_with("Before "), "{}", m.text);
    assert!(m.text.contains('\u{FFFD}'), "{}", m.text);
    assert!(m.text.contains(" after.\nValid: café."), "{}", m.text);
}

#[test]
fn path_traversal_attachment_names() {
    let m = load("path_traversal_attachment.eml");
    assert_eq!(m.text, "Here are the logs.");
    let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(names, vec!["passwd", "invoicefdp.exe", "attachment"]);
    assert!(m.attachments[0].data.starts_with(b"root:x:0:0"));
    for name in names {
        assert!(
            !name.contains(['/', '\\']) && !name.contains(".."),
            "{name}"
        );
    }
}

#[test]
fn subject_with_crlf_tricks() {
    let m = load("subject_crlf.eml");
    assert!(!m.subject.contains(['\r', '\n']), "{:?}", m.subject);
    assert_eq!(
        m.subject,
        "Urgent Bcc: victim@example.com body and more text X-Foo: bar"
    );
    let from = m.from.clone().unwrap();
    assert_eq!(from.email, "evil@attacker.example");
    assert_eq!(from.name.as_deref(), Some("Evil Bcc: victim@example.com"));
}

/// Every corpus file, plus a small deterministic generator: no panic, whatever the input.
#[test]
fn garbage_never_panics() {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    corpus.sort();
    assert!(corpus.len() >= 18);

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for file in &corpus {
        // Every truncation point along the way (headers, boundaries, base64, QP escapes).
        let step = (file.len() / 150).max(1);
        inputs.extend((0..file.len()).step_by(step).map(|n| file[..n].to_vec()));
        // Random byte flips, insertions of MIME-significant bytes, and deletions.
        for _ in 0..150 {
            let mut m = file.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(m.len().max(1));
                match rng.below(3) {
                    0 if !m.is_empty() => m[at] = rng.next() as u8,
                    1 => {
                        let tokens: [&[u8]; 8] =
                            [b"\r\n", b"--", b"=?", b"?=", b"=", b":", b"<", b"\r\n\r\n"];
                        let t = tokens[rng.below(tokens.len())];
                        m.splice(at.min(m.len())..at.min(m.len()), t.iter().copied());
                    }
                    _ if !m.is_empty() => {
                        m.remove(at.min(m.len() - 1));
                    }
                    _ => {}
                }
            }
            inputs.push(m);
        }
    }
    for _ in 0..1500 {
        let len = rng.below(600);
        inputs.push((0..len).map(|_| rng.next() as u8).collect());
    }

    for input in &inputs {
        match parse(input) {
            Ok(m) => {
                // The rest of the pipeline must cope with whatever came out.
                let _ = strip_quoted(&m.text);
                let _ = decide(&m.thread_keys(), &desk(), &signer());
                assert!(!m.subject.contains(['\r', '\n']));
                assert!(m.subject.chars().count() <= 250);
                for a in &m.attachments {
                    assert!(!a.filename.contains(['/', '\\']) && !a.filename.contains(".."));
                }
            }
            // Unreadable means a panic was caught inside parse: that is a bug to fix.
            Err(e) => assert_ne!(
                e,
                ParseError::Unreadable,
                "{:?}",
                String::from_utf8_lossy(input)
            ),
        }
        let lossy = String::from_utf8_lossy(input);
        let _ = html_to_text(&lossy);
        let _ = strip_quoted(&lossy);
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}
