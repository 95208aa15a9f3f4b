//! Disaster day, source servers: every replication state and error of the model, source-site
//! outages, and DescribeSourceServers' ID filter.

use super::*;

#[tokio::test]
async fn every_replication_state_and_error_of_the_model_can_be_set() {
    let states = [
        "STOPPED",
        "INITIATING",
        "INITIAL_SYNC",
        "BACKLOG",
        "CREATING_SNAPSHOT",
        "CONTINUOUS",
        "PAUSED",
        "RESCAN",
        "STALLED",
        "DISCONNECTED",
    ];
    let mut servers: Vec<ServerSpec> = states
        .iter()
        .enumerate()
        .map(|(n, s)| ServerSpec::new(sid(n as u32 + 1), 0.1).with_replication_state(*s))
        .collect();
    servers.push(
        ServerSpec::new(sid(11), 0.1)
            .with_replication_state("STALLED")
            .with_replication_error("FAILED_TO_START_DATA_TRANSFER"),
    );
    servers.push(
        ServerSpec::new(sid(12), 0.1)
            .with_replication_state("BACKLOG")
            .with_replication_error("NOT_CONVERGING"),
    );
    let sim = start(servers, |_| {}).await;
    let c = client(&sim);
    let out = c.describe_source_servers().send().await.expect("servers");
    let by_id: HashMap<String, _> = out
        .items()
        .iter()
        .map(|s| (s.source_server_id().unwrap_or_default().to_owned(), s))
        .collect();
    for (n, state) in states.iter().enumerate() {
        let s = by_id[&sid(n as u32 + 1)];
        let info = s.data_replication_info().expect("info");
        let parsed = info.data_replication_state().expect("state");
        assert_eq!(parsed.as_str(), *state);
        assert!(
            aws_sdk_drs::types::DataReplicationState::values().contains(&parsed.as_str()),
            "{state} is a state the SDK knows"
        );
        let error = info.data_replication_error().and_then(|e| e.error());
        if matches!(*state, "STALLED" | "DISCONNECTED") {
            assert_eq!(error, Some(&DataReplicationErrorString::AgentNotSeen));
        } else {
            assert!(error.is_none(), "{state}: {error:?}");
        }
    }
    assert_eq!(
        replication(by_id[&sid(11)]).1,
        Some(DataReplicationErrorString::FailedToStartDataTransfer)
    );
    assert_eq!(
        replication(by_id[&sid(12)]).1,
        Some(DataReplicationErrorString::NotConverging)
    );
    let raw = by_id[&sid(9)]
        .data_replication_info()
        .and_then(|i| i.data_replication_error())
        .and_then(|e| e.raw_error())
        .expect("rawError");
    assert!(raw.contains("not been seen"), "{raw}");
    sim.shutdown().await;

    // Unknown ones are refused at start-up, naming the server.
    for spec in [
        ServerSpec::new(sid(1), 0.1).with_replication_state("HEALTHY"),
        ServerSpec::new(sid(1), 0.1).with_replication_error("AGENT_ON_HOLIDAY"),
    ] {
        let err = Simulator::start(SimConfig::with_servers(vec![spec]))
            .await
            .err()
            .expect("refused");
        let text = err.to_string();
        assert!(text.contains(&sid(1)), "{text}");
    }
}

#[tokio::test]
async fn a_source_site_outage_freezes_replication_but_launches_still_work() {
    // Snapshots every 0.6 s so that the test sees them being taken, and not.
    let every = SnapshotSpec::every(0.01, 0.01);
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.2)
                .with_tag("Site", "paris")
                .with_snapshots(every.clone()),
            ServerSpec::new(sid(2), 0.2)
                .with_tag("Site", "paris")
                .with_snapshots(every.clone()),
            ServerSpec::new(sid(3), 0.2)
                .with_tag("Site", "lyon")
                .with_snapshots(every.clone()),
            // Down from the fixture: stalled for the last 30 minutes.
            ServerSpec::new(sid(4), 0.2)
                .with_replication_state("STALLED")
                .down_since_minutes(30.0),
        ],
        |_| {},
    )
    .await;
    let c = client(&sim);
    let ep = sim.endpoint();

    // The fixture's stalled server: no snapshot in the last 30 minutes, last seen then.
    stalled_30_minutes_ago(&c).await;

    // The paris site goes down.
    let (status, _, body) = http(
        &ep,
        "POST",
        "/_sim/outage",
        r#"{"tags": {"Site": "paris"}, "state": "DISCONNECTED"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let outage = json(&body);
    let down_at = rfc(outage["since"].as_str().expect("since"));
    let mut down: Vec<&str> = outage["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    down.sort_unstable();
    assert_eq!(down, [sid(1), sid(2)]);

    // Lyon keeps replicating: wait until it has a snapshot well after the outage began.
    wait_for(
        "a snapshot after the outage on a healthy server",
        || async {
            let s = all_snapshots(&c, &sid(3), RecoverySnapshotsOrder::Desc, 1).await;
            (rfc(s[0].timestamp().expect("ts")) > down_at + time::Duration::milliseconds(1500))
                .then_some(())
        },
    )
    .await;
    for id in [sid(1), sid(2)] {
        let s = source_server(&c, &id).await;
        assert_eq!(
            replication(&s),
            (
                "DISCONNECTED".to_owned(),
                Some(DataReplicationErrorString::AgentNotSeen)
            )
        );
        assert_eq!(last_seen(&s), down_at, "lastSeenByServiceDateTime stops");
        let snaps = all_snapshots(&c, &id, RecoverySnapshotsOrder::Asc, 1000).await;
        assert!(!snaps.is_empty());
        assert!(
            snaps
                .iter()
                .all(|s| rfc(s.timestamp().expect("ts")) <= down_at),
            "no snapshot after the outage"
        );
    }
    let healthy = source_server(&c, &sid(3)).await;
    assert_eq!(replication(&healthy), ("CONTINUOUS".to_owned(), None));
    assert!(
        last_seen(&healthy) > down_at,
        "lastSeenByServiceDateTime moves"
    );

    // A recovery launches the disconnected servers from their last snapshot.
    a_recovery_launches_from_the_last_snapshots(&c, &sim).await;

    // The site comes back: replication resumes, snapshots are taken again.
    let (status, _, body) = http(&ep, "POST", "/_sim/outage/end", r#"{"all": true}"#).await;
    assert_eq!(status, 200, "{body}");
    let ended = json(&body);
    let up_at = rfc(ended["since"].as_str().expect("since"));
    let mut back: Vec<&str> = ended["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    back.sort_unstable();
    assert_eq!(back, [sid(1), sid(2), sid(4)]);
    wait_for("a snapshot after the outage ended", || async {
        let s = all_snapshots(&c, &sid(1), RecoverySnapshotsOrder::Desc, 1).await;
        (rfc(s[0].timestamp().expect("ts")) > up_at).then_some(())
    })
    .await;
    let s1 = source_server(&c, &sid(1)).await;
    assert_eq!(replication(&s1), ("CONTINUOUS".to_owned(), None));
    assert!(last_seen(&s1) > up_at);
    assert_eq!(
        replication(&source_server(&c, &sid(4)).await).0,
        "CONTINUOUS"
    );

    // The library does the same; selectors must name something.
    outage_selectors_must_name_something(&sim, &c, &ep).await;

    sim.shutdown().await;
}

/// Server 4, STALLED from the fixture for 30 minutes: last seen, lagging and without a
/// snapshot since then.
async fn stalled_30_minutes_ago(c: &Client) {
    let stalled = source_server(c, &sid(4)).await;
    assert_eq!(
        replication(&stalled),
        (
            "STALLED".to_owned(),
            Some(DataReplicationErrorString::AgentNotSeen)
        )
    );
    let seen = last_seen(&stalled);
    let ago = time::OffsetDateTime::now_utc() - seen;
    assert!(
        ago >= time::Duration::minutes(30) && ago < time::Duration::minutes(31),
        "{ago}"
    );
    let lag = stalled
        .data_replication_info()
        .and_then(|i| i.lag_duration())
        .expect("lagDuration");
    assert!(lag.starts_with("PT30M"), "{lag}");
    let snaps = all_snapshots(c, &sid(4), RecoverySnapshotsOrder::Desc, 1000).await;
    assert!(rfc(snaps[0].timestamp().expect("ts")) <= seen);
}

/// Launches the disconnected server 1 and the stalled server 4: both launch, from their
/// previous (last) snapshot.
async fn a_recovery_launches_from_the_last_snapshots(c: &Client, sim: &SimHandle) {
    let latest = all_snapshots(c, &sid(1), RecoverySnapshotsOrder::Desc, 1).await;
    let job = start_job(c, &[sid(1), sid(4)], false).await;
    let done = wait_completed(c, job.job_id()).await;
    assert!(
        done.participating_servers()
            .iter()
            .all(|s| s.launch_status() == Some(&LaunchStatus::Launched))
    );
    let jobs = sim.jobs();
    assert_eq!(
        jobs[0].servers[0].recovery_snapshot_id.as_deref(),
        Some(latest[0].snapshot_id())
    );
    let log = c
        .describe_job_log_items()
        .job_id(job.job_id())
        .send()
        .await
        .expect("log");
    let used_previous = log
        .items()
        .iter()
        .filter(|i| i.event() == Some(&JobLogEvent::UsingPreviousSnapshot))
        .count();
    assert_eq!(used_previous, 2);
}

/// Outages through the library, and selectors (admin API or library) that name nothing or
/// too much are refused.
async fn outage_selectors_must_name_something(sim: &SimHandle, c: &Client, ep: &str) {
    let ids = sim
        .start_outage(&ServerSelector::Servers(vec![sid(3)]), OutageState::Stalled)
        .expect("outage");
    assert_eq!(ids, [sid(3)]);
    assert_eq!(replication(&source_server(c, &sid(3)).await).0, "STALLED");
    assert_eq!(
        sim.end_outage(&ServerSelector::Tags(
            [("Site".to_owned(), "lyon".to_owned())].into()
        ))
        .expect("end"),
        [sid(3)]
    );
    assert!(
        sim.start_outage(&ServerSelector::Servers(vec![sid(9)]), OutageState::Stalled)
            .is_err()
    );
    for bad in [
        r#"{"tags": {"Site": "nowhere"}}"#,
        r#"{"servers": ["s-00000000000000001"], "all": true}"#,
        r#"{"all": true, "state": "ON_FIRE"}"#,
        r#"{}"#,
    ] {
        let (status, _, _) = http(ep, "POST", "/_sim/outage", bad).await;
        assert_eq!(status, 400, "{bad}");
    }
}

/// DescribeSourceServers' `filters.sourceServerIDs` as the DRS API reference
/// (DescribeSourceServersRequestFilters) has it: the servers asked for, an ID the account does
/// not have simply absent, an empty array meaning every server, at most 200 IDs.
#[tokio::test]
async fn describe_source_servers_filters_by_id_up_to_200_ids() {
    let sim = start(
        (1..=5).map(|n| ServerSpec::new(sid(n), 0.1)).collect(),
        |_| {},
    )
    .await;
    let c = client(&sim);
    let by_ids = |ids: Vec<String>| {
        c.describe_source_servers().filters(
            aws_sdk_drs::types::DescribeSourceServersRequestFilters::builder()
                .set_source_server_ids(Some(ids))
                .build(),
        )
    };
    let ids_of = |servers: &[aws_sdk_drs::types::SourceServer]| -> BTreeSet<String> {
        servers
            .iter()
            .filter_map(|s| s.source_server_id().map(str::to_string))
            .collect()
    };

    let some = by_ids(vec![sid(4), sid(2), sid(99)])
        .send()
        .await
        .expect("by id");
    assert_eq!(ids_of(some.items()), BTreeSet::from([sid(2), sid(4)]));
    let all = by_ids(Vec::new()).send().await.expect("empty filter");
    assert_eq!(all.items().len(), 5, "an empty array means every server");

    // 200 IDs are taken, and paginated like any listing.
    let mut two_hundred: Vec<String> = (100..298).map(sid).collect();
    two_hundred.extend([sid(1), sid(3)]);
    let pages: Vec<_> = by_ids(two_hundred)
        .max_results(1)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("200 IDs");
    let found: Vec<_> = pages.iter().flat_map(|p| p.items().to_vec()).collect();
    assert_eq!(ids_of(&found), BTreeSet::from([sid(1), sid(3)]));
    assert_eq!(pages.iter().filter(|p| !p.items().is_empty()).count(), 2);

    let err = by_ids((1..=201).map(sid).collect())
        .send()
        .await
        .expect_err("201 IDs")
        .into_service_error();
    let DescribeSourceServersError::ValidationException(e) = &err else {
        panic!("expected ValidationException, got {err:?}");
    };
    assert_eq!(
        e.reason(),
        Some(&ValidationExceptionReason::FieldValidationFailed)
    );
    assert_eq!(e.field_list()[0].name(), Some("filters.sourceServerIDs"));
    sim.shutdown().await;
}
