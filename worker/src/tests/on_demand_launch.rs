//! Issue #21, item 6: a healthy server without a `pointInTime` launches from DRS's on-demand
//! snapshot ("Omit this field to launch from the latest data by taking an on-demand snapshot",
//! the model's StartRecoveryRequestSourceServer.recoverySnapshotID): no snapshot is looked up
//! or named, and the point in time achieved is read back from the recovery instance after the
//! launch. A server that is not healthy launches from its newest snapshot, as before.

use super::*;
use drs_waves_aws::AwsError;

/// Checks the wave after its job ended with every server LAUNCHED (`i-<n>`).
async fn launch_and_check(w: &World, h: &TestHandlers, input: StartWaveInput) -> WaveState {
    let run = input.run.clone();
    let spec = input.wave.clone();
    let started = h.start_wave(input).await.expect("start");
    let job = started.job_ids.last().expect("a job").clone();
    for (n, id) in spec.server_ids.iter().enumerate() {
        w.drs.set_launch_status_in(
            &job,
            id,
            LaunchStatus::Launched,
            Some(&format!("i-{job}-{n}")),
        );
    }
    w.drs.set_job_status(&job, JobStatus::Completed);
    let mut check = check_input(w, spec);
    check.run = run;
    check.state = started;
    h.check_wave(check).await.expect("check")
}

#[tokio::test]
async fn a_healthy_drill_looks_up_no_snapshot_and_names_none() {
    let w = World::with_servers(2);
    let run = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect("preflight passes without any snapshot look-up");
    assert_eq!(
        w.drs.snapshot_pages_served(),
        0,
        "no DescribeRecoverySnapshots"
    );
    assert_eq!(run.worst_rpo_seconds, None, "known only after the launch");
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(points.len(), 2);
    assert!(
        points
            .iter()
            .all(|p| p.snapshot_id.is_none() && p.rpo_seconds.is_none())
    );

    w.handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    assert_eq!(w.drs.snapshot_pages_served(), 0, "none at launch either");
    let start = &w.drs.start_calls()[0];
    assert_eq!(start.source_server_ids, vec![server_id(1), server_id(2)]);
    assert!(start.snapshot_ids.is_empty(), "{:?}", start.snapshot_ids);
}

#[tokio::test]
async fn servers_that_are_not_healthy_or_a_point_in_time_name_their_snapshot() {
    // A RECOVERY with the source site partly down: the healthy server launches on demand, the
    // stalled one from its newest snapshot.
    let w = world_with_site_down(&["STALLED", "CONTINUOUS"]);
    let newest = w.drs.add_snapshot(&server_id(1), "2030-01-01T00:04:00Z");
    let spec = wave(1, "db", &[server_id(1), server_id(2)], &[]);
    w.handlers()
        .preflight(preflight_input(recovery_input(None), vec![spec.clone()]))
        .await
        .expect("preflight");
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(points[0].snapshot_id.as_ref(), Some(&newest));
    assert_eq!(points[1].snapshot_id, None);
    w.handlers()
        .start_wave(start_input(Mode::Recovery, Some(PLAN), spec.clone()))
        .await
        .expect("start");
    assert_eq!(
        w.drs.start_calls()[0].snapshot_ids,
        BTreeMap::from([(server_id(1), newest)])
    );

    // A point in time names a snapshot for every server, healthy or not.
    let w = World::with_servers(1);
    let before = w.drs.add_snapshot(&server_id(1), "2030-01-01T00:02:00Z");
    w.drs.add_snapshot(&server_id(1), "2030-01-01T00:06:00Z");
    let mut input = start_input(
        Mode::Recovery,
        Some(PLAN),
        wave(1, "db", &[server_id(1)], &[]),
    );
    input.run.point_in_time = Some("2030-01-01T00:03:00Z".into());
    w.handlers().start_wave(input).await.expect("start");
    assert_eq!(
        w.drs.start_calls()[0].snapshot_ids,
        BTreeMap::from([(server_id(1), before)])
    );
}

#[tokio::test]
async fn the_point_in_time_achieved_is_read_back_from_the_instance_into_history_and_report() {
    let w = World::with_servers(2);
    w.record_preflight().await;
    let h = w.handlers();
    let spec = wave(1, "db", &[server_id(1), server_id(2)], &[]);
    // The jobs do not name their instances: the read-back lists them by source server.
    w.drs.omit_all_recovery_instance_ids();
    let done = launch_and_check(&w, &h, start_input(Mode::Drill, None, spec)).await;
    assert_eq!(done.status, WaveStatus::Succeeded);
    let points = w.history.launch_points_of(EXEC, 1);
    for p in &points {
        // FakeDrs takes the on-demand snapshot when the job is made (00:05), as the request
        // is: no data older than the request is lost.
        assert_eq!(p.snapshot_id, None, "{p:?}");
        assert_eq!(
            p.snapshot_taken_at.as_deref(),
            Some("2030-01-01T00:05:00Z"),
            "{p:?}"
        );
        assert_eq!(p.rpo_seconds, Some(0), "{p:?}");
    }
    let sources = drs_waves_report::gather::gather(
        &w.history,
        "t",
        &drs_waves_report::gather::FakeEvidenceApis::default(),
        EXEC,
        datetime!(2030-01-01 00:20:00 UTC),
    )
    .await
    .expect("sources");
    let report = drs_waves_report::build::build(&sources);
    assert_eq!(report.servers.len(), 2);
    for s in &report.servers {
        assert_eq!(s.snapshot_taken_at.as_deref(), Some("2030-01-01T00:05:00Z"));
        assert_eq!(s.snapshot_age_seconds, Some(0));
    }
    assert_eq!(report.rpo.achieved_seconds, Some(0), "{:?}", report.rpo);
    let page = drs_waves_report::render::html(&report);
    assert!(
        page.contains("on-demand 2030-01-01T00:05:00Z"),
        "the servers table says so"
    );
}

#[tokio::test]
async fn only_the_instance_of_the_servers_own_launch_and_mode_gives_its_point() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    // An earlier RECOVERY of the same server left its instance (another job, not a drill).
    let mut other = start_input(
        Mode::Recovery,
        Some(PLAN),
        wave(1, "db", &[server_id(1)], &[]),
    );
    other.run.execution_id = "arn:aws:states:us-east-1:123456789012:execution:billing:old".into();
    let old = w.handlers().start_wave(other).await.expect("old").job_ids[0].clone();
    w.drs
        .set_launch_status_in(&old, &server_id(1), LaunchStatus::Launched, Some("i-old"));
    w.drs.set_job_status(&old, JobStatus::Completed);
    // This drill's server LAUNCHED, but DRS lists no instance of its launch (yet): the only
    // instance of the server is i-old, which is another job's and not a drill's.
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let started = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("start");
    let job = started.job_ids[0].clone();
    w.drs
        .set_launch_status_in(&job, &server_id(1), LaunchStatus::Launched, None);
    w.drs.set_job_status(&job, JobStatus::Completed);
    let mut check = check_input(&w, spec);
    check.state = started;
    assert_eq!(
        w.handlers().check_wave(check).await.expect("check").status,
        WaveStatus::Succeeded
    );
    assert_eq!(
        w.drs.recovery_instance_calls(),
        vec![vec![server_id(1)]],
        "looked for"
    );
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(points[0].snapshot_taken_at, None, "not i-old's: {points:?}");
}

#[tokio::test]
async fn a_retry_of_a_healthy_server_launches_on_demand_again_and_reads_its_new_point() {
    let w = World::with_servers(2);
    w.record_preflight().await;
    let mut spec = wave(1, "db", &[server_id(1), server_id(2)], &[]);
    spec.on_failure = OnFailure::Ask;
    spec.max_attempts = 2;
    let started = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("first attempt");
    let job = started.job_ids[0].clone();
    w.drs
        .set_launch_status_in(&job, &server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs
        .set_launch_status_in(&job, &server_id(2), LaunchStatus::Failed, None);
    w.drs.set_job_status(&job, JobStatus::Completed);
    let mut check = check_input(&w, spec.clone());
    check.state = started;
    assert_eq!(
        w.handlers().check_wave(check).await.expect("check").status,
        WaveStatus::Failed
    );

    // The operator retries an hour on: server 2 launches from a new on-demand snapshot.
    let later = datetime!(2030-01-01 01:10:00 UTC);
    w.drs.set_now(later);
    let h = w.handlers_at(later);
    let done = launch_and_check(&w, &h, start_input(Mode::Drill, None, spec)).await;
    assert_eq!(done.status, WaveStatus::Succeeded, "{}", done.reason);
    let starts = w.drs.start_calls();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1].source_server_ids, vec![server_id(2)]);
    assert!(starts[1].snapshot_ids.is_empty(), "{:?}", starts[1]);
    assert_eq!(w.drs.snapshot_pages_served(), 0);
    let points = w.history.launch_points_of(EXEC, 1);
    let at = |i: usize| points[i - 1].snapshot_taken_at.clone();
    assert_eq!(at(1).as_deref(), Some("2030-01-01T00:05:00Z"), "kept");
    assert_eq!(
        at(2).as_deref(),
        Some("2030-01-01T01:10:00Z"),
        "the retry's"
    );
}

#[tokio::test]
async fn a_failed_read_back_leaves_the_verdict_and_the_report_reads_the_instance_itself() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let h = w.handlers();
    w.drs.fail_next(
        "recovery_instances_of",
        AwsError::transient("DRS DescribeRecoveryInstances", "HTTP 500"),
    );
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let done = launch_and_check(&w, &h, start_input(Mode::Drill, None, spec)).await;
    assert_eq!(
        done.status,
        WaveStatus::Succeeded,
        "evidence does not fail a wave"
    );
    assert_eq!(
        w.history.launch_points_of(EXEC, 1)[0].snapshot_taken_at,
        None
    );

    let job = done.job_ids[0].clone();
    let apis = drs_waves_report::gather::FakeEvidenceApis::default();
    *apis.instances.lock().expect("lock") = Some(vec![drs_waves_report::build::InstanceFacts {
        recovery_instance_id: "i-1".into(),
        ec2_instance_id: None,
        source_server_id: server_id(1),
        job_id: Some(job),
        is_drill: Some(true),
        point_in_time: Some("2030-01-01T00:05:01Z".into()),
        ..drs_waves_report::build::InstanceFacts::default()
    }]);
    let sources = drs_waves_report::gather::gather(
        &w.history,
        "t",
        &apis,
        EXEC,
        datetime!(2030-01-01 00:20:00 UTC),
    )
    .await
    .expect("sources");
    let report = drs_waves_report::build::build(&sources);
    assert_eq!(
        report.servers[0].snapshot_taken_at.as_deref(),
        Some("2030-01-01T00:05:01Z")
    );
}
