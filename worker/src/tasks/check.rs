//! The check-wave task: one DescribeJobs for the wave's jobs, the per-server detail to the
//! history, a verdict and the next wait.
use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{CheckWaveInput, MAX_CAUSE_CHARS, WaveSpec, WaveState, WaveStatus};
use tracing::{info, warn};

use super::schedule::Round;
use super::{Handlers, LaunchStrategy};
use crate::error::{TaskError, truncate_chars};
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::launch_actions::{failure_of, warnings_of};
use drs_waves_aws::drs::{Drs as _, DrsAccounts, Job, JobFilter, LaunchStatus};
use drs_waves_history::{History, JobRecord, ServerRecord, WaveRecord};
use drs_waves_rules::schedule::with_queued;
use drs_waves_rules::{
    Known, format_time, judge, millis_between, parse_time, seconds_between, wait_seconds,
};

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// A launch's verdict and, for a wave that ended with failed servers, why each failed
    /// (their job logs: IAM, capacity, launch template, a server DRS skipped), in the wave's
    /// cause and in the history.
    async fn launch_verdict(
        &self,
        wave: &WaveSpec,
        jobs: &[Job],
        planned: &[String],
        (elapsed, queued): (u64, usize),
    ) -> Result<(drs_waves_rules::Verdict, BTreeMap<String, String>), TaskError> {
        // Servers the scheduled strategy still holds back count as launching (failing the wave
        // only when they are still queued at its launch timeout).
        let past_timeout = elapsed > u64::from(wave.launch_timeout_seconds);
        let verdict_with = |reasons: &BTreeMap<String, String>| {
            let verdict = judge(wave, jobs, elapsed, &Known { planned, reasons });
            with_queued(verdict, queued, past_timeout)
        };
        let verdict = verdict_with(&BTreeMap::new());
        if verdict.status != WaveStatus::Launching && verdict.counts.failed > 0 {
            let reasons = self.failure_reasons(wave, jobs).await?;
            return Ok((verdict_with(&reasons), reasons));
        }
        Ok((verdict, BTreeMap::new()))
    }

    /// One DescribeJobs for all of the wave's jobs, the per-server detail to the history, and
    /// a verdict.
    pub async fn check_wave(&self, input: CheckWaveInput) -> Result<WaveState, TaskError> {
        let run = &input.run;
        let wave = &input.wave;
        let mut state = input.state;
        self.ensure_open(run).await?;
        let recorded = self.history.get_wave(&run.execution_id, wave.index).await?;
        let round = self.scheduled_round(run, wave, recorded.as_ref()).await?;
        if let Some(round) = &round {
            state.job_ids = round.job_ids.clone();
        }
        let queued = round.as_ref().map_or(0, |r| r.queued);
        let started = started_of(wave, &state, queued)?;
        let fresh = round.as_ref().map_or(&[][..], |r| &r.fresh[..]);
        let jobs = self.jobs_of_wave(wave, &state, fresh).await?;
        let now = self.now();
        let elapsed = seconds_between(started, now);
        let elapsed_ms = millis_between(started, now);
        let (planned, unlisted) = planned_of(round.as_ref(), &jobs, recorded.as_ref());
        let queued = queued + unlisted;
        let learned = recorded.as_ref().and_then(|w| w.learned);
        // A retried wave's time is not a launch time to learn from.
        let first_attempt = recorded.as_ref().is_none_or(|w| w.attempt() == 1);
        let failback = run.mode == drs_waves_contract::Mode::Failback;
        let (verdict, reasons) = if failback {
            let verdict = self
                .failback_verdict(run, wave, &jobs, &planned, elapsed)
                .await?;
            (verdict, BTreeMap::new())
        } else {
            self.launch_verdict(wave, &jobs, &planned, (elapsed, queued))
                .await?
        };
        // Before anything is recorded: a transient answer leaves nothing half-written.
        let recovered =
            if !failback && verdict.status == WaveStatus::Succeeded && wave.lists_recovered {
                let is_drill = run.mode == drs_waves_contract::Mode::Drill;
                Some(
                    self.recovered_for_actions(
                        wave,
                        &run.execution_id,
                        is_drill,
                        verdict.counts.launched,
                    )
                    .await?,
                )
            } else {
                state.recovered.clone()
            };
        let checks = state.checks + 1;
        let ended_at = (verdict.status != WaveStatus::Launching).then(|| format_time(now));
        // A failback's time is no launch time to learn from.
        let completion_ms = (verdict.status == WaveStatus::Succeeded && first_attempt && !failback)
            .then(|| completion_millis(started, &jobs, elapsed_ms, state.next_wait_seconds));
        let job_records = job_records(&run.execution_id, wave, &jobs, &reasons, now);
        self.history
            .record_wave_check(
                WaveRecord {
                    execution_id: run.execution_id.clone(),
                    index: wave.index,
                    name: wave.name.clone(),
                    status: verdict.status,
                    job_ids: state.job_ids.clone(),
                    started_at: state.started_at.clone(),
                    ended_at: ended_at.clone(),
                    checks,
                    servers: verdict.counts,
                    reason: verdict.reason.clone(),
                    chunks: Vec::new(),
                    learned: None,
                    completion_ms,
                    // The plan's record keeps the account it was planned with.
                    account: None,
                },
                job_records,
            )
            .await?;
        if verdict.status != WaveStatus::Launching
            && !failback
            && let Err(e) = self.record_achieved_points(run, wave, &jobs).await
        {
            // Evidence only: the wave's verdict stands, and the report falls back to the
            // instances' own point in time.
            warn!(wave = %wave.name, error = %e, "the on-demand launches' point in time was not recorded");
        }
        let next_wait = match verdict.status {
            WaveStatus::Launching => wait_seconds(
                elapsed_ms,
                &wave.polling,
                wave.launch_timeout_seconds,
                learned.as_ref(),
            ),
            _ => 0,
        };
        info!(status = verdict.status.as_str(), launched = verdict.counts.launched, failed = verdict.counts.failed,
              launching = verdict.counts.launching, next_wait, reason = %verdict.reason, "wave checked");
        if verdict.status != WaveStatus::Launching {
            // One line per finished wave: the CDK app's metric filter turns it into the
            // WaveDurationSeconds metric (fields plan, wave, status, duration_seconds).
            info!(plan = %run.plan_name, wave = %wave.name, status = verdict.status.as_str(),
                  duration_seconds = elapsed, completion_ms, learned_samples = learned.map_or(0, |l| l.samples),
                  "wave finished");
        }
        Ok(WaveState {
            status: verdict.status,
            ended_at: ended_at.unwrap_or_default(),
            checks,
            next_wait_seconds: next_wait,
            servers: verdict.counts,
            reason: truncate_chars(&verdict.reason, MAX_CAUSE_CHARS),
            recovered,
            ..state
        })
    }

    /// With the scheduled strategy, a launching wave's chunks that fit now are sent (the rest
    /// count as launching); None with the eager one.
    async fn scheduled_round(
        &self,
        run: &drs_waves_contract::RunContext,
        wave: &WaveSpec,
        recorded: Option<&WaveRecord>,
    ) -> Result<Option<Round>, TaskError> {
        // A FAILBACK sends its failback jobs at the start, as the eager strategy does.
        let failback = run.mode == drs_waves_contract::Mode::Failback;
        match (self.strategy, recorded) {
            (LaunchStrategy::Scheduled, Some(r))
                if r.status == WaveStatus::Launching && !failback =>
            {
                Ok(Some(self.send_what_fits(run, wave, r).await?))
            }
            _ => Ok(None),
        }
    }

    /// The wave's jobs as DescribeJobs lists them now, the latest launch of each server kept.
    /// A job DRS does not list (yet) is Transient: the check is tried again.
    async fn jobs_of_wave(
        &self,
        wave: &WaveSpec,
        state: &WaveState,
        fresh: &[String],
    ) -> Result<Vec<Job>, TaskError> {
        if state.job_ids.is_empty() {
            // Every chunk still queued (the scheduled strategy): nothing to ask DRS.
            return Ok(Vec::new());
        }
        let jobs = self
            .drs_of(wave.account.as_ref())
            .await
            .describe_jobs(JobFilter {
                job_ids: state.job_ids.clone(),
                from_date: None,
            })
            .await?;
        if let Some(bad) = jobs.iter().find(|j| j.id.is_empty()) {
            return Err(TaskError::Internal(format!(
                "DRS DescribeJobs returned a job without a jobID (status {})",
                bad.status.as_str()
            )));
        }
        let returned: BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        let missing: Vec<&str> = state
            .job_ids
            .iter()
            .filter(|id| !returned.contains(id.as_str()) && !fresh.contains(id))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(TaskError::transient(
                "DRS DescribeJobs",
                format!(
                    "job(s) {} of wave '{}' were not returned",
                    missing.join(", "),
                    wave.name
                ),
            ));
        }
        Ok(latest_launches(
            jobs.into_iter()
                .filter(|j| state.job_ids.contains(&j.id))
                .collect(),
            &state.job_ids,
        ))
    }

    /// Why each failed server failed, by source server ID, from the job logs of the jobs with
    /// a failed server (IAM, capacity, launch template, a server DRS skipped).
    async fn failure_reasons(
        &self,
        wave: &WaveSpec,
        jobs: &[Job],
    ) -> Result<BTreeMap<String, String>, TaskError> {
        let drs = self.drs_of(wave.account.as_ref()).await;
        let mut reasons = BTreeMap::new();
        for job in jobs.iter().filter(|j| {
            j.servers
                .iter()
                .any(|s| s.launch_status == LaunchStatus::Failed)
        }) {
            for failure in drs.job_failures(&job.id).await? {
                reasons
                    .entry(failure.source_server_id)
                    .or_insert(failure.reason);
            }
        }
        Ok(reasons)
    }
}

/// When the wave's launch started; an error for a state no check can judge (no job and
/// nothing queued, an unreadable start).
fn started_of(
    wave: &WaveSpec,
    state: &WaveState,
    queued: usize,
) -> Result<time::OffsetDateTime, TaskError> {
    if state.job_ids.is_empty() && queued == 0 {
        return Err(TaskError::InvalidInput(format!(
            "check of wave '{}' has no job IDs in its state",
            wave.name
        )));
    }
    parse_time(&state.started_at).ok_or_else(|| {
        TaskError::InvalidInput(format!(
            "wave '{}' state has an unreadable startedAt {:?}",
            wave.name, state.started_at
        ))
    })
}

/// The servers the verdict judges from the jobs (their chunks were sent), and how many more
/// count as launching because their job, sent by this check (the scheduled strategy), is not
/// listed yet.
fn planned_of(
    round: Option<&Round>,
    jobs: &[Job],
    recorded: Option<&WaveRecord>,
) -> (Vec<String>, usize) {
    let Some(round) = round else {
        return (
            recorded
                .map(WaveRecord::planned_servers)
                .unwrap_or_default(),
            0,
        );
    };
    let listed: BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let mut planned = Vec::new();
    let mut unlisted = 0;
    for (id, servers) in &round.sent {
        if listed.contains(id.as_str()) || !round.fresh.contains(id) {
            planned.extend(servers.iter().cloned());
        } else {
            unlisted += servers.len();
        }
    }
    (planned, unlisted)
}

/// Each server once, from the latest job that lists it (`job_ids` in launch order): after an
/// operator's retry, a server that FAILED in the first job and LAUNCHED in the retry's counts
/// as launched. A job left with no server of its own is dropped.
fn latest_launches(mut jobs: Vec<Job>, job_ids: &[String]) -> Vec<Job> {
    jobs.sort_by_key(|j| job_ids.iter().position(|id| id == &j.id));
    let mut seen = BTreeSet::new();
    let mut kept: Vec<Job> = Vec::with_capacity(jobs.len());
    for mut job in jobs.into_iter().rev() {
        let listed = !job.servers.is_empty();
        job.servers
            .retain(|s| seen.insert(s.source_server_id.clone()));
        if !listed || !job.servers.is_empty() {
            kept.push(job);
        }
    }
    kept.reverse();
    kept
}

/// The JOB items of a check: each server's launch status, instance, whether it is required, and
/// why it failed (a failed post-launch action first, then the job log).
fn job_records(
    execution_id: &str,
    wave: &WaveSpec,
    jobs: &[Job],
    reasons: &BTreeMap<String, String>,
    now: time::OffsetDateTime,
) -> Vec<JobRecord> {
    let optional: BTreeSet<&str> = wave.optional.iter().map(String::as_str).collect();
    jobs.iter()
        .map(|j| JobRecord {
            execution_id: execution_id.to_owned(),
            wave_index: wave.index,
            job_id: j.id.clone(),
            job_status: j.status.clone(),
            servers: j
                .servers
                .iter()
                .map(|s| {
                    (
                        s.source_server_id.clone(),
                        ServerRecord {
                            launch_status: s.launch_status.clone(),
                            recovery_instance_id: s.recovery_instance_id.clone(),
                            required: !optional.contains(s.source_server_id.as_str()),
                            failure_reason: failure_of(&s.launch_actions)
                                .or_else(|| reasons.get(&s.source_server_id).cloned()),
                            action_warnings: warnings_of(&s.launch_actions),
                        },
                    )
                })
                .collect(),
            updated_at: format_time(now),
        })
        .collect()
}

/// A SUCCEEDED wave's completion time, the sample the next executions learn from: from its
/// start to the last of its jobs' `endDateTime` (exact, whatever the polling was), never past
/// this check. When a job has no end time yet (an optional server still launching), the
/// check's own time, less half the wait before it (the completion lies somewhere in that wait).
fn completion_millis(
    started: time::OffsetDateTime,
    jobs: &[Job],
    elapsed_ms: u64,
    last_wait_seconds: u32,
) -> u64 {
    let ends: Option<Vec<time::OffsetDateTime>> = jobs
        .iter()
        .map(|j| j.ended_at.as_deref().and_then(parse_time))
        .collect();
    match ends.and_then(|e| e.into_iter().max()) {
        Some(last) => millis_between(started, last).min(elapsed_ms),
        None => elapsed_ms.saturating_sub(u64::from(last_wait_seconds) * 500),
    }
}
