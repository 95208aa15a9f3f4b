//! The runtime over the real adapters: a lost heartbeat stops the work before anything is
//! launched, and a graceful shutdown finishes the task in hand.

use super::*;

fn slow(operation: &str, latency_ms: u64) -> FaultConfig {
    FaultConfig {
        per_operation: BTreeMap::from([(
            operation.to_string(),
            FaultSpec {
                latency_ms,
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

fn activity_arn() -> String {
    "arn:aws:states:us-east-1:123456789012:activity:drs-waves-start-wave".into()
}

fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        pollers_per_activity: 1,
        max_tasks_in_flight: 2,
        shutdown_grace: Duration::from_secs(20),
        worker_name: "against-services".into(),
        default_heartbeat_seconds: 60,
        poll_error_backoff: Duration::from_millis(100),
        ..RuntimeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_heartbeat_stops_the_work_before_anything_is_launched() {
    // DescribeJobs (looked at before StartRecovery) is slow: the heartbeat comes first.
    let stack = Stack::start(servers(1, 0.2), slow("DescribeJobs", 4000)).await;
    let sfn = FakeActivityService::with_poll_timeout(Duration::from_millis(200));
    let mut input = stack.start_input(wave(1, "db", &[sid(1)], &[]));
    input.heartbeat_seconds = 3;
    sfn.push_task(
        &activity_arn(),
        "tok-lost",
        serde_json::to_string(&input).expect("json"),
    );
    sfn.expire_task("tok-lost");
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(stack.handlers()),
        vec![(Activity::StartWave, activity_arn())],
        runtime_config(),
        shutdown.clone(),
    ));
    eventually("a heartbeat", WAIT, Duration::from_millis(50), || async {
        (sfn.heartbeats("tok-lost") > 0).then_some(())
    })
    .await
    .expect("heartbeat sent");
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert_eq!(report.tasks_cancelled, 1);
    assert!(
        sfn.answers().is_empty(),
        "nothing answered for a task that is gone"
    );
    assert_eq!(
        stack.start_recovery_calls(),
        0,
        "the work stopped before StartRecovery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_finishes_the_task_in_hand() {
    let stack = Stack::start(servers(2, 0.2), slow("DescribeJobs", 1000)).await;
    let sfn = FakeActivityService::with_poll_timeout(Duration::from_millis(200));
    let input = stack.start_input(wave(1, "db", &[], &[("App", PLAN)]));
    sfn.push_task(
        &activity_arn(),
        "tok-held",
        serde_json::to_string(&input).expect("json"),
    );
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(stack.handlers()),
        vec![(Activity::StartWave, activity_arn())],
        runtime_config(),
        shutdown.clone(),
    ));
    eventually(
        "the task is being worked on",
        WAIT,
        Duration::from_millis(20),
        || async { (stack.sim.counters().calls("DescribeSourceServers") > 0).then_some(()) },
    )
    .await
    .expect("task started");
    shutdown.cancel();
    let polls_at_signal = sfn.polls_started();
    let report = tokio::time::timeout(WAIT, worker)
        .await
        .expect("exits within the grace")
        .expect("worker");
    assert!(report.drained);
    assert!(
        sfn.polls_started() <= polls_at_signal + 1,
        "no polling after the signal (one may have been starting)"
    );
    let answers = sfn.answers();
    let [Answer::Success { output, .. }] = &answers[..] else {
        panic!("expected one success: {answers:?}")
    };
    let state: WaveState = serde_json::from_str(output).expect("WaveState");
    assert_eq!(stack.start_recovery_calls(), 1);
    let recorded = stack
        .history
        .get_wave(&stack.execution.id, 1)
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(recorded.job_ids, state.job_ids);
    let launched: BTreeSet<String> = stack.sim.jobs().into_iter().map(|j| j.job_id).collect();
    assert_eq!(launched, state.job_ids.into_iter().collect());
}
