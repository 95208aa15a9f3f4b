//! The history's records: what each item of the table holds, as Rust values, with the small
//! methods that read them (a wave's planned servers, its current attempt). How they are stored
//! is in the codec and [`crate::DynamoHistory`]; the operations over them in [`crate::roles`].

use std::collections::BTreeMap;

use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::timing::LearnedTiming;
use drs_waves_contract::{
    CleanupStatus, ExecutionStatus, Mode, OperatorAction, PendingGate, ServerCounts, WaveStatus,
};

/// The EXECUTION item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRecord {
    pub execution_id: String,
    pub execution_name: String,
    pub plan_name: String,
    /// None when the execution failed before its input was understood.
    pub mode: Option<Mode>,
    pub status: ExecutionStatus,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub wave_count: u32,
    pub server_count: u32,
    pub wave_statuses: BTreeMap<String, WaveStatus>,
    /// TERMINATE jobs of the drill's clean-up, each recorded as it was sent.
    pub terminate_job_ids: Vec<String>,
    /// The recovery instances those jobs terminate (a retried clean-up skips them).
    pub terminating_instances: Vec<String>,
    /// Where the clean-up stands (None before the end of the execution).
    pub cleanup: Option<CleanupStatus>,
    /// Why the clean-up is PENDING.
    pub cleanup_error: Option<String>,
    /// Whether the plan terminates a drill's instances at the end (the janitor cleans up after
    /// a drill that was stopped by following it).
    pub terminate_drill_instances: bool,
    /// The input's point in time, if any.
    pub point_in_time: Option<String>,
    /// The oldest snapshot a required server launches from, in seconds, at preflight.
    pub worst_rpo_seconds: Option<u64>,
    /// What preflight warned of (at most [`MAX_WARNINGS_RECORDED`]).
    pub warnings: Vec<String>,
    /// The RECOVERY that preempted this drill.
    pub preempted_by: Option<String>,
    /// Who started the execution (the input's `startedBy`, filled in by the operator CLI).
    pub started_by: Option<String>,
    /// The gates the execution waits at, until an operator answers each: at most one per wave
    /// and kind ([`PendingGate::key`]), in wave order, an approval before a decision. Waves that
    /// run side by side can wait at several at once.
    pub pending_gates: Vec<PendingGate>,
    /// An operator's cancel, seen by the execution's next task.
    pub cancel_requested: Option<OperatorAction>,
    /// Every operator action, oldest first.
    pub operator_actions: Vec<OperatorAction>,
}

impl ExecutionRecord {
    /// A record with nothing yet but its identity, status and start: no mode, no counts, no
    /// waves, clean-up, warnings, gate or operator actions. Callers set what they know with
    /// struct update syntax (`ExecutionRecord { mode, ..ExecutionRecord::new(..) }`), so that a
    /// new field is one line here, not one in every place that makes a record.
    pub fn new(
        execution_id: impl Into<String>,
        execution_name: impl Into<String>,
        plan_name: impl Into<String>,
        status: ExecutionStatus,
        started_at: impl Into<String>,
    ) -> Self {
        ExecutionRecord {
            execution_id: execution_id.into(),
            execution_name: execution_name.into(),
            plan_name: plan_name.into(),
            mode: None,
            status,
            started_at: started_at.into(),
            ended_at: None,
            error: None,
            cause: None,
            wave_count: 0,
            server_count: 0,
            wave_statuses: BTreeMap::new(),
            terminate_job_ids: Vec::new(),
            terminating_instances: Vec::new(),
            cleanup: None,
            cleanup_error: None,
            terminate_drill_instances: false,
            point_in_time: None,
            worst_rpo_seconds: None,
            warnings: Vec::new(),
            preempted_by: None,
            started_by: None,
            pending_gates: Vec::new(),
            cancel_requested: None,
            operator_actions: Vec::new(),
        }
    }
}

impl ExecutionRecord {
    /// The pending gate holding `token`, if any.
    pub fn gate_with_token(&self, token: &str) -> Option<&PendingGate> {
        self.pending_gates.iter().find(|g| g.token == token)
    }

    /// Records `gate` among the pending gates, replacing the one of the same wave and kind
    /// (a gate re-opened with a fresh token), and keeps them in order.
    pub fn put_gate(&mut self, gate: PendingGate) {
        self.pending_gates.retain(|g| g.key() != gate.key());
        self.pending_gates.push(gate);
        sort_gates(&mut self.pending_gates);
    }
}

/// The order pending gates are kept and shown in: by wave, an approval before a decision.
pub fn sort_gates(gates: &mut [PendingGate]) {
    gates.sort_by_key(|g| {
        (
            g.wave_index,
            g.kind == drs_waves_contract::GateKind::Decision,
        )
    });
}

/// What a cancel request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Recorded now: the execution's next task (or its pending gate) takes the cancel path.
    Requested,
    /// Someone asked before: their request stands.
    AlreadyRequested(OperatorAction),
    /// The execution is not RUNNING (or has no record yet).
    NotRunning(Option<ExecutionStatus>),
}

/// At most this many warnings are kept on the EXECUTION item (a 400 KB item limit); every
/// server's own state is in its wave's SERVERS item.
pub const MAX_WARNINGS_RECORDED: usize = 200;

/// The end of an execution. Written as an upsert: record-failure may run before preflight
/// created the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionClose {
    pub execution_id: String,
    pub execution_name: String,
    pub plan_name: String,
    pub mode: Option<Mode>,
    /// Kept if the record has one.
    pub started_at: String,
    pub status: ExecutionStatus,
    pub ended_at: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub wave_statuses: BTreeMap<String, WaveStatus>,
    /// The RECOVERY that preempted this drill (status PREEMPTED).
    pub preempted_by: Option<String>,
}

/// A WAVE item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveRecord {
    pub execution_id: String,
    pub index: u32,
    pub name: String,
    pub status: WaveStatus,
    pub job_ids: Vec<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub checks: u32,
    pub servers: ServerCounts,
    pub reason: String,
    /// The wave's jobs as planned before the first StartRecovery: each chunk's servers, and its
    /// job ID once DRS answered. A retried start launches only the chunks without a job.
    pub chunks: Vec<WaveChunk>,
    /// What the plan's past executions taught about this wave, written with the plan (before
    /// the first StartRecovery) and never changed by a check.
    pub learned: Option<LearnedTiming>,
    /// A SUCCEEDED wave's completion time: milliseconds from `started_at` to its jobs' last end
    /// (see `drs_waves_rules::timing`); written by the check that saw it succeed.
    pub completion_ms: Option<u64>,
    /// The account and region the wave launched in (the plan's, written with the plan and
    /// never changed), so that a clean-up or the janitor, later or in another process, reaches
    /// the wave's DRS through the same role as its launch. None: the worker's own.
    pub account: Option<drs_waves_contract::WaveAccount>,
}

/// One StartRecovery of a wave (a wave larger than the per-job limit has several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveChunk {
    /// 1-based; the job's `drs-waves:chunk` tag.
    pub number: u32,
    pub servers: Vec<String>,
    pub job_id: Option<String>,
    /// The launch of the wave it belongs to: 1, then one more for each retry an operator
    /// decided (`onFailure: ask`).
    pub attempt: u32,
    /// When a retry planned it (RFC 3339); none for the first launch (the wave's start).
    pub planned_at: Option<String>,
}

impl WaveRecord {
    /// A wave just planned: LAUNCHING, its chunks (first attempt, numbered from 1) not sent
    /// yet, every server launching; what the start task writes before its first call to DRS.
    pub fn planned(
        execution_id: &str,
        wave: &drs_waves_contract::WaveSpec,
        chunk_servers: Vec<Vec<String>>,
        started_at: String,
    ) -> WaveRecord {
        let chunks: Vec<WaveChunk> = (1..)
            .zip(chunk_servers)
            .map(|(number, servers)| WaveChunk {
                number,
                servers,
                job_id: None,
                attempt: 1,
                planned_at: None,
            })
            .collect();
        let total = u32::try_from(chunks.iter().map(|c| c.servers.len()).sum::<usize>())
            .unwrap_or(u32::MAX);
        WaveRecord {
            execution_id: execution_id.to_owned(),
            index: wave.index,
            name: wave.name.clone(),
            status: WaveStatus::Launching,
            job_ids: Vec::new(),
            started_at,
            ended_at: None,
            checks: 0,
            servers: ServerCounts {
                total,
                launching: total,
                ..ServerCounts::default()
            },
            reason: String::new(),
            chunks,
            learned: None,
            completion_ms: None,
            account: wave.account.clone(),
        }
    }

    /// Every server the wave launches, from its chunks, once each (a retried server is in a
    /// chunk of each launch).
    pub fn planned_servers(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.chunks
            .iter()
            .flat_map(|c| c.servers.iter())
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect()
    }

    /// The wave's current launch: 1 unless an operator asked for retries.
    pub fn attempt(&self) -> u32 {
        self.chunks.iter().map(|c| c.attempt).max().unwrap_or(1)
    }

    /// When the current launch started: the wave's start, or the latest retry's.
    pub fn attempt_started_at(&self) -> &str {
        let attempt = self.attempt();
        self.chunks
            .iter()
            .filter(|c| c.attempt == attempt)
            .find_map(|c| c.planned_at.as_deref())
            .unwrap_or(&self.started_at)
    }
}

/// One server's line in a JOB item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRecord {
    pub launch_status: LaunchStatus,
    pub recovery_instance_id: Option<String>,
    pub required: bool,
    /// Why it failed, when it did: a post-launch action that is not optional FAILED (named,
    /// with DRS's `failureReason`), else the job's log (DescribeJobLogItems).
    pub failure_reason: Option<String>,
    /// Post-launch actions marked optional that FAILED: warnings, not failures.
    pub action_warnings: Vec<String>,
}

/// A JOB item: one DRS job of a wave, per-server detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub execution_id: String,
    pub wave_index: u32,
    pub job_id: String,
    pub job_status: JobStatus,
    pub servers: BTreeMap<String, ServerRecord>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// Taken now, or already ours (a retried preflight).
    Acquired,
    /// Held by another execution, of this mode (a RECOVERY preempts a DRILL).
    HeldBy { holder: String, mode: Mode },
}

/// What the janitor claims an execution for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JanitorWork {
    /// Recording a RUNNING execution that ended outside the machine.
    EndedRun,
    /// Retrying a clean-up left PENDING.
    PendingCleanup,
}

/// One server's launch point in the history (the wave's SERVERS item): the snapshot preflight
/// found, then the one the launch used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLaunchPoint {
    pub server_id: String,
    pub required: bool,
    pub snapshot_id: Option<String>,
    pub snapshot_taken_at: Option<String>,
    /// The snapshot's age, in seconds, when it was chosen: this server's recovery point.
    pub rpo_seconds: Option<u64>,
    /// Replication state, error and last-seen time, as DRS reported them.
    pub replication: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkWrite {
    /// Recorded now, or already recorded with the same job (a retry).
    Written,
    /// The chunk already has another job (a concurrent attempt won).
    Conflict { recorded: String },
}

/// Where an execution's report went (the EXECUTION item's `reportLocation` / `reportError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Written: `s3://bucket/<plan>/<execution name>/`.
    Written(String),
    /// Not written, and why (the execution's own outcome is not affected).
    Failed(String),
}
