//! [`MemoryHistory`]: the history in memory, for the tests of the crates above (the `fake`
//! feature). It keeps the same conditional-write rules as [`crate::DynamoHistory`]: both pass
//! the one conformance suite ([`crate::conformance`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use drs_waves_contract::{CleanupStatus, ExecutionStatus, Mode, OperatorAction, PendingGate};

use crate::roles::{Gates, Janitor, RunLocks};
use crate::{
    ExecutionRecord, HistoryError, JanitorWork, JobRecord, LockOutcome, ReportOutcome,
    ServerLaunchPoint, WaveRecord,
};

mod executions;
mod sizes;
mod waves;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertion that follows.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct HistoryState {
    locks: HashMap<String, (String, Mode)>,
    launch_points: HashMap<(String, u32), Vec<ServerLaunchPoint>>,
    health: HashMap<(String, u32), crate::WaveHealthRecord>,
    networks: HashMap<(String, String), crate::NetworkRecord>,
    pending_cleanups: std::collections::BTreeSet<String>,
    janitor_leases: HashMap<String, (String, String)>,
    executions: HashMap<String, ExecutionRecord>,
    /// `reportLocation` / `reportError` of the EXECUTION items.
    reports: HashMap<String, ReportOutcome>,
    waves: HashMap<(String, u32), WaveRecord>,
    jobs: BTreeMap<(String, String), JobRecord>,
    /// Each TERMINATE job's instances by (execution, job), as the adapter's TERMINATE items
    /// keep them (the record holds them all, in order).
    terminate_jobs: BTreeMap<(String, String), Vec<String>>,
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

impl RunLocks for MemoryHistory {
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
}

impl Gates for MemoryHistory {
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
        r.put_gate(gate);
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
        if r.gate_with_token(token).is_none() {
            return Ok(false);
        }
        r.pending_gates.retain(|g| g.token != token);
        r.operator_actions.push(action);
        Ok(true)
    }
}

impl Janitor for MemoryHistory {
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
        // A job recorded again (a retried task) names the same instances: kept once, as the
        // adapter keeps one TERMINATE item per job.
        if !r.terminate_job_ids.iter().any(|j| j == job_id) {
            r.terminating_instances.extend(instances.iter().cloned());
        }
        r.terminate_job_ids.push(job_id.to_string());
        state
            .terminate_jobs
            .entry((id.to_string(), job_id.to_string()))
            .or_insert(instances);
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
}

/// What DynamoDB answers for a conditional write on an execution record that does not exist.
fn missing_execution(id: &str) -> HistoryError {
    HistoryError::Corrupt(format!("history: no execution record for {id}"))
}
