//! Unit tests of the state: limits and quotas, instances, seeded IDs, faults, background
//! jobs and outages.

use super::*;
use crate::fixture::{ResolvedDefaults, ServerSpec};
use crate::replication::OutageState;
use serde_json::json;
use time::Duration;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

fn state(limits: Limits) -> SimState {
    let mut config = SimConfig::with_servers(vec![
        ServerSpec::new("s-00000000000000001", 0.3),
        ServerSpec::new("s-00000000000000002", 0.5).failing(),
        ServerSpec::new("s-00000000000000003", 0.2),
    ]);
    config.limits = limits;
    config.seed = Some(7);
    let fixture = config.fixture.load_all().expect("fixture");
    SimState::new(&config, fixture, T0)
}

fn start(s: &mut SimState, ids: &[&str], now: OffsetDateTime) -> Result<String, ApiError> {
    let body = json!({
        "sourceServers": ids.iter().map(|id| json!({"sourceServerID": id})).collect::<Vec<_>>(),
        "isDrill": true,
    });
    let (status, v) = s.call("StartRecovery", body.to_string().as_bytes(), now)?;
    assert_eq!(status, 202);
    Ok(v["job"]["jobID"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn one_active_job_per_server_then_free_again() {
    let mut s = state(Limits::default());
    start(&mut s, &["s-00000000000000001"], T0).expect("first");
    let e = start(
        &mut s,
        &["s-00000000000000001"],
        T0 + Duration::milliseconds(100),
    )
    .expect_err("conflict");
    assert_eq!((e.status, e.code), (409, "ConflictException"));
    // Once the job completed the server may launch again.
    start(&mut s, &["s-00000000000000001"], T0 + Duration::seconds(1)).expect("again");
}

#[test]
fn quotas_answer_402() {
    let mut s = state(Limits {
        max_servers_per_job: 2,
        max_concurrent_jobs: 1,
        ..Limits::default()
    });
    let all = [
        "s-00000000000000001",
        "s-00000000000000002",
        "s-00000000000000003",
    ];
    let e = start(&mut s, &all, T0).expect_err("per job");
    assert_eq!(e.status, 402);
    assert_eq!(e.members["quotaCode"], "SourceServersPerJob");
    start(&mut s, &all[..1], T0).expect("first");
    let e = start(&mut s, &all[1..2], T0).expect_err("concurrent");
    assert_eq!(e.members["quotaCode"], "ConcurrentJobs");
}

#[test]
fn launch_replaces_previous_instance_and_terminate_removes_it() {
    let mut s = state(Limits::default());
    let id = "s-00000000000000003";
    start(&mut s, &[id], T0).expect("first");
    let t1 = T0 + Duration::seconds(1);
    let first: Vec<_> = s.instance_snapshots(t1);
    assert_eq!(first.len(), 1);
    start(&mut s, &[id], t1).expect("second");
    let t2 = t1 + Duration::seconds(1);
    let all = s.instance_snapshots(t2);
    assert_eq!(all.len(), 2);
    let live: Vec<_> = all
        .iter()
        .filter(|i| i.terminated_date_time.is_none())
        .collect();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].recovery_instance_id, first[0].recovery_instance_id);
    let body = json!({"recoveryInstanceIDs": [live[0].recovery_instance_id]});
    let (_, v) = s
        .call(
            "TerminateRecoveryInstances",
            body.to_string().as_bytes(),
            t2,
        )
        .expect("terminate");
    assert_eq!(v["job"]["type"], "TERMINATE");
    let t3 = t2 + Duration::seconds(1);
    assert!(
        s.instance_snapshots(t3)
            .iter()
            .all(|i| i.terminated_date_time.is_some())
    );
}

#[test]
fn seeded_ids_repeat() {
    let mut a = state(Limits::default());
    let mut b = state(Limits::default());
    assert_eq!(
        start(&mut a, &["s-00000000000000001"], T0).expect("a"),
        start(&mut b, &["s-00000000000000001"], T0).expect("b")
    );
}

fn describe_jobs(s: &mut SimState, page: i64, token: Option<&str>, now: OffsetDateTime) -> Value {
    let mut body = json!({ "maxResults": page });
    if let Some(t) = token {
        body["nextToken"] = Value::from(t);
    }
    s.call("DescribeJobs", body.to_string().as_bytes(), now)
        .expect("DescribeJobs")
        .1
}

#[test]
fn after_commit_faults_count_only_calls_that_changed_something() {
    let mut s = state(Limits::default());
    s.faults.all.error_after_commit_next = 1;
    s.faults.all.drop_after_commit_next = 1;
    assert_eq!(
        s.decide_after_commit("StartRecovery"),
        Some(AfterCommit::Error)
    );
    assert_eq!(
        s.decide_after_commit("StartRecovery"),
        Some(AfterCommit::Drop)
    );
    assert_eq!(s.decide_after_commit("StartRecovery"), None);
    assert_eq!(s.counters.errors_after_commit("StartRecovery"), 1);
    assert_eq!(s.counters.drops_after_commit("StartRecovery"), 1);
    // A dropped call has no status but counts as a call.
    assert_eq!(s.counters.calls("StartRecovery"), 1);
    assert!(s.counters.by_status.is_empty());
    s.faults.all.drop_after_commit_fraction = 1.0;
    assert_eq!(
        s.decide_after_commit("DescribeJobs"),
        Some(AfterCommit::Drop)
    );
}

#[test]
fn scheduled_background_jobs_appear_in_time_and_pages_stay_stable() {
    let mut s = state(Limits::default());
    let later = BackgroundJobSpec::launch(3, 10.0).starting_after(2.0);
    let ids = s.add_background_jobs(&[later], T0).expect("scheduled");
    assert!(s.job_snapshots(T0).is_empty());
    let (jobs, servers, _) = s.active_load(T0 + Duration::seconds(1));
    assert_eq!((jobs, servers), (0, 0), "not created yet: holds nothing");
    start(&mut s, &["s-00000000000000001"], T0 + Duration::seconds(1)).expect("a");
    let page = describe_jobs(&mut s, 1, None, T0 + Duration::seconds(1));
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    // Once created it is newest (by creation time), though it was inserted first.
    let t3 = T0 + Duration::seconds(3);
    start(
        &mut s,
        &["s-00000000000000003"],
        T0 + Duration::milliseconds(1500),
    )
    .expect("b");
    let first = describe_jobs(&mut s, 1, None, t3);
    assert_eq!(first["items"][0]["jobID"], ids[0].as_str());
    assert_eq!(first["items"][0]["initiatedBy"], "START_DRILL");
    assert_eq!(
        first["items"][0]["participatingServers"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let token = first["nextToken"].as_str().expect("more").to_owned();
    let rest = describe_jobs(&mut s, 10, Some(&token), t3);
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(2));
    let (jobs, servers, _) = s.active_load(t3);
    assert_eq!(
        (jobs, servers),
        (1, 3),
        "only the background job is still running"
    );
    let snaps = s.job_snapshots(t3);
    assert!(
        snaps
            .windows(2)
            .all(|w| w[0].creation_date_time <= w[1].creation_date_time)
    );
    assert!(snaps[2].background && !snaps[0].background);
    // Reset schedules the fixture's background jobs again and forgets the others.
    s.reset(None, t3);
    assert!(s.job_snapshots(t3 + Duration::seconds(60)).is_empty());
}

#[test]
fn ending_an_outage_restores_the_state_before_it() {
    let mut s = state(Limits::default());
    let id = "s-00000000000000001";
    let one = ServerSelector::Servers(vec![id.to_owned()]);
    s.upsert_servers(
        &[ServerSpec::new(id, 0.3).with_replication_state("BACKLOG")],
        &ResolvedDefaults::default(),
        T0,
    )
    .expect("replace");
    let t1 = T0 + Duration::minutes(1);
    s.start_outage(&one, OutageState::Stalled, t1)
        .expect("down");
    // A second outage call changes the state but remembers what was before.
    s.start_outage(&one, OutageState::Disconnected, t1 + Duration::seconds(1))
        .expect("worse");
    assert_eq!(
        s.servers[id].timeline.at(t1 + Duration::seconds(2)).state,
        "DISCONNECTED"
    );
    // Mending failLaunch by replacing the server keeps the outage.
    s.upsert_servers(
        &[ServerSpec::new(id, 0.3).with_replication_state("BACKLOG")],
        &ResolvedDefaults::default(),
        t1 + Duration::seconds(2),
    )
    .expect("mend");
    assert_eq!(
        s.servers[id].timeline.at(t1 + Duration::seconds(3)).state,
        "DISCONNECTED"
    );
    let t2 = T0 + Duration::minutes(2);
    assert_eq!(s.end_outage(&one, t2).expect("up"), [id]);
    assert_eq!(s.servers[id].timeline.at(t2).state, "BACKLOG");
    // Nothing to end: unchanged, not listed.
    assert!(
        s.end_outage(&one, t2 + Duration::seconds(1))
            .expect("noop")
            .is_empty()
    );
    assert!(s.end_outage(&ServerSelector::Servers(vec![]), t2).is_err());
    assert!(
        s.start_outage(
            &ServerSelector::Tags(BTreeMap::new()),
            OutageState::Stalled,
            t2
        )
        .is_err()
    );
}

#[test]
fn replacing_a_server_with_another_replication_state_starts_it_now() {
    let mut s = state(Limits::default());
    let id = "s-00000000000000003";
    let t1 = T0 + Duration::minutes(30);
    s.upsert_servers(
        &[ServerSpec::new(id, 0.2).with_replication_state("STALLED")],
        &ResolvedDefaults::default(),
        t1,
    )
    .expect("replace");
    let snaps = s
        .recovery_snapshots(id, t1 + Duration::minutes(30))
        .expect("known");
    let last = snaps.last().expect("snapshots before");
    assert!(last.timestamp <= t1 && last.timestamp > t1 - Duration::minutes(11));
}

#[test]
fn throttle_next_counts_down() {
    let mut s = state(Limits::default());
    s.faults.all.throttle_next = 2;
    assert!(s.decide_fault("DescribeJobs").error.is_some());
    assert!(s.decide_fault("StartRecovery").error.is_some());
    assert!(s.decide_fault("DescribeJobs").error.is_none());
}

mod networks {
    use super::*;
    use crate::network::SourceNetworkSpec;

    const A: &str = "sn-0000000000000000a";
    const B: &str = "sn-0000000000000000b";

    fn with_networks() -> SimState {
        let mut s = state(Limits::default());
        s.upsert_networks(&[
            SourceNetworkSpec::new(A).with_recovery_seconds(2.0),
            SourceNetworkSpec::new(B)
                .with_recovery_seconds(1.0)
                .failing(Some("VpcLimitExceeded")),
        ])
        .expect("networks");
        s
    }

    fn call(
        s: &mut SimState,
        op: &str,
        body: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        s.call(op, body.to_string().as_bytes(), now).map(|(_, v)| v)
    }

    #[test]
    fn a_network_recovery_is_a_job_whose_networks_go_pending_in_progress_launched_or_failed() {
        let mut s = with_networks();
        let started = call(
            &mut s,
            "StartSourceNetworkRecovery",
            json!({"sourceNetworks": [{"sourceNetworkID": A}, {"sourceNetworkID": B}], "tags": {"k": "v"}}),
            T0,
        )
        .expect("started");
        let job = &started["job"];
        assert_eq!(job["initiatedBy"], "CREATE_NETWORK_RECOVERY");
        assert_eq!(job["tags"]["k"], "v");
        let id = job["jobID"].as_str().expect("id").to_owned();
        let look = |s: &mut SimState, at| {
            call(
                s,
                "DescribeJobs",
                json!({"filters": {"jobIDs": [id.clone()]}}),
                at,
            )
            .expect("jobs")["items"][0]
                .clone()
        };
        let statuses = |j: &Value| -> Vec<String> {
            j["participatingResources"]
                .as_array()
                .expect("resources")
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["participatingResourceID"]["sourceNetworkID"]
                            .as_str()
                            .unwrap_or(""),
                        r["launchStatus"].as_str().unwrap_or("")
                    )
                })
                .collect()
        };
        let later = |secs: i64| T0 + Duration::seconds(secs);
        let j = look(&mut s, later(2));
        assert_eq!(
            statuses(&j),
            [format!("{A} IN_PROGRESS"), format!("{B} FAILED")].map(String::from)
        );
        let j = look(&mut s, later(10));
        assert_eq!(j["status"], "COMPLETED");
        assert_eq!(
            statuses(&j),
            [format!("{A} LAUNCHED"), format!("{B} FAILED")]
        );
        let log = call(
            &mut s,
            "DescribeJobLogItems",
            json!({"jobID": id}),
            later(10),
        )
        .expect("log");
        let events: Vec<&str> = log["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["event"].as_str())
            .collect();
        assert!(
            events.contains(&"NETWORK_RECOVERY_FAIL")
                && events.contains(&"DEPLOY_NETWORK_CONFIGURATION_END"),
            "{events:?}"
        );
        // A second recovery of the recovered network updates its stack.
        let again = call(
            &mut s,
            "StartSourceNetworkRecovery",
            json!({"sourceNetworks": [{"sourceNetworkID": A}]}),
            later(11),
        )
        .expect("again");
        assert_eq!(again["job"]["initiatedBy"], "UPDATE_NETWORK_RECOVERY");
        let listed = call(
            &mut s,
            "DescribeSourceNetworks",
            json!({"filters": {"sourceNetworkIDs": [A]}}),
            later(20),
        )
        .expect("networks");
        let a = &listed["items"][0];
        assert_eq!(a["lastRecovery"]["lastRecoveryResult"], "SUCCESS");
        assert!(
            a["launchedVpcID"]
                .as_str()
                .is_some_and(|v| v.starts_with("vpc-")),
            "{a}"
        );
    }

    #[test]
    fn unknown_duplicate_and_busy_networks_are_refused() {
        let mut s = with_networks();
        let refused = |s: &mut SimState, body| {
            call(s, "StartSourceNetworkRecovery", body, T0).expect_err("refused")
        };
        let e = refused(
            &mut s,
            json!({"sourceNetworks": [{"sourceNetworkID": "sn-0000000000000000f"}]}),
        );
        assert!(
            e.body().to_string().contains("does not exist"),
            "{:?}",
            e.body()
        );
        let e = refused(&mut s, json!({"sourceNetworks": []}));
        assert!(
            e.body().to_string().contains("sourceNetworks"),
            "{:?}",
            e.body()
        );
        let e = refused(
            &mut s,
            json!({"sourceNetworks": [{"sourceNetworkID": A}, {"sourceNetworkID": A}]}),
        );
        assert!(
            e.body().to_string().contains("more than once"),
            "{:?}",
            e.body()
        );
        call(
            &mut s,
            "StartSourceNetworkRecovery",
            json!({"sourceNetworks": [{"sourceNetworkID": A}]}),
            T0,
        )
        .expect("first");
        let e = refused(&mut s, json!({"sourceNetworks": [{"sourceNetworkID": A}]}));
        assert!(
            e.body().to_string().contains("ConflictException"),
            "{:?}",
            e.body()
        );
    }

    #[test]
    fn source_networks_are_paged_and_filtered() {
        let mut s = with_networks();
        let page = call(
            &mut s,
            "DescribeSourceNetworks",
            json!({"maxResults": 1}),
            T0,
        )
        .expect("page");
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
        let token = page["nextToken"].as_str().expect("token").to_owned();
        let next = call(
            &mut s,
            "DescribeSourceNetworks",
            json!({"maxResults": 1, "nextToken": token}),
            T0,
        )
        .expect("next");
        assert_eq!(next["items"][0]["sourceNetworkID"], B);
        assert!(next.get("nextToken").is_none());
        let other = call(
            &mut s,
            "DescribeSourceNetworks",
            json!({"filters": {"originRegion": "ap-south-1"}}),
            T0,
        )
        .expect("filtered");
        assert_eq!(other["items"].as_array().map(Vec::len), Some(0));
    }
}
