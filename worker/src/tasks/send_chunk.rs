//! Sending one chunk of a wave: StartRecovery once, a quota or a throttle waited out, and an
//! answer that may have been lost resolved by looking for the chunk's tagged job for up to the
//! listing wait (DRS may list a new job late), so a chunk is never launched twice.

use std::collections::BTreeMap;
use std::time::Duration;

use drs_waves_contract::{ErrorName, Mode, RunContext, WaveSpec, job_tags};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::Handlers;
use crate::error::TaskError;
use crate::faults::FaultPoint;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::AwsError;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, Job, StartRecoveryRequest, is_conflict};
use drs_waves_history::{History, WaveChunk};

/// The longest a quota backoff waits between two tries.
const MAX_QUOTA_BACKOFF: Duration = Duration::from_secs(30);

/// The longest wait between two looks for a chunk's job that DRS has not listed yet.
const MAX_LISTING_BACKOFF: Duration = Duration::from_secs(15);

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// This execution's jobs of this wave, found by their tags.
    pub(super) async fn tagged_jobs(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        now: OffsetDateTime,
    ) -> Result<Vec<Job>, TaskError> {
        Ok(self
            .jobs_of_execution(wave.account.as_ref(), run, now)
            .await?
            .into_iter()
            .filter(|j| j.tags.get(job_tags::WAVE) == Some(&wave.name) && !j.id.is_empty())
            .collect())
    }

    /// One StartRecovery, sent once. A concurrency quota answer is retried with backoff within
    /// the wave's launch timeout (and the quota wait), a per-job one fails at once; an ambiguous failure (a 5xx, a timeout, a closed
    /// connection, an answer without a job ID: DRS may have made the job) and a
    /// ConflictException (an earlier attempt's job) are resolved by looking for the chunk's
    /// tagged job for up to the listing wait, since DRS may list a new job late.
    pub(super) async fn send_chunk(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        chunk: &WaveChunk,
        snapshots: &BTreeMap<String, String>,
        wave_started: OffsetDateTime,
    ) -> Result<String, TaskError> {
        match self
            .send_chunk_with(run, wave, chunk, snapshots, wave_started, true)
            .await?
        {
            Sent::Job(id) => Ok(id),
            // A patient send waits out a full quota; it never answers Refused.
            Sent::Refused(err) => Err(err.into()),
        }
    }

    /// [`Self::send_chunk`], or with `patient` false (the scheduled strategy), a refusal for a
    /// full concurrency quota answered at once as [`Sent::Refused`]: the chunk waits for the
    /// next round rather than in this task.
    pub(super) async fn send_chunk_with(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        chunk: &WaveChunk,
        snapshots: &BTreeMap<String, String>,
        wave_started: OffsetDateTime,
        patient: bool,
    ) -> Result<Sent, TaskError> {
        let request = StartRecoveryRequest {
            source_server_ids: chunk.servers.clone(),
            snapshot_ids: chunk
                .servers
                .iter()
                .filter_map(|id| Some((id.clone(), snapshots.get(id)?.clone())))
                .collect(),
            is_drill: run.mode == Mode::Drill,
            tags: launch_tags(run, wave, chunk.number),
        };
        // A FAILBACK's chunk goes home: StartFailbackLaunch of its servers' recovery instances.
        let failback = if run.mode == Mode::Failback {
            Some(
                self.failback_request(run, wave, &chunk.servers, request.tags.clone())
                    .await?,
            )
        } else {
            None
        };
        let drs = self.drs_of(wave.account.as_ref()).await;
        let launch_deadline =
            wave_started + time::Duration::seconds(i64::from(wave.launch_timeout_seconds));
        let wait_until = tokio::time::Instant::now() + self.quota_wait;
        let mut backoff = self.quota_backoff;
        loop {
            // Read right before each StartRecovery: a drill that a RECOVERY preempted is
            // recorded PREEMPTED before it is stopped, and a redriven execution is closed, so
            // neither launches a server after the record says so.
            self.ensure_open(run).await?;
            let answer = match &failback {
                Some(home) => drs.start_failback_launch(home.clone()).await,
                None => drs.start_recovery(request.clone()).await,
            };
            let err = match answer {
                Ok(job) if !job.id.is_empty() => {
                    info!(job = %job.id, servers = chunk.servers.len(), chunk = chunk.number, drill = request.is_drill, "StartRecovery");
                    self.faults.hit(FaultPoint::ExitAfterStartRecovery)?;
                    return Ok(Sent::Job(job.id));
                }
                Ok(_) => AwsError::transient(
                    "DRS StartRecovery",
                    "answered without a jobID; a job may have started",
                ),
                Err(e) => e,
            };
            match err.name() {
                // The per-job quota refuses the same chunk however long it waits: fail now,
                // naming it (error.rs says what to change).
                ErrorName::QuotaExceeded if err.is_per_job_quota() => {
                    return Err(TaskError::from(err).with_context(&format!(
                        "chunk {} of wave '{}' has {} source servers",
                        chunk.number,
                        wave.name,
                        chunk.servers.len()
                    )));
                }
                ErrorName::QuotaExceeded if !patient => return Ok(Sent::Refused(err)),
                // A full concurrency quota, or a throttle: DRS refused before acting ("The
                // request was denied due to request throttling"), so waiting and sending again
                // cannot launch twice. Bounded by the launch timeout and the quota wait.
                ErrorName::QuotaExceeded | ErrorName::Throttled => {
                    let now = self.now();
                    if now + backoff > launch_deadline
                        || tokio::time::Instant::now() + backoff > wait_until
                    {
                        return Err(TaskError::from(err).with_context(&format!(
                            "chunk {} of wave '{}' waited for DRS to accept it and gave up",
                            chunk.number, wave.name
                        )));
                    }
                    warn!(chunk = chunk.number, wait_seconds = backoff.as_secs_f64(), error = %err, "DRS refused the launch for now (a full quota, or throttling); waiting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_QUOTA_BACKOFF);
                }
                // DRS may have made the job and list it only later; a retry that sent again
                // after one look launched the chunk twice when that job had already ended.
                // Look for the listing wait before failing.
                ErrorName::Transient => {
                    return match self.await_chunk_job(run, wave, chunk.number).await? {
                        Some(id) => {
                            warn!(job = %id, chunk = chunk.number, error = %err, "StartRecovery's answer was lost, but DRS made the job: tracking it");
                            Ok(Sent::Job(id))
                        }
                        None => Err(TaskError::from(err).with_context(&format!(
                            "DRS listed no job tagged with chunk {} of wave '{}' within {} s",
                            chunk.number,
                            wave.name,
                            self.listing_wait.as_secs()
                        ))),
                    };
                }
                // DRS refuses a server already in an active job. After an answer that may have
                // been lost (this task is a retry of one that died or timed out after its
                // StartRecovery), that job may be this chunk's own, made but not listed yet:
                // look for it, for a bounded time, rather than fail while it runs untracked.
                // Sending again would only meet the same refusal, so nothing is launched twice.
                _ if is_conflict(&err) => {
                    return match self.await_chunk_job(run, wave, chunk.number).await? {
                        Some(id) => {
                            warn!(job = %id, chunk = chunk.number, error = %err, "StartRecovery was refused as a conflict with the chunk's own job: tracking it");
                            Ok(Sent::Job(id))
                        }
                        None => Err(TaskError::from(err).with_context(&format!(
                            "DRS listed no job tagged with chunk {} of wave '{}' within {} s of the refusal: a source \
                             server of the chunk is in a job not of this execution",
                            chunk.number,
                            wave.name,
                            self.listing_wait.as_secs()
                        ))),
                    };
                }
                _ => return Err(err.into()),
            }
        }
    }

    /// The chunk's tagged job, looked for until DRS lists it or the listing wait has passed
    /// (backing off from `listing_backoff` up to 15 s). DescribeJobs may list a new job late.
    async fn await_chunk_job(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        chunk: u32,
    ) -> Result<Option<String>, TaskError> {
        let until = tokio::time::Instant::now() + self.listing_wait;
        let mut backoff = self.listing_backoff;
        loop {
            let found = self
                .tagged_jobs(run, wave, self.now())
                .await?
                .into_iter()
                .find(|j| chunk_of(j) == Some(chunk));
            if let Some(job) = found {
                return Ok(Some(job.id));
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            tokio::time::sleep(backoff.min(left)).await;
            backoff = (backoff * 2).min(MAX_LISTING_BACKOFF);
        }
    }
}

/// What one send of a chunk came to.
pub(super) enum Sent {
    /// DRS made the chunk's job (or an earlier attempt's was found).
    Job(String),
    /// DRS refused it for a full concurrency quota (only when not patient).
    Refused(AwsError),
}

/// The chunk number a job's tag says.
pub(super) fn chunk_of(job: &Job) -> Option<u32> {
    job.tags.get(job_tags::CHUNK).and_then(|c| c.parse().ok())
}

/// The tags of a launch job: the execution, wave, chunk and plan, and for a wave in another
/// account or region the account and region it launched in (so that a job seen in that
/// account's console says where its plan ran it).
fn launch_tags(run: &RunContext, wave: &WaveSpec, chunk: u32) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (job_tags::EXECUTION.to_string(), run.execution_id.clone()),
        (job_tags::WAVE.to_string(), wave.name.clone()),
        (job_tags::CHUNK.to_string(), chunk.to_string()),
        (job_tags::PLAN.to_string(), run.plan_name.clone()),
    ]);
    if let Some(account) = &wave.account {
        if let Some(id) = account.account_id() {
            tags.insert(job_tags::ACCOUNT.to_string(), id.to_string());
        }
        if let Some(region) = &account.region {
            tags.insert(job_tags::REGION.to_string(), region.clone());
        }
    }
    tags
}
