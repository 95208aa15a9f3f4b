//! From what the sources say to a [`Report`]: pure, so every rule here is unit-tested. Here the
//! sources, the verdicts and the execution's facts; one wave's facts and servers in `waves`.

mod waves;

use std::collections::BTreeMap;

use drs_waves_contract::{ExecutionStatus, Mode, PlanSpec, Targets};
use time::OffsetDateTime;

pub use crate::clock::{format_time, human_seconds, parse_time, seconds_between};
use crate::model::{
    CleanupFacts, ExecutionFacts, Forecast, OperatorAction, PlanFacts, REPORT_VERSION, Report,
    ServerFacts, Verdict, VerdictKind,
};
use waves::{WaveOutcome, plan_recovered_at, wave_outcome};

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
    /// `failback.failbackJobID`: the job of its last failback launch (a FAILBACK's instances
    /// are the RECOVERY's, found by this job, not by `jobID`).
    pub failback_job_id: Option<String>,
    /// The bytes it replicated back to the source (`replicatedDisks`, summed), once failing back.
    pub replicated_back_bytes: Option<u64>,
}

/// One wave as the history holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct WaveSource {
    pub record: WaveRecord,
    pub launch_points: Vec<ServerLaunchPoint>,
    /// Its health checks (the HEALTH item), once they began.
    pub health: Option<drs_waves_history::WaveHealthRecord>,
}

/// What DRS says of an execution's jobs, instances and servers (a native run's sources; a
/// drs-waves execution's are gathered into [`Sources`] directly).
#[derive(Clone, Debug, Default)]
pub struct DrsEvidence {
    pub drs_jobs: BTreeMap<String, DrsJobFacts>,
    pub job_logs: BTreeMap<(String, String), ServerLog>,
    pub instances: BTreeMap<(String, String), InstanceFacts>,
    pub hostnames: BTreeMap<String, String>,
    pub notes: Vec<String>,
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

/// How far the execution got: whether it still runs, when it started and ended, how long it
/// has run. Every verdict is measured against it.
struct Progress {
    /// Step Functions says the execution ended (stopped, timed out) while the history may not.
    machine_ended: bool,
    running: bool,
    started: OffsetDateTime,
    ended_at: Option<String>,
    elapsed: u64,
}

impl Progress {
    fn of(e: &ExecutionRecord, machine: &MachineFacts, now: OffsetDateTime) -> Self {
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
        Self {
            machine_ended,
            running,
            started,
            ended_at,
            elapsed,
        }
    }

    /// A target against what was achieved, as of this point of the execution.
    fn verdict(
        &self,
        what: &str,
        target: Option<u64>,
        achieved: Option<u64>,
        missing: &str,
    ) -> Verdict {
        verdict(what, target, achieved, self.running, self.elapsed, missing)
    }
}

/// Builds the report.
pub fn build(sources: &Sources) -> Report {
    let e = &sources.execution;
    let machine = sources.machine.clone().unwrap_or_default();
    let progress = Progress::of(e, &machine, sources.now);
    let targets = machine.targets.clone().unwrap_or_default();

    let outcomes: Vec<WaveOutcome> = (1..=wave_count(sources, &machine))
        .map(|i| wave_outcome(sources, &machine, &targets, &progress, i))
        .collect();
    let recovered_at = plan_recovered_at(&outcomes);
    let mut waves = Vec::new();
    let mut servers = Vec::new();
    for outcome in outcomes {
        waves.push(outcome.facts);
        servers.extend(outcome.servers);
    }

    let rto_target = targets.rto_seconds.map(u64::from);
    let rto = plan_rto(&progress, rto_target, recovered_at);
    let rpo = worst_rpo(e, &servers, &targets, &progress);
    let warnings = warnings(e, &servers);
    let notes = source_notes(sources, &machine, &progress);
    Report {
        report_version: REPORT_VERSION,
        generated_at: format_time(sources.now),
        plan: PlanFacts {
            name: e.plan_name.clone(),
            rto_target_seconds: rto_target,
            rpo_target_seconds: targets.rpo_seconds.map(u64::from),
            targets_from_machine: machine.targets.is_some(),
        },
        execution: execution_facts(e, &machine, progress),
        rto,
        rpo,
        waves,
        servers,
        forecast: sources.forecast.clone(),
        operator_actions_note: operator_actions_note(e),
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

/// How many waves the report shows: the most any source knows of (the plan in the machine, the
/// execution's record, the waves the history holds).
fn wave_count(sources: &Sources, machine: &MachineFacts) -> u32 {
    let count = machine
        .plan
        .as_ref()
        .map_or(0, |p| p.waves.len())
        .max(usize::try_from(sources.execution.wave_count).unwrap_or(0))
        .max(sources.waves.len());
    u32::try_from(count).unwrap_or(0)
}

/// The plan's RTO verdict: from the execution's start to the last wave recovered.
fn plan_rto(
    progress: &Progress,
    target: Option<u64>,
    recovered_at: Option<OffsetDateTime>,
) -> Verdict {
    progress.verdict(
        "recovered in",
        target,
        recovered_at.map(|r| seconds_between(progress.started, r)),
        if progress.running {
            "not recovered"
        } else {
            "not every wave recovered"
        },
    )
}

/// The RPO verdict: the oldest recovery point of a required server, else the one the execution
/// recorded. A recovery point is what it is from the launch on: never pending.
fn worst_rpo(
    e: &ExecutionRecord,
    servers: &[ServerFacts],
    targets: &Targets,
    progress: &Progress,
) -> Verdict {
    let worst = servers
        .iter()
        .filter(|s| s.required)
        .filter_map(|s| s.snapshot_age_seconds)
        .max()
        .or(e.worst_rpo_seconds);
    verdict(
        "worst recovery point",
        targets.rpo_seconds.map(u64::from),
        worst,
        progress.running,
        0,
        "no recovery point recorded",
    )
}

/// Preflight's warnings, then each server's (optional post-launch actions that failed).
fn warnings(e: &ExecutionRecord, servers: &[ServerFacts]) -> Vec<String> {
    let mut warnings = e.warnings.clone();
    warnings.extend(servers.iter().flat_map(|s| {
        s.warnings.iter().map(|w| {
            format!(
                "wave {} {}, {}: {w}",
                s.wave_index, s.wave_name, s.source_server_id
            )
        })
    }));
    warnings
}

/// Where the facts came from, after what the reader must know first: that the execution still
/// runs, or that it ended without the history knowing yet.
fn source_notes(sources: &Sources, machine: &MachineFacts, progress: &Progress) -> Vec<String> {
    let mut notes = sources.notes.clone();
    if sources.execution.status == ExecutionStatus::Running && progress.machine_ended {
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
    if progress.running {
        notes.insert(
            0,
            "The execution is still RUNNING: this report shows what is known so far.".into(),
        );
    }
    notes
}

/// The execution's own facts: the history's record, filled in from Step Functions.
fn execution_facts(
    e: &ExecutionRecord,
    machine: &MachineFacts,
    progress: Progress,
) -> ExecutionFacts {
    ExecutionFacts {
        arn: e.execution_id.clone(),
        name: e.execution_name.clone(),
        state_machine_arn: machine.state_machine_arn.clone(),
        mode: e
            .mode
            .or_else(|| mode_of_input(machine))
            .map(|m| m.as_str().to_owned()),
        status: e.status.as_str().to_owned(),
        machine_status: machine.status.clone(),
        running: progress.running,
        started_at: e.started_at.clone(),
        ended_at: progress.ended_at,
        duration_seconds: progress.elapsed,
        input: machine.input.clone(),
        started_by: started_by(e, machine),
        started_by_note: "From the input's startedBy (the operator CLI sets it to the \
                          caller's identity); Step Functions does not record who started an \
                          execution, CloudTrail's StartExecution event does (userIdentity)."
            .into(),
        point_in_time: e.point_in_time.clone(),
        error: e.error.clone(),
        cause: e.cause.clone(),
        preempted_by: e.preempted_by.clone(),
    }
}

/// Who started the execution: the record's, else the input's `startedBy`; never an empty name.
fn started_by(e: &ExecutionRecord, machine: &MachineFacts) -> Option<String> {
    e.started_by.clone().filter(|b| !b.is_empty()).or_else(|| {
        machine
            .input
            .as_ref()
            .and_then(|i| i.get("startedBy"))
            .and_then(|b| b.as_str())
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
    })
}

/// What the operator-actions table says above its rows, or instead of them.
fn operator_actions_note(e: &ExecutionRecord) -> String {
    if e.operator_actions.is_empty() {
        "No operator actions were recorded for this execution (approvals, decisions, stops, \
         cancels)."
            .into()
    } else {
        format!(
            "{} operator action(s), as the history recorded them.",
            e.operator_actions.len()
        )
    }
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
