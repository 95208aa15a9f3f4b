//! The polling runtime: N pollers per activity, a global bound on tasks in flight, heartbeats,
//! answers, and a two-phase shutdown (stop polling, then drain within a grace period). Modelled
//! on Temporal's core SDK, with one difference: an open poll holds no task permit. AWS
//! recommends many open polls per activity ARN (a token dropped on its way to a worker blocks
//! GetActivityTask requests for up to 60 s), far more than the tasks a worker should run at
//! once. So a task that arrives when every permit is taken is heartbeated while it waits for
//! one, and no poller starts a new poll while any task waits: the worker fetches at most one
//! task per open poll beyond its room.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use drs_waves_contract::{Activity, MAX_OUTPUT_BYTES};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::error::TaskError;
pub use crate::health::PollHealth;
use crate::sfn::{ActivityService, ActivityTask, Delivery};
use crate::token::TaskToken;

/// What a task's work came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAnswer {
    /// The output JSON, sent with SendTaskSuccess.
    Output(String),
    /// Nothing to send: the task waits for an operator, who answers it with its token (an
    /// approval gate or a decision). The runtime stops heartbeating it.
    Deferred,
}

/// Does the work of one task: the contract's input JSON in, output JSON out. `token` is the
/// task's token, for the tasks that hand it to someone else to answer.
pub trait TaskHandler: Send + Sync + 'static {
    fn handle(
        &self,
        activity: Activity,
        input: String,
        token: &TaskToken,
    ) -> impl Future<Output = Result<TaskAnswer, TaskError>> + Send;
}

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub pollers_per_activity: usize,
    pub max_tasks_in_flight: usize,
    /// After a shutdown signal: how long polls in flight and held tasks get to finish.
    pub shutdown_grace: Duration,
    /// Sent with GetActivityTask; shows in the execution history.
    pub worker_name: String,
    /// Used when a task input has no `heartbeatSeconds`.
    pub default_heartbeat_seconds: u32,
    /// First wait after a failed poll (doubles up to 30 s).
    pub poll_error_backoff: Duration,
    /// Where each successful poll is noted, for `drs-worker health`.
    pub health: Arc<PollHealth>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            pollers_per_activity: 10,
            max_tasks_in_flight: 20,
            shutdown_grace: Duration::from_secs(100),
            worker_name: "drs-worker".to_string(),
            default_heartbeat_seconds: 60,
            poll_error_backoff: Duration::from_secs(1),
            health: Arc::new(PollHealth::new()),
        }
    }
}

/// What a run of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub tasks_started: u64,
    pub tasks_succeeded: u64,
    pub tasks_failed: u64,
    /// Dropped because a heartbeat said the task was gone (nothing answered).
    pub tasks_cancelled: u64,
    /// Everything finished within the grace period.
    pub drained: bool,
}

/// A heartbeat about every third of the task's heartbeat timeout, at least a second apart.
pub fn heartbeat_interval(heartbeat_seconds: u32) -> Duration {
    Duration::from_millis((u64::from(heartbeat_seconds) * 1000 / 3).max(1000))
}

/// How long held tasks get to answer after the grace period cancelled them.
const HARD_STOP_ANSWER_WAIT: Duration = Duration::from_secs(10);
const ANSWER_ATTEMPTS: u32 = 4;

struct Shared<S, T> {
    service: Arc<S>,
    handler: Arc<T>,
    config: RuntimeConfig,
    permits: Arc<Semaphore>,
    /// Tasks received that wait for a permit; pollers start no new poll while any do.
    waiting_for_permit: watch::Sender<usize>,
    in_flight: watch::Sender<usize>,
    hard_stop: CancellationToken,
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
}

/// Counts one down in its channel when dropped (tasks in flight, tasks waiting for a permit).
struct InFlight(watch::Sender<usize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Runs until `shutdown` is cancelled and the work in hand is done (or the grace period is
/// over: held tasks are then failed as Transient so that Step Functions retries them at once).
pub async fn run<S: ActivityService, T: TaskHandler>(
    service: Arc<S>,
    handler: Arc<T>,
    activities: Vec<(Activity, String)>,
    config: RuntimeConfig,
    shutdown: CancellationToken,
) -> RunReport {
    let (in_flight, mut in_flight_rx) = watch::channel(0usize);
    let shared = Arc::new(Shared {
        service,
        handler,
        permits: Arc::new(Semaphore::new(config.max_tasks_in_flight.max(1))),
        waiting_for_permit: watch::channel(0usize).0,
        config,
        in_flight,
        hard_stop: CancellationToken::new(),
        started: AtomicU64::new(0),
        succeeded: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        cancelled: AtomicU64::new(0),
    });
    let mut pollers = Vec::new();
    for (activity, arn) in &activities {
        for _ in 0..shared.config.pollers_per_activity.max(1) {
            let span = info_span!("poller", activity = activity.name());
            pollers.push(tokio::spawn(
                poller(shared.clone(), *activity, arn.clone(), shutdown.clone()).instrument(span),
            ));
        }
    }
    info!(
        activities = activities.len(),
        pollers = pollers.len(),
        max_tasks_in_flight = shared.config.max_tasks_in_flight,
        "worker polling"
    );
    shutdown.cancelled().await;
    let grace = shared.config.shutdown_grace;
    info!(
        grace_seconds = grace.as_secs(),
        "shutdown: no new polls; finishing polls in flight and tasks in hand"
    );
    let drain = async {
        for p in pollers {
            let _ = p.await;
        }
        let _ = in_flight_rx.wait_for(|n| *n == 0).await;
    };
    let finished = tokio::time::timeout(grace, drain).await.is_ok();
    let held = *shared.in_flight.borrow();
    // Only long polls still open (GetActivityTask holds up to 60 s) and no task in hand: no
    // work is cut short.
    let drained = finished || held == 0;
    if !finished && held == 0 {
        info!("grace period over with only long polls open and no task held");
    }
    if !drained {
        warn!(
            held,
            "grace period over: failing held tasks as Transient so they are retried"
        );
        shared.hard_stop.cancel();
        let mut rx = shared.in_flight.subscribe();
        let _ = tokio::time::timeout(HARD_STOP_ANSWER_WAIT, rx.wait_for(|n| *n == 0)).await;
    }
    let report = RunReport {
        tasks_started: shared.started.load(Ordering::Relaxed),
        tasks_succeeded: shared.succeeded.load(Ordering::Relaxed),
        tasks_failed: shared.failed.load(Ordering::Relaxed),
        tasks_cancelled: shared.cancelled.load(Ordering::Relaxed),
        drained,
    };
    info!(?report, "worker stopped");
    report
}

async fn poller<S: ActivityService, T: TaskHandler>(
    shared: Arc<Shared<S, T>>,
    activity: Activity,
    arn: String,
    shutdown: CancellationToken,
) {
    let mut backoff = shared.config.poll_error_backoff;
    let mut waiting = shared.waiting_for_permit.subscribe();
    loop {
        // No new poll while a task already received waits for room to run.
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            w = waiting.wait_for(|n| *n == 0) => if w.is_err() { break },
        }
        if shutdown.is_cancelled() {
            break;
        }
        // Not raced against shutdown: a task token is delivered once, and a poll cut short
        // could lose a task.
        match shared.service.poll(&arn, &shared.config.worker_name).await {
            Ok(Some(task)) => {
                shared.config.health.poll_succeeded();
                backoff = shared.config.poll_error_backoff;
                // Decided here, before this poller loops: a task without room counts as
                // waiting before any poller could start another poll.
                let slot = Slot::take(&shared);
                spawn_task(&shared, activity, task, slot);
            }
            Ok(None) => shared.config.health.poll_succeeded(),
            Err(e) => {
                warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "GetActivityTask failed");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
    debug!("poller stopped");
}

/// Execution, wave and heartbeat seconds, read from whichever task input this is.
fn peek(input: &str) -> (String, String, Option<u32>) {
    let v: serde_json::Value = serde_json::from_str(input).unwrap_or_default();
    let execution = v
        .pointer("/run/executionId")
        .or_else(|| v.pointer("/execution/id"))
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string();
    let wave = v
        .pointer("/wave/name")
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string();
    let heartbeat = v
        .get("heartbeatSeconds")
        .and_then(|x| x.as_u64())
        .and_then(|x| u32::try_from(x).ok());
    (execution, wave, heartbeat)
}

fn spawn_task<S: ActivityService, T: TaskHandler>(
    shared: &Arc<Shared<S, T>>,
    activity: Activity,
    task: ActivityTask,
    slot: Slot,
) {
    let received = Instant::now();
    shared.in_flight.send_modify(|n| *n += 1);
    let guard = InFlight(shared.in_flight.clone());
    shared.started.fetch_add(1, Ordering::Relaxed);
    let (execution, wave, heartbeat) = peek(&task.input);
    let span = info_span!("task", activity = activity.name(), execution = %execution, wave = %wave, token = %task.token);
    let shared = shared.clone();
    tokio::spawn(
        async move {
            let _guard = guard;
            run_task(
                &shared,
                activity,
                task,
                slot,
                heartbeat.unwrap_or(shared.config.default_heartbeat_seconds),
                received,
            )
            .await;
        }
        .instrument(span),
    );
}

/// How long a task took, for the one log line per answered task: `elapsed_ms` from receipt to
/// the answer being sent, `busy_ms` the part spent inside the task's own code (polls of its
/// future: JSON, rules, building requests and reading answers), so that `elapsed_ms - busy_ms`
/// is roughly the time spent awaiting DRS, DynamoDB and Step Functions.
struct Timing {
    received: Instant,
    busy_nanos: AtomicU64,
}

impl Timing {
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.received.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn busy_ms(&self) -> u64 {
        self.busy_nanos.load(Ordering::Relaxed) / 1_000_000
    }
}

enum Ending {
    Finished(Result<TaskAnswer, TaskError>),
    Gone(String),
    HardStop,
}

async fn run_task<S: ActivityService, T: TaskHandler>(
    shared: &Shared<S, T>,
    activity: Activity,
    task: ActivityTask,
    slot: Slot,
    heartbeat_seconds: u32,
    received: Instant,
) {
    info!("task started");
    let timing = Timing {
        received,
        busy_nanos: AtomicU64::new(0),
    };
    let work = async {
        // Heartbeated meanwhile (below): a task that waits for room is not lost.
        let _permit = slot.permit(&shared.permits).await;
        shared
            .handler
            .handle(activity, task.input, &task.token)
            .await
    };
    tokio::pin!(work);
    // Time inside the handler's polls only; an atomic because the future must stay Send.
    let timed_work = std::future::poll_fn(|cx| {
        let t = Instant::now();
        let r = work.as_mut().poll(cx);
        let nanos = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        timing.busy_nanos.fetch_add(nanos, Ordering::Relaxed);
        r
    });
    let heartbeat = heartbeat_loop(
        shared.service.as_ref(),
        &task.token,
        heartbeat_interval(heartbeat_seconds),
    );
    tokio::pin!(timed_work, heartbeat);
    let ending = tokio::select! {
        r = &mut timed_work => Ending::Finished(r),
        reason = &mut heartbeat => Ending::Gone(reason),
        _ = shared.hard_stop.cancelled() => Ending::HardStop,
    };
    match ending {
        Ending::Gone(reason) => {
            shared.cancelled.fetch_add(1, Ordering::Relaxed);
            warn!(%reason, "the task is gone (heartbeat answer): work cancelled, nothing sent");
        }
        Ending::HardStop => {
            let err = TaskError::transient(
                "drs-worker",
                "the worker shut down before the task finished (grace period over); a retry resumes from what was recorded",
            );
            deliver_failure(shared, &task.token, &err, &timing).await;
        }
        Ending::Finished(Ok(TaskAnswer::Deferred)) => {
            shared.succeeded.fetch_add(1, Ordering::Relaxed);
            info!(
                elapsed_ms = timing.elapsed_ms(),
                "task handed to an operator: its token is in the history, nothing sent"
            );
        }
        Ending::Finished(Ok(TaskAnswer::Output(output))) if output.len() > MAX_OUTPUT_BYTES => {
            let err = TaskError::Internal(format!(
                "the task output is {} bytes, more than the {MAX_OUTPUT_BYTES} Step Functions accepts",
                output.len()
            ));
            deliver_failure(shared, &task.token, &err, &timing).await;
        }
        Ending::Finished(Ok(TaskAnswer::Output(output))) => {
            if deliver(
                shared.service.as_ref(),
                &task.token,
                Answer::Success(&output),
            )
            .await
            {
                shared.succeeded.fetch_add(1, Ordering::Relaxed);
                info!(
                    elapsed_ms = timing.elapsed_ms(),
                    busy_ms = timing.busy_ms(),
                    "task succeeded"
                );
            }
        }
        Ending::Finished(Err(err)) => deliver_failure(shared, &task.token, &err, &timing).await,
    }
}

/// Room for a task to run: a permit taken at once, or a place in the queue for one. A queued
/// task counts as waiting (which holds back new polls) until it has its permit or is dropped.
enum Slot {
    Ready(tokio::sync::OwnedSemaphorePermit),
    Waiting(InFlight),
}

impl Slot {
    fn take<S, T>(shared: &Shared<S, T>) -> Slot {
        match shared.permits.clone().try_acquire_owned() {
            Ok(permit) => Slot::Ready(permit),
            Err(_) => {
                shared.waiting_for_permit.send_modify(|n| *n += 1);
                debug!("every task slot is busy: the task waits for one, heartbeated");
                Slot::Waiting(InFlight(shared.waiting_for_permit.clone()))
            }
        }
    }

    async fn permit(self, permits: &Arc<Semaphore>) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match self {
            Slot::Ready(permit) => Some(permit),
            // The waiting mark is dropped once the permit is held.
            Slot::Waiting(_waiting) => permits.clone().acquire_owned().await.ok(),
        }
    }
}

async fn deliver_failure<S: ActivityService, T: TaskHandler>(
    shared: &Shared<S, T>,
    token: &TaskToken,
    err: &TaskError,
    timing: &Timing,
) {
    let (error, cause) = err.to_wire();
    if deliver(
        shared.service.as_ref(),
        token,
        Answer::Failure(&error, &cause),
    )
    .await
    {
        shared.failed.fetch_add(1, Ordering::Relaxed);
        warn!(
            %error,
            %cause,
            elapsed_ms = timing.elapsed_ms(),
            busy_ms = timing.busy_ms(),
            "task failed"
        );
    }
}

async fn heartbeat_loop<S: ActivityService>(
    service: &S,
    token: &TaskToken,
    interval: Duration,
) -> String {
    loop {
        tokio::time::sleep(interval).await;
        match service.heartbeat(token).await {
            Ok(Delivery::Delivered) => debug!("heartbeat"),
            Ok(Delivery::TaskGone(reason)) => return reason,
            // The task may still be ours: keep working, the next heartbeat may get through.
            Err(e) => warn!(error = %e, "heartbeat failed"),
        }
    }
}

enum Answer<'a> {
    Success(&'a str),
    Failure(&'a str, &'a str),
}

/// Sends the answer, retrying what can be retried. True when Step Functions took it.
async fn deliver<S: ActivityService>(service: &S, token: &TaskToken, answer: Answer<'_>) -> bool {
    let mut backoff = Duration::from_millis(500);
    for attempt in 1..=ANSWER_ATTEMPTS {
        let result = match answer {
            Answer::Success(output) => service.succeed(token, output).await,
            Answer::Failure(error, cause) => service.fail(token, error, cause).await,
        };
        match result {
            Ok(Delivery::Delivered) => return true,
            Ok(Delivery::TaskGone(reason)) => {
                warn!(%reason, "the task was gone when answering");
                return false;
            }
            Err(e) if e.retryable() && attempt < ANSWER_ATTEMPTS => {
                warn!(error = %e, attempt, "answering the task failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(e) => {
                error!(error = %e, "answering the task failed; Step Functions will time it out and retry");
                return false;
            }
        }
    }
    false
}
