//! [`FakeActivityService`]: the activity side of Step Functions in memory (tasks pushed by the
//! test, polls, heartbeats and answers), and the [`Answer`]s it received.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::lock;
use crate::error::TaskError;
use crate::sfn::{ActivityService, ActivityTask, Delivery};
use crate::token::TaskToken;

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
