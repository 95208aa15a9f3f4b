//! Disaster day: a recovery with the source site down, replication states and snapshots a drill
//! refuses, the point in time that picks each server's snapshot, and the account's active jobs
//! counted against the quotas.

use super::*;

#[tokio::test]
async fn a_recovery_with_the_source_site_down_passes_preflight_with_warnings_and_records_rpo() {
    let w = world_with_site_down(&["DISCONNECTED", "STALLED", "CONTINUOUS"]);
    let run = w
        .handlers()
        .preflight(preflight_input(
            recovery_input(None),
            vec![all_tagged_wave()],
        ))
        .await
        .expect("a recovery does not need the source site");
    assert_eq!(run.mode, Mode::Recovery);
    assert_eq!(run.warnings.len(), 2, "{:?}", run.warnings);
    assert!(
        run.warnings[0].contains(&server_id(1))
            && run.warnings[0].contains("DISCONNECTED (AGENT_NOT_SEEN")
    );
    assert!(run.warnings[1].contains(&server_id(2)) && run.warnings[1].contains("STALLED"));
    // The snapshot was taken at 00:00, preflight runs at 00:10.
    assert_eq!(run.worst_rpo_seconds, Some(600));
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(points.len(), 3);
    for p in &points[..2] {
        assert!(
            p.snapshot_id
                .as_deref()
                .is_some_and(|s| s.starts_with("pit-")),
            "{p:?}"
        );
        assert_eq!(p.rpo_seconds, Some(600));
    }
    // The healthy server launches from an on-demand snapshot: none named, its point in time
    // known only after the launch.
    assert_eq!(points[2].snapshot_id, None, "{:?}", points[2]);
    assert_eq!(points[2].rpo_seconds, None);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.warnings.len(), 2);
    assert_eq!(record.worst_rpo_seconds, Some(600));
}

#[tokio::test]
async fn a_drill_refuses_required_servers_whose_replication_is_not_healthy_naming_each() {
    let w = world_with_site_down(&["STALLED", "BACKLOG", "DISCONNECTED"]);
    let err = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("a drill is a readiness test");
    assert_eq!(err.name(), ErrorName::PreflightFailed);
    let cause = err.to_string();
    assert!(
        cause.contains(&format!(
            "{} (host-{}) is not ready for a drill: replication STALLED (AGENT_NOT_SEEN",
            server_id(1),
            server_id(1)
        )),
        "{cause}"
    );
    assert!(
        cause.contains(&format!(
            "{} (host-{}) is not ready for a drill: replication DISCONNECTED",
            server_id(3),
            server_id(3)
        )),
        "{cause}"
    );
    assert!(
        !cause.contains(&server_id(2)),
        "BACKLOG is healthy: {cause}"
    );
    assert!(w.drs.start_calls().is_empty());
    assert!(w.history.lock_holder(PLAN).is_none());
}

#[tokio::test]
async fn a_required_server_without_a_snapshot_is_refused_by_name_an_optional_one_warned_of() {
    let w = world_with_site_down(&["DISCONNECTED", "INITIAL_SYNC", "INITIAL_SYNC"]);
    w.drs.clear_snapshots(&server_id(2));
    w.drs.clear_snapshots(&server_id(3));
    let mut spec = all_tagged_wave();
    spec.optional = vec![server_id(3)];
    let err = w
        .handlers()
        .preflight(preflight_input(recovery_input(None), vec![spec.clone()]))
        .await
        .expect_err("no snapshot, no recovery");
    let cause = err.to_string();
    assert!(
        cause.contains(&format!(
            "{} (host-{}) has no recovery snapshot",
            server_id(2),
            server_id(2)
        )),
        "{cause}"
    );
    assert!(
        !cause.contains(&format!("{} (host-{}) has no", server_id(3), server_id(3))),
        "optional: {cause}"
    );

    w.drs.add_snapshot(&server_id(2), "2030-01-01T00:05:00Z");
    let run = w
        .handlers()
        .preflight(preflight_input(recovery_input(None), vec![spec]))
        .await
        .expect("every required server has a snapshot");
    assert!(
        run.warnings
            .iter()
            .any(|x| x.contains(&server_id(3)) && x.contains("optional")),
        "{:?}",
        run.warnings
    );
}

#[tokio::test]
async fn a_point_in_time_picks_each_servers_latest_snapshot_at_or_before_it() {
    let w = world_with_site_down(&["DISCONNECTED", "DISCONNECTED"]);
    // Snapshots at 23:00 (the day before) and 23:30; the default one is at 00:00.
    let early = w.drs.add_snapshot(&server_id(1), "2029-12-31T23:00:00Z");
    let mid = w.drs.add_snapshot(&server_id(1), "2029-12-31T23:30:00Z");
    let only = w.drs.add_snapshot(&server_id(2), "2029-12-31T23:10:00Z");
    let run = w
        .handlers()
        .preflight(preflight_input(
            recovery_input(Some("2029-12-31T23:45:00Z")),
            vec![all_tagged_wave()],
        ))
        .await
        .expect("preflight");
    assert_eq!(run.point_in_time.as_deref(), Some("2029-12-31T23:45:00Z"));
    let started = w
        .handlers()
        .start_wave(StartWaveInput {
            run,
            wave: all_tagged_wave(),
            heartbeat_seconds: 60,
        })
        .await
        .expect("start");
    assert_eq!(started.job_ids.len(), 1);
    let call = &w.drs.start_calls()[0];
    assert_eq!(call.snapshot_ids.get(&server_id(1)), Some(&mid));
    assert_eq!(call.snapshot_ids.get(&server_id(2)), Some(&only));
    assert_ne!(call.snapshot_ids.get(&server_id(1)), Some(&early));
    let used = w.history.launch_points_of(EXEC, 1);
    assert_eq!(used[0].snapshot_id.as_ref(), Some(&mid));
    // 23:30 is 40 minutes before the start at 00:10.
    assert_eq!(used[0].rpo_seconds, Some(2400));

    // Too far back for server 2: refused by name, nothing launched.
    let w = world_with_site_down(&["DISCONNECTED", "DISCONNECTED"]);
    w.drs.add_snapshot(&server_id(1), "2029-12-31T22:00:00Z");
    let err = w
        .handlers()
        .preflight(preflight_input(
            recovery_input(Some("2029-12-31T22:30:00Z")),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("server 2 has nothing that old");
    let cause = err.to_string();
    assert!(
        cause.contains(&format!(
            "{} (host-{}) has no recovery snapshot at or before 2029-12-31T22:30:00Z",
            server_id(2),
            server_id(2)
        )),
        "{cause}"
    );
    assert!(
        !cause.contains(&format!("{} (host-{}) has no", server_id(1), server_id(1))),
        "{cause}"
    );
}

#[tokio::test]
async fn a_future_or_malformed_point_in_time_is_rejected_before_anything_launches() {
    let w = World::with_servers(1);
    for (t, needle) in [
        ("2030-01-01T01:00:00Z", "in the future"),
        ("yesterday", "not an RFC 3339 timestamp"),
        ("2030-01-01 00:00:00", "not an RFC 3339 timestamp"),
    ] {
        let err = w
            .handlers()
            .preflight(preflight_input(
                recovery_input(Some(t)),
                vec![all_tagged_wave()],
            ))
            .await
            .expect_err(t);
        assert_eq!(err.name(), ErrorName::InvalidInput, "{t}");
        assert!(err.to_string().contains(needle), "{t}: {err}");
    }
    assert!(w.history.lock_holder(PLAN).is_none());
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn a_drill_whose_source_went_down_after_preflight_stops_at_the_next_wave_by_name() {
    let w = world_with_site_down(&["DISCONNECTED"]);
    let err = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("replication lost");
    assert_eq!(err.name(), ErrorName::ReplicationLost);
    let cause = err.to_string();
    assert!(
        cause.contains(&server_id(1))
            && cause.contains("DISCONNECTED")
            && cause.contains("start a RECOVERY"),
        "{cause}"
    );
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn preflight_counts_the_accounts_active_jobs_against_the_quotas() {
    let w = World::with_servers(3);
    for i in 0..19 {
        w.drs.add_job(Job {
            id: format!("drsjob-other{i:012}"),
            status: JobStatus::Started,
            job_type: Some("LAUNCH".into()),
            tags: BTreeMap::new(),
            networks: Vec::new(),
            created_at: Some("2030-01-01T00:01:00Z".into()),
            ended_at: None,
            servers: vec![],
        });
    }
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: 2,
            max_active_servers: 200,
            max_concurrent_jobs: 20,
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)));
    let err = h
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("19 active + 2 needed > 20");
    assert!(
        err.to_string().contains("19 jobs are already active"),
        "{err}"
    );
    let filter = w
        .drs
        .describe_jobs_calls()
        .last()
        .cloned()
        .expect("a DescribeJobs");
    assert!(
        filter.from_date.is_some(),
        "bounded by fromDate, never the whole history"
    );
}
