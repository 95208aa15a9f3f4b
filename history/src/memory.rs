//! [`MemoryHistory`]: the history in memory, for the tests of the crates above (the `fake`
//! feature). It keeps the same conditional-write rules as [`crate::DynamoHistory`]: both pass
//! the one conformance suite ([`crate::conformance`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use drs_waves_contract::{
    CleanupStatus, ExecutionStatus, Mode, OperatorAction, PendingGate, WaveStatus,
};

use crate::{
    CancelOutcome, ChunkWrite, ExecutionClose, ExecutionRecord, History, HistoryError, JanitorWork,
    JobRecord, LockOutcome, ReportOutcome, ServerLaunchPoint, WaveChunk, WaveRecord,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertion that follows.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct HistoryState {
    locks: HashMap<String, (String, Mode)>,
    launch_points: HashMap<(String, u32), Vec<ServerLaunchPoint>>,
    pending_cleanups: std::collections::BTreeSet<String>,
    janitor_leases: HashMap<String, (String, String)>,
    executions: HashMap<String, ExecutionRecord>,
    /// `reportLocation` / `reportError` of the EXECUTION items.
    reports: HashMap<String, ReportOutcome>,
    waves: HashMap<(String, u32), WaveRecord>,
    jobs: BTreeMap<(String, String), JobRecord>,
    failures: HashMap<&'static str, VecDeque<HistoryError>>,
}

/// The history in memory, with the same conditional-write rules as [`crate::DynamoHistory`].
#[derive(Clone, Default)]
pub struct MemoryHistory {
    state: Arc<Mutex<HistoryState>>,
}

impl MemoryHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `op` call fails with `err` (op: the trait method's name).
    pub fn fail_next(&self, op: &'static str, err: HistoryError) {
        lock(&self.state)
            .failures
            .entry(op)
            .or_default()
            .push_back(err);
    }

    pub fn lock_holder(&self, plan: &str) -> Option<String> {
        lock(&self.state).locks.get(plan).map(|(h, _)| h.clone())
    }

    /// The lock held by `holder`, a DRILL.
    pub fn set_lock_holder(&self, plan: &str, holder: &str) {
        self.set_lock(plan, holder, Mode::Drill);
    }

    pub fn set_lock(&self, plan: &str, holder: &str, mode: Mode) {
        lock(&self.state)
            .locks
            .insert(plan.to_string(), (holder.to_string(), mode));
    }

    pub fn execution(&self, id: &str) -> Option<ExecutionRecord> {
        lock(&self.state).executions.get(id).cloned()
    }

    pub fn wave(&self, id: &str, index: u32) -> Option<WaveRecord> {
        lock(&self.state)
            .waves
            .get(&(id.to_string(), index))
            .cloned()
    }

    pub fn job_records(&self, id: &str) -> Vec<JobRecord> {
        lock(&self.state)
            .jobs
            .iter()
            .filter(|((e, _), _)| e == id)
            .map(|(_, j)| j.clone())
            .collect()
    }

    /// A wave's recorded launch points.
    pub fn launch_points_of(&self, id: &str, index: u32) -> Vec<ServerLaunchPoint> {
        lock(&self.state)
            .launch_points
            .get(&(id.to_string(), index))
            .cloned()
            .unwrap_or_default()
    }

    /// Forgets a wave's record (as if the write had been lost).
    pub fn forget_wave(&self, id: &str, index: u32) {
        lock(&self.state).waves.remove(&(id.to_string(), index));
    }

    fn injected(&self, op: &'static str) -> Result<(), HistoryError> {
        match lock(&self.state)
            .failures
            .get_mut(op)
            .and_then(VecDeque::pop_front)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl History for MemoryHistory {
    async fn acquire_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        _now: &str,
    ) -> Result<LockOutcome, HistoryError> {
        self.injected("acquire_lock")?;
        let mut state = lock(&self.state);
        match state.locks.get(plan) {
            Some((holder, held_mode)) if holder != execution_id => Ok(LockOutcome::HeldBy {
                holder: holder.clone(),
                mode: *held_mode,
            }),
            _ => {
                state
                    .locks
                    .insert(plan.to_string(), (execution_id.to_string(), mode));
                Ok(LockOutcome::Acquired)
            }
        }
    }

    async fn take_over_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        previous: &str,
        _now: &str,
    ) -> Result<bool, HistoryError> {
        self.injected("take_over_lock")?;
        let mut state = lock(&self.state);
        if state.locks.get(plan).map(|(h, _)| h.as_str()) == Some(previous) {
            state
                .locks
                .insert(plan.to_string(), (execution_id.to_string(), mode));
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn record_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
        mut points: Vec<ServerLaunchPoint>,
    ) -> Result<(), HistoryError> {
        self.injected("record_launch_points")?;
        points.sort_by(|a, b| a.server_id.cmp(&b.server_id));
        lock(&self.state)
            .launch_points
            .insert((execution_id.to_string(), wave_index), points);
        Ok(())
    }

    async fn launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Vec<ServerLaunchPoint>, HistoryError> {
        self.injected("launch_points")?;
        Ok(lock(&self.state)
            .launch_points
            .get(&(execution_id.to_string(), wave_index))
            .cloned()
            .unwrap_or_default())
    }

    async fn recent_executions(
        &self,
        plan: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, HistoryError> {
        self.injected("recent_executions")?;
        let mut of_plan: Vec<ExecutionRecord> = lock(&self.state)
            .executions
            .values()
            .filter(|r| r.plan_name == plan)
            .cloned()
            .collect();
        of_plan.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        of_plan.truncate(limit);
        Ok(of_plan)
    }

    async fn running_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>, HistoryError> {
        self.injected("running_executions")?;
        let mut running: Vec<ExecutionRecord> = lock(&self.state)
            .executions
            .values()
            .filter(|r| r.status == ExecutionStatus::Running)
            .cloned()
            .collect();
        running.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        running.truncate(limit);
        Ok(running)
    }

    async fn claim_for_janitor(
        &self,
        execution_id: &str,
        work: JanitorWork,
        worker: &str,
        now: &str,
        until: &str,
    ) -> Result<bool, HistoryError> {
        self.injected("claim_for_janitor")?;
        let mut state = lock(&self.state);
        let wanted = state
            .executions
            .get(execution_id)
            .is_some_and(|r| match work {
                JanitorWork::EndedRun => r.status == ExecutionStatus::Running,
                JanitorWork::PendingCleanup => r.cleanup == Some(CleanupStatus::Pending),
            });
        if !wanted {
            return Ok(false);
        }
        let free = match state.janitor_leases.get(execution_id) {
            None => true,
            Some((holder, lease)) => lease.as_str() < now || holder == worker,
        };
        if free {
            state.janitor_leases.insert(
                execution_id.to_string(),
                (worker.to_string(), until.to_string()),
            );
        }
        Ok(free)
    }

    async fn release_lock(&self, plan: &str, execution_id: &str) -> Result<bool, HistoryError> {
        self.injected("release_lock")?;
        let mut state = lock(&self.state);
        if state.locks.get(plan).map(|(h, _)| h.as_str()) == Some(execution_id) {
            state.locks.remove(plan);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn create_execution(&self, record: ExecutionRecord) -> Result<(), HistoryError> {
        self.injected("create_execution")?;
        lock(&self.state)
            .executions
            .entry(record.execution_id.clone())
            .or_insert(record);
        Ok(())
    }

    async fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>, HistoryError> {
        self.injected("get_execution")?;
        Ok(self.execution(id))
    }

    async fn close_execution(&self, c: ExecutionClose) -> Result<(), HistoryError> {
        self.injected("close_execution")?;
        let mut state = lock(&self.state);
        // An upsert, as DynamoDB's UpdateItem: what the record has is kept where the close
        // says "if not set".
        let r = state
            .executions
            .entry(c.execution_id.clone())
            .or_insert_with(|| {
                ExecutionRecord::new(
                    c.execution_id.clone(),
                    c.execution_name.clone(),
                    c.plan_name.clone(),
                    c.status,
                    c.started_at.clone(),
                )
            });
        r.pending_gate = None;
        if c.preempted_by.is_some() {
            r.preempted_by = c.preempted_by;
        }
        if r.mode.is_none() {
            r.mode = c.mode;
        }
        r.status = c.status;
        r.ended_at = Some(c.ended_at);
        if c.error.is_some() {
            r.error = c.error;
        }
        if c.cause.is_some() {
            r.cause = c.cause;
        }
        r.wave_statuses = c.wave_statuses;
        Ok(())
    }

    async fn record_terminate_job(
        &self,
        id: &str,
        job_id: &str,
        instances: Vec<String>,
    ) -> Result<(), HistoryError> {
        self.injected("record_terminate_job")?;
        let mut state = lock(&self.state);
        let r = state
            .executions
            .get_mut(id)
            .ok_or_else(|| missing_execution(id))?;
        r.terminate_job_ids.push(job_id.to_string());
        r.terminating_instances.extend(instances);
        Ok(())
    }

    async fn set_cleanup(
        &self,
        id: &str,
        status: CleanupStatus,
        error: Option<String>,
    ) -> Result<(), HistoryError> {
        self.injected("set_cleanup")?;
        let mut state = lock(&self.state);
        let r = state
            .executions
            .get_mut(id)
            .ok_or_else(|| missing_execution(id))?;
        r.cleanup = Some(status);
        if error.is_some() {
            r.cleanup_error = error;
        }
        if status == CleanupStatus::Pending {
            state.pending_cleanups.insert(id.to_string());
        } else {
            state.pending_cleanups.remove(id);
        }
        Ok(())
    }

    async fn pending_cleanups(&self, limit: usize) -> Result<Vec<String>, HistoryError> {
        self.injected("pending_cleanups")?;
        Ok(lock(&self.state)
            .pending_cleanups
            .iter()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn get_wave(&self, id: &str, index: u32) -> Result<Option<WaveRecord>, HistoryError> {
        self.injected("get_wave")?;
        Ok(self.wave(id, index))
    }

    async fn plan_wave(&self, wave: WaveRecord) -> Result<WaveRecord, HistoryError> {
        self.injected("plan_wave")?;
        let mut state = lock(&self.state);
        let key = (wave.execution_id.clone(), wave.index);
        let stored = state.waves.entry(key).or_insert_with(|| WaveRecord {
            status: WaveStatus::Launching,
            job_ids: Vec::new(),
            ended_at: None,
            checks: 0,
            reason: String::new(),
            chunks: wave
                .chunks
                .iter()
                .map(|c| WaveChunk {
                    job_id: None,
                    ..c.clone()
                })
                .collect(),
            completion_ms: None,
            ..wave
        });
        Ok(stored.clone())
    }

    async fn plan_retry(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunks: Vec<WaveChunk>,
    ) -> Result<WaveRecord, HistoryError> {
        self.injected("plan_retry")?;
        let mut state = lock(&self.state);
        let wave = state
            .waves
            .get_mut(&(execution_id.to_string(), wave_index))
            .ok_or_else(|| missing_execution(execution_id))?;
        let fresh = chunks
            .iter()
            .all(|c| wave.chunks.iter().all(|w| w.number != c.number));
        if wave.status == WaveStatus::Failed && fresh {
            wave.status = WaveStatus::Launching;
            wave.reason = String::new();
            wave.ended_at = None;
            wave.completion_ms = None;
            wave.chunks
                .extend(chunks.into_iter().map(|c| WaveChunk { job_id: None, ..c }));
            wave.chunks.sort_by_key(|c| c.number);
        }
        Ok(wave.clone())
    }

    async fn record_chunk_job(
        &self,
        execution_id: &str,
        wave_index: u32,
        chunk: u32,
        job_id: &str,
    ) -> Result<ChunkWrite, HistoryError> {
        self.injected("record_chunk_job")?;
        let mut state = lock(&self.state);
        let wave = state
            .waves
            .get_mut(&(execution_id.to_string(), wave_index))
            .ok_or_else(|| HistoryError::conflict("history (chunk job)", "no wave record"))?;
        let planned = wave
            .chunks
            .iter_mut()
            .find(|c| c.number == chunk)
            .ok_or_else(|| {
                HistoryError::Corrupt(format!(
                    "history: wave {wave_index} of {execution_id} has no planned chunk {chunk}"
                ))
            })?;
        match &planned.job_id {
            Some(id) if id == job_id => Ok(ChunkWrite::Written),
            Some(id) => Ok(ChunkWrite::Conflict {
                recorded: id.clone(),
            }),
            None => {
                planned.job_id = Some(job_id.to_string());
                wave.job_ids.push(job_id.to_string());
                Ok(ChunkWrite::Written)
            }
        }
    }

    async fn record_wave_check(
        &self,
        wave: WaveRecord,
        jobs: Vec<JobRecord>,
    ) -> Result<(), HistoryError> {
        self.injected("record_wave_check")?;
        let mut state = lock(&self.state);
        for j in jobs {
            state
                .jobs
                .insert((j.execution_id.clone(), j.job_id.clone()), j);
        }
        let key = (wave.execution_id.clone(), wave.index);
        // The first start time stays (DynamoDB writes it with if_not_exists); the chunk plan and
        // what was learned stay (DynamoDB's update leaves them), and so does a completion time
        // the check does not give.
        let (started_at, chunks, learned, completion_ms) = state.waves.get(&key).map_or_else(
            || {
                (
                    wave.started_at.clone(),
                    wave.chunks.clone(),
                    None,
                    wave.completion_ms,
                )
            },
            |w| {
                (
                    w.started_at.clone(),
                    w.chunks.clone(),
                    w.learned,
                    wave.completion_ms.or(w.completion_ms),
                )
            },
        );
        state.waves.insert(
            key,
            WaveRecord {
                started_at,
                chunks,
                learned,
                completion_ms,
                ..wave
            },
        );
        Ok(())
    }

    async fn list_jobs(&self, id: &str) -> Result<Vec<JobRecord>, HistoryError> {
        self.injected("list_jobs")?;
        Ok(self.job_records(id))
    }

    async fn end_wave(
        &self,
        id: &str,
        wave_index: u32,
        status: WaveStatus,
        reason: &str,
        ended_at: &str,
    ) -> Result<bool, HistoryError> {
        self.injected("end_wave")?;
        let mut state = lock(&self.state);
        let Some(wave) = state.waves.get_mut(&(id.to_string(), wave_index)) else {
            return Ok(false);
        };
        wave.status = status;
        wave.reason = reason.to_string();
        if wave.ended_at.is_none() {
            wave.ended_at = Some(ended_at.to_string());
        }
        Ok(true)
    }

    async fn open_gate(&self, id: &str, gate: PendingGate) -> Result<bool, HistoryError> {
        self.injected("open_gate")?;
        let mut state = lock(&self.state);
        let r = state
            .executions
            .get_mut(id)
            .ok_or_else(|| missing_execution(id))?;
        if r.cancel_requested.is_some() || r.status != ExecutionStatus::Running {
            return Ok(false);
        }
        r.pending_gate = Some(gate);
        Ok(true)
    }

    async fn answer_gate(
        &self,
        id: &str,
        token: &str,
        action: OperatorAction,
    ) -> Result<bool, HistoryError> {
        self.injected("answer_gate")?;
        let mut state = lock(&self.state);
        // A conditional write on a missing item fails its condition, as in DynamoDB.
        let Some(r) = state.executions.get_mut(id) else {
            return Ok(false);
        };
        if r.pending_gate.as_ref().map(|g| g.token.as_str()) != Some(token) {
            return Ok(false);
        }
        r.pending_gate = None;
        r.operator_actions.push(action);
        Ok(true)
    }

    async fn request_cancel(
        &self,
        id: &str,
        action: OperatorAction,
    ) -> Result<CancelOutcome, HistoryError> {
        self.injected("request_cancel")?;
        let mut state = lock(&self.state);
        let Some(r) = state.executions.get_mut(id) else {
            return Ok(CancelOutcome::NotRunning(None));
        };
        if let Some(earlier) = &r.cancel_requested {
            return Ok(CancelOutcome::AlreadyRequested(earlier.clone()));
        }
        if r.status != ExecutionStatus::Running {
            return Ok(CancelOutcome::NotRunning(Some(r.status)));
        }
        r.cancel_requested = Some(action.clone());
        r.operator_actions.push(action);
        Ok(CancelOutcome::Requested)
    }
    async fn record_report(&self, id: &str, outcome: ReportOutcome) -> Result<(), HistoryError> {
        self.injected("record_report")?;
        let mut state = lock(&self.state);
        if !state.executions.contains_key(id) {
            return Err(missing_execution(id));
        }
        state.reports.insert(id.to_owned(), outcome);
        Ok(())
    }

    async fn report_outcome(&self, id: &str) -> Result<Option<ReportOutcome>, HistoryError> {
        self.injected("report_outcome")?;
        Ok(lock(&self.state).reports.get(id).cloned())
    }
}

/// What DynamoDB answers for a conditional write on an execution record that does not exist.
fn missing_execution(id: &str) -> HistoryError {
    HistoryError::Corrupt(format!("history: no execution record for {id}"))
}
