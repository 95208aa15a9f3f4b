//! [`SdkDrs`] over drs-sim with its paging knobs at their worst: one item a page and an empty
//! first page carrying a `nextToken`. The SDK's paginators must follow the token over the
//! empty page and every short one, for each listing the worker, the CLI and the report share.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::drs::{Drs, JobFilter, SdkDrs, ServerSelection, StartRecoveryRequest};
use aws_credential_types::Credentials;
use drs_sim::{Paging, ServerSpec, SimConfig, Simulator};

const SERVERS: usize = 5;

fn sid(i: usize) -> String {
    format!("s-{i:017}")
}

async fn drs_over(endpoint: &str) -> SdkDrs {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .load()
        .await;
    SdkDrs::new(aws_sdk_drs::Client::new(&sdk))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listing_follows_the_token_over_an_empty_first_page_and_pages_of_one() {
    let specs = (1..=SERVERS)
        .map(|i| ServerSpec::new(sid(i), 0.1))
        .collect();
    let sim = Simulator::start(SimConfig::with_servers(specs))
        .await
        .expect("drs-sim starts");
    sim.set_paging(Paging {
        page_size: Some(1),
        empty_first_page: true,
    })
    .expect("paging knobs");
    let drs = drs_over(&sim.endpoint()).await;
    let all: BTreeSet<String> = (1..=SERVERS).map(sid).collect();

    let listed = drs.describe_source_servers().await.expect("listed");
    let ids: BTreeSet<String> = listed.into_iter().map(|s| s.id).collect();
    assert_eq!(ids, all, "DescribeSourceServers");

    let selection = ServerSelection {
        ids: all.clone(),
        tag_sets: Vec::new(),
    };
    let selected = drs
        .select_source_servers(&selection)
        .await
        .expect("selected");
    assert_eq!(selected.len(), SERVERS, "DescribeSourceServers by ID");

    let job = drs
        .start_recovery(StartRecoveryRequest {
            source_server_ids: all.iter().cloned().collect(),
            snapshot_ids: BTreeMap::new(),
            is_drill: true,
            tags: BTreeMap::new(),
        })
        .await
        .expect("a job");
    let mut launched = Vec::new();
    for _ in 0..100 {
        let jobs = drs
            .describe_jobs(JobFilter {
                job_ids: vec![job.id.clone()],
                from_date: None,
            })
            .await
            .expect("DescribeJobs");
        if let Some(j) = jobs.into_iter().find(|j| !j.status.is_active()) {
            launched = j.servers;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(launched.len(), SERVERS, "the job ended with every server");
    let since = drs
        .describe_jobs(JobFilter {
            job_ids: Vec::new(),
            from_date: Some("2000-01-01T00:00:00Z".into()),
        })
        .await
        .expect("DescribeJobs by date");
    assert!(since.iter().any(|j| j.id == job.id), "DescribeJobs by date");

    let log = drs
        .describe_job_log_items(&job.id)
        .await
        .expect("DescribeJobLogItems");
    let logged: BTreeSet<String> = log
        .into_iter()
        .filter_map(|item| item.source_server_id.filter(|s| !s.is_empty()))
        .collect();
    assert_eq!(logged, all, "DescribeJobLogItems names every server");

    let instances = drs
        .recovery_instances_of(all.iter().cloned().collect())
        .await
        .expect("DescribeRecoveryInstances");
    assert_eq!(
        instances.len(),
        SERVERS,
        "DescribeRecoveryInstances by server"
    );
    let instance_ids: Vec<String> = instances.into_iter().map(|i| i.id).collect();
    let existing = drs
        .existing_recovery_instances(instance_ids.clone())
        .await
        .expect("DescribeRecoveryInstances by ID");
    assert_eq!(
        existing.into_iter().collect::<BTreeSet<_>>(),
        instance_ids.into_iter().collect::<BTreeSet<_>>(),
        "DescribeRecoveryInstances by ID"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_networks_are_listed_over_pages_of_one_and_their_job_names_them() {
    let sim = Simulator::start(SimConfig::default())
        .await
        .expect("drs-sim starts");
    let ids: Vec<String> = (1..=3).map(|i| format!("sn-{i:017}")).collect();
    let specs: Vec<drs_sim::SourceNetworkSpec> = ids
        .iter()
        .map(|id| drs_sim::SourceNetworkSpec::new(id).with_recovery_seconds(0.1))
        .collect();
    sim.add_source_networks(&specs).expect("networks");
    sim.set_paging(Paging {
        page_size: Some(1),
        empty_first_page: true,
    })
    .expect("paging knobs");
    let drs = drs_over(&sim.endpoint()).await;
    let mut asked = ids.clone();
    asked.push("sn-0000000000000000f".into());
    let listed: BTreeSet<String> = drs
        .describe_source_networks(asked)
        .await
        .expect("listed")
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(
        listed,
        ids.iter().cloned().collect(),
        "DescribeSourceNetworks"
    );
    let job = drs
        .start_source_network_recovery(crate::drs::NetworkRecoveryRequest {
            source_network_ids: ids[..2].to_vec(),
            deploy_as_new: false,
            tags: BTreeMap::from([("k".to_string(), "v".to_string())]),
        })
        .await
        .expect("a job");
    let named: Vec<String> = job
        .networks
        .iter()
        .map(|n| n.source_network_id.clone())
        .collect();
    assert_eq!(named, ids[..2].to_vec());
    assert_eq!(job.tags.get("k").map(String::as_str), Some("v"));
    sim.shutdown().await;
}
