//! Server configuration: defaults, an optional TOML file and `OPSDESK_*` environment variables,
//! with secrets redacted from `Debug` so a logged config never leaks a password.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the server reads at start-up.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// Directory for the SQLite database, the auth log and backups.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/opsdesk.db`.
    pub database_url: Option<DatabaseUrl>,
    /// The address people use to reach opsdesk (used for links and to decide on Secure cookies).
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Force the Secure cookie flag on or off; by default it follows `public_url`/the proxy.
    pub secure_cookies: Option<bool>,
    /// `json` (default) or `text`.
    pub log_format: String,
    /// Where failed-login lines for fail2ban go: a file path, or `-` for standard error.
    /// Defaults to `<data_dir>/auth.log`.
    pub auth_log: Option<PathBuf>,
    pub limits: Limits,
    pub lockout: Lockout,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
    pub smtp: SmtpConfig,
    pub sla: SlaConfig,
    pub monitoring: MonitoringConfig,
    pub incidents: IncidentsConfig,
    pub ops: OpsConfig,
}

/// Heartbeat checks (and, later, uptime checks).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringConfig {
    /// Bytes of a ping's body kept in the log (announced in the `Ping-Body-Limit` header);
    /// longer bodies are cut, never refused.
    pub ping_body_limit: usize,
    /// Log lines kept per check; older ones are pruned every few minutes.
    pub pings_kept: i64,
    /// Networks HTTP monitors may connect to (CIDR, e.g. `10.0.0.0/8`); default: all.
    pub allowed_targets: Vec<String>,
    /// Networks they may not, even when allowed (default: link-local, where cloud metadata
    /// services such as 169.254.169.254 live). Add your internal ranges to keep monitors off them.
    pub denied_targets: Vec<String>,
    /// Run HTTP monitors on their intervals (on the leading instance). Off: monitors are kept
    /// and run only when asked (`opsdesk monitors run NAME`) — for a staging copy restored
    /// from production's backup, which should neither probe production's targets nor page its
    /// on-call.
    pub schedule: bool,
    /// Monitor runs in flight at once.
    pub concurrency: usize,
    /// Days of individual monitor results kept (daily uptime is kept for good).
    pub results_days: i64,
    /// While a check or monitor stays down, remind its channels every this many hours
    /// (0: only the flips are announced).
    pub reminder_hours: i64,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        MonitoringConfig {
            ping_body_limit: 100_000,
            pings_kept: 1_000,
            allowed_targets: vec!["0.0.0.0/0".into(), "::/0".into()],
            denied_targets: vec![
                "169.254.0.0/16".into(),
                "fe80::/10".into(),
                "fd00:ec2::254/128".into(),
            ],
            schedule: true,
            concurrency: 64,
            results_days: 14,
            reminder_hours: 0,
        }
    }
}

/// Incidents: the change freeze while one is live.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentsConfig {
    /// While an incident of this severity or worse is live (1 = SEV1 … 4 = SEV4), `config_change`
    /// and `deploy` actions are refused. 0: live incidents never freeze changes.
    pub freeze_severity: u8,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig { freeze_severity: 2 }
    }
}

/// Ops actions (runbooks): what may be run, by whom, with which approvals.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpsConfig {
    /// Minutes an approval stays good for (it is used once, with the parameters approved).
    pub approval_minutes: u32,
    /// Bytes of a run's output kept (the start and the end); `data_fix` runs keep up to
    /// `full_output_bytes`.
    pub output_bytes: usize,
    /// The most a `data_fix` run keeps (its full output, up to this).
    pub full_output_bytes: usize,
    /// The actions (`[[ops.actions]]` tables).
    pub actions: Vec<ActionConfig>,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            approval_minutes: 30,
            output_bytes: 256 * 1024,
            full_output_bytes: 16 * 1024 * 1024,
            actions: Vec::new(),
        }
    }
}

/// One ops action: a program run directly (never through a shell) with typed parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Short name, used in the API and typed to confirm irreversible actions.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// diagnostic, restart, config_change, deploy, data_fix or impersonation.
    pub kind: String,
    /// The program (absolute path, or a name looked up in PATH).
    #[serde(default)]
    pub program: String,
    /// Its arguments; `{param}` in an argument is replaced by that parameter's value (each
    /// argument stays one argument, whatever the value holds).
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub params: Vec<ParamConfig>,
    /// The least role that may request it: agent (default) or admin.
    #[serde(default = "agent")]
    pub role: String,
    /// A second person must approve each run.
    #[serde(default)]
    pub approval: bool,
    /// Seconds before the run (its whole process group) is killed.
    #[serde(default = "sixty")]
    pub timeout_seconds: u64,
    /// Plain environment variables.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Environment variables holding secrets: never shown, and redacted from the output.
    #[serde(default)]
    pub secrets: std::collections::BTreeMap<String, Secret>,
    /// How to undo a run (same parameters); without it, `irreversible = true` is required.
    #[serde(default)]
    pub undo: Option<UndoConfig>,
    /// No undo exists: requesters confirm by typing the action's name.
    #[serde(default)]
    pub irreversible: bool,
}

/// The undo of an action: another program and arguments, given the run's parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoConfig {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
}

/// A typed parameter of an action.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamConfig {
    pub name: String,
    /// enum, integer or string.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    /// enum: the allowed values.
    #[serde(default)]
    pub values: Vec<String>,
    /// integer: the range.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// string: a regular expression the whole value must match.
    pub pattern: Option<String>,
    /// Used when the requester leaves the parameter out.
    pub default: Option<String>,
}

fn agent() -> String {
    "agent".into()
}

/// SLA warnings and breaches.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    /// Where warnings and breaches are posted as JSON (the body also carries `text`, so a Slack
    /// or Mattermost incoming-webhook URL works as it is); unset: email only.
    pub webhook_url: Option<String>,
}

/// The built-in SMTP receiver, for teams that point MX records or a relay at opsdesk.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Address to accept mail on, e.g. `0.0.0.0:25` or `127.0.0.1:2525`; unset: off.
    pub listen: Option<String>,
    /// The name the receiver greets with.
    pub hostname: String,
    /// Recipient domains accepted (e.g. `["support.example.com"]`); empty: any.
    pub accept_domains: Vec<String>,
    /// Connections served at once; more wait.
    pub max_connections: usize,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: None,
            hostname: "opsdesk".into(),
            accept_domains: Vec::new(),
            max_connections: 100,
        }
    }
}

/// Per-IP request rate limits (token buckets, per instance).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Login attempts per minute per client IP.
    pub login_per_minute: u32,
    /// Public form posts (setup, future web forms) per minute per client IP.
    pub forms_per_minute: u32,
    /// API requests per second per client IP (burst allowed: the same number again).
    pub api_per_second: u32,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
}

/// Login lockout, counted in the database so it holds across instances.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lockout {
    pub max_failures_per_account: u32,
    pub max_failures_per_ip: u32,
    pub window_minutes: u32,
}

/// Background job workers.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs this instance runs at once (up to 256): sending mail, webhooks, alerts, sweeps. They
    /// wait mostly on other servers, so many run side by side. 0 disables background work
    /// (useful for tests that drain by hand).
    pub workers: usize,
    /// How often an idle instance looks for due jobs, in milliseconds.
    pub poll_ms: u64,
    /// How often the leader queues periodic work (SLA sweep, check sweeps, pruning), in
    /// milliseconds. Each kind still runs at most once per its own period.
    pub schedule_ms: u64,
}

/// Email in and out.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Outgoing mail server: `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`. Unset: mail is recorded on the ticket but
    /// not sent.
    pub smtp_url: Option<DatabaseUrl>,
    /// Connections to the outgoing mail server at most (1 to 100), kept open and reused. Many
    /// providers limit a client's concurrent connections; more send faster where allowed.
    pub smtp_connections: u32,
    /// Largest inbound message accepted, in bytes (API, pipe, SMTP receiver, IMAP).
    pub max_message_bytes: usize,
    /// Largest single attachment kept, in bytes; larger ones are listed on the message but
    /// their content is not stored.
    pub max_attachment_bytes: usize,
    /// A reply to a closed ticket within this many days reopens it; later it opens a new
    /// ticket linked to the old one.
    pub reopen_days: u32,
    /// Send an acknowledgement to the requester of every new ticket.
    pub acknowledge: bool,
    /// Attempts at delivering one outgoing message before it is marked failed.
    pub max_attempts: u32,
    /// Hours after resolution when the requester gets the follow-up email; 0 turns it off.
    pub followup_hours: u32,
    /// Mailboxes polled over IMAP (`[[mail.imap]]` tables).
    pub imap: Vec<ImapMailbox>,
}

/// One mailbox polled over IMAP. A message is marked seen (or moved) only after the ticket
/// write is committed, so a crash loses nothing and a re-fetch creates no duplicate.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapMailbox {
    /// A short name for logs and the inbound log (`imap:<name>`).
    pub name: String,
    pub host: String,
    /// 993 with TLS, 143 without.
    pub port: Option<u16>,
    /// Implicit TLS (IMAPS). Off only for a server on the same machine.
    #[serde(default = "yes")]
    pub tls: bool,
    pub username: String,
    pub password: Secret,
    /// The folder to read (default INBOX).
    #[serde(default = "inbox")]
    pub folder: String,
    /// After filing: leave the message marked seen (default), or move it to this folder.
    pub move_to: Option<String>,
    /// The address this mailbox receives for (`security@…` files security reports).
    pub address: Option<String>,
    /// Seconds between polls.
    #[serde(default = "sixty")]
    pub poll_seconds: u64,
}

fn yes() -> bool {
    true
}

fn inbox() -> String {
    "INBOX".into()
}

fn sixty() -> u64 {
    60
}

/// A password or key from the configuration: never printed by `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: None,
            max_message_bytes: 30 * 1024 * 1024,
            max_attachment_bytes: 25 * 1024 * 1024,
            reopen_days: 14,
            acknowledge: true,
            max_attempts: 8,
            smtp_connections: 10,
            followup_hours: 72,
            imap: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            secure_cookies: None,
            log_format: "json".into(),
            auth_log: None,
            limits: Limits::default(),
            lockout: Lockout::default(),
            jobs: JobsConfig::default(),
            mail: MailConfig::default(),
            smtp: SmtpConfig::default(),
            sla: SlaConfig::default(),
            monitoring: MonitoringConfig::default(),
            incidents: IncidentsConfig::default(),
            ops: OpsConfig::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            login_per_minute: 30,
            forms_per_minute: 30,
            api_per_second: 500,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout {
            max_failures_per_account: 10,
            max_failures_per_ip: 50,
            window_minutes: 15,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            workers: 16,
            poll_ms: 500,
            schedule_ms: 30_000,
        }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (if given), then `OPSDESK_*` variables
    /// (`OPSDESK_DATABASE_URL`, nested keys with a double underscore: `OPSDESK_LIMITS__API_PER_SECOND`).
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("OPSDESK")
                .source(Some(config_env(std::env::vars())))
                .prefix_separator("_")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("trusted_proxies")
                .with_list_parse_key("monitoring.allowed_targets")
                .with_list_parse_key("monitoring.denied_targets")
                .try_parsing(true),
        );
        let raw = builder.build().map_err(|e| ConfigError(e.to_string()))?;
        raw.try_deserialize()
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// Names of the configuration keys (top level), used to pick our variables out of the environment.
    pub const KEYS: [&'static str; 17] = [
        "listen",
        "data_dir",
        "database_url",
        "public_url",
        "trusted_proxies",
        "secure_cookies",
        "log_format",
        "auth_log",
        "limits",
        "lockout",
        "jobs",
        "mail",
        "smtp",
        "sla",
        "monitoring",
        "incidents",
        "ops",
    ];

    /// The database URL in force: the configured one, or SQLite under the data directory.
    pub fn database_url(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => url.clone(),
            None => DatabaseUrl(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("opsdesk.db").display()
            )),
        }
    }

    /// Where fail2ban lines are written.
    pub fn auth_log_path(&self) -> PathBuf {
        self.auth_log
            .clone()
            .unwrap_or_else(|| self.data_dir.join("auth.log"))
    }
}

/// The `OPSDESK_*` variables that name configuration keys. Others (`OPSDESK_CONFIG`, test-harness
/// variables) are left alone so they cannot trip the unknown-key check meant for typos in files.
fn config_env(vars: impl Iterator<Item = (String, String)>) -> config::Map<String, String> {
    vars.filter(|(k, _)| {
        k.strip_prefix("OPSDESK_").is_some_and(|rest| {
            let key = rest.to_ascii_lowercase();
            let top = key.split("__").next().unwrap_or_default().to_string();
            Config::KEYS.contains(&top.as_str())
        })
    })
    .collect()
}

/// A configuration problem, said in words a person can act on.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// A database URL whose password never appears in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => String::from("<unparseable url>"),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The commented example printed by `opsdesk default-config`.
pub const EXAMPLE_CONFIG: &str = include_str!("../../../contrib/opsdesk.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_database_password() {
        let url = DatabaseUrl("postgres://opsdesk:hunter2@db.internal:5432/opsdesk".into());
        let shown = format!("{url:?} {url}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.internal"));
        let cfg = Config {
            database_url: Some(url),
            ..Config::default()
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    #[test]
    fn only_configuration_variables_are_read_from_the_environment() {
        let vars = [
            ("OPSDESK_LISTEN", "0.0.0.0:1"),
            ("OPSDESK_CONFIG", "x.toml"),
            ("OPSDESK_LIMITS__API_PER_SECOND", "9"),
            ("OPSDESK_TEST_PG_URL", "p"),
            ("HOME", "/root"),
        ];
        let picked = config_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut keys: Vec<_> = picked.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![
                "OPSDESK_LIMITS__API_PER_SECOND".to_string(),
                "OPSDESK_LISTEN".to_string()
            ]
        );
    }

    #[test]
    fn default_database_is_sqlite_under_data_dir() {
        let cfg = Config {
            data_dir: PathBuf::from("/srv/od"),
            ..Config::default()
        };
        assert_eq!(
            cfg.database_url().expose(),
            "sqlite:///srv/od/opsdesk.db?mode=rwc"
        );
        assert!(!cfg.database_url().is_postgres());
    }

    #[test]
    fn example_config_parses_and_matches_defaults() {
        let parsed: Config = toml_from_example();
        assert_eq!(parsed.listen, Config::default().listen);
        assert_eq!(
            parsed.limits.api_per_second,
            Limits::default().api_per_second
        );
    }

    fn toml_from_example() -> Config {
        let raw = config::Config::builder()
            .add_source(config::File::from_str(
                EXAMPLE_CONFIG,
                config::FileFormat::Toml,
            ))
            .build();
        match raw.and_then(|r| r.try_deserialize()) {
            Ok(cfg) => cfg,
            Err(e) => panic!("example config does not parse: {e}"),
        }
    }
}
