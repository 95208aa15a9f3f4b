//! `drs-sim`: run the DRS simulator as a process (see the crate README).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use drs_sim::{
    DateStyle, FaultConfig, FaultSpec, FixtureSource, Limits, Owner, Paging, SimConfig, Simulator,
    Timings,
};

/// A simulator of AWS Elastic Disaster Recovery speaking the DRS restJson1 protocol.
///
/// Prints `drs-sim listening on http://ADDR` as its first line on stdout, then serves until
/// SIGINT or SIGTERM. Point aws-sdk-drs at it with AWS_ENDPOINT_URL_DRS=http://ADDR.
/// Admin API: GET /_sim/counters, /_sim/jobs, /_sim/servers, /_sim/recovery-instances,
/// /_sim/recovery-snapshots/ID, /_sim/faults, /_sim/limits, /_sim/timings, /_sim/paging;
/// POST /_sim/faults, /_sim/limits, /_sim/timings, /_sim/paging, /_sim/servers,
/// /_sim/outage, /_sim/outage/end, /_sim/fail-launch, /_sim/snapshots/age,
/// /_sim/background-jobs, /_sim/reset.
#[derive(Debug, Parser)]
#[command(name = "drs-sim", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Source servers (YAML or JSON): servers: [{id, hostname, tags, replicationState,
    /// replicationError, downSinceMinutes, snapshots, launchSeconds, failLaunch,
    /// failReason}], defaults: {launchSeconds, snapshots}, backgroundJobs: [...].
    #[arg(long)]
    fixture: Option<PathBuf>,

    /// Multiplies every simulated duration (0.1: ten times faster).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// How long a new job stays PENDING, in seconds.
    #[arg(long, default_value_t = 0.05)]
    pending_seconds: f64,
    /// How long terminating recovery instances takes, in seconds.
    #[arg(long, default_value_t = 0.2)]
    terminate_seconds: f64,
    /// How long a new job lists no participatingServers (it stays PENDING meanwhile), in
    /// seconds.
    #[arg(long, default_value_t = 0.0)]
    participants_delay_seconds: f64,

    /// How long after a job is made DescribeJobs starts listing it, in seconds.
    #[arg(long, default_value_t = 0.0)]
    job_listing_delay_seconds: f64,

    /// At most this many items per page of every Describe* answer, whatever maxResults says.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    page_size: Option<u64>,

    /// Every Describe* listing's first page is empty and carries a nextToken.
    #[arg(long)]
    empty_first_page: bool,

    /// Source servers per job (ServiceQuotaExceededException beyond it).
    #[arg(long, default_value_t = 100)]
    max_servers_per_job: usize,
    /// Source servers in all active jobs (ServiceQuotaExceededException beyond it).
    #[arg(long, default_value_t = 200)]
    max_servers_in_active_jobs: usize,
    /// Jobs in progress at once (ServiceQuotaExceededException beyond it).
    #[arg(long, default_value_t = 20)]
    max_concurrent_jobs: usize,
    /// Active jobs per source server (ConflictException beyond it).
    #[arg(long, default_value_t = 1)]
    max_active_jobs_per_server: usize,

    /// Share of DRS calls answered 429 ThrottlingException (0..1).
    #[arg(long, default_value_t = 0.0)]
    throttle_fraction: f64,
    /// Share of DRS calls answered 500 InternalServerException (0..1).
    #[arg(long, default_value_t = 0.0)]
    error_fraction: f64,
    /// Latency added to every DRS call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Apply the faults above only to these operations (comma-separated, e.g.
    /// StartRecovery,DescribeJobs).
    #[arg(long, value_delimiter = ',')]
    fault_operations: Vec<String>,
    /// Retry-After (seconds) of throttled answers.
    #[arg(long, default_value_t = 1)]
    retry_after_seconds: u32,
    /// Seed for IDs and faults, so that runs repeat exactly.
    #[arg(long)]
    seed: Option<u64>,

    /// The region served (with --account-id: requests signed for another region are
    /// refused); in ARNs. Default us-east-1.
    #[arg(long)]
    region: Option<String>,
    /// The one account served: requests signed with another account's access key are refused
    /// as AWS refuses an unknown key (see the README, "Accounts and regions"); in ARNs.
    /// Without it every caller is served and ARNs say 123456789012.
    #[arg(long)]
    account_id: Option<String>,
    /// Timestamp style: zulu (...Z, the model's ISO8601DatetimeString) or offset
    /// (2024-05-01T12:00:00.000000+00:00, outside the model).
    #[arg(long, value_enum, default_value = "zulu")]
    date_style: DateStyleArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DateStyleArg {
    Offset,
    Zulu,
}

fn config(args: Args) -> SimConfig {
    let defaults = SimConfig::default();
    let spec = FaultSpec {
        throttle_fraction: args.throttle_fraction,
        error_fraction: args.error_fraction,
        latency_ms: args.latency_ms,
        ..FaultSpec::default()
    };
    let mut faults = FaultConfig {
        retry_after_seconds: args.retry_after_seconds,
        ..FaultConfig::default()
    };
    if args.fault_operations.is_empty() {
        faults.all = spec;
    } else {
        for op in args.fault_operations {
            faults.per_operation.insert(op, spec.clone());
        }
    }
    SimConfig {
        listen: args.listen,
        fixture: args
            .fixture
            .map_or(FixtureSource::Empty, FixtureSource::File),
        limits: Limits {
            max_servers_per_job: args.max_servers_per_job,
            max_servers_in_active_jobs: args.max_servers_in_active_jobs,
            max_concurrent_jobs: args.max_concurrent_jobs,
            max_active_jobs_per_server: args.max_active_jobs_per_server,
        },
        faults,
        timings: Timings {
            time_scale: args.time_scale,
            pending_seconds: args.pending_seconds,
            terminate_seconds: args.terminate_seconds,
            participants_delay_seconds: args.participants_delay_seconds,
            job_listing_delay_seconds: args.job_listing_delay_seconds,
        },
        paging: Paging {
            page_size: args.page_size.map(|n| n as usize),
            empty_first_page: args.empty_first_page,
        },
        seed: args.seed,
        owner: args.account_id.clone().map(|account_id| Owner {
            account_id,
            region: args
                .region
                .clone()
                .unwrap_or_else(|| defaults.region.clone()),
        }),
        region: args.region.unwrap_or_else(|| defaults.region.clone()),
        account_id: args
            .account_id
            .unwrap_or_else(|| defaults.account_id.clone()),
        date_style: match args.date_style {
            DateStyleArg::Offset => DateStyle::Offset,
            DateStyleArg::Zulu => DateStyle::Zulu,
        },
        ..SimConfig::default()
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, no backtrace: this is what a script or a person reads.
            eprintln!("drs-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    // Listen for SIGTERM before announcing the port: a script may signal as soon as it
    // has read the line.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let sim = Simulator::start(config(args))
        .await
        .context("could not start")?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "drs-sim listening on {}", sim.endpoint())?;
        out.flush()?;
    }
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT")?,
        _ = term.recv() => {}
    }
    sim.shutdown().await;
    Ok(())
}
