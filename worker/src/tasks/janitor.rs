//! The janitor: finds executions that ended outside the machine's own path (StopExecution from
//! the console, the machine's TimeoutSeconds, a record-failure that itself failed) while their
//! history still says RUNNING. Nothing inside the machine runs after such an end, so the worker
//! tidies up: the drill's instances terminated (when its plan terminates them), the run marked
//! ABORTED, TIMED_OUT or FAILED with its end time, and the plan's lock released.
//!
//! Any worker may run it; a conditional write (a lease on the execution record) makes one
//! worker at a time tidy an execution, and a crashed janitor's lease simply expires.

use drs_waves_contract::{CleanupStatus, ErrorName, ExecutionStatus, Mode, WaveStatus};
use tracing::{info, warn};

use super::Handlers;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::DrsAccounts;
use drs_waves_history::{ExecutionClose, ExecutionRecord, History, JanitorWork};
use drs_waves_rules::format_time;

/// RUNNING records looked at per round (newest first).
const RUNNING_PER_ROUND: usize = 100;

/// How long a janitor's claim on an execution lasts.
const LEASE: time::Duration = time::Duration::minutes(5);

/// What one round did to one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tidied {
    pub execution_id: String,
    pub status: ExecutionStatus,
    pub terminate_job_ids: Vec<String>,
}

/// The history status of an execution that Step Functions reports ended (None: still running).
fn ended_status(sfn_status: Option<&str>) -> Option<ExecutionStatus> {
    match sfn_status {
        Some("RUNNING") => None,
        Some("TIMED_OUT") => Some(ExecutionStatus::TimedOut),
        Some("FAILED") => Some(ExecutionStatus::Failed),
        Some("SUCCEEDED") => Some(ExecutionStatus::Succeeded),
        // ABORTED, PENDING_REDRIVE, or an execution Step Functions no longer knows.
        _ => Some(ExecutionStatus::Aborted),
    }
}

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// One round: every RUNNING history record whose execution has ended is tidied up. An
    /// execution whose clean-up cannot finish yet (its launch jobs still run) is left for the
    /// next round. Errors on one execution do not stop the round.
    pub async fn tidy_ended_executions(&self, worker: &str) -> Result<Vec<Tidied>, TaskError> {
        let mut done = Vec::new();
        // Clean-ups a finish or record-failure left PENDING.
        for id in self.history.pending_cleanups(RUNNING_PER_ROUND).await? {
            let Some(record) = self.history.get_execution(&id).await? else {
                continue;
            };
            let now = self.now();
            if !self
                .history
                .claim_for_janitor(
                    &id,
                    JanitorWork::PendingCleanup,
                    worker,
                    &format_time(now),
                    &format_time(now + LEASE),
                )
                .await?
            {
                continue;
            }
            // A FAILBACK's clean-up is StopFailback and terminate of what came home, never a
            // drill's.
            let cleanup = if record.mode == Some(Mode::Failback) {
                let home = self.waves_home(&record).await?;
                self.finish_failback_cleanup(&id, &home).await
            } else {
                self.clean_up_recording(&id, &record.started_at, Vec::new())
                    .await
            };
            info!(execution = %id, cleanup = cleanup.status.as_str(), terminate_jobs = ?cleanup.terminate_job_ids, "janitor: retried a pending clean-up");
            if cleanup.status == CleanupStatus::Done {
                done.push(Tidied {
                    execution_id: id,
                    status: record.status,
                    terminate_job_ids: cleanup.terminate_job_ids,
                });
            }
        }
        for record in self.history.running_executions(RUNNING_PER_ROUND).await? {
            match self.tidy(worker, &record).await {
                Ok(Some(t)) => done.push(t),
                Ok(None) => {}
                Err(e) => {
                    warn!(execution = %record.execution_id, error = %e, "janitor: could not tidy up an ended execution; next round retries");
                }
            }
        }
        Ok(done)
    }

    /// The waves of a FAILBACK that came home (SUCCEEDED in the history).
    async fn waves_home(&self, record: &ExecutionRecord) -> Result<Vec<u32>, TaskError> {
        let mut home = Vec::new();
        for index in 1..=record.wave_count {
            if let Some(wave) = self.history.get_wave(&record.execution_id, index).await?
                && wave.status == WaveStatus::Succeeded
            {
                home.push(index);
            }
        }
        Ok(home)
    }

    async fn tidy(
        &self,
        worker: &str,
        record: &ExecutionRecord,
    ) -> Result<Option<Tidied>, TaskError> {
        let id = &record.execution_id;
        let info = self.executions.execution(id).await?;
        let Some(status) = ended_status(info.as_ref().map(|i| i.status.as_str())) else {
            return Ok(None);
        };
        let now = self.now();
        if !self
            .history
            .claim_for_janitor(
                id,
                JanitorWork::EndedRun,
                worker,
                &format_time(now),
                &format_time(now + LEASE),
            )
            .await?
        {
            return Ok(None);
        }
        // An operator's cancel that Step Functions carried out by StopExecution (the execution
        // sat at a gate whose task never recorded its token): recorded as the cancel it was,
        // and a drill is cleaned up whatever its plan says of its instances.
        let cancel = record
            .cancel_requested
            .as_ref()
            .filter(|_| status == ExecutionStatus::Aborted);
        let status = if cancel.is_some() {
            ExecutionStatus::Cancelled
        } else {
            status
        };
        let mut terminate_job_ids = Vec::new();
        if record.mode == Some(Mode::Drill)
            && (record.terminate_drill_instances || cancel.is_some())
        {
            let launching: Vec<String> = self
                .jobs_of_all(id, &record.started_at, now)
                .await?
                .into_iter()
                .filter(|j| j.status.is_active() && j.job_type.as_deref() != Some("TERMINATE"))
                .map(|j| j.id)
                .collect();
            if !launching.is_empty() {
                info!(execution = %id, jobs = ?launching, "janitor: the ended drill's launch jobs still run; cleaning up next round");
                return Ok(None);
            }
            let cleanup = self
                .clean_up_recording(id, &record.started_at, Vec::new())
                .await;
            if cleanup.status != CleanupStatus::Done {
                return Err(TaskError::transient("drill clean-up", cleanup.error));
            }
            terminate_job_ids = cleanup.terminate_job_ids;
        }
        let ended_at = info
            .and_then(|i| i.stopped_at)
            .unwrap_or_else(|| format_time(now));
        self.history
            .close_execution(ExecutionClose {
                execution_id: id.clone(),
                execution_name: record.execution_name.clone(),
                plan_name: record.plan_name.clone(),
                mode: record.mode,
                started_at: record.started_at.clone(),
                status,
                ended_at,
                error: Some(match cancel {
                    Some(_) => ErrorName::Cancelled.as_str().to_owned(),
                    None => format!("States.{}", status.as_str()),
                }),
                cause: Some(match cancel {
                    Some(action) => super::operator::cancel_cause(action),
                    None => format!(
                        "the execution ended outside the state machine's own path (Step Functions status {}); \
                         the worker's janitor recorded it",
                        status.as_str()
                    ),
                }),
                wave_statuses: record.wave_statuses.clone(),
                preempted_by: None,
            })
            .await?;
        let released = self.history.release_lock(&record.plan_name, id).await?;
        warn!(execution = %id, plan = %record.plan_name, status = status.as_str(), lock_released = released,
              terminate_jobs = ?terminate_job_ids, "janitor: recorded an execution that ended outside the state machine");
        Ok(Some(Tidied {
            execution_id: id.clone(),
            status,
            terminate_job_ids,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_functions_statuses_map_to_history_statuses() {
        assert_eq!(ended_status(Some("RUNNING")), None);
        assert_eq!(
            ended_status(Some("ABORTED")),
            Some(ExecutionStatus::Aborted)
        );
        assert_eq!(
            ended_status(Some("TIMED_OUT")),
            Some(ExecutionStatus::TimedOut)
        );
        assert_eq!(ended_status(Some("FAILED")), Some(ExecutionStatus::Failed));
        assert_eq!(ended_status(None), Some(ExecutionStatus::Aborted));
    }
}
