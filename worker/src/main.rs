//! The `drs-worker` binary: configuration, logging, signals; the work is in the library.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use drs_waves_aws::clients as aws;
use drs_waves_aws::drs::accounts::DrsEndpoints;
use drs_waves_aws::drs::{DrsAccounts, SdkDrs, SdkDrsAccounts};
use drs_waves_contract::Activity;
use drs_waves_history::{DynamoHistory, History, create_table};
use drs_worker::config::{Cli, Command, LogFormat, RunArgs, parse_activity_arns};
use drs_worker::faults::Faults;
use drs_worker::gate_keeper::{keep_gates, next_round_in};
use drs_worker::runtime::{RuntimeConfig, run};
use drs_worker::sfn::{ExecutionLookup, SdkSfn, resolve_activity_arns};
use drs_worker::tasks::Handlers;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let result = match cli.command {
        Some(Command::CreateTable { table }) => create_table_command(&table).await,
        Some(Command::Health {
            port,
            max_age_seconds,
        }) => return health_command(port, max_age_seconds).await,
        Some(Command::Run) | None => run_command(cli.run).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Once: the log goes to stderr already (a second copy read as a second failure).
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The container's health check: one line on stdout, exit 0 (healthy) or 1.
async fn health_command(port: u16, max_age_seconds: u64) -> ExitCode {
    use drs_worker::health::{Verdict, check};
    match check(port, max_age_seconds, Duration::from_secs(5)).await {
        Verdict::Healthy { poll_age_seconds } => {
            println!("healthy: the last GetActivityTask answered {poll_age_seconds} s ago");
            ExitCode::SUCCESS
        }
        Verdict::Unhealthy(why) => {
            println!("unhealthy: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The region and the credentials, checked before the first call: without them every call
/// fails with the SDK's whole error chain, and nothing retries a worker that cannot start.
async fn check_aws(sdk: &aws_config::SdkConfig) -> anyhow::Result<()> {
    use drs_waves_aws::credentials::{SetupError, WORKER_CREDENTIALS_HINT as HOW};
    match drs_waves_aws::credentials::check(sdk).await {
        Ok(()) => Ok(()),
        Err(SetupError::NoRegion) => {
            bail!("no AWS region: set AWS_REGION to the region the plans are deployed in")
        }
        Err(SetupError::NoCredentials(problem)) => match problem.sdk_message() {
            None => bail!("no AWS credentials: {HOW}"),
            Some(why) => bail!("no AWS credentials ({why}): {HOW}"),
        },
    }
}

async fn create_table_command(table: &str) -> anyhow::Result<()> {
    let sdk = aws::load_sdk_config().await;
    check_aws(&sdk).await?;
    let created = create_table(&aws::dynamodb_client(&sdk), table)
        .await
        .with_context(|| format!("creating table {table}"))?;
    if created {
        info!(table, "history table created");
    } else {
        info!(table, "history table already exists");
    }
    Ok(())
}

fn worker_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("drs-worker@{host}:{}", std::process::id())
}

/// The fault point armed by the environment, in test-util builds (the end-to-end tests); the
/// shipped binary has none.
#[cfg(feature = "test-util")]
fn test_faults() -> anyhow::Result<Faults> {
    let faults = Faults::from_env().map_err(anyhow::Error::msg)?;
    if faults.is_armed() {
        warn!(
            "a TEST fault point is armed ({}): never do this outside tests",
            drs_worker::faults::FAULT_ENV
        );
    }
    Ok(faults)
}

#[cfg(not(feature = "test-util"))]
fn test_faults() -> anyhow::Result<Faults> {
    Ok(Faults::none())
}

async fn run_command(args: RunArgs) -> anyhow::Result<()> {
    let faults = test_faults()?;
    let sdk = aws::load_sdk_config().await;
    check_aws(&sdk).await?;
    let sfn = aws::sfn_client(&sdk);
    let arns = if args.activity_arns.is_empty() {
        resolve_activity_arns(&sfn, &args.activity_prefix)
            .await
            .context("resolving the activity ARNs")?
    } else {
        parse_activity_arns(&args.activity_arns).map_err(anyhow::Error::msg)?
    };
    let activities: Vec<(Activity, String)> = arns.into_iter().collect();
    if activities.is_empty() {
        bail!("no activities to poll");
    }
    for (activity, arn) in &activities {
        info!(activity = activity.name(), arn = %arn, "polling activity");
    }
    let accounts = SdkDrsAccounts::new(
        sdk.clone(),
        SdkDrs::new(aws::drs_client(&sdk)),
        aws::drs_retry_config(),
    )
    .with_settings(args.assume_role_settings())
    .with_endpoints(DrsEndpoints::from_env().map_err(anyhow::Error::msg)?);
    let handlers = Handlers::new(
        accounts,
        DynamoHistory::new(aws::dynamodb_client(&sdk), args.table.clone()),
        SdkSfn::new(sfn.clone()),
        args.limits(),
    )
    .with_faults(faults)
    .with_launch_strategy(args.launch_strategy)
    .with_listing_wait(
        Duration::from_secs(args.conflict_listing_wait_seconds),
        drs_worker::tasks::DEFAULT_LISTING_BACKOFF,
    )
    .with_notifier(Arc::new(drs_waves_aws::sns::SnsNotifier::new(
        aws_sdk_sns::Client::new(&sdk),
    )));
    let handlers = match &args.report_bucket {
        Some(bucket) => {
            info!(bucket = %bucket, "reports go to S3");
            handlers.with_evidence(drs_waves_report::gather::Evidence {
                bucket: bucket.clone(),
                table: args.table.clone(),
                store: Arc::new(drs_waves_aws::s3::SdkS3::new(drs_waves_aws::s3::s3_client(
                    &sdk,
                    args.s3_force_path_style,
                ))),
                apis: Arc::new(drs_waves_report::gather::SdkEvidenceApis::new(
                    sfn.clone(),
                    aws::drs_client(&sdk),
                )),
                timeout: Duration::from_secs(args.report_timeout_seconds),
            })
        }
        None => handlers,
    };
    let config = RuntimeConfig {
        pollers_per_activity: args.pollers_per_activity as usize,
        max_tasks_in_flight: args.max_tasks_in_flight as usize,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
        worker_name: worker_name(),
        ..RuntimeConfig::default()
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    if args.health_port > 0 {
        // Not fatal: on ECS each task has its own network namespace and the port is free; on a
        // machine running several workers (the local stack, the tests) only the first serves.
        match drs_worker::health::serve(args.health_port, config.health.clone(), shutdown.clone())
            .await
        {
            Ok(addr) => info!(%addr, "health served (drs-worker health)"),
            Err(e) => {
                warn!(port = args.health_port, error = %e, "cannot serve the health port; `drs-worker health` will report this worker unhealthy")
            }
        }
    }
    let handlers = Arc::new(handlers);
    let janitor = (args.janitor_interval_seconds > 0).then(|| {
        tokio::spawn(run_janitor(
            handlers.clone(),
            config.worker_name.clone(),
            Duration::from_secs(args.janitor_interval_seconds),
            shutdown.clone(),
        ))
    });
    let gate_keeper = (args.gate_keeper_interval_seconds > 0).then(|| {
        tokio::spawn(run_gate_keeper(
            DynamoHistory::new(aws::dynamodb_client(&sdk), args.table.clone()),
            SdkSfn::new(sfn.clone()),
            Duration::from_secs(args.gate_keeper_interval_seconds),
            shutdown.clone(),
        ))
    });
    let report = run(
        Arc::new(SdkSfn::new(sfn)),
        handlers,
        activities,
        config,
        shutdown,
    )
    .await;
    for background in [janitor, gate_keeper].into_iter().flatten() {
        background.abort();
    }
    if !report.drained {
        warn!("some work was cut short by the grace period; it will be retried by Step Functions");
    }
    Ok(())
}

/// Tidies up after executions that ended outside the state machine, every `interval`, until
/// shutdown. A round that fails is logged and the next one tries again.
async fn run_janitor<D: DrsAccounts, H: History, X: ExecutionLookup>(
    handlers: Arc<Handlers<D, H, X>>,
    worker: String,
    interval: Duration,
    shutdown: CancellationToken,
) {
    info!(interval_seconds = interval.as_secs(), "janitor started");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        match handlers.tidy_ended_executions(&worker).await {
            Ok(done) if !done.is_empty() => info!(tidied = done.len(), "janitor round"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "janitor round failed; the next round retries"),
        }
    }
}

/// Keeps the gates that wait for an operator alive (see `drs_worker::gate_keeper`), until
/// shutdown. A round that fails is logged and the next one tries again.
async fn run_gate_keeper<H: History, S: drs_worker::sfn::ActivityService>(
    history: H,
    sfn: S,
    interval: Duration,
    shutdown: CancellationToken,
) {
    info!(interval_seconds = interval.as_secs(), "gate keeper started");
    let mut wait = interval;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let now = time::OffsetDateTime::now_utc();
        wait = match keep_gates(&history, &sfn, now).await {
            Ok((_, smallest_heartbeat)) => next_round_in(interval, smallest_heartbeat),
            Err(e) => {
                warn!(error = %e, "gate keeper round failed; the next round retries");
                interval
            }
        };
    }
}

async fn wait_for_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            error!("cannot listen for SIGTERM: {e}");
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT received"),
    }
    shutdown.cancel();
}
