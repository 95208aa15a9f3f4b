//! Drill clean-up: terminates the recovery instances a drill launched.
use std::collections::BTreeSet;

use drs_waves_contract::*;
use tracing::info;

use super::Handlers;
use crate::drs::*;
use crate::error::TaskError;
use crate::history::*;
use crate::rules::*;
use crate::sfn::ExecutionLookup;

impl<D: Drs, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Terminates the recovery instances this execution's jobs launched (found by tag and by
    /// the job IDs in the state). Done once: a retry returns the TERMINATE jobs recorded.
    pub(super) async fn cleanup_drill(
        &self,
        run: &RunContext,
        known_job_ids: Vec<String>,
    ) -> Result<Vec<String>, TaskError> {
        if run.mode != Mode::Drill {
            return Ok(Vec::new());
        }
        self.terminate_instances_of(&run.execution_id, &run.started_at, known_job_ids)
            .await
    }

    /// Terminates the recovery instances an execution's launch jobs made (found by its tag
    /// and by `known_job_ids`), in TERMINATE jobs within the per-job limit, and records them.
    /// Done once: a retry returns the TERMINATE jobs recorded.
    pub(super) async fn terminate_instances_of(
        &self,
        execution_id: &str,
        started_at: &str,
        known_job_ids: Vec<String>,
    ) -> Result<Vec<String>, TaskError> {
        if let Some(record) = self.history.get_execution(execution_id).await?
            && let Some(done) = record.terminate_job_ids
        {
            return Ok(done);
        }
        let now = self.now();
        let mut jobs = self.jobs_of(execution_id, started_at, now).await?;
        let found: BTreeSet<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let missing: Vec<String> = known_job_ids
            .into_iter()
            .filter(|id| !found.contains(id))
            .collect();
        if !missing.is_empty() {
            jobs.extend(
                self.drs
                    .describe_jobs(JobFilter {
                        job_ids: missing,
                        from_date: None,
                    })
                    .await?,
            );
        }
        let mut instances = BTreeSet::new();
        for job in jobs
            .iter()
            .filter(|j| j.job_type.as_deref() != Some("TERMINATE"))
        {
            instances.extend(
                job.servers
                    .iter()
                    .filter_map(|s| s.recovery_instance_id.clone()),
            );
        }
        for record in self.history.list_jobs(execution_id).await? {
            instances.extend(
                record
                    .servers
                    .into_values()
                    .filter_map(|s| s.recovery_instance_id),
            );
        }
        let instances: Vec<String> = instances.into_iter().collect();
        let mut terminate_jobs = Vec::new();
        // A TERMINATE job is a job: it holds at most the per-job number of servers, whatever
        // the API's array limit.
        let per_job = MAX_TERMINATE_PER_CALL.min(self.limits.max_servers_per_job);
        for chunk in instances.chunks(per_job) {
            let job = self
                .drs
                .terminate_recovery_instances(chunk.to_vec())
                .await?;
            if job.id.is_empty() {
                return Err(TaskError::Internal(
                    "DRS TerminateRecoveryInstances answered without a jobID; check the drill's recovery instances in DRS".into(),
                ));
            }
            info!(job = %job.id, instances = chunk.len(), "terminating drill instances");
            terminate_jobs.push(job.id);
        }
        self.history
            .record_terminate_jobs(execution_id, terminate_jobs.clone())
            .await?;
        Ok(terminate_jobs)
    }
}
