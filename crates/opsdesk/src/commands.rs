//! What each CLI command does. Commands that change data go through the same services as the web,
//! so they are validated and audited the same way (the actor is `cli`).

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use opsdesk_core::accounts::service::{self as accounts, NewUserInput};
use opsdesk_core::accounts::{NewPassword, Role};
use opsdesk_core::audit::Actor;
use opsdesk_core::audit::store::{self as audit_store, Verification};
use opsdesk_core::auth::tokens::{self, Scope};
use opsdesk_core::config::{Config, DatabaseUrl, EXAMPLE_CONFIG};
use opsdesk_core::db::{Backend, sqlite_path};
use opsdesk_core::error::AppError;

use crate::cli::{AuditCommand, Cli, Command, ServeArgs, TokenCommand, UserCommand};
use crate::{App, open_db, telemetry};

/// Loads the configuration and applies the global flags on top.
pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.global.config.as_deref())?;
    if let Some(dir) = &cli.global.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &cli.global.database_url {
        config.database_url = Some(DatabaseUrl(url.clone()));
    }
    Ok(config)
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = load_config(&cli)?;
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    match command {
        Command::Serve(args) => {
            if let Some(listen) = args.listen {
                config.listen = listen;
            }
            telemetry::init_logging(&config.log_format);
            tracing::info!(database = %config.database_url(), "starting opsdesk");
            let app = App::build(config).await?;
            app.run_until_stopped(shutdown_signal()).await?;
        }
        Command::Migrate => {
            open_db(&config).await?;
            eprintln!("migrations are current");
        }
        Command::User(cmd) => user(&config, cmd).await?,
        Command::Token(cmd) => token(&config, cmd).await?,
        Command::Backup(args) => backup(&config, &args.file).await?,
        Command::Audit(AuditCommand::Verify) => return verify(&config).await,
        Command::DefaultConfig => print!("{EXAMPLE_CONFIG}"),
        Command::Demo => crate::demo::seed(&config).await?,
        Command::Seed(args) => seed(&config, &args).await?,
        Command::Mail(crate::cli::MailCommand::Ingest(args)) => {
            return ingest(&config, args.mailbox.as_deref()).await;
        }
        Command::Mail(crate::cli::MailCommand::Poll) => return poll(&config).await,
        Command::Sla(cmd) => crate::sla_commands::run(&config, cmd).await?,
        Command::Checks(cmd) => crate::checks_commands::run(&config, cmd).await?,
        Command::Monitors(crate::cli::MonitorsCommand::Drift(args)) => {
            crate::checks_commands::drift(&config, &args).await?
        }
        Command::Monitors(crate::cli::MonitorsCommand::Run(args)) => {
            return crate::checks_commands::run_monitor(&config, &args).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// Turns a service error into a CLI message listing the field problems.
fn explain(e: AppError) -> anyhow::Error {
    let mut msg = e.message.clone();
    for (field, problem) in &e.fields {
        msg.push_str(&format!("\n  {field}: {problem}"));
    }
    anyhow::anyhow!(msg)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to prompt for a password: pass --password-stdin and pipe it in");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Again: ")?;
    if first != again {
        bail!("the two passwords differ");
    }
    Ok(first)
}

async fn user(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let actor = Actor::cli();
    match cmd {
        UserCommand::Add(a) => {
            let password = if a.no_password {
                String::new()
            } else {
                read_password(a.password_stdin)?
            };
            let input = NewUserInput {
                email: a.email,
                name: a.name,
                role: a.role,
                password,
                organization: a.org,
                security: a.security,
            };
            let u = accounts::create_user(&db, &actor, input)
                .await
                .map_err(explain)?;
            println!("{}", u.id);
            eprintln!("created {} ({})", u.email, u.role);
        }
        UserCommand::List(a) => {
            let role = match a.role.as_deref() {
                Some(r) => Some(Role::parse(r).context("--role must be admin, agent or customer")?),
                None => None,
            };
            let mut after = String::new();
            println!(
                "{:<36}  {:<32}  {:<8}  {:<8}  ORGANIZATION",
                "ID", "EMAIL", "ROLE", "STATUS"
            );
            loop {
                let page = accounts::list(&db, role, &after, 200)
                    .await
                    .map_err(explain)?;
                for u in &page {
                    let status = if u.disabled { "disabled" } else { "active" };
                    println!(
                        "{:<36}  {:<32}  {:<8}  {:<8}  {}",
                        u.id,
                        u.email,
                        u.role,
                        status,
                        u.organization.as_deref().unwrap_or("-")
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 200 => after = last.email.clone(),
                    _ => break,
                }
            }
        }
        UserCommand::SetRole(a) => {
            let role = Role::parse(&a.role).context("--role must be admin, agent or customer")?;
            let u = accounts::set_role(&db, &actor, &a.email, role, a.security)
                .await
                .map_err(explain)?;
            eprintln!("{} is now {}", u.email, u.role);
        }
        UserCommand::ResetPassword(a) => {
            let pw = read_password(a.password_stdin)?;
            let pw = NewPassword::parse(&pw).map_err(|p| anyhow::anyhow!("password {p}"))?;
            let u = accounts::reset_password(&db, &actor, &a.email, &pw)
                .await
                .map_err(explain)?;
            eprintln!(
                "password for {} changed; their sessions were ended",
                u.email
            );
        }
    }
    db.close().await;
    Ok(())
}

async fn token(config: &Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let actor = Actor::cli();
    match cmd {
        TokenCommand::Create(a) => {
            let scope = Scope::parse(&a.scope).context("--scope must be read or write")?;
            let user = accounts::find(&db, &a.email).await.map_err(explain)?;
            if !tokens::scope_allowed(user.role, scope) {
                bail!("customers can only hold read tokens");
            }
            let (info, secret) = tokens::create(&db, &actor, &user.id, &a.name, scope)
                .await
                .map_err(explain)?;
            println!("{secret}");
            eprintln!(
                "created token {} ({}) for {}",
                info.prefix,
                scope.as_str(),
                user.email
            );
        }
        TokenCommand::Revoke(a) => {
            let info = tokens::revoke(&db, &actor, &a.token, None)
                .await
                .map_err(explain)?;
            eprintln!("revoked token {} ({})", info.prefix, info.name);
        }
    }
    db.close().await;
    Ok(())
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

async fn backup(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let url = config.database_url();
    if url.is_postgres() {
        bail!(
            "this instance uses PostgreSQL: back it up with pg_dump, e.g. `pg_dump --format=custom --file=opsdesk.dump <database-url>`"
        );
    }
    if file.exists() {
        bail!("{} already exists; choose a new file name", file.display());
    }
    let db = open_db(config).await?;
    if db.backend() != Backend::Sqlite {
        bail!("backup supports SQLite only");
    }
    let pb = spinner("copying the database");
    // VACUUM INTO writes a consistent, compacted copy while other connections keep working.
    sqlx::query("VACUUM INTO $1")
        .bind(file.to_string_lossy().to_string())
        .execute(db.write())
        .await
        .with_context(|| format!("writing {}", file.display()))?;
    pb.finish_and_clear();
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "backed up {} to {} ({} KiB)",
        sqlite_path(url.expose())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        file.display(),
        size / 1024
    );
    db.close().await;
    Ok(())
}

async fn seed(config: &Config, args: &crate::cli::SeedArgs) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let pb = ProgressBar::new(args.tickets);
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tickets {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    opsdesk_desk::seed::load(&db, args.tickets, args.messages, |n| pb.set_position(n)).await?;
    pb.finish_and_clear();
    db.close().await;
    eprintln!(
        "seeded {} tickets and {} messages in {:.1} s",
        args.tickets,
        args.messages.max(args.tickets),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let db = open_db(config).await?;
    let total = audit_store::count(&db).await?;
    let pb = ProgressBar::new(u64::try_from(total).unwrap_or(0));
    pb.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = audit_store::verify(&db, |n| pb.set_position(n)).await?;
    pb.finish_and_clear();
    db.close().await;
    match result {
        Verification::Intact { records } => {
            println!("audit chain intact: {records} records verified");
            Ok(ExitCode::SUCCESS)
        }
        Verification::Broken(b) => {
            println!("audit chain BROKEN: {b}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `opsdesk mail ingest`: one message from standard input through the email intake.
async fn ingest(config: &Config, mailbox: Option<&str>) -> anyhow::Result<ExitCode> {
    use std::io::Read as _;
    let limit = config.mail.max_message_bytes;
    let mut raw = Vec::new();
    std::io::stdin()
        .take(limit as u64 + 1)
        .read_to_end(&mut raw)
        .context("reading the message from standard input")?;
    let db = match open_db(config).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(75));
        }
    };
    opsdesk_desk::prepare(&db).await?;
    let blobs = opsdesk_core::blobs::Blobs::new(&db, &config.data_dir);
    let source = opsdesk_desk::mail::intake::Source {
        name: "pipe",
        mailbox,
    };
    let result = opsdesk_desk::mail::intake::ingest(&db, &blobs, &config.mail, &raw, &source).await;
    db.close().await;
    match result {
        Ok(intake) => {
            println!("{}", serde_json::to_string(&intake)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.status.is_client_error() => {
            eprintln!("error: {}", e.message);
            Ok(ExitCode::from(65))
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            Ok(ExitCode::from(75))
        }
    }
}

/// `opsdesk mail poll`: every configured IMAP mailbox once.
async fn poll(config: &Config) -> anyhow::Result<ExitCode> {
    if config.mail.imap.is_empty() {
        bail!("no mailboxes are configured: add [[mail.imap]] tables to the configuration file");
    }
    let db = open_db(config).await?;
    opsdesk_desk::prepare(&db).await?;
    let blobs = opsdesk_core::blobs::Blobs::new(&db, &config.data_dir);
    let mut failed = false;
    for mb in &config.mail.imap {
        match opsdesk_desk::mail::imap::poll(&db, &blobs, &config.mail, mb).await {
            Ok(r) => println!(
                "{}: {}",
                mb.name,
                serde_json::to_string(&r).unwrap_or_default()
            ),
            Err(e) => {
                failed = true;
                eprintln!("{}: {e:#}", mb.name);
            }
        }
    }
    db.close().await;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
