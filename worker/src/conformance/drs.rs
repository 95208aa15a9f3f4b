//! The behaviour of the [`Drs`] seam, written once. `FakeDrs` runs it in the unit tests and
//! `SdkDrs` over drs-sim (the real aws-sdk-drs client on the real wire protocol) in
//! `tests/against_services/`. Both are given [`fixture`]'s servers first.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use drs_waves_contract::ErrorName;
use time::OffsetDateTime;

use drs_waves_aws::drs::{
    Drs, JobFilter, JobStatus, ServerSelection, StartRecoveryRequest, is_conflict,
};
use drs_waves_rules::{format_time, parse_time};

/// One source server of the suite's fixture.
pub struct FixtureServer {
    pub id: String,
    pub hostname: String,
    pub tags: BTreeMap<String, String>,
    pub replication_state: String,
    /// When its recovery snapshots were taken, oldest first.
    pub snapshots: Vec<OffsetDateTime>,
}

const HEALTHY: &str = "s-c0f00000000000001";
const DOWN: &str = "s-c0f00000000000002";
const SYNCING: &str = "s-c0f00000000000003";

fn minutes_ago(m: i64) -> OffsetDateTime {
    // One "now" for the process: the fixture a service is loaded with and the fixture a case
    // compares against are built apart, and a second boundary between them made the snapshot
    // times differ by a second. Whole seconds: both sides write RFC 3339 with or without
    // fractions.
    static NOW: OnceLock<OffsetDateTime> = OnceLock::new();
    let now = *NOW.get_or_init(|| {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(0).unwrap_or(now)
    });
    now - time::Duration::minutes(m)
}

/// A healthy server with three snapshots, one whose source site is down (DISCONNECTED) with
/// two older ones, and one still in INITIAL_SYNC without any.
pub fn fixture() -> Vec<FixtureServer> {
    let tags = |tier: &str| {
        BTreeMap::from([
            ("App".to_string(), "conformance".to_string()),
            ("Tier".to_string(), tier.to_string()),
        ])
    };
    vec![
        FixtureServer {
            id: HEALTHY.to_string(),
            hostname: "conf-db".into(),
            tags: tags("db"),
            replication_state: "CONTINUOUS".into(),
            snapshots: vec![minutes_ago(60), minutes_ago(30), minutes_ago(10)],
        },
        FixtureServer {
            id: DOWN.to_string(),
            hostname: "conf-app".into(),
            tags: tags("app"),
            replication_state: "DISCONNECTED".into(),
            // More than an hour apart, so that DRS's retention (drs-sim follows it: one an
            // hour is kept for a day, the others for an hour) keeps both.
            snapshots: vec![minutes_ago(180), minutes_ago(90)],
        },
        FixtureServer {
            id: SYNCING.to_string(),
            hostname: "conf-web".into(),
            tags: tags("web"),
            replication_state: "INITIAL_SYNC".into(),
            snapshots: vec![],
        },
    ]
}

/// The cases of the suite, by name, in the order [`run_all`] runs them (the launch last: it
/// leaves a job behind).
pub const CASES: [&str; 6] = [
    "source_servers_carry_tags_state_and_hostname",
    "failback_of_an_unknown_recovery_instance_is_refused",
    "source_servers_are_selected_by_id_and_by_tag",
    "snapshots_are_found_latest_first_within_the_point_in_time",
    "a_network_recovery_is_a_tagged_job_of_its_networks",
    "a_launch_is_a_tagged_job_that_describe_jobs_returns",
];

/// The source network the suite's fixture protects (besides its servers).
pub const NETWORK: &str = "sn-c0f000000000000a1";

/// Runs one case of the suite by its name (one of [`CASES`]) on `drs`, which holds [`fixture`]'s
/// servers and no jobs.
pub async fn run_case(name: &str, drs: &impl Drs) {
    match name {
        "source_servers_carry_tags_state_and_hostname" => {
            source_servers_carry_tags_state_and_hostname(drs).await
        }
        "source_servers_are_selected_by_id_and_by_tag" => {
            source_servers_are_selected_by_id_and_by_tag(drs).await
        }
        "failback_of_an_unknown_recovery_instance_is_refused" => {
            failback_of_an_unknown_recovery_instance_is_refused(drs).await
        }
        "snapshots_are_found_latest_first_within_the_point_in_time" => {
            snapshots_are_found_latest_first_within_the_point_in_time(drs).await
        }
        "a_launch_is_a_tagged_job_that_describe_jobs_returns" => {
            a_launch_is_a_tagged_job_that_describe_jobs_returns(drs).await
        }
        "a_network_recovery_is_a_tagged_job_of_its_networks" => {
            a_network_recovery_is_a_tagged_job_of_its_networks(drs).await
        }
        other => panic!("no DRS conformance case named {other}"),
    }
}

/// Runs every case of the suite on `drs`, which holds [`fixture`]'s servers and no jobs, each to
/// its end whatever the others do, and fails naming every case that failed. For an adapter whose
/// service is costly to start once per case (drs-sim); a fake runs one test per case
/// ([`crate::drs_conformance_tests`]).
pub async fn run_all(drs: &impl Drs) {
    super::run_cases("DRS", &CASES, |name| run_case(name, drs)).await;
}

/// One `#[tokio::test]` per case of the suite, each on the fresh [`Drs`] `$make` gives (an async
/// fn of the case's name returning a `Drs` that holds [`fixture`]'s servers and no jobs).
#[macro_export]
macro_rules! drs_conformance_tests {
    ($make:path) => {
        $crate::drs_conformance_tests!(@cases $make;
            source_servers_carry_tags_state_and_hostname,
            failback_of_an_unknown_recovery_instance_is_refused,
            source_servers_are_selected_by_id_and_by_tag,
            snapshots_are_found_latest_first_within_the_point_in_time,
            a_network_recovery_is_a_tagged_job_of_its_networks,
            a_launch_is_a_tagged_job_that_describe_jobs_returns);
    };
    (@cases $make:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let drs = $make(stringify!($case)).await;
                $crate::conformance::drs::$case(&drs).await;
            }
        )*
    };
}

pub async fn source_servers_carry_tags_state_and_hostname(drs: &impl Drs) {
    let servers = drs.describe_source_servers().await.expect("servers");
    for want in fixture() {
        let got = servers
            .iter()
            .find(|s| s.id == want.id)
            .unwrap_or_else(|| panic!("{} is listed", want.id));
        assert_eq!(got.tags, want.tags, "{}", want.id);
        assert_eq!(
            got.replication_state.as_deref(),
            Some(want.replication_state.as_str())
        );
        assert_eq!(got.hostname.as_deref(), Some(want.hostname.as_str()));
        let down = want.replication_state == "DISCONNECTED";
        assert_eq!(
            got.replication_error.as_deref(),
            down.then_some("AGENT_NOT_SEEN"),
            "a server whose agent is gone says so: {}",
            want.id
        );
        assert_eq!(got.replicating(), want.replication_state == "CONTINUOUS");
    }
}

/// StartFailbackLaunch of a recovery instance DRS does not know is refused (no conflict: the
/// start task must not read it as "my job may exist") and makes no job; StopFailback of one
/// is refused too. (A failback of real instances runs against drs-sim in
/// `tests/against_services/failback.rs`: only drs-sim can stage the Failback Client.)
pub async fn failback_of_an_unknown_recovery_instance_is_refused(drs: &impl Drs) {
    // The fixture's servers have never launched: no recovery instance, nothing to fail back.
    let servers = drs.describe_source_servers().await.expect("servers");
    assert!(servers.iter().any(|s| s.id == HEALTHY), "{servers:?}");
    let instances = drs
        .recovery_instances_of(vec![HEALTHY.to_string()])
        .await
        .expect("instances");
    assert!(instances.is_empty(), "{instances:?}");
    let unknown = "i-c0f00000000000fff".to_string();
    let before = minutes_ago(1);
    let refused = drs
        .start_failback_launch(drs_waves_aws::drs::FailbackLaunchRequest {
            recovery_instance_ids: vec![unknown.clone()],
            tags: BTreeMap::from([("drs-waves:execution".into(), "conformance".into())]),
        })
        .await
        .expect_err("an unknown instance is refused");
    assert_eq!(refused.name(), ErrorName::Internal, "{refused}");
    assert!(!is_conflict(&refused), "{refused}");
    let jobs = drs
        .describe_jobs(JobFilter {
            job_ids: vec![],
            from_date: Some(format_time(before)),
        })
        .await
        .expect("jobs");
    assert!(jobs.is_empty(), "nothing was launched: {jobs:?}");
    let stop = drs.stop_failback(unknown).await;
    assert!(
        stop.is_err(),
        "StopFailback of an unknown instance: {stop:?}"
    );
}

/// The IDs of the servers `selection` selects, sorted.
async fn selected(drs: &impl Drs, selection: &ServerSelection) -> Vec<String> {
    let mut ids: Vec<String> = drs
        .select_source_servers(selection)
        .await
        .expect("selected servers")
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

pub async fn source_servers_are_selected_by_id_and_by_tag(drs: &impl Drs) {
    let listed = drs.describe_source_servers().await.expect("servers");
    let by_id = |ids: &[&str]| ServerSelection {
        ids: ids.iter().map(|s| s.to_string()).collect(),
        tag_sets: Vec::new(),
    };
    let tagged = |pairs: &[(&str, &str)]| {
        BTreeMap::from_iter(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    };

    let two = drs
        .select_source_servers(&by_id(&[HEALTHY, DOWN]))
        .await
        .expect("by id");
    assert_eq!(two.len(), 2, "{two:?}");
    for got in &two {
        let same = listed.iter().find(|s| s.id == got.id).expect("listed");
        // lastSeenByServiceDateTime moves while the agent is seen: everything else is equal.
        let moving = |s: &drs_waves_aws::drs::SourceServer| drs_waves_aws::drs::SourceServer {
            last_seen: None,
            ..s.clone()
        };
        assert_eq!(
            moving(got),
            moving(same),
            "a server asked for by ID is the one the listing has"
        );
    }

    // More IDs than one DescribeSourceServers takes (200), nearly all unknown: the unknown are
    // simply absent, and the known one is found whichever call asks for it.
    let mut many: Vec<String> = (1..=250).map(|n| format!("s-c0f99999999{n:06}")).collect();
    many.push(SYNCING.to_string());
    let many = ServerSelection {
        ids: many.into_iter().collect(),
        tag_sets: Vec::new(),
    };
    assert_eq!(selected(drs, &many).await, vec![SYNCING.to_string()]);

    let web = ServerSelection {
        ids: Default::default(),
        tag_sets: vec![tagged(&[("Tier", "web")])],
    };
    assert_eq!(selected(drs, &web).await, vec![SYNCING.to_string()]);
    let web_db_by_tags_and_id = ServerSelection {
        ids: [DOWN.to_string(), "s-c0f99999999999999".to_string()].into(),
        tag_sets: vec![
            tagged(&[("Tier", "web"), ("App", "conformance")]),
            tagged(&[("Tier", "db")]),
            tagged(&[("Tier", "db"), ("App", "elsewhere")]),
        ],
    };
    assert_eq!(
        selected(drs, &web_db_by_tags_and_id).await,
        vec![HEALTHY.to_string(), DOWN.to_string(), SYNCING.to_string()],
        "a server matches a tag set when it carries all of its tags; IDs add to the tags"
    );
    assert!(
        selected(drs, &ServerSelection::default()).await.is_empty(),
        "an empty selection selects nothing (DRS reads an empty ID filter as every server)"
    );
}

/// When the snapshot `latest_recovery_snapshot` finds was taken.
async fn taken(drs: &impl Drs, id: &str, at: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    let at = at.map(format_time);
    drs.latest_recovery_snapshot(id, at.as_deref())
        .await
        .expect("snapshots")
        .map(|s| {
            assert_eq!(s.source_server_id, id);
            assert!(s.id.starts_with("pit-"), "{}", s.id);
            parse_time(&s.taken_at).expect("a time")
        })
}

pub async fn snapshots_are_found_latest_first_within_the_point_in_time(drs: &impl Drs) {
    let servers = fixture();
    let (healthy, down, syncing) = (&servers[0], &servers[1], &servers[2]);
    assert_eq!(
        taken(drs, &healthy.id, None).await,
        Some(healthy.snapshots[2]),
        "the latest"
    );
    assert_eq!(
        taken(drs, &healthy.id, Some(minutes_ago(45))).await,
        Some(healthy.snapshots[0]),
        "the latest at or before the point in time"
    );
    assert_eq!(
        taken(drs, &healthy.id, Some(healthy.snapshots[1])).await,
        Some(healthy.snapshots[1]),
        "at counts"
    );
    assert_eq!(
        taken(drs, &healthy.id, Some(minutes_ago(5))).await,
        Some(healthy.snapshots[2]),
        "a point in time after the newest snapshot gives the newest"
    );
    assert_eq!(taken(drs, &healthy.id, Some(minutes_ago(180))).await, None);
    assert_eq!(
        taken(drs, &down.id, None).await,
        Some(down.snapshots[1]),
        "a server whose site is down still has its snapshots"
    );
    assert_eq!(taken(drs, &syncing.id, None).await, None);
    assert!(
        drs.latest_recovery_snapshot("s-99999999999999999", None)
            .await
            .is_err(),
        "an unknown server is an error"
    );
}

pub async fn a_launch_is_a_tagged_job_that_describe_jobs_returns(drs: &impl Drs) {
    let servers = fixture();
    let (healthy, down) = (&servers[0], &servers[1]);
    let other_snapshot = drs
        .latest_recovery_snapshot(&down.id, None)
        .await
        .expect("lookup")
        .expect("a snapshot");
    let refused = drs
        .start_recovery(StartRecoveryRequest {
            source_server_ids: vec![healthy.id.clone()],
            snapshot_ids: BTreeMap::from([(healthy.id.clone(), other_snapshot.id.clone())]),
            is_drill: true,
            tags: BTreeMap::new(),
        })
        .await
        .expect_err("another server's snapshot is refused");
    assert_eq!(refused.name(), ErrorName::Internal, "{refused}");
    assert!(
        !is_conflict(&refused),
        "a refused snapshot is no conflict: {refused}"
    );

    let before = minutes_ago(1);
    let snapshot = drs
        .latest_recovery_snapshot(&down.id, Some(&format_time(minutes_ago(100))))
        .await
        .expect("lookup")
        .expect("the older snapshot");
    let tags = BTreeMap::from([("drs-waves:execution".to_string(), "conformance".to_string())]);
    let job = drs
        .start_recovery(StartRecoveryRequest {
            source_server_ids: vec![healthy.id.clone(), down.id.clone()],
            snapshot_ids: BTreeMap::from([(down.id.clone(), snapshot.id)]),
            is_drill: true,
            tags: tags.clone(),
        })
        .await
        .expect("launch");
    assert!(job.id.starts_with("drsjob-"), "{}", job.id);
    assert_eq!(job.job_type.as_deref(), Some("LAUNCH"));
    assert_eq!(job.tags, tags);
    assert!(job.status.is_active(), "{:?}", job.status);

    let again = drs
        .start_recovery(StartRecoveryRequest {
            source_server_ids: vec![healthy.id.clone()],
            snapshot_ids: BTreeMap::new(),
            is_drill: true,
            tags: BTreeMap::new(),
        })
        .await
        .expect_err("a server already in an active job is refused");
    assert_eq!(again.name(), ErrorName::Internal, "{again}");
    // The start task reads this refusal as "the chunk's own job may be listed late".
    assert!(
        is_conflict(&again),
        "ConflictException is recognised: {again}"
    );

    let by_id = drs
        .describe_jobs(JobFilter {
            job_ids: vec![job.id.clone()],
            from_date: None,
        })
        .await
        .expect("by id");
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].id, job.id);
    assert_eq!(by_id[0].tags, tags);
    assert!(matches!(
        by_id[0].status,
        JobStatus::Pending | JobStatus::Started | JobStatus::Completed
    ));
    let since_before = drs
        .describe_jobs(JobFilter {
            job_ids: vec![],
            from_date: Some(format_time(before)),
        })
        .await
        .expect("since");
    assert!(since_before.iter().any(|j| j.id == job.id));
    let since_after = drs
        .describe_jobs(JobFilter {
            job_ids: vec![],
            from_date: Some(format_time(
                OffsetDateTime::now_utc() + time::Duration::hours(1),
            )),
        })
        .await
        .expect("since later");
    assert!(
        !since_after.iter().any(|j| j.id == job.id),
        "fromDate bounds the jobs by creation time"
    );
}

/// DescribeSourceNetworks names the fixture's network (and not an unknown one);
/// StartSourceNetworkRecovery makes a job tagged as asked whose participatingResources are the
/// network, which DescribeJobs then returns; an unknown network is refused and starts nothing.
pub async fn a_network_recovery_is_a_tagged_job_of_its_networks(drs: &impl Drs) {
    let unknown = "sn-c0f000000000000ff";
    let known = drs
        .describe_source_networks(vec![NETWORK.into(), unknown.into()])
        .await
        .expect("networks");
    let ids: Vec<&str> = known.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, [NETWORK]);
    assert!(
        drs.describe_source_networks(vec![])
            .await
            .expect("none")
            .is_empty(),
        "no IDs: no call, no networks"
    );
    let tags = BTreeMap::from([(
        "drs-waves:network-of".to_string(),
        "conformance".to_string(),
    )]);
    let refused = drs
        .start_source_network_recovery(drs_waves_aws::drs::NetworkRecoveryRequest {
            source_network_ids: vec![unknown.into()],
            deploy_as_new: false,
            tags: tags.clone(),
        })
        .await;
    assert!(
        refused.is_err(),
        "an unknown network is refused: {refused:?}"
    );
    let job = drs
        .start_source_network_recovery(drs_waves_aws::drs::NetworkRecoveryRequest {
            source_network_ids: vec![NETWORK.into()],
            deploy_as_new: false,
            tags: tags.clone(),
        })
        .await
        .expect("started");
    assert!(!job.id.is_empty());
    assert_eq!(job.tags, tags);
    assert!(
        job.servers.is_empty(),
        "a network recovery launches no server"
    );
    let listed = drs
        .describe_jobs(JobFilter {
            job_ids: vec![job.id.clone()],
            from_date: None,
        })
        .await
        .expect("jobs");
    let listed = listed
        .iter()
        .find(|j| j.id == job.id)
        .expect("listed by its ID");
    let networks: Vec<&str> = listed
        .networks
        .iter()
        .map(|n| n.source_network_id.as_str())
        .collect();
    assert_eq!(networks, [NETWORK]);
}
