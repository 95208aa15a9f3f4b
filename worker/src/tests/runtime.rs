//! The runtime: what is answered when (job IDs recorded before success, a failed write never
//! answered with success), heartbeats and TaskTimedOut, graceful shutdown, and the permits that
//! bound the tasks in flight.

use super::*;

fn fast_runtime(pollers: usize, max_tasks: usize) -> RuntimeConfig {
    RuntimeConfig {
        pollers_per_activity: pollers,
        max_tasks_in_flight: max_tasks,
        shutdown_grace: Duration::from_secs(100),
        worker_name: "test".into(),
        default_heartbeat_seconds: 60,
        poll_error_backoff: Duration::from_millis(100),
        ..RuntimeConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn job_ids_are_in_the_history_before_success_is_sent() {
    let w = World::with_servers(3);
    let sfn = FakeActivityService::new();
    let seen_at_answer: Arc<Mutex<Option<Option<WaveRecord>>>> = Arc::default();
    {
        let history = w.history.clone();
        let seen = seen_at_answer.clone();
        sfn.on_answer(move |_| {
            *seen.lock().expect("lock") = Some(history.wave(EXEC, 1));
        });
    }
    let input =
        serde_json::to_string(&start_input(Mode::Drill, None, all_tagged_wave())).expect("json");
    sfn.push_task(&arn(Activity::StartWave), "token-1", input);
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(w.handlers()),
        vec![(Activity::StartWave, arn(Activity::StartWave))],
        fast_runtime(1, 4),
        shutdown.clone(),
    ));
    let answers = sfn.wait_for_answers(1).await;
    let Answer::Success { output, .. } = &answers[0] else {
        panic!("expected success: {answers:?}")
    };
    let state: WaveState = serde_json::from_str(output).expect("WaveState");
    let recorded = seen_at_answer
        .lock()
        .expect("lock")
        .clone()
        .flatten()
        .expect("recorded when answered");
    assert_eq!(recorded.job_ids, state.job_ids);
    assert_eq!(recorded.status, WaveStatus::Launching);
    shutdown.cancel();
    worker.await.expect("worker");
}

#[tokio::test(start_paused = true)]
async fn a_failed_history_write_is_never_answered_with_success() {
    let w = World::with_servers(1);
    w.history.fail_next(
        "record_chunk_job",
        HistoryError::conflict("DynamoDB UpdateItem", "HTTP 500"),
    );
    let sfn = FakeActivityService::new();
    let input =
        serde_json::to_string(&start_input(Mode::Drill, None, all_tagged_wave())).expect("json");
    sfn.push_task(&arn(Activity::StartWave), "token-1", input);
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(w.handlers()),
        vec![(Activity::StartWave, arn(Activity::StartWave))],
        fast_runtime(1, 4),
        shutdown.clone(),
    ));
    let answers = sfn.wait_for_answers(1).await;
    match &answers[0] {
        Answer::Failure { error, cause, .. } => {
            assert_eq!(error, "DrsWaves.Transient");
            assert!(cause.contains("DynamoDB"), "{cause}");
        }
        other => panic!("expected a failure: {other:?}"),
    }
    shutdown.cancel();
    worker.await.expect("worker");
}

#[tokio::test(start_paused = true)]
async fn malformed_task_input_fails_the_task_as_invalid_input() {
    let w = World::new();
    let sfn = FakeActivityService::new();
    sfn.push_task(&arn(Activity::CheckWave), "token-1", r#"{"run": 3}"#);
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(w.handlers()),
        vec![(Activity::CheckWave, arn(Activity::CheckWave))],
        fast_runtime(1, 4),
        shutdown.clone(),
    ));
    let answers = sfn.wait_for_answers(1).await;
    assert!(
        matches!(&answers[0], Answer::Failure { error, cause, .. } if error == "DrsWaves.InvalidInput" && cause.contains("check-wave")),
        "{answers:?}"
    );
    shutdown.cancel();
    worker.await.expect("worker");
}

/// A handler that holds each task until released, and notes when its work was dropped.
#[derive(Default)]
struct Gate {
    started: Mutex<usize>,
    started_tx: Mutex<Option<watch::Sender<usize>>>,
    release: Notify,
    dropped: AtomicUsize,
    dropped_signal: Notify,
}

struct DropMark<'a>(&'a Gate, bool);

impl Drop for DropMark<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped.fetch_add(1, Ordering::SeqCst);
            self.0.dropped_signal.notify_waiters();
        }
    }
}

impl Gate {
    fn new() -> (Arc<Gate>, watch::Receiver<usize>) {
        let (tx, rx) = watch::channel(0);
        let gate = Gate {
            started_tx: Mutex::new(Some(tx)),
            ..Default::default()
        };
        (Arc::new(gate), rx)
    }
}

struct GateHandler(Arc<Gate>);

impl TaskHandler for GateHandler {
    async fn handle(
        &self,
        _activity: Activity,
        _input: String,
        _token: &crate::token::TaskToken,
    ) -> Result<crate::runtime::TaskAnswer, TaskError> {
        let gate = &self.0;
        let mut mark = DropMark(gate, false);
        {
            let mut n = gate.started.lock().expect("lock");
            *n += 1;
            if let Some(tx) = gate.started_tx.lock().expect("lock").as_ref() {
                let _ = tx.send(*n);
            }
        }
        gate.release.notified().await;
        mark.1 = true;
        Ok(crate::runtime::TaskAnswer::Output(
            "{\"done\":true}".to_string(),
        ))
    }
}

fn spawn_gate_worker(
    sfn: &FakeActivityService,
    gate: &Arc<Gate>,
    config: RuntimeConfig,
) -> (CancellationToken, tokio::task::JoinHandle<RunReport>) {
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(GateHandler(gate.clone())),
        vec![(Activity::CheckWave, arn(Activity::CheckWave))],
        config,
        shutdown.clone(),
    ));
    (shutdown, handle)
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_answered_task_timed_out_cancels_the_work_and_sends_nothing() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(
        &arn(Activity::CheckWave),
        "tok-lost",
        r#"{"heartbeatSeconds": 3}"#,
    );
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(1, 4));
    started.wait_for(|n| *n == 1).await.expect("started");
    sfn.expire_task("tok-lost");
    let dropped = gate.dropped_signal.notified();
    tokio::pin!(dropped);
    dropped.as_mut().enable();
    if gate.dropped.load(Ordering::SeqCst) == 0 {
        dropped.await;
    }
    assert_eq!(gate.dropped.load(Ordering::SeqCst), 1, "work dropped");
    assert!(sfn.heartbeats("tok-lost") >= 1);
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert!(
        sfn.answers().is_empty(),
        "no answer for a task that is gone: {:?}",
        sfn.answers()
    );
    assert_eq!(report.tasks_cancelled, 1);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_come_at_about_a_third_of_the_heartbeat_timeout() {
    assert_eq!(heartbeat_interval(30), Duration::from_secs(10));
    assert_eq!(
        heartbeat_interval(1),
        Duration::from_secs(1),
        "at least a second apart"
    );
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(
        &arn(Activity::CheckWave),
        "tok-hb",
        r#"{"heartbeatSeconds": 30}"#,
    );
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(1, 4));
    started.wait_for(|n| *n == 1).await.expect("started");
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(sfn.heartbeats("tok-hb"), 3);
    gate.release.notify_one();
    sfn.wait_for_answers(1).await;
    shutdown.cancel();
    worker.await.expect("worker");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_polling_and_finishes_the_task_in_hand() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(&arn(Activity::CheckWave), "tok-held", "{}");
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(2, 4));
    started.wait_for(|n| *n == 1).await.expect("started");
    shutdown.cancel();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let polls_at_shutdown = sfn.polls_started();
    // Polls in flight come back by themselves (60 s); the held task keeps the worker alive.
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert!(
        !worker.is_finished(),
        "the worker waits for the task in hand"
    );
    assert_eq!(
        sfn.polls_started(),
        polls_at_shutdown,
        "no poll started after the signal"
    );
    assert_eq!(sfn.polls_in_flight(), 0);
    gate.release.notify_one();
    let report = worker.await.expect("worker");
    assert!(report.drained);
    assert_eq!(report.tasks_succeeded, 1);
    assert!(matches!(&sfn.answers()[..], [Answer::Success { token, .. }] if token == "tok-held"));
}

#[tokio::test(start_paused = true)]
async fn a_task_still_held_when_the_grace_period_ends_is_failed_as_transient() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(&arn(Activity::CheckWave), "tok-slow", "{}");
    let mut config = fast_runtime(1, 4);
    config.shutdown_grace = Duration::from_secs(5);
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, config);
    started.wait_for(|n| *n == 1).await.expect("started");
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert!(!report.drained);
    let answers = sfn.answers();
    assert!(
        matches!(&answers[..], [Answer::Failure { error, .. }] if error == "DrsWaves.Transient"),
        "{answers:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_in_flight_at_shutdown_is_not_cancelled_and_its_task_is_run() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(1, 4));
    sfn.wait_until(|s| s.polls_in_flight() == 1).await;
    shutdown.cancel();
    tokio::time::sleep(Duration::from_secs(1)).await;
    sfn.push_task(&arn(Activity::CheckWave), "tok-late", "{}");
    started
        .wait_for(|n| *n == 1)
        .await
        .expect("the task delivered to the poll in flight runs");
    gate.release.notify_one();
    let report = worker.await.expect("worker");
    assert!(report.drained);
    assert!(matches!(&sfn.answers()[..], [Answer::Success { token, .. }] if token == "tok-late"));
}

#[tokio::test(start_paused = true)]
async fn open_polls_hold_no_permit_and_a_task_without_room_waits_heartbeated_with_no_new_poll() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(&arn(Activity::CheckWave), "tok-1", "{}");
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(3, 1));
    started.wait_for(|n| *n == 1).await.expect("started");
    // The one permit is taken, yet every poller keeps a poll open (AWS: many open polls per
    // activity, so one dropped token does not block the activity).
    sfn.wait_until(|s| s.polls_in_flight() == 3).await;

    // A second task arrives with no room: it waits for the permit, heartbeated, and no poller
    // starts a new poll meanwhile.
    sfn.push_task(&arn(Activity::CheckWave), "tok-2", "{}");
    sfn.wait_until(|s| s.polls_in_flight() == 2).await;
    let polls = sfn.polls_started();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(*started.borrow(), 1, "the second task waits for room");
    assert!(
        sfn.heartbeats("tok-2") >= 3,
        "a waiting task is heartbeated"
    );
    assert_eq!(
        sfn.polls_started(),
        polls,
        "no poll starts while a task waits for room"
    );
    assert_eq!(
        sfn.polls_in_flight(),
        0,
        "the open polls ended (60 s) and none followed"
    );

    gate.release.notify_one();
    started
        .wait_for(|n| *n == 2)
        .await
        .expect("the second task ran");
    gate.release.notify_one();
    sfn.wait_for_answers(2).await;
    sfn.wait_until(|s| s.polls_in_flight() == 3).await;
    shutdown.cancel();
    worker.await.expect("worker");
}
