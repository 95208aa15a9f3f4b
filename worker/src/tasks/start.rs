//! The start-wave task: StartRecovery for one wave, split into jobs of at most the per-job
//! limit, or the jobs an earlier attempt already launched (StartRecovery has no client token).
use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::*;
use tracing::{info, warn};

use super::Handlers;
use crate::drs::*;
use crate::error::TaskError;
use crate::faults::FaultPoint;
use crate::history::*;
use crate::rules::*;
use crate::sfn::ExecutionLookup;

impl<D: Drs, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Launches a wave, or finds the jobs an earlier attempt launched (history first, then
    /// DescribeJobs by tag): StartRecovery has no client token.
    pub async fn start_wave(&self, input: StartWaveInput) -> Result<WaveState, TaskError> {
        let run = &input.run;
        let wave = &input.wave;
        check_confirmation(&run.plan_name, run.mode, run.confirm.as_deref())?;
        let is_drill = run.mode == Mode::Drill;
        let now = self.now();

        if let Some(recorded) = self.history.get_wave(&run.execution_id, wave.index).await?
            && !recorded.job_ids.is_empty()
        {
            info!(jobs = ?recorded.job_ids, "wave already launched (history): returning its jobs");
            let started = parse_time(&recorded.started_at).unwrap_or(now);
            return Ok(WaveState {
                wave: wave.name.clone(),
                index: wave.index,
                status: WaveStatus::Launching,
                job_ids: recorded.job_ids,
                started_at: recorded.started_at,
                ended_at: String::new(),
                checks: 0,
                next_wait_seconds: next_wait_seconds(
                    seconds_between(started, now),
                    &wave.polling,
                    wave.launch_timeout_seconds,
                ),
                servers: ServerCounts {
                    launching: recorded.servers.total,
                    ..recorded.servers
                },
                reason: String::new(),
            });
        }

        let servers = self.drs.describe_source_servers().await?;
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

        // Jobs an earlier attempt launched but did not record.
        let mut existing: Vec<Job> = self
            .jobs_of_execution(run, now)
            .await?
            .into_iter()
            .filter(|j| j.tags.get(job_tags::WAVE) == Some(&wave.name) && !j.id.is_empty())
            .collect();
        let chunk_of = |j: &Job| {
            j.tags
                .get(job_tags::CHUNK)
                .and_then(|c| c.parse::<u32>().ok())
                .unwrap_or(0)
        };
        existing.sort_by_key(chunk_of);
        let covered: BTreeSet<&str> = existing
            .iter()
            .flat_map(|j| j.servers.iter().map(|s| s.source_server_id.as_str()))
            .collect();
        let remaining: Vec<String> = resolved
            .ids
            .iter()
            .filter(|id| !covered.contains(id.as_str()))
            .cloned()
            .collect();
        if !existing.is_empty() {
            info!(jobs = ?existing.iter().map(|j| &j.id).collect::<Vec<_>>(), "found jobs an earlier attempt launched (tags)");
        }

        let (remaining, snapshot_ids, points) = self
            .launch_sources(run, wave, &servers, &remaining, now)
            .await?;

        let mut job_ids: Vec<String> = existing.iter().map(|j| j.id.clone()).collect();
        let first_new_chunk = existing.iter().map(chunk_of).max().unwrap_or(0) + 1;
        let new_chunks = chunk_servers(&remaining, self.limits.max_servers_per_job);
        for (next_chunk, chunk) in (first_new_chunk..).zip(new_chunks) {
            let tags = BTreeMap::from([
                (job_tags::EXECUTION.to_string(), run.execution_id.clone()),
                (job_tags::WAVE.to_string(), wave.name.clone()),
                (job_tags::CHUNK.to_string(), next_chunk.to_string()),
                (job_tags::PLAN.to_string(), run.plan_name.clone()),
            ]);
            let n = chunk.len();
            let job = self
                .drs
                .start_recovery(StartRecoveryRequest {
                    snapshot_ids: chunk
                        .iter()
                        .filter_map(|id| Some((id.clone(), snapshot_ids.get(id)?.clone())))
                        .collect(),
                    source_server_ids: chunk,
                    is_drill,
                    tags,
                })
                .await?;
            if job.id.is_empty() {
                return Err(TaskError::Internal(format!(
                    "DRS StartRecovery for wave '{}' (chunk {next_chunk}) answered without a jobID; a job may have started: \
                     look for DRS jobs tagged {}={}",
                    wave.name,
                    job_tags::EXECUTION,
                    run.execution_id
                )));
            }
            info!(job = %job.id, servers = n, chunk = next_chunk, drill = is_drill, "StartRecovery");
            self.faults.hit(FaultPoint::ExitAfterStartRecovery)?;
            job_ids.push(job.id);
        }

        let started = existing
            .iter()
            .filter_map(|j| j.created_at.as_deref().and_then(parse_time))
            .min()
            .unwrap_or(now);
        let total = u32::try_from(resolved.ids.len()).unwrap_or(u32::MAX);
        let counts = ServerCounts {
            total,
            launching: total,
            ..Default::default()
        };
        let record = WaveRecord {
            execution_id: run.execution_id.clone(),
            index: wave.index,
            name: wave.name.clone(),
            status: WaveStatus::Launching,
            job_ids: job_ids.clone(),
            started_at: format_time(started),
            ended_at: None,
            checks: 0,
            servers: counts,
            reason: String::new(),
        };
        match self.history.record_wave_launch(record).await? {
            LaunchWrite::Written => {}
            LaunchWrite::Conflict { recorded } => {
                return Err(TaskError::transient(
                    "DynamoDB UpdateItem (wave launch)",
                    format!(
                        "wave '{}' was recorded as LAUNCHING with jobs [{}] by a concurrent attempt; jobs [{}] of this attempt are not tracked (check them in DRS)",
                        wave.name,
                        recorded.join(", "),
                        job_ids.join(", ")
                    ),
                ));
            }
        }
        if !points.is_empty() {
            self.history
                .record_launch_points(&run.execution_id, wave.index, points)
                .await?;
        }
        self.faults.hit(FaultPoint::ExitAfterHistoryWrite)?;
        Ok(WaveState {
            wave: wave.name.clone(),
            index: wave.index,
            status: WaveStatus::Launching,
            job_ids,
            started_at: format_time(started),
            ended_at: String::new(),
            checks: 0,
            next_wait_seconds: next_wait_seconds(
                seconds_between(started, now),
                &wave.polling,
                wave.launch_timeout_seconds,
            ),
            servers: counts,
            reason: String::new(),
        })
    }

    /// What the servers still to launch launch from, and whether they may launch now. Each
    /// launches from its latest recovery snapshot at or before the run's point in time (or its
    /// latest), looked up now: a snapshot chosen at preflight may have aged out since. A
    /// required server without one stops the wave; an optional one is left out. A DRILL also
    /// stops when a required server's replication is no longer healthy: the source site went
    /// down after preflight, and a drill is a readiness test (a RECOVERY preempts the drill).
    async fn launch_sources(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        servers: &[SourceServer],
        ids: &[String],
        now: time::OffsetDateTime,
    ) -> Result<
        (
            Vec<String>,
            BTreeMap<String, String>,
            Vec<ServerLaunchPoint>,
        ),
        TaskError,
    > {
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
        let refs: Vec<&String> = ids.iter().collect();
        let snapshots = self
            .snapshots_of(&refs, run.point_in_time.as_deref())
            .await?;
        let at = run
            .point_in_time
            .as_deref()
            .map(|t| format!(" at or before {t}"))
            .unwrap_or_default();
        let mut launch = Vec::new();
        let mut snapshot_ids = BTreeMap::new();
        let mut points = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            let required = !optional.contains(id.as_str());
            let server = by_id.get(id.as_str());
            let snapshot = snapshots.get(id).cloned().flatten();
            match &snapshot {
                Some(snap) => {
                    snapshot_ids.insert(id.clone(), snap.id.clone());
                    launch.push(id.clone());
                }
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
        Ok((launch, snapshot_ids, points))
    }
}
