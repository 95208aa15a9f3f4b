//! Start-wave: drill and recovery launches split by the per-job limit and tagged, retried starts
//! that never launch twice (finding their jobs by tag when a history write or an answer was
//! lost), and DRS refusals that keep their names.

use super::*;

#[tokio::test]
async fn a_drill_launches_drill_jobs_split_by_the_per_job_limit_and_tagged() {
    let w = World::with_servers(250);
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    let calls = w.drs.start_calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| c.source_server_ids.len())
            .collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
    assert!(
        calls.iter().all(|c| c.is_drill),
        "a drill never launches a recovery"
    );
    let launched: BTreeSet<String> = calls
        .iter()
        .flat_map(|c| c.source_server_ids.clone())
        .collect();
    assert_eq!(launched.len(), 250);
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(
            c.tags.get(job_tags::EXECUTION).map(String::as_str),
            Some(EXEC)
        );
        assert_eq!(c.tags.get(job_tags::WAVE).map(String::as_str), Some("db"));
        assert_eq!(c.tags.get(job_tags::CHUNK), Some(&(i + 1).to_string()));
    }
    assert_eq!(state.status, WaveStatus::Launching);
    assert_eq!(state.job_ids.len(), 3);
    assert_eq!(state.servers.total, 250);
    assert!(state.next_wait_seconds >= 15 && state.next_wait_seconds <= 300);
    let record = w.history.wave(EXEC, 1).expect("recorded");
    assert_eq!(record.status, WaveStatus::Launching);
    assert_eq!(record.job_ids, state.job_ids);
}

#[tokio::test]
async fn a_recovery_without_confirmation_never_launches() {
    let w = World::with_servers(2);
    for confirm in [None, Some("storefront")] {
        let err = w
            .handlers()
            .start_wave(start_input(Mode::Recovery, confirm, all_tagged_wave()))
            .await
            .expect_err("no");
        assert_eq!(err.name(), ErrorName::RecoveryNotConfirmed);
    }
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn a_confirmed_recovery_launches_recovery_jobs() {
    let w = World::with_servers(2);
    w.handlers()
        .start_wave(start_input(Mode::Recovery, Some(PLAN), all_tagged_wave()))
        .await
        .expect("start");
    let calls = w.drs.start_calls();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].is_drill);
}

#[tokio::test]
async fn a_retried_start_returns_the_recorded_jobs_without_launching() {
    let w = World::with_servers(3);
    let first = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("first");
    let second = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    assert_eq!(second.job_ids, first.job_ids);
    assert_eq!(w.drs.start_calls().len(), 1, "StartRecovery once");
}

#[tokio::test]
async fn a_retried_start_whose_history_write_was_lost_finds_the_jobs_by_tag() {
    let w = World::with_servers(3);
    let faulty = w.handlers_with(Faults::armed(
        FaultPoint::ExitAfterStartRecovery,
        FaultAction::Fail,
    ));
    let err = faulty
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("fault");
    assert!(err.retryable());
    assert!(
        w.history
            .wave(EXEC, 1)
            .is_some_and(|wave| wave.chunks.iter().all(|c| c.job_id.is_none())),
        "the chunk was planned, its job never recorded"
    );
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    assert_eq!(w.drs.start_calls().len(), 1, "StartRecovery once");
    assert_eq!(state.job_ids, vec![w.drs.jobs()[0].id.clone()]);
    assert_eq!(
        w.history.wave(EXEC, 1).expect("recorded").job_ids,
        state.job_ids
    );
}

#[tokio::test]
async fn a_retry_of_a_split_wave_launches_only_the_chunks_not_yet_launched() {
    let w = World::with_servers(250);
    let faulty = w.handlers_with(Faults::armed(
        FaultPoint::ExitAfterStartRecovery,
        FaultAction::Fail,
    ));
    faulty
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("dies after chunk 1");
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    let calls = w.drs.start_calls();
    assert_eq!(calls.len(), 3);
    let mut seen = BTreeSet::new();
    for c in &calls {
        for id in &c.source_server_ids {
            assert!(seen.insert(id.clone()), "{id} launched twice");
        }
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(state.job_ids.len(), 3);
    let chunks: Vec<String> = calls
        .iter()
        .map(|c| c.tags[job_tags::CHUNK].clone())
        .collect();
    assert_eq!(chunks, vec!["1", "2", "3"]);
}

#[tokio::test]
async fn jobs_of_another_execution_or_wave_are_not_taken_for_ours() {
    let w = World::with_servers(2);
    let mut other_run = start_input(Mode::Drill, None, all_tagged_wave());
    other_run.run.execution_id =
        "arn:aws:states:us-east-1:123456789012:execution:billing:run-0".into();
    let other = w
        .handlers()
        .start_wave(other_run)
        .await
        .expect("other execution");
    // Its job ended: DRS would refuse servers still in an active job.
    w.drs
        .set_job_status(&other.job_ids[0], JobStatus::Completed);
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("ours");
    assert_eq!(w.drs.start_calls().len(), 2);
    assert_eq!(state.job_ids, vec![w.drs.jobs()[1].id.clone()]);
}

#[tokio::test]
async fn a_start_recovery_answer_without_a_job_id_is_resolved_by_the_jobs_tags() {
    let w = World::with_servers(1);
    w.drs.blank_job_ids();
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("the job DRS made is found by its tags");
    assert_eq!(w.drs.start_calls().len(), 1, "not launched twice");
    assert_eq!(state.job_ids, vec![w.drs.jobs()[0].id.clone()]);
    assert_eq!(
        w.history.wave(EXEC, 1).expect("recorded").job_ids,
        state.job_ids
    );
}

#[tokio::test]
async fn a_lost_start_recovery_answer_is_resolved_by_the_jobs_tags_in_the_same_attempt() {
    let w = World::with_servers(2);
    w.drs
        .lose_next_start_answer(AwsError::transient("DRS StartRecovery", "HTTP 500"));
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("tracked");
    assert_eq!(w.drs.start_calls().len(), 1);
    assert_eq!(state.job_ids, vec![w.drs.jobs()[0].id.clone()]);
}

#[tokio::test]
async fn a_quota_answer_is_retried_with_backoff_then_fails_naming_the_quota() {
    let w = World::with_servers(1);
    let quota = || AwsError::QuotaExceeded {
        call: "DRS StartRecovery".into(),
        detail: "ServiceQuotaExceededException: quotaCode ConcurrentJobs".into(),
    };
    w.drs.fail_next("start_recovery", quota());
    w.drs.fail_next("start_recovery", quota());
    let state = w
        .handlers()
        .with_quota_wait(Duration::from_secs(5), Duration::from_millis(1))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("launched once the quota cleared");
    assert_eq!(state.job_ids.len(), 1);

    let w = World::with_servers(1);
    for _ in 0..100 {
        w.drs.fail_next("start_recovery", quota());
    }
    let err = w
        .handlers()
        .with_quota_wait(Duration::from_millis(20), Duration::from_millis(5))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("the quota never cleared");
    assert_eq!(err.name(), ErrorName::QuotaExceeded);
    assert!(err.to_string().contains("ConcurrentJobs"), "{err}");
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn a_later_chunks_failure_names_the_jobs_already_recorded() {
    let w = World::with_servers(3);
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: 2,
            ..Limits::default()
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)))
    .with_quota_wait(Duration::ZERO, Duration::from_millis(1));
    w.drs.fail_next(
        "start_recovery",
        AwsError::Failed("DRS StartRecovery failed: ValidationException".into()),
    );
    // The first call fails: nothing recorded, nothing named.
    let err = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("chunk 1");
    assert!(
        err.to_string().contains("no job of wave 'db' was started"),
        "{err}"
    );
    // Chunk 1 goes through, chunk 2 hits a quota that does not clear.
    w.drs.succeed_then_fail_next(
        "start_recovery",
        AwsError::QuotaExceeded {
            call: "DRS StartRecovery".into(),
            detail: "quotaCode SourceServersInActiveJobs".into(),
        },
    );
    let err = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("chunk 2");
    let first = w.drs.jobs()[0].id.clone();
    assert!(
        err.to_string().contains(&first),
        "the error names chunk 1's job: {err}"
    );
    let recorded = w.history.wave(EXEC, 1).expect("wave");
    assert_eq!(
        recorded.chunks[0].job_id.as_ref(),
        Some(&first),
        "in the history"
    );
    assert_eq!(recorded.chunks[1].job_id, None);
    // A retry launches only chunk 2.
    let state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    assert_eq!(state.job_ids.len(), 2);
    assert_eq!(state.job_ids[0], first);
    let calls = w.drs.start_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].source_server_ids, vec![server_id(3)]);
}

/// A throttle the task outlasts is waited out (tests/throttled_writes.rs); one that lasts past
/// the task's wait fails it by its own name, and the machine's retry launches.
#[tokio::test(start_paused = true)]
async fn drs_errors_at_launch_keep_their_names() {
    let w = World::with_servers(1);
    for _ in 0..20 {
        w.drs.fail_next(
            "start_recovery",
            AwsError::Throttled {
                call: "DRS StartRecovery".into(),
                detail: "slow down".into(),
            },
        );
    }
    let err = w
        .handlers()
        .with_quota_wait(Duration::from_secs(20), Duration::from_secs(5))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("throttled past the wait");
    assert_eq!(err.name(), ErrorName::Throttled, "{err}");
    assert!(err.to_string().contains("gave up"), "{err}");
    for _ in 0..10 {
        if !w.drs.start_calls().is_empty() {
            break;
        }
        let result = w
            .handlers()
            .with_quota_wait(Duration::from_secs(20), Duration::from_secs(5))
            .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
            .await;
        if let Err(e) = result {
            assert_eq!(e.name(), ErrorName::Throttled, "{e}");
        }
    }
    assert_eq!(
        w.drs.start_calls().len(),
        1,
        "launched once, when DRS accepted"
    );
    assert_eq!(w.drs.jobs().len(), 1);
}
