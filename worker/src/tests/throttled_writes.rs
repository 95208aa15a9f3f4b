//! Issue #21 item 9, seen in the weather benchmark: StartRecovery and TerminateRecoveryInstances
//! are sent once (the SDK never resends them), so a throttled one failed its task, and a
//! 1,000-server drill's clean-up was left PENDING by one ThrottlingException. A throttle is a
//! refusal before DRS acted ("The request was denied due to request throttling"): the task
//! waits and sends again, as for a full quota, and nothing is made twice.

use super::*;
use drs_waves_aws::AwsError;

fn throttled(call: &str) -> AwsError {
    AwsError::Throttled {
        call: call.into(),
        detail: "ThrottlingException: Rate exceeded".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_throttled_start_recovery_waits_and_sends_again_in_the_same_task() {
    let w = World::with_servers(2);
    w.drs
        .fail_next("start_recovery", throttled("DRS StartRecovery"));
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("launched after the throttle");
    assert_eq!(state.job_ids.len(), 1);
    assert_eq!(w.drs.jobs().len(), 1, "one job");
}

#[tokio::test(start_paused = true)]
async fn a_throttled_terminate_waits_and_sends_again_and_the_clean_up_is_done() {
    let w = World::with_servers(250);
    let h = handlers_with_limits(&w, 100, 500).with_cleanup_wait(Duration::from_secs(120));
    w.record_preflight().await;
    let mut state = launched_drill_of(&w, &h, 250).await;
    state.status = WaveStatus::Succeeded;
    w.drs.fail_next(
        "terminate_recovery_instances",
        throttled("DRS TerminateRecoveryInstances"),
    );
    let out = h.finish(finish_input(state)).await.expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done, "{out:?}");
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.terminate_job_ids.len(), 3);
    assert_eq!(
        record.terminating_instances.len(),
        250,
        "every instance once"
    );
}
