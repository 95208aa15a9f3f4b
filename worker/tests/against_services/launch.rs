//! A drill wave launched, checked to success, recorded and cleaned up over drs-sim and
//! DynamoDB; a failed required server; a retried start that never launches twice; throttled
//! calls that still get the wave launched.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_wave_is_launched_checked_to_success_recorded_and_cleaned_up() {
    let stack = Stack::start(servers(3, 0.3), FaultConfig::default()).await;
    let spec = wave(1, "db", &[], &[("App", PLAN)]);
    let run = stack
        .handlers()
        .preflight(PreflightInput {
            failback: None,
            execution: stack.execution.clone(),
            input: json!({"mode": "DRILL"}),
            plan: PlanSpec {
                name: PLAN.into(),
                terminate_drill_instances: true,
                waves: vec![spec.clone()],
            },
            heartbeat_seconds: 60,
            targets: None,
        })
        .await
        .expect("preflight");
    assert_eq!(run.server_count, 3);

    let started = stack
        .handlers()
        .start_wave(stack.start_input(spec.clone()))
        .await
        .expect("start");
    assert_eq!(started.status, WaveStatus::Launching);
    let jobs = stack.sim.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].is_drill, Some(true), "a drill launches a drill");
    assert_eq!(
        jobs[0].tags.get(job_tags::EXECUTION),
        Some(&stack.execution.id)
    );
    assert_eq!(started.job_ids, vec![jobs[0].job_id.clone()]);

    let done = stack.check_until_done(&spec, started).await;
    assert_eq!(done.status, WaveStatus::Succeeded, "{done:?}");
    assert_eq!(done.servers.launched, 3);
    assert_eq!(
        stack.sim.counters().calls("DescribeJobs") as usize,
        2 + done.checks as usize,
        "one DescribeJobs per check (and one each in preflight and start)"
    );

    let record = stack
        .history
        .get_wave(&stack.execution.id, 1)
        .await
        .expect("get")
        .expect("wave item");
    assert_eq!(record.status, WaveStatus::Succeeded);
    let job_records = stack
        .history
        .list_jobs(&stack.execution.id)
        .await
        .expect("jobs");
    assert_eq!(job_records.len(), 1);
    assert!(
        job_records[0]
            .servers
            .values()
            .all(|s| s.launch_status == LaunchStatus::Launched && s.recovery_instance_id.is_some())
    );

    let out = stack
        .handlers()
        .finish(FinishInput {
            run: run.clone(),
            waves: BTreeMap::from([("w1".to_string(), done)]),
            heartbeat_seconds: 60,
        })
        .await
        .expect("finish");
    assert_eq!(out.outcome, Outcome::Succeeded);
    assert_eq!(out.terminate_job_ids.len(), 1);
    assert!(
        stack
            .sim
            .jobs()
            .iter()
            .any(|j| j.job_type == "TERMINATE" && j.job_id == out.terminate_job_ids[0])
    );

    assert_indexed_once_and_unlocked(&stack).await;
}

/// The EXECUTION item is what the plan index finds (and the only item it finds), SUCCEEDED;
/// the lock is gone. Read from the table itself, not through the history.
async fn assert_indexed_once_and_unlocked(stack: &Stack) {
    let recent = stack
        .ddb
        .query()
        .table_name(&stack.table)
        .index_name(history::PLAN_INDEX)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", history::PLAN_INDEX_PARTITION_KEY)
        .expression_attribute_values(":p", AttributeValue::S(PLAN.into()))
        .send()
        .await
        .expect("query plan-index");
    assert_eq!(
        recent.items().len(),
        1,
        "only the EXECUTION item is indexed"
    );
    assert_eq!(
        recent.items()[0]
            .get("executionStatus")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("SUCCEEDED")
    );
    let lock = stack
        .ddb
        .get_item()
        .table_name(&stack.table)
        .key(
            history::PARTITION_KEY,
            AttributeValue::S(format!("LOCK#{PLAN}")),
        )
        .key(history::SORT_KEY, AttributeValue::S("LOCK".into()))
        .send()
        .await
        .expect("get lock");
    assert!(lock.item().is_none(), "lock released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_job_with_a_failed_required_server_fails_and_only_optional_failures_succeed() {
    let specs = vec![
        ServerSpec::new(sid(1), 0.2),
        ServerSpec::new(sid(2), 0.2).failing(),
    ];
    let stack = Stack::start(specs, FaultConfig::default()).await;

    let required = wave(1, "db", &[sid(1), sid(2)], &[]);
    let started = stack
        .handlers()
        .start_wave(stack.start_input(required.clone()))
        .await
        .expect("start");
    let done = stack.check_until_done(&required, started).await;
    assert_eq!(done.status, WaveStatus::Failed);
    assert!(
        done.reason.contains(&sid(2)) && done.reason.contains("'db'"),
        "{}",
        done.reason
    );
    let job = &stack.sim.jobs()[0];
    assert_eq!(
        job.status,
        drs_sim::JobStatus::Completed,
        "DRS says COMPLETED; the wave failed anyway"
    );

    let mut optional = wave(2, "db-again", &[sid(1), sid(2)], &[]);
    optional.optional = vec![sid(2)];
    let started = stack
        .handlers()
        .start_wave(stack.start_input(optional.clone()))
        .await
        .expect("start");
    let done = stack.check_until_done(&optional, started).await;
    assert_eq!(done.status, WaveStatus::Succeeded, "{done:?}");
    assert_eq!(done.servers.optional_failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_start_does_not_launch_twice_even_when_its_history_write_was_lost() {
    let stack = Stack::start(servers(3, 0.2), FaultConfig::default()).await;

    // An ordinary retry: the history answers.
    let w1 = wave(1, "one", &[sid(1)], &[]);
    let first = stack
        .handlers()
        .start_wave(stack.start_input(w1.clone()))
        .await
        .expect("start");
    let again = stack
        .handlers()
        .start_wave(stack.start_input(w1))
        .await
        .expect("retry");
    assert_eq!(again.job_ids, first.job_ids);
    assert_eq!(stack.start_recovery_calls(), 1);

    // The first attempt died between StartRecovery and the history write: DescribeJobs by tag.
    let w2 = wave(2, "two", &[sid(2)], &[]);
    let faulty = stack.handlers_with(Faults::armed(
        FaultPoint::ExitAfterStartRecovery,
        FaultAction::Fail,
    ));
    faulty
        .start_wave(stack.start_input(w2.clone()))
        .await
        .expect_err("dies after StartRecovery");
    assert_eq!(stack.start_recovery_calls(), 2);
    assert!(
        stack
            .history
            .get_wave(&stack.execution.id, 2)
            .await
            .expect("get")
            .is_some_and(|w| w.chunks.iter().all(|c| c.job_id.is_none())),
        "the chunk was planned, its job never recorded"
    );
    let found = stack
        .handlers()
        .start_wave(stack.start_input(w2.clone()))
        .await
        .expect("retry");
    assert_eq!(stack.start_recovery_calls(), 2, "not launched again");
    let wave_two_jobs: Vec<String> = stack
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some("two"))
        .map(|j| j.job_id)
        .collect();
    assert_eq!(found.job_ids, wave_two_jobs);
    assert_eq!(
        stack
            .history
            .get_wave(&stack.execution.id, 2)
            .await
            .expect("get")
            .expect("recorded")
            .job_ids,
        found.job_ids
    );

    // Died after the history write, before answering (a wave not launched yet, so the fault
    // point is reached): the job is recorded, and the retry returns it without launching.
    let w3 = wave(3, "three", &[sid(3)], &[]);
    let faulty = stack.handlers_with(Faults::armed(
        FaultPoint::ExitAfterHistoryWrite,
        FaultAction::Fail,
    ));
    let died = faulty.start_wave(stack.start_input(w3.clone())).await;
    assert!(
        matches!(&died, Err(e) if e.to_string().contains("exit-after-history-write")),
        "the fault point is reached after the write: {died:?}"
    );
    assert_eq!(stack.start_recovery_calls(), 3, "wave three launched once");
    let recorded = stack
        .history
        .get_wave(&stack.execution.id, 3)
        .await
        .expect("get")
        .expect("recorded before the fault point");
    let wave_three_jobs: Vec<String> = stack
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some("three"))
        .map(|j| j.job_id)
        .collect();
    assert_eq!(recorded.job_ids, wave_three_jobs);
    let retried = stack
        .handlers()
        .start_wave(stack.start_input(w3))
        .await
        .expect("retry after the fault");
    assert_eq!(
        retried.job_ids, wave_three_jobs,
        "the recorded job is returned"
    );
    assert_eq!(stack.start_recovery_calls(), 3, "not launched again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_drs_calls_still_get_the_wave_launched() {
    let faults = FaultConfig {
        all: FaultSpec {
            throttle_fraction: 0.4,
            ..Default::default()
        },
        retry_after_seconds: 0,
        ..Default::default()
    };
    let stack = Stack::start(servers(3, 0.3), faults).await;
    let spec = wave(1, "db", &[], &[("App", PLAN)]);
    let handlers = stack.handlers();
    let started = retried(|| handlers.start_wave(stack.start_input(spec.clone())))
        .await
        .expect("start despite throttling");
    let done = stack.check_until_done(&spec, started).await;
    assert_eq!(done.status, WaveStatus::Succeeded);
    let counters = stack.sim.counters();
    let throttled: u64 = ["DescribeSourceServers", "DescribeJobs", "StartRecovery"]
        .iter()
        .map(|op| counters.count(op, 429))
        .sum();
    assert!(throttled > 0, "the simulator throttled some calls");
    assert_eq!(stack.start_recovery_calls(), 1, "one job despite retries");
}
