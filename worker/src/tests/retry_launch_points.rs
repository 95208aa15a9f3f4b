//! Issue #21, item 1: an operator's retry resolves its launch points again at the retry's
//! time. DRS keeps 10-minute snapshots for an hour and hourly ones for a day (User Guide,
//! point-in-time): the snapshot the first attempt named may be gone when the retry comes.

use super::*;

/// Launches `spec` (two servers) at 00:10 at the run's point in time `pit`; server 1
/// launches, server 2 fails; the check records the wave FAILED. Returns the first attempt's
/// snapshot of server 2.
async fn first_attempt_fails_for_server_2(
    w: &World,
    spec: &WaveSpec,
    mode: Mode,
    pit: Option<&str>,
) -> String {
    let mut input = start_input(mode, (mode == Mode::Recovery).then_some(PLAN), spec.clone());
    input.run.point_in_time = pit.map(str::to_string);
    let started = w.handlers().start_wave(input).await.expect("first attempt");
    let first = w.drs.start_calls()[0].clone();
    let job = started.job_ids[0].clone();
    w.drs
        .set_launch_status_in(&job, &server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs
        .set_launch_status_in(&job, &server_id(2), LaunchStatus::Failed, None);
    w.drs.set_job_status(&job, JobStatus::Completed);
    let mut check = check_input(w, spec.clone());
    check.state = started;
    let failed = w.handlers().check_wave(check).await.expect("check");
    assert_eq!(failed.status, WaveStatus::Failed);
    first.snapshot_ids[&server_id(2)].clone()
}

fn retry_spec(name: &str) -> WaveSpec {
    let mut spec = wave(1, name, &[server_id(1), server_id(2)], &[]);
    spec.on_failure = OnFailure::Ask;
    spec.max_attempts = 2;
    spec
}

/// A RECOVERY with the source site down: its servers launch from their snapshots (a healthy
/// one would launch from an on-demand snapshot and name none, `on_demand_launch.rs`).
#[tokio::test]
async fn a_retry_an_hour_later_launches_from_the_live_snapshot_and_records_it() {
    let w = world_with_site_down(&["STALLED", "STALLED"]);
    w.record_preflight().await;
    let spec = retry_spec("db");
    let expired = first_attempt_fails_for_server_2(&w, &spec, Mode::Recovery, None).await;
    let kept = w.history.launch_points_of(EXEC, 1)[0].clone();
    assert_eq!(kept.server_id, server_id(1));

    // Two hours on: the first attempt's 10-minute snapshot has aged out; a new one exists.
    w.drs.set_now(datetime!(2030-01-01 02:10:00 UTC));
    w.drs.clear_snapshots(&server_id(2));
    let live = w.drs.add_snapshot(&server_id(2), "2030-01-01T02:00:00Z");
    assert_ne!(live, expired);
    w.handlers_at(datetime!(2030-01-01 02:10:00 UTC))
        .start_wave(start_input(Mode::Recovery, Some(PLAN), spec))
        .await
        .expect("the retry launches");

    let starts = w.drs.start_calls();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1].source_server_ids, vec![server_id(2)]);
    assert_eq!(
        starts[1].snapshot_ids.get(&server_id(2)),
        Some(&live),
        "the live snapshot, not the first attempt's {expired}"
    );
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(points.len(), 2, "{points:?}");
    let retried = points
        .iter()
        .find(|p| p.server_id == server_id(2))
        .expect("server 2");
    assert_eq!(retried.snapshot_id.as_ref(), Some(&live));
    assert_eq!(
        retried.snapshot_taken_at.as_deref(),
        Some("2030-01-01T02:00:00Z")
    );
    assert_eq!(retried.rpo_seconds, Some(600), "its age at the retry");
    assert!(retried.required);
    assert_eq!(
        points.iter().find(|p| p.server_id == server_id(1)),
        Some(&kept),
        "the server that launched keeps its point"
    );
}

#[tokio::test]
async fn a_retry_of_a_point_in_time_recovery_takes_the_newest_live_snapshot_before_it() {
    let w = World::with_servers(2);
    w.record_preflight().await;
    w.drs.add_snapshot(&server_id(2), "2030-01-01T00:05:00Z");
    let pit = "2030-01-01T00:08:00Z";
    let spec = retry_spec("db");
    let expired = first_attempt_fails_for_server_2(&w, &spec, Mode::Recovery, Some(pit)).await;
    assert_eq!(
        w.history.launch_points_of(EXEC, 1)[1]
            .snapshot_taken_at
            .as_deref(),
        Some("2030-01-01T00:05:00Z")
    );

    // The 10-minute snapshots aged out; the hourly one at 00:00 lives on, and newer ones
    // exist after the point in time.
    w.drs.set_now(datetime!(2030-01-01 03:00:00 UTC));
    w.drs.clear_snapshots(&server_id(2));
    let hourly = w.drs.add_snapshot(&server_id(2), "2030-01-01T00:00:00Z");
    w.drs.add_snapshot(&server_id(2), "2030-01-01T02:50:00Z");
    let mut input = start_input(Mode::Recovery, Some(PLAN), spec.clone());
    input.run.point_in_time = Some(pit.to_string());
    w.handlers_at(datetime!(2030-01-01 03:00:00 UTC))
        .start_wave(input)
        .await
        .expect("the retry launches");

    let starts = w.drs.start_calls();
    assert_eq!(
        starts[1].snapshot_ids.get(&server_id(2)),
        Some(&hourly),
        "the newest live snapshot at or before the point in time, not {expired}"
    );
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(
        points[1].snapshot_id.as_ref(),
        Some(&hourly),
        "recorded: {points:?}"
    );
}
