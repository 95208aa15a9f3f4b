//! From what the sources say to a [`Report`]: pure, so every rule here is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{ExecutionStatus, Mode, PlanSpec, Targets, WaveStatus};
use time::OffsetDateTime;

pub use crate::clock::{format_time, human_seconds, parse_time, seconds_between};
use crate::model::{
    CleanupFacts, ExecutionFacts, Forecast, OperatorAction, PlanFacts, REPORT_VERSION, Report,
    ServerFacts, Verdict, VerdictKind, WaveFacts,
};

// The history's records, read as the history holds them: one definition, no copy to drift.
pub use drs_waves_history::{
    ExecutionRecord, JobRecord, ServerLaunchPoint, ServerRecord, WaveChunk, WaveRecord,
};

/// What Step Functions says of the execution (DescribeExecution and the definition of the
/// machine that ran, DescribeStateMachineForExecution).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MachineFacts {
    pub status: Option<String>,
    pub state_machine_arn: Option<String>,
    pub input: Option<serde_json::Value>,
    pub stopped_at: Option<String>,
    /// The plan compiled into the machine (the preflight state's `plan`).
    pub plan: Option<PlanSpec>,
    /// The targets compiled into the machine; None when its definition could not be read.
    pub targets: Option<Targets>,
}

/// The mode the execution was started with, from its input, for an execution whose record has
/// none (one that failed before preflight recorded it). Only a mode the contract knows counts.
fn mode_of_input(machine: &MachineFacts) -> Option<Mode> {
    let mode = machine.input.as_ref()?.get("mode")?.clone();
    serde_json::from_value(mode).ok()
}

/// What DRS says of one job (DescribeJobs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrsJobFacts {
    pub status: String,
    pub created_at: Option<String>,
    pub ended_at: Option<String>,
}

/// One server's events in a job's log (DescribeJobLogItems).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerLog {
    pub first_event_at: Option<String>,
    pub failed_at: Option<String>,
    pub failure: Option<String>,
}

/// A recovery instance (DescribeRecoveryInstances).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceFacts {
    pub recovery_instance_id: String,
    pub ec2_instance_id: Option<String>,
    pub source_server_id: String,
    /// The launch job that created it (`jobID`).
    pub job_id: Option<String>,
    /// `isDrill`.
    pub is_drill: Option<bool>,
    /// `pointInTimeSnapshotDateTime`: the snapshot it launched from.
    pub point_in_time: Option<String>,
}

/// One wave as the history holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct WaveSource {
    pub record: WaveRecord,
    pub launch_points: Vec<ServerLaunchPoint>,
}

/// Everything a report is made of.
#[derive(Clone, Debug)]
pub struct Sources {
    pub now: OffsetDateTime,
    pub execution: ExecutionRecord,
    pub waves: Vec<WaveSource>,
    pub jobs: Vec<JobRecord>,
    pub machine: Option<MachineFacts>,
    pub drs_jobs: BTreeMap<String, DrsJobFacts>,
    /// By (job ID, source server ID).
    pub job_logs: BTreeMap<(String, String), ServerLog>,
    /// This execution's instances only, by (launch job ID, source server ID): an instance of
    /// the same server made by another execution, or by another job, is not this launch's.
    pub instances: BTreeMap<(String, String), InstanceFacts>,
    pub hostnames: BTreeMap<String, String>,
    /// The RTO forecast from the plan's past executions; None when they could not be read.
    pub forecast: Option<Forecast>,
    /// Where each fact came from, and what a source could not tell.
    pub notes: Vec<String>,
}

/// A target against what was achieved. `elapsed` is how long the execution has run: while it
/// runs, a target not yet passed is PENDING rather than failed.
pub fn verdict(
    what: &str,
    target: Option<u64>,
    achieved: Option<u64>,
    running: bool,
    elapsed: u64,
    missing: &str,
) -> Verdict {
    let (kind, note) = match (target, achieved) {
        (None, Some(a)) => (
            VerdictKind::NoTarget,
            format!("{what} {}; the plan sets no target", human_seconds(a)),
        ),
        (None, None) => (
            VerdictKind::NoTarget,
            format!("{missing}; the plan sets no target"),
        ),
        (Some(t), Some(a)) if a <= t => (
            VerdictKind::Pass,
            format!(
                "{what} {} within the target of {}",
                human_seconds(a),
                human_seconds(t)
            ),
        ),
        (Some(t), Some(a)) => (
            VerdictKind::Fail,
            format!(
                "{what} {}, over the target of {} by {}",
                human_seconds(a),
                human_seconds(t),
                human_seconds(a - t)
            ),
        ),
        (Some(t), None) if running && elapsed <= t => (
            VerdictKind::Pending,
            format!(
                "{missing} yet: still running, {} of the target of {} left",
                human_seconds(t - elapsed),
                human_seconds(t)
            ),
        ),
        (Some(t), None) => (
            VerdictKind::Fail,
            format!("{missing}: the target of {} was not met", human_seconds(t)),
        ),
    };
    Verdict {
        target_seconds: target,
        achieved_seconds: achieved,
        verdict: kind,
        note,
    }
}

/// Builds the report.
pub fn build(sources: &Sources) -> Report {
    let e = &sources.execution;
    let now = sources.now;
    let machine = sources.machine.clone().unwrap_or_default();
    // The history says RUNNING until the machine's last task (or the janitor) records the end;
    // Step Functions knows first when an execution was stopped or timed out.
    let machine_ended = machine.status.as_deref().is_some_and(|s| s != "RUNNING");
    let running = e.status == ExecutionStatus::Running && !machine_ended;
    let started = parse_time(&e.started_at).unwrap_or(now);
    let ended_at = e
        .ended_at
        .clone()
        .or_else(|| machine_ended.then(|| machine.stopped_at.clone()).flatten());
    let ended = ended_at.as_deref().and_then(parse_time);
    let elapsed = seconds_between(started, ended.unwrap_or(now));
    let targets = machine.targets.clone().unwrap_or_default();

    let wave_count = machine
        .plan
        .as_ref()
        .map_or(0, |p| p.waves.len())
        .max(usize::try_from(e.wave_count).unwrap_or(0))
        .max(sources.waves.len());
    let mut waves = Vec::new();
    let mut servers = Vec::new();
    let mut all_recovered = wave_count > 0;
    let mut last_recovered: Option<OffsetDateTime> = None;
    for i in 1..=u32::try_from(wave_count).unwrap_or(0) {
        let source = sources.waves.iter().find(|w| w.record.index == i);
        let spec = machine
            .plan
            .as_ref()
            .and_then(|p| p.waves.iter().find(|w| w.index == i));
        let name = source
            .map(|w| w.record.name.clone())
            .or_else(|| spec.map(|s| s.name.clone()))
            .unwrap_or_else(|| format!("wave {i}"));
        let target = targets.wave_rto_seconds(i).map(u64::from);
        let Some(source) = source else {
            all_recovered = false;
            waves.push(WaveFacts {
                index: i,
                name,
                status: "NOT_STARTED".into(),
                started_at: None,
                ended_at: None,
                recovered_at: None,
                duration_seconds: None,
                rto: verdict(
                    "recovered in",
                    target,
                    None,
                    running,
                    elapsed,
                    "not started",
                ),
                job_ids: Vec::new(),
                servers: 0,
                launched: 0,
                failed: 0,
                checks: 0,
                reason: None,
            });
            continue;
        };
        let w = &source.record;
        let recovered = (w.status == WaveStatus::Succeeded).then(|| {
            w.job_ids
                .iter()
                .filter_map(|j| sources.drs_jobs.get(j)?.ended_at.as_deref())
                .filter_map(parse_time)
                .max()
                .or_else(|| w.ended_at.as_deref().and_then(parse_time))
        });
        let recovered = recovered.flatten();
        if let Some(r) = recovered {
            last_recovered = Some(last_recovered.map_or(r, |l| l.max(r)));
        } else {
            all_recovered = false;
        }
        let wave_started = parse_time(&w.started_at);
        let wave_end = recovered.or_else(|| w.ended_at.as_deref().and_then(parse_time));
        let missing = match w.status {
            WaveStatus::Launching => "not recovered",
            _ => "the wave failed",
        };
        waves.push(WaveFacts {
            index: i,
            name: name.clone(),
            status: w.status.as_str().to_owned(),
            started_at: Some(w.started_at.clone()),
            ended_at: w.ended_at.clone(),
            recovered_at: recovered.map(format_time),
            duration_seconds: wave_started
                .zip(wave_end)
                .map(|(s, e)| seconds_between(s, e)),
            rto: verdict(
                "recovered in",
                target,
                recovered.map(|r| seconds_between(started, r)),
                running,
                elapsed,
                missing,
            ),
            job_ids: w.job_ids.clone(),
            servers: w.servers.total,
            launched: w.servers.launched,
            failed: w.servers.failed,
            checks: w.checks,
            reason: Some(w.reason.clone()).filter(|r| !r.is_empty()),
        });
        servers.extend(wave_servers(sources, source, &name));
    }

    let rto_target = targets.rto_seconds.map(u64::from);
    let rto = verdict(
        "recovered in",
        rto_target,
        all_recovered
            .then_some(last_recovered)
            .flatten()
            .map(|r| seconds_between(started, r)),
        running,
        elapsed,
        if running {
            "not recovered"
        } else {
            "not every wave recovered"
        },
    );
    let worst_rpo = servers
        .iter()
        .filter(|s| s.required)
        .filter_map(|s| s.snapshot_age_seconds)
        .max()
        .or(e.worst_rpo_seconds);
    let rpo = verdict(
        "worst recovery point",
        targets.rpo_seconds.map(u64::from),
        worst_rpo,
        running,
        0,
        "no recovery point recorded",
    );

    // Preflight's warnings, then each server's (optional post-launch actions that failed).
    let mut warnings = e.warnings.clone();
    warnings.extend(servers.iter().flat_map(|s| {
        s.warnings.iter().map(|w| {
            format!(
                "wave {} {}, {}: {w}",
                s.wave_index, s.wave_name, s.source_server_id
            )
        })
    }));
    let mut notes = sources.notes.clone();
    if e.status == ExecutionStatus::Running && machine_ended {
        notes.insert(
            0,
            format!(
                "Step Functions reports this execution {}, but the history still says RUNNING: it \
                 ended outside the machine (StopExecution, a timeout), and the worker's janitor \
                 has not recorded it yet.",
                machine.status.as_deref().unwrap_or_default()
            ),
        );
    }
    if running {
        notes.insert(
            0,
            "The execution is still RUNNING: this report shows what is known so far.".into(),
        );
    }
    Report {
        report_version: REPORT_VERSION,
        generated_at: format_time(now),
        plan: PlanFacts {
            name: e.plan_name.clone(),
            rto_target_seconds: rto_target,
            rpo_target_seconds: targets.rpo_seconds.map(u64::from),
            targets_from_machine: machine.targets.is_some(),
        },
        execution: ExecutionFacts {
            arn: e.execution_id.clone(),
            name: e.execution_name.clone(),
            state_machine_arn: machine.state_machine_arn.clone(),
            mode: e
                .mode
                .or_else(|| mode_of_input(&machine))
                .map(|m| m.as_str().to_owned()),
            status: e.status.as_str().to_owned(),
            machine_status: machine.status.clone(),
            running,
            started_at: e.started_at.clone(),
            ended_at,
            duration_seconds: elapsed,
            input: machine.input.clone(),
            started_by: e.started_by.clone().filter(|b| !b.is_empty()).or_else(|| {
                machine
                    .input
                    .as_ref()
                    .and_then(|i| i.get("startedBy"))
                    .and_then(|b| b.as_str())
                    .filter(|b| !b.is_empty())
                    .map(str::to_owned)
            }),
            started_by_note: "From the input's startedBy (the operator CLI sets it to the \
                              caller's identity); Step Functions does not record who started an \
                              execution, CloudTrail's StartExecution event does (userIdentity)."
                .into(),
            point_in_time: e.point_in_time.clone(),
            error: e.error.clone(),
            cause: e.cause.clone(),
            preempted_by: e.preempted_by.clone(),
        },
        rto,
        rpo,
        waves,
        servers,
        forecast: sources.forecast.clone(),
        operator_actions_note: if e.operator_actions.is_empty() {
            "No operator actions were recorded for this execution (approvals, decisions, stops, \
             cancels)."
                .into()
        } else {
            format!(
                "{} operator action(s), as the history recorded them.",
                e.operator_actions.len()
            )
        },
        operator_actions: e.operator_actions.iter().map(operator_action).collect(),
        cleanup: CleanupFacts {
            status: e.cleanup.map(|c| c.as_str().to_owned()),
            error: e.cleanup_error.clone(),
            terminate_drill_instances: e.terminate_drill_instances,
            terminate_job_ids: e.terminate_job_ids.clone(),
            terminated_instances: e.terminating_instances.clone(),
        },
        warnings,
        sources: notes,
    }
}

/// One line per server of a wave: the servers its jobs list, then planned ones with no job yet.
fn wave_servers(sources: &Sources, wave: &WaveSource, wave_name: &str) -> Vec<ServerFacts> {
    let w = &wave.record;
    let points: BTreeMap<&str, &ServerLaunchPoint> = wave
        .launch_points
        .iter()
        .map(|p| (p.server_id.as_str(), p))
        .collect();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    // The latest launch of each server first (an operator's retry launches a server again, in a
    // later job): the wave's job IDs are in launch order, the history's JOB items by ID.
    let mut jobs: Vec<&JobRecord> = sources
        .jobs
        .iter()
        .filter(|j| j.wave_index == w.index)
        .collect();
    let launched = |j: &JobRecord| w.job_ids.iter().position(|id| *id == j.job_id);
    jobs.sort_by_key(|j| std::cmp::Reverse(launched(j)));
    for job in jobs {
        let drs = sources.drs_jobs.get(&job.job_id);
        for (id, s) in &job.servers {
            if !seen.insert(id.clone()) {
                continue;
            }
            let log = sources
                .job_logs
                .get(&(job.job_id.clone(), id.clone()))
                .cloned()
                .unwrap_or_default();
            let status = s.launch_status.as_str().to_owned();
            let ended = match status.as_str() {
                "FAILED" => log
                    .failed_at
                    .clone()
                    .or_else(|| drs.and_then(|d| d.ended_at.clone())),
                "LAUNCHED" | "TERMINATED" => drs.and_then(|d| d.ended_at.clone()),
                _ => None,
            };
            let point = points.get(id.as_str());
            let instance = sources.instances.get(&(job.job_id.clone(), id.clone()));
            out.push(ServerFacts {
                wave_index: w.index,
                wave_name: wave_name.to_owned(),
                source_server_id: id.clone(),
                hostname: hostname(sources, id),
                required: s.required,
                job_id: Some(job.job_id.clone()),
                snapshot_id: point.and_then(|p| p.snapshot_id.clone()),
                // The history's launch point; for a launch from an on-demand snapshot whose
                // time was not read back yet, the instance's own.
                snapshot_taken_at: point
                    .and_then(|p| p.snapshot_taken_at.clone())
                    .or_else(|| instance.and_then(|i| i.point_in_time.clone())),
                snapshot_age_seconds: point.and_then(|p| p.rpo_seconds),
                recovery_instance_id: s
                    .recovery_instance_id
                    .clone()
                    .or_else(|| instance.map(|i| i.recovery_instance_id.clone())),
                ec2_instance_id: instance.and_then(|i| i.ec2_instance_id.clone()),
                launch_status: status,
                launch_started_at: log
                    .first_event_at
                    .clone()
                    .or_else(|| drs.and_then(|d| d.created_at.clone())),
                launch_ended_at: ended,
                failure_reason: s.failure_reason.clone().or(log.failure),
                warnings: s.action_warnings.clone(),
            });
        }
    }
    let planned = w
        .planned_servers()
        .into_iter()
        .chain(wave.launch_points.iter().map(|p| p.server_id.clone()));
    for id in planned {
        if !seen.insert(id.clone()) {
            continue;
        }
        let point = points.get(id.as_str());
        out.push(ServerFacts {
            wave_index: w.index,
            wave_name: wave_name.to_owned(),
            hostname: hostname(sources, &id),
            required: point.is_none_or(|p| p.required),
            job_id: None,
            snapshot_id: point.and_then(|p| p.snapshot_id.clone()),
            snapshot_taken_at: point.and_then(|p| p.snapshot_taken_at.clone()),
            snapshot_age_seconds: point.and_then(|p| p.rpo_seconds),
            recovery_instance_id: None,
            ec2_instance_id: None,
            launch_status: "PENDING".into(),
            launch_started_at: None,
            launch_ended_at: None,
            failure_reason: None,
            warnings: Vec::new(),
            source_server_id: id,
        });
    }
    out
}

/// An operator action as the report shows it.
fn operator_action(a: &drs_waves_contract::OperatorAction) -> OperatorAction {
    OperatorAction {
        at: a.at.clone(),
        by: a.by.clone(),
        action: a.action.as_str().to_owned(),
        wave_index: a.wave_index,
        wave_name: a.wave_name.clone(),
    }
}

/// A hostname that says more than the server's ID.
fn hostname(sources: &Sources, id: &str) -> Option<String> {
    sources.hostnames.get(id).filter(|h| *h != id).cloned()
}
