//! `drs-sim-sts`: the STS stand-in as a process (see `drs_sim::sts` and the crate README).
//!
//! Prints `drs-sim-sts listening on http://ADDR` as its first line on stdout, then serves until
//! SIGINT or SIGTERM. Point the SDK at it with AWS_ENDPOINT_URL_STS=http://ADDR.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use drs_sim::sts::{StsConfig, StsHandle};

/// A stand-in for AWS STS (AssumeRole with trust policies and external IDs,
/// GetCallerIdentity, GetAccessKeyInfo) speaking the AWS query protocol.
#[derive(Debug, Parser)]
#[command(name = "drs-sim-sts", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The roles that exist (YAML or JSON): callerAccount, roles: [{arn, trustedPrincipals,
    /// externalId, maxSessionSeconds}], minSessionSeconds.
    #[arg(long)]
    config: Option<PathBuf>,
    /// TEST KNOB: accept sessions shorter than AWS's minimum of 900 s (down to this many
    /// seconds), so that a test sees credentials expire and refresh. Overrides the file.
    #[arg(long)]
    min_session_seconds: Option<u32>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drs-sim-sts: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => StsConfig::load(path).map_err(anyhow::Error::msg)?,
        None => StsConfig::default(),
    };
    if let Some(min) = args.min_session_seconds {
        config.min_session_seconds = min;
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let sts = StsHandle::start(args.listen, config)
        .await
        .map_err(anyhow::Error::msg)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "drs-sim-sts listening on {}", sts.endpoint())?;
        out.flush()?;
    }
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
