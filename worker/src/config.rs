//! Command line and environment. The CDK app sets the `DRS_WAVES_*` variables: keep the names.

use std::collections::BTreeMap;

use clap::{Args, Parser, Subcommand, ValueEnum};
use drs_waves_contract::{Activity, ActivityArns, DEFAULT_ACTIVITY_PREFIX, DEFAULT_HISTORY_TABLE};

use drs_waves_rules::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "drs-worker",
    version,
    about = "Step Functions activity worker for drs-waves: DRS launches, wave verdicts and the DynamoDB execution history",
    long_about = "Polls every drs-waves activity (preflight, start-wave, check-wave, finish, record-failure) and does \
                  the DRS and DynamoDB work each task asks for. AWS settings come from the standard environment \
                  (AWS_REGION, credentials, AWS_ENDPOINT_URL_SFN / _DRS / _DYNAMODB). SIGTERM or SIGINT stops \
                  polling and finishes the tasks in hand within the grace period."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Log format.
    #[arg(long, env = "DRS_WAVES_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Poll the activities and run tasks (the default).
    Run,
    /// Create the history table and its indexes (does nothing if it exists), then exit.
    CreateTable {
        /// Table name.
        #[arg(long, env = "DRS_WAVES_TABLE", default_value = DEFAULT_HISTORY_TABLE)]
        table: String,
    },
    /// Ask the worker running on this machine whether it still polls Step Functions: exit 0
    /// when its last GetActivityTask answered recently, 1 otherwise (the container's health
    /// check). Makes no AWS call.
    Health {
        /// The worker's loopback health port.
        #[arg(long, env = "DRS_WAVES_HEALTH_PORT", default_value_t = crate::health::DEFAULT_HEALTH_PORT)]
        port: u16,
        /// The oldest answered poll that is still healthy, in seconds.
        #[arg(long, default_value_t = crate::health::DEFAULT_MAX_POLL_AGE_SECONDS)]
        max_age_seconds: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// An activity's ARN as NAME=ARN (names: preflight, start-wave, check-wave, finish,
    /// record-failure). Repeat for each, or give a comma-separated list. When absent, the ARNs
    /// are found with ListActivities from --activity-prefix.
    #[arg(
        long = "activity-arn",
        value_name = "NAME=ARN",
        env = "DRS_WAVES_ACTIVITY_ARNS",
        value_delimiter = ','
    )]
    pub activity_arns: Vec<String>,
    /// Prefix of the deployed activity names (`<prefix>-preflight`, ...).
    #[arg(long, env = "DRS_WAVES_ACTIVITY_PREFIX", default_value = DEFAULT_ACTIVITY_PREFIX)]
    pub activity_prefix: String,
    /// DynamoDB history table.
    #[arg(long, env = "DRS_WAVES_TABLE", default_value = DEFAULT_HISTORY_TABLE)]
    pub table: String,
    /// Concurrent long polls per activity. An open poll holds no task slot: AWS recommends
    /// many open polls per activity ARN, since a task token dropped on its way to a worker
    /// blocks GetActivityTask requests for up to 60 s.
    #[arg(long, env = "DRS_WAVES_POLLERS_PER_ACTIVITY", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pollers_per_activity: u32,
    /// Tasks in flight at once, across all activities (a task that arrives when every slot is
    /// busy is heartbeated until one frees up; no new poll starts meanwhile).
    #[arg(long, env = "DRS_WAVES_MAX_TASKS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tasks_in_flight: u32,
    /// Source servers per DRS job; larger waves are split into several jobs.
    #[arg(long, env = "DRS_WAVES_MAX_SERVERS_PER_JOB", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub max_servers_per_job: u32,
    /// DRS quota: source servers in all active jobs (a larger wave fails preflight).
    #[arg(long, env = "DRS_WAVES_MAX_ACTIVE_SERVERS", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_active_servers: u32,
    /// DRS quota: concurrent jobs in progress (a wave needing more fails preflight).
    #[arg(long, env = "DRS_WAVES_MAX_CONCURRENT_JOBS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_jobs: u32,
    /// How a wave's chunks are sent: `eager` sends them all at the wave's start and waits out
    /// a full quota (a wave larger than the quotas fails preflight); `scheduled` sends only
    /// what fits the quotas above less what the account's active jobs hold, the wave's checks
    /// sending the rest as jobs end, and keeps to what a refusal teaches when the quotas set
    /// here are higher than DRS's.
    #[arg(long, env = "DRS_WAVES_LAUNCH_STRATEGY", value_enum, default_value_t = crate::tasks::LaunchStrategy::Eager)]
    pub launch_strategy: crate::tasks::LaunchStrategy,
    /// Seconds a start task looks for its chunk's tagged job after StartRecovery answered
    /// ConflictException (the answer to an earlier StartRecovery may have been lost, and DRS
    /// may list the job it made late). Within the start task's 600 s timeout.
    #[arg(
        long,
        env = "DRS_WAVES_CONFLICT_LISTING_WAIT_SECONDS",
        default_value_t = crate::tasks::DEFAULT_LISTING_WAIT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=480)
    )]
    pub conflict_listing_wait_seconds: u64,
    /// Seconds between two rounds of the janitor, which records executions that ended outside
    /// the state machine (StopExecution, the machine's timeout), releases their plan's lock and
    /// cleans up their drills. 0 turns it off (another worker runs it).
    #[arg(long, env = "DRS_WAVES_JANITOR_INTERVAL_SECONDS", default_value_t = 60)]
    pub janitor_interval_seconds: u64,
    /// Seconds between two rounds of the gate keeper, which heartbeats the task tokens of the
    /// gates and decisions recorded in the history (and fails one past its deadline). A round
    /// also comes within a third of the shortest gate heartbeat it saw. 0 turns it off (then
    /// another worker must run it, or every gate re-opens at each heartbeat timeout).
    #[arg(
        long,
        env = "DRS_WAVES_GATE_KEEPER_INTERVAL_SECONDS",
        default_value_t = 20
    )]
    pub gate_keeper_interval_seconds: u64,
    /// The loopback port `drs-worker health` asks (127.0.0.1 only); 0 serves none.
    #[arg(long, env = "DRS_WAVES_HEALTH_PORT", default_value_t = crate::health::DEFAULT_HEALTH_PORT)]
    pub health_port: u16,
    /// Seconds to finish tasks in hand after SIGTERM (keep it under the container's stop
    /// timeout: ECS allows 120 s at most).
    #[arg(long, env = "DRS_WAVES_SHUTDOWN_GRACE_SECONDS", default_value_t = 100)]
    pub shutdown_grace_seconds: u64,
    /// S3 bucket the finish and record-failure tasks write each execution's report to
    /// (`<plan>/<execution name>/report.html` and `report.json`). None: no report is written.
    #[arg(long, env = "DRS_WAVES_REPORT_BUCKET")]
    pub report_bucket: Option<String>,
    /// Seconds writing a report may take at the end of an execution; past it the report is
    /// given up (and `reportError` recorded), never the execution.
    #[arg(long, env = "DRS_WAVES_REPORT_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub report_timeout_seconds: u64,
    /// Path-style S3 requests (`endpoint/bucket/key`): for a local S3 such as LocalStack's,
    /// where the bucket is not a host name.
    #[arg(long, env = "DRS_WAVES_S3_FORCE_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_force_path_style: bool,
    /// Seconds a session of a wave's role lasts (AssumeRole's DurationSeconds: 900 to the role's
    /// maximum); unset: STS's default, one hour. The credentials are refreshed before they end.
    #[arg(long, env = "DRS_WAVES_ASSUME_ROLE_SECONDS", value_parser = clap::value_parser!(u64).range(1..=43_200))]
    pub assume_role_seconds: Option<u64>,
}

impl RunArgs {
    /// How the worker assumes the roles of waves in other accounts.
    pub fn assume_role_settings(&self) -> drs_waves_aws::drs::accounts::AssumeRoleSettings {
        drs_waves_aws::drs::accounts::AssumeRoleSettings {
            session_length: self.assume_role_seconds.map(std::time::Duration::from_secs),
            ..Default::default()
        }
    }
}

impl RunArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_servers_per_job: self.max_servers_per_job as usize,
            max_active_servers: self.max_active_servers as usize,
            max_concurrent_jobs: self.max_concurrent_jobs as usize,
        }
    }
}

/// Parses `NAME=ARN` items with the contract's one parser: every activity exactly once, each an
/// activity ARN.
pub fn parse_activity_arns(items: &[String]) -> Result<BTreeMap<Activity, String>, String> {
    ActivityArns::from_pairs(items)
        .map(ActivityArns::into_map)
        .map_err(|e| format!("{e} (or use --activity-prefix)"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn all(prefix: &str) -> Vec<String> {
        Activity::ALL
            .into_iter()
            .map(|a| {
                format!(
                    "{}=arn:aws:states:us-east-1:123456789012:activity:{prefix}-{}",
                    a.name(),
                    a.name()
                )
            })
            .collect()
    }

    #[test]
    fn activity_arns_parse_and_name_what_is_wrong() {
        let parsed = parse_activity_arns(&all("x")).expect("every activity");
        assert_eq!(parsed.len(), Activity::ALL.len());
        let err = parse_activity_arns(&all("x")[..4]).expect_err("one missing");
        assert!(err.contains("record-failure"), "{err}");
        let err = parse_activity_arns(&["prefligt=arn:aws:states:us-east-1:1:activity:x".into()])
            .expect_err("typo");
        assert!(err.contains("prefligt"), "{err}");
        let err = parse_activity_arns(&["preflight".into()]).expect_err("no =");
        assert!(err.contains("NAME=ARN"), "{err}");
        let err = parse_activity_arns(&["preflight=arn:aws:lambda:us-east-1:1:function:f".into()])
            .expect_err("not an activity");
        assert!(err.contains("not an activity ARN"), "{err}");
    }

    #[test]
    fn cli_is_well_formed_and_defaults_follow_the_contract() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["drs-worker"]).expect("defaults");
        assert_eq!(cli.run.table, DEFAULT_HISTORY_TABLE);
        assert_eq!(cli.run.activity_prefix, DEFAULT_ACTIVITY_PREFIX);
        assert_eq!(cli.run.limits(), Limits::default());
        assert_eq!(cli.run.shutdown_grace_seconds, 100);
        assert_eq!(cli.run.report_bucket, None);
        assert_eq!(cli.run.report_timeout_seconds, 60);
        assert!(!cli.run.s3_force_path_style);
        let cli = Cli::try_parse_from([
            "drs-worker",
            "--report-bucket",
            "dr-reports",
            "--s3-force-path-style",
            "true",
        ])
        .expect("report settings");
        assert_eq!(cli.run.report_bucket.as_deref(), Some("dr-reports"));
        assert!(cli.run.s3_force_path_style);
        let cli = Cli::try_parse_from([
            "drs-worker",
            "--activity-arn",
            "a=arn:1,b=arn:2",
            "--activity-arn",
            "c=arn:3",
        ])
        .expect("lists");
        assert_eq!(cli.run.activity_arns, vec!["a=arn:1", "b=arn:2", "c=arn:3"]);
        assert!(Cli::try_parse_from(["drs-worker", "--max-servers-per-job", "201"]).is_err());
        let cli = Cli::try_parse_from(["drs-worker", "create-table", "--table", "t"])
            .expect("create-table");
        assert!(matches!(cli.command, Some(Command::CreateTable { table }) if table == "t"));
    }
}
