//! Issue #21, item 3: after a StartRecovery answer that may have been lost, DRS may list the job
//! it made only later. The retry's StartRecovery then meets ConflictException ("source server
//! already in an active job"): the start task looks for the chunk's tagged job for a bounded
//! time (the listing wait, default 60 s, with backoff) and tracks it, never launching a server
//! twice; only when none is listed within the wait does the conflict fail the wave.

use super::*;
use drs_waves_aws::AwsError;
use drs_waves_aws::drs::is_conflict;
use drs_waves_aws::failure::{FailureKind, ServiceFailure, classify};

/// The first attempt: StartRecovery makes the job, its answer is lost (a 500), and DRS does not
/// list the job within the attempt's own look (a short listing wait here), so the attempt fails
/// as Transient for the machine to retry.
async fn first_attempt_loses_the_answer(w: &World, _h: &TestHandlers) {
    w.drs
        .lose_next_start_answer(AwsError::transient("DRS StartRecovery", "HTTP 500"));
    let err = w
        .handlers()
        .with_listing_wait(Duration::from_secs(1), Duration::from_secs(1))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("the job is not listed yet");
    assert_eq!(err.name(), ErrorName::Transient, "{err}");
    assert_eq!(w.drs.jobs().len(), 1, "DRS made the job");
}

#[tokio::test(start_paused = true)]
async fn a_conflict_after_a_lost_answer_waits_for_the_job_to_be_listed_and_tracks_it() {
    let w = World::with_servers(2);
    w.drs.set_listing_delay(Duration::from_secs(45));
    let h = w.handlers();
    first_attempt_loses_the_answer(&w, &h).await;
    let made = w.drs.jobs()[0].id.clone();

    let began = tokio::time::Instant::now();
    let state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("the retry finds the job DRS listed late");
    assert_eq!(state.job_ids, vec![made.clone()]);
    assert_eq!(w.drs.jobs().len(), 1, "never launched twice");
    assert_eq!(w.drs.start_calls().len(), 1, "the second call was refused");
    assert_eq!(w.history.wave(EXEC, 1).expect("wave").job_ids, vec![made]);
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(40) && waited < Duration::from_secs(60),
        "looked until it was listed: {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_look_is_bounded_by_the_listing_wait_and_then_the_conflict_fails_the_wave() {
    let w = World::with_servers(2);
    w.drs.set_listing_delay(Duration::from_secs(90));
    let h = w.handlers();
    first_attempt_loses_the_answer(&w, &h).await;
    let began = tokio::time::Instant::now();
    let err = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("not listed within the default 60 s");
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(89),
        "{waited:?}"
    );
    assert_eq!(err.name(), ErrorName::Internal, "{err}");
    assert!(
        err.to_string().contains("within 60 s") && err.to_string().contains("chunk 1"),
        "{err}"
    );
    assert_eq!(w.drs.jobs().len(), 1, "never launched twice");
    // Looked more than once, backing off: not a call per millisecond.
    let looks = w.drs.describe_jobs_calls().len();
    assert!((3..=12).contains(&looks), "{looks} DescribeJobs calls");

    // A longer listing wait (the setting) covers DRS's delay.
    let w = World::with_servers(2);
    w.drs.set_listing_delay(Duration::from_secs(90));
    let h = w
        .handlers()
        .with_listing_wait(Duration::from_secs(120), Duration::from_secs(1));
    first_attempt_loses_the_answer(&w, &h).await;
    let state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("listed within the wait");
    assert_eq!(state.job_ids, vec![w.drs.jobs()[0].id.clone()]);
    assert_eq!(w.drs.jobs().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_conflict_with_a_job_not_of_this_execution_fails_after_the_wait_and_launches_nothing() {
    let w = World::with_servers(1);
    w.drs.add_job(Job::launch_for_test(
        "drsjob-other0000000001",
        JobStatus::Started,
        &[(&server_id(1), LaunchStatus::InProgress)],
    ));
    let err = w
        .handlers()
        .with_listing_wait(Duration::from_secs(5), Duration::from_secs(1))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("another team's job holds the server");
    assert_eq!(err.name(), ErrorName::Internal, "{err}");
    assert!(err.to_string().contains("ConflictException"), "{err}");
    assert!(w.drs.start_calls().is_empty());
    assert_eq!(w.drs.jobs().len(), 1);
}

#[test]
fn a_conflict_is_recognised_as_error_rs_classifies_it_and_nothing_else_is() {
    let failure = |code: &str, status: u16| ServiceFailure {
        kind: FailureKind::Service,
        code: Some(code.into()),
        message: Some("Source server s-1 is already in an active job".into()),
        status: Some(status),
        quota_code: None,
    };
    assert!(is_conflict(&classify(
        "DRS StartRecovery",
        &failure("ConflictException", 409)
    )));
    for (code, status) in [
        ("ValidationException", 400),
        ("InternalServerException", 500),
        ("ServiceQuotaExceededException", 402),
    ] {
        assert!(
            !is_conflict(&classify("DRS StartRecovery", &failure(code, status))),
            "{code}"
        );
    }
}

/// The attempt whose answer was lost looks for its job for the listing wait itself: a job that
/// DRS lists late (and that may already have ended, its servers free again) is tracked, never
/// sent again. Seen in drs-sim: with one look, the retry launched the chunk twice.
#[tokio::test(start_paused = true)]
async fn a_lost_answer_is_resolved_by_looking_for_the_listing_wait_not_by_sending_again() {
    let w = World::with_servers(2);
    w.drs.set_listing_delay(Duration::from_secs(30));
    w.drs
        .lose_next_start_answer(AwsError::transient("DRS StartRecovery", "HTTP 500"));
    let began = tokio::time::Instant::now();
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("the same attempt finds the job DRS listed late");
    let made = w.drs.jobs()[0].id.clone();
    assert_eq!(state.job_ids, vec![made]);
    assert_eq!(w.drs.start_calls().len(), 1, "sent once");
    assert!(
        began.elapsed() >= Duration::from_secs(30),
        "{:?}",
        began.elapsed()
    );

    // Not listed within the wait: the attempt fails as Transient, saying how long it looked.
    let w = World::with_servers(2);
    w.drs.set_listing_delay(Duration::from_secs(600));
    w.drs
        .lose_next_start_answer(AwsError::transient("DRS StartRecovery", "HTTP 500"));
    let err = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("not listed");
    assert_eq!(err.name(), ErrorName::Transient, "{err}");
    assert!(err.to_string().contains("within 60 s"), "{err}");
}
