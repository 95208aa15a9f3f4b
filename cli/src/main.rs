//! The `drs-waves` binary: parses the command line, runs it, prints an error as one line.

use std::process::ExitCode;

use clap::Parser;
use drs_waves_cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("drs-waves: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
