//! The start-wave task: StartRecovery for one wave, split into jobs of at most the per-job
//! limit. StartRecovery has no client token, so the wave's chunks are planned in the history
//! before the first call, each chunk's job ID is recorded before the next chunk is sent, and a
//! retried start launches only the chunks without a job (after looking for a job an earlier
//! attempt made but did not record, by the tags it put on it).

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{
    Mode, RunContext, ServerCounts, StartWaveInput, WaveSpec, WaveState, WaveStatus,
};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::input_checks::check_confirmation;
use super::send_chunk::chunk_of;
use super::{Handlers, LaunchStrategy};
use crate::error::TaskError;
use crate::faults::FaultPoint;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, JobFilter, SourceServer};
use drs_waves_history::{ChunkWrite, History, ServerLaunchPoint, WaveChunk, WaveRecord};
use drs_waves_rules::{
    LEARN_FROM_EXECUTIONS, LearnedTiming, RetryPlan, chunk_servers, learn, millis_between,
    parse_time, resolve_wave, retry_plan, seconds_between, wait_seconds,
};

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Launches a wave's chunks that have no job yet and returns the wave LAUNCHING with every
    /// job ID, all of them in the history first.
    pub async fn start_wave(&self, input: StartWaveInput) -> Result<WaveState, TaskError> {
        let run = &input.run;
        let wave = &input.wave;
        check_confirmation(&run.plan_name, run.mode, run.confirm.as_deref())?;
        self.ensure_open(run).await?;
        let now = self.now();
        let plan = match self.history.get_wave(&run.execution_id, wave.index).await? {
            // Only an operator's retry decision brings the machine back to a FAILED wave's
            // start (onFailure: ask).
            Some(recorded)
                if recorded.status == WaveStatus::Failed && !recorded.chunks.is_empty() =>
            {
                self.plan_retry(run, wave, recorded, now).await?
            }
            Some(recorded) if !recorded.chunks.is_empty() => recorded,
            _ if run.mode == Mode::Failback => self.plan_failback_wave(run, wave, now).await?,
            _ => self.plan_wave(run, wave, now).await?,
        };
        let job_ids = match self.strategy {
            // What fits now; the checks send the rest as room frees up. A FAILBACK's jobs go at
            // once, as with the eager strategy (the schedule models StartRecovery's quotas only).
            LaunchStrategy::Scheduled if run.mode != Mode::Failback => {
                self.send_what_fits(run, wave, &plan).await?.job_ids
            }
            _ => self.launch_missing_chunks(run, wave, &plan, now).await?,
        };
        self.faults.hit(FaultPoint::ExitAfterHistoryWrite)?;
        let attempt_started_at = plan.attempt_started_at().to_owned();
        let started = parse_time(&attempt_started_at).unwrap_or(now);
        let total = u32::try_from(plan.planned_servers().len()).unwrap_or(u32::MAX);
        Ok(WaveState {
            wave: wave.name.clone(),
            index: wave.index,
            status: WaveStatus::Launching,
            job_ids,
            // A retry's clock (launch timeout, waits) starts with the retry.
            started_at: attempt_started_at,
            ended_at: String::new(),
            checks: 0,
            // From when the task answers (its StartRecovery calls took time): the first check
            // is placed against the wave's real age.
            next_wait_seconds: wait_seconds(
                millis_between(started, self.now()),
                &wave.polling,
                wave.launch_timeout_seconds,
                plan.learned.as_ref(),
            ),
            servers: ServerCounts {
                total,
                launching: total,
                ..ServerCounts::default()
            },
            reason: String::new(),
            health: None,
            recovered: None,
        })
    }

    /// Resolves the wave now, checks it may launch, records each server's launch point and the
    /// chunks in the history, before any StartRecovery. Returns the plan as stored (an earlier
    /// attempt's, if one got there first).
    async fn plan_wave(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        now: OffsetDateTime,
    ) -> Result<WaveRecord, TaskError> {
        let servers = self
            .drs_of(wave.account.as_ref())
            .await
            .select_source_servers(&drs_waves_aws::drs::ServerSelection::of_waves([wave]))
            .await?;
        let resolved = resolve_wave(wave, &servers);
        let mut problems: Vec<String> = resolved
            .unknown
            .iter()
            .map(|id| {
                format!(
                    "wave '{}': source server {id} is no longer known to DRS",
                    wave.name
                )
            })
            .collect();
        if resolved.ids.is_empty() {
            problems.push(format!(
                "wave '{}' selects no source server at launch time",
                wave.name
            ));
        }
        if !problems.is_empty() {
            return Err(TaskError::PreflightFailed(problems));
        }
        let (launch, points) = self
            .launch_sources(run, wave, &servers, &resolved.ids, now)
            .await?;
        self.history
            .record_launch_points(&run.execution_id, wave.index, points)
            .await?;
        let chunk_size = self.chunk_size(wave).await;
        let learned = self.learn_wave(run, wave, &launch).await;
        let chunks = chunk_servers(&launch, chunk_size);
        let started_at = drs_waves_rules::format_time_millis(now);
        self.history
            .plan_wave(WaveRecord {
                learned,
                ..WaveRecord::planned(&run.execution_id, wave, chunks, started_at)
            })
            .await
            .map_err(TaskError::from)
    }

    /// Plans an operator's retry of a FAILED wave: the required servers whose latest launch
    /// did not succeed (FAILED, TERMINATED, or never launched by a job that ended), in new
    /// chunks of the next attempt, from launch points resolved now (`retry_points.rs`). A
    /// server still launching is left to its job (DRS would refuse it in a second active
    /// job); optional servers are not retried.
    async fn plan_retry(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        recorded: WaveRecord,
        now: OffsetDateTime,
    ) -> Result<WaveRecord, TaskError> {
        let attempt = recorded.attempt();
        if attempt >= wave.max_attempts {
            return Err(TaskError::InvalidInput(format!(
                "wave '{}' has been launched {attempt} time(s), its maxAttempts: no retry is left",
                wave.name
            )));
        }
        let jobs = self
            .drs_of(wave.account.as_ref())
            .await
            .describe_jobs(JobFilter {
                job_ids: recorded.job_ids.clone(),
                from_date: None,
            })
            .await?;
        let RetryPlan {
            relaunch,
            still_launching,
        } = retry_plan(&recorded, &jobs, &wave.optional);
        if relaunch.is_empty() {
            return Err(TaskError::InvalidInput(format!(
                "wave '{}' has no required server left to retry: each one launched or is still launching ({} still launching)",
                wave.name,
                still_launching.len()
            )));
        }
        let chunk_size = if run.mode == Mode::Failback {
            // Home again only from a recovery instance ready for it (an operator may have to
            // restart its replication back first), in jobs sent at once as the first time.
            self.check_ready_to_retry_home(run, wave, &relaunch).await?;
            self.limits.max_servers_per_job
        } else {
            self.resolve_retry_points(run, wave, &relaunch, now).await?;
            self.chunk_size(wave).await
        };
        let first = recorded.chunks.iter().map(|c| c.number).max().unwrap_or(0) + 1;
        let chunks: Vec<WaveChunk> = (first..)
            .zip(chunk_servers(&relaunch, chunk_size))
            .map(|(number, servers)| WaveChunk {
                number,
                servers,
                job_id: None,
                attempt: attempt + 1,
                planned_at: Some(drs_waves_rules::format_time_millis(now)),
            })
            .collect();
        info!(wave = %wave.name, attempt = attempt + 1, servers = ?relaunch, "retrying the wave's servers that did not launch");
        self.history
            .plan_retry(&run.execution_id, wave.index, chunks)
            .await
            .map_err(TaskError::from)
    }

    /// Servers per chunk: the per-job quota, and with the scheduled strategy never more than
    /// the account's servers in active jobs (such a chunk could never be sent).
    async fn chunk_size(&self, wave: &WaveSpec) -> usize {
        match self.strategy {
            LaunchStrategy::Eager => self.limits.max_servers_per_job,
            LaunchStrategy::Scheduled => drs_waves_rules::schedule::scheduled_chunk_size(
                &self.quotas_of(wave.account.as_ref()).await,
            ),
        }
    }

    /// What the plan's last executions teach about this wave: their completion times of it
    /// (same name, same servers, SUCCEEDED). Learning never stops a launch: a history that
    /// cannot be read is a warning and the wait falls back to the plan's expected launch time.
    async fn learn_wave(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        servers: &[String],
    ) -> Option<LearnedTiming> {
        let wanted: BTreeSet<&str> = servers.iter().map(String::as_str).collect();
        let past = match self
            .history
            .recent_executions(&run.plan_name, LEARN_FROM_EXECUTIONS + 1)
            .await
        {
            Ok(past) => past,
            Err(e) => {
                warn!(wave = %wave.name, error = %e, "past executions not readable: no learned timing");
                return None;
            }
        };
        let mut samples = Vec::new();
        for exec in past
            .iter()
            .filter(|e| e.execution_id != run.execution_id)
            .take(LEARN_FROM_EXECUTIONS)
        {
            let recorded = match self.history.get_wave(&exec.execution_id, wave.index).await {
                Ok(Some(w)) => w,
                Ok(None) => continue,
                Err(e) => {
                    warn!(wave = %wave.name, execution = %exec.execution_id, error = %e, "a past wave is not readable: skipped");
                    continue;
                }
            };
            let same_servers = recorded
                .planned_servers()
                .iter()
                .map(String::as_str)
                .collect::<BTreeSet<_>>()
                == wanted;
            if recorded.name == wave.name
                && recorded.status == WaveStatus::Succeeded
                && same_servers
                && let Some(ms) = recorded.completion_ms
            {
                samples.push(ms);
            }
        }
        let learned = learn(&samples);
        info!(wave = %wave.name, samples = samples.len(), p10_ms = learned.map(|l| l.p10_ms),
              p50_ms = learned.map(|l| l.p50_ms), p95_ms = learned.map(|l| l.p95_ms), "learned timing");
        learned
    }

    /// Sends StartRecovery for every planned chunk without a job, recording each job before
    /// the next chunk; returns every chunk's job ID in chunk order.
    async fn launch_missing_chunks(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        plan: &WaveRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, TaskError> {
        let mut job_ids: Vec<String> = plan
            .chunks
            .iter()
            .filter_map(|c| c.job_id.clone())
            .collect();
        let missing: Vec<&WaveChunk> = plan.chunks.iter().filter(|c| c.job_id.is_none()).collect();
        if missing.is_empty() {
            info!(jobs = ?job_ids, "wave already launched (history): returning its jobs");
            return Ok(job_ids);
        }
        // Jobs an earlier attempt launched but did not record (it died, or the answer was lost).
        let tagged = self.tagged_jobs(run, wave, now).await?;
        let snapshots: BTreeMap<String, String> = self
            .history
            .launch_points(&run.execution_id, wave.index)
            .await?
            .into_iter()
            .filter_map(|p| Some((p.server_id, p.snapshot_id?)))
            .collect();
        let started = parse_time(plan.attempt_started_at()).unwrap_or(now);
        for chunk in missing {
            let adopted = tagged
                .iter()
                .find(|j| chunk_of(j) == Some(chunk.number))
                .map(|j| j.id.clone());
            let job_id = match adopted {
                Some(id) => {
                    info!(job = %id, chunk = chunk.number, "found the job an earlier attempt launched (tags)");
                    id
                }
                None => self
                    .send_chunk(run, wave, chunk, &snapshots, started)
                    .await
                    .map_err(|e| e.with_context(&recorded_so_far(wave, &job_ids)))?,
            };
            match self
                .history
                .record_chunk_job(&run.execution_id, wave.index, chunk.number, &job_id)
                .await?
            {
                ChunkWrite::Written => {
                    job_ids.push(job_id);
                    if job_ids.len() < plan.chunks.len() {
                        self.faults.hit(FaultPoint::ExitBetweenChunks)?;
                    }
                }
                ChunkWrite::Conflict { recorded } => {
                    return Err(TaskError::transient(
                        "DynamoDB UpdateItem (chunk job)",
                        format!(
                            "chunk {} of wave '{}' was recorded with job {recorded} by a concurrent attempt; job {job_id} of this \
                             attempt is not tracked (check it in DRS)",
                            chunk.number, wave.name
                        ),
                    ));
                }
            }
        }
        Ok(job_ids)
    }

    /// What the servers still to launch launch from, and whether they may launch now. A healthy
    /// server without a point in time launches from DRS's on-demand snapshot (no snapshot named,
    /// [`SourceServer::launches_on_demand`]); any other launches from its latest recovery
    /// snapshot at or before the run's point in time (or its latest), looked up now: a
    /// snapshot chosen at preflight may have aged out since. A required server without one
    /// stops the wave; an optional one is left out. A DRILL also
    /// stops when a required server's replication is no longer healthy: the source site went
    /// down after preflight, and a drill is a readiness test (a RECOVERY preempts the drill).
    pub(super) async fn launch_sources(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        servers: &[SourceServer],
        ids: &[String],
        now: time::OffsetDateTime,
    ) -> Result<(Vec<String>, Vec<ServerLaunchPoint>), TaskError> {
        let by_id: BTreeMap<&str, &SourceServer> =
            servers.iter().map(|s| (s.id.as_str(), s)).collect();
        let optional: BTreeSet<&str> = wave.optional.iter().map(String::as_str).collect();
        if run.mode == Mode::Drill {
            let lost: Vec<String> = ids
                .iter()
                .filter(|id| !optional.contains(id.as_str()))
                .filter_map(|id| by_id.get(id.as_str()))
                .filter(|s| !s.replicating())
                .map(|s| format!("{} is {}", s.label(), s.replication_summary()))
                .collect();
            if !lost.is_empty() {
                return Err(TaskError::ReplicationLost(format!(
                    "wave '{}' of this DRILL was not launched: replication of required source servers stopped after preflight \
                     ({}). A drill is a readiness test and stops here; if the source site is down, start a RECOVERY of plan '{}': \
                     it launches from the recovery snapshots and stops this drill",
                    wave.name,
                    lost.join("; "),
                    run.plan_name
                )));
            }
        }
        // Healthy and no pointInTime: DRS takes an on-demand snapshot, nothing to look up.
        let on_demand = |id: &str| {
            by_id
                .get(id)
                .is_some_and(|s| s.launches_on_demand(run.point_in_time.as_deref()))
        };
        let refs: Vec<&String> = ids.iter().filter(|id| !on_demand(id)).collect();
        let snapshots = self
            .snapshots_of(wave.account.as_ref(), &refs, run.point_in_time.as_deref())
            .await?;
        let at = run
            .point_in_time
            .as_deref()
            .map(|t| format!(" at or before {t}"))
            .unwrap_or_default();
        let mut launch = Vec::new();
        let mut points = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            let required = !optional.contains(id.as_str());
            let server = by_id.get(id.as_str());
            let snapshot = snapshots.get(id).cloned().flatten();
            match &snapshot {
                // Its point in time is read back after the launch (achieved_points.rs).
                _ if on_demand(id) => launch.push(id.clone()),
                Some(_) => launch.push(id.clone()),
                None if required => missing.push(server.map_or_else(|| id.clone(), |s| s.label())),
                None => {
                    warn!(wave = %wave.name, server = %id, "optional server has no recovery snapshot{at}: not launched")
                }
            }
            points.push(ServerLaunchPoint {
                server_id: id.clone(),
                required,
                snapshot_id: snapshot.as_ref().map(|s| s.id.clone()),
                rpo_seconds: snapshot
                    .as_ref()
                    .and_then(|s| parse_time(&s.taken_at))
                    .map(|t| seconds_between(t, now)),
                snapshot_taken_at: snapshot.map(|s| s.taken_at),
                replication: server
                    .map_or_else(|| "unknown".to_string(), |s| s.replication_summary()),
            });
        }
        if !missing.is_empty() {
            return Err(TaskError::PreflightFailed(vec![format!(
                "wave '{}': required source servers have no recovery snapshot{at} at launch time: {}",
                wave.name,
                missing.join(", ")
            )]));
        }
        Ok((launch, points))
    }
}

/// What a failure of a later chunk must say about the jobs already made.
fn recorded_so_far(wave: &WaveSpec, job_ids: &[String]) -> String {
    if job_ids.is_empty() {
        format!("no job of wave '{}' was started", wave.name)
    } else {
        format!(
            "the jobs already started for wave '{}' are recorded in the history and tracked: {}",
            wave.name,
            job_ids.join(", ")
        )
    }
}
