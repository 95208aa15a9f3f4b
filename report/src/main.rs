//! `drs-waves-report EXECUTION_ARN -o DIR`: writes `report.html` and `report.json` of one
//! execution. Until the operator CLI (`drs-waves report`) exists.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use drs_worker::aws;
use drs_worker::history::DynamoHistory;

/// Renders the report of one execution: what was recovered, when, against which targets.
#[derive(Parser)]
#[command(name = "drs-waves-report", version)]
struct Cli {
    /// The execution's ARN.
    execution: String,
    /// Where to write report.html and report.json (created if missing).
    #[arg(short = 'o', long = "out-dir")]
    out_dir: PathBuf,
    /// The history table.
    #[arg(long, env = "DRS_WAVES_TABLE", default_value = drs_waves_contract::DEFAULT_HISTORY_TABLE)]
    table: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("drs-waves-report: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<PathBuf> {
    let sdk = aws::load_sdk_config().await;
    let history = DynamoHistory::new(aws::dynamodb_client(&sdk), cli.table.clone());
    let apis = drs_waves_report::SdkEvidenceApis::new(aws::sfn_client(&sdk), aws::drs_client(&sdk));
    let report = drs_waves_report::report_of(
        &history,
        &cli.table,
        &apis,
        &cli.execution,
        time::OffsetDateTime::now_utc(),
    )
    .await?;
    drs_waves_report::write(&report, &cli.out_dir)
        .with_context(|| format!("writing the report to {}", cli.out_dir.display()))
}
