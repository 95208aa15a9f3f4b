//! The preflight task: validates the execution input, takes the plan's run lock (a RECOVERY
//! preempts a running DRILL of the same plan), resolves and checks every wave's servers and
//! their recovery snapshots against DRS, and creates the history record.

use std::time::Duration;

use drs_waves_contract::{
    ErrorName, ExecutionInput, ExecutionStatus, MAX_WARNINGS_IN_STATE, Mode, PreflightInput,
    RunContext,
};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::Handlers;
use super::input_checks::{check_confirmation, check_point_in_time};
use super::preflight_accounts::{Resolved, account_groups};
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, JobFilter};
use drs_waves_history::{ExecutionClose, ExecutionRecord, History, LockOutcome, ServerLaunchPoint};
use drs_waves_rules::{
    LaunchPoint, Readiness, ReadinessInput, check_readiness, format_time, hold_to_rpo, parse_time,
};

/// How far back preflight looks for the account's active jobs. DescribeJobs is bounded by
/// `fromDate` so that an account's whole job history is never paged through; a launch job
/// lasts minutes to hours, so one that started more than a day ago has long ended.
const ACTIVE_JOB_LOOKBACK: time::Duration = time::Duration::hours(24);

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Validates the input, takes the run lock, resolves and checks every wave and creates the
    /// history record. A failed check releases the lock again, so nothing outlives a refusal.
    pub async fn preflight(&self, input: PreflightInput) -> Result<RunContext, TaskError> {
        let plan = &input.plan;
        let exec_input: ExecutionInput = serde_json::from_value(input.input.clone()).map_err(|e| {
            TaskError::InvalidInput(format!(
                "execution input {}: {e}; expected {{\"mode\": \"DRILL\"}} or {{\"mode\": \"RECOVERY\", \"confirm\": \"{}\"}}, \
                 optionally with \"pointInTime\": \"2026-11-27T03:00:00Z\"",
                input.input, plan.name
            ))
        })?;
        check_confirmation(&plan.name, exec_input.mode, exec_input.confirm.as_deref())?;
        let now = self.now();
        if exec_input.mode == Mode::Failback {
            return self.failback_preflight(&input, exec_input, now).await;
        }
        let point_in_time = exec_input
            .point_in_time
            .as_deref()
            .map(|t| check_point_in_time(t, now).map(format_time))
            .transpose()?;
        let execution = &input.execution;
        // The lock comes before the server checks: while another execution of the plan runs,
        // its servers are in active jobs, and "the plan is already running" is the answer an
        // operator can act on, not a list of busy servers.
        self.take_lock(
            &plan.name,
            &execution.id,
            exec_input.mode,
            &format_time(now),
            // A drill of the same plan has the same task heartbeat.
            Duration::from_secs(u64::from(input.heartbeat_seconds)),
        )
        .await?;
        let checked = self
            .check_plan(exec_input.mode, &input, point_in_time.as_deref(), now)
            .await;
        let (per_wave, readiness) = match checked {
            Ok(ok) => ok,
            Err(e) => {
                // Nothing may outlive a failed preflight; record-failure releases it too, but
                // it may never run (its own task can fail).
                if let Err(release) = self.history.release_lock(&plan.name, &execution.id).await {
                    warn!(plan = %plan.name, error = %release, "could not release the run lock after a failed preflight");
                }
                return Err(e);
            }
        };
        for (wave, _) in plan.waves.iter().zip(&per_wave) {
            let points = readiness
                .points
                .iter()
                .filter(|p| p.wave_index == wave.index)
                .map(history_point)
                .collect();
            self.history
                .record_launch_points(&execution.id, wave.index, points)
                .await?;
        }
        let server_count =
            u32::try_from(per_wave.iter().map(Vec::len).sum::<usize>()).unwrap_or(u32::MAX);
        let wave_count = u32::try_from(plan.waves.len()).unwrap_or(u32::MAX);
        let worst_rpo_seconds = readiness.worst_rpo_seconds();
        for w in &readiness.warnings {
            warn!(plan = %plan.name, "{w}");
        }
        self.history
            .create_execution(ExecutionRecord {
                mode: Some(exec_input.mode),
                wave_count,
                server_count,
                terminate_drill_instances: plan.terminate_drill_instances,
                point_in_time: point_in_time.clone(),
                worst_rpo_seconds,
                warnings: readiness.warnings.clone(),
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
        info!(plan = %plan.name, mode = exec_input.mode.as_str(), waves = wave_count, servers = server_count,
              point_in_time = point_in_time.as_deref().unwrap_or("latest"), worst_rpo_seconds, warnings = readiness.warnings.len(),
              "preflight passed");
        let mut warnings: Vec<String> = readiness
            .warnings
            .iter()
            .take(MAX_WARNINGS_IN_STATE)
            .cloned()
            .collect();
        if readiness.warnings.len() > MAX_WARNINGS_IN_STATE {
            warnings.push(format!(
                "... and {} more warnings (the history has every one)",
                readiness.warnings.len() - MAX_WARNINGS_IN_STATE
            ));
        }
        Ok(RunContext {
            recovery_execution_id: None,
            stop_and_terminate: false,
            execution_id: execution.id.clone(),
            execution_name: execution.name.clone(),
            plan_name: plan.name.clone(),
            mode: exec_input.mode,
            confirm: exec_input.confirm,
            started_at: execution.start_time.clone(),
            terminate_drill_instances: plan.terminate_drill_instances,
            wave_count,
            server_count,
            point_in_time,
            worst_rpo_seconds,
            warnings,
        })
    }

    /// Resolves every wave against DRS, finds each server's snapshot and judges the plan;
    /// every problem is named at once.
    async fn check_plan(
        &self,
        mode: Mode,
        input: &PreflightInput,
        point_in_time: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(Vec<Vec<String>>, Readiness), TaskError> {
        let plan = &input.plan;
        // Every role assumed and every account's DRS read before anything else.
        self.check_accounts(plan, now).await?;
        // Each account's waves through its own DRS; only the servers the waves select (by ID,
        // or the listing kept to the tagged ones), never every server of an account at once.
        // The accounts side by side: DRS's rate limits are each account's own, so a plan over
        // five accounts takes about as long as its largest account's look-ups, not the sum.
        let since = format_time(now - ACTIVE_JOB_LOOKBACK);
        let groups = account_groups(plan);
        let resolved = futures::future::try_join_all(groups.iter().map(|(account, waves)| {
            self.resolve_in_account(plan, account.as_ref(), waves, since.clone(), point_in_time)
        }))
        .await?;
        let mut all = Resolved::default();
        for one in resolved {
            all.per_wave.extend(one.per_wave);
            all.problems.extend(one.problems);
            all.servers.extend(one.servers);
            all.active_jobs.extend(one.active_jobs);
            all.snapshots.extend(one.snapshots);
        }
        // Every problem is named at once: the servers that did resolve are judged too.
        let Resolved {
            mut per_wave,
            mut problems,
            servers,
            active_jobs,
            snapshots,
        } = all;
        let per_wave: Vec<Vec<String>> = plan
            .waves
            .iter()
            .map(|w| per_wave.remove(&w.index).unwrap_or_default())
            .collect();
        let mut readiness = check_readiness(&ReadinessInput {
            mode,
            plan,
            per_wave: &per_wave,
            servers: &servers,
            snapshots: &snapshots,
            active_jobs: &active_jobs,
            point_in_time,
            now,
            limits: &self.limits,
            scheduled: self.strategy == super::LaunchStrategy::Scheduled,
        });
        let rpo_seconds = input.targets.as_ref().and_then(|t| t.rpo_seconds);
        hold_to_rpo(
            &mut readiness,
            plan,
            mode,
            rpo_seconds,
            point_in_time.and_then(parse_time),
            now,
        );
        problems.extend(readiness.problems.iter().cloned());
        if problems.is_empty() {
            Ok((per_wave, readiness))
        } else {
            Err(TaskError::PreflightFailed(problems))
        }
    }

    /// The plan's run lock. A lock held by an execution that is no longer RUNNING (stopped,
    /// failed or timed out before its finish step) is taken over; a RECOVERY preempts a
    /// running DRILL.
    pub(super) async fn take_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        now: &str,
        drill_heartbeat: Duration,
    ) -> Result<(), TaskError> {
        let (holder, holder_mode) = match self
            .history
            .acquire_lock(plan, execution_id, mode, now)
            .await?
        {
            LockOutcome::Acquired => return Ok(()),
            LockOutcome::HeldBy { holder, .. } if holder == execution_id => return Ok(()),
            LockOutcome::HeldBy { holder, mode } => (holder, mode),
        };
        let status = self
            .executions
            .execution(&holder)
            .await?
            .map_or_else(|| "gone".to_string(), |e| e.status);
        match (mode, holder_mode) {
            // Also when the drill is no longer running: a retry of this preflight after a
            // preemption that timed out, or a drill stopped from the console whose instances
            // the janitor has not cleaned up yet, still has its instances terminated.
            (Mode::Recovery, Mode::Drill) => {
                self.preempt_drill(
                    plan,
                    &holder,
                    execution_id,
                    status == "RUNNING",
                    drill_heartbeat,
                )
                .await?;
            }
            _ if status == "RUNNING" => {
                return Err(TaskError::PlanAlreadyRunning(format!(
                    "plan '{plan}' is already running in execution {holder} (a {}): wait for it to end, or stop it, then start again",
                    holder_mode.as_str()
                )));
            }
            _ => {}
        }
        if self
            .history
            .take_over_lock(plan, execution_id, mode, &holder, now)
            .await?
        {
            warn!(plan, previous_holder = %holder, previous_status = %status, "took over the run lock");
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

    /// Stops a running drill of the plan so that a RECOVERY can run: the drill recorded
    /// PREEMPTED, StopExecution, then (bounded) its launch jobs waited for and its recovery
    /// instances terminated, so that no source server is ever in two active jobs.
    ///
    /// On AWS StopExecution ends the execution at once, but a drill task already in a worker's
    /// hands runs on until its next heartbeat is refused (TaskTimedOut). So the record says
    /// PREEMPTED first (the drill's start task reads it right before every StartRecovery and
    /// launches nothing after it), and the first look at the drill's jobs comes only after the
    /// drill's heartbeat window, by when any StartRecovery it was already sending has made
    /// its job.
    async fn preempt_drill(
        &self,
        plan: &str,
        drill: &str,
        recovery: &str,
        running: bool,
        drill_heartbeat: Duration,
    ) -> Result<(), TaskError> {
        warn!(
            plan,
            drill,
            recovery,
            running,
            "a RECOVERY preempts the DRILL of the plan that holds its lock"
        );
        let cause = format!(
            "preempted by the RECOVERY {recovery} of plan '{plan}': its drill instances are terminated"
        );
        let record = self.history.get_execution(drill).await?;
        let started_at = record
            .as_ref()
            .map(|r| r.started_at.clone())
            .unwrap_or_else(|| format_time(self.now() - ACTIVE_JOB_LOOKBACK));
        // A drill that ended by itself keeps its own status; one stopped now (or by an earlier
        // attempt of this preflight) is PREEMPTED.
        let record_it = running
            || record.as_ref().is_some_and(|r| {
                matches!(
                    r.status,
                    ExecutionStatus::Running | ExecutionStatus::Preempted
                )
            });
        if record_it {
            self.history
                .close_execution(ExecutionClose {
                    execution_id: drill.to_string(),
                    execution_name: drill.rsplit(':').next().unwrap_or(drill).to_string(),
                    plan_name: plan.to_string(),
                    mode: Some(Mode::Drill),
                    started_at: started_at.clone(),
                    status: ExecutionStatus::Preempted,
                    ended_at: format_time(self.now()),
                    error: Some(ErrorName::Preempted.as_str().to_string()),
                    cause: Some(cause.clone()),
                    wave_statuses: record.map(|r| r.wave_statuses).unwrap_or_default(),
                    preempted_by: Some(recovery.to_string()),
                })
                .await?;
        }
        if running {
            self.executions
                .stop_execution(drill, ErrorName::Preempted.as_str(), &cause)
                .await?;
            info!(
                drill,
                wait_seconds = drill_heartbeat.as_secs(),
                "drill stopped; waiting out its heartbeat window before looking at its jobs"
            );
            tokio::time::sleep(drill_heartbeat.min(self.preempt_wait)).await;
        }
        let deadline = tokio::time::Instant::now() + self.preempt_wait;
        let mut polls = preempt_polls(self.preempt_poll);
        loop {
            let jobs = self.jobs_of_all(drill, &started_at, self.now()).await?;
            let active: Vec<String> = jobs
                .iter()
                .filter(|j| j.status.is_active() && j.job_type.as_deref() != Some("TERMINATE"))
                .map(|j| j.id.clone())
                .collect();
            if active.is_empty() {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TaskError::transient(
                    "DRS DescribeJobs (preempted drill)",
                    format!(
                        "the preempted drill {drill} still has launch jobs running ({}) after {} s; the recovery retries",
                        active.join(", "),
                        self.preempt_wait.as_secs()
                    ),
                ));
            }
            info!(drill, jobs = ?active, "waiting for the preempted drill's launch jobs to end");
            tokio::time::sleep(polls.next().unwrap_or(self.preempt_poll)).await;
        }
        self.terminate_instances_of(drill, &started_at, Vec::new())
            .await?;
        let terminate = self
            .history
            .get_execution(drill)
            .await?
            .map(|r| r.terminate_job_ids)
            .unwrap_or_default();
        info!(drill, terminate_jobs = ?terminate, "the preempted drill's instances are being terminated");
        // A TERMINATE job holds its source servers too (one active job per server): the
        // recovery launches only once the drill's terminations have ended.
        self.wait_for_jobs_to_end(&terminate, deadline, drill).await
    }

    /// Waits (bounded by `deadline`) until none of `job_ids` is active.
    async fn wait_for_jobs_to_end(
        &self,
        job_ids: &[String],
        deadline: tokio::time::Instant,
        drill: &str,
    ) -> Result<(), TaskError> {
        if job_ids.is_empty() {
            return Ok(());
        }
        let mut polls = preempt_polls(self.preempt_poll);
        let accounts = self.accounts_of(drill).await?;
        loop {
            let mut active: Vec<String> = Vec::new();
            for account in &accounts {
                let jobs = self
                    .drs_of(account.as_ref())
                    .await
                    .describe_jobs(JobFilter {
                        job_ids: job_ids.to_vec(),
                        from_date: None,
                    })
                    .await?;
                active.extend(
                    jobs.into_iter()
                        .filter(|j| j.status.is_active())
                        .map(|j| j.id),
                );
            }
            if active.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TaskError::transient(
                    "DRS DescribeJobs (preempted drill)",
                    format!(
                        "the preempted drill {drill}'s terminations ({}) still run after {} s; the recovery retries",
                        active.join(", "),
                        self.preempt_wait.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(polls.next().unwrap_or(self.preempt_poll)).await;
        }
    }
}

/// The waits between two looks at a preempted drill's jobs: 1 s, then doubling up to `max`.
/// The recovery waits for them, so a terminate that ends in a second should not cost a whole
/// `max`; a long one is still looked at only every `max` (one DescribeJobs each).
fn preempt_polls(max: Duration) -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(max.min(Duration::from_secs(1))), move |wait| {
        Some((*wait * 2).min(max))
    })
}

fn history_point(p: &LaunchPoint) -> ServerLaunchPoint {
    ServerLaunchPoint {
        server_id: p.server_id.clone(),
        required: p.required,
        snapshot_id: p.snapshot.as_ref().map(|s| s.id.clone()),
        snapshot_taken_at: p.snapshot.as_ref().map(|s| s.taken_at.clone()),
        rpo_seconds: p.age_seconds,
        replication: p.replication.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use drs_waves_contract::{ErrorName, PreflightInput};
    use serde_json::{Value, json};
    use time::macros::datetime;

    use crate::tasks::Handlers;
    use crate::testing::{FakeDrs, FakeExecutions, MemoryHistory};
    use drs_waves_aws::drs::ServerSelection;
    use drs_waves_rules::Limits;

    fn sid(n: u32) -> String {
        format!("s-{n:017}")
    }

    #[test]
    fn a_preempted_drill_is_looked_at_after_1_s_then_less_often_up_to_the_poll() {
        let secs = |polls: Vec<std::time::Duration>| -> Vec<u64> {
            polls.iter().map(|d| d.as_secs()).collect()
        };
        let five = super::preempt_polls(std::time::Duration::from_secs(5));
        assert_eq!(secs(five.take(5).collect()), [1, 2, 4, 5, 5]);
        // A poll under a second (tests) is used from the first look.
        let quick: Vec<_> = super::preempt_polls(std::time::Duration::from_millis(10))
            .take(2)
            .collect();
        assert_eq!(quick, [std::time::Duration::from_millis(10); 2]);
    }

    /// A plan's preflight input from JSON (every other field defaulted), so the test does not
    /// break when the contract grows a field.
    fn input(plan: &str, waves: Vec<Value>) -> PreflightInput {
        let waves: Vec<Value> = (1..)
            .zip(waves)
            .map(|(index, mut w)| {
                w["index"] = json!(index);
                w["launchTimeoutSeconds"] = json!(600);
                w["onFailure"] = json!("stop");
                w["polling"] = json!({"minWaitSeconds": 30, "maxWaitSeconds": 300, "expectedLaunchSeconds": 900});
                w
            })
            .collect();
        serde_json::from_value(json!({
            "execution": {
                "id": format!("arn:aws:states:us-east-1:123456789012:execution:{plan}:run-1"),
                "name": "run-1",
                "startTime": "2030-01-01T00:00:00.000Z",
            },
            "input": {"mode": "DRILL"},
            "plan": {"name": plan, "terminateDrillInstances": true, "waves": waves},
            "heartbeatSeconds": 60,
        }))
        .expect("a preflight input")
    }

    /// Preflight asks DRS only for what the plan's waves select (never the account's every
    /// server): the named IDs, and each tag selector. The answer resolves as the whole listing
    /// did: tagged servers found, an unknown ID named with its wave.
    #[tokio::test]
    async fn preflight_asks_drs_only_for_the_servers_its_waves_select() {
        let drs = FakeDrs::new();
        drs.set_now(datetime!(2030-01-01 00:05:00 UTC));
        for (n, tier) in [(1, "db"), (2, "web"), (3, "web"), (4, "batch")] {
            drs.add_server(&sid(n), &[("App", "shop"), ("Tier", tier)]);
        }
        let handlers = Handlers::new(
            drs.clone(),
            MemoryHistory::new(),
            FakeExecutions::new(),
            Limits::default(),
        )
        .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)));
        let web = BTreeMap::from([("Tier".to_string(), "web".to_string())]);

        let run = handlers
            .preflight(input(
                "shop",
                vec![
                    json!({"name": "db", "serverIds": [sid(1)]}),
                    json!({"name": "web", "tags": {"Tier": "web"}}),
                ],
            ))
            .await
            .expect("preflight passes");
        assert_eq!(run.server_count, 3, "s-1 by ID, s-2 and s-3 by tag");
        assert_eq!(
            drs.source_server_selections(),
            vec![ServerSelection {
                ids: BTreeSet::from([sid(1)]),
                tag_sets: vec![web],
            }]
        );

        let err = handlers
            .preflight(input(
                "named",
                vec![json!({"name": "db", "serverIds": [sid(4), sid(9)]})],
            ))
            .await
            .expect_err("an unknown server");
        assert_eq!(err.name(), ErrorName::PreflightFailed, "{err}");
        assert!(
            err.to_string().contains(&format!(
                "wave 'db': source server {} is not known to DRS",
                sid(9)
            )),
            "{err}"
        );
        assert_eq!(
            drs.source_server_selections().last(),
            Some(&ServerSelection {
                ids: BTreeSet::from([sid(4), sid(9)]),
                tag_sets: Vec::new(),
            }),
            "a plan of IDs only is asked for by ID"
        );
    }
}
