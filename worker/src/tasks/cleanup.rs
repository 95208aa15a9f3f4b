//! Drill clean-up: terminates the recovery instances a drill launched.
//!
//! - It first waits (bounded) for the execution's own launch jobs to end: a server still in a
//!   launch job cannot be in a TERMINATE job (one active job per server: ConflictException),
//!   and an instance that appears after its wave ended is found this way too.
//! - It terminates in jobs of at most the per-job limit (a TERMINATE job is a job), and within
//!   the servers-in-active-jobs quota, and records each TERMINATE job as soon as DRS answered.
//! - TerminateRecoveryInstances is sent once; an ambiguous answer (a 5xx, a closed connection)
//!   is resolved by looking at what DRS did: the instances are gone or being terminated.
//! - It is idempotent: instances already gone or already being terminated by a recorded job
//!   are skipped, so a retry terminates nothing twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use drs_waves_contract::{CleanupStatus, ErrorName, Mode, RunContext, WaveAccount};
use tracing::{info, warn};

use super::Handlers;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, JobFilter};
use drs_waves_history::History;
use drs_waves_rules::MAX_TERMINATE_PER_CALL;

/// How long a clean-up waits for the execution's launch jobs, or for quota room, before it
/// gives up (and is left PENDING): within the finish task's 600 s timeout.
pub const DEFAULT_CLEANUP_WAIT: Duration = Duration::from_secs(300);

/// How a clean-up ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleanup {
    pub status: CleanupStatus,
    /// Every TERMINATE job of the execution's clean-up so far.
    pub terminate_job_ids: Vec<String>,
    /// Why it is PENDING; empty otherwise.
    pub error: String,
}

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Cleans up a drill whose plan terminates its instances; anything else needs none. A
    /// failure is not an error here: the clean-up is left PENDING in the history (for the
    /// janitor to retry) and in the result.
    pub(super) async fn cleanup_drill(
        &self,
        run: &RunContext,
        known_job_ids: Vec<String>,
    ) -> Cleanup {
        if run.mode != Mode::Drill || !run.terminate_drill_instances {
            return Cleanup {
                status: CleanupStatus::NotNeeded,
                terminate_job_ids: Vec::new(),
                error: String::new(),
            };
        }
        self.clean_up_recording(&run.execution_id, &run.started_at, known_job_ids)
            .await
    }

    /// Runs the clean-up and records where it stands (DONE, or PENDING with the cause).
    pub(super) async fn clean_up_recording(
        &self,
        execution_id: &str,
        started_at: &str,
        known_job_ids: Vec<String>,
    ) -> Cleanup {
        let (status, error) = match self
            .terminate_instances_of(execution_id, started_at, known_job_ids)
            .await
        {
            Ok(()) => (CleanupStatus::Done, String::new()),
            Err(e) => {
                warn!(execution = %execution_id, error = %e, "drill clean-up left PENDING; the janitor retries it");
                (CleanupStatus::Pending, e.to_string())
            }
        };
        let recorded = self
            .history
            .set_cleanup(
                execution_id,
                status,
                (!error.is_empty()).then(|| error.clone()),
            )
            .await;
        if let Err(e) = recorded {
            warn!(execution = %execution_id, error = %e, "could not record the clean-up's status");
        }
        let record = self
            .history
            .get_execution(execution_id)
            .await
            .ok()
            .flatten();
        if status == CleanupStatus::Pending
            && let Some(r) = &record
        {
            // The CleanupPending alarm (a CloudWatch embedded-metric line).
            crate::metrics::emit(crate::metrics::CLEANUP_PENDING, &r.plan_name, Mode::Drill);
        }
        let terminate_job_ids = record.map(|r| r.terminate_job_ids).unwrap_or_default();
        Cleanup {
            status,
            terminate_job_ids,
            error,
        }
    }

    /// Terminates the recovery instances an execution's launch jobs made (found by its tag
    /// and by `known_job_ids`) that still exist and are not being terminated already, in every
    /// account its waves launched in, each through the wave's own role (from the history).
    pub(super) async fn terminate_instances_of(
        &self,
        execution_id: &str,
        started_at: &str,
        known_job_ids: Vec<String>,
    ) -> Result<(), TaskError> {
        let deadline = tokio::time::Instant::now() + self.cleanup_wait;
        for account in self.accounts_of(execution_id).await? {
            self.terminate_instances_in(
                account.as_ref(),
                execution_id,
                started_at,
                &known_job_ids,
                deadline,
            )
            .await?;
        }
        Ok(())
    }

    /// [`Self::terminate_instances_of`] in one account. A job ID of another account is not
    /// found here (DescribeJobs lists what exists in its account), so `known_job_ids` may be
    /// every account's.
    async fn terminate_instances_in(
        &self,
        account: Option<&WaveAccount>,
        execution_id: &str,
        started_at: &str,
        known_job_ids: &[String],
        deadline: tokio::time::Instant,
    ) -> Result<(), TaskError> {
        let drs = self.drs_of(account).await;
        // The execution's launch jobs, once none of them is active.
        let launch_jobs = loop {
            let mut jobs: Vec<_> = self
                .jobs_of(account, execution_id, started_at, self.now())
                .await?
                .into_iter()
                .filter(|j| j.job_type.as_deref() != Some("TERMINATE"))
                .collect();
            let found: BTreeSet<String> = jobs.iter().map(|j| j.id.clone()).collect();
            let missing: Vec<String> = known_job_ids
                .iter()
                .filter(|id| !found.contains(*id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                jobs.extend(
                    drs.describe_jobs(JobFilter {
                        job_ids: missing,
                        from_date: None,
                    })
                    .await?,
                );
            }
            let active: Vec<&str> = jobs
                .iter()
                .filter(|j| j.status.is_active())
                .map(|j| j.id.as_str())
                .collect();
            if active.is_empty() {
                break jobs;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TaskError::transient(
                    "drill clean-up",
                    format!(
                        "the drill's launch jobs {} still run after {} s; their instances are terminated later",
                        active.join(", "),
                        self.cleanup_wait.as_secs()
                    ),
                ));
            }
            info!(jobs = ?active, "clean-up waits for the drill's launch jobs to end");
            tokio::time::sleep(self.preempt_poll).await;
        };
        let record = self.history.get_execution(execution_id).await?;
        let instances = self
            .drill_instances_of(&drs, execution_id, record.as_ref(), &launch_jobs)
            .await?;
        let already: BTreeSet<String> = record
            .map(|r| r.terminating_instances.into_iter().collect())
            .unwrap_or_default();
        // Listed by DRS, so they exist (or are shutting down under a TERMINATE job recorded
        // in `already`).
        let sources: BTreeMap<String, String> = instances
            .into_iter()
            .filter(|(i, _)| !already.contains(i))
            .collect();
        let remaining: Vec<String> = sources.keys().cloned().collect();
        // A TERMINATE job is a job: at most the per-job number of servers, whatever the API's
        // array limit, and never more than the active-servers quota at once.
        let per_job = MAX_TERMINATE_PER_CALL
            .min(self.limits.max_servers_per_job)
            .min(self.limits.max_active_servers)
            .max(1);
        for chunk in remaining.chunks(per_job) {
            self.terminate_chunk(&drs, execution_id, chunk, &sources, deadline)
                .await?;
        }
        Ok(())
    }

    /// The drill instances the execution's launch jobs made, as DescribeRecoveryInstances
    /// lists them (`drs/instances.rs`: a job's participatingServers need not name its
    /// instances): by the source servers of its jobs and waves, kept when their `jobID` is one
    /// of its launch jobs (DRS's, found by tag and ID, and the history's) and `isDrill` is
    /// true, by instance ID with its source server. A clean-up terminates drill instances only;
    /// nothing else is ever terminated.
    async fn drill_instances_of(
        &self,
        drs: &D::Drs,
        execution_id: &str,
        record: Option<&drs_waves_history::ExecutionRecord>,
        launch_jobs: &[drs_waves_aws::drs::Job],
    ) -> Result<BTreeMap<String, String>, TaskError> {
        let mut job_ids: BTreeSet<String> = BTreeSet::new();
        let mut servers: BTreeSet<String> = BTreeSet::new();
        for job in launch_jobs {
            job_ids.insert(job.id.clone());
            servers.extend(job.servers.iter().map(|s| s.source_server_id.clone()));
        }
        for job in self.history.list_jobs(execution_id).await? {
            job_ids.insert(job.job_id);
            servers.extend(job.servers.into_keys());
        }
        for index in 1..=record.map_or(0, |r| r.wave_count) {
            if let Some(wave) = self.history.get_wave(execution_id, index).await? {
                job_ids.extend(wave.job_ids.iter().cloned());
                job_ids.extend(wave.chunks.iter().filter_map(|c| c.job_id.clone()));
                servers.extend(wave.planned_servers());
            }
        }
        job_ids.remove("");
        let listed = drs
            .recovery_instances_of(servers.into_iter().collect())
            .await?;
        let listed_count = listed.len();
        // Instance ID -> its source server.
        let ours: BTreeMap<String, String> =
            drs_waves_aws::drs::instances::of_execution(listed, &job_ids, true)
                .into_iter()
                .map(|i| (i.id, i.source_server_id))
                .collect();
        info!(execution = %execution_id, listed = listed_count, ours = ours.len(), "the drill's recovery instances, as DRS lists them");
        Ok(ours)
    }

    /// One TerminateRecoveryInstances, sent once, recorded at once. A quota or throttling
    /// answer (DRS refused before acting) waits and sends again (bounded); an ambiguous answer
    /// is resolved by looking at the instances.
    async fn terminate_chunk(
        &self,
        drs: &D::Drs,
        execution_id: &str,
        chunk: &[String],
        sources: &BTreeMap<String, String>,
        deadline: tokio::time::Instant,
    ) -> Result<(), TaskError> {
        let mut backoff = self.quota_backoff;
        loop {
            let sent_at = self.now();
            match drs.terminate_recovery_instances(chunk.to_vec()).await {
                Ok(job) if !job.id.is_empty() => {
                    info!(job = %job.id, instances = chunk.len(), "terminating drill instances");
                    return self
                        .history
                        .record_terminate_job(execution_id, &job.id, chunk.to_vec())
                        .await
                        .map_err(TaskError::from);
                }
                answer => {
                    let err = match answer {
                        Ok(_) => TaskError::transient(
                            "DRS TerminateRecoveryInstances",
                            "answered without a jobID",
                        ),
                        Err(e) => e.into(),
                    };
                    // A quota answer and a throttle are refusals before DRS acted ("The
                    // request was denied due to request throttling"): wait and send again.
                    if matches!(err.name(), ErrorName::QuotaExceeded | ErrorName::Throttled)
                        && tokio::time::Instant::now() + backoff < deadline
                    {
                        warn!(error = %err, wait_seconds = backoff.as_secs_f64(), "terminating waits for quota room or DRS's rate");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                    // Did DRS act? The instances are then gone or in a TERMINATE job made
                    // since just before the call.
                    let still = drs.existing_recovery_instances(chunk.to_vec()).await?;
                    let since = drs_waves_rules::format_time(sent_at - time::Duration::seconds(60));
                    let job = drs
                        .describe_jobs(JobFilter {
                            job_ids: vec![],
                            from_date: Some(since),
                        })
                        .await?
                        .into_iter()
                        .find(|j| {
                            j.job_type.as_deref() == Some("TERMINATE")
                                && chunk.iter().all(|i| {
                                    j.servers.iter().any(|s| match &s.recovery_instance_id {
                                        Some(named) => named == i,
                                        // DRS need not name the instance: its source
                                        // server then says which it is.
                                        None => sources.get(i) == Some(&s.source_server_id),
                                    })
                                })
                        });
                    return match job {
                        Some(job) => {
                            warn!(job = %job.id, error = %err, "TerminateRecoveryInstances' answer was lost, but DRS made the job: recording it");
                            self.history
                                .record_terminate_job(execution_id, &job.id, chunk.to_vec())
                                .await
                                .map_err(TaskError::from)
                        }
                        None if still.is_empty() => {
                            info!(error = %err, "the instances are already terminated");
                            Ok(())
                        }
                        None => Err(err),
                    };
                }
            }
        }
    }
}
