//! In-memory fakes of the worker's three seams, primed with boring defaults: tests add only the
//! behaviour they care about. Public so the integration and end-to-end tests can use them too.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use drs_waves_aws::drs::{
    Drs, Job, JobFilter, JobServer, JobStatus, LaunchStatus, RecoverySnapshot, ServerFailure,
    SourceServer, StartRecoveryRequest,
};

use crate::error::TaskError;
use crate::sfn::{ActivityService, ActivityTask, Delivery, ExecutionInfo, ExecutionLookup};
use crate::token::TaskToken;
use drs_waves_aws::AwsError;
use drs_waves_aws::drs::snapshots::{NewestAtOrBefore, wanted_time};
pub use drs_waves_history::MemoryHistory;
use drs_waves_rules::{format_time, parse_time};

mod instances;
mod post_launch;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertion that follows.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An answer the fake Step Functions received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Success {
        token: String,
        output: String,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
}

impl Answer {
    pub fn token(&self) -> &str {
        match self {
            Answer::Success { token, .. } | Answer::Failure { token, .. } => token,
        }
    }
}

type AnswerHook = Arc<dyn Fn(&Answer) + Send + Sync>;

#[derive(Default)]
struct SfnState {
    queues: HashMap<String, VecDeque<ActivityTask>>,
    answers: Vec<Answer>,
    heartbeats: HashMap<String, usize>,
    gone: HashSet<String>,
    /// The task tokens handed out for each execution (tasks pushed with
    /// [`FakeActivityService::push_task_of`]), so that stopping it ends them.
    tokens_of: HashMap<String, Vec<String>>,
}

struct SfnInner {
    state: Mutex<SfnState>,
    changed: Notify,
    poll_timeout: Duration,
    polls_started: AtomicUsize,
    polls_in_flight: AtomicUsize,
    on_answer: Mutex<Option<AnswerHook>>,
}

/// A fake of the activity side of Step Functions: tasks are pushed in by the test, a poll
/// waits for one up to `poll_timeout` (60 s, as GetActivityTask; use `tokio::time::pause`).
#[derive(Clone)]
pub struct FakeActivityService {
    inner: Arc<SfnInner>,
}

impl Default for FakeActivityService {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts a poll out when it ends, and tells the waiters (a test waiting for the number of
/// open polls to drop).
struct PollGuard<'a>(&'a SfnInner);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.polls_in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

impl FakeActivityService {
    pub fn new() -> Self {
        Self::with_poll_timeout(Duration::from_secs(60))
    }

    pub fn with_poll_timeout(poll_timeout: Duration) -> Self {
        FakeActivityService {
            inner: Arc::new(SfnInner {
                state: Mutex::new(SfnState::default()),
                changed: Notify::new(),
                poll_timeout,
                polls_started: AtomicUsize::new(0),
                polls_in_flight: AtomicUsize::new(0),
                on_answer: Mutex::new(None),
            }),
        }
    }

    pub fn push_task(&self, activity_arn: &str, token: &str, input: impl Into<String>) {
        lock(&self.inner.state)
            .queues
            .entry(activity_arn.to_string())
            .or_default()
            .push_back(ActivityTask {
                token: TaskToken::new(token),
                input: input.into(),
            });
        self.inner.changed.notify_waiters();
    }

    /// A task of `execution_arn`: when that execution is stopped
    /// ([`FakeExecutions::linked_to`]), its heartbeats and answers fail as on AWS.
    pub fn push_task_of(
        &self,
        execution_arn: &str,
        activity_arn: &str,
        token: &str,
        input: impl Into<String>,
    ) {
        lock(&self.inner.state)
            .tokens_of
            .entry(execution_arn.to_string())
            .or_default()
            .push(token.to_string());
        self.push_task(activity_arn, token, input);
    }

    /// AWS's StopExecution: the execution ends at once, and a task of it that a worker still
    /// holds learns so at its next heartbeat or answer (TaskTimedOut). (LocalStack instead keeps
    /// a stopped execution running until the worker answers its activity task; the local engine
    /// cannot show this, the fake does.) Tasks not yet handed out are dropped.
    pub fn end_execution(&self, execution_arn: &str) {
        let mut state = lock(&self.inner.state);
        let tokens = state.tokens_of.remove(execution_arn).unwrap_or_default();
        for queue in state.queues.values_mut() {
            queue.retain(|t| !tokens.iter().any(|tok| tok == t.token.expose()));
        }
        state.gone.extend(tokens);
        drop(state);
        self.inner.changed.notify_waiters();
    }

    /// From now on, heartbeats and answers for `token` say TaskTimedOut.
    pub fn expire_task(&self, token: &str) {
        lock(&self.inner.state).gone.insert(token.to_string());
        self.inner.changed.notify_waiters();
    }

    /// Called (synchronously) with each answer as it arrives: lets a test look at other state
    /// at the moment the task was answered.
    pub fn on_answer(&self, hook: impl Fn(&Answer) + Send + Sync + 'static) {
        *lock(&self.inner.on_answer) = Some(Arc::new(hook));
    }

    pub fn answers(&self) -> Vec<Answer> {
        lock(&self.inner.state).answers.clone()
    }

    pub fn heartbeats(&self, token: &str) -> usize {
        lock(&self.inner.state)
            .heartbeats
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    pub fn polls_started(&self) -> usize {
        self.inner.polls_started.load(Ordering::SeqCst)
    }

    pub fn polls_in_flight(&self) -> usize {
        self.inner.polls_in_flight.load(Ordering::SeqCst)
    }

    /// Waits until `cond` holds over the fake's state (checked on every change).
    pub async fn wait_until(&self, mut cond: impl FnMut(&FakeActivityService) -> bool) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if cond(self) {
                return;
            }
            changed.await;
        }
    }

    pub async fn wait_for_answers(&self, n: usize) -> Vec<Answer> {
        self.wait_until(|s| s.answers().len() >= n).await;
        self.answers()
    }

    fn answer(&self, answer: Answer) -> Delivery {
        let token = answer.token().to_string();
        let hook = lock(&self.inner.on_answer).clone();
        {
            let mut state = lock(&self.inner.state);
            if state.gone.contains(&token) {
                return Delivery::TaskGone("TaskTimedOut".into());
            }
            if let Some(h) = hook {
                h(&answer);
            }
            state.answers.push(answer);
        }
        self.inner.changed.notify_waiters();
        Delivery::Delivered
    }
}

impl ActivityService for FakeActivityService {
    async fn poll(
        &self,
        activity_arn: &str,
        _worker_name: &str,
    ) -> Result<Option<ActivityTask>, TaskError> {
        self.inner.polls_started.fetch_add(1, Ordering::SeqCst);
        self.inner.polls_in_flight.fetch_add(1, Ordering::SeqCst);
        let _guard = PollGuard(&self.inner);
        self.inner.changed.notify_waiters();
        let deadline = tokio::time::Instant::now() + self.inner.poll_timeout;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(task) = lock(&self.inner.state)
                .queues
                .get_mut(activity_arn)
                .and_then(VecDeque::pop_front)
            {
                self.inner.changed.notify_waiters();
                return Ok(Some(task));
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
            }
        }
    }

    async fn heartbeat(&self, token: &TaskToken) -> Result<Delivery, TaskError> {
        let gone = {
            let mut state = lock(&self.inner.state);
            *state
                .heartbeats
                .entry(token.expose().to_string())
                .or_default() += 1;
            state.gone.contains(token.expose())
        };
        self.inner.changed.notify_waiters();
        Ok(if gone {
            Delivery::TaskGone("TaskTimedOut".into())
        } else {
            Delivery::Delivered
        })
    }

    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<Delivery, TaskError> {
        Ok(self.answer(Answer::Success {
            token: token.expose().to_string(),
            output: output.to_string(),
        }))
    }

    async fn fail(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<Delivery, TaskError> {
        Ok(self.answer(Answer::Failure {
            token: token.expose().to_string(),
            error: error.to_string(),
            cause: cause.to_string(),
        }))
    }
}

#[derive(Default)]
struct DrsState {
    servers: Vec<SourceServer>,
    /// Per server, oldest first.
    snapshots: BTreeMap<String, Vec<RecoverySnapshot>>,
    /// Snapshots made so far: IDs are never reused, even after a server's are cleared.
    snapshots_made: usize,
    jobs: Vec<Job>,
    start_calls: Vec<StartRecoveryRequest>,
    terminate_calls: Vec<Vec<String>>,
    describe_jobs_calls: Vec<JobFilter>,
    /// Each DescribeSourceServers by selection, in order.
    selections: Vec<drs_waves_aws::drs::ServerSelection>,
    failures: HashMap<&'static str, VecDeque<AwsError>>,
    blank_job_ids: bool,
    next_job: u64,
    /// Recovery instances terminated so far.
    terminated: HashSet<String>,
    /// Per operation: let one call through, then fail the next with this error.
    pass_then_fail: HashMap<&'static str, AwsError>,
    /// Operations whose next call fails with the parked error.
    armed_after_pass: HashMap<&'static str, AwsError>,
    /// Per server, the `rawError` of its LAUNCH_FAILED log item.
    failure_reasons: HashMap<String, String>,
    /// Per server, the log event that says it failed when it is not LAUNCH_FAILED
    /// (SERVER_SKIPPED, CONVERSION_FAIL, ...).
    failure_events: HashMap<String, String>,
    /// TerminateRecoveryInstances answers lost after DRS acted (the job exists).
    lose_terminate_answers: VecDeque<AwsError>,
    /// StartRecovery answers lost after DRS acted (the job exists).
    lose_start_answers: VecDeque<AwsError>,
    /// The time new jobs are created at; the real clock when unset.
    now: Option<time::OffsetDateTime>,
    /// How DescribeRecoverySnapshots pages its answers.
    snapshot_paging: SnapshotPaging,
    /// DescribeRecoverySnapshots pages answered so far.
    snapshot_pages: usize,
    /// StartRecovery's per-job quota, when set.
    max_servers_per_job: Option<usize>,
    /// How long after StartRecovery makes a job DescribeJobs starts listing it.
    listing_delay: Duration,
    /// Per job made while a listing delay was set, when DescribeJobs starts listing it.
    listed_from: HashMap<String, tokio::time::Instant>,
    /// Recovery instances as DescribeRecoveryInstances lists them (`testing/instances.rs`).
    instances: instances::InstanceState,
}

/// How the fake answers DescribeRecoverySnapshots: what the DRS API model allows besides one
/// page sorted newest first (`order` ASC is DRS's default; any Describe* may answer a short or
/// empty page with a `nextToken`). The default: newest first, everything on one page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotPaging {
    /// Oldest first, whatever `order` the caller asked for.
    pub ascending: bool,
    /// Items per page; 0: all on one page.
    pub per_page: usize,
    /// An empty page with a `nextToken` before each page of items (and one after the last).
    pub empty_pages: bool,
    /// Ignores the `toDateTime` filter (it is a narrowing hint to the worker, not a promise).
    pub ignore_time_filter: bool,
}

/// A fake DRS: servers and jobs in memory; StartRecovery makes a PENDING job of PENDING
/// servers; a test moves them on with [`FakeDrs::set_launch_status`].
#[derive(Clone, Default)]
pub struct FakeDrs {
    state: Arc<Mutex<DrsState>>,
}

impl FakeDrs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a healthy (CONTINUOUS) server with one recovery snapshot, taken at
    /// [`FakeDrs::DEFAULT_SNAPSHOT_TIME`].
    pub fn add_server(&self, id: &str, tags: &[(&str, &str)]) {
        self.add_server_in_state(id, tags, "CONTINUOUS");
    }

    /// When the snapshot of a server added by [`FakeDrs::add_server`] was taken.
    pub const DEFAULT_SNAPSHOT_TIME: &'static str = "2030-01-01T00:00:00Z";

    /// Adds a server in the given replication state (AGENT_NOT_SEEN when it is STALLED or
    /// DISCONNECTED, as DRS reports a source site that is down) with one snapshot.
    pub fn add_server_in_state(&self, id: &str, tags: &[(&str, &str)], replication_state: &str) {
        let down = matches!(replication_state, "STALLED" | "DISCONNECTED");
        lock(&self.state).servers.push(SourceServer {
            id: id.to_string(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            replication_state: Some(replication_state.to_string()),
            replication_error: down.then(|| "AGENT_NOT_SEEN".to_string()),
            last_seen: Some(Self::DEFAULT_SNAPSHOT_TIME.to_string()),
            hostname: Some(format!("host-{id}")),
        });
        self.add_snapshot(id, Self::DEFAULT_SNAPSHOT_TIME);
    }

    pub fn set_hostname(&self, id: &str, hostname: &str) {
        for s in lock(&self.state).servers.iter_mut().filter(|s| s.id == id) {
            s.hostname = Some(hostname.to_string());
        }
    }

    /// Adds a recovery snapshot taken at `taken_at` (RFC 3339); returns its ID.
    pub fn add_snapshot(&self, server: &str, taken_at: &str) -> String {
        let mut state = lock(&self.state);
        state.snapshots_made += 1;
        let n = state.snapshots_made;
        let id = format!("pit-{n:017x}");
        let list = state.snapshots.entry(server.to_string()).or_default();
        list.push(RecoverySnapshot {
            id: id.clone(),
            source_server_id: server.to_string(),
            taken_at: taken_at.to_string(),
        });
        list.sort_by_key(|s| parse_time(&s.taken_at));
        id
    }

    /// StartRecovery refuses more than `n` servers in one job, as drs-sim does (402
    /// ServiceQuotaExceededException, `quotaCode` SourceServersPerJob), classified as SdkDrs
    /// classifies it.
    pub fn set_max_servers_per_job(&self, n: usize) {
        lock(&self.state).max_servers_per_job = Some(n);
    }

    /// Jobs StartRecovery makes from here on are listed by DescribeJobs (by ID or by date, so
    /// by their tags too) only `delay` later (tokio time), as DRS may list a new job late; DRS
    /// still refuses their servers in another job at once (ConflictException).
    pub fn set_listing_delay(&self, delay: Duration) {
        lock(&self.state).listing_delay = delay;
    }

    /// How DescribeRecoverySnapshots answers from here on (order, short and empty pages).
    pub fn page_snapshots(&self, paging: SnapshotPaging) {
        lock(&self.state).snapshot_paging = paging;
    }

    /// DescribeRecoverySnapshots pages answered so far (empty ones included).
    pub fn snapshot_pages_served(&self) -> usize {
        lock(&self.state).snapshot_pages
    }

    /// One DescribeRecoverySnapshots page as [`SnapshotPaging`] lays them out: the items from
    /// `token` on, and the next token (absent on the last page).
    fn snapshot_page(
        state: &mut DrsState,
        server: &str,
        at_or_before: Option<&str>,
        token: Option<usize>,
    ) -> (Vec<RecoverySnapshot>, Option<usize>) {
        state.snapshot_pages += 1;
        let paging = state.snapshot_paging;
        let limit = at_or_before
            .filter(|_| !paging.ignore_time_filter)
            .and_then(parse_time);
        let mut items: Vec<RecoverySnapshot> = state
            .snapshots
            .get(server)
            .into_iter()
            .flatten()
            .filter(|s| limit.is_none_or(|l| parse_time(&s.taken_at).is_some_and(|t| t <= l)))
            .cloned()
            .collect();
        if !paging.ascending {
            items.reverse();
        }
        let per_page = if paging.per_page == 0 {
            items.len().max(1)
        } else {
            paging.per_page
        };
        // Tokens count steps: with empty pages, even steps are empty pages and odd ones carry
        // items; without, every step carries items.
        let step = token.unwrap_or(0);
        let steps_per_page = if paging.empty_pages { 2 } else { 1 };
        let pages = items.len().div_ceil(per_page);
        let last_step = pages * steps_per_page + usize::from(paging.empty_pages);
        let next = (step + 1 < last_step.max(1)).then_some(step + 1);
        if paging.empty_pages && step.is_multiple_of(2) {
            return (Vec::new(), next);
        }
        let page = step / steps_per_page;
        let page_items = items
            .into_iter()
            .skip(page * per_page)
            .take(per_page)
            .collect();
        (page_items, next)
    }

    /// Forgets every snapshot of a server (one still in INITIAL_SYNC has none).
    pub fn clear_snapshots(&self, server: &str) {
        lock(&self.state).snapshots.remove(server);
    }

    pub fn add_job(&self, job: Job) {
        lock(&self.state).jobs.push(job);
    }

    /// The next `op` call fails with `err` (ops: describe_source_servers, describe_jobs,
    /// start_recovery, terminate_recovery_instances).
    pub fn fail_next(&self, op: &'static str, err: AwsError) {
        lock(&self.state)
            .failures
            .entry(op)
            .or_default()
            .push_back(err);
    }

    /// The next StartRecovery creates its job, then fails with `err` (an answer lost after DRS
    /// acted).
    pub fn lose_next_start_answer(&self, err: AwsError) {
        lock(&self.state).lose_start_answers.push_back(err);
    }

    /// The next TerminateRecoveryInstances creates its job, then fails with `err`.
    pub fn lose_next_terminate_answer(&self, err: AwsError) {
        lock(&self.state).lose_terminate_answers.push_back(err);
    }

    /// The reason the job log gives when `server` fails to launch.
    pub fn set_failure_reason(&self, server: &str, reason: &str) {
        lock(&self.state)
            .failure_reasons
            .insert(server.to_string(), reason.to_string());
    }

    /// Recovery instances launched and not terminated.
    fn existing(state: &DrsState) -> HashSet<&str> {
        state
            .jobs
            .iter()
            .filter(|j| j.job_type.as_deref() != Some("TERMINATE"))
            .flat_map(|j| j.servers.iter())
            .filter_map(|s| s.recovery_instance_id.as_deref())
            .filter(|i| !state.terminated.contains(*i))
            .collect()
    }

    /// Jobs are created at `now` from here on (tests whose handlers run on a fixed clock).
    pub fn set_now(&self, now: time::OffsetDateTime) {
        lock(&self.state).now = Some(now);
    }

    /// The next `op` call succeeds, and the one after fails with `err`.
    pub fn succeed_then_fail_next(&self, op: &'static str, err: AwsError) {
        lock(&self.state).pass_then_fail.insert(op, err);
    }

    /// StartRecovery answers with an empty jobID (as the SDK does when the field is missing).
    pub fn blank_job_ids(&self) {
        lock(&self.state).blank_job_ids = true;
    }

    pub fn set_launch_status(&self, server: &str, status: LaunchStatus, instance: Option<&str>) {
        let mut state = lock(&self.state);
        for job in &mut state.jobs {
            for s in &mut job.servers {
                if s.source_server_id == server {
                    s.launch_status = status.clone();
                    s.recovery_instance_id = instance.map(str::to_string);
                }
            }
        }
    }

    /// A server's launch status in one job only (a server an operator's retry launched again
    /// is in two jobs).
    pub fn set_launch_status_in(
        &self,
        job_id: &str,
        server: &str,
        status: LaunchStatus,
        instance: Option<&str>,
    ) {
        let mut state = lock(&self.state);
        for job in state.jobs.iter_mut().filter(|j| j.id == job_id) {
            for s in job
                .servers
                .iter_mut()
                .filter(|s| s.source_server_id == server)
            {
                s.launch_status = status.clone();
                s.recovery_instance_id = instance.map(str::to_string);
            }
        }
    }

    /// Removes a server from every job's participants (DRS listing a job without it).
    pub fn drop_server_from_jobs(&self, server: &str) {
        for job in &mut lock(&self.state).jobs {
            job.servers.retain(|s| s.source_server_id != server);
        }
    }

    pub fn set_job_status(&self, job_id: &str, status: JobStatus) {
        for job in lock(&self.state).jobs.iter_mut().filter(|j| j.id == job_id) {
            job.status = status.clone();
        }
    }

    /// The job COMPLETED at `ended_at` (its `endDateTime`).
    pub fn end_job(&self, job_id: &str, ended_at: &str) {
        for job in lock(&self.state).jobs.iter_mut().filter(|j| j.id == job_id) {
            job.status = JobStatus::Completed;
            job.ended_at = Some(ended_at.to_string());
        }
    }

    pub fn start_calls(&self) -> Vec<StartRecoveryRequest> {
        lock(&self.state).start_calls.clone()
    }

    pub fn terminate_calls(&self) -> Vec<Vec<String>> {
        lock(&self.state).terminate_calls.clone()
    }

    pub fn describe_jobs_calls(&self) -> Vec<JobFilter> {
        lock(&self.state).describe_jobs_calls.clone()
    }

    /// What each `select_source_servers` call asked for, in order.
    pub fn source_server_selections(&self) -> Vec<drs_waves_aws::drs::ServerSelection> {
        lock(&self.state).selections.clone()
    }

    pub fn jobs(&self) -> Vec<Job> {
        lock(&self.state).jobs.clone()
    }

    fn injected(&self, op: &'static str) -> Result<(), AwsError> {
        let mut state = lock(&self.state);
        if let Some(e) = state.failures.get_mut(op).and_then(VecDeque::pop_front) {
            return Err(e);
        }
        if let Some(e) = state.armed_after_pass.remove(op) {
            return Err(e);
        }
        if let Some(e) = state.pass_then_fail.remove(op) {
            state.armed_after_pass.insert(op, e);
        }
        Ok(())
    }

    fn new_job(
        state: &mut DrsState,
        job_type: &str,
        servers: Vec<JobServer>,
        tags: BTreeMap<String, String>,
    ) -> Job {
        state.next_job += 1;
        Job {
            id: format!("drsjob-{:017}", state.next_job),
            status: JobStatus::Pending,
            job_type: Some(job_type.to_string()),
            tags,
            created_at: Some(format_time(
                state.now.unwrap_or_else(time::OffsetDateTime::now_utc),
            )),
            ended_at: None,
            servers,
        }
    }
}

impl Drs for FakeDrs {
    async fn describe_source_servers(&self) -> Result<Vec<SourceServer>, AwsError> {
        self.injected("describe_source_servers")?;
        Ok(lock(&self.state).servers.clone())
    }

    /// The same DRS operation as [`Drs::describe_source_servers`], so a failure injected for
    /// `describe_source_servers` fails this call too.
    async fn select_source_servers(
        &self,
        selection: &drs_waves_aws::drs::ServerSelection,
    ) -> Result<Vec<SourceServer>, AwsError> {
        if selection.is_empty() {
            return Ok(Vec::new());
        }
        self.injected("describe_source_servers")?;
        let mut state = lock(&self.state);
        state.selections.push(selection.clone());
        Ok(state
            .servers
            .iter()
            .filter(|s| selection.selects(s))
            .cloned()
            .collect())
    }

    async fn describe_jobs(&self, filter: JobFilter) -> Result<Vec<Job>, AwsError> {
        self.injected("describe_jobs")?;
        let mut state = lock(&self.state);
        state.describe_jobs_calls.push(filter.clone());
        // fromDate bounds creationDateTime, as DRS's filter does.
        let from = filter.from_date.as_deref().and_then(parse_time);
        let now = tokio::time::Instant::now();
        Ok(state
            .jobs
            .iter()
            .filter(|j| state.listed_from.get(&j.id).is_none_or(|t| *t <= now))
            .filter(|j| filter.job_ids.is_empty() || filter.job_ids.contains(&j.id))
            .filter(
                |j| match (from, j.created_at.as_deref().and_then(parse_time)) {
                    (Some(from), Some(created)) => created >= from,
                    _ => true,
                },
            )
            .rev()
            .map(|j| Self::as_listed(&state, j.clone()))
            .collect())
    }

    async fn latest_recovery_snapshot(
        &self,
        source_server_id: &str,
        at_or_before: Option<&str>,
    ) -> Result<Option<RecoverySnapshot>, AwsError> {
        self.injected("latest_recovery_snapshot")?;
        let mut state = lock(&self.state);
        if !state.servers.iter().any(|s| s.id == source_server_id) {
            return Err(AwsError::Failed(format!(
                "DRS DescribeRecoverySnapshots: source server {source_server_id} does not exist"
            )));
        }
        // Every page until no token comes back, and the worker's own choice (as SdkDrs does).
        let now = state.now.unwrap_or_else(time::OffsetDateTime::now_utc);
        let mut newest = NewestAtOrBefore::new(wanted_time(at_or_before, now)?);
        let mut token = None;
        loop {
            let (items, next) =
                Self::snapshot_page(&mut state, source_server_id, at_or_before, token);
            items.into_iter().for_each(|s| newest.offer(s));
            match next {
                Some(n) => token = Some(n),
                None => return Ok(newest.chosen()),
            }
        }
    }

    async fn start_recovery(&self, request: StartRecoveryRequest) -> Result<Job, AwsError> {
        self.injected("start_recovery")?;
        let mut state = lock(&self.state);
        if let Some(limit) = state
            .max_servers_per_job
            .filter(|l| request.source_server_ids.len() > *l)
        {
            let failure = drs_waves_aws::failure::ServiceFailure {
                kind: drs_waves_aws::failure::FailureKind::Service,
                code: Some("ServiceQuotaExceededException".into()),
                message: Some(format!(
                    "Cannot start a job of {} source servers (limit {limit} per job)",
                    request.source_server_ids.len()
                )),
                status: Some(402),
                quota_code: Some("SourceServersPerJob".into()),
            };
            return Err(drs_waves_aws::failure::classify(
                "DRS StartRecovery",
                &failure,
            ));
        }
        // DRS refuses a server already in an active job (ConflictException) and a snapshot that
        // is not the server's (ValidationException).
        for id in &request.source_server_ids {
            if let Some(job) = state.jobs.iter().find(|j| {
                j.status.is_active() && j.servers.iter().any(|s| &s.source_server_id == id)
            }) {
                return Err(AwsError::Failed(format!(
                    "DRS StartRecovery: ConflictException: source server {id} is already in active job {}",
                    job.id
                )));
            }
            if let Some(snapshot) = request.snapshot_ids.get(id)
                && !state
                    .snapshots
                    .get(id)
                    .is_some_and(|list| list.iter().any(|s| &s.id == snapshot))
            {
                return Err(AwsError::Failed(format!(
                    "DRS StartRecovery: ValidationException: {snapshot} is not a recovery snapshot of {id}"
                )));
            }
        }
        state.start_calls.push(request.clone());
        let servers = request
            .source_server_ids
            .iter()
            .map(|id| JobServer {
                source_server_id: id.clone(),
                recovery_instance_id: None,
                launch_status: LaunchStatus::Pending,
                launch_actions: Vec::new(),
            })
            .collect();
        let job = Self::new_job(&mut state, "LAUNCH", servers, request.tags.clone());
        Self::record_launch(&mut state, &job, &request);
        state.jobs.push(job.clone());
        if !state.listing_delay.is_zero() {
            let listed = tokio::time::Instant::now() + state.listing_delay;
            state.listed_from.insert(job.id.clone(), listed);
        }
        if let Some(err) = state.lose_start_answers.pop_front() {
            return Err(err);
        }
        if state.blank_job_ids {
            return Ok(Job {
                id: String::new(),
                ..job
            });
        }
        Ok(Self::as_listed(&state, job))
    }

    async fn terminate_recovery_instances(&self, ids: Vec<String>) -> Result<Job, AwsError> {
        self.injected("terminate_recovery_instances")?;
        let mut state = lock(&self.state);
        // DRS refuses an instance that does not exist (any more), as a ValidationException.
        let existing = Self::existing(&state);
        if let Some(gone) = ids.iter().find(|id| !existing.contains(id.as_str())) {
            return Err(AwsError::Failed(format!(
                "DRS TerminateRecoveryInstances: ValidationException: recovery instance {gone} does not exist"
            )));
        }
        state.terminate_calls.push(ids.clone());
        state.terminated.extend(ids.iter().cloned());
        let servers = state
            .jobs
            .iter()
            .flat_map(|j| j.servers.iter())
            .filter(|s| {
                s.recovery_instance_id
                    .as_ref()
                    .is_some_and(|i| ids.contains(i))
            })
            .map(|s| JobServer {
                source_server_id: s.source_server_id.clone(),
                recovery_instance_id: s.recovery_instance_id.clone(),
                launch_status: LaunchStatus::Pending,
                launch_actions: Vec::new(),
            })
            .collect();
        // Terminations end at once here (DRS takes a minute or so): a TERMINATE job is
        // COMPLETED, its servers TERMINATED.
        let mut job = Self::new_job(&mut state, "TERMINATE", servers, BTreeMap::new());
        job.status = JobStatus::Completed;
        for s in &mut job.servers {
            s.launch_status = LaunchStatus::Terminated;
        }
        state.jobs.push(job.clone());
        if let Some(err) = state.lose_terminate_answers.pop_front() {
            return Err(err);
        }
        Ok(Self::as_listed(&state, job))
    }

    async fn recovery_instances_of(
        &self,
        source_server_ids: Vec<String>,
    ) -> Result<Vec<drs_waves_aws::drs::RecoveryInstance>, AwsError> {
        if source_server_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.injected("recovery_instances_of")?;
        Ok(Self::instances_of(
            &mut lock(&self.state),
            source_server_ids,
        ))
    }

    async fn existing_recovery_instances(&self, ids: Vec<String>) -> Result<Vec<String>, AwsError> {
        self.injected("existing_recovery_instances")?;
        let state = lock(&self.state);
        let existing = Self::existing(&state);
        Ok(ids
            .into_iter()
            .filter(|id| existing.contains(id.as_str()))
            .collect())
    }

    async fn job_failures(&self, job_id: &str) -> Result<Vec<ServerFailure>, AwsError> {
        self.injected("job_failures")?;
        let state = lock(&self.state);
        Ok(state
            .jobs
            .iter()
            .filter(|j| j.id == job_id)
            .flat_map(|j| j.servers.iter())
            .filter(|s| s.launch_status == LaunchStatus::Failed)
            // The log names the event by the model's JobLogEvent, as DRS's does.
            .filter_map(|s| {
                let id = &s.source_server_id;
                drs_waves_aws::drs::job_log::server_failure(
                    state
                        .failure_events
                        .get(id)
                        .map_or("LAUNCH_FAILED", String::as_str),
                    id,
                    state.failure_reasons.get(id).map(String::as_str),
                )
            })
            .collect())
    }
}

/// Executions for the run-lock takeover, the preemption and the janitor; unknown executions
/// do not exist. A stop moves a RUNNING execution to ABORTED, as StopExecution does.
#[derive(Clone, Default)]
pub struct FakeExecutions {
    executions: Arc<Mutex<HashMap<String, ExecutionInfo>>>,
    stops: Arc<Mutex<Vec<(String, String, String)>>>,
    /// The activity side of the same Step Functions, when a test links them: a stop then ends
    /// the execution's tasks there too.
    activities: Option<FakeActivityService>,
}

impl FakeExecutions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Executions and activity tasks of one Step Functions: StopExecution ends the execution
    /// at once and its tasks' heartbeats then fail (AWS's semantics).
    pub fn linked_to(activities: &FakeActivityService) -> Self {
        FakeExecutions {
            activities: Some(activities.clone()),
            ..Self::default()
        }
    }

    pub fn set(&self, execution_arn: &str, status: &str) {
        let stopped_at = (status != "RUNNING").then(|| "2030-01-01T00:20:00Z".to_string());
        lock(&self.executions).insert(
            execution_arn.to_string(),
            ExecutionInfo {
                status: status.to_string(),
                stopped_at,
            },
        );
    }

    /// Every StopExecution: (ARN, error, cause).
    pub fn stops(&self) -> Vec<(String, String, String)> {
        lock(&self.stops).clone()
    }
}

impl ExecutionLookup for FakeExecutions {
    async fn execution(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>, TaskError> {
        Ok(lock(&self.executions).get(execution_arn).cloned())
    }

    async fn stop_execution(
        &self,
        execution_arn: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), TaskError> {
        lock(&self.stops).push((
            execution_arn.to_string(),
            error.to_string(),
            cause.to_string(),
        ));
        if let Some(e) = lock(&self.executions).get_mut(execution_arn)
            && e.status == "RUNNING"
        {
            e.status = "ABORTED".to_string();
            e.stopped_at = Some("2030-01-01T00:20:00Z".to_string());
        }
        if let Some(activities) = &self.activities {
            activities.end_execution(execution_arn);
        }
        Ok(())
    }
}

/// What SNS would have delivered: each published (topic, subject, message), or the error the
/// next publish fails with.
#[derive(Clone, Default)]
pub struct RecordingNotifier {
    sent: Arc<Mutex<Vec<(String, String, String)>>>,
    fail_next: Arc<Mutex<Option<AwsError>>>,
}

impl RecordingNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sent(&self) -> Vec<(String, String, String)> {
        lock(&self.sent).clone()
    }

    pub fn fail_next(&self, err: AwsError) {
        *lock(&self.fail_next) = Some(err);
    }
}

impl drs_waves_aws::sns::Notifier for RecordingNotifier {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> drs_waves_aws::sns::Publishing<'a> {
        Box::pin(async move {
            if let Some(err) = lock(&self.fail_next).take() {
                return Err(err);
            }
            lock(&self.sent).push((topic_arn.into(), subject.into(), message.into()));
            Ok(())
        })
    }
}
