//! The finish task: closes a run that reached its end (outcome, per-wave summary, history),
//! cleans up a drill, releases the plan's lock.

use drs_waves_contract::{
    ExecutionStatus, FinishInput, FinishOutput, Outcome, WaveState, WaveStatus, WaveSummary,
};
use tracing::info;

use super::{Handlers, wave_statuses};
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::DrsAccounts;
use drs_waves_history::{ExecutionClose, History};
use drs_waves_rules::{format_time, parse_time, seconds_between};

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Closes a run that reached its end: outcome, per-wave summary, history, drill clean-up,
    /// lock release.
    pub async fn finish(&self, mut input: FinishInput) -> Result<FinishOutput, TaskError> {
        // A record this task closed itself (a retry after its answer was lost) is closed
        // again, the same way; any other closed record is a redrive or a stopped run.
        let recorded = self.history.get_execution(&input.run.execution_id).await?;
        if let Some(r) = recorded.as_ref().filter(|r| {
            !matches!(
                r.status,
                ExecutionStatus::Succeeded | ExecutionStatus::SucceededWithFailures
            )
        }) && let Some(refused) = super::operator::refusal(r)
        {
            return Err(refused);
        }
        self.end_open_waves(&input.run.execution_id, &mut input.waves, None)
            .await?;
        let run = &input.run;
        let now = self.now();
        let mut waves: Vec<&WaveState> = input.waves.values().collect();
        waves.sort_by_key(|w| w.index);
        let outcome = if waves.iter().all(|w| w.status == WaveStatus::Succeeded) {
            Outcome::Succeeded
        } else {
            Outcome::SucceededWithFailures
        };
        let summaries = waves
            .iter()
            .map(|w| {
                let start = parse_time(&w.started_at);
                let end = parse_time(&w.ended_at).unwrap_or(now);
                WaveSummary {
                    wave: w.wave.clone(),
                    status: w.status,
                    job_ids: w.job_ids.clone(),
                    duration_seconds: start.map(|s| seconds_between(s, end)).unwrap_or(0),
                    servers: w.servers,
                }
            })
            .collect();
        // The approvals and decisions of the run, for the execution's output.
        let operator_actions = self
            .history
            .get_execution(&run.execution_id)
            .await?
            .map(|r| r.operator_actions)
            .unwrap_or_default();
        let status = match outcome {
            Outcome::Succeeded => ExecutionStatus::Succeeded,
            Outcome::SucceededWithFailures => ExecutionStatus::SucceededWithFailures,
        };
        self.history
            .close_execution(ExecutionClose {
                execution_id: run.execution_id.clone(),
                execution_name: run.execution_name.clone(),
                plan_name: run.plan_name.clone(),
                mode: Some(run.mode),
                started_at: run.started_at.clone(),
                status,
                ended_at: format_time(now),
                error: None,
                cause: None,
                preempted_by: None,
                wave_statuses: wave_statuses(&input.waves),
            })
            .await?;
        // The lock stays held while the drill's instances are terminated, so that the next
        // execution does not meet them in active jobs. A clean-up that cannot finish is left
        // PENDING (the janitor retries it): it never fails a drill whose waves succeeded.
        let cleanup = if run.mode == drs_waves_contract::Mode::Failback {
            self.stop_and_terminate_home(run, &waves).await
        } else {
            self.cleanup_drill(
                run,
                waves
                    .iter()
                    .flat_map(|w| w.job_ids.iter().cloned())
                    .collect(),
            )
            .await
        };
        self.history
            .release_lock(&run.plan_name, &run.execution_id)
            .await?;
        if outcome == Outcome::SucceededWithFailures
            || waves.iter().any(|w| w.servers.optional_failed > 0)
        {
            crate::metrics::emit(
                crate::metrics::EXECUTIONS_SUCCEEDED_WITH_FAILURES,
                &run.plan_name,
                run.mode,
            );
        }
        self.write_report(&run.execution_id).await;
        info!(outcome = status.as_str(), cleanup = cleanup.status.as_str(), terminate_jobs = ?cleanup.terminate_job_ids, "execution finished");
        Ok(FinishOutput {
            outcome,
            waves: summaries,
            terminate_job_ids: cleanup.terminate_job_ids,
            cleanup: cleanup.status,
            cleanup_error: cleanup.error,
            operator_actions,
        })
    }
}
