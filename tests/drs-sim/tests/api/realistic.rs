//! DRS as it really is (issue #21): snapshots that expire or are deleted, an outage that
//! leaves servers STALLED, short and empty pages, jobs listed late. One test per knob, over
//! the wire (raw restJson1 calls, every answer held to the DRS model) and the admin API.

use std::collections::BTreeSet;

use crate::common::{Answer, call, call_raw, output_violations, sid, start, wait_for};
use drs_sim::{
    Fixture, Model, Paging, ServerSelector, ServerSpec, SimConfig, SimHandle, Simulator,
    SnapshotSpec, Timings,
};
use serde_json::{Value, json};

/// A DRS call that must succeed; its answer is held to the model.
async fn ok(sim: &SimHandle, operation: &str, body: Value) -> Value {
    let answer = call(&sim.endpoint(), operation, &body).await;
    let violations = output_violations(operation, &answer);
    assert!(
        violations.is_empty(),
        "{operation} {body}: {violations:?}\n{}",
        answer.body
    );
    answer.body
}

/// An admin call: status and JSON body.
async fn admin(sim: &SimHandle, path: &str, body: Value) -> (u16, Value) {
    let (status, _, text) =
        call_raw(&sim.endpoint(), &format!("_sim/{path}"), &body.to_string()).await;
    (status, serde_json::from_str(&text).expect("admin JSON"))
}

/// Every item of a listing, page by page, with the size of each page.
async fn all_pages(sim: &SimHandle, operation: &str, body: Value) -> (Vec<Value>, Vec<usize>) {
    let (mut items, mut sizes) = (Vec::new(), Vec::new());
    let mut request = body;
    loop {
        let page = ok(sim, operation, request.clone()).await;
        let got = page["items"].as_array().cloned().unwrap_or_default();
        sizes.push(got.len());
        items.extend(got);
        match page["nextToken"].as_str() {
            Some(token) => request["nextToken"] = json!(token),
            None => return (items, sizes),
        }
        assert!(sizes.len() < 10_000, "{operation}: the pages never end");
    }
}

fn ids_of(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[key].as_str().expect("an ID").to_owned())
        .collect()
}

fn minute_of(snapshot: &Value) -> u8 {
    let due = snapshot["expectedTimestamp"]
        .as_str()
        .expect("expectedTimestamp");
    time::OffsetDateTime::parse(due, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
        .minute()
}

async fn snapshots_of(sim: &SimHandle, id: &str) -> Vec<Value> {
    all_pages(
        sim,
        "DescribeRecoverySnapshots",
        json!({ "sourceServerID": id }),
    )
    .await
    .0
}

/// The User Guide's retention: 10-minute snapshots for an hour, hourly ones for a day, the
/// day's first for `retentionDays`. Aging (the admin API) stages an hour passing; a
/// StartRecovery naming a deleted snapshot makes its job and fails that server.
#[tokio::test]
async fn snapshots_expire_as_drs_retention_says_and_a_deleted_one_fails_its_launch() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 0.2), ServerSpec::new(sid(2), 0.2)],
        |_| {},
    )
    .await;
    let before = snapshots_of(&sim, &sid(1)).await;
    // 5 to 7 in the last hour, one an hour before (22 or 23), the first of each day.
    assert!((27..=32).contains(&before.len()), "{}", before.len());
    let ten_minute: Vec<&Value> = before.iter().filter(|s| minute_of(s) != 0).collect();
    assert!(ten_minute.len() >= 5, "{ten_minute:?}");
    let expired = ten_minute.last().expect("a 10-minute snapshot")["snapshotID"]
        .as_str()
        .expect("ID")
        .to_owned();

    // An hour passes for sid(1)'s snapshots: the 10-minute ones are gone, hourly ones stay.
    let (status, body) = admin(
        &sim,
        "snapshots/age",
        json!({"servers": [sid(1)], "minutes": 61}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["servers"], json!([sid(1)]));
    let after = snapshots_of(&sim, &sid(1)).await;
    assert!(!after.is_empty());
    let first_of_day = &before[0]["snapshotID"];
    assert!(
        after
            .iter()
            .all(|s| minute_of(s) == 0 || &s["snapshotID"] == first_of_day),
        "{after:#?}"
    );
    assert!(after.len() < before.len() - 4);
    assert_eq!(
        snapshots_of(&sim, &sid(2)).await.len(),
        before.len(),
        "sid(2) not aged"
    );
    for bad in [
        json!({"servers": [sid(1)]}),
        json!({"servers": [sid(1)], "minutes": -1}),
        json!({"servers": [sid(1)], "minutes": 5, "state": "STALLED"}),
        json!({"servers": ["s-99999999999999999"], "minutes": 5}),
    ] {
        let (status, body) = admin(&sim, "snapshots/age", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // Naming the deleted snapshot: the job is made (StartRecovery has no ValidationException
    // in the model), the server fails with USING_PREVIOUS_SNAPSHOT_FAILED naming it.
    let started = ok(
        &sim,
        "StartRecovery",
        json!({"sourceServers": [{"sourceServerID": sid(1), "recoverySnapshotID": expired}], "isDrill": true}),
    )
    .await;
    let job_id = started["job"]["jobID"].as_str().expect("jobID").to_owned();
    let job = wait_for("the job to complete", || {
        let jobs = sim.jobs();
        let job_id = job_id.clone();
        async move {
            jobs.into_iter()
                .find(|j| j.job_id == job_id && j.end_date_time.is_some())
        }
    })
    .await;
    let server = &job.servers[0];
    assert_eq!(server.launch_status, drs_sim::LaunchStatus::Failed);
    assert_eq!(
        server.recovery_snapshot_id.as_deref(),
        Some(expired.as_str())
    );
    assert!(server.recovery_snapshot_requested);
    let log = ok(&sim, "DescribeJobLogItems", json!({"jobID": job.job_id})).await;
    let failed = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["event"] == "USING_PREVIOUS_SNAPSHOT_FAILED")
        .unwrap_or_else(|| panic!("no USING_PREVIOUS_SNAPSHOT_FAILED: {log}"));
    let raw = failed["eventData"]["rawError"].as_str().expect("rawError");
    assert!(
        raw.contains(&expired) && raw.contains("no longer exists"),
        "{raw}"
    );
    assert!(sim.recovery_instances().is_empty());

    // A snapshot the server never had is still refused.
    let other = snapshots_of(&sim, &sid(2)).await[0]["snapshotID"].clone();
    let refused = call(
        &sim.endpoint(),
        "StartRecovery",
        &json!({"sourceServers": [{"sourceServerID": sid(1), "recoverySnapshotID": other}]}),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    sim.shutdown().await;
}

/// `retentionDays` (the DAY rule) keeps the day's first snapshot that long; a bad value
/// fails start-up naming the server and the field.
#[tokio::test]
async fn retention_days_keep_daily_snapshots_and_bad_values_are_refused() {
    let mut short = ServerSpec::new(sid(1), 0.2).with_snapshots(SnapshotSpec::every(10.0, 96.0));
    short.retention_days = Some(1);
    let mut long = ServerSpec::new(sid(2), 0.2).with_snapshots(SnapshotSpec::every(10.0, 96.0));
    long.retention_days = Some(7);
    let sim = start(vec![short, long], |_| {}).await;
    let day = time::Duration::hours(24);
    let now = time::OffsetDateTime::now_utc();
    let oldest = |snaps: Vec<drs_sim::RecoverySnapshot>| now - snaps[0].timestamp;
    assert!(
        oldest(sim.recovery_snapshots(&sid(1)).expect("known")) <= day + time::Duration::minutes(1)
    );
    // The history began four days ago: its first days' first snapshots are still there.
    assert!(oldest(sim.recovery_snapshots(&sid(2)).expect("known")) > day * 3);
    sim.shutdown().await;

    let mut bad = ServerSpec::new(sid(3), 0.2);
    bad.retention_days = Some(0);
    let err = Simulator::start(SimConfig::with_servers(vec![bad]))
        .await
        .err()
        .expect("retentionDays 0 is refused");
    let text = err.to_string();
    assert!(
        text.contains(&sid(3)) && text.contains("retentionDays"),
        "{text}"
    );
}

/// StopReplication deletes a server's snapshots; DisconnectSourceServer removes them within
/// 90 minutes; a STALLED server (its site dark) keeps what retention keeps.
#[tokio::test]
async fn stopped_and_long_disconnected_servers_have_no_snapshots() {
    let server = |n: u32, state: &str, down: f64| {
        ServerSpec::new(sid(n), 0.2)
            .with_replication_state(state)
            .down_since_minutes(down)
    };
    let sim = start(
        vec![
            server(1, "STOPPED", 0.0),
            server(2, "DISCONNECTED", 91.0),
            server(3, "DISCONNECTED", 30.0),
            server(4, "STALLED", 300.0),
        ],
        |_| {},
    )
    .await;
    assert!(snapshots_of(&sim, &sid(1)).await.is_empty());
    assert!(snapshots_of(&sim, &sid(2)).await.is_empty());
    assert!(!snapshots_of(&sim, &sid(3)).await.is_empty());
    let stalled = snapshots_of(&sim, &sid(4)).await;
    assert!(
        !stalled.is_empty()
            && stalled
                .iter()
                .all(|s| minute_of(s) == 0 || s == &stalled[0])
    );
    // Launching a server without snapshots: the job is made, the server fails.
    let started = ok(
        &sim,
        "StartRecovery",
        json!({"sourceServers": [{"sourceServerID": sid(1)}]}),
    )
    .await;
    assert_eq!(started["job"]["status"], "PENDING");
    sim.shutdown().await;
}

/// A site going dark (the admin outage without a state) leaves its servers STALLED with
/// AGENT_NOT_SEEN; DISCONNECTED is had only by asking.
#[tokio::test]
async fn an_outage_leaves_servers_stalled_unless_disconnected_is_asked() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 0.2), ServerSpec::new(sid(2), 0.2)],
        |_| {},
    )
    .await;
    let (status, body) = admin(&sim, "outage", json!({"servers": [sid(1)]})).await;
    assert_eq!((status, &body["state"]), (200, &json!("STALLED")), "{body}");
    let (status, body) = admin(
        &sim,
        "outage",
        json!({"servers": [sid(2)], "state": "DISCONNECTED"}),
    )
    .await;
    assert_eq!(
        (status, &body["state"]),
        (200, &json!("DISCONNECTED")),
        "{body}"
    );
    let servers = ok(&sim, "DescribeSourceServers", json!({})).await;
    let info = |n: usize| servers["items"][n]["dataReplicationInfo"].clone();
    assert_eq!(info(0)["dataReplicationState"], "STALLED");
    assert_eq!(info(0)["dataReplicationError"]["error"], "AGENT_NOT_SEEN");
    assert_eq!(info(1)["dataReplicationState"], "DISCONNECTED");
    sim.shutdown().await;
}

/// `paging: {pageSize: 1, emptyFirstPage: true}`: every Describe* answers one item a page
/// whatever `maxResults` says, and its first page is empty with a `nextToken`; following the
/// tokens gives exactly what one big page gives.
#[tokio::test]
async fn every_describe_pages_short_and_starts_empty_when_told() {
    let sim = start(
        (1..=3).map(|n| ServerSpec::new(sid(n), 0.05)).collect(),
        |_| {},
    )
    .await;
    for n in 1..=2 {
        ok(
            &sim,
            "StartRecovery",
            json!({"sourceServers": [{"sourceServerID": sid(n)}]}),
        )
        .await;
    }
    wait_for("the launches", || {
        let n = sim.recovery_instances().len();
        async move { (n == 2).then_some(()) }
    })
    .await;
    let job = sim.jobs()[0].job_id.clone();
    let listings = [
        ("DescribeJobs", json!({"maxResults": 100}), "jobID"),
        (
            "DescribeJobLogItems",
            json!({"jobID": job, "maxResults": 100}),
            "event",
        ),
        (
            "DescribeSourceServers",
            json!({"maxResults": 100}),
            "sourceServerID",
        ),
        (
            "DescribeRecoveryInstances",
            json!({"maxResults": 100}),
            "recoveryInstanceID",
        ),
        (
            "DescribeRecoverySnapshots",
            json!({"sourceServerID": sid(3), "maxResults": 100}),
            "snapshotID",
        ),
    ];
    let mut whole = Vec::new();
    for (op, body, key) in &listings {
        let (items, sizes) = all_pages(&sim, op, body.clone()).await;
        assert_eq!(sizes.len(), 1, "{op}: one page without the knob");
        assert!(items.len() >= 2, "{op}: {items:?}");
        whole.push(ids_of(&items, key));
    }
    let (status, body) = admin(
        &sim,
        "paging",
        json!({"pageSize": 1, "emptyFirstPage": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sim.paging(),
        Paging {
            page_size: Some(1),
            empty_first_page: true
        }
    );
    for ((op, body, key), expected) in listings.iter().zip(&whole) {
        let first = ok(&sim, op, body.clone()).await;
        assert_eq!(first["items"], json!([]), "{op}");
        assert!(first["nextToken"].is_string(), "{op}: {first}");
        let (items, sizes) = all_pages(&sim, op, body.clone()).await;
        assert_eq!(sizes[0], 0, "{op}");
        assert!(sizes.iter().all(|&n| n <= 1), "{op}: {sizes:?}");
        assert_eq!(&ids_of(&items, key), expected, "{op}");
    }
    let (status, _) = admin(&sim, "paging", json!({"pageSize": 0})).await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

/// A fixture sets the paging and the timings; a bad setting names the file and the key.
#[tokio::test]
async fn a_fixture_sets_paging_and_timings() {
    let dir = std::env::temp_dir().join(format!("drs-sim-realistic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "paging: {pageSize: 2, emptyFirstPage: true}\n\
         timings: {jobListingDelaySeconds: 5, participantsDelaySeconds: 120}\n\
         servers:\n  - id: s-00000000000000001\n",
    )
    .expect("write");
    let sim = Simulator::start(SimConfig {
        fixture: drs_sim::FixtureSource::File(good),
        ..SimConfig::default()
    })
    .await
    .expect("starts");
    assert_eq!(
        sim.paging(),
        Paging {
            page_size: Some(2),
            empty_first_page: true
        }
    );
    assert_eq!(sim.timings().job_listing_delay_seconds, 5.0);
    assert_eq!(sim.timings().participants_delay_seconds, 120.0);
    sim.shutdown().await;
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "paging: {pageSize: 0}\nservers: []\n").expect("write");
    let err = Fixture::load_all(&bad).expect_err("pageSize 0");
    let text = err.to_string();
    assert!(
        text.contains("bad.yaml") && text.contains("paging") && text.contains("pageSize"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `jobListingDelaySeconds`: StartRecovery answers with the job, the job holds its servers
/// (a second StartRecovery is a ConflictException), and DescribeJobs shows it (even by its
/// ID) only after the delay.
#[tokio::test]
async fn a_new_job_is_listed_only_after_the_listing_delay() {
    // Launching for 5 s: the job is still active when StartRecovery is sent again.
    let sim = start(vec![ServerSpec::new(sid(1), 5.0)], |_| {}).await;
    let (status, body) = admin(&sim, "timings", json!({"jobListingDelaySeconds": 1.5})).await;
    assert_eq!(status, 200, "{body}");
    let started = ok(
        &sim,
        "StartRecovery",
        json!({"sourceServers": [{"sourceServerID": sid(1)}], "tags": {"chunk": "1"}}),
    )
    .await;
    let job_id = started["job"]["jobID"].as_str().expect("jobID").to_owned();
    let listed = |body: &Value| {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|j| j["jobID"] == json!(job_id))
    };
    let all = ok(&sim, "DescribeJobs", json!({})).await;
    let by_id = ok(
        &sim,
        "DescribeJobs",
        json!({"filters": {"jobIDs": [job_id]}}),
    )
    .await;
    let snapshot = &sim.jobs()[0];
    let unlisted_until = snapshot.listed_date_time;
    if time::OffsetDateTime::now_utc() < unlisted_until {
        assert!(!listed(&all) && !listed(&by_id), "{all} {by_id}");
    }
    assert!(unlisted_until - snapshot.creation_date_time >= time::Duration::milliseconds(1500));
    let again: Answer = call(
        &sim.endpoint(),
        "StartRecovery",
        &json!({"sourceServers": [{"sourceServerID": sid(1)}]}),
    )
    .await;
    assert_eq!(
        again.error_type.as_deref(),
        Some("ConflictException"),
        "{}",
        again.body
    );
    wait_for("the job to be listed", || {
        let sim = &sim;
        async move { listed(&ok(sim, "DescribeJobs", json!({})).await).then_some(()) }
    })
    .await;
    assert!(time::OffsetDateTime::now_utc() >= unlisted_until);
    sim.shutdown().await;
}

/// Participants listed late, far beyond a first check (120 s here, scaled down): the job
/// stays PENDING with no participatingServers, then lists them and launches.
#[tokio::test]
async fn participants_listed_after_two_minutes_then_the_job_launches() {
    let sim = start(vec![ServerSpec::new(sid(1), 1.0)], |c| {
        c.timings = Timings {
            time_scale: 0.01,
            participants_delay_seconds: 120.0,
            ..Timings::default()
        };
    })
    .await;
    let started = ok(
        &sim,
        "StartRecovery",
        json!({"sourceServers": [{"sourceServerID": sid(1)}]}),
    )
    .await;
    assert_eq!(started["job"]["participatingServers"], json!([]));
    let job = &sim.jobs()[0];
    assert_eq!(
        job.participants_listed_date_time - job.creation_date_time,
        time::Duration::milliseconds(1200)
    );
    let launched = wait_for("the job to complete", || {
        let sim = &sim;
        async move {
            let body = ok(sim, "DescribeJobs", json!({})).await;
            (body["items"][0]["status"] == "COMPLETED").then_some(body)
        }
    })
    .await;
    assert_eq!(
        launched["items"][0]["participatingServers"][0]["launchStatus"],
        "LAUNCHED"
    );
    sim.shutdown().await;
}

/// The fixture's replication states and errors are the model's enums, no more: the names
/// DRS does not have (PENDING_SNAPSHOT_SHIPPING, SHIPPING_SNAPSHOT) are refused by name.
#[tokio::test]
async fn replication_states_are_the_models() {
    let model = Model::drs();
    let of = |shape: &str| -> BTreeSet<String> {
        model
            .enum_values(shape)
            .unwrap_or_else(|| panic!("{shape} is an enum of the model"))
            .iter()
            .cloned()
            .collect()
    };
    let ours = |names: &[&str]| {
        names
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        ours(drs_sim::fixture::REPLICATION_STATES),
        of("DataReplicationState")
    );
    assert_eq!(
        ours(drs_sim::fixture::REPLICATION_ERRORS),
        of("DataReplicationErrorString")
    );
    for name in ["PENDING_SNAPSHOT_SHIPPING", "SHIPPING_SNAPSHOT"] {
        let err = Simulator::start(SimConfig::with_servers(vec![
            ServerSpec::new(sid(1), 0.1).with_replication_state(name),
        ]))
        .await
        .err()
        .expect("refused");
        assert!(err.to_string().contains(name), "{err}");
    }
    // Aging selects like the other admin actions.
    let sim = start(vec![ServerSpec::new(sid(1), 0.1)], |_| {}).await;
    assert_eq!(
        sim.age_snapshots(&ServerSelector::All, 0.0).expect("aged"),
        vec![sid(1)]
    );
    sim.shutdown().await;
}
