//! The record-failure task: records a failed execution from whatever the state holds
//! (preflight may never have run), cleans up a drill, releases the plan's lock.
use std::collections::BTreeMap;

use drs_waves_contract::{
    CaughtError, CleanupStatus, ErrorName, ExecutionStatus, MAX_CAUSE_CHARS, MAX_ERROR_CHARS,
    RecordFailureInput, RecordFailureOutput, RunContext, WaveState, WaveStatus, paths,
};
use tracing::warn;

use super::cleanup::Cleanup;
use super::{Handlers, wave_statuses};
use crate::error::{TaskError, truncate_chars};
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::DrsAccounts;
use drs_waves_history::{ExecutionClose, History, WaveRecord};
use drs_waves_rules::format_time;

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Records a failed execution from whatever the state holds (preflight may never have run),
    /// cleans up a drill if asked, releases the lock.
    pub async fn record_failure(
        &self,
        input: RecordFailureInput,
    ) -> Result<RecordFailureOutput, TaskError> {
        let FailedState {
            run,
            mut waves,
            error,
            cause,
        } = FailedState::read(&input.state);
        if ErrorName::from_str_name(&error) == Some(ErrorName::ExecutionClosed) {
            // A redriven (or stopped) execution whose record was already closed: that record,
            // its clean-up and the plan's lock belong to the run that closed it.
            warn!(%error, %cause, "the execution's record is closed: left as it is");
            return Ok(RecordFailureOutput {
                error: truncate_chars(&error, MAX_ERROR_CHARS),
                cause: truncate_chars(&cause, MAX_CAUSE_CHARS),
                terminate_job_ids: Vec::new(),
                cleanup: CleanupStatus::NotNeeded,
                cleanup_error: String::new(),
                operator_actions: Vec::new(),
            });
        }
        let error = truncate_chars(&error, MAX_ERROR_CHARS);
        let cause = truncate_chars(&cause, MAX_CAUSE_CHARS);
        if let Some(run) = &run {
            self.add_waves_of_stopped_branches(run, &mut waves).await?;
        }
        // An operator's cancel or stop ends the run as they asked, not as a failure; a drill
        // is then cleaned up whatever the plan says of its instances (the operator wants it
        // gone), a recovery never.
        let status = match ErrorName::from_str_name(&error) {
            Some(ErrorName::Cancelled) => ExecutionStatus::Cancelled,
            Some(ErrorName::StoppedByOperator) => ExecutionStatus::Stopped,
            _ => ExecutionStatus::Failed,
        };
        let operator_ended = status != ExecutionStatus::Failed;
        if run.is_some() {
            let why = match status {
                ExecutionStatus::Cancelled => "the execution was cancelled".to_string(),
                ExecutionStatus::Stopped => "an operator stopped the execution".to_string(),
                _ => format!("the execution failed ({error})"),
            };
            self.end_open_waves(&input.execution.id, &mut waves, Some(&why))
                .await?;
        }
        let execution = &input.execution;
        self.history
            .close_execution(ExecutionClose {
                execution_id: execution.id.clone(),
                execution_name: execution.name.clone(),
                plan_name: input.plan_name.clone(),
                mode: run.as_ref().map(|r| r.mode),
                started_at: run
                    .as_ref()
                    .map(|r| r.started_at.clone())
                    .unwrap_or_else(|| execution.start_time.clone()),
                status,
                ended_at: format_time(self.now()),
                error: Some(error.clone()),
                cause: Some(cause.clone()),
                preempted_by: None,
                wave_statuses: wave_statuses(&waves),
            })
            .await?;
        // Clean-up never fails this task (a PENDING one is retried by the janitor), so the
        // plan's lock is always released.
        let cleanup = self
            .clean_up_after(run.as_ref(), &waves, operator_ended)
            .await;
        self.history
            .release_lock(&input.plan_name, &execution.id)
            .await?;
        let operator_actions = self
            .history
            .get_execution(&execution.id)
            .await?
            .map(|r| r.operator_actions)
            .unwrap_or_default();
        self.write_report(&execution.id).await;
        warn!(%error, %cause, status = status.as_str(), "execution failed");
        Ok(RecordFailureOutput {
            error,
            cause,
            terminate_job_ids: cleanup.terminate_job_ids,
            cleanup: cleanup.status,
            cleanup_error: cleanup.error,
            operator_actions,
        })
    }

    /// Waves the state does not hold but the history does: a failure in one branch of a
    /// Parallel state stops the other branches, and the state the failure path gets is the one
    /// from before the Parallel state. Their launches are then ended (INTERRUPTED) and cleaned
    /// up with the others, never left LAUNCHING.
    async fn add_waves_of_stopped_branches(
        &self,
        run: &RunContext,
        waves: &mut BTreeMap<String, WaveState>,
    ) -> Result<(), TaskError> {
        for index in 1..=run.wave_count {
            let key = paths::wave_key(index);
            if waves.contains_key(&key) {
                continue;
            }
            if let Some(record) = self.history.get_wave(&run.execution_id, index).await? {
                waves.insert(key, wave_state_of(record));
            }
        }
        Ok(())
    }

    /// A drill's clean-up at the end of a failed run (whatever the plan says of its instances
    /// when an operator ended it); nothing without a run (preflight never ran).
    async fn clean_up_after(
        &self,
        run: Option<&RunContext>,
        waves: &BTreeMap<String, WaveState>,
        operator_ended: bool,
    ) -> Cleanup {
        let Some(run) = run else {
            return Cleanup {
                status: CleanupStatus::NotNeeded,
                terminate_job_ids: Vec::new(),
                error: String::new(),
            };
        };
        let run = RunContext {
            recovery_execution_id: None,
            stop_and_terminate: false,
            terminate_drill_instances: run.terminate_drill_instances || operator_ended,
            ..run.clone()
        };
        let job_ids = waves
            .values()
            .flat_map(|w| w.job_ids.iter().cloned())
            .collect();
        self.cleanup_drill(&run, job_ids).await
    }
}

/// A wave as its history record has it, in the shape the state holds it.
fn wave_state_of(record: WaveRecord) -> WaveState {
    WaveState {
        wave: record.name,
        index: record.index,
        status: record.status,
        job_ids: record.job_ids,
        started_at: record.started_at,
        ended_at: record.ended_at.unwrap_or_default(),
        checks: record.checks,
        next_wait_seconds: 0,
        servers: record.servers,
        reason: record.reason,
        health: None,
        recovered: None,
    }
}

/// What a failed execution's state holds: whatever of the run, the waves and the caught error
/// got there (preflight may never have run).
struct FailedState {
    run: Option<RunContext>,
    waves: BTreeMap<String, WaveState>,
    error: String,
    cause: String,
}

impl FailedState {
    fn read(state: &serde_json::Value) -> FailedState {
        let run: Option<RunContext> = state
            .get("run")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let waves: BTreeMap<String, WaveState> = state
            .get("waves")
            .and_then(|v| v.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        let caught: Option<CaughtError> = state
            .get("error")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let failed_wave = {
            let mut w: Vec<&WaveState> = waves
                .values()
                .filter(|w| w.status == WaveStatus::Failed)
                .collect();
            w.sort_by_key(|w| w.index);
            w.first().map(|w| w.reason.clone())
        };
        let (error, cause) = match (caught, failed_wave) {
            (Some(c), _) => (c.error, c.cause),
            (None, Some(reason)) => (ErrorName::WaveFailed.as_str().to_string(), reason),
            (None, None) => (
                ErrorName::Internal.as_str().to_string(),
                "the execution failed without an error in its state".to_string(),
            ),
        };
        FailedState {
            run,
            waves,
            error,
            cause,
        }
    }
}
