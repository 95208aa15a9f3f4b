//! Finish and record-failure: the drill's own instances cleaned up once, a recovery's kept, the
//! lock released, and a failure recorded even when preflight never ran.

use super::*;

#[tokio::test]
async fn finish_cleans_up_only_this_drills_instances_once_and_releases_the_lock() {
    let w = World::with_servers(2);
    // Another execution's launch: its instance must survive.
    let mut other = start_input(Mode::Drill, None, wave(1, "db", &[server_id(2)], &[]));
    other.run.execution_id = "arn:aws:states:us-east-1:123456789012:execution:billing:other".into();
    w.handlers().start_wave(other).await.expect("other");
    w.drs
        .set_launch_status(&server_id(2), LaunchStatus::Launched, Some("i-other"));

    let spec = wave(1, "db", &[server_id(1)], &[]);
    let mut done = launch_and_complete(&w, &spec, &[(&server_id(1), "i-ours")]).await;
    // Launched ten minutes before the check that ended it.
    done.started_at = "2030-01-01T00:00:00Z".into();
    w.history.set_lock_holder(PLAN, EXEC);
    w.record_preflight().await;
    let input = FinishInput {
        run: run_ctx(Mode::Drill, None),
        waves: BTreeMap::from([("w1".to_string(), done)]),
        heartbeat_seconds: 60,
    };
    let out = w.handlers().finish(input.clone()).await.expect("finish");
    assert_eq!(out.outcome, Outcome::Succeeded);
    assert_eq!(out.waves.len(), 1);
    assert_eq!(out.waves[0].duration_seconds, 600);
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-ours".to_string()]]);
    assert_eq!(out.terminate_job_ids.len(), 1);
    assert!(w.history.lock_holder(PLAN).is_none(), "lock released");
    assert_eq!(
        w.history.execution(EXEC).expect("record").status,
        ExecutionStatus::Succeeded
    );

    let again = w.handlers().finish(input).await.expect("retried finish");
    assert_eq!(again.terminate_job_ids, out.terminate_job_ids);
    assert_eq!(w.drs.terminate_calls().len(), 1, "terminated once");
}

#[tokio::test]
async fn finish_of_a_recovery_terminates_nothing() {
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let started = w
        .handlers()
        .start_wave(start_input(Mode::Recovery, Some(PLAN), spec.clone()))
        .await
        .expect("start");
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-prod"));
    let mut done = started;
    done.status = WaveStatus::Succeeded;
    let out = w
        .handlers()
        .finish(FinishInput {
            run: run_ctx(Mode::Recovery, Some(PLAN)),
            waves: BTreeMap::from([("w1".to_string(), done)]),
            heartbeat_seconds: 60,
        })
        .await
        .expect("finish");
    assert!(out.terminate_job_ids.is_empty());
    assert!(w.drs.terminate_calls().is_empty());
}

#[tokio::test]
async fn finish_with_a_continued_failed_wave_is_succeeded_with_failures() {
    let w = World::with_servers(1);
    let mut failed = launched(&w, &all_tagged_wave()).await;
    failed.status = WaveStatus::Failed;
    let mut run = run_ctx(Mode::Drill, None);
    run.terminate_drill_instances = false;
    let out = w
        .handlers()
        .finish(FinishInput {
            run,
            waves: BTreeMap::from([("w1".to_string(), failed)]),
            heartbeat_seconds: 60,
        })
        .await
        .expect("finish");
    assert_eq!(out.outcome, Outcome::SucceededWithFailures);
    assert_eq!(
        w.history.execution(EXEC).expect("record").status,
        ExecutionStatus::SucceededWithFailures
    );
}

#[tokio::test]
async fn record_failure_works_when_preflight_never_ran() {
    let w = World::new();
    let other = "arn:aws:states:us-east-1:123456789012:execution:billing:holder";
    w.history.set_lock_holder(PLAN, other);
    let input = RecordFailureInput {
        execution: execution(),
        plan_name: PLAN.into(),
        state: json!({"mode": "RECOVERY", "error": {"Error": "DrsWaves.RecoveryNotConfirmed", "Cause": "name the plan"}}),
        heartbeat_seconds: 60,
    };
    let out = w
        .handlers()
        .record_failure(input)
        .await
        .expect("record failure");
    assert_eq!(out.error, "DrsWaves.RecoveryNotConfirmed");
    assert_eq!(out.cause, "name the plan");
    let record = w.history.execution(EXEC).expect("record created");
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert_eq!(
        record.error.as_deref(),
        Some("DrsWaves.RecoveryNotConfirmed")
    );
    assert_eq!(record.started_at, "2030-01-01T00:00:00.000Z");
    assert_eq!(
        w.history.lock_holder(PLAN).as_deref(),
        Some(other),
        "someone else's lock stays"
    );
    assert!(w.drs.terminate_calls().is_empty());
}

#[tokio::test]
async fn record_failure_of_a_failed_drill_wave_records_cleans_up_and_releases() {
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let mut state = launch_and_complete(&w, &spec, &[(&server_id(1), "i-ours")]).await;
    state.status = WaveStatus::Failed;
    state.reason = "wave 'db': required server(s) failed to launch: s-2".into();
    w.history.set_lock_holder(PLAN, EXEC);
    let input = RecordFailureInput {
        execution: execution(),
        plan_name: PLAN.into(),
        state: json!({"mode": "DRILL", "run": run_ctx(Mode::Drill, None), "waves": {"w1": state}}),
        heartbeat_seconds: 60,
    };
    let out = w
        .handlers()
        .record_failure(input)
        .await
        .expect("record failure");
    assert_eq!(out.error, "DrsWaves.WaveFailed");
    assert!(out.cause.contains("failed to launch"));
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-ours".to_string()]]);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert_eq!(
        record.wave_statuses.get("db").copied(),
        Some(WaveStatus::Failed)
    );
    assert!(w.history.lock_holder(PLAN).is_none());
}
