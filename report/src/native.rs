//! The report of a DRS recovery plan's execution ("native" run): the same [`Report`], HTML,
//! JSON and schema as a drs-waves execution's, built by the same [`build`](crate::build).
//!
//! A native run has no history table: its facts are DRS's own. Each SERVER step is a wave
//! (numbered 1.. in step order; WAIT steps are not waves), its launch jobs the step's jobs
//! (ListRecoveryPlanExecutionSteps names each server's job; a retried step's earlier jobs are
//! gone from it, so the report shows each server's last attempt), each server's launch status
//! from DescribeJobs, its start and failure from the job's log, its instance and the snapshot it
//! launched from from DescribeRecoveryInstances (`pointInTimeSnapshotDateTime`: the recovery
//! point, against the job's start). Targets are not DRS's: they come from the command line or
//! the plan's tags ([`RTO_TAG`], [`RPO_TAG`]).

use std::collections::BTreeMap;

use drs_waves_aws::drs::native::{
    NativeExecution, NativeExecutionStep, NativePlan, NativeStepConfig,
};
use drs_waves_aws::drs::{Job, LaunchStatus};
use drs_waves_contract::{ExecutionStatus, Mode, ServerCounts, Targets, WaveStatus};
use drs_waves_history::{
    ExecutionRecord, JobRecord, ServerLaunchPoint, ServerRecord, WaveChunk, WaveRecord,
};
use time::OffsetDateTime;

use crate::build::{MachineFacts, Sources, WaveSource, parse_time, seconds_between};
use crate::gather::{EvidenceApis, drs_job_facts, instances_of};
use crate::model::Report;

/// A plan tag holding the RTO target in minutes (`drs-waves:rto-minutes`).
pub const RTO_TAG: &str = "drs-waves:rto-minutes";
/// A plan tag holding the RPO target in minutes.
pub const RPO_TAG: &str = "drs-waves:rpo-minutes";

/// What DRS says of one native execution.
#[derive(Clone, Debug)]
pub struct NativeRun {
    pub plan: NativePlan,
    pub execution: NativeExecution,
    pub steps: Vec<NativeExecutionStep>,
    /// DescribeJobs of the steps' jobs, with their servers.
    pub jobs: Vec<Job>,
}

/// The targets: given ones first, else the plan's tags; and where they came from.
pub fn targets_of(
    plan: &NativePlan,
    rto_minutes: Option<u32>,
    rpo_minutes: Option<u32>,
) -> (Targets, String) {
    let tag = |k: &str| plan.tags.get(k).and_then(|v| v.trim().parse::<u32>().ok());
    let rto = rto_minutes.or_else(|| tag(RTO_TAG));
    let rpo = rpo_minutes.or_else(|| tag(RPO_TAG));
    let note = format!(
        "Targets: RTO {}, RPO {} (from --rto-minutes/--rpo-minutes, else the plan's tags {RTO_TAG} and {RPO_TAG}; a DRS recovery plan has no targets of its own).",
        rto.map_or_else(|| "none".to_owned(), |m| format!("{m} min")),
        rpo.map_or_else(|| "none".to_owned(), |m| format!("{m} min")),
    );
    let targets = Targets {
        rto_seconds: rto.map(|m| m.saturating_mul(60)),
        rpo_seconds: rpo.map(|m| m.saturating_mul(60)),
        waves: Vec::new(),
    };
    (targets, note)
}

/// The execution's status in the history's words.
fn execution_status(run: &NativeRun) -> ExecutionStatus {
    let skipped = run.steps.iter().any(|s| s.status == "SKIPPED");
    match run.execution.status.as_str() {
        "COMPLETED" if skipped => ExecutionStatus::SucceededWithFailures,
        "COMPLETED" => ExecutionStatus::Succeeded,
        "FAILED" => ExecutionStatus::Failed,
        "CANCELLED" => ExecutionStatus::Aborted,
        _ => ExecutionStatus::Running,
    }
}

fn wave_status(step: &str) -> WaveStatus {
    match step {
        "COMPLETED" => WaveStatus::Succeeded,
        "FAILED" | "TIMED_OUT" => WaveStatus::Failed,
        "SKIPPED" => WaveStatus::Skipped,
        _ => WaveStatus::Launching,
    }
}

/// The SERVER steps that started (have jobs), numbered as waves.
fn server_steps(run: &NativeRun) -> Vec<(u32, &NativeExecutionStep)> {
    (run.steps.iter())
        .filter(|s| matches!(s.config, NativeStepConfig::Server(_)))
        .zip(1u32..)
        .map(|(s, i)| (i, s))
        .collect()
}

/// One SERVER step as the history would hold its wave: None for a step not started.
fn step_wave(
    run: &NativeRun,
    evidence: &crate::build::DrsEvidence,
    jobs: &BTreeMap<&str, &Job>,
    (index, step): (u32, &NativeExecutionStep),
) -> Option<(WaveSource, Vec<JobRecord>)> {
    let e = &run.execution;
    let NativeStepConfig::Server(servers) = &step.config else {
        return None;
    };
    let job_ids: Vec<String> = (servers.iter())
        .filter_map(|s| s.job_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if job_ids.is_empty() && step.status == "NOT_STARTED" {
        return None;
    }
    let mut counts = ServerCounts {
        total: u32::try_from(servers.len()).unwrap_or(0),
        ..ServerCounts::default()
    };
    let mut points = Vec::new();
    for s in servers {
        let id = s.source_server_id();
        let job = s.job_id.as_deref().and_then(|j| jobs.get(j));
        let status = (job.and_then(|j| j.servers.iter().find(|x| x.source_server_id == id)))
            .map_or(LaunchStatus::Pending, |x| x.launch_status.clone());
        match status {
            LaunchStatus::Launched => counts.launched += 1,
            LaunchStatus::Failed => {
                counts.failed += 1;
                counts.optional_failed += u32::from(s.optional);
            }
            _ => counts.launching += 1,
        }
        points.push(launch_point(
            run,
            evidence,
            s.job_id.as_deref(),
            id,
            !s.optional,
        ));
    }
    let records = (job_ids.iter())
        .filter_map(|j| jobs.get(j.as_str()))
        .map(|job| job_record(e, index, job, servers))
        .collect();
    let started_at = (job_ids.iter())
        .filter_map(|j| jobs.get(j.as_str())?.created_at.as_deref())
        .filter_map(parse_time)
        .min()
        .map_or_else(|| e.started_at.clone(), crate::build::format_time);
    let status = wave_status(&step.status);
    let ended_at = (status != WaveStatus::Launching)
        .then(|| {
            (job_ids.iter())
                .filter_map(|j| jobs.get(j.as_str())?.ended_at.clone())
                .max()
        })
        .flatten();
    let chunk = WaveChunk {
        number: 1,
        servers: (servers.iter())
            .map(|s| s.source_server_id().to_owned())
            .collect(),
        job_id: job_ids.first().cloned(),
        attempt: step.attempt.unwrap_or(1),
        planned_at: None,
    };
    let record = WaveRecord {
        execution_id: e.arn.clone(),
        index,
        name: step.name.clone(),
        status,
        job_ids,
        started_at,
        ended_at,
        checks: 0,
        servers: counts,
        reason: step.error.clone().unwrap_or_default(),
        chunks: vec![chunk],
        learned: None,
        completion_ms: None,
        account: None,
    };
    let wave = WaveSource {
        record,
        launch_points: points,
        health: None,
    };
    Some((wave, records))
}

/// The report's sources from DRS's facts, pure (the DRS reads are [`report_of_native`]'s).
pub fn sources(
    run: &NativeRun,
    targets: Targets,
    evidence: crate::build::DrsEvidence,
    now: OffsetDateTime,
) -> Sources {
    let e = &run.execution;
    let steps = server_steps(run);
    let jobs: BTreeMap<&str, &Job> = run.jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut waves = Vec::new();
    let mut job_records = Vec::new();
    for (index, step) in &steps {
        if let Some((wave, records)) = step_wave(run, &evidence, &jobs, (*index, step)) {
            waves.push(wave);
            job_records.extend(records);
        }
    }
    let server_count = (steps.iter())
        .map(|(_, s)| match &s.config {
            NativeStepConfig::Server(servers) => u32::try_from(servers.len()).unwrap_or(0),
            NativeStepConfig::Wait { .. } => 0,
        })
        .sum();
    let record = ExecutionRecord {
        mode: Some(if e.drill { Mode::Drill } else { Mode::Recovery }),
        ended_at: e.completed_at.clone(),
        error: e.error.clone(),
        wave_count: u32::try_from(steps.len()).unwrap_or(0),
        server_count,
        ..ExecutionRecord::new(
            e.arn.clone(),
            e.arn.rsplit('/').next().unwrap_or(&e.arn),
            run.plan.name.clone(),
            execution_status(run),
            e.started_at.clone(),
        )
    };
    let machine = MachineFacts {
        status: Some(e.status.clone()),
        state_machine_arn: Some(run.plan.arn.clone()),
        input: None,
        stopped_at: None,
        plan: None,
        targets: Some(targets),
    };
    Sources {
        now,
        execution: record,
        waves,
        jobs: job_records,
        machine: Some(machine),
        drs_jobs: evidence.drs_jobs,
        job_logs: evidence.job_logs,
        instances: evidence.instances,
        hostnames: evidence.hostnames,
        forecast: None,
        notes: evidence.notes,
    }
}

/// A server's recovery point: the snapshot its instance launched from, against its job's start.
fn launch_point(
    run: &NativeRun,
    evidence: &crate::build::DrsEvidence,
    job_id: Option<&str>,
    id: &str,
    required: bool,
) -> ServerLaunchPoint {
    let instance = job_id.and_then(|j| evidence.instances.get(&(j.to_owned(), id.to_owned())));
    let taken = instance.and_then(|i| i.point_in_time.clone());
    let job_start = (job_id.and_then(|j| run.jobs.iter().find(|x| x.id == j)))
        .and_then(|j| j.created_at.as_deref())
        .and_then(parse_time);
    let rpo = taken
        .as_deref()
        .and_then(parse_time)
        .zip(job_start)
        .map(|(t, s)| seconds_between(t, s));
    ServerLaunchPoint {
        server_id: id.to_owned(),
        required,
        // DescribeRecoveryInstances names the snapshot's time, not its ID.
        snapshot_id: None,
        snapshot_taken_at: taken,
        rpo_seconds: rpo,
        replication: String::new(),
    }
}

fn job_record(
    e: &NativeExecution,
    index: u32,
    job: &Job,
    servers: &[drs_waves_aws::drs::native::NativeServer],
) -> JobRecord {
    let optional: BTreeMap<&str, bool> = (servers.iter())
        .map(|s| (s.source_server_id(), s.optional))
        .collect();
    JobRecord {
        execution_id: e.arn.clone(),
        wave_index: index,
        job_id: job.id.clone(),
        job_status: job.status.clone(),
        servers: (job.servers.iter())
            .map(|s| {
                let record = ServerRecord {
                    launch_status: s.launch_status.clone(),
                    recovery_instance_id: s.recovery_instance_id.clone(),
                    required: !optional
                        .get(s.source_server_id.as_str())
                        .copied()
                        .unwrap_or(false),
                    failure_reason: None,
                    action_warnings: Vec::new(),
                };
                (s.source_server_id.clone(), record)
            })
            .collect(),
        updated_at: job
            .ended_at
            .clone()
            .or(job.created_at.clone())
            .unwrap_or_default(),
    }
}

/// Reads what DRS says of the run's jobs, instances and servers, and builds the report.
pub async fn report_of_native(
    run: &NativeRun,
    targets: (Targets, String),
    apis: &dyn EvidenceApis,
    now: OffsetDateTime,
) -> Report {
    let mut notes = vec![
        format!(
            "DRS recovery plan {} ({}), execution {}: GetRecoveryPlanExecution and ListRecoveryPlanExecutionSteps (each SERVER step is a wave; WAIT steps are not shown).",
            run.plan.name, run.plan.arn, run.execution.arn
        ),
        targets.1,
    ];
    let job_ids: Vec<String> = run.jobs.iter().map(|j| j.id.clone()).collect();
    let (drs_jobs, job_logs) = drs_job_facts(apis, &job_ids, &mut notes).await;
    let mode = Some(if run.execution.drill {
        Mode::Drill
    } else {
        Mode::Recovery
    });
    let records: Vec<JobRecord> = (run.jobs.iter())
        .map(|j| job_record(&run.execution, 0, j, &[]))
        .collect();
    let instances = instances_of(apis, &[], &records, &job_ids, mode, &mut notes).await;
    let hostnames = apis.hostnames().await.unwrap_or_else(|e| {
        notes.push(format!(
            "DRS DescribeSourceServers failed ({e}): no hostnames."
        ));
        BTreeMap::new()
    });
    notes.push(
        "Not in a native run: approval gates, decisions, actions, health checks, drill clean-up (DRS does not terminate the instances a recovery plan launches), forecast."
            .into(),
    );
    let evidence = crate::build::DrsEvidence {
        drs_jobs,
        job_logs,
        instances,
        hostnames,
        notes,
    };
    crate::build::build(&sources(run, targets.0, evidence, now))
}
