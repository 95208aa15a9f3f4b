//! Issue #21, item 8: a quota refusal of the per-job limit (source servers in one job) fails the
//! start at once, naming the quota and what to change (DRS_WAVES_MAX_SERVERS_PER_JOB): waiting
//! for other jobs to end cannot clear it. The concurrency quotas (concurrent jobs, servers in
//! all active jobs) keep their wait.

use super::*;
use drs_waves_aws::AwsError;
use drs_waves_aws::failure::{FailureKind, ServiceFailure, classify};

fn quota(code: &str, message: &str) -> AwsError {
    classify(
        "DRS StartRecovery",
        &ServiceFailure {
            kind: FailureKind::Service,
            code: Some("ServiceQuotaExceededException".into()),
            message: Some(message.into()),
            status: Some(402),
            quota_code: Some(code.into()),
        },
    )
}

#[test]
fn a_per_job_refusal_is_told_by_its_code_or_its_message_and_says_what_to_change() {
    // drs-sim's answer (tests/drs-sim, state.rs), and a Service Quotas code with DRS's words.
    for err in [
        quota(
            "SourceServersPerJob",
            "Cannot start a job of 150 source servers (limit 100 per job)",
        ),
        quota(
            "L-0123ABCD",
            "Cannot start a job with more than 100 source servers in a single job",
        ),
        quota("L-0123ABCD", "Exceeded: 150 source servers in one job"),
    ] {
        assert_eq!(err.name(), ErrorName::QuotaExceeded);
        assert!(err.is_per_job_quota(), "{err}");
        let cause = err.to_string();
        assert!(cause.contains("waiting cannot clear it"), "{cause}");
        assert!(cause.contains("DRS_WAVES_MAX_SERVERS_PER_JOB"), "{cause}");
    }
    for err in [
        quota(
            "ConcurrentJobs",
            "Cannot start job: 20 jobs are in progress (limit 20)",
        ),
        quota(
            "SourceServersInActiveJobs",
            "Cannot start job: 150 source servers are in active jobs and 100 more would exceed the limit of 200",
        ),
        quota("L-9876DCBA", "Too many concurrent jobs"),
    ] {
        assert_eq!(err.name(), ErrorName::QuotaExceeded);
        assert!(!err.is_per_job_quota(), "a concurrency quota clears: {err}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_per_job_refusal_fails_the_start_at_once_naming_the_quota() {
    let w = World::with_servers(3);
    w.drs.set_max_servers_per_job(2);
    let began = tokio::time::Instant::now();
    let err = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("3 servers in one job over a quota of 2");
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "no backoff: {:?}",
        began.elapsed()
    );
    assert_eq!(err.name(), ErrorName::QuotaExceeded);
    let cause = err.to_string();
    assert!(cause.contains("SourceServersPerJob"), "{cause}");
    assert!(cause.contains("DRS_WAVES_MAX_SERVERS_PER_JOB"), "{cause}");
    assert!(
        cause.contains("chunk 1 of wave 'db' has 3 source servers"),
        "{cause}"
    );
    assert!(w.drs.start_calls().is_empty());
    assert!(w.drs.jobs().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_refusal_still_waits_for_other_jobs_to_end() {
    let w = World::with_servers(1);
    let concurrent = || {
        quota(
            "ConcurrentJobs",
            "Cannot start job: 20 jobs are in progress (limit 20)",
        )
    };
    w.drs.fail_next("start_recovery", concurrent());
    w.drs.fail_next("start_recovery", concurrent());
    let began = tokio::time::Instant::now();
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("launched once the quota cleared");
    assert_eq!(state.job_ids.len(), 1);
    // 5 s, then 10 s of backoff.
    assert!(
        began.elapsed() >= Duration::from_secs(15),
        "{:?}",
        began.elapsed()
    );
}
