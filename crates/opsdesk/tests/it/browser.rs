//! The first-run journey in real headless Chromium (chromedriver + fantoccini): setup wizard →
//! signed in → add an agent → sign out → the agent signs in. Screenshots of each page are saved
//! under `target/screenshots/` for people to look at.

use std::path::PathBuf;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, TestApp, required_env, spawn_app};
use crate::on_both;

on_both!(first_run_journey_in_chromium);

pub async fn browser() -> Client {
    let driver = required_env("OPSDESK_TEST_WEBDRIVER");
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")).keep();
    let mut caps = serde_json::Map::new();
    let mut options = json!({"args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
        "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
    ]});
    if let Ok(bin) = std::env::var("OPSDESK_TEST_CHROMIUM") {
        options["binary"] = json!(bin);
    }
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::rustls()
        .unwrap_or_else(|e| panic!("{e}"))
        .capabilities(caps)
        .connect(&driver)
        .await
        .unwrap_or_else(|e| panic!("connecting to chromedriver at {driver}: {e}"))
}

pub struct Shots {
    pub dir: PathBuf,
    pub prefix: &'static str,
    pub n: usize,
}

impl Shots {
    pub async fn take(&mut self, c: &Client, name: &str) {
        self.n += 1;
        let png = c
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let _ = std::fs::create_dir_all(&self.dir);
        let _ = std::fs::write(
            self.dir
                .join(format!("{}-{:02}-{name}.png", self.prefix, self.n)),
            png,
        );
    }
}

pub async fn fill(c: &Client, css: &str, text: &str) {
    let el = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap_or_else(|e| panic!("{css}: {e}"));
    el.send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

pub async fn path(c: &Client) -> String {
    c.current_url()
        .await
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

/// Waits (up to 20 s) for a navigation to land on `expected`; a click does not wait by itself.
pub async fn wait_path(c: &Client, expected: &str) {
    for _ in 0..200 {
        if path(c).await == expected && c.find(Locator::Css("footer")).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "expected to reach {expected}, still at {}:\n{}",
        path(c).await,
        text(c).await
    );
}

/// The page's text. A page still loading (after a click that navigates) has no body for a
/// moment: that is waited out, for up to ten seconds.
pub async fn text(c: &Client) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        match c.find(Locator::Css("body")).await {
            Ok(body) => return body.text().await.unwrap_or_default(),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the page has no body: {last}")
}

async fn first_run_journey_in_chromium(backend: Backend) {
    let app: TestApp = spawn_app(backend).await;
    let c = browser().await;
    let mut shots = Shots {
        dir: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/screenshots"
        )),
        prefix: if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        },
        n: 0,
    };

    c.goto(&app.url("/"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        path(&c).await,
        "/setup",
        "a fresh instance opens the wizard"
    );
    shots.take(&c, "setup").await;
    fill(&c, "input[name=brand_name]", "Pixelforge Support").await;
    fill(
        &c,
        "input[name=support_email]",
        "support@pixelforge.example",
    )
    .await;
    c.find(Locator::Css("select[name=timezone]"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .select_by_value("Europe/Berlin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "input[name=admin_name]", "Alex Admin").await;
    fill(&c, "input[name=admin_email]", "alex@pixelforge.example").await;
    fill(&c, "input[name=admin_password]", "admin password 1").await;
    click(&c, "form[action='/setup'] button[type=submit]").await;
    wait_path(&c, "/").await;
    let home = text(&c).await;
    assert!(
        home.contains("Setup is complete")
            && home.contains("Pixelforge Support")
            && home.contains("Europe/Berlin"),
        "{home}"
    );
    shots.take(&c, "overview").await;

    click(&c, "a[href='/admin/users']").await;
    wait_path(&c, "/admin/users").await;
    fill(
        &c,
        "form[action='/admin/users'] input[name=email]",
        "sam@pixelforge.example",
    )
    .await;
    fill(
        &c,
        "form[action='/admin/users'] input[name=name]",
        "Sam Agent",
    )
    .await;
    c.find(Locator::Css(
        "form[action='/admin/users'] select[name=role]",
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .select_by_value("agent")
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    fill(
        &c,
        "form[action='/admin/users'] input[name=password]",
        "agent password 1",
    )
    .await;
    click(&c, "form[action='/admin/users'] button[type=submit]").await;
    wait_path(&c, "/admin/users").await;
    for _ in 0..50 {
        if text(&c).await.contains("Added sam@") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let users = text(&c).await;
    assert!(
        users.contains("Added sam@pixelforge.example as agent.") && users.contains("Sam Agent"),
        "{users}"
    );
    shots.take(&c, "users").await;

    click(&c, "form[action='/logout'] button").await;
    wait_path(&c, "/login").await;
    shots.take(&c, "login").await;
    fill(&c, "input[name=email]", "sam@pixelforge.example").await;
    fill(&c, "input[name=password]", "agent password 1").await;
    click(&c, "form[action='/login'] button[type=submit]").await;
    wait_path(&c, "/").await;
    let agent_home = text(&c).await;
    assert!(
        agent_home.contains("sam@pixelforge.example (agent") && !agent_home.contains("Audit log"),
        "{agent_home}"
    );
    shots.take(&c, "agent-overview").await;
    let _ = c.close().await;
}
