//! In-memory fakes of the worker's three seams, primed with boring defaults: tests add only the
//! behaviour they care about. Public so the integration and end-to-end tests can use them too.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::drs::{
    Drs, Job, JobFilter, JobServer, JobStatus, LaunchStatus, SourceServer, StartRecoveryRequest,
};
use drs_waves_contract::WaveStatus;

use crate::error::TaskError;
use crate::history::{
    ExecutionClose, ExecutionRecord, History, JobRecord, LaunchWrite, LockOutcome, WaveRecord,
};
use crate::sfn::{ActivityService, ActivityTask, Delivery, ExecutionLookup};
use crate::token::TaskToken;

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

struct PollGuard<'a>(&'a AtomicUsize);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
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
        let _guard = PollGuard(&self.inner.polls_in_flight);
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
    jobs: Vec<Job>,
    start_calls: Vec<StartRecoveryRequest>,
    terminate_calls: Vec<Vec<String>>,
    describe_jobs_calls: Vec<JobFilter>,
    failures: HashMap<&'static str, VecDeque<TaskError>>,
    blank_job_ids: bool,
    next_job: u64,
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

    /// Adds a healthy (CONTINUOUS) server.
    pub fn add_server(&self, id: &str, tags: &[(&str, &str)]) {
        self.add_server_in_state(id, tags, "CONTINUOUS");
    }

    pub fn add_server_in_state(&self, id: &str, tags: &[(&str, &str)], replication_state: &str) {
        lock(&self.state).servers.push(SourceServer {
            id: id.to_string(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            replication_state: Some(replication_state.to_string()),
            hostname: Some(format!("host-{id}")),
        });
    }

    pub fn add_job(&self, job: Job) {
        lock(&self.state).jobs.push(job);
    }

    /// The next `op` call fails with `err` (ops: describe_source_servers, describe_jobs,
    /// start_recovery, terminate_recovery_instances).
    pub fn fail_next(&self, op: &'static str, err: TaskError) {
        lock(&self.state)
            .failures
            .entry(op)
            .or_default()
            .push_back(err);
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

    pub fn set_job_status(&self, job_id: &str, status: JobStatus) {
        for job in lock(&self.state).jobs.iter_mut().filter(|j| j.id == job_id) {
            job.status = status.clone();
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

    pub fn jobs(&self) -> Vec<Job> {
        lock(&self.state).jobs.clone()
    }

    fn injected(&self, op: &'static str) -> Result<(), TaskError> {
        match lock(&self.state)
            .failures
            .get_mut(op)
            .and_then(VecDeque::pop_front)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
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
            created_at: Some("2030-01-01T00:00:00Z".to_string()),
            ended_at: None,
            servers,
        }
    }
}

impl Drs for FakeDrs {
    async fn describe_source_servers(&self) -> Result<Vec<SourceServer>, TaskError> {
        self.injected("describe_source_servers")?;
        Ok(lock(&self.state).servers.clone())
    }

    async fn describe_jobs(&self, filter: JobFilter) -> Result<Vec<Job>, TaskError> {
        self.injected("describe_jobs")?;
        let mut state = lock(&self.state);
        state.describe_jobs_calls.push(filter.clone());
        Ok(state
            .jobs
            .iter()
            .filter(|j| filter.job_ids.is_empty() || filter.job_ids.contains(&j.id))
            .rev()
            .cloned()
            .collect())
    }

    async fn start_recovery(&self, request: StartRecoveryRequest) -> Result<Job, TaskError> {
        self.injected("start_recovery")?;
        let mut state = lock(&self.state);
        state.start_calls.push(request.clone());
        let servers = request
            .source_server_ids
            .iter()
            .map(|id| JobServer {
                source_server_id: id.clone(),
                recovery_instance_id: None,
                launch_status: LaunchStatus::Pending,
            })
            .collect();
        let job = Self::new_job(&mut state, "LAUNCH", servers, request.tags);
        state.jobs.push(job.clone());
        if state.blank_job_ids {
            return Ok(Job {
                id: String::new(),
                ..job
            });
        }
        Ok(job)
    }

    async fn terminate_recovery_instances(&self, ids: Vec<String>) -> Result<Job, TaskError> {
        self.injected("terminate_recovery_instances")?;
        let mut state = lock(&self.state);
        state.terminate_calls.push(ids);
        let job = Self::new_job(&mut state, "TERMINATE", vec![], BTreeMap::new());
        state.jobs.push(job.clone());
        Ok(job)
    }
}

#[derive(Default)]
struct HistoryState {
    locks: HashMap<String, String>,
    executions: HashMap<String, ExecutionRecord>,
    waves: HashMap<(String, u32), WaveRecord>,
    jobs: BTreeMap<(String, String), JobRecord>,
    failures: HashMap<&'static str, VecDeque<TaskError>>,
}

/// The history in memory, with the same conditional-write rules as [`crate::history::DynamoHistory`].
#[derive(Clone, Default)]
pub struct MemoryHistory {
    state: Arc<Mutex<HistoryState>>,
}

impl MemoryHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `op` call fails with `err` (op: the trait method's name).
    pub fn fail_next(&self, op: &'static str, err: TaskError) {
        lock(&self.state)
            .failures
            .entry(op)
            .or_default()
            .push_back(err);
    }

    pub fn lock_holder(&self, plan: &str) -> Option<String> {
        lock(&self.state).locks.get(plan).cloned()
    }

    pub fn set_lock_holder(&self, plan: &str, holder: &str) {
        lock(&self.state)
            .locks
            .insert(plan.to_string(), holder.to_string());
    }

    pub fn execution(&self, id: &str) -> Option<ExecutionRecord> {
        lock(&self.state).executions.get(id).cloned()
    }

    pub fn wave(&self, id: &str, index: u32) -> Option<WaveRecord> {
        lock(&self.state)
            .waves
            .get(&(id.to_string(), index))
            .cloned()
    }

    pub fn job_records(&self, id: &str) -> Vec<JobRecord> {
        lock(&self.state)
            .jobs
            .iter()
            .filter(|((e, _), _)| e == id)
            .map(|(_, j)| j.clone())
            .collect()
    }

    /// Forgets a wave's record (as if the write had been lost).
    pub fn forget_wave(&self, id: &str, index: u32) {
        lock(&self.state).waves.remove(&(id.to_string(), index));
    }

    fn injected(&self, op: &'static str) -> Result<(), TaskError> {
        match lock(&self.state)
            .failures
            .get_mut(op)
            .and_then(VecDeque::pop_front)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl History for MemoryHistory {
    async fn acquire_lock(
        &self,
        plan: &str,
        execution_id: &str,
        _now: &str,
    ) -> Result<LockOutcome, TaskError> {
        self.injected("acquire_lock")?;
        let mut state = lock(&self.state);
        match state.locks.get(plan) {
            Some(holder) if holder != execution_id => Ok(LockOutcome::HeldBy(holder.clone())),
            _ => {
                state
                    .locks
                    .insert(plan.to_string(), execution_id.to_string());
                Ok(LockOutcome::Acquired)
            }
        }
    }

    async fn take_over_lock(
        &self,
        plan: &str,
        execution_id: &str,
        previous: &str,
        _now: &str,
    ) -> Result<bool, TaskError> {
        self.injected("take_over_lock")?;
        let mut state = lock(&self.state);
        if state.locks.get(plan).map(String::as_str) == Some(previous) {
            state
                .locks
                .insert(plan.to_string(), execution_id.to_string());
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn release_lock(&self, plan: &str, execution_id: &str) -> Result<bool, TaskError> {
        self.injected("release_lock")?;
        let mut state = lock(&self.state);
        if state.locks.get(plan).map(String::as_str) == Some(execution_id) {
            state.locks.remove(plan);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn create_execution(&self, record: ExecutionRecord) -> Result<(), TaskError> {
        self.injected("create_execution")?;
        lock(&self.state)
            .executions
            .entry(record.execution_id.clone())
            .or_insert(record);
        Ok(())
    }

    async fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>, TaskError> {
        self.injected("get_execution")?;
        Ok(self.execution(id))
    }

    async fn close_execution(&self, c: ExecutionClose) -> Result<(), TaskError> {
        self.injected("close_execution")?;
        let mut state = lock(&self.state);
        // An upsert, as DynamoDB's UpdateItem: what the record has is kept where the close
        // says "if not set".
        let r = state
            .executions
            .entry(c.execution_id.clone())
            .or_insert_with(|| ExecutionRecord {
                execution_id: c.execution_id.clone(),
                execution_name: c.execution_name.clone(),
                plan_name: c.plan_name.clone(),
                mode: None,
                status: c.status,
                started_at: c.started_at.clone(),
                ended_at: None,
                error: None,
                cause: None,
                wave_count: 0,
                server_count: 0,
                wave_statuses: BTreeMap::new(),
                terminate_job_ids: None,
            });
        if r.mode.is_none() {
            r.mode = c.mode;
        }
        r.status = c.status;
        r.ended_at = Some(c.ended_at);
        if c.error.is_some() {
            r.error = c.error;
        }
        if c.cause.is_some() {
            r.cause = c.cause;
        }
        r.wave_statuses = c.wave_statuses;
        Ok(())
    }

    async fn record_terminate_jobs(&self, id: &str, job_ids: Vec<String>) -> Result<(), TaskError> {
        self.injected("record_terminate_jobs")?;
        let mut state = lock(&self.state);
        let r = state
            .executions
            .get_mut(id)
            .ok_or_else(|| missing_execution(id))?;
        r.terminate_job_ids = Some(job_ids);
        Ok(())
    }

    async fn get_wave(&self, id: &str, index: u32) -> Result<Option<WaveRecord>, TaskError> {
        self.injected("get_wave")?;
        Ok(self.wave(id, index))
    }

    async fn record_wave_launch(&self, wave: WaveRecord) -> Result<LaunchWrite, TaskError> {
        self.injected("record_wave_launch")?;
        let mut state = lock(&self.state);
        let key = (wave.execution_id.clone(), wave.index);
        if let Some(existing) = state.waves.get(&key)
            && existing.status == WaveStatus::Launching
            && existing.job_ids != wave.job_ids
        {
            return Ok(LaunchWrite::Conflict {
                recorded: existing.job_ids.clone(),
            });
        }
        let started_at = state
            .waves
            .get(&key)
            .map(|w| w.started_at.clone())
            .unwrap_or(wave.started_at.clone());
        state.waves.insert(
            key,
            WaveRecord {
                status: WaveStatus::Launching,
                started_at,
                ..wave
            },
        );
        Ok(LaunchWrite::Written)
    }

    async fn record_wave_check(
        &self,
        wave: WaveRecord,
        jobs: Vec<JobRecord>,
    ) -> Result<(), TaskError> {
        self.injected("record_wave_check")?;
        let mut state = lock(&self.state);
        for j in jobs {
            state
                .jobs
                .insert((j.execution_id.clone(), j.job_id.clone()), j);
        }
        let key = (wave.execution_id.clone(), wave.index);
        // The first start time stays (DynamoDB writes it with if_not_exists).
        let started_at = state
            .waves
            .get(&key)
            .map_or(wave.started_at.clone(), |w| w.started_at.clone());
        state.waves.insert(key, WaveRecord { started_at, ..wave });
        Ok(())
    }

    async fn list_jobs(&self, id: &str) -> Result<Vec<JobRecord>, TaskError> {
        self.injected("list_jobs")?;
        Ok(self.job_records(id))
    }
}

/// What DynamoDB answers for a conditional write on an execution record that does not exist.
fn missing_execution(id: &str) -> TaskError {
    TaskError::Internal(format!("history: no execution record for {id}"))
}

/// Execution statuses for the run-lock takeover; unknown executions do not exist.
#[derive(Clone, Default)]
pub struct FakeExecutions {
    statuses: Arc<Mutex<HashMap<String, String>>>,
}

impl FakeExecutions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, execution_arn: &str, status: &str) {
        lock(&self.statuses).insert(execution_arn.to_string(), status.to_string());
    }
}

impl ExecutionLookup for FakeExecutions {
    async fn execution_status(&self, execution_arn: &str) -> Result<Option<String>, TaskError> {
        Ok(lock(&self.statuses).get(execution_arn).cloned())
    }
}
