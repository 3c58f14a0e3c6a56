//! Test harness: `spawn_app(Backend)` starts a fresh opsdesk on port 0 against a fresh database —
//! a temp-file SQLite or a new database on the throwaway PostgreSQL cluster that `scripts/test`
//! starts (`OPSDESK_TEST_PG_URL`) — plus typed helpers for what tests do over HTTP.

use std::path::PathBuf;

use opsdesk::App;
use opsdesk_core::audit::Actor;
use opsdesk_core::auth::tokens::{self, Scope};
use opsdesk_core::config::{Config, DatabaseUrl};
use opsdesk_core::web::AppState;
use serde_json::{Value, json};
use sqlx::Connection as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// Runs each named `async fn(Backend)` as two tests: `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::helpers::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::helpers::Backend::Postgres).await }
        }
    )* };
}

/// An env var that `scripts/test` sets; its absence is a setup error, not a reason to skip.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test, which starts the services they need"))
}

/// A fresh, empty database of the given kind; returns its URL.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> DatabaseUrl {
    match backend {
        Backend::Sqlite => DatabaseUrl(format!(
            "sqlite://{}?mode=rwc",
            dir.join("opsdesk.db").display()
        )),
        Backend::Postgres => {
            let admin = required_env("OPSDESK_TEST_PG_URL");
            opsdesk::install_crypto_provider();
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::AnyConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("connecting to {admin}: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("creating {name}: {e}"));
            let _ = conn.close().await;
            let mut url =
                url::Url::parse(&admin).unwrap_or_else(|e| panic!("bad OPSDESK_TEST_PG_URL: {e}"));
            url.set_path(&name);
            DatabaseUrl(url.to_string())
        }
    }
}

/// A test configuration: port 0, no background workers (tests drain jobs with `try_run_one`),
/// and loopback trusted as a proxy so tests can speak for other client addresses.
pub fn test_config(dir: &std::path::Path, url: DatabaseUrl) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        database_url: Some(url),
        trusted_proxies: vec!["127.0.0.1".parse().unwrap_or_else(|_| unreachable!())],
        ..Config::default()
    };
    c.jobs.workers = 0;
    c
}

pub struct TestApp {
    pub addr: String,
    /// The built-in SMTP receiver's port (when the test turned it on).
    pub smtp_port: Option<u16>,
    /// A client with a cookie jar that does not follow redirects (tests look at them).
    pub client: reqwest::Client,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    /// The PostgreSQL database made for this app alone, dropped with it.
    own_database: Option<String>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = fresh_database(backend, dir.path()).await;
    let mut config = test_config(dir.path(), url.clone());
    adjust(&mut config);
    // A test that points the app at another database (a second instance) leaves the fresh one
    // unused: it goes at once; the app's own goes when the app does.
    let own_database = match backend {
        Backend::Postgres if config.database_url.as_ref() == Some(&url) => database_name(&url),
        Backend::Postgres => {
            drop_database(database_name(&url));
            None
        }
        Backend::Sqlite => None,
    };
    let app = App::build(config)
        .await
        .unwrap_or_else(|e| panic!("building the app: {e:#}"));
    let port = app.port();
    let smtp_port = app.smtp_port();
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let _ = app
            .run_until_stopped(async move {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        addr: format!("http://127.0.0.1:{port}"),
        smtp_port,
        client: new_client(),
        state,
        dir,
        stop: Some(tx),
        handle: Some(handle),
        own_database,
    }
}

fn database_name(url: &DatabaseUrl) -> Option<String> {
    url::Url::parse(url.expose())
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_string())
        .filter(|n| n.starts_with("t_"))
}

/// Drops a test database (and its connections). Hundreds of tests each make one: kept, they
/// would fill the throwaway cluster's disk.
fn drop_database(name: Option<String>) {
    let (Some(name), Ok(admin)) = (name, std::env::var("OPSDESK_TEST_PG_URL")) else {
        return;
    };
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                {
                    eprintln!("dropping test database {name}: {e}");
                }
                let _ = conn.close().await;
            }
        });
    })
    .join();
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
        drop_database(self.own_database.take());
    }
}

/// A response read whole: status, headers and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub async fn read(r: reqwest::RequestBuilder) -> Reply {
    let resp = r
        .send()
        .await
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        text,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> Reply {
        read(self.client.get(self.url(path))).await
    }

    /// A GET as a browser sends it (asks for HTML).
    pub async fn get_page(&self, path: &str) -> Reply {
        read(
            self.client
                .get(self.url(path))
                .header("accept", "text/html"),
        )
        .await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        read(
            self.client
                .post(self.url(path))
                .header("accept", "text/html")
                .form(form),
        )
        .await
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Reply {
        read(self.client.get(self.url(path)).bearer_auth(token)).await
    }

    pub async fn post_json_with_token(&self, path: &str, token: &str, body: &Value) -> Reply {
        read(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// Completes setup over the API with the standard admin.
    pub async fn setup(&self) -> Value {
        let r = read(self.client.post(self.url("/api/setup")).json(&json!({
            "brand_name": "Acme Support",
            "support_email": "support@example.com",
            "timezone": "Europe/Berlin",
            "admin_name": "Ada Admin",
            "admin_email": ADMIN_EMAIL,
            "admin_password": ADMIN_PASSWORD,
        })))
        .await;
        assert_eq!(r.status, 201, "setup failed: {}", r.text);
        r.json()
    }

    /// Signs this app's client in through the login form.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post_form(
            "/login",
            &[("email", email), ("password", password), ("next", "/")],
        )
        .await
    }

    /// Creates a user directly through the service (as the CLI would).
    pub async fn add_user(
        &self,
        email: &str,
        role: &str,
        org: &str,
    ) -> opsdesk_core::accounts::User {
        let input = opsdesk_core::accounts::service::NewUserInput {
            email: email.into(),
            name: String::new(),
            role: role.into(),
            password: ADMIN_PASSWORD.into(),
            organization: org.into(),
            security: false,
        };
        opsdesk_core::accounts::service::create_user(&self.state.db, &Actor::cli(), input)
            .await
            .unwrap_or_else(|e| panic!("adding {email}: {e:?}"))
    }

    /// A token for an existing user.
    pub async fn token(&self, email: &str, scope: Scope) -> String {
        let (_, secret) = tokens::create(&self.state.db, &Actor::cli(), email, "test", scope)
            .await
            .unwrap_or_else(|e| panic!("token for {email}: {e:?}"));
        secret
    }

    /// Audit actions in order (oldest first).
    pub async fn audit_actions(&self) -> Vec<String> {
        let mut recs =
            opsdesk_core::audit::store::list(&self.state.db, &Default::default(), 10_000)
                .await
                .unwrap_or_else(|e| panic!("audit: {e}"));
        recs.reverse();
        recs.into_iter().map(|r| r.action).collect()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops serving (and leading: another instance on the database may take over) but keeps
    /// the data directory and database until the app is dropped. Its own pools close with it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

/// A second browser (its own cookie jar) against the same app.
pub struct TestAppClient {
    pub base: String,
    pub client: reqwest::Client,
}

impl TestAppClient {
    pub fn new(app: &TestApp) -> TestAppClient {
        TestAppClient {
            base: app.addr.clone(),
            client: new_client(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        read(
            self.client
                .post(format!("{}/login", self.base))
                .header("accept", "text/html")
                .form(&[("email", email), ("password", password)]),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        read(self.client.get(format!("{}{path}", self.base))).await
    }

    pub async fn get_page(&self, path: &str) -> Reply {
        read(
            self.client
                .get(format!("{}{path}", self.base))
                .header("accept", "text/html"),
        )
        .await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json()
    }
}
