//! A FAILBACK's tasks (issue #27): the same preflight, start and check activities as a launch,
//! taken the way home when the run's mode is FAILBACK.
//!
//! - Preflight finds the RECOVERY to bring home (the plan's last, which must have SUCCEEDED,
//!   or the input's `recovery`), the servers it launched per wave (its history's JOB items)
//!   and their recovery instances in DRS (made by its jobs), and refuses, naming each, a
//!   required server whose instance is not FAILBACK_READY_FOR_LAUNCH: nothing is launched.
//! - The start task plans the wave's chunks of ready servers in the history, then sends each
//!   chunk as StartFailbackLaunch of their recovery instances (`send_chunk.rs`: the same
//!   tags, the same recording of each job ID before the next call, the same look-up by tags
//!   of a job whose answer was lost).
//! - The check judges the failback jobs and each instance's failback state
//!   ([`drs_waves_rules::failback::judge_failback`]).

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{
    ExecutionInput, ExecutionStatus, Mode, PreflightInput, RunContext, WaveSpec,
};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::Handlers;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, FailbackLaunchRequest, Job, instances};
use drs_waves_history::{ExecutionRecord, History, WaveRecord};
use drs_waves_rules::failback::{
    RecoveredInstance, RecoveredServer, judge_failback, readiness, recovered_servers,
    recovery_to_bring_home,
};
use drs_waves_rules::{Verdict, chunk_servers, format_time};

/// How many of the plan's executions preflight searches for its RECOVERY.
const SEARCHED_EXECUTIONS: usize = 50;

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Preflight of a FAILBACK (the lock is taken and released as for a launch).
    pub(super) async fn failback_preflight(
        &self,
        input: &PreflightInput,
        exec_input: ExecutionInput,
        now: OffsetDateTime,
    ) -> Result<RunContext, TaskError> {
        let plan = &input.plan;
        if exec_input.point_in_time.is_some() {
            return Err(TaskError::InvalidInput(
                "a FAILBACK launches from the data replicated back: pointInTime does not apply; nothing was launched"
                    .into(),
            ));
        }
        let execution = &input.execution;
        self.take_lock(
            &plan.name,
            &execution.id,
            Mode::Failback,
            &format_time(now),
            std::time::Duration::from_secs(u64::from(input.heartbeat_seconds)),
        )
        .await?;
        let checked = self
            .failback_readiness(input, exec_input.recovery.as_deref())
            .await;
        let (recovery, servers) = match checked {
            Ok(ok) => ok,
            Err(e) => {
                if let Err(release) = self.history.release_lock(&plan.name, &execution.id).await {
                    warn!(plan = %plan.name, error = %release, "could not release the run lock after a failed preflight");
                }
                return Err(e);
            }
        };
        let wave_count = u32::try_from(plan.waves.len()).unwrap_or(u32::MAX);
        let server_count = u32::try_from(servers).unwrap_or(u32::MAX);
        self.history
            .create_execution(ExecutionRecord {
                mode: Some(Mode::Failback),
                wave_count,
                server_count,
                started_by: exec_input.started_by.clone(),
                ..ExecutionRecord::new(
                    execution.id.clone(),
                    execution.name.clone(),
                    plan.name.clone(),
                    ExecutionStatus::Running,
                    execution.start_time.clone(),
                )
            })
            .await?;
        info!(plan = %plan.name, recovery = %recovery, waves = wave_count, servers = server_count, "failback preflight passed");
        Ok(RunContext {
            recovery_execution_id: Some(recovery),
            stop_and_terminate: input.failback.is_some_and(|f| f.stop_and_terminate),
            execution_id: execution.id.clone(),
            execution_name: execution.name.clone(),
            plan_name: plan.name.clone(),
            mode: Mode::Failback,
            confirm: exec_input.confirm,
            started_at: execution.start_time.clone(),
            terminate_drill_instances: false,
            wave_count,
            server_count,
            point_in_time: None,
            worst_rpo_seconds: None,
            warnings: Vec::new(),
        })
    }

    /// The RECOVERY to bring home and how many servers fail back; every required server not
    /// ready named at once.
    async fn failback_readiness(
        &self,
        input: &PreflightInput,
        named: Option<&str>,
    ) -> Result<(String, usize), TaskError> {
        let plan = &input.plan;
        let executions = self
            .history
            .recent_executions(&plan.name, SEARCHED_EXECUTIONS)
            .await?;
        let recovery = recovery_to_bring_home(&plan.name, &executions, named)
            .map_err(|e| TaskError::PreflightFailed(vec![format!("{e}; nothing was launched")]))?;
        let (per_wave, job_ids) = self.recovery_servers(&recovery.execution_id).await?;
        let mut problems = Vec::new();
        let mut count = 0;
        for wave in &plan.waves {
            let servers = per_wave.get(&wave.index).cloned().unwrap_or_default();
            let required: Vec<String> = servers
                .iter()
                .filter(|s| s.required)
                .map(|s| s.source_server_id.clone())
                .collect();
            let instances = self.instances_home(wave, &servers, &job_ids).await?;
            let found = readiness(&required, &instances);
            count += found.ready.len();
            problems.extend(found.not_ready.iter().map(|n| {
                format!(
                    "wave '{}': {} ({}) is {}: {}",
                    wave.name,
                    n.source_server_id,
                    n.recovery_instance_id
                        .as_deref()
                        .unwrap_or("no recovery instance"),
                    n.state,
                    n.why
                )
            }));
        }
        if problems.is_empty() {
            Ok((recovery.execution_id.clone(), count))
        } else {
            Err(TaskError::PreflightFailed(problems))
        }
    }

    /// The servers a RECOVERY launched, per wave, and its launch jobs (from its history).
    pub(super) async fn recovery_servers(
        &self,
        recovery: &str,
    ) -> Result<(BTreeMap<u32, Vec<RecoveredServer>>, BTreeSet<String>), TaskError> {
        let jobs = self.history.list_jobs(recovery).await?;
        Ok(recovered_servers(&jobs))
    }

    /// The RECOVERY's recovery instances of `servers` in the wave's account, with their
    /// failback state (DescribeRecoveryInstances).
    async fn instances_home(
        &self,
        wave: &WaveSpec,
        servers: &[RecoveredServer],
        job_ids: &BTreeSet<String>,
    ) -> Result<Vec<RecoveredInstance>, TaskError> {
        self.instances_home_in(wave.account.as_ref(), servers, job_ids)
            .await
    }

    /// [`Self::instances_home`] in `account` (None: the worker's own).
    pub(super) async fn instances_home_in(
        &self,
        account: Option<&drs_waves_contract::WaveAccount>,
        servers: &[RecoveredServer],
        job_ids: &BTreeSet<String>,
    ) -> Result<Vec<RecoveredInstance>, TaskError> {
        let ids: Vec<String> = servers.iter().map(|s| s.source_server_id.clone()).collect();
        let listed = self
            .drs_of(account)
            .await
            .recovery_instances_of(ids)
            .await?;
        Ok(instances::of_execution(listed, job_ids, false)
            .into_iter()
            .map(|i| RecoveredInstance {
                source_server_id: i.source_server_id,
                recovery_instance_id: i.id,
                failback: i.failback,
            })
            .collect())
    }

    /// The run's RECOVERY (preflight put it in the run).
    pub(super) fn recovery_of(run: &RunContext) -> Result<&str, TaskError> {
        run.recovery_execution_id.as_deref().ok_or_else(|| {
            TaskError::InvalidInput("a FAILBACK run names no RECOVERY to bring home".into())
        })
    }

    /// Plans a failback wave in the history: its servers whose recovery instance is ready now
    /// (required ones were checked at preflight), in chunks of the per-job limit. Returns the
    /// plan as stored (an earlier attempt's, if one got there first).
    pub(super) async fn plan_failback_wave(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        now: OffsetDateTime,
    ) -> Result<WaveRecord, TaskError> {
        let (per_wave, job_ids) = self.recovery_servers(Self::recovery_of(run)?).await?;
        let servers = per_wave.get(&wave.index).cloned().unwrap_or_default();
        let all: Vec<String> = servers.iter().map(|s| s.source_server_id.clone()).collect();
        let instances = self.instances_home(wave, &servers, &job_ids).await?;
        let found = readiness(&all, &instances);
        let required_not_ready: Vec<String> = found
            .not_ready
            .iter()
            .filter(|n| {
                servers
                    .iter()
                    .any(|s| s.required && s.source_server_id == n.source_server_id)
            })
            .map(|n| {
                format!(
                    "wave '{}': {} is {}: {}",
                    wave.name, n.source_server_id, n.state, n.why
                )
            })
            .collect();
        if !required_not_ready.is_empty() {
            return Err(TaskError::PreflightFailed(required_not_ready));
        }
        for n in &found.not_ready {
            warn!(wave = %wave.name, server = %n.source_server_id, state = %n.state, "optional server not ready: it stays in the recovery region");
        }
        let home: Vec<String> = found.ready.keys().cloned().collect();
        if home.is_empty() {
            return Err(TaskError::PreflightFailed(vec![format!(
                "wave '{}' has no server to bring home",
                wave.name
            )]));
        }
        let chunks = chunk_servers(&home, self.limits.max_servers_per_job);
        let started_at = drs_waves_rules::format_time_millis(now);
        self.history
            .plan_wave(WaveRecord::planned(
                &run.execution_id,
                wave,
                chunks,
                started_at,
            ))
            .await
            .map_err(TaskError::from)
    }

    /// The recovery instances the run's RECOVERY launched for `servers` of `wave`, with their
    /// failback state now.
    async fn run_instances_of(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        servers: &[String],
    ) -> Result<Vec<RecoveredInstance>, TaskError> {
        let (_, job_ids) = self.recovery_servers(Self::recovery_of(run)?).await?;
        let asked: Vec<RecoveredServer> = servers
            .iter()
            .map(|s| RecoveredServer {
                source_server_id: s.clone(),
                required: true,
            })
            .collect();
        self.instances_home(wave, &asked, &job_ids).await
    }

    /// An operator's retry of a wave on the way home: every server it brings home again must
    /// have its recovery instance FAILBACK_READY_FOR_LAUNCH now (after a failed failback launch
    /// DRS shows FAILBACK_ERROR until its replication back is restarted); the others are
    /// named with their state, and nothing is sent.
    pub(super) async fn check_ready_to_retry_home(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        relaunch: &[String],
    ) -> Result<(), TaskError> {
        let instances = self.run_instances_of(run, wave, relaunch).await?;
        let found = readiness(relaunch, &instances);
        if found.not_ready.is_empty() {
            return Ok(());
        }
        let named: Vec<String> = found
            .not_ready
            .iter()
            .map(|n| format!("{} is {}: {}", n.source_server_id, n.state, n.why))
            .collect();
        Err(TaskError::InvalidInput(format!(
            "wave '{}' cannot come home again yet: {}",
            wave.name,
            named.join("; ")
        )))
    }

    /// StartFailbackLaunch's request for a chunk's servers: their recovery instances.
    pub(super) async fn failback_request(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        servers: &[String],
        tags: BTreeMap<String, String>,
    ) -> Result<FailbackLaunchRequest, TaskError> {
        let instances = self.run_instances_of(run, wave, servers).await?;
        let by_server: BTreeMap<&str, &str> = instances
            .iter()
            .map(|i| (i.source_server_id.as_str(), i.recovery_instance_id.as_str()))
            .collect();
        let mut ids = Vec::with_capacity(servers.len());
        for s in servers {
            let id = by_server.get(s.as_str()).ok_or_else(|| {
                TaskError::PreflightFailed(vec![format!(
                    "wave '{}': the recovery instance of {s} is gone",
                    wave.name
                )])
            })?;
            ids.push((*id).to_string());
        }
        Ok(FailbackLaunchRequest {
            recovery_instance_ids: ids,
            tags,
        })
    }

    /// The verdict of a failback wave from its jobs and its instances' failback state.
    pub(super) async fn failback_verdict(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        jobs: &[Job],
        planned_servers: &[String],
        elapsed: u64,
    ) -> Result<Verdict, TaskError> {
        let instances = self.run_instances_of(run, wave, planned_servers).await?;
        let planned: BTreeMap<String, String> = instances
            .iter()
            .map(|i| (i.source_server_id.clone(), i.recovery_instance_id.clone()))
            .collect();
        let failback = instances
            .into_iter()
            .filter_map(|i| Some((i.recovery_instance_id, i.failback?)))
            .collect();
        Ok(judge_failback(wave, jobs, &planned, &failback, elapsed))
    }
}
