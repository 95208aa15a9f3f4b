//! The execution history in DynamoDB.
//!
//! # Key design
//!
//! One table, keys from `drs_waves_contract::history`:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `EXEC#<execution ARN>` | `EXECUTION` | plan, mode, `executionStatus` (RUNNING, SUCCEEDED, SUCCEEDED_WITH_FAILURES, FAILED, ABORTED, TIMED_OUT, PREEMPTED), `startedAt`, `endedAt`, `error`, `cause`, `planName`, `waveStatuses`, `terminateJobIds`, `terminatingInstances`, `cleanup` (NOT_NEEDED, DONE, PENDING), `cleanupError`, `terminateDrillInstances`, `pointInTime`, `worstRpoSeconds`, `warnings`, `warningCount`, `preemptedBy`, `janitorWorker`, `janitorLeaseUntil`, `reportLocation` or `reportError` (where the finish or record-failure task wrote the report, or why it could not) |
//! | `EXEC#<execution ARN>` | `WAVE#0001` | `waveName`, `waveStatus`, `jobIds`, `waveStartedAt`, `waveEndedAt`, `checks`, `counts`, `reason`, `chunks` (per chunk number: `servers`, `jobId` once DRS answered; planned before the first StartRecovery), `learned` (what past executions taught when the wave started: `samples`, `p10Millis`, `p50Millis`, `p95Millis`, `p90Millis` of its completion time), `completionMillis` (a SUCCEEDED wave: its start to its jobs' last `endDateTime`, the next executions' sample) |
//! | `EXEC#<execution ARN>` | `WAVE#0001#SERVERS` | `servers` (per source server: `snapshotID`, `snapshotTakenAt`, `rpoSeconds`, `replication`, `required`): preflight's launch points, then the ones the launch used, with an on-demand launch's point in time once its wave ended |
//! | `EXEC#<execution ARN>` | `WAVE#0001#JOB#<jobID>` | `jobStatus`, `servers` (per source server: `launchStatus`, `recoveryInstanceID`, `required`, `failureReason` from a failed post-launch action or the job log, `actionWarnings`: optional post-launch actions that failed) |
//! | `CLEANUP` | `PENDING#<execution ARN>` | `executionId`: a drill whose clean-up is PENDING, retried by the janitor until DONE |
//! | `LOCK#<plan>` | `LOCK` | `holder` (execution ARN), `mode` (DRILL or RECOVERY: a RECOVERY preempts a DRILL), `acquiredAt` |
//!
//! No item grows with the size of the plan past one wave: a JOB item holds one DRS job (at most
//! 200 servers), a SERVERS item and a WAVE item's chunks hold one wave (at most the servers in
//! active jobs, 500), about 150 bytes a server, so none nears DynamoDB's 400 KB item limit. Only the EXECUTION item carries `executionStatus`,
//! `planName` and `startedAt`, so only executions appear in the two indexes.
//!
//! # Access patterns
//!
//! - One execution: GetItem (`EXEC#arn`, `EXECUTION`); everything about it: Query `pk = EXEC#arn`.
//! - What is running now: Query `status-index` with `executionStatus = RUNNING`, newest first.
//! - Recent executions of a plan: Query `plan-index` with `planName = <plan>`, newest first
//!   (learned timing: then GetItem of each one's WAVE item).
//! - The run lock: conditional PutItem / DeleteItem on (`LOCK#<plan>`, `LOCK`).
//!
//! Every write is safe to repeat: a retried task either finds what an earlier attempt wrote or
//! loses a conditional write and is retried ([`crate::HistoryError::Transient`]).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use drs_waves_contract::history::{
    PARTITION_KEY, PLAN_INDEX, PLAN_INDEX_PARTITION_KEY, PLAN_INDEX_SORT_KEY, SORT_KEY,
    STATUS_INDEX, STATUS_INDEX_PARTITION_KEY, STATUS_INDEX_SORT_KEY,
};
use drs_waves_contract::{
    CleanupStatus, ExecutionStatus, Mode, OperatorAction, PendingGate, ServerCounts, WaveStatus,
};

use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::timing::LearnedTiming;

pub use error::HistoryError;
use error::from_sdk;

#[cfg(any(test, feature = "fake"))]
pub mod conformance;
pub mod error;
#[cfg(any(test, feature = "fake"))]
mod memory;
#[cfg(any(test, feature = "fake"))]
pub use memory::MemoryHistory;

/// The in-memory history passes the conformance suite, one test per case (the DynamoDB adapter
/// passes the same suite over moto in the worker's `tests/against_services.rs`).
#[cfg(test)]
mod memory_conformance {
    use crate::MemoryHistory;

    async fn fresh(case: &str) -> (MemoryHistory, String) {
        (MemoryHistory::new(), format!("memory-{case}"))
    }

    crate::history_conformance_tests!(fresh);
}

pub use drs_waves_contract::history::{
    CLEANUP_PK, EXECUTION_SK, LOCK_SK, execution_pk, job_sk, lock_pk, servers_sk, wave_sk,
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
    /// The gate the execution waits at, until an operator answers it.
    pub pending_gate: Option<PendingGate>,
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
            pending_gate: None,
            cancel_requested: None,
            operator_actions: Vec::new(),
        }
    }
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
    /// (see [`crate::rules::timing`]); written by the check that saw it succeed.
    pub completion_ms: Option<u64>,
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

/// The history operations the tasks need. [`DynamoHistory`] is the real one;
/// [`crate::testing::MemoryHistory`] keeps the same rules in memory for unit tests.
pub trait History: Send + Sync + 'static {
    fn acquire_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        now: &str,
    ) -> impl Future<Output = Result<LockOutcome, HistoryError>> + Send;
    /// Takes the lock from `previous_holder`; false when it changed hands meanwhile.
    fn take_over_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        previous_holder: &str,
        now: &str,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
    /// Writes a wave's launch points (replacing the previous ones).
    fn record_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
        points: Vec<ServerLaunchPoint>,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// A wave's launch points, by server ID; empty when none were recorded.
    fn launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> impl Future<Output = Result<Vec<ServerLaunchPoint>, HistoryError>> + Send;
    /// The plan's executions, newest first (by start time), at most `limit` (the plan index).
    fn recent_executions(
        &self,
        plan: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ExecutionRecord>, HistoryError>> + Send;
    /// Executions recorded RUNNING, newest first, at most `limit` (the status index).
    fn running_executions(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ExecutionRecord>, HistoryError>> + Send;
    /// Takes the janitor's lease on an execution until `until` (RFC 3339): true when this
    /// worker may do `work` now, false when another worker holds an unexpired lease or the
    /// execution no longer needs it (not RUNNING, or its clean-up not PENDING).
    fn claim_for_janitor(
        &self,
        execution_id: &str,
        work: JanitorWork,
        worker: &str,
        now: &str,
        until: &str,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
    /// Releases the lock if `execution_id` holds it; false otherwise.
    fn release_lock(
        &self,
        plan: &str,
        execution_id: &str,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
    /// Creates the EXECUTION item; an existing one (a retried preflight) is left as it is.
    fn create_execution(
        &self,
        record: ExecutionRecord,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    fn get_execution(
        &self,
        execution_id: &str,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>, HistoryError>> + Send;
    fn close_execution(
        &self,
        close: ExecutionClose,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Records one TERMINATE job of the clean-up and the instances it terminates, as soon as
    /// DRS answered (an execution record must exist).
    fn record_terminate_job(
        &self,
        execution_id: &str,
        job_id: &str,
        instances: Vec<String>,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Sets where the clean-up stands; a PENDING one is listed by [`History::pending_cleanups`]
    /// until it is DONE.
    fn set_cleanup(
        &self,
        execution_id: &str,
        status: CleanupStatus,
        error: Option<String>,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Executions whose clean-up is PENDING (oldest first), at most `limit`.
    fn pending_cleanups(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, HistoryError>> + Send;
    fn get_wave(
        &self,
        execution_id: &str,
        index: u32,
    ) -> impl Future<Output = Result<Option<WaveRecord>, HistoryError>> + Send;
    /// Creates the wave's record, LAUNCHING with its planned chunks and no job yet, unless an
    /// earlier attempt did: returns the record as stored (the earlier plan wins, so a retry
    /// launches exactly the chunks that are missing).
    fn plan_wave(
        &self,
        wave: WaveRecord,
    ) -> impl Future<Output = Result<WaveRecord, HistoryError>> + Send;
    /// Plans a retry of a FAILED wave: adds `chunks` (of the next attempt, no job yet) and
    /// makes the wave LAUNCHING again, unless an earlier attempt of the same start task did.
    /// Returns the record as stored.
    fn plan_retry(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunks: Vec<WaveChunk>,
    ) -> impl Future<Output = Result<WaveRecord, HistoryError>> + Send;
    /// Sets an existing wave's final status (SKIPPED, INTERRUPTED) and reason, and its end time
    /// if it has none; false when the wave has no record (it never started).
    fn end_wave(
        &self,
        execution_id: &str,
        wave_index: u32,
        status: WaveStatus,
        reason: &str,
        ended_at: &str,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
    /// Records a chunk's job ID (and appends it to the wave's job IDs) before the next chunk
    /// is sent.
    fn record_chunk_job(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunk: u32,
        job_id: &str,
    ) -> impl Future<Output = Result<ChunkWrite, HistoryError>> + Send;
    /// Writes a check: each job's per-server detail, then the wave's status and counts.
    fn record_wave_check(
        &self,
        wave: WaveRecord,
        jobs: Vec<JobRecord>,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    fn list_jobs(
        &self,
        execution_id: &str,
    ) -> impl Future<Output = Result<Vec<JobRecord>, HistoryError>> + Send;
    /// Records the gate the execution now waits at (replacing a gate an earlier attempt of the
    /// same task left). The execution record must exist.
    /// True when recorded; false when the execution has a cancel request (recorded before the
    /// gate opened: the gate must not wait) or its record is no longer RUNNING (a redrive, a
    /// preempted drill). Either a cancel finds the gate or the gate finds the cancel, never
    /// neither.
    fn open_gate(
        &self,
        execution_id: &str,
        gate: PendingGate,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
    /// Answers the pending gate whose token is `token`: clears it and appends `action` to the
    /// operator actions, in one conditional write. False when no gate with that token is
    /// pending (answered already, or never opened), and nothing is written.
    fn answer_gate(
        &self,
        execution_id: &str,
        token: &str,
        action: OperatorAction,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
    /// Records an operator's cancel of a RUNNING execution (and appends the action), once. The
    /// pending gate, if any, stays for the canceller to answer (a gate task that opens after the
    /// cancel sees it instead: [`History::open_gate`]).
    fn request_cancel(
        &self,
        execution_id: &str,
        action: OperatorAction,
    ) -> impl Future<Output = Result<CancelOutcome, HistoryError>> + Send;
    /// Records where the execution's report was written (`reportLocation`), or why it could
    /// not be (`reportError`); the latest attempt wins. The execution record must exist.
    fn record_report(
        &self,
        execution_id: &str,
        outcome: ReportOutcome,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// What [`History::record_report`] last recorded; None before any attempt.
    fn report_outcome(
        &self,
        execution_id: &str,
    ) -> impl Future<Output = Result<Option<ReportOutcome>, HistoryError>> + Send;
}

/// Where an execution's report went (the EXECUTION item's `reportLocation` / `reportError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Written: `s3://bucket/<plan>/<execution name>/`.
    Written(String),
    /// Not written, and why (the execution's own outcome is not affected).
    Failed(String),
}

/// [`History`] in a DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoHistory {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn list_s(v: &[String]) -> AttributeValue {
    AttributeValue::L(v.iter().map(|x| s(x.clone())).collect())
}

fn wave_statuses_av(v: &BTreeMap<String, WaveStatus>) -> AttributeValue {
    AttributeValue::M(v.iter().map(|(k, x)| (k.clone(), s(x.as_str()))).collect())
}

fn counts_av(c: &ServerCounts) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("total".to_string(), n(c.total)),
        ("launched".to_string(), n(c.launched)),
        ("failed".to_string(), n(c.failed)),
        ("launching".to_string(), n(c.launching)),
        ("optionalFailed".to_string(), n(c.optional_failed)),
    ]))
}

/// Reads one history item strictly: a missing attribute, or one of the wrong type, is an error
/// naming the item and the attribute, never a silent "" or 0 (a half-written or hand-edited item
/// must not pass for a valid one).
struct Fields<'a> {
    item: &'a Item,
    /// `pk / sk`, for messages.
    what: String,
}

impl<'a> Fields<'a> {
    fn of(item: &'a Item) -> Self {
        let key = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .map_or("?", String::as_str)
                .to_string()
        };
        Fields {
            item,
            what: format!("{} / {}", key(PARTITION_KEY), key(SORT_KEY)),
        }
    }

    fn nested(item: &'a Item, what: String) -> Self {
        Fields { item, what }
    }

    fn bad(&self, k: &str, problem: &str) -> HistoryError {
        HistoryError::Corrupt(format!(
            "history item {}: attribute {k} {problem}",
            self.what
        ))
    }

    fn opt_s(&self, k: &str) -> Result<Option<String>, HistoryError> {
        match self.item.get(k) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(v) => v
                .as_s()
                .map(|x| Some(x.clone()))
                .map_err(|_| self.bad(k, "is not a string")),
        }
    }

    fn s(&self, k: &str) -> Result<String, HistoryError> {
        self.opt_s(k)?.ok_or_else(|| self.bad(k, "is missing"))
    }

    fn n(&self, k: &str) -> Result<u32, HistoryError> {
        let v = self.item.get(k).ok_or_else(|| self.bad(k, "is missing"))?;
        v.as_n()
            .map_err(|_| self.bad(k, "is not a number"))?
            .parse()
            .map_err(|_| self.bad(k, "is not a whole number"))
    }

    fn opt_u64(&self, k: &str) -> Result<Option<u64>, HistoryError> {
        match self.item.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_n()
                .map_err(|_| self.bad(k, "is not a number"))?
                .parse()
                .map(Some)
                .map_err(|_| self.bad(k, "is not a whole number")),
        }
    }

    fn bool(&self, k: &str) -> Result<bool, HistoryError> {
        let v = self.item.get(k).ok_or_else(|| self.bad(k, "is missing"))?;
        v.as_bool()
            .copied()
            .map_err(|_| self.bad(k, "is not a boolean"))
    }

    fn opt_list_s(&self, k: &str) -> Result<Option<Vec<String>>, HistoryError> {
        match self.item.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_l()
                .map_err(|_| self.bad(k, "is not a list"))?
                .iter()
                .map(|x| {
                    x.as_s()
                        .cloned()
                        .map_err(|_| self.bad(k, "has an item that is not a string"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    fn list_s(&self, k: &str) -> Result<Vec<String>, HistoryError> {
        self.opt_list_s(k)?.ok_or_else(|| self.bad(k, "is missing"))
    }

    /// A string attribute holding JSON (the operator records: a gate, a cancel request).
    fn opt_json<T: serde::de::DeserializeOwned>(&self, k: &str) -> Result<Option<T>, HistoryError> {
        self.opt_s(k)?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| self.bad(k, &format!("is not the JSON it should be: {e}")))
            })
            .transpose()
    }

    fn map(&self, k: &str) -> Result<&'a HashMap<String, AttributeValue>, HistoryError> {
        self.item
            .get(k)
            .ok_or_else(|| self.bad(k, "is missing"))?
            .as_m()
            .map_err(|_| self.bad(k, "is not a map"))
    }

    /// A parsed enum value: an unknown one is an error naming it.
    fn parsed<T>(&self, k: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, HistoryError> {
        let v = self.s(k)?;
        parse(&v).ok_or_else(|| self.bad(k, &format!("has an unknown value {v:?}")))
    }
}

fn wave_status_of(s: &str) -> Option<WaveStatus> {
    WaveStatus::ALL.into_iter().find(|w| w.as_str() == s)
}

fn counts_of(f: &Fields<'_>, k: &str) -> Result<ServerCounts, HistoryError> {
    let m = Fields::nested(f.map(k)?, format!("{} ({k})", f.what));
    Ok(ServerCounts {
        total: m.n("total")?,
        launched: m.n("launched")?,
        failed: m.n("failed")?,
        launching: m.n("launching")?,
        optional_failed: m.n("optionalFailed")?,
    })
}

fn execution_of(item: &Item) -> Result<ExecutionRecord, HistoryError> {
    let f = Fields::of(item);
    let wave_statuses = f
        .map("waveStatuses")?
        .iter()
        .map(|(wave, v)| {
            let status = v
                .as_s()
                .ok()
                .and_then(|x| wave_status_of(x))
                .ok_or_else(|| f.bad("waveStatuses", &format!("has a bad status for {wave}")))?;
            Ok((wave.clone(), status))
        })
        .collect::<Result<_, HistoryError>>()?;
    Ok(ExecutionRecord {
        execution_id: f.s("executionId")?,
        execution_name: f.s("executionName")?,
        plan_name: f.s(PLAN_INDEX_PARTITION_KEY)?,
        mode: f
            .opt_s("mode")?
            .map(|m| {
                Mode::parse(&m).ok_or_else(|| f.bad("mode", &format!("has an unknown value {m:?}")))
            })
            .transpose()?,
        status: f.parsed(STATUS_INDEX_PARTITION_KEY, ExecutionStatus::parse)?,
        started_at: f.s(STATUS_INDEX_SORT_KEY)?,
        ended_at: f.opt_s("endedAt")?,
        error: f.opt_s("error")?,
        cause: f.opt_s("cause")?,
        wave_count: f.n("waveCount")?,
        server_count: f.n("serverCount")?,
        wave_statuses,
        terminate_job_ids: f.opt_list_s("terminateJobIds")?.unwrap_or_default(),
        terminating_instances: f.opt_list_s("terminatingInstances")?.unwrap_or_default(),
        cleanup: f
            .opt_s("cleanup")?
            .map(|c| {
                CleanupStatus::parse(&c)
                    .ok_or_else(|| f.bad("cleanup", &format!("has an unknown value {c:?}")))
            })
            .transpose()?,
        cleanup_error: f.opt_s("cleanupError")?,
        terminate_drill_instances: f.bool("terminateDrillInstances")?,
        point_in_time: f.opt_s("pointInTime")?,
        worst_rpo_seconds: f.opt_u64("worstRpoSeconds")?,
        warnings: f.opt_list_s("warnings")?.unwrap_or_default(),
        preempted_by: f.opt_s("preemptedBy")?,
        started_by: f.opt_s("startedBy")?,
        pending_gate: f.opt_json("pendingGate")?,
        cancel_requested: f.opt_json("cancelRequested")?,
        operator_actions: f
            .opt_list_s("operatorActions")?
            .unwrap_or_default()
            .iter()
            .map(|a| {
                serde_json::from_str(a).map_err(|e| {
                    f.bad("operatorActions", &format!("has an unreadable action: {e}"))
                })
            })
            .collect::<Result<_, HistoryError>>()?,
    })
}

fn wave_of(item: &Item) -> Result<WaveRecord, HistoryError> {
    let f = Fields::of(item);
    Ok(WaveRecord {
        execution_id: f.s("executionId")?,
        index: f.n("waveIndex")?,
        name: f.s("waveName")?,
        status: f.parsed("waveStatus", wave_status_of)?,
        job_ids: f.list_s("jobIds")?,
        started_at: f.s("waveStartedAt")?,
        ended_at: f.opt_s("waveEndedAt")?,
        checks: f.n("checks")?,
        servers: counts_of(&f, "counts")?,
        reason: f.s("reason")?,
        chunks: chunks_of(&f)?,
        learned: learned_of(&f)?,
        completion_ms: f.opt_u64("completionMillis")?,
    })
}

fn learned_of(f: &Fields<'_>) -> Result<Option<LearnedTiming>, HistoryError> {
    if !f.item.contains_key("learned") {
        return Ok(None);
    }
    let m = Fields::nested(f.map("learned")?, format!("{} (learned)", f.what));
    let ms = |k: &str| m.opt_u64(k)?.ok_or_else(|| m.bad(k, "is missing"));
    Ok(Some(LearnedTiming {
        samples: m.n("samples")?,
        p10_ms: ms("p10Millis")?,
        p50_ms: ms("p50Millis")?,
        p95_ms: ms("p95Millis")?,
        // Items written before the forecast had a p90 carry none: p95 bounds it.
        p90_ms: m
            .opt_u64("p90Millis")?
            .map_or_else(|| ms("p95Millis"), Ok)?,
    }))
}

fn learned_av(l: &LearnedTiming) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("samples".to_string(), n(l.samples)),
        ("p10Millis".to_string(), n(l.p10_ms)),
        ("p50Millis".to_string(), n(l.p50_ms)),
        ("p95Millis".to_string(), n(l.p95_ms)),
        ("p90Millis".to_string(), n(l.p90_ms)),
    ]))
}

fn chunks_of(f: &Fields<'_>) -> Result<Vec<WaveChunk>, HistoryError> {
    let mut chunks = f
        .map("chunks")?
        .iter()
        .map(|(k, v)| {
            let number: u32 = k
                .parse()
                .map_err(|_| f.bad("chunks", &format!("has a key {k:?} that is not a number")))?;
            let m = v
                .as_m()
                .map_err(|_| f.bad("chunks", &format!("has a non-map chunk {k}")))?;
            let cf = Fields::nested(m, format!("{} (chunks.{k})", f.what));
            Ok(WaveChunk {
                number,
                servers: cf.list_s("servers")?,
                job_id: cf.opt_s("jobId")?,
                // Chunks of the first launch carry no attempt (nor did any before retries).
                attempt: cf.opt_u64("attempt")?.map_or(Ok(1), |a| {
                    u32::try_from(a).map_err(|_| cf.bad("attempt", "is too large"))
                })?,
                planned_at: cf.opt_s("plannedAt")?,
            })
        })
        .collect::<Result<Vec<_>, HistoryError>>()?;
    chunks.sort_by_key(|c| c.number);
    Ok(chunks)
}

fn chunks_av(chunks: &[WaveChunk]) -> AttributeValue {
    AttributeValue::M(
        chunks
            .iter()
            .map(|c| {
                let mut m = HashMap::from([("servers".to_string(), list_s(&c.servers))]);
                if let Some(job) = &c.job_id {
                    m.insert("jobId".to_string(), s(job));
                }
                if c.attempt > 1 {
                    m.insert("attempt".to_string(), n(c.attempt));
                }
                if let Some(at) = &c.planned_at {
                    m.insert("plannedAt".to_string(), s(at));
                }
                (c.number.to_string(), AttributeValue::M(m))
            })
            .collect(),
    )
}

fn job_of(item: &Item) -> Result<JobRecord, HistoryError> {
    let f = Fields::of(item);
    let servers = f
        .map("servers")?
        .iter()
        .map(|(id, v)| {
            let fields = v
                .as_m()
                .map_err(|_| f.bad("servers", &format!("has a non-map entry for {id}")))?;
            let sf = Fields::nested(fields, format!("{} (servers.{id})", f.what));
            Ok((
                id.clone(),
                ServerRecord {
                    launch_status: LaunchStatus::parse(&sf.s("launchStatus")?),
                    recovery_instance_id: sf.opt_s("recoveryInstanceID")?,
                    required: sf.bool("required")?,
                    failure_reason: sf.opt_s("failureReason")?,
                    action_warnings: sf.opt_list_s("actionWarnings")?.unwrap_or_default(),
                },
            ))
        })
        .collect::<Result<_, HistoryError>>()?;
    Ok(JobRecord {
        execution_id: f.s("executionId")?,
        wave_index: f.n("waveIndex")?,
        job_id: f.s("jobId")?,
        job_status: JobStatus::parse(&f.s("jobStatus")?),
        servers,
        updated_at: f.s("updatedAt")?,
    })
}

/// Whether a conditional write was refused because its condition did not hold (the one
/// expected "failure" of every conditional PutItem, UpdateItem and DeleteItem here).
fn condition_failed<E: ProvideErrorMetadata>(
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// SET clauses with `#name`/`:name` placeholders for every attribute (many of ours are
/// DynamoDB reserved words: status, mode, error, ...).
#[derive(Default)]
struct Update {
    sets: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    removes: Vec<String>,
    condition: Option<String>,
}

impl Update {
    fn remove(&mut self, attr: &str) -> &mut Self {
        let i = self.removes.len();
        self.removes.push(format!("#r{i}"));
        self.names.insert(format!("#r{i}"), attr.to_string());
        self
    }

    fn set(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets.push(format!("#a{i} = :v{i}"));
        self.names.insert(format!("#a{i}"), attr.to_string());
        self.values.insert(format!(":v{i}"), v);
        self
    }

    /// SET of a nested path whose `#name` placeholders the caller gives with [`Update::name`].
    fn set_path(&mut self, path: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets.push(format!("{path} = :v{i}"));
        self.values.insert(format!(":v{i}"), v);
        self
    }

    /// Appends the items of the list `v` to the list `attr`.
    fn append(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets.push(format!("#a{i} = list_append(#a{i}, :v{i})"));
        self.names.insert(format!("#a{i}"), attr.to_string());
        self.values.insert(format!(":v{i}"), v);
        self
    }

    fn set_if_not_exists(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets
            .push(format!("#a{i} = if_not_exists(#a{i}, :v{i})"));
        self.names.insert(format!("#a{i}"), attr.to_string());
        self.values.insert(format!(":v{i}"), v);
        self
    }

    /// A condition; its placeholders (`#x`, `:x`) are given with [`Update::name`] and
    /// [`Update::value`].
    fn condition(&mut self, expr: &str) -> &mut Self {
        self.condition = Some(expr.to_string());
        self
    }

    fn name(&mut self, placeholder: &str, attr: &str) -> &mut Self {
        self.names.insert(placeholder.to_string(), attr.to_string());
        self
    }

    fn value(&mut self, placeholder: &str, v: AttributeValue) -> &mut Self {
        self.values.insert(placeholder.to_string(), v);
        self
    }

    /// A SET clause written out, its placeholders given with [`Update::name`] and
    /// [`Update::value`].
    fn clause(&mut self, clause: &str) -> &mut Self {
        self.sets.push(clause.to_string());
        self
    }

    fn expression(&self) -> String {
        let mut e = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            e.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        e
    }
}

impl DynamoHistory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoHistory {
            client,
            table: table.into(),
        }
    }

    fn key(pk: String, sk: &str) -> Item {
        HashMap::from([
            (PARTITION_KEY.to_string(), s(pk)),
            (SORT_KEY.to_string(), s(sk)),
        ])
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, HistoryError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB GetItem", &e))?;
        Ok(resp.item().cloned())
    }

    /// Puts `item` unless an item with its key exists: true when written, false when it
    /// existed (an earlier attempt wrote it).
    async fn put_new(&self, item: Item, what: &str) -> Result<bool, HistoryError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(from_sdk(&format!("DynamoDB PutItem ({what})"), &e)),
        }
    }

    /// Applies `u`; false when its condition failed.
    async fn update(&self, pk: String, sk: &str, u: Update) -> Result<bool, HistoryError> {
        let resp = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .update_expression(u.expression())
            .set_condition_expression(u.condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(from_sdk("DynamoDB UpdateItem", &e)),
        }
    }

    async fn query_execution(&self, execution_id: &str) -> Result<Vec<Item>, HistoryError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :wave)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_values(":pk", s(execution_pk(execution_id)))
                .expression_attribute_values(":wave", s("WAVE#"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| from_sdk("DynamoDB Query", &e))?;
            items.extend(resp.items().iter().cloned());
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(items),
            }
        }
    }
}

impl History for DynamoHistory {
    async fn acquire_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        now: &str,
    ) -> Result<LockOutcome, HistoryError> {
        let mut item = Self::key(lock_pk(plan), LOCK_SK);
        item.insert("holder".into(), s(execution_id));
        item.insert("mode".into(), s(mode.as_str()));
        item.insert("acquiredAt".into(), s(now));
        item.insert("plan".into(), s(plan));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #holder = :me")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":me", s(execution_id))
            .send()
            .await;
        match put {
            Ok(_) => Ok(LockOutcome::Acquired),
            Err(e) if condition_failed(&e) => {
                let held = match self.get(lock_pk(plan), LOCK_SK).await? {
                    Some(i) => {
                        let f = Fields::of(&i);
                        Some((f.s("holder")?, f.parsed("mode", Mode::parse)?))
                    }
                    None => None,
                };
                match held {
                    Some((holder, mode)) => Ok(LockOutcome::HeldBy { holder, mode }),
                    None => Err(HistoryError::conflict(
                        "DynamoDB PutItem (run lock)",
                        "the lock was released while taking it",
                    )),
                }
            }
            Err(e) => Err(from_sdk("DynamoDB PutItem (run lock)", &e)),
        }
    }

    async fn take_over_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        previous_holder: &str,
        now: &str,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("holder", s(execution_id))
            .set("mode", s(mode.as_str()))
            .set("acquiredAt", s(now))
            .set("previousHolder", s(previous_holder));
        u.condition("#holder = :prev")
            .name("#holder", "holder")
            .value(":prev", s(previous_holder));
        self.update(lock_pk(plan), LOCK_SK, u).await
    }

    async fn release_lock(&self, plan: &str, execution_id: &str) -> Result<bool, HistoryError> {
        let resp = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(lock_pk(plan), LOCK_SK)))
            .condition_expression("#holder = :me")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":me", s(execution_id))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(from_sdk("DynamoDB DeleteItem (run lock)", &e)),
        }
    }

    async fn create_execution(&self, r: ExecutionRecord) -> Result<(), HistoryError> {
        let mut item = Self::key(execution_pk(&r.execution_id), EXECUTION_SK);
        item.insert("itemType".into(), s("EXECUTION"));
        item.insert("executionId".into(), s(&r.execution_id));
        item.insert("executionName".into(), s(&r.execution_name));
        item.insert(PLAN_INDEX_PARTITION_KEY.into(), s(&r.plan_name));
        if let Some(mode) = r.mode {
            item.insert("mode".into(), s(mode.as_str()));
        }
        item.insert(STATUS_INDEX_PARTITION_KEY.into(), s(r.status.as_str()));
        item.insert("waveStatuses".into(), wave_statuses_av(&BTreeMap::new()));
        item.insert(STATUS_INDEX_SORT_KEY.into(), s(&r.started_at));
        item.insert("waveCount".into(), n(r.wave_count));
        item.insert("serverCount".into(), n(r.server_count));
        item.insert(
            "terminateDrillInstances".into(),
            AttributeValue::Bool(r.terminate_drill_instances),
        );
        if let Some(t) = &r.point_in_time {
            item.insert("pointInTime".into(), s(t));
        }
        if let Some(rpo) = r.worst_rpo_seconds {
            item.insert("worstRpoSeconds".into(), n(rpo));
        }
        if let Some(by) = &r.started_by {
            item.insert("startedBy".into(), s(by));
        }
        if !r.warnings.is_empty() {
            let kept: Vec<String> = r
                .warnings
                .iter()
                .take(MAX_WARNINGS_RECORDED)
                .cloned()
                .collect();
            item.insert("warnings".into(), list_s(&kept));
            item.insert("warningCount".into(), n(r.warnings.len()));
        }
        // An existing record was created by an earlier attempt of this preflight.
        self.put_new(item, "execution record").await.map(|_| ())
    }

    async fn get_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<ExecutionRecord>, HistoryError> {
        self.get(execution_pk(execution_id), EXECUTION_SK)
            .await?
            .map(|i| execution_of(&i))
            .transpose()
    }

    async fn close_execution(&self, c: ExecutionClose) -> Result<(), HistoryError> {
        let mut u = Update::default();
        u.set("itemType", s("EXECUTION"))
            .set("executionId", s(&c.execution_id))
            .set(STATUS_INDEX_PARTITION_KEY, s(c.status.as_str()))
            .set("endedAt", s(&c.ended_at))
            .set("waveStatuses", wave_statuses_av(&c.wave_statuses))
            .set_if_not_exists("executionName", s(&c.execution_name))
            .set_if_not_exists(PLAN_INDEX_PARTITION_KEY, s(&c.plan_name))
            .set_if_not_exists(STATUS_INDEX_SORT_KEY, s(&c.started_at))
            // A failure before preflight created the record: the counts are not known.
            .set_if_not_exists("waveCount", n(0))
            .set_if_not_exists("serverCount", n(0))
            .set_if_not_exists("terminateDrillInstances", AttributeValue::Bool(false))
            // An ended execution waits at no gate (one that timed out, or that a cancel
            // answered, is closed here).
            .remove("pendingGate")
            .remove("pendingGateToken");
        if let Some(by) = &c.preempted_by {
            u.set("preemptedBy", s(by));
        }
        if let Some(mode) = &c.mode {
            u.set_if_not_exists("mode", s(mode.as_str()));
        }
        if let Some(error) = &c.error {
            u.set("error", s(error));
        }
        if let Some(cause) = &c.cause {
            u.set("cause", s(cause));
        }
        self.update(execution_pk(&c.execution_id), EXECUTION_SK, u)
            .await
            .map(|_| ())
    }

    async fn record_terminate_job(
        &self,
        execution_id: &str,
        job_id: &str,
        instances: Vec<String>,
    ) -> Result<(), HistoryError> {
        let mut u = Update::default();
        u.clause("#jobs = list_append(if_not_exists(#jobs, :none), :job)")
            .clause("#inst = list_append(if_not_exists(#inst, :none), :instances)")
            .name("#jobs", "terminateJobIds")
            .name("#inst", "terminatingInstances")
            .value(":none", list_s(&[]))
            .value(":job", list_s(&[job_id.to_string()]))
            .value(":instances", list_s(&instances));
        // Never create a partial record: the clean-up of an execution that was never recorded
        // is a bug to report, not a record to invent.
        u.condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            Ok(())
        } else {
            Err(HistoryError::Corrupt(format!(
                "history: no execution record for {execution_id}"
            )))
        }
    }

    async fn set_cleanup(
        &self,
        execution_id: &str,
        status: CleanupStatus,
        error: Option<String>,
    ) -> Result<(), HistoryError> {
        let mut u = Update::default();
        u.set("cleanup", s(status.as_str()));
        if let Some(e) = &error {
            u.set("cleanupError", s(e));
        }
        u.condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        if !self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            return Err(HistoryError::Corrupt(format!(
                "history: no execution record for {execution_id}"
            )));
        }
        let key = Self::key(CLEANUP_PK.to_string(), &format!("PENDING#{execution_id}"));
        if status == CleanupStatus::Pending {
            let mut item = key;
            item.insert("executionId".into(), s(execution_id));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| from_sdk("DynamoDB PutItem (pending clean-up)", &e))?;
        } else {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(|e| from_sdk("DynamoDB DeleteItem (pending clean-up)", &e))?;
        }
        Ok(())
    }

    async fn pending_cleanups(&self, limit: usize) -> Result<Vec<String>, HistoryError> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(CLEANUP_PK))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB Query (pending clean-ups)", &e))?;
        resp.items()
            .iter()
            .map(|i| Fields::of(i).s("executionId"))
            .collect()
    }

    async fn get_wave(
        &self,
        execution_id: &str,
        index: u32,
    ) -> Result<Option<WaveRecord>, HistoryError> {
        self.get(execution_pk(execution_id), &wave_sk(index))
            .await?
            .map(|i| wave_of(&i))
            .transpose()
    }

    async fn plan_wave(&self, w: WaveRecord) -> Result<WaveRecord, HistoryError> {
        let mut item = Self::key(execution_pk(&w.execution_id), &wave_sk(w.index));
        item.insert("itemType".into(), s("WAVE"));
        item.insert("executionId".into(), s(&w.execution_id));
        item.insert("waveIndex".into(), n(w.index));
        item.insert("waveName".into(), s(&w.name));
        item.insert("waveStatus".into(), s(WaveStatus::Launching.as_str()));
        item.insert("jobIds".into(), list_s(&[]));
        item.insert("checks".into(), n(0));
        item.insert("counts".into(), counts_av(&w.servers));
        item.insert("reason".into(), s(""));
        item.insert("waveStartedAt".into(), s(&w.started_at));
        item.insert("chunks".into(), chunks_av(&w.chunks));
        if let Some(l) = &w.learned {
            item.insert("learned".into(), learned_av(l));
        }
        // An existing plan was written by an earlier attempt: it wins.
        self.put_new(item, "wave plan").await?;
        self.get_wave(&w.execution_id, w.index)
            .await?
            .ok_or_else(|| {
                HistoryError::conflict(
                    "DynamoDB GetItem (wave plan)",
                    "the wave's record is not readable yet",
                )
            })
    }

    async fn record_chunk_job(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunk: u32,
        job_id: &str,
    ) -> Result<ChunkWrite, HistoryError> {
        let mut u = Update::default();
        u.set_path("#chunks.#c.#job", s(job_id))
            .name("#chunks", "chunks")
            .name("#c", &chunk.to_string())
            .name("#job", "jobId")
            .append("jobIds", list_s(&[job_id.to_string()]));
        u.condition("attribute_exists(#chunks.#c) AND attribute_not_exists(#chunks.#c.#job)");
        if self
            .update(execution_pk(execution_id), &wave_sk(wave_index), u)
            .await?
        {
            return Ok(ChunkWrite::Written);
        }
        let recorded = self
            .get_wave(execution_id, wave_index)
            .await?
            .and_then(|w| w.chunks.into_iter().find(|c| c.number == chunk))
            .ok_or_else(|| {
                HistoryError::Corrupt(format!(
                    "history: wave {wave_index} of {execution_id} has no planned chunk {chunk}"
                ))
            })?
            .job_id;
        match recorded {
            Some(id) if id == job_id => Ok(ChunkWrite::Written),
            Some(id) => Ok(ChunkWrite::Conflict { recorded: id }),
            None => Err(HistoryError::conflict(
                "DynamoDB UpdateItem (chunk job)",
                format!("chunk {chunk} of wave {wave_index} could not be recorded"),
            )),
        }
    }

    async fn record_wave_check(
        &self,
        w: WaveRecord,
        jobs: Vec<JobRecord>,
    ) -> Result<(), HistoryError> {
        for j in &jobs {
            let mut item = Self::key(
                execution_pk(&j.execution_id),
                &job_sk(j.wave_index, &j.job_id),
            );
            item.insert("itemType".into(), s("JOB"));
            item.insert("executionId".into(), s(&j.execution_id));
            item.insert("waveIndex".into(), n(j.wave_index));
            item.insert("jobId".into(), s(&j.job_id));
            item.insert("jobStatus".into(), s(j.job_status.as_str()));
            item.insert("updatedAt".into(), s(&j.updated_at));
            let servers = j
                .servers
                .iter()
                .map(|(id, r)| {
                    let mut m = HashMap::from([
                        ("launchStatus".to_string(), s(r.launch_status.as_str())),
                        ("required".to_string(), AttributeValue::Bool(r.required)),
                    ]);
                    if let Some(ri) = &r.recovery_instance_id {
                        m.insert("recoveryInstanceID".to_string(), s(ri));
                    }
                    if let Some(why) = &r.failure_reason {
                        m.insert("failureReason".to_string(), s(why));
                    }
                    if !r.action_warnings.is_empty() {
                        m.insert("actionWarnings".to_string(), list_s(&r.action_warnings));
                    }
                    (id.clone(), AttributeValue::M(m))
                })
                .collect();
            item.insert("servers".into(), AttributeValue::M(servers));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| from_sdk("DynamoDB PutItem (job record)", &e))?;
        }
        let mut u = Update::default();
        u.set("itemType", s("WAVE"))
            .set("executionId", s(&w.execution_id))
            .set("waveIndex", n(w.index))
            .set("waveName", s(&w.name))
            .set("waveStatus", s(w.status.as_str()))
            .set("jobIds", list_s(&w.job_ids))
            .set("checks", n(w.checks))
            .set("counts", counts_av(&w.servers))
            .set("reason", s(&w.reason))
            .set_if_not_exists("waveStartedAt", s(&w.started_at));
        if let Some(ended) = &w.ended_at {
            u.set("waveEndedAt", s(ended));
        }
        if let Some(ms) = w.completion_ms {
            u.set("completionMillis", n(ms));
        }
        self.update(execution_pk(&w.execution_id), &wave_sk(w.index), u)
            .await
            .map(|_| ())
    }

    async fn record_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
        points: Vec<ServerLaunchPoint>,
    ) -> Result<(), HistoryError> {
        let mut item = Self::key(execution_pk(execution_id), &servers_sk(wave_index));
        item.insert("itemType".into(), s("SERVERS"));
        item.insert("executionId".into(), s(execution_id));
        item.insert("waveIndex".into(), n(wave_index));
        let servers = points
            .iter()
            .map(|p| {
                let mut m = HashMap::from([
                    ("required".to_string(), AttributeValue::Bool(p.required)),
                    ("replication".to_string(), s(&p.replication)),
                ]);
                if let Some(id) = &p.snapshot_id {
                    m.insert("snapshotID".into(), s(id));
                }
                if let Some(t) = &p.snapshot_taken_at {
                    m.insert("snapshotTakenAt".into(), s(t));
                }
                if let Some(rpo) = p.rpo_seconds {
                    m.insert("rpoSeconds".into(), n(rpo));
                }
                (p.server_id.clone(), AttributeValue::M(m))
            })
            .collect();
        item.insert("servers".into(), AttributeValue::M(servers));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB PutItem (launch points)", &e))?;
        Ok(())
    }

    async fn launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Vec<ServerLaunchPoint>, HistoryError> {
        let Some(item) = self
            .get(execution_pk(execution_id), &servers_sk(wave_index))
            .await?
        else {
            return Ok(Vec::new());
        };
        let f = Fields::of(&item);
        f.map("servers")?
            .iter()
            .map(|(id, v)| {
                let m = v
                    .as_m()
                    .map_err(|_| f.bad("servers", &format!("has a non-map entry for {id}")))?;
                let sf = Fields::nested(m, format!("{} (servers.{id})", f.what));
                Ok(ServerLaunchPoint {
                    server_id: id.clone(),
                    required: sf.bool("required")?,
                    snapshot_id: sf.opt_s("snapshotID")?,
                    snapshot_taken_at: sf.opt_s("snapshotTakenAt")?,
                    rpo_seconds: sf.opt_u64("rpoSeconds")?,
                    replication: sf.s("replication")?,
                })
            })
            .collect::<Result<Vec<_>, HistoryError>>()
            .map(|mut v| {
                v.sort_by(|a, b| a.server_id.cmp(&b.server_id));
                v
            })
    }

    async fn recent_executions(
        &self,
        plan: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, HistoryError> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PLAN_INDEX)
            .key_condition_expression("#plan = :plan")
            .expression_attribute_names("#plan", PLAN_INDEX_PARTITION_KEY)
            .expression_attribute_values(":plan", s(plan))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB Query (plan index)", &e))?;
        resp.items().iter().map(execution_of).collect()
    }

    async fn running_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>, HistoryError> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STATUS_INDEX)
            .key_condition_expression("#st = :running")
            .expression_attribute_names("#st", STATUS_INDEX_PARTITION_KEY)
            .expression_attribute_values(":running", s(ExecutionStatus::Running.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB Query (status index)", &e))?;
        resp.items().iter().map(execution_of).collect()
    }

    async fn claim_for_janitor(
        &self,
        execution_id: &str,
        work: JanitorWork,
        worker: &str,
        now: &str,
        until: &str,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("janitorWorker", s(worker))
            .set("janitorLeaseUntil", s(until));
        let (attr, wanted) = match work {
            JanitorWork::EndedRun => (
                STATUS_INDEX_PARTITION_KEY,
                ExecutionStatus::Running.as_str(),
            ),
            JanitorWork::PendingCleanup => ("cleanup", CleanupStatus::Pending.as_str()),
        };
        // RFC 3339 UTC strings of one format order as the times they name.
        u.condition(
            "#st = :wanted AND (attribute_not_exists(#lease) OR #lease < :now OR #worker = :me)",
        )
        .name("#st", attr)
        .name("#lease", "janitorLeaseUntil")
        .name("#worker", "janitorWorker")
        .value(":wanted", s(wanted))
        .value(":now", s(now))
        .value(":me", s(worker));
        self.update(execution_pk(execution_id), EXECUTION_SK, u)
            .await
    }

    async fn list_jobs(&self, execution_id: &str) -> Result<Vec<JobRecord>, HistoryError> {
        self.query_execution(execution_id)
            .await?
            .iter()
            .filter(|i| {
                i.get(SORT_KEY)
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk.contains("#JOB#"))
            })
            .map(job_of)
            .collect()
    }

    async fn plan_retry(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunks: Vec<WaveChunk>,
    ) -> Result<WaveRecord, HistoryError> {
        let mut u = Update::default();
        u.set("waveStatus", s(WaveStatus::Launching.as_str()))
            .set("reason", s(""))
            .remove("waveEndedAt")
            .remove("completionMillis")
            .name("#chunks", "chunks")
            .name("#st", "waveStatus")
            .value(":failed", s(WaveStatus::Failed.as_str()));
        let mut condition = "#st = :failed".to_string();
        if let AttributeValue::M(planned) = chunks_av(&chunks) {
            for (i, (number, chunk)) in planned.into_iter().enumerate() {
                u.name(&format!("#c{i}"), &number);
                u.set_path(&format!("#chunks.#c{i}"), chunk);
                condition.push_str(&format!(" AND attribute_not_exists(#chunks.#c{i})"));
            }
        }
        u.condition(&condition);
        // Refused: an earlier attempt of this start task planned the retry (or the wave is not
        // FAILED); what is stored wins, as for the first plan.
        self.update(execution_pk(execution_id), &wave_sk(wave_index), u)
            .await?;
        self.get_wave(execution_id, wave_index)
            .await?
            .ok_or_else(|| missing_record(execution_id))
    }

    async fn end_wave(
        &self,
        execution_id: &str,
        wave_index: u32,
        status: WaveStatus,
        reason: &str,
        ended_at: &str,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("waveStatus", s(status.as_str()))
            .set("reason", s(reason))
            .set_if_not_exists("waveEndedAt", s(ended_at))
            .condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        self.update(execution_pk(execution_id), &wave_sk(wave_index), u)
            .await
    }

    async fn open_gate(&self, execution_id: &str, gate: PendingGate) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("pendingGate", s(to_json(&gate)?))
            .set("pendingGateToken", s(&gate.token))
            .condition(
                "attribute_exists(#pk) AND attribute_not_exists(#cancel) AND #status = :running",
            )
            .name("#pk", PARTITION_KEY)
            .name("#cancel", "cancelRequested")
            .name("#status", STATUS_INDEX_PARTITION_KEY)
            .value(":running", s(ExecutionStatus::Running.as_str()));
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            return Ok(true);
        }
        match self.get_execution(execution_id).await? {
            Some(r) if r.cancel_requested.is_some() || r.status != ExecutionStatus::Running => {
                Ok(false)
            }
            Some(_) => Err(HistoryError::conflict(
                "DynamoDB UpdateItem",
                "the gate's conditional write was refused, yet the record has no cancel request",
            )),
            None => Err(missing_record(execution_id)),
        }
    }

    async fn answer_gate(
        &self,
        execution_id: &str,
        token: &str,
        action: OperatorAction,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.clause("#acts = list_append(if_not_exists(#acts, :none), :act)")
            .name("#acts", "operatorActions")
            .value(":none", AttributeValue::L(vec![]))
            .value(":act", AttributeValue::L(vec![s(to_json(&action)?)]))
            .remove("pendingGate")
            .remove("pendingGateToken")
            .condition("#tok = :tok")
            .name("#tok", "pendingGateToken")
            .value(":tok", s(token));
        self.update(execution_pk(execution_id), EXECUTION_SK, u)
            .await
    }

    async fn request_cancel(
        &self,
        execution_id: &str,
        action: OperatorAction,
    ) -> Result<CancelOutcome, HistoryError> {
        let mut u = Update::default();
        u.set("cancelRequested", s(to_json(&action)?))
            .clause("#acts = list_append(if_not_exists(#acts, :none), :act)")
            .name("#acts", "operatorActions")
            .value(":none", AttributeValue::L(vec![]))
            .value(":act", AttributeValue::L(vec![s(to_json(&action)?)]))
            .condition("#st = :running AND attribute_not_exists(#cancel)")
            .name("#st", STATUS_INDEX_PARTITION_KEY)
            .value(":running", s(ExecutionStatus::Running.as_str()))
            .name("#cancel", "cancelRequested");
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            return Ok(CancelOutcome::Requested);
        }
        Ok(match self.get_execution(execution_id).await? {
            Some(r) => match r.cancel_requested {
                Some(earlier) => CancelOutcome::AlreadyRequested(earlier),
                None => CancelOutcome::NotRunning(Some(r.status)),
            },
            None => CancelOutcome::NotRunning(None),
        })
    }
    async fn record_report(
        &self,
        execution_id: &str,
        outcome: ReportOutcome,
    ) -> Result<(), HistoryError> {
        let mut u = Update::default();
        match &outcome {
            ReportOutcome::Written(location) => {
                u.set("reportLocation", s(location)).remove("reportError");
            }
            ReportOutcome::Failed(error) => {
                u.set("reportError", s(error)).remove("reportLocation");
            }
        }
        u.condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            Ok(())
        } else {
            Err(missing_record(execution_id))
        }
    }

    async fn report_outcome(
        &self,
        execution_id: &str,
    ) -> Result<Option<ReportOutcome>, HistoryError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(execution_pk(execution_id), EXECUTION_SK)))
            .projection_expression("reportLocation, reportError")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB GetItem", &e))?;
        let Some(item) = resp.item() else {
            return Ok(None);
        };
        let f = Fields::of(item);
        Ok(
            match (f.opt_s("reportLocation")?, f.opt_s("reportError")?) {
                (Some(l), _) => Some(ReportOutcome::Written(l)),
                (None, Some(e)) => Some(ReportOutcome::Failed(e)),
                (None, None) => None,
            },
        )
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, HistoryError> {
    serde_json::to_string(value)
        .map_err(|e| HistoryError::Failed(format!("serializing a history record: {e}")))
}

fn missing_record(execution_id: &str) -> HistoryError {
    HistoryError::Corrupt(format!(
        "the history has no record of execution {execution_id} (preflight creates it)"
    ))
}

/// Creates the history table with its two indexes (on-demand billing) and waits until it is
/// ACTIVE. Returns false when it already existed. Used by `drs-worker create-table`, the local
/// stack scripts and the tests, so all create it the same way.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<bool, HistoryError> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| {
        HistoryError::Failed(format!("CreateTable request: {e}"))
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(build)
    };
    let gsi = |name: &str, pk: &str, sk: &str| -> Result<GlobalSecondaryIndex, HistoryError> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build)
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PARTITION_KEY)?)
        .attribute_definitions(attr(SORT_KEY)?)
        .attribute_definitions(attr(STATUS_INDEX_PARTITION_KEY)?)
        .attribute_definitions(attr(STATUS_INDEX_SORT_KEY)?)
        .attribute_definitions(attr(PLAN_INDEX_PARTITION_KEY)?)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .global_secondary_indexes(gsi(
            STATUS_INDEX,
            STATUS_INDEX_PARTITION_KEY,
            STATUS_INDEX_SORT_KEY,
        )?)
        .global_secondary_indexes(gsi(
            PLAN_INDEX,
            PLAN_INDEX_PARTITION_KEY,
            PLAN_INDEX_SORT_KEY,
        )?)
        .send()
        .await;
    let created = match created {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) =>
        {
            false
        }
        Err(e) => return Err(from_sdk("DynamoDB CreateTable", &e)),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let resp = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB DescribeTable", &e))?;
        if resp.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(created);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(HistoryError::Transient {
                call: "DynamoDB DescribeTable".into(),
                detail: format!("table {table} is not ACTIVE after 120 s"),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
