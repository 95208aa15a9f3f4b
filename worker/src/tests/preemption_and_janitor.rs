//! A recovery preempts a running drill of its plan (and nothing else preempts); the janitor
//! tidies an execution that ended without its finish task, one janitor at a time.

use super::*;

#[tokio::test]
async fn a_recovery_preempts_a_running_drill_of_the_plan() {
    let w = World::with_servers(2);
    let drill = "arn:aws:states:us-east-1:123456789012:execution:billing:drill-1";
    // The drill launched wave 1; its jobs ended with both servers LAUNCHED.
    let mut drill_start = start_input(Mode::Drill, None, all_tagged_wave());
    drill_start.run.execution_id = drill.into();
    let launched = w
        .handlers()
        .start_wave(drill_start)
        .await
        .expect("drill launch");
    for (i, instance) in [(1, "i-drill1"), (2, "i-drill2")] {
        w.drs
            .set_launch_status(&server_id(i), LaunchStatus::Launched, Some(instance));
    }
    w.drs
        .set_job_status(&launched.job_ids[0], JobStatus::Completed);
    w.history.set_lock(PLAN, drill, Mode::Drill);
    w.executions.set(drill, "RUNNING");

    let run = w
        .handlers()
        .with_preempt_wait(Duration::from_secs(5), Duration::from_millis(10))
        .preflight(preflight_input(
            recovery_input(None),
            vec![all_tagged_wave()],
        ))
        .await
        .expect("the recovery preempts the drill");
    assert_eq!(run.mode, Mode::Recovery);
    assert_eq!(w.history.lock_holder(PLAN).as_deref(), Some(EXEC));
    let stops = w.executions.stops();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].0, drill);
    assert_eq!(stops[0].1, ErrorName::Preempted.as_str());
    let record = w.history.execution(drill).expect("drill record");
    assert_eq!(record.status, ExecutionStatus::Preempted);
    assert_eq!(record.preempted_by.as_deref(), Some(EXEC));
    let mut terminated = w.drs.terminate_calls().concat();
    terminated.sort();
    assert_eq!(
        terminated,
        vec!["i-drill1".to_string(), "i-drill2".to_string()]
    );
}

#[tokio::test]
async fn a_recovery_never_preempts_a_recovery_and_a_drill_never_preempts() {
    for (holder_mode, input) in [
        (Mode::Recovery, recovery_input(None)),
        (Mode::Drill, json!({"mode": "DRILL"})),
        (Mode::Recovery, json!({"mode": "DRILL"})),
    ] {
        let w = World::with_servers(1);
        let other = "arn:aws:states:us-east-1:123456789012:execution:billing:other";
        w.history.set_lock(PLAN, other, holder_mode);
        w.executions.set(other, "RUNNING");
        let err = w
            .handlers()
            .preflight(preflight_input(input.clone(), vec![all_tagged_wave()]))
            .await
            .expect_err("refused");
        assert_eq!(err.name(), ErrorName::PlanAlreadyRunning, "{input}");
        assert!(w.executions.stops().is_empty());
    }
}

#[tokio::test]
async fn the_janitor_records_a_stopped_drill_releases_its_lock_and_terminates_its_instances() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let started = launched(&w, &all_tagged_wave()).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-stopped"));
    w.executions.set(EXEC, "RUNNING");
    // Still running: nothing happens.
    assert!(
        w.handlers()
            .tidy_ended_executions("w1")
            .await
            .expect("round")
            .is_empty()
    );
    w.executions.set(EXEC, "ABORTED");
    // Its launch job still runs: clean-up waits for the next round.
    assert!(
        w.handlers()
            .tidy_ended_executions("w1")
            .await
            .expect("round")
            .is_empty()
    );
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    let done = w
        .handlers()
        .tidy_ended_executions("w1")
        .await
        .expect("round");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, ExecutionStatus::Aborted);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Aborted);
    assert_eq!(record.ended_at.as_deref(), Some("2030-01-01T00:20:00Z"));
    assert!(w.history.lock_holder(PLAN).is_none());
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-stopped".to_string()]]);
    assert!(
        w.handlers()
            .tidy_ended_executions("w2")
            .await
            .expect("round")
            .is_empty(),
        "done once"
    );
}

#[tokio::test]
async fn only_one_janitor_at_a_time_tidies_an_execution() {
    use drs_waves_history::prelude::*;
    let w = World::with_servers(1);
    w.record_preflight().await;
    let now = "2030-01-01T00:10:00Z";
    assert!(
        w.history
            .claim_for_janitor(
                EXEC,
                JanitorWork::EndedRun,
                "a",
                now,
                "2030-01-01T00:15:00Z"
            )
            .await
            .expect("a")
    );
    assert!(
        !w.history
            .claim_for_janitor(
                EXEC,
                JanitorWork::EndedRun,
                "b",
                now,
                "2030-01-01T00:15:00Z"
            )
            .await
            .expect("b")
    );
    assert!(
        w.history
            .claim_for_janitor(
                EXEC,
                JanitorWork::EndedRun,
                "b",
                "2030-01-01T00:16:00Z",
                "2030-01-01T00:21:00Z"
            )
            .await
            .expect("expired")
    );
}
