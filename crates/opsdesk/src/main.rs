//! `opsdesk`: parse the command line and hand over to the command.

use clap::Parser as _;
use opsdesk::cli::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    opsdesk::install_crypto_provider();
    let cli = Cli::parse();
    match opsdesk::commands::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
