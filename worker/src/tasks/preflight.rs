//! The preflight task: validates the execution input, takes the plan's run lock, resolves and
//! checks every wave's servers against DRS, and creates the history record.
use std::collections::BTreeMap;

use drs_waves_contract::*;
use tracing::{info, warn};

use super::Handlers;
use crate::drs::*;
use crate::error::TaskError;
use crate::history::*;
use crate::rules::*;
use crate::sfn::ExecutionLookup;

impl<D: Drs, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Validates the input, takes the run lock, resolves and checks every wave and creates the
    /// history record. A failed check releases the lock again, so nothing outlives a refusal.
    pub async fn preflight(&self, input: PreflightInput) -> Result<RunContext, TaskError> {
        let exec_input: ExecutionInput = serde_json::from_value(input.input.clone()).map_err(|e| {
            TaskError::InvalidInput(format!(
                "execution input {}: {e}; expected {{\"mode\": \"DRILL\"}} or {{\"mode\": \"RECOVERY\", \"confirm\": \"{}\"}}",
                input.input, input.plan.name
            ))
        })?;
        check_confirmation(
            &input.plan.name,
            exec_input.mode,
            exec_input.confirm.as_deref(),
        )?;
        let plan = &input.plan;
        let execution = &input.execution;
        let now = format_time(self.now());
        // The lock comes before the server checks: while another execution of the plan runs,
        // its servers are in active jobs, and "the plan is already running" is the answer an
        // operator can act on, not a list of busy servers.
        self.take_lock(&plan.name, &execution.id, &now).await?;
        let checked = self.check_plan_servers(plan).await;
        let per_wave = match checked {
            Ok(per_wave) => per_wave,
            Err(e) => {
                // Nothing may outlive a failed preflight; record-failure releases it too, but
                // it may never run (its own task can fail).
                if let Err(release) = self.history.release_lock(&plan.name, &execution.id).await {
                    warn!(plan = %plan.name, error = %release, "could not release the run lock after a failed preflight");
                }
                return Err(e);
            }
        };
        let server_count =
            u32::try_from(per_wave.iter().map(Vec::len).sum::<usize>()).unwrap_or(u32::MAX);
        let wave_count = u32::try_from(plan.waves.len()).unwrap_or(u32::MAX);
        self.history
            .create_execution(ExecutionRecord {
                execution_id: execution.id.clone(),
                execution_name: execution.name.clone(),
                plan_name: plan.name.clone(),
                mode: Some(exec_input.mode),
                status: ExecutionStatus::Running,
                started_at: execution.start_time.clone(),
                ended_at: None,
                error: None,
                cause: None,
                wave_count,
                server_count,
                wave_statuses: BTreeMap::new(),
                terminate_job_ids: None,
            })
            .await?;
        info!(plan = %plan.name, mode = exec_input.mode.as_str(), waves = wave_count, servers = server_count, "preflight passed");
        Ok(RunContext {
            execution_id: execution.id.clone(),
            execution_name: execution.name.clone(),
            plan_name: plan.name.clone(),
            mode: exec_input.mode,
            confirm: exec_input.confirm,
            started_at: execution.start_time.clone(),
            terminate_drill_instances: plan.terminate_drill_instances,
            wave_count,
            server_count,
        })
    }

    /// Every DRS job this execution made, found by the execution tag it put on them (DRS has no
    /// Resolves every wave against DRS and checks it; every problem is named at once.
    async fn check_plan_servers(&self, plan: &PlanSpec) -> Result<Vec<Vec<String>>, TaskError> {
        let servers = self.drs.describe_source_servers().await?;
        let jobs = self.drs.describe_jobs(JobFilter::default()).await?;
        let (per_wave, problems) = preflight_problems(plan, &servers, &jobs, &self.limits);
        if problems.is_empty() {
            Ok(per_wave)
        } else {
            Err(TaskError::PreflightFailed(problems))
        }
    }

    /// The plan's run lock. A lock held by an execution that is no longer RUNNING (stopped,
    /// failed or timed out before its finish step) is taken over.
    async fn take_lock(&self, plan: &str, execution_id: &str, now: &str) -> Result<(), TaskError> {
        let holder = match self.history.acquire_lock(plan, execution_id, now).await? {
            LockOutcome::Acquired => return Ok(()),
            LockOutcome::HeldBy(holder) if holder == execution_id => return Ok(()),
            LockOutcome::HeldBy(holder) => holder,
        };
        match self.executions.execution_status(&holder).await? {
            Some(status) if status == "RUNNING" => Err(TaskError::PlanAlreadyRunning(format!(
                "plan '{plan}' is already running in execution {holder}: wait for it to end, or stop it, then start again"
            ))),
            status => {
                let status = status.unwrap_or_else(|| "gone".to_string());
                if self
                    .history
                    .take_over_lock(plan, execution_id, &holder, now)
                    .await?
                {
                    warn!(plan, previous_holder = %holder, previous_status = %status, "took over a run lock left by an execution that is no longer running");
                    Ok(())
                } else {
                    Err(TaskError::transient(
                        "DynamoDB (run lock)",
                        format!(
                            "the lock of plan '{plan}' changed hands while taking it over from {holder}"
                        ),
                    ))
                }
            }
        }
    }
}
