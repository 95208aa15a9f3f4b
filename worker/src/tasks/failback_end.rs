//! The end of a FAILBACK whose plan says `failback.stopAndTerminate`: once every wave has its
//! verdict (the finish task), each recovery instance that came home (FAILBACK_COMPLETED) has
//! its failback stopped (StopFailback) and is terminated (TerminateRecoveryInstances), each
//! TERMINATE job recorded in the history as it is made. An instance not home stays as it is.
//! A failure leaves the clean-up PENDING with its cause; it never fails the execution.

use drs_waves_contract::{CleanupStatus, Mode, RunContext, WaveState, WaveStatus};
use tracing::{info, warn};

use super::Handlers;
use super::cleanup::Cleanup;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, FailbackState};
use drs_waves_history::History;
use drs_waves_rules::failback::RecoveredServer;

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// StopFailback and terminate what came home, when the run asks for it.
    pub(super) async fn stop_and_terminate_home(
        &self,
        run: &RunContext,
        waves: &[&WaveState],
    ) -> Cleanup {
        if run.mode != Mode::Failback || !run.stop_and_terminate {
            return Cleanup {
                status: CleanupStatus::NotNeeded,
                terminate_job_ids: Vec::new(),
                error: String::new(),
            };
        }
        let (status, terminate_job_ids, error) = match self.terminate_home(run, waves).await {
            Ok(jobs) => (CleanupStatus::Done, jobs, String::new()),
            Err((jobs, e)) => {
                warn!(execution = %run.execution_id, error = %e, "failback clean-up left PENDING");
                (CleanupStatus::Pending, jobs, e.to_string())
            }
        };
        if let Err(e) = self
            .history
            .set_cleanup(
                &run.execution_id,
                status,
                (!error.is_empty()).then(|| error.clone()),
            )
            .await
        {
            warn!(execution = %run.execution_id, error = %e, "could not record the clean-up's status");
        }
        Cleanup {
            status,
            terminate_job_ids,
            error,
        }
    }

    /// The TERMINATE jobs made; on a failure, those made so far and the failure.
    async fn terminate_home(
        &self,
        run: &RunContext,
        waves: &[&WaveState],
    ) -> Result<Vec<String>, (Vec<String>, TaskError)> {
        let mut jobs = Vec::new();
        let recovery = Self::recovery_of(run).map_err(|e| (Vec::new(), e))?;
        let (_, recovery_jobs) = self
            .recovery_servers(recovery)
            .await
            .map_err(|e| (Vec::new(), e))?;
        for wave in waves.iter().filter(|w| w.status == WaveStatus::Succeeded) {
            let step = async {
                let Some(record) = self.history.get_wave(&run.execution_id, wave.index).await?
                else {
                    return Ok(Vec::new());
                };
                let servers: Vec<RecoveredServer> = record
                    .planned_servers()
                    .into_iter()
                    .map(|s| RecoveredServer {
                        source_server_id: s,
                        required: true,
                    })
                    .collect();
                let account = record.account.as_ref();
                let home: Vec<String> = self
                    .instances_home_in(account, &servers, &recovery_jobs)
                    .await?
                    .into_iter()
                    .filter(|i| {
                        i.failback
                            .as_ref()
                            .is_some_and(|f| f.state == FailbackState::Completed)
                    })
                    .map(|i| i.recovery_instance_id)
                    .collect();
                let drs = self.drs_of(account).await;
                let mut made = Vec::new();
                for chunk in home.chunks(self.limits.max_servers_per_job.max(1)) {
                    for id in chunk {
                        drs.stop_failback(id.clone()).await?;
                    }
                    let job = drs.terminate_recovery_instances(chunk.to_vec()).await?;
                    self.history
                        .record_terminate_job(&run.execution_id, &job.id, chunk.to_vec())
                        .await?;
                    info!(wave = %wave.wave, job = %job.id, instances = chunk.len(), "stopped the failback of the instances that came home and terminated them");
                    made.push(job.id);
                }
                Ok::<_, TaskError>(made)
            };
            match step.await {
                Ok(made) => jobs.extend(made),
                Err(e) => return Err((jobs, e)),
            }
        }
        Ok(jobs)
    }
}
