//! The five tasks of the generated state machine, one module each: [`preflight`], [`start`]
//! (start-wave), [`check`] (check-wave), [`finish`] and [`record_failure`], with the drill
//! [`cleanup`] they share, and the [`janitor`] that tidies up after executions that ended
//! outside the machine. Each takes the contract's input type and returns its output type; the
//! pure rules they apply are in `drs_waves_rules`, the rules they keep in docs/DESIGN.md ("Rules the
//! worker must keep").

mod achieved_points;
mod check;
mod cleanup;
mod failback;
mod failback_end;
mod finish;
mod health;
mod input_checks;
mod janitor;
mod network;
mod operator;
mod preflight;
mod preflight_accounts;
mod probe;
mod record_failure;
mod recovered;
mod report;
mod retry_points;
mod schedule;
mod send_chunk;
mod start;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use janitor::Tidied;
pub use schedule::LaunchStrategy;

use drs_waves_aws::drs::accounts::is_own;
use drs_waves_contract::{
    Activity, RunContext, WaveAccount, WaveState, WaveStatus, job_tags, task_retry,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::error::TaskError;
use crate::faults::Faults;
use crate::runtime::{TaskAnswer, TaskHandler};
use crate::sfn::ExecutionLookup;
use crate::token::TaskToken;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, Job, JobFilter};
use drs_waves_aws::sns::{NoNotifier, Notifier};
use drs_waves_history::History;
use drs_waves_rules::{Clock, Limits, format_time, parse_time, system_clock};

/// How long a RECOVERY's preflight waits for a preempted drill's launch jobs to end before it
/// fails as transient (and is retried): within the preflight task's 600 s timeout.
pub const DEFAULT_PREEMPT_WAIT: Duration = Duration::from_secs(420);

/// How long a start task waits, at most, for a DRS quota (concurrent jobs, servers in active
/// jobs) to clear as other jobs end: within the start task's 600 s timeout, and never past the
/// wave's launch timeout.
pub const DEFAULT_QUOTA_WAIT: Duration = Duration::from_secs(480);

/// How long a start task looks for a chunk's tagged job after StartRecovery answered
/// ConflictException (DRS may list a job it made a while after making it, so a job whose
/// answer was lost can be both unlisted and holding the chunk's servers).
pub const DEFAULT_LISTING_WAIT: Duration = Duration::from_secs(60);

/// Its first backoff (doubling up to 15 s).
pub const DEFAULT_LISTING_BACKOFF: Duration = Duration::from_secs(2);

/// How far before the execution's start DescribeJobs looks for jobs it made (clock skew).
const JOB_SEARCH_SLACK_SECONDS: i64 = 300;

/// The worker's task implementations over the three seams.
pub struct Handlers<D, H, X> {
    drs: D,
    history: H,
    executions: X,
    limits: Limits,
    faults: Faults,
    clock: Clock,
    /// How long a preempting RECOVERY waits for the drill's launch jobs to end.
    preempt_wait: Duration,
    /// How often, at most, it looks while it waits (the first look after 1 s, then doubling).
    preempt_poll: Duration,
    /// How long a start task waits, at most, for a full DRS quota to clear.
    quota_wait: Duration,
    /// Its first backoff (doubling up to 30 s).
    quota_backoff: Duration,
    /// How long a start task looks for its chunk's tagged job after a ConflictException.
    listing_wait: Duration,
    /// Its first backoff (doubling up to 15 s).
    listing_backoff: Duration,
    /// How long a drill's clean-up waits for its launch jobs or for quota room.
    cleanup_wait: Duration,
    /// Tells the plan's SNS topics that a gate waits.
    notifier: Arc<dyn Notifier>,
    /// Where the end of an execution writes its report (none: no report is written).
    evidence: Option<drs_waves_report::gather::Evidence>,
    /// How a wave's chunks are sent (`schedule.rs`).
    strategy: LaunchStrategy,
    /// The scheduled strategy's knowledge of each account's quotas.
    ledger: schedule::QuotaLedger,
}

fn from_date(started_at: &str, now: OffsetDateTime) -> String {
    let start = parse_time(started_at).unwrap_or(now);
    format_time(start - time::Duration::seconds(JOB_SEARCH_SLACK_SECONDS))
}

fn is_ours(job: &Job, execution_id: &str) -> bool {
    job.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution_id)
}

fn wave_statuses(waves: &BTreeMap<String, WaveState>) -> BTreeMap<String, WaveStatus> {
    waves.values().map(|w| (w.wave.clone(), w.status)).collect()
}

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Gives the waves without a verdict of their own in the history the one the end of the
    /// execution gives them: SKIPPED (an operator skipped a failed wave; only the state said
    /// so) and, when `interrupted` says why the execution ended early, INTERRUPTED for a wave
    /// that was still launching. Updates `waves` to match.
    pub(super) async fn end_open_waves(
        &self,
        execution_id: &str,
        waves: &mut BTreeMap<String, WaveState>,
        interrupted: Option<&str>,
    ) -> Result<(), TaskError> {
        let now = format_time(self.now());
        for w in waves.values_mut() {
            let reason = match (w.status, interrupted) {
                (WaveStatus::Skipped, _) => format!("{} (an operator skipped the wave)", w.reason),
                (WaveStatus::Launching, Some(why)) => {
                    w.status = WaveStatus::Interrupted;
                    w.reason = format!("wave '{}': {why} while it was launching", w.wave);
                    w.reason.clone()
                }
                _ => continue,
            };
            self.history
                .end_wave(execution_id, w.index, w.status, &reason, &now)
                .await?;
        }
        Ok(())
    }

    pub fn new(drs: D, history: H, executions: X, limits: Limits) -> Self {
        Handlers {
            drs,
            history,
            executions,
            limits,
            faults: Faults::none(),
            clock: system_clock(),
            preempt_wait: DEFAULT_PREEMPT_WAIT,
            preempt_poll: Duration::from_secs(5),
            quota_wait: DEFAULT_QUOTA_WAIT,
            quota_backoff: Duration::from_secs(5),
            listing_wait: DEFAULT_LISTING_WAIT,
            listing_backoff: DEFAULT_LISTING_BACKOFF,
            cleanup_wait: cleanup::DEFAULT_CLEANUP_WAIT,
            notifier: Arc::new(NoNotifier),
            evidence: None,
            strategy: LaunchStrategy::Eager,
            ledger: schedule::QuotaLedger::default(),
        }
    }

    /// How the waves' chunks are sent: all at the start (eager), or within the quotas.
    pub fn with_launch_strategy(mut self, strategy: LaunchStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Where gate notifications go (SNS in the worker; a recorder in tests).
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// How long a preempting RECOVERY waits for the drill's launch jobs, and how often it looks.
    pub fn with_preempt_wait(mut self, wait: Duration, poll: Duration) -> Self {
        self.preempt_wait = wait;
        self.preempt_poll = poll;
        self
    }

    /// How long a start task waits for a full quota, and its first backoff.
    pub fn with_quota_wait(mut self, wait: Duration, first_backoff: Duration) -> Self {
        self.quota_wait = wait;
        self.quota_backoff = first_backoff;
        self
    }

    /// How long a start task looks for a chunk's tagged job after a ConflictException, and its
    /// first backoff.
    pub fn with_listing_wait(mut self, wait: Duration, first_backoff: Duration) -> Self {
        self.listing_wait = wait;
        self.listing_backoff = first_backoff;
        self
    }

    /// How long a drill's clean-up waits for its launch jobs (or quota room) before it is left
    /// PENDING.
    pub fn with_cleanup_wait(mut self, wait: Duration) -> Self {
        self.cleanup_wait = wait;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Every DRS job this execution made, found by the execution tag it put on them (DRS has no
    /// tag filter, so: the jobs created since the execution started, filtered here).
    pub(super) async fn jobs_of_execution(
        &self,
        account: Option<&WaveAccount>,
        run: &RunContext,
        now: OffsetDateTime,
    ) -> Result<Vec<Job>, TaskError> {
        self.jobs_of(account, &run.execution_id, &run.started_at, now)
            .await
    }

    /// The DRS of a wave's account (None: the worker's own), through its role.
    pub(super) async fn drs_of(&self, account: Option<&WaveAccount>) -> D::Drs {
        self.drs.drs_for(account).await
    }

    /// Every account an execution's waves launched in, from the history (the wave records keep
    /// their account), the worker's own first and always: a clean-up or the janitor reaches
    /// each through the same role as the launch.
    pub(super) async fn accounts_of(
        &self,
        execution_id: &str,
    ) -> Result<Vec<Option<WaveAccount>>, TaskError> {
        let mut accounts: Vec<Option<WaveAccount>> = vec![None];
        let waves = self
            .history
            .get_execution(execution_id)
            .await?
            .map_or(0, |r| r.wave_count);
        for index in 1..=waves {
            let account = self
                .history
                .get_wave(execution_id, index)
                .await?
                .and_then(|w| w.account)
                .filter(|a| !is_own(Some(a)));
            if account.is_some() && !accounts.contains(&account) {
                accounts.push(account);
            }
        }
        Ok(accounts)
    }

    /// Every DRS job tagged with `execution_id` in every account it launched in.
    pub(super) async fn jobs_of_all(
        &self,
        execution_id: &str,
        started_at: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Job>, TaskError> {
        let mut jobs = Vec::new();
        for account in self.accounts_of(execution_id).await? {
            jobs.extend(
                self.jobs_of(account.as_ref(), execution_id, started_at, now)
                    .await?,
            );
        }
        Ok(jobs)
    }

    /// Every DRS job tagged with `execution_id` in `account`, created since it started.
    pub(super) async fn jobs_of(
        &self,
        account: Option<&WaveAccount>,
        execution_id: &str,
        started_at: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Job>, TaskError> {
        let jobs = self
            .drs_of(account)
            .await
            .describe_jobs(JobFilter {
                job_ids: vec![],
                from_date: Some(from_date(started_at, now)),
            })
            .await?;
        Ok(jobs
            .into_iter()
            .filter(|j| is_ours(j, execution_id))
            .collect())
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

impl<D: DrsAccounts, H: History, X: ExecutionLookup> TaskHandler for Handlers<D, H, X> {
    async fn handle(
        &self,
        activity: Activity,
        input: String,
        token: &TaskToken,
    ) -> Result<TaskAnswer, TaskError> {
        let answer = self.dispatch(activity, &input, token).await;
        answer.map_err(|e| match retry_count_of(&input) {
            Some(retry_count) if e.retryable() => e.with_context(&task_retry::outlook(retry_count)),
            _ => e,
        })
    }
}

/// The task's `retryCount` (`$$.State.RetryCount`, which the generated Parameters pass), if any.
fn retry_count_of(input: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(input).ok()?;
    let count = value.get(task_retry::RETRY_COUNT_KEY)?.as_u64()?;
    u32::try_from(count).ok()
}

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    async fn dispatch(
        &self,
        activity: Activity,
        input: &str,
        token: &TaskToken,
    ) -> Result<TaskAnswer, TaskError> {
        let output = match activity {
            Activity::Preflight => to_output(&self.preflight(parse_input(activity, input)?).await?),
            Activity::StartWave => {
                to_output(&self.start_wave(parse_input(activity, input)?).await?)
            }
            Activity::CheckWave => {
                to_output(&self.check_wave(parse_input(activity, input)?).await?)
            }
            Activity::Finish => to_output(&self.finish(parse_input(activity, input)?).await?),
            Activity::RecordFailure => {
                to_output(&self.record_failure(parse_input(activity, input)?).await?)
            }
            Activity::CheckHealth => {
                to_output(&self.check_health(parse_input(activity, input)?).await?)
            }
            Activity::StartNetwork => {
                to_output(&self.start_network(parse_input(activity, input)?).await?)
            }
            Activity::CheckNetwork => {
                to_output(&self.check_network(parse_input(activity, input)?).await?)
            }
            Activity::AwaitOperator => {
                self.await_operator(parse_input(activity, input)?, token)
                    .await?;
                return Ok(TaskAnswer::Deferred);
            }
        }?;
        Ok(TaskAnswer::Output(output))
    }
}
