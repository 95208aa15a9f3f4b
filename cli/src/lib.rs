//! `drs-waves`: the operator's command line.
//!
//! It uses AWS's default credential chain and region (and the local stack's endpoints when
//! `scripts/local-stack.sh`'s env file is sourced). Plans are the state machines named
//! `<prefix>-<plan>`; executions are named by ARN, by name, or `PLAN:latest`. Gates and
//! decisions are answered through the history table (a conditional write on the gate's token,
//! with the caller's identity) and then Step Functions (SendTaskSuccess / SendTaskFailure).
//!
//! Layout: [`aws`] (configuration and identity), [`resolve`] and [`names`] (plans and
//! executions), [`gate`] (approve, stop, decide, cancel), [`follow`] with [`view`] (what is
//! known of an execution) and [`render`] (its text, pure), [`commands`] (start, plans, status,
//! history, report), [`native`] (DRS's own recovery plans), [`failback`] (whether a RECOVERY
//! can go home).

pub mod aws;
pub mod commands;
pub mod error;
pub mod failback;
pub mod follow;
pub mod gate;
pub mod names;
pub mod native;
pub mod render;
pub mod resolve;
pub mod rpo_check;
pub mod view;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// Operate drs-waves recovery plans: start drills and recoveries, follow them, answer their
/// approval gates and decisions, cancel them, and read their history.
#[derive(Debug, Parser)]
#[command(name = "drs-waves", version, about, long_about = None)]
pub struct Cli {
    /// The history table of the deployment.
    #[arg(long, global = true, env = "DRS_WAVES_TABLE", default_value = drs_waves_contract::DEFAULT_HISTORY_TABLE)]
    pub table: String,
    /// The deployment's name prefix: plans are the state machines named PREFIX-<plan>.
    #[arg(long, global = true, env = "DRS_WAVES_PREFIX", default_value = drs_waves_contract::DEFAULT_ACTIVITY_PREFIX)]
    pub prefix: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The deployed plans, their last execution and its outcome.
    Plans,
    /// Start a DRILL, a RECOVERY or a FAILBACK of a plan (a RECOVERY or a FAILBACK asks you to
    /// type the plan's name).
    Start {
        plan: String,
        /// Launch drill instances.
        #[arg(
            long,
            conflicts_with_all = ["recovery", "failback"],
            required_unless_present_any = ["recovery", "failback"]
        )]
        drill: bool,
        /// Launch PRODUCTION recovery instances (the day of a disaster).
        #[arg(long, conflicts_with = "failback")]
        recovery: bool,
        /// Bring the plan's last RECOVERY home: each recovery instance ready for failback
        /// launches its original machine, the waves in reverse order (asks for the plan's name).
        #[arg(long, conflicts_with = "point_in_time")]
        failback: bool,
        /// With --failback: the RECOVERY to bring home (its execution name or ARN), when not
        /// the plan's last one that succeeded.
        #[arg(long, value_name = "EXECUTION", requires = "failback")]
        bring_home: Option<String>,
        /// Launch every server from its latest snapshot at or before this time (RFC 3339,
        /// e.g. 2026-11-27T03:00:00Z).
        #[arg(long, value_name = "TIME")]
        point_in_time: Option<String>,
        /// The plan's name, for scripts: a RECOVERY then does not ask for it.
        #[arg(long, value_name = "PLAN")]
        confirm: Option<String>,
        /// The execution's name (default: drill-/recovery-<UTC time>).
        #[arg(long)]
        name: Option<String>,
        /// Follow the execution to its end (exit status as `follow`).
        #[arg(long)]
        follow: bool,
        /// Print only the execution's ARN (for scripts).
        #[arg(long, short, conflicts_with = "follow")]
        quiet: bool,
        /// Plain lines even on a terminal (with --follow).
        #[arg(long)]
        plain: bool,
    },
    /// Follow an execution live to its end: exit 0 succeeded, 1 failed, 3 cancelled or stopped.
    Follow {
        /// ARN, name, or PLAN:latest.
        execution: String,
        /// Plain lines even on a terminal.
        #[arg(long)]
        plain: bool,
    },
    /// Approve the wave waiting at an approval gate.
    ///
    /// When the execution waits at several approval gates at once (waves that run side by
    /// side), say which with --wave; nothing is answered without it.
    Approve {
        execution: String,
        /// The wave whose gate to answer, by name or index (needed when several are open).
        #[arg(long)]
        wave: Option<String>,
    },
    /// Stop the execution at its approval gate or decision (cleaned up as a cancel).
    ///
    /// When several gates or decisions are open at once, say which with --wave.
    Stop {
        execution: String,
        /// The wave whose gate or decision to answer, by name or index (needed when several
        /// are open).
        #[arg(long)]
        wave: Option<String>,
    },
    /// Answer the decision after a failed wave: retry its servers that did not launch, skip it,
    /// or stop.
    ///
    /// When several decisions are open at once, say which with --wave.
    Decide {
        execution: String,
        #[arg(value_enum)]
        decision: gate::Decision,
        /// The failed wave whose decision to answer, by name or index (needed when several
        /// are open).
        #[arg(long)]
        wave: Option<String>,
    },
    /// Cancel an execution: a drill's instances are terminated, a recovery's kept. Every gate
    /// and decision open at the time is answered with the cancel.
    Cancel { execution: String },
    /// What is running now (of one plan, or of all).
    Status { plan: Option<String> },
    /// Whether the plan's RECOVERY can go home now: each server's recovery instance with its
    /// DRS failback state, and why one is not ready (exit 0 all ready, 1 not).
    ///
    /// Brings home the plan's last RECOVERY when it SUCCEEDED, or the one --recovery names.
    /// Read-only: the way home itself is manual until drs-waves runs a FAILBACK.
    FailbackCheck {
        plan: String,
        /// The RECOVERY to bring home (its execution ARN or name).
        #[arg(long, value_name = "EXECUTION")]
        recovery: Option<String>,
    },
    /// The recent executions of a plan.
    History {
        plan: String,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// DRS's own recovery plans ("native plans").
    Native {
        #[command(subcommand)]
        command: NativeCommand,
    },
    /// Write the report of an execution (report.html and report.json) to a directory: a
    /// drs-waves execution, or a DRS recovery plan's (its execution ARN).
    Report {
        execution: String,
        #[arg(short = 'o', long = "out-dir")]
        out_dir: PathBuf,
        /// A DRS recovery plan's execution: its RTO target (else the plan's tag
        /// drs-waves:rto-minutes).
        #[arg(long)]
        rto_minutes: Option<u32>,
        /// A DRS recovery plan's execution: its RPO target (else the tag drs-waves:rpo-minutes).
        #[arg(long)]
        rpo_minutes: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum NativeCommand {
    /// Print the DRS recovery plan a plan file becomes (the CreateRecoveryPlan and
    /// CreateRecoveryPlanStep requests, JSON) and, on stderr, what does not carry over.
    /// Offline unless --resolve.
    Export {
        /// The plan file (YAML or JSON).
        plan: PathBuf,
        /// The account of the source servers' ARNs (with --resolve: the caller's).
        #[arg(long, env = "DRS_WAVES_ACCOUNT_ID")]
        account_id: Option<String>,
        /// The region of the source servers' ARNs.
        #[arg(long, env = "AWS_REGION")]
        region: Option<String>,
        /// Ask DRS (the default credentials and region) which servers the tag selectors find.
        #[arg(long)]
        resolve: bool,
    },
    /// Create or update the DRS recovery plan of a plan file: create missing steps, update
    /// changed ones, delete extra ones, reorder; a second push changes nothing.
    Push {
        plan: PathBuf,
        /// Print the calls, make none.
        #[arg(long)]
        dry_run: bool,
        /// The account of the source servers' ARNs (default: the caller's).
        #[arg(long, env = "DRS_WAVES_ACCOUNT_ID")]
        account_id: Option<String>,
        /// The region of the source servers' ARNs (default: the configured region).
        #[arg(long)]
        region: Option<String>,
    },
    /// Write a drs-waves plan file from a DRS recovery plan (by name or ARN).
    Pull {
        name: String,
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
    },
    /// Start an execution of a DRS recovery plan (a RECOVERY asks you to type its name).
    Start {
        name: String,
        #[arg(
            long,
            conflicts_with = "recovery",
            required_unless_present = "recovery"
        )]
        drill: bool,
        #[arg(long)]
        recovery: bool,
        /// Launch every server from its newest snapshot at or before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        point_in_time: Option<String>,
        /// The plan's name, for scripts: a RECOVERY then does not ask for it.
        #[arg(long, value_name = "PLAN")]
        confirm: Option<String>,
        /// Follow it to its end (exit status as `native follow`).
        #[arg(long)]
        follow: bool,
        /// Plain lines even on a terminal (with --follow).
        #[arg(long)]
        plain: bool,
    },
    /// Follow a native execution (by ARN): exit 0 completed, 1 failed (waiting for a retry or
    /// a skip), 3 cancelled.
    Follow {
        execution: String,
        /// Plain lines even on a terminal.
        #[arg(long)]
        plain: bool,
    },
    /// Launch the failed step of a native execution again.
    Retry { execution: String },
    /// Go on past the failed step of a native execution.
    Skip { execution: String },
    /// Cancel a native execution (DRS keeps the instances it launched).
    Cancel { execution: String },
}

/// Runs a command; returns the process's exit status.
pub async fn run(cli: Cli) -> Result<u8, CliError> {
    // Offline commands first: they need no AWS configuration.
    if let Command::Native {
        command:
            NativeCommand::Export {
                plan,
                account_id,
                region,
                resolve,
            },
    } = &cli.command
    {
        return native::run_export(native::ExportArgs {
            plan,
            account_id: account_id.clone(),
            region: region.clone(),
            resolve: *resolve,
            table: &cli.table,
            prefix: &cli.prefix,
        })
        .await;
    }
    let aws = aws::connect(&cli.table, &cli.prefix).await?;
    match cli.command {
        Command::Plans => commands::plans(&aws).await.map(|()| 0),
        Command::Start {
            plan,
            drill: _,
            recovery,
            failback,
            bring_home,
            point_in_time,
            confirm,
            name,
            follow,
            quiet,
            plain,
        } => {
            commands::start(
                &aws,
                commands::StartArgs {
                    plan,
                    recovery,
                    failback,
                    bring_home,
                    point_in_time,
                    confirm,
                    name,
                    follow,
                    quiet,
                    plain,
                },
            )
            .await
        }
        Command::Follow { execution, plain } => {
            let exec = resolve::execution(&aws, &execution).await?;
            follow::follow(&aws, exec, plain).await
        }
        Command::Approve { execution, wave } => {
            say(gate::answer(&aws, &execution, gate::Answer::Approve, wave.as_deref()).await)
        }
        Command::Stop { execution, wave } => {
            say(gate::answer(&aws, &execution, gate::Answer::Stop, wave.as_deref()).await)
        }
        Command::Decide {
            execution,
            decision,
            wave,
        } => say(gate::answer(&aws, &execution, decision.into(), wave.as_deref()).await),
        Command::Cancel { execution } => say(gate::cancel(&aws, &execution).await),
        Command::Status { plan } => commands::status(&aws, plan.as_deref()).await.map(|()| 0),
        Command::FailbackCheck { plan, recovery } => {
            failback::check(&aws, &plan, recovery.as_deref()).await
        }
        Command::History { plan, limit } => commands::history(&aws, &plan, limit).await.map(|()| 0),
        Command::Native { command } => run_native(&aws, command).await,
        Command::Report {
            execution,
            out_dir,
            rto_minutes,
            rpo_minutes,
        } if native::is_execution_arn(&execution) => {
            native::run_report(&aws, &execution, &out_dir, (rto_minutes, rpo_minutes)).await
        }
        Command::Report {
            execution, out_dir, ..
        } => commands::report(&aws, &execution, &out_dir)
            .await
            .map(|()| 0),
    }
}

async fn run_native(aws: &aws::Aws, command: NativeCommand) -> Result<u8, CliError> {
    use native::Answer;
    match command {
        // Offline: answered before any AWS configuration is read.
        NativeCommand::Export { .. } => Ok(0),
        NativeCommand::Push {
            plan,
            dry_run,
            account_id,
            region,
        } => {
            let args = native::PushArgs {
                plan: &plan,
                account_id,
                region,
                dry_run,
            };
            native::run_push(aws, args).await
        }
        NativeCommand::Pull { name, out } => native::run_pull(aws, &name, &out).await,
        NativeCommand::Start {
            name,
            drill: _,
            recovery,
            point_in_time,
            confirm,
            follow,
            plain,
        } => {
            let args = native::StartArgs {
                name,
                recovery,
                point_in_time,
                confirm,
                follow,
                plain,
            };
            native::run_start(aws, args).await
        }
        NativeCommand::Follow { execution, plain } => {
            native::run_answer(aws, &execution, None, plain).await
        }
        NativeCommand::Retry { execution } => {
            native::run_answer(aws, &execution, Some(Answer::Retry), true).await
        }
        NativeCommand::Skip { execution } => {
            native::run_answer(aws, &execution, Some(Answer::Skip), true).await
        }
        NativeCommand::Cancel { execution } => {
            native::run_answer(aws, &execution, Some(Answer::Cancel), true).await
        }
    }
}

fn say(result: Result<String, CliError>) -> Result<u8, CliError> {
    let text = result?;
    println!("{text}");
    Ok(0)
}
