//! The command line: `opsdesk [global options] <command>`. Every command takes the same
//! `--config`, `--data-dir` and `--database-url` (also `OPSDESK_*` environment variables).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// opsdesk — a self-hosted support and operations desk in one binary.
#[derive(Debug, Parser)]
#[command(name = "opsdesk", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct Global {
    /// TOML configuration file (see `opsdesk default-config`).
    #[arg(long, global = true, env = "OPSDESK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, the auth log and backups [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER:PASS@HOST/DB [default: SQLite under the data directory].
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web interface and API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Copy the SQLite database to FILE while the server keeps running.
    Backup(BackupArgs),
    /// Inspect the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print a commented example configuration file.
    DefaultConfig,
    /// Fill the database with a realistic demo team, customers and organizations.
    Demo,
    /// Load many synthetic tickets and messages (for load tests and benchmarks).
    Seed(SeedArgs),
    /// Support tiers' SLAs: apply a changed tier to open tickets, see what is about to breach.
    #[command(subcommand)]
    Sla(SlaCommand),
    /// Take in email.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Heartbeat checks: keys of the Healthchecks-compatible API, the ping key, the checks.
    #[command(subcommand)]
    Checks(ChecksCommand),
    /// HTTP monitors: their status and how punctually they run.
    #[command(subcommand)]
    Monitors(MonitorsCommand),
}

#[derive(Debug, Subcommand)]
pub enum MonitorsCommand {
    /// How late monitor runs started after they were due (the scheduler's drift), over the
    /// runs of the last SECONDS.
    Drift(DriftArgs),
    /// Run one monitor now (all its steps, e.g. log in → /api/me → log out), record the result
    /// and print each step; exits 1 when it fails. The auth verification check of a runbook.
    Run(MonitorRunArgs),
}

#[derive(Debug, Args)]
pub struct MonitorRunArgs {
    /// The monitor's id or its exact name.
    pub monitor: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Look at runs that started in the last this many seconds.
    #[arg(long, default_value_t = 300)]
    pub since: i64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ChecksCommand {
    /// Create a key for the Healthchecks-compatible API (`X-Api-Key`) and print only the key
    /// (shown this once; stored as a hash). Audited.
    ApiKey(ApiKeyArgs),
    /// Print the ping key of slug URLs (`/ping/<ping-key>/<slug>`), making it on first use.
    PingKey(PingKeyArgs),
    /// List the checks with their status, last ping and ping URL.
    List(ChecksListArgs),
}

#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// `write` (read-write) or `read` (read-only: no UUIDs, no changes).
    #[arg(long, default_value = "write", value_parser = ["write", "read"])]
    pub scope: String,
    /// A name to tell keys apart on the settings page.
    #[arg(long, default_value = "cli")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PingKeyArgs {
    /// Replace the key: slug URLs with the old one stop working.
    #[arg(long)]
    pub new: bool,
}

#[derive(Debug, Args)]
pub struct ChecksListArgs {
    /// Print JSON (as the API's `GET /api/v3/checks/`) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Read one raw RFC 5322 message from standard input and file it (for an MTA pipe, e.g.
    /// Postfix `mailbox_command` or an alias `|opsdesk mail ingest`). Prints what became of it
    /// as JSON. Exit status 0 when taken in (also for duplicates), 65 for input that is not an
    /// email or too large, 75 (try again later) when the store is unavailable.
    Ingest(IngestArgs),
    /// Poll every mailbox configured under [[mail.imap]] once and print what was filed (for cron,
    /// or to check a mailbox's settings; the server polls on its own while it runs).
    Poll,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The mailbox the message was delivered to (a `security@` mailbox files security reports).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Serve a tier's open tickets under its current targets and calendar (what
    /// `PUT /api/tiers/{id}` with `apply_to_open` does), keeping the business time each has
    /// counted. Shows progress; audited.
    Apply(SlaApplyArgs),
    /// List the tickets with an SLA warning or breach due — what the next sweeps announce —
    /// without announcing anything.
    Due(SlaDueArgs),
}

#[derive(Debug, Args)]
pub struct SlaApplyArgs {
    /// The tier's name or id.
    pub tier: String,
    /// Tickets per transaction: each batch's tickets are locked until it is written, so a
    /// smaller batch holds fewer at a time on a busy desk (and takes a little longer).
    #[arg(long, default_value_t = opsdesk_sla::apply::BATCH, value_name = "TICKETS",
          value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch: i64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SlaDueArgs {
    /// Look this many hours ahead (0: due now).
    #[arg(long, default_value_t = 0, value_name = "HOURS")]
    pub within: u32,
    /// Look from this instant (Unix milliseconds) instead of from now.
    #[arg(long, value_name = "UNIX_MS")]
    pub at_ms: Option<i64>,
    /// List at most this many tickets, earliest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many tickets to add.
    #[arg(long, default_value_t = 100_000)]
    pub tickets: u64,
    /// How many messages to add in all (spread over the tickets, at least one each).
    #[arg(long, default_value_t = 500_000)]
    pub messages: u64,
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add(UserAddArgs),
    /// List users.
    List(UserListArgs),
    /// Change a user's role.
    SetRole(SetRoleArgs),
    /// Set a new password (ends the user's sessions).
    ResetPassword(ResetPasswordArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    #[arg(long)]
    pub email: String,
    /// admin, agent or customer.
    #[arg(long)]
    pub role: String,
    /// Display name [default: the part of the email before @].
    #[arg(long, default_value = "")]
    pub name: String,
    /// Organization (for customers); created if new.
    #[arg(long, default_value = "")]
    pub org: String,
    /// May read private security reports (agents and admins).
    #[arg(long)]
    pub security: bool,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// Create the account without a password (it cannot sign in until one is set).
    #[arg(long, conflicts_with = "password_stdin")]
    pub no_password: bool,
}

#[derive(Debug, Args)]
pub struct UserListArgs {
    /// Only users with this role.
    #[arg(long)]
    pub role: Option<String>,
}

#[derive(Debug, Args)]
pub struct SetRoleArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub role: String,
    /// May read private security reports.
    #[arg(long)]
    pub security: bool,
}

#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; prints only the token on standard output.
    Create(TokenCreateArgs),
    /// Revoke a token by id, prefix or the token itself.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[arg(long)]
    pub email: String,
    /// read or write.
    #[arg(long, default_value = "read")]
    pub scope: String,
    /// A name to recognise the token by.
    #[arg(long, default_value = "CLI token")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// Token id, its 12-character prefix, or the whole token.
    pub token: String,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist).
    pub file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits 1 and names the first broken record if anything was changed.
    Verify,
}
