//! `native start`, `native follow`, and the answers to a failed step (`native retry`, `native
//! skip`, `native cancel`): a DRS recovery plan's execution run and shown as drs-waves shows
//! its own, its steps as waves.
//!
//! Follow reads the execution and its steps (GetRecoveryPlanExecution,
//! ListRecoveryPlanExecutionSteps) and the launch jobs of the steps that have them in one
//! DescribeJobs call per refresh, every [`REFRESH`], and shows them on `follow`'s own screen
//! (a line a step, as a wave; the summary at the end).
//! A FAILED execution waits for an answer (DRS resumes it on a retry or a skip): follow says
//! which commands answer it and ends with status 1, as a drs-waves decision does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use drs_waves_aws::drs::native::{
    NativeExecution, NativeExecutionStep, NativeStepConfig, RecoveryPlans, StartPlanRequest,
};
use drs_waves_aws::drs::{Drs, Job, JobFilter, LaunchStatus};
use drs_waves_contract::clock::parse_time;
use drs_waves_contract::{Mode, ServerCounts};
use time::OffsetDateTime;

use super::push::aws;
use crate::error::CliError;
use crate::follow::Screen;
use crate::view::{End, Phase, View, WaveView};

/// How often follow reads DRS.
pub const REFRESH: Duration = Duration::from_secs(2);
/// StartRecoveryPlanExecution's `sourceServers`: at most 200 servers may name a snapshot.
pub const MAX_SNAPSHOT_SERVERS: usize = 200;

/// The tag on an execution that names who started it through drs-waves.
pub const STARTED_BY_TAG: &str = "drs-waves:started-by";

/// The servers of a plan's SERVER steps, in order, each once.
pub fn servers_of_steps<'a>(configs: impl Iterator<Item = &'a NativeStepConfig>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for config in configs {
        if let NativeStepConfig::Server(servers) = config {
            for s in servers {
                let id = s.source_server_id().to_owned();
                if seen.insert(id.clone()) {
                    out.push(id);
                }
            }
        }
    }
    out
}

/// StartRecoveryPlanExecution's request: with a point in time, each server's newest snapshot
/// at or before it (`snapshots`, from DescribeRecoverySnapshots), a server with none refused.
pub fn start_request(
    plan_arn: &str,
    drill: bool,
    servers: &[String],
    snapshots: Option<&BTreeMap<String, Option<String>>>,
    started_by: &str,
) -> Result<StartPlanRequest, CliError> {
    let mut snapshot_ids = BTreeMap::new();
    if let Some(found) = snapshots {
        if servers.len() > MAX_SNAPSHOT_SERVERS {
            return Err(CliError::Usage(format!(
                "a point in time names a snapshot for each server, and DRS takes at most {MAX_SNAPSHOT_SERVERS} in one execution; the plan has {}: nothing started",
                servers.len()
            )));
        }
        let missing: Vec<&str> = (servers.iter())
            .filter(|id| found.get(*id).is_none_or(Option::is_none))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(CliError::Usage(format!(
                "no recovery snapshot at or before the point in time for {}: nothing started",
                missing.join(", ")
            )));
        }
        for id in servers {
            if let Some(Some(snapshot)) = found.get(id) {
                snapshot_ids.insert(id.clone(), snapshot.clone());
            }
        }
    }
    Ok(StartPlanRequest {
        plan_arn: plan_arn.to_owned(),
        drill,
        snapshot_ids,
        tags: BTreeMap::from([(
            STARTED_BY_TAG.to_owned(),
            started_by.chars().take(256).collect(),
        )]),
    })
}

/// A step's phase in drs-waves' words.
fn phase_of(status: &str) -> Phase {
    match status {
        "EXECUTING" => Phase::Launching,
        "WAITING" => Phase::Paused,
        "COMPLETED" => Phase::Succeeded,
        "FAILED" | "TIMED_OUT" => Phase::AwaitingDecision,
        "SKIPPED" => Phase::Skipped,
        _ => Phase::Pending,
    }
}

/// The step as a wave line's view: its servers' launches counted from their jobs.
pub fn step_view(step: &NativeExecutionStep, jobs: &BTreeMap<String, Job>) -> WaveView {
    let mut view = WaveView::new(step.index, &step.name);
    view.phase = phase_of(&step.status);
    match &step.config {
        NativeStepConfig::Wait { minutes } => view.selection = format!("WAIT {minutes} min"),
        NativeStepConfig::Server(servers) => {
            view.selection = format!("{} server(s)", servers.len());
            let mut counts = ServerCounts {
                total: u32::try_from(servers.len()).unwrap_or(u32::MAX),
                ..ServerCounts::default()
            };
            let mut job_ids = BTreeSet::new();
            for s in servers {
                let Some(job_id) = &s.job_id else { continue };
                job_ids.insert(job_id.clone());
                let status = (jobs.get(job_id))
                    .and_then(|j| {
                        j.servers
                            .iter()
                            .find(|x| x.source_server_id == s.source_server_id())
                    })
                    .map(|x| x.launch_status.clone());
                match status {
                    Some(LaunchStatus::Launched) => counts.launched += 1,
                    Some(LaunchStatus::Failed) => {
                        counts.failed += 1;
                        if s.optional {
                            counts.optional_failed += 1;
                        }
                    }
                    _ => counts.launching += 1,
                }
            }
            view.counts = counts;
            view.job_ids = job_ids.into_iter().collect();
        }
    }
    if let Some(e) = &step.error {
        view.reason = e.clone();
    }
    view
}

/// The job IDs of the steps' servers, each once.
fn job_ids(steps: &[NativeExecutionStep]) -> Vec<String> {
    let mut ids = BTreeSet::new();
    for step in steps {
        if let NativeStepConfig::Server(servers) = &step.config {
            ids.extend(servers.iter().filter_map(|s| s.job_id.clone()));
        }
    }
    ids.into_iter().collect()
}

/// What ends a follow: 0 completed, 1 failed (waiting for an answer), 3 cancelled.
pub fn exit_status(status: &str) -> Option<u8> {
    match status {
        "COMPLETED" => Some(0),
        "FAILED" => Some(1),
        "CANCELLED" => Some(3),
        _ => None,
    }
}

/// The execution as `follow` shows a drs-waves execution: its SERVER and WAIT steps as waves.
pub fn native_view(
    exec: &NativeExecution,
    plan: &str,
    steps: &[NativeExecutionStep],
    jobs: &BTreeMap<String, Job>,
) -> View {
    let started = parse_time(&exec.started_at).unwrap_or_else(OffsetDateTime::now_utc);
    let name = exec.arn.rsplit('/').next().unwrap_or(&exec.arn);
    let mut view = View::new(name, &exec.arn, plan, started, None);
    view.mode = Some(if exec.drill {
        Mode::Drill
    } else {
        Mode::Recovery
    });
    view.waves = steps.iter().map(|s| step_view(s, jobs)).collect();
    view.server_count =
        Some(u32::try_from(servers_of_steps(steps.iter().map(|s| &s.config)).len()).unwrap_or(0));
    view.state = (steps.iter())
        .find(|s| !matches!(s.status.as_str(), "COMPLETED" | "SKIPPED" | "NOT_STARTED"))
        .map(|s| format!("step {} {}: {}", s.index, s.name, s.status));
    if let Some(code) = exit_status(&exec.status) {
        let skipped = steps.iter().any(|s| s.status == "SKIPPED");
        view.ended = true;
        view.end = Some(End {
            status: match code {
                0 => "SUCCEEDED",
                1 => "FAILED",
                _ => "ABORTED",
            }
            .to_owned(),
            error: exec.error.clone(),
            cause: None,
            at: exec.completed_at.as_deref().and_then(parse_time),
            outcome: skipped.then(|| "SUCCEEDED_WITH_FAILURES".to_owned()),
        });
    }
    view
}

/// Follows the execution to its end on `follow`'s screen (plain lines, or the live screen on
/// a terminal).
pub async fn follow(
    plans: &impl RecoveryPlans,
    drs: &impl Drs,
    execution_arn: &str,
    plain: bool,
) -> Result<u8, CliError> {
    let first = (plans.get_recovery_plan_execution(execution_arn).await).map_err(aws)?;
    let plan = (plans.get_recovery_plan(&first.plan_arn).await)
        .map_or_else(|_| first.plan_arn.clone(), |p| p.name);
    let mut screen: Option<Box<dyn Screen>> = None;
    loop {
        let exec = (plans.get_recovery_plan_execution(execution_arn).await).map_err(aws)?;
        let steps = (plans
            .list_recovery_plan_execution_steps(execution_arn)
            .await)
            .map_err(aws)?;
        let ids = job_ids(&steps);
        let jobs: BTreeMap<String, Job> = if ids.is_empty() {
            BTreeMap::new()
        } else {
            let filter = JobFilter {
                job_ids: ids,
                from_date: None,
            };
            (drs.describe_jobs(filter).await.map_err(aws)?)
                .into_iter()
                .map(|j| (j.id.clone(), j))
                .collect()
        };
        let view = native_view(&exec, &plan, &steps, &jobs);
        let out = screen.get_or_insert_with(|| crate::follow::screen(plain, view.waves.len()));
        out.draw(&view, OffsetDateTime::now_utc());
        if let Some(code) = exit_status(&exec.status) {
            out.finish(&view);
            if code == 1 {
                println!("{}", failed_hint(&exec, &steps));
            }
            return Ok(code);
        }
        tokio::time::sleep(REFRESH).await;
    }
}

/// The commands that answer a failed execution.
fn failed_hint(exec: &NativeExecution, steps: &[NativeExecutionStep]) -> String {
    let failed: Vec<&str> = (steps.iter())
        .filter(|s| matches!(s.status.as_str(), "FAILED" | "TIMED_OUT"))
        .map(|s| s.name.as_str())
        .collect();
    let arn = &exec.arn;
    format!(
        "step(s) {} failed: `drs-waves native retry {arn}` launches the step again, `drs-waves native skip {arn}` goes on without it, `drs-waves native cancel {arn}` ends the execution",
        failed.join(", ")
    )
}

/// The execution's step that waits for an answer (FAILED or TIMED_OUT).
pub async fn failed_step(
    plans: &impl RecoveryPlans,
    execution_arn: &str,
) -> Result<NativeExecutionStep, CliError> {
    let steps = plans
        .list_recovery_plan_execution_steps(execution_arn)
        .await
        .map_err(aws)?;
    steps
        .into_iter()
        .find(|s| matches!(s.status.as_str(), "FAILED" | "TIMED_OUT"))
        .ok_or_else(|| {
            CliError::NotWaiting(format!(
                "{execution_arn} has no FAILED or TIMED_OUT step to retry or skip"
            ))
        })
}
