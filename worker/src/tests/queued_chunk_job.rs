//! Issue #21, item 5: a server whose chunk's job is still queued (PENDING, no server listed
//! yet: DRS fills `participatingServers` as the job starts them) counts as launching until the
//! wave's launch timeout, not as failed once the 60 s grace for a server missing from its
//! jobs has passed.

use super::*;
use drs_waves_rules::{Known, MISSING_SERVER_GRACE_SECONDS, judge};

#[test]
fn a_server_of_a_queued_job_is_launching_until_the_timeout() {
    let jobs = [
        Job::launch_for_test(
            "drsjob-1",
            JobStatus::Started,
            &[("s-1", LaunchStatus::Launched)],
        ),
        Job::launch_for_test("drsjob-2", JobStatus::Pending, &[]),
    ];
    let planned = ["s-1".to_string(), "s-2".to_string()];
    let known = Known {
        planned: &planned,
        reasons: &BTreeMap::new(),
    };
    let spec = wave(1, "db", &[], &[]);
    for elapsed in [MISSING_SERVER_GRACE_SECONDS, 600, 3600] {
        let v = judge(&spec, &jobs, elapsed, &known);
        assert_eq!(v.status, WaveStatus::Launching, "{elapsed} s: {}", v.reason);
        assert_eq!(v.counts.launching, 1);
        assert_eq!(v.counts.failed, 0);
    }
    let late = judge(&spec, &jobs, 3601, &known);
    assert_eq!(late.status, WaveStatus::Failed);
    assert!(late.reason.contains("timed out"), "{}", late.reason);
    assert!(late.reason.contains("s-2"), "{}", late.reason);

    // Once the job has started and still does not list the server, the grace applies again.
    let started = [
        jobs[0].clone(),
        Job::launch_for_test(
            "drsjob-2",
            JobStatus::Started,
            &[("s-3", LaunchStatus::InProgress)],
        ),
    ];
    let v = judge(&spec, &started, MISSING_SERVER_GRACE_SECONDS, &known);
    assert_eq!(v.status, WaveStatus::Failed);
    assert!(v.reason.contains("s-2 (in none"), "{}", v.reason);
}

#[tokio::test]
async fn a_check_keeps_a_wave_whose_second_chunk_is_queued_launching() {
    let w = World::with_servers(2);
    let spec = all_tagged_wave();
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: 1,
            ..Limits::default()
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)));
    let started = h
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("start");
    assert_eq!(started.job_ids.len(), 2);
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    // The second chunk's job is queued behind DRS's own work: PENDING, no server listed yet.
    w.drs.drop_server_from_jobs(&server_id(2));
    let mut input = check_input(&w, spec);
    input.state = started.clone();
    let five_minutes_on = datetime!(2030-01-01 00:15:00 UTC);
    let state = w
        .handlers_at(five_minutes_on)
        .check_wave(input.clone())
        .await
        .expect("check");
    assert_eq!(state.status, WaveStatus::Launching, "{}", state.reason);

    let past_timeout = datetime!(2030-01-01 01:10:01 UTC);
    let state = w
        .handlers_at(past_timeout)
        .check_wave(input)
        .await
        .expect("check");
    assert_eq!(state.status, WaveStatus::Failed);
    assert!(state.reason.contains("timed out"), "{}", state.reason);
}
