//! Disaster day, snapshots: DescribeRecoverySnapshots, launching from a named or the latest
//! snapshot, and a server with no snapshot.

use super::*;

#[tokio::test]
async fn recovery_snapshots_answer_as_drs_does() {
    // Explicit times within DRS's retention (hourly snapshots are kept a day): whole hours
    // of the last few, one written with an offset.
    let hour = {
        let now = time::OffsetDateTime::now_utc();
        now.replace_time(time::Time::from_hms(now.hour(), 0, 0).expect("hour"))
            - time::Duration::hours(4)
    };
    let zulu = |t: time::OffsetDateTime, frac: &str| {
        format!(
            "{:04}-{:02}-{:02}T{:02}:00:00{frac}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour()
        )
    };
    let minus3 = hour - time::Duration::hours(3);
    let plus2 = minus3.to_offset(time::UtcOffset::from_hms(2, 0, 0).expect("offset"));
    let at = [
        zulu(hour, ""),
        zulu(hour + time::Duration::hours(1), ".5"),
        format!(
            "{:04}-{:02}-{:02}T{:02}:00:00+02:00",
            plus2.year(),
            u8::from(plus2.month()),
            plus2.day(),
            plus2.hour()
        ),
    ];
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.1),
            ServerSpec::new(sid(2), 0.1).with_replication_state("INITIAL_SYNC"),
            ServerSpec::new(sid(3), 0.1).with_snapshots(SnapshotSpec::At(at.to_vec())),
            ServerSpec::new(sid(4), 0.1).with_snapshots(SnapshotSpec::None),
        ],
        |_| {},
    )
    .await;
    let c = client(&sim);

    // The default: every 10 minutes for the last 24 hours, as DRS's retention keeps them
    // (User Guide, point-in-time): every 10 minutes for the last hour (5 to 7), one an hour
    // before that (22 or 23), the first of each day (1 or 2 more), all pages collected once.
    let asc = all_snapshots(&c, &sid(1), RecoverySnapshotsOrder::Asc, 10).await;
    assert!((27..=32).contains(&asc.len()), "{}", asc.len());
    assert!(sim.counters().calls("DescribeRecoverySnapshots") >= 3);
    let ids: BTreeSet<&str> = asc.iter().map(|s| s.snapshot_id()).collect();
    assert_eq!(ids.len(), asc.len());
    assert_each_default_snapshot_as_drs_keeps_it(&asc);

    assert!(asc.windows(2).all(|w| w[0].timestamp() < w[1].timestamp()));
    let now = time::OffsetDateTime::now_utc();
    let oldest = rfc(asc[0].expected_timestamp());
    assert!(now - oldest <= time::Duration::hours(24) + time::Duration::minutes(1));
    assert!(now - oldest > time::Duration::hours(23) + time::Duration::minutes(49));

    // DESC is the same list the other way round; the library sees the same.
    let mut desc = all_snapshots(&c, &sid(1), RecoverySnapshotsOrder::Desc, 1000).await;
    desc.reverse();
    assert_eq!(
        desc.iter().map(|s| s.snapshot_id()).collect::<Vec<_>>()[..asc.len()],
        asc.iter().map(|s| s.snapshot_id()).collect::<Vec<_>>()[..]
    );
    let lib = sim.recovery_snapshots(&sid(1)).expect("known");
    assert_eq!(lib[0].snapshot_id, asc[0].snapshot_id());

    // Date filters select on the snapshot's timestamp, both ends included.
    let from = asc[10].timestamp().expect("ts").to_owned();
    let to = asc[19].timestamp().expect("ts").to_owned();
    let window = c
        .describe_recovery_snapshots()
        .source_server_id(sid(1))
        .filters(
            aws_sdk_drs::types::DescribeRecoverySnapshotsRequestFilters::builder()
                .from_date_time(from)
                .to_date_time(to)
                .build(),
        )
        .send()
        .await
        .expect("filtered");
    assert_eq!(window.items().len(), 10);
    assert_eq!(window.items()[0].snapshot_id(), asc[10].snapshot_id());

    // Explicit times, in time order whatever the offset they were written with.
    let explicit = all_snapshots(&c, &sid(3), RecoverySnapshotsOrder::Asc, 10).await;
    let times: Vec<&str> = explicit.iter().filter_map(|s| s.timestamp()).collect();
    assert_eq!(
        times,
        [
            zulu(minus3, ".000000"),
            zulu(hour, ".000000"),
            zulu(hour + time::Duration::hours(1), ".500000")
        ]
    );

    // None for a server in its initial sync, or told so.
    for n in [2, 4] {
        assert!(
            all_snapshots(&c, &sid(n), RecoverySnapshotsOrder::Asc, 10)
                .await
                .is_empty()
        );
    }

    // An unknown server: the model's ValidationException for this operation.
    unknown_server_is_a_validation_error(&c, &sim).await;

    // Seeded IDs repeat: another simulator with the same seed names the same snapshot the
    // same way, one with another seed does not.
    seeded_snapshot_ids_repeat(&asc).await;

    sim.shutdown().await;
}

/// Each snapshot of the default schedule: its IDs' shapes, taken on time, and kept as DRS's
/// retention keeps them (10-minute ones for the last hour, hourly or daily before).
fn assert_each_default_snapshot_as_drs_keeps_it(asc: &[RecoverySnapshot]) {
    for s in asc {
        assert!(has_shape(s.snapshot_id(), "pit-"), "{}", s.snapshot_id());
        assert_eq!(s.source_server_id(), sid(1));
        assert!(
            s.expected_timestamp().ends_with('Z'),
            "{}",
            s.expected_timestamp()
        );
        let taken = rfc(s.timestamp().expect("timestamp"));
        let due = rfc(s.expected_timestamp());
        assert!(taken >= due && taken - due < time::Duration::seconds(21));
        assert_eq!(due.minute() % 10, 0);
        // Older than the MINUTE rule's hour: an hourly one, or the first of its day (the
        // oldest, taken at whatever minute the 24 hours began).
        if time::OffsetDateTime::now_utc() - taken > time::Duration::minutes(61)
            && s.snapshot_id() != asc[0].snapshot_id()
        {
            assert_eq!(due.minute(), 0, "{due}");
        }
        assert_eq!(s.ebs_snapshots().len(), 1);
        assert!(
            has_shape(&s.ebs_snapshots()[0], "snap-"),
            "{:?}",
            s.ebs_snapshots()
        );
    }
}

/// DescribeRecoverySnapshots of an unknown server, through the SDK and over the wire.
async fn unknown_server_is_a_validation_error(c: &Client, sim: &SimHandle) {
    let err = c
        .describe_recovery_snapshots()
        .source_server_id("s-99999999999999999")
        .send()
        .await
        .expect_err("unknown server")
        .into_service_error();
    let DescribeRecoverySnapshotsError::ValidationException(e) = &err else {
        panic!("expected ValidationException, got {err:?}");
    };
    assert_eq!(e.field_list()[0].name(), Some("sourceServerID"));
    assert!(
        e.message()
            .is_some_and(|m| m.contains("s-99999999999999999"))
    );
    let (status, _, body) = http(&sim.endpoint(), "POST", "/DescribeRecoverySnapshots", "{}").await;
    assert_eq!(status, 400);
    assert!(body.contains("sourceServerID"), "{body}");
}

/// Another simulator with seed 11 names the same snapshot as `asc` does; one with another
/// seed does not.
async fn seeded_snapshot_ids_repeat(asc: &[RecoverySnapshot]) {
    let same = start(vec![ServerSpec::new(sid(1), 0.1)], |_| {}).await;
    let other = start(vec![ServerSpec::new(sid(1), 0.1)], |c| c.seed = Some(12)).await;
    let due = asc[5].expected_timestamp();
    let find = |h: &SimHandle| {
        h.recovery_snapshots(&sid(1))
            .expect("known")
            .into_iter()
            .find(|s| s.expected_timestamp == rfc(due))
            .map(|s| s.snapshot_id)
    };
    assert_eq!(find(&same).as_deref(), Some(asc[5].snapshot_id()));
    assert_ne!(find(&other).as_deref(), Some(asc[5].snapshot_id()));
    same.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn start_recovery_launches_from_the_named_or_the_latest_snapshot() {
    // Snapshots in the past only, so that none is taken while the test runs.
    let hours_ago = |h: i64| time::OffsetDateTime::now_utc() - time::Duration::hours(h);
    let past = SnapshotSpec::at(&(1..=6).map(hours_ago).collect::<Vec<_>>());
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.2).with_snapshots(past.clone()),
            ServerSpec::new(sid(2), 0.2).with_snapshots(past.clone()),
            ServerSpec::new(sid(3), 0.2),
        ],
        |_| {},
    )
    .await;
    let c = client(&sim);
    let one = all_snapshots(&c, &sid(1), RecoverySnapshotsOrder::Desc, 1000).await;
    let two = all_snapshots(&c, &sid(2), RecoverySnapshotsOrder::Asc, 1000).await;
    let chosen = &two[3];

    // Another server's snapshot, or a malformed ID, is refused, naming it.
    another_servers_or_a_malformed_snapshot_is_refused(&c, &sim, &one).await;

    let job = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .source_servers(
            StartRecoveryRequestSourceServer::builder()
                .source_server_id(sid(2))
                .recovery_snapshot_id(chosen.snapshot_id())
                .build()
                .expect("source"),
        )
        .send()
        .await
        .expect("StartRecovery")
        .job()
        .cloned()
        .expect("job");
    let snap = sim.jobs()[0].servers.clone();
    // Without recoverySnapshotID the replicating server gets an on-demand snapshot ("Omit
    // this field to launch from the latest data by taking an on-demand snapshot", the
    // model): a new one, taken when its launch starts, none of its scheduled ones.
    let on_demand = snap[0]
        .recovery_snapshot_id
        .clone()
        .expect("an on-demand snapshot");
    assert!(has_shape(&on_demand, "pit-"), "{on_demand}");
    assert!(one.iter().all(|s| s.snapshot_id() != on_demand));
    assert_eq!(
        snap[0].recovery_snapshot_timestamp,
        Some(snap[0].launch_start_date_time)
    );
    assert!(!snap[0].recovery_snapshot_requested);
    assert!(snap[0].on_demand_snapshot);
    assert!(!snap[1].on_demand_snapshot);
    assert_eq!(
        snap[1].recovery_snapshot_id.as_deref(),
        Some(chosen.snapshot_id())
    );
    assert!(snap[1].recovery_snapshot_requested);
    let (_, _, body) = http(&sim.endpoint(), "GET", "/_sim/jobs", "").await;
    let admin = json(&body);
    assert_eq!(
        admin["jobs"][0]["servers"][1]["recoverySnapshotID"],
        chosen.snapshot_id()
    );
    assert!(admin["jobs"][0]["servers"][1]["recoverySnapshotTimestamp"].is_string());

    let done = wait_completed(&c, job.job_id()).await;
    assert!(
        done.participating_servers()
            .iter()
            .all(|s| s.launch_status() == Some(&LaunchStatus::Launched))
    );
    // The named snapshot is used (USING_PREVIOUS_SNAPSHOT), the latest of a replicating
    // server is taken as the job starts (SNAPSHOT_START/END).
    let log = c
        .describe_job_log_items()
        .job_id(job.job_id())
        .send()
        .await
        .expect("log");
    let events_of = |id: &str| -> Vec<JobLogEvent> {
        log.items()
            .iter()
            .filter(|i| {
                i.event_data()
                    .and_then(|d| d.source_server_id())
                    .is_some_and(|s| s == id)
            })
            .filter_map(|i| i.event().cloned())
            .collect()
    };
    assert!(events_of(&sid(2)).contains(&JobLogEvent::UsingPreviousSnapshot));
    assert!(!events_of(&sid(2)).contains(&JobLogEvent::SnapshotStart));
    assert!(events_of(&sid(1)).contains(&JobLogEvent::SnapshotStart));
    // The recovery instance says which moment it holds.
    instances_name_the_moment_they_hold(&c, chosen, &snap, &one).await;

    sim.shutdown().await;
}

/// StartRecovery with another server's snapshot, or a malformed ID: refused, naming it, and
/// no job is made.
async fn another_servers_or_a_malformed_snapshot_is_refused(
    c: &Client,
    sim: &SimHandle,
    one: &[RecoverySnapshot],
) {
    for bad in [one[0].snapshot_id(), "pit-123"] {
        let err = c
            .start_recovery()
            .source_servers(
                StartRecoveryRequestSourceServer::builder()
                    .source_server_id(sid(2))
                    .recovery_snapshot_id(bad)
                    .build()
                    .expect("source"),
            )
            .send()
            .await
            .expect_err("not its snapshot")
            .into_service_error();
        assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
        assert!(err.message().is_some_and(|m| m.contains(bad)), "{err:?}");
    }
    assert!(sim.jobs().is_empty());
}

/// Each recovery instance's pointInTimeSnapshotDateTime: the named snapshot's time, or the
/// on-demand snapshot's (when its launch started).
async fn instances_name_the_moment_they_hold(
    c: &Client,
    chosen: &RecoverySnapshot,
    snap: &[drs_sim::JobServerSnapshot],
    one: &[RecoverySnapshot],
) {
    let instances = c
        .describe_recovery_instances()
        .filters(
            aws_sdk_drs::types::DescribeRecoveryInstancesRequestFilters::builder()
                .source_server_ids(sid(2))
                .build(),
        )
        .send()
        .await
        .expect("instances");
    let pit = instances.items()[0]
        .point_in_time_snapshot_date_time()
        .expect("pointInTimeSnapshotDateTime");
    assert_eq!(rfc(pit), rfc(chosen.timestamp().expect("ts")));
    let on_demand_instance = c
        .describe_recovery_instances()
        .filters(
            aws_sdk_drs::types::DescribeRecoveryInstancesRequestFilters::builder()
                .source_server_ids(sid(1))
                .build(),
        )
        .send()
        .await
        .expect("instances");
    let pit = on_demand_instance.items()[0]
        .point_in_time_snapshot_date_time()
        .expect("pointInTimeSnapshotDateTime");
    assert_eq!(rfc(pit), snap[0].launch_start_date_time);
    assert!(rfc(pit) > rfc(one[0].timestamp().expect("ts")));
}

#[tokio::test]
async fn a_server_without_a_snapshot_launches_failed_saying_why() {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.2).with_replication_state("INITIAL_SYNC"),
            // Not replicating, so no on-demand snapshot either.
            ServerSpec::new(sid(2), 0.2)
                .with_snapshots(SnapshotSpec::None)
                .with_replication_state("STALLED"),
            ServerSpec::new(sid(3), 0.2),
        ],
        |_| {},
    )
    .await;
    let c = client(&sim);
    let job = start_job(&c, &[sid(1), sid(2), sid(3)], false).await;
    let done = wait_completed(&c, job.job_id()).await;
    let by_server = statuses(&done);
    assert_eq!(by_server[&sid(1)], (LaunchStatus::Failed, None));
    assert_eq!(by_server[&sid(2)], (LaunchStatus::Failed, None));
    assert_eq!(by_server[&sid(3)].0, LaunchStatus::Launched);
    let log = c
        .describe_job_log_items()
        .job_id(job.job_id())
        .send()
        .await
        .expect("log");
    let failed: HashMap<String, String> = log
        .items()
        .iter()
        .filter(|i| i.event() == Some(&JobLogEvent::LaunchFailed))
        .filter_map(|i| {
            let d = i.event_data()?;
            Some((d.source_server_id()?.to_owned(), d.raw_error()?.to_owned()))
        })
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed[&sid(1)].contains("no point-in-time recovery snapshot"),
        "{failed:?}"
    );
    assert!(failed[&sid(1)].contains("INITIAL_SYNC"), "{failed:?}");
    let jobs = sim.jobs();
    let servers = &jobs[0].servers;
    assert!(servers[0].recovery_snapshot_id.is_none());
    assert!(servers[0].fail_launch);
    assert!(
        servers[0]
            .fail_reason
            .as_deref()
            .is_some_and(|r| r.contains(&sid(1)))
    );
    assert!(servers[2].recovery_snapshot_id.is_some());
    sim.shutdown().await;
}
