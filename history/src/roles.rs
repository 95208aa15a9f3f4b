//! The role traits of the history: its 26 operations grouped by what they serve (the run lock,
//! executions, waves, gates, the janitor). [`crate::History`] is all of them; a caller that needs
//! one role may ask for that one. Each method is safe to repeat (see the crate's key design).

use std::future::Future;

use drs_waves_contract::{CleanupStatus, Mode, OperatorAction, PendingGate, WaveStatus};

use crate::HistoryError;
use crate::records::{
    CancelOutcome, ChunkWrite, ExecutionClose, ExecutionRecord, JanitorWork, JobRecord,
    LockOutcome, ReportOutcome, ServerLaunchPoint, WaveChunk, WaveRecord,
};

/// The run lock of a plan (`LOCK#<plan>`): one execution at a time, a RECOVERY taking it
/// from a DRILL.
pub trait RunLocks: Send + Sync + 'static {
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
    /// Releases the lock if `execution_id` holds it; false otherwise.
    fn release_lock(
        &self,
        plan: &str,
        execution_id: &str,
    ) -> impl Future<Output = Result<bool, HistoryError>> + Send;
}

/// The EXECUTION item: its life from preflight to close, the indexes that list executions,
/// an operator's cancel request and where the report went.
pub trait Executions: Send + Sync + 'static {
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
    /// Records an operator's cancel of a RUNNING execution (and appends the action), once. The
    /// pending gate, if any, stays for the canceller to answer (a gate task that opens after the
    /// cancel sees it instead: [`Gates::open_gate`]).
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
    /// What [`Executions::record_report`] last recorded; None before any attempt.
    fn report_outcome(
        &self,
        execution_id: &str,
    ) -> impl Future<Output = Result<Option<ReportOutcome>, HistoryError>> + Send;
}

/// A wave's items: the WAVE item (its plan, chunks, checks, retries and end), its JOB items
/// and its SERVERS item (the launch points).
pub trait Waves: Send + Sync + 'static {
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
    /// Writes a wave's health checks as a round left them (replacing the previous round's).
    fn record_wave_health(
        &self,
        health: crate::WaveHealthRecord,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// A wave's health checks; none when the wave has none or they have not begun.
    fn wave_health(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> impl Future<Output = Result<Option<crate::WaveHealthRecord>, HistoryError>> + Send;
    /// Writes a network recovery action's record (replacing the previous one).
    fn record_network(
        &self,
        record: crate::NetworkRecord,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// A network recovery action's record; none before its job was started.
    fn network(
        &self,
        execution_id: &str,
        wave_index: u32,
        phase: &str,
        position: u32,
    ) -> impl Future<Output = Result<Option<crate::NetworkRecord>, HistoryError>> + Send;
}

/// The gate an execution waits at, opened by its gate task and answered by an operator.
pub trait Gates: Send + Sync + 'static {
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
}

/// A drill's clean-up (its TERMINATE jobs, PENDING until DONE) and the janitor's lease on an
/// execution it repairs.
pub trait Janitor: Send + Sync + 'static {
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
    /// Records one TERMINATE job of the clean-up and the instances it terminates, as soon as
    /// DRS answered (an execution record must exist).
    fn record_terminate_job(
        &self,
        execution_id: &str,
        job_id: &str,
        instances: Vec<String>,
    ) -> impl Future<Output = Result<(), HistoryError>> + Send;
    /// Sets where the clean-up stands; a PENDING one is listed by [`Janitor::pending_cleanups`]
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
}
