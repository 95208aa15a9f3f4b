//! The end of a FAILBACK whose plan says `failback.stopAndTerminate`: once every wave has its
//! verdict (the finish task), each recovery instance that came home (FAILBACK_COMPLETED by one
//! of the execution's failback jobs) is terminated (TerminateRecoveryInstances, each TERMINATE
//! job recorded in the history as it is made) and its failback stopped (StopFailback). An
//! instance not home stays as it is. A failure leaves the clean-up PENDING with its cause (it
//! never fails the execution), and the janitor retries it.

use drs_waves_contract::{CleanupStatus, Mode, RunContext, WaveState, WaveStatus};
use tracing::{info, warn};

use super::Handlers;
use super::cleanup::Cleanup;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, FailbackState};
use drs_waves_history::History;
use std::collections::BTreeSet;

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
        let home: Vec<u32> = waves
            .iter()
            .filter(|w| w.status == WaveStatus::Succeeded)
            .map(|w| w.index)
            .collect();
        self.finish_failback_cleanup(&run.execution_id, &home).await
    }

    /// StopFailback and terminate the instances that waves `home` of the FAILBACK
    /// `execution_id` brought home, and record the clean-up's status: from the finish task,
    /// and from the janitor for a clean-up left PENDING (it reads the same from the history).
    pub(super) async fn finish_failback_cleanup(
        &self,
        execution_id: &str,
        home: &[u32],
    ) -> Cleanup {
        let (status, terminate_job_ids, error) = match self.terminate_home(execution_id, home).await
        {
            Ok(jobs) => (CleanupStatus::Done, jobs, String::new()),
            Err((jobs, e)) => {
                warn!(execution = %execution_id, error = %e, "failback clean-up left PENDING; the janitor retries it");
                (CleanupStatus::Pending, jobs, e.to_string())
            }
        };
        if let Err(e) = self
            .history
            .set_cleanup(
                execution_id,
                status,
                (!error.is_empty()).then(|| error.clone()),
            )
            .await
        {
            warn!(execution = %execution_id, error = %e, "could not record the clean-up's status");
        }
        Cleanup {
            status,
            terminate_job_ids,
            error,
        }
    }

    /// The TERMINATE jobs made; on a failure, those made so far and the failure. What came
    /// home is read from DRS, not remembered: each wave's recovery instances that are
    /// FAILBACK_COMPLETED by one of this execution's own failback jobs (`failbackJobID`), so a
    /// retry finds what is left and never an instance another run brought home.
    async fn terminate_home(
        &self,
        execution_id: &str,
        home: &[u32],
    ) -> Result<Vec<String>, (Vec<String>, TaskError)> {
        let mut jobs = Vec::new();
        let already: BTreeSet<String> = match self.history.get_execution(execution_id).await {
            Ok(record) => record
                .map(|r| r.terminating_instances.into_iter().collect())
                .unwrap_or_default(),
            Err(e) => return Err((jobs, e.into())),
        };
        for index in home {
            let step = async {
                let Some(record) = self.history.get_wave(execution_id, *index).await? else {
                    return Ok(Vec::new());
                };
                let ours: BTreeSet<&str> = record
                    .chunks
                    .iter()
                    .filter_map(|c| c.job_id.as_deref())
                    .chain(record.job_ids.iter().map(String::as_str))
                    .collect();
                let account = record.account.as_ref();
                let drs = self.drs_of(account).await;
                let came_home: Vec<String> = drs
                    .recovery_instances_of(record.planned_servers())
                    .await?
                    .into_iter()
                    .filter(|i| !already.contains(&i.id))
                    .filter(|i| {
                        i.failback.as_ref().is_some_and(|f| {
                            f.state == FailbackState::Completed
                                && f.job_id.as_deref().is_some_and(|j| ours.contains(j))
                        })
                    })
                    .map(|i| i.id)
                    .collect();
                let mut made = Vec::new();
                for chunk in came_home.chunks(self.limits.max_servers_per_job.max(1)) {
                    // TERMINATE first: until it is made nothing has changed, and a retry finds
                    // the same instances, still FAILBACK_COMPLETED by our jobs. StopFailback
                    // before it would leave them FAILBACK_NOT_STARTED, no longer ours to find.
                    let job = drs.terminate_recovery_instances(chunk.to_vec()).await?;
                    self.history
                        .record_terminate_job(execution_id, &job.id, chunk.to_vec())
                        .await?;
                    for id in chunk {
                        // The instance is going: a StopFailback that fails (or finds it gone)
                        // changes nothing that matters, and is only logged.
                        if let Err(e) = drs.stop_failback(id.clone()).await {
                            warn!(instance = %id, error = %e, "StopFailback of a terminating recovery instance failed");
                        }
                    }
                    info!(wave = %record.name, job = %job.id, instances = chunk.len(), "stopped the failback of the instances that came home and terminated them");
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
