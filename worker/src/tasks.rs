//! The five tasks of the generated state machine: preflight, start-wave, check-wave, finish and
//! record-failure. Each takes the contract's input type and returns its output type; the rules
//! they keep are in DESIGN.md ("Rules the worker must keep").

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use drs_codegen::contract::{
    Activity, CaughtError, CheckWaveInput, ErrorName, ExecutionInput, FinishInput, FinishOutput,
    MAX_CAUSE_CHARS, MAX_ERROR_CHARS, Mode, Outcome, PlanSpec, PreflightInput, RecordFailureInput,
    RecordFailureOutput, RunContext, ServerCounts, StartWaveInput, WaveSpec, WaveState, WaveStatus,
    WaveSummary, job_tags,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};
use tracing::{info, warn};

use crate::drs::{Drs, Job, JobFilter, SourceServer, StartRecoveryRequest};
use crate::error::{TaskError, truncate_chars};
use crate::faults::{FaultPoint, Faults};
use crate::history::{
    ExecutionClose, ExecutionRecord, History, JobRecord, LaunchWrite, LockOutcome, STATUS_FAILED,
    STATUS_RUNNING, STATUS_SUCCEEDED, STATUS_SUCCEEDED_WITH_FAILURES, ServerRecord, WAVE_LAUNCHING,
    WaveRecord,
};
use crate::runtime::TaskHandler;
use crate::sfn::ExecutionLookup;
use crate::verdict::{chunk_servers, jobs_needed, judge, next_wait_seconds};

/// DRS limits the worker plans with (the real quotas vary by account: configure them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Source servers in one StartRecovery job (DRS accepts up to 200).
    pub max_servers_per_job: usize,
    /// Source servers in all active jobs.
    pub max_active_servers: usize,
    /// Concurrent jobs in progress.
    pub max_concurrent_jobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_servers_per_job: 100,
            max_active_servers: 200,
            max_concurrent_jobs: 20,
        }
    }
}

/// TerminateRecoveryInstances takes at most this many IDs.
pub const MAX_TERMINATE_PER_CALL: usize = 200;

/// How far before the execution's start DescribeJobs looks for jobs it made (clock skew).
const JOB_SEARCH_SLACK_SECONDS: i64 = 300;

pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// RFC 3339 in UTC, whole seconds.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses the timestamps Step Functions and DRS give (RFC 3339 with `Z` or `+00:00`,
/// fractional seconds or not).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| OffsetDateTime::parse(s, &Iso8601::DEFAULT).ok())
}

fn seconds_between(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_seconds()).unwrap_or(0)
}

/// A RECOVERY launches production instances: it runs only when `confirm` names the plan.
pub fn check_confirmation(plan: &str, mode: Mode, confirm: Option<&str>) -> Result<(), TaskError> {
    if mode == Mode::Recovery && confirm != Some(plan) {
        let got = match confirm {
            Some(c) => format!("confirm was {c:?}"),
            None => "confirm is missing".to_string(),
        };
        return Err(TaskError::RecoveryNotConfirmed(format!(
            "a RECOVERY launches production recovery instances and must name the plan: start the execution with \
             {{\"mode\": \"RECOVERY\", \"confirm\": \"{plan}\"}} ({got}); nothing was launched"
        )));
    }
    Ok(())
}

/// The servers a wave selects: its explicit IDs that exist, and every server carrying all of
/// its tags; sorted, so chunks are the same on every attempt.
pub struct Resolved {
    pub ids: Vec<String>,
    /// Explicit IDs DRS does not know.
    pub unknown: Vec<String>,
}

pub fn resolve_wave(wave: &WaveSpec, servers: &[SourceServer]) -> Resolved {
    let known: BTreeSet<&str> = servers.iter().map(|s| s.id.as_str()).collect();
    let mut ids = BTreeSet::new();
    let mut unknown = Vec::new();
    for id in &wave.server_ids {
        if known.contains(id.as_str()) {
            ids.insert(id.clone());
        } else {
            unknown.push(id.clone());
        }
    }
    if !wave.tags.is_empty() {
        for s in servers {
            if wave.tags.iter().all(|(k, v)| s.tags.get(k) == Some(v)) {
                ids.insert(s.id.clone());
            }
        }
    }
    Resolved {
        ids: ids.into_iter().collect(),
        unknown,
    }
}

/// Every problem that stops a plan from running, named at once, and the servers of each wave.
pub fn preflight_problems(
    plan: &PlanSpec,
    servers: &[SourceServer],
    jobs: &[Job],
    limits: &Limits,
) -> (Vec<Vec<String>>, Vec<String>) {
    let by_id: BTreeMap<&str, &SourceServer> = servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut active: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.status.is_active()) {
        for s in &job.servers {
            active.insert(
                s.source_server_id.as_str(),
                (job.id.as_str(), job.status.as_str()),
            );
        }
    }
    let mut problems = Vec::new();
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    let mut per_wave = Vec::new();
    for wave in &plan.waves {
        let name = &wave.name;
        let resolved = resolve_wave(wave, servers);
        for id in &resolved.unknown {
            problems.push(format!(
                "wave '{name}': source server {id} is not known to DRS in this account and region"
            ));
        }
        if resolved.ids.is_empty() {
            let tags = wave
                .tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            problems.push(format!(
                "wave '{name}' selects no source server (server IDs: [{}]; tags: [{tags}])",
                wave.server_ids.join(", ")
            ));
        }
        let optional: BTreeSet<&str> = wave.optional.iter().map(String::as_str).collect();
        for id in &resolved.ids {
            let label = by_id
                .get(id.as_str())
                .map(|s| s.label())
                .unwrap_or_else(|| id.clone());
            if let Some(other) = owner.insert(id.clone(), name) {
                problems.push(format!(
                    "source server {label} is selected by wave '{other}' and by wave '{name}'"
                ));
            }
            let state = by_id
                .get(id.as_str())
                .and_then(|s| s.replication_state.as_deref())
                .unwrap_or("unknown");
            if state != "CONTINUOUS" {
                if optional.contains(id.as_str()) {
                    warn!(wave = %name, server = %label, state, "optional source server is not replicating; it may fail to launch");
                } else {
                    problems.push(format!(
                        "wave '{name}': source server {label} is not replicating (dataReplicationState {state}, needs CONTINUOUS)"
                    ));
                }
            }
            if let Some((job, status)) = active.get(id.as_str()) {
                problems.push(format!(
                    "wave '{name}': source server {label} is already in DRS job {job} ({status})"
                ));
            }
        }
        let n = resolved.ids.len();
        if n > limits.max_active_servers {
            problems.push(format!(
                "wave '{name}' has {n} servers, more than the {} DRS allows in active jobs (--max-active-servers): split the wave",
                limits.max_active_servers
            ));
        }
        let jobs = jobs_needed(n, limits.max_servers_per_job);
        if jobs > limits.max_concurrent_jobs {
            problems.push(format!(
                "wave '{name}' needs {jobs} DRS jobs of at most {} servers, more than the {} concurrent jobs allowed (--max-concurrent-jobs)",
                limits.max_servers_per_job, limits.max_concurrent_jobs
            ));
        }
        per_wave.push(resolved.ids);
    }
    (per_wave, problems)
}

/// The worker's task implementations over the three seams.
pub struct Handlers<D, H, X> {
    drs: D,
    history: H,
    executions: X,
    limits: Limits,
    faults: Faults,
    clock: Clock,
}

fn from_date(started_at: &str, now: OffsetDateTime) -> String {
    let start = parse_time(started_at).unwrap_or(now);
    format_time(start - time::Duration::seconds(JOB_SEARCH_SLACK_SECONDS))
}

fn is_ours(job: &Job, execution_id: &str) -> bool {
    job.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution_id)
}

fn wave_statuses(waves: &BTreeMap<String, WaveState>) -> BTreeMap<String, String> {
    waves
        .values()
        .map(|w| (w.wave.clone(), w.status.as_str().to_string()))
        .collect()
}

impl<D: Drs, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    pub fn new(drs: D, history: H, executions: X, limits: Limits) -> Self {
        Handlers {
            drs,
            history,
            executions,
            limits,
            faults: Faults::none(),
            clock: system_clock(),
        }
    }

    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

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
                mode: exec_input.mode.as_str().to_string(),
                status: STATUS_RUNNING.to_string(),
                started_at: execution.start_time.clone(),
                wave_count,
                server_count,
                ..Default::default()
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
    /// tag filter, so: the jobs created since the execution started, filtered here).
    async fn jobs_of_execution(
        &self,
        run: &RunContext,
        now: OffsetDateTime,
    ) -> Result<Vec<Job>, TaskError> {
        let jobs = self
            .drs
            .describe_jobs(JobFilter {
                job_ids: vec![],
                from_date: Some(from_date(&run.started_at, now)),
            })
            .await?;
        Ok(jobs
            .into_iter()
            .filter(|j| is_ours(j, &run.execution_id))
            .collect())
    }

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
            status: WAVE_LAUNCHING.to_string(),
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

    /// One DescribeJobs for all of the wave's jobs, the per-server detail to the history, and
    /// a verdict.
    pub async fn check_wave(&self, input: CheckWaveInput) -> Result<WaveState, TaskError> {
        let run = &input.run;
        let wave = &input.wave;
        let state = input.state;
        if state.job_ids.is_empty() {
            return Err(TaskError::InvalidInput(format!(
                "check of wave '{}' has no job IDs in its state",
                wave.name
            )));
        }
        let started = parse_time(&state.started_at).ok_or_else(|| {
            TaskError::InvalidInput(format!(
                "wave '{}' state has an unreadable startedAt {:?}",
                wave.name, state.started_at
            ))
        })?;
        let jobs = self
            .drs
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
            .map(String::as_str)
            .filter(|id| !returned.contains(id))
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
        let jobs: Vec<Job> = jobs
            .into_iter()
            .filter(|j| state.job_ids.contains(&j.id))
            .collect();
        let now = self.now();
        let elapsed = seconds_between(started, now);
        let verdict = judge(wave, &jobs, elapsed);
        let checks = state.checks + 1;
        let ended_at = (verdict.status != WaveStatus::Launching).then(|| format_time(now));
        let optional: BTreeSet<&str> = wave.optional.iter().map(String::as_str).collect();
        let job_records = jobs
            .iter()
            .map(|j| JobRecord {
                execution_id: run.execution_id.clone(),
                wave_index: wave.index,
                job_id: j.id.clone(),
                job_status: j.status.as_str().to_string(),
                servers: j
                    .servers
                    .iter()
                    .map(|s| {
                        (
                            s.source_server_id.clone(),
                            ServerRecord {
                                launch_status: s.launch_status.as_str().to_string(),
                                recovery_instance_id: s.recovery_instance_id.clone(),
                                required: !optional.contains(s.source_server_id.as_str()),
                            },
                        )
                    })
                    .collect(),
                updated_at: format_time(now),
            })
            .collect();
        self.history
            .record_wave_check(
                WaveRecord {
                    execution_id: run.execution_id.clone(),
                    index: wave.index,
                    name: wave.name.clone(),
                    status: verdict.status.as_str().to_string(),
                    job_ids: state.job_ids.clone(),
                    started_at: state.started_at.clone(),
                    ended_at: ended_at.clone(),
                    checks,
                    servers: verdict.counts,
                    reason: verdict.reason.clone(),
                },
                job_records,
            )
            .await?;
        let next_wait = match verdict.status {
            WaveStatus::Launching => {
                next_wait_seconds(elapsed, &wave.polling, wave.launch_timeout_seconds)
            }
            _ => 0,
        };
        info!(status = verdict.status.as_str(), launched = verdict.counts.launched, failed = verdict.counts.failed,
              launching = verdict.counts.launching, next_wait, reason = %verdict.reason, "wave checked");
        if verdict.status != WaveStatus::Launching {
            // One line per finished wave: the CDK app's metric filter turns it into the
            // WaveDurationSeconds metric (fields plan, wave, status, duration_seconds).
            info!(plan = %run.plan_name, wave = %wave.name, status = verdict.status.as_str(),
                  duration_seconds = elapsed, "wave finished");
        }
        Ok(WaveState {
            status: verdict.status,
            ended_at: ended_at.unwrap_or_default(),
            checks,
            next_wait_seconds: next_wait,
            servers: verdict.counts,
            reason: truncate_chars(&verdict.reason, MAX_CAUSE_CHARS),
            ..state
        })
    }

    /// Closes a run that reached its end: outcome, per-wave summary, history, drill clean-up,
    /// lock release.
    pub async fn finish(&self, input: FinishInput) -> Result<FinishOutput, TaskError> {
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
        let terminate_job_ids = if run.mode == Mode::Drill && run.terminate_drill_instances {
            self.cleanup_drill(
                run,
                waves
                    .iter()
                    .flat_map(|w| w.job_ids.iter().cloned())
                    .collect(),
            )
            .await?
        } else {
            Vec::new()
        };
        let status = match outcome {
            Outcome::Succeeded => STATUS_SUCCEEDED,
            Outcome::SucceededWithFailures => STATUS_SUCCEEDED_WITH_FAILURES,
        };
        self.history
            .close_execution(ExecutionClose {
                execution_id: run.execution_id.clone(),
                execution_name: run.execution_name.clone(),
                plan_name: run.plan_name.clone(),
                mode: Some(run.mode.as_str().to_string()),
                started_at: run.started_at.clone(),
                status: status.to_string(),
                ended_at: format_time(now),
                error: None,
                cause: None,
                wave_statuses: wave_statuses(&input.waves),
            })
            .await?;
        self.history
            .release_lock(&run.plan_name, &run.execution_id)
            .await?;
        info!(outcome = status, terminate_jobs = ?terminate_job_ids, "execution finished");
        Ok(FinishOutput {
            outcome,
            waves: summaries,
            terminate_job_ids,
        })
    }

    /// Records a failed execution from whatever the state holds (preflight may never have run),
    /// cleans up a drill if asked, releases the lock.
    pub async fn record_failure(
        &self,
        input: RecordFailureInput,
    ) -> Result<RecordFailureOutput, TaskError> {
        let state = &input.state;
        let run: Option<RunContext> = state
            .get("run")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let waves: BTreeMap<String, WaveState> = state
            .get("waves")
            .and_then(|v| v.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        let caught: Option<CaughtError> = state
            .get("error")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let failed_wave = {
            let mut w: Vec<&WaveState> = waves
                .values()
                .filter(|w| w.status == WaveStatus::Failed)
                .collect();
            w.sort_by_key(|w| w.index);
            w.first().map(|w| w.reason.clone())
        };
        let (error, cause) = match (caught, failed_wave) {
            (Some(c), _) => (c.error, c.cause),
            (None, Some(reason)) => (ErrorName::WaveFailed.as_str().to_string(), reason),
            (None, None) => (
                ErrorName::Internal.as_str().to_string(),
                "the execution failed without an error in its state".to_string(),
            ),
        };
        let error = truncate_chars(&error, MAX_ERROR_CHARS);
        let cause = truncate_chars(&cause, MAX_CAUSE_CHARS);
        let execution = &input.execution;
        self.history
            .close_execution(ExecutionClose {
                execution_id: execution.id.clone(),
                execution_name: execution.name.clone(),
                plan_name: input.plan_name.clone(),
                mode: run.as_ref().map(|r| r.mode.as_str().to_string()),
                started_at: run
                    .as_ref()
                    .map(|r| r.started_at.clone())
                    .unwrap_or_else(|| execution.start_time.clone()),
                status: STATUS_FAILED.to_string(),
                ended_at: format_time(self.now()),
                error: Some(error.clone()),
                cause: Some(cause.clone()),
                wave_statuses: wave_statuses(&waves),
            })
            .await?;
        let terminate_job_ids = match &run {
            Some(run) if run.mode == Mode::Drill && run.terminate_drill_instances => {
                self.cleanup_drill(
                    run,
                    waves
                        .values()
                        .flat_map(|w| w.job_ids.iter().cloned())
                        .collect(),
                )
                .await?
            }
            _ => Vec::new(),
        };
        self.history
            .release_lock(&input.plan_name, &execution.id)
            .await?;
        warn!(%error, %cause, "execution failed");
        Ok(RecordFailureOutput {
            error,
            cause,
            terminate_job_ids,
        })
    }

    /// Terminates the recovery instances this execution's jobs launched (found by tag and by
    /// the job IDs in the state). Done once: a retry returns the TERMINATE jobs recorded.
    async fn cleanup_drill(
        &self,
        run: &RunContext,
        known_job_ids: Vec<String>,
    ) -> Result<Vec<String>, TaskError> {
        if run.mode != Mode::Drill {
            return Ok(Vec::new());
        }
        if let Some(record) = self.history.get_execution(&run.execution_id).await?
            && let Some(done) = record.terminate_job_ids
        {
            return Ok(done);
        }
        let now = self.now();
        let mut jobs = self.jobs_of_execution(run, now).await?;
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
        for record in self.history.list_jobs(&run.execution_id).await? {
            instances.extend(
                record
                    .servers
                    .into_values()
                    .filter_map(|s| s.recovery_instance_id),
            );
        }
        let instances: Vec<String> = instances.into_iter().collect();
        let mut terminate_jobs = Vec::new();
        for chunk in instances.chunks(MAX_TERMINATE_PER_CALL) {
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
            .record_terminate_jobs(&run.execution_id, terminate_jobs.clone())
            .await?;
        Ok(terminate_jobs)
    }
}

fn parse_input<T: DeserializeOwned>(activity: Activity, input: &str) -> Result<T, TaskError> {
    serde_json::from_str(input)
        .map_err(|e| TaskError::InvalidInput(format!("{} task input: {e}", activity.name())))
}

fn to_output<T: Serialize>(value: &T) -> Result<String, TaskError> {
    serde_json::to_string(value)
        .map_err(|e| TaskError::Internal(format!("serializing the task output: {e}")))
}

impl<D: Drs, H: History, X: ExecutionLookup> TaskHandler for Handlers<D, H, X> {
    async fn handle(&self, activity: Activity, input: String) -> Result<String, TaskError> {
        match activity {
            Activity::Preflight => {
                to_output(&self.preflight(parse_input(activity, &input)?).await?)
            }
            Activity::StartWave => {
                to_output(&self.start_wave(parse_input(activity, &input)?).await?)
            }
            Activity::CheckWave => {
                to_output(&self.check_wave(parse_input(activity, &input)?).await?)
            }
            Activity::Finish => to_output(&self.finish(parse_input(activity, &input)?).await?),
            Activity::RecordFailure => {
                to_output(&self.record_failure(parse_input(activity, &input)?).await?)
            }
        }
    }
}
