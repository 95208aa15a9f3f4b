//! Tests of `verdict`.

use std::collections::BTreeMap;

use super::*;

fn wave(optional: &[&str], timeout: u32) -> WaveSpec {
    WaveSpec {
        optional: optional.iter().map(|s| s.to_string()).collect(),
        launch_timeout_seconds: timeout,
        polling: drs_test_builders::polling(10, 300, 900),
        ..drs_test_builders::wave(1, "db", &[], &[])
    }
}

fn job(status: JobStatus, servers: &[(&str, LaunchStatus)]) -> Job {
    Job::launch_for_test("drsjob-1", status, servers)
}

#[test]
fn all_launched_succeeds() {
    let v = judge(
        &wave(&[], 3600),
        &[job(
            JobStatus::Completed,
            &[
                ("s-1", LaunchStatus::Launched),
                ("s-2", LaunchStatus::Launched),
            ],
        )],
        100,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Succeeded);
    assert_eq!(
        v.counts,
        ServerCounts {
            total: 2,
            launched: 2,
            ..Default::default()
        }
    );
}

#[test]
fn completed_job_with_a_failed_required_server_is_a_failed_wave() {
    let v = judge(
        &wave(&[], 3600),
        &[job(
            JobStatus::Completed,
            &[
                ("s-1", LaunchStatus::Launched),
                ("s-2", LaunchStatus::Failed),
            ],
        )],
        100,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Failed);
    assert!(
        v.reason.contains("s-2") && v.reason.contains("'db'"),
        "{}",
        v.reason
    );
    assert_eq!(v.counts.failed, 1);
}

#[test]
fn a_failed_required_server_fails_the_wave_before_the_job_ends() {
    let v = judge(
        &wave(&[], 3600),
        &[job(
            JobStatus::Started,
            &[
                ("s-1", LaunchStatus::InProgress),
                ("s-2", LaunchStatus::Failed),
            ],
        )],
        100,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Failed);
}

#[test]
fn completed_job_with_every_server_failed_is_a_failed_wave() {
    let v = judge(
        &wave(&[], 3600),
        &[job(JobStatus::Completed, &[("s-1", LaunchStatus::Failed)])],
        100,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Failed);
}

#[test]
fn only_an_optional_server_failed_succeeds() {
    let v = judge(
        &wave(&["s-2"], 3600),
        &[job(
            JobStatus::Completed,
            &[
                ("s-1", LaunchStatus::Launched),
                ("s-2", LaunchStatus::Failed),
            ],
        )],
        100,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Succeeded);
    assert_eq!(v.counts.optional_failed, 1);
    assert_eq!(v.counts.failed, 1);
}

#[test]
fn still_launching_before_the_timeout() {
    let v = judge(
        &wave(&[], 3600),
        &[job(
            JobStatus::Started,
            &[
                ("s-1", LaunchStatus::Launched),
                ("s-2", LaunchStatus::InProgress),
            ],
        )],
        3600,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Launching);
    assert_eq!(v.counts.launching, 1);
}

#[test]
fn past_the_timeout_is_a_failed_wave_naming_what_was_launching() {
    let v = judge(
        &wave(&[], 3600),
        &[job(
            JobStatus::Started,
            &[
                ("s-1", LaunchStatus::Launched),
                ("s-2", LaunchStatus::InProgress),
            ],
        )],
        3601,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Failed);
    assert!(
        v.reason.contains("timed out") && v.reason.contains("s-2"),
        "{}",
        v.reason
    );
}

#[test]
fn a_pending_job_without_servers_is_not_a_success() {
    let v = judge(
        &wave(&[], 3600),
        &[job(JobStatus::Pending, &[])],
        10,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Launching);
    let v = judge(
        &wave(&[], 3600),
        &[job(JobStatus::Completed, &[])],
        10,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Failed);
}

#[test]
fn a_server_left_pending_by_a_completed_job_failed() {
    let v = judge(
        &wave(&[], 3600),
        &[job(JobStatus::Completed, &[("s-1", LaunchStatus::Pending)])],
        10,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Failed);
}

#[test]
fn splitting_250_servers_at_100_per_job_makes_3_jobs() {
    let ids: Vec<String> = (0..250).map(|i| format!("s-{i:017}")).collect();
    let chunks = chunk_servers(&ids, 100);
    assert_eq!(
        chunks.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
    assert_eq!(chunks.concat(), ids);
    assert_eq!(jobs_needed(250, 100), 3);
    assert_eq!(jobs_needed(200, 100), 2);
    assert_eq!(chunk_servers(&ids[..5], 100).len(), 1);
}

const BOUNDS: PollingBounds = PollingBounds {
    min_wait_seconds: 15,
    max_wait_seconds: 300,
    expected_launch_seconds: 1200,
};

#[test]
fn wait_is_long_early_and_short_near_the_expected_end() {
    assert_eq!(next_wait_seconds(0, &BOUNDS, 3600), 300, "capped at max");
    assert_eq!(
        next_wait_seconds(800, &BOUNDS, 3600),
        200,
        "half of the time left"
    );
    assert_eq!(
        next_wait_seconds(1190, &BOUNDS, 3600),
        15,
        "min near the end"
    );
    assert_eq!(
        next_wait_seconds(2000, &BOUNDS, 3600),
        15,
        "min after the end"
    );
}

#[test]
fn wait_never_increases_and_stays_in_bounds() {
    let mut last = u32::MAX;
    for elapsed in 0..3500 {
        let w = next_wait_seconds(elapsed, &BOUNDS, 3600);
        assert!(w <= last, "monotone at {elapsed}: {w} > {last}");
        assert!((15..=300).contains(&w), "in bounds at {elapsed}: {w}");
        last = w;
    }
}

#[test]
fn wait_never_goes_past_the_launch_deadline() {
    for elapsed in 0..=600u64 {
        let w = next_wait_seconds(elapsed, &BOUNDS, 600);
        assert!(elapsed + u64::from(w) <= 601, "elapsed {elapsed} wait {w}");
        assert!(w >= 1);
    }
}

#[test]
fn min_equal_to_max_gives_a_fixed_interval() {
    let fixed = PollingBounds {
        min_wait_seconds: 30,
        max_wait_seconds: 30,
        expected_launch_seconds: 900,
    };
    for elapsed in [0, 100, 450, 899, 900, 2000] {
        assert_eq!(next_wait_seconds(elapsed, &fixed, 3600), 30);
    }
}

#[test]
fn a_planned_server_missing_from_every_job_fails_the_wave_after_the_grace() {
    let jobs = [job(
        JobStatus::Completed,
        &[("s-1", LaunchStatus::Launched)],
    )];
    let planned = ["s-1".to_string(), "s-2".to_string()];
    let known = Known {
        planned: &planned,
        reasons: &BTreeMap::new(),
    };
    let early = judge(&wave(&[], 3600), &jobs, 10, &known);
    assert_eq!(
        early.status,
        WaveStatus::Launching,
        "a job may list it late"
    );
    assert_eq!(early.counts.total, 2);
    let late = judge(
        &wave(&[], 3600),
        &jobs,
        MISSING_SERVER_GRACE_SECONDS,
        &known,
    );
    assert_eq!(late.status, WaveStatus::Failed);
    assert!(
        late.reason.contains("s-2 (in none of the wave's jobs"),
        "{}",
        late.reason
    );
    let optional = judge(
        &wave(&["s-2"], 3600),
        &jobs,
        MISSING_SERVER_GRACE_SECONDS,
        &known,
    );
    assert_eq!(optional.status, WaveStatus::Succeeded);
    assert_eq!(optional.counts.optional_failed, 1);
}

#[test]
fn a_failed_servers_reason_from_the_job_log_is_in_the_verdict() {
    let jobs = [job(JobStatus::Completed, &[("s-1", LaunchStatus::Failed)])];
    let reasons = BTreeMap::from([(
        "s-1".to_string(),
        "InsufficientInstanceCapacity: no c5.large capacity in eu-west-1a".to_string(),
    )]);
    let v = judge(
        &wave(&[], 3600),
        &jobs,
        10,
        &Known {
            planned: &[],
            reasons: &reasons,
        },
    );
    assert_eq!(v.status, WaveStatus::Failed);
    assert!(v.reason.contains("s-1 (job"), "{}", v.reason);
    assert!(
        v.reason.contains("InsufficientInstanceCapacity"),
        "{}",
        v.reason
    );
}
