//! Clean-up at scale: terminate jobs within the per-job limit, a clean-up that cannot finish
//! left PENDING for the janitor (and the lock released all the same), and a lost terminate
//! answer never sent twice.

use super::*;

#[tokio::test]
async fn clean_up_terminates_in_jobs_within_the_per_job_limit_each_recorded() {
    let w = World::with_servers(250);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    let mut state = launched_drill_of(&w, &h, 250).await;
    state.status = WaveStatus::Succeeded;
    let out = h.finish(finish_input(state)).await.expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done);
    let calls = w.drs.terminate_calls();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.len() <= 100),
        "{:?}",
        calls.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(calls.concat().len(), 250);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.terminate_job_ids.len(), 3);
    assert_eq!(out.terminate_job_ids, record.terminate_job_ids);
    assert_eq!(record.terminating_instances.len(), 250);
}

#[tokio::test]
async fn a_clean_up_that_cannot_finish_leaves_a_succeeded_drill_pending_and_the_janitor_retries() {
    let w = World::with_servers(2);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let mut state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    // The launch job still runs (server 2 launching): nothing can be terminated yet.
    state.status = WaveStatus::Succeeded;
    let out = h
        .finish(finish_input(state.clone()))
        .await
        .expect("finish succeeds");
    assert_eq!(out.outcome, Outcome::Succeeded);
    assert_eq!(out.cleanup, CleanupStatus::Pending);
    assert!(
        out.cleanup_error.contains("still run"),
        "{}",
        out.cleanup_error
    );
    assert!(
        w.history.lock_holder(PLAN).is_none(),
        "the lock is released all the same"
    );
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Succeeded);
    assert_eq!(record.cleanup, Some(CleanupStatus::Pending));
    assert!(w.drs.terminate_calls().is_empty());

    // The launch ends; the janitor's next round cleans up.
    w.drs
        .set_launch_status(&server_id(2), LaunchStatus::Launched, Some("i-2"));
    w.drs
        .set_job_status(&state.job_ids[0], JobStatus::Completed);
    let done = h.tidy_ended_executions("janitor").await.expect("round");
    assert_eq!(done.len(), 1);
    assert_eq!(
        w.history.execution(EXEC).expect("record").cleanup,
        Some(CleanupStatus::Done)
    );
    let mut terminated = w.drs.terminate_calls().concat();
    terminated.sort();
    assert_eq!(terminated, vec!["i-1".to_string(), "i-2".to_string()]);
    assert!(
        h.tidy_ended_executions("janitor")
            .await
            .expect("round")
            .is_empty(),
        "once"
    );
}

#[tokio::test]
async fn a_lost_terminate_answer_is_recorded_from_what_drs_did_and_never_sent_twice() {
    let w = World::with_servers(2);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    let mut state = launched_drill_of(&w, &h, 2).await;
    state.status = WaveStatus::Succeeded;
    // DRS makes the TERMINATE job at the handlers' time.
    w.drs.set_now(datetime!(2030-01-01 00:10:00 UTC));
    w.drs.lose_next_terminate_answer(AwsError::transient(
        "DRS TerminateRecoveryInstances",
        "HTTP 500",
    ));
    let out = h.finish(finish_input(state.clone())).await.expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done, "{}", out.cleanup_error);
    assert_eq!(w.drs.terminate_calls().len(), 1);
    assert_eq!(
        out.terminate_job_ids.len(),
        1,
        "the terminate job DRS made is recorded"
    );
    // A retried finish terminates nothing again.
    let again = h.finish(finish_input(state)).await.expect("retried finish");
    assert_eq!(again.cleanup, CleanupStatus::Done);
    assert_eq!(w.drs.terminate_calls().len(), 1, "no second terminate");
}

#[tokio::test]
async fn record_failure_releases_the_lock_even_when_the_clean_up_cannot_finish() {
    let w = World::with_servers(1);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    let out = h
        .record_failure(RecordFailureInput {
            execution: execution(),
            plan_name: PLAN.to_string(),
            state: json!({"mode": "DRILL", "run": run_ctx(Mode::Drill, None), "waves": {"w1": state},
                          "error": {"Error": "DrsWaves.WaveFailed", "Cause": "s-1 failed"}}),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record failure");
    assert_eq!(out.cleanup, CleanupStatus::Pending);
    assert!(w.history.lock_holder(PLAN).is_none());
    assert_eq!(
        w.history.execution(EXEC).expect("record").status,
        ExecutionStatus::Failed
    );
}

/// A failure in one branch of a Parallel state stops the others, and the failure path gets the
/// state from before the Parallel state: the stopped branch's wave is only in the history.
#[tokio::test]
async fn record_failure_ends_and_cleans_up_a_wave_that_only_the_history_holds() {
    let w = World::with_servers(1);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    launched_drill_of(&w, &h, 1).await;
    assert_eq!(
        w.history.wave(EXEC, 1).expect("wave").status,
        WaveStatus::Launching,
        "the branch was stopped before its check saw the launch"
    );
    let out = h
        .record_failure(RecordFailureInput {
            execution: execution(),
            plan_name: PLAN.to_string(),
            state: json!({"mode": "DRILL", "run": run_ctx(Mode::Drill, None),
                          "error": {"Error": "DrsWaves.WaveFailed", "Cause": "wave 2 'search' failed"}}),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record failure");
    let wave = w.history.wave(EXEC, 1).expect("wave");
    assert_eq!(wave.status, WaveStatus::Interrupted, "{}", wave.reason);
    assert!(
        wave.reason.contains("while it was launching"),
        "{}",
        wave.reason
    );
    assert_eq!(out.cleanup, CleanupStatus::Done, "{}", out.cleanup_error);
    assert_eq!(
        w.drs.terminate_calls().concat(),
        vec![format!("i-{:017x}", 1)],
        "the stopped branch's drill instance is terminated"
    );
}
