//! drs-sim exercised through the real, unmodified aws-sdk-drs client (and its admin API and
//! binary through plain HTTP).
//!
//! This file holds the helpers the tests share (clients, starting a simulator, waiting for a
//! job, raw HTTP); the tests live in one module per subject below.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::time::Duration;

use aws_sdk_drs::Client;
use aws_sdk_drs::config::retry::RetryConfig;
use aws_sdk_drs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_drs::error::ProvideErrorMetadata;
use aws_sdk_drs::operation::describe_job_log_items::DescribeJobLogItemsError;
use aws_sdk_drs::operation::describe_jobs::DescribeJobsError;
use aws_sdk_drs::operation::describe_recovery_instances::DescribeRecoveryInstancesError;
use aws_sdk_drs::operation::describe_recovery_snapshots::DescribeRecoverySnapshotsError;
use aws_sdk_drs::operation::describe_source_servers::DescribeSourceServersError;
use aws_sdk_drs::operation::start_recovery::StartRecoveryError;
use aws_sdk_drs::types::{
    DataReplicationErrorString, InitiatedBy, Job, JobLogEvent, JobStatus, JobType,
    LastLaunchResult, LastLaunchType, LaunchStatus, RecoverySnapshot, RecoverySnapshotsOrder,
    StartRecoveryRequestSourceServer, ValidationExceptionReason,
};
use drs_sim::{
    BackgroundJobSpec, BackgroundServers, FaultConfig, FaultSpec, FixtureSource, Limits,
    OutageState, ServerSelector, ServerSpec, SimConfig, SimHandle, Simulator, SnapshotSpec,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

mod admin_and_binary;
mod errors;
mod jobs;
mod load;
mod lost_answers;
mod snapshots;
mod source_servers;

/// Generous: the machine may be loaded, and a deadline only matters when something is wrong.
const DEADLINE: Duration = Duration::from_secs(20);

fn sid(n: u32) -> String {
    format!("s-{n:017}")
}

fn client_with(sim: &SimHandle, max_attempts: u32) -> Client {
    let config = aws_sdk_drs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(sim.endpoint())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(max_attempts)
                .with_initial_backoff(Duration::from_millis(5))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .build();
    Client::from_conf(config)
}

fn client(sim: &SimHandle) -> Client {
    client_with(sim, 3)
}

async fn start(servers: Vec<ServerSpec>, tweak: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig::with_servers(servers);
    config.seed = Some(11);
    tweak(&mut config);
    Simulator::start(config).await.expect("simulator starts")
}

fn source(id: &str) -> StartRecoveryRequestSourceServer {
    StartRecoveryRequestSourceServer::builder()
        .source_server_id(id)
        .build()
        .expect("source server")
}

async fn start_job(c: &Client, ids: &[String], drill: bool) -> Job {
    let mut req = c.start_recovery().is_drill(drill);
    for id in ids {
        req = req.source_servers(source(id));
    }
    req.send()
        .await
        .expect("StartRecovery")
        .job()
        .expect("job")
        .clone()
}

/// Polls `f` until it yields Some or the deadline passes.
async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn describe_job(c: &Client, id: &str) -> Job {
    let out = c
        .describe_jobs()
        .filters(
            aws_sdk_drs::types::DescribeJobsRequestFilters::builder()
                .job_ids(id)
                .build(),
        )
        .send()
        .await
        .expect("DescribeJobs");
    assert_eq!(out.items().len(), 1, "one job {id}");
    out.items()[0].clone()
}

async fn wait_completed(c: &Client, id: &str) -> Job {
    wait_for("job to complete", || async {
        let job = describe_job(c, id).await;
        (job.status() == Some(&JobStatus::Completed)).then_some(job)
    })
    .await
}

fn statuses(job: &Job) -> HashMap<String, (LaunchStatus, Option<String>)> {
    job.participating_servers()
        .iter()
        .map(|s| {
            (
                s.source_server_id().unwrap_or_default().to_owned(),
                (
                    s.launch_status().cloned().expect("launchStatus"),
                    s.recovery_instance_id().map(str::to_owned),
                ),
            )
        })
        .collect()
}

fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|h| {
        h.len() == 17
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A minimal HTTP/1.1 exchange, so the admin API and raw error answers are tested without an
/// HTTP client dependency.
async fn http(endpoint: &str, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("JSON body")
}

// Helpers of the disaster-day tests (snapshots, replication states, outages).

fn rfc(t: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{t:?} is not RFC 3339: {e}"))
}

fn has_shape(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 17 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn no_retries(sim: &SimHandle) -> Client {
    let config = aws_sdk_drs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(sim.endpoint())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

async fn all_snapshots(
    c: &Client,
    id: &str,
    order: RecoverySnapshotsOrder,
    page: i32,
) -> Vec<RecoverySnapshot> {
    c.describe_recovery_snapshots()
        .source_server_id(id)
        .order(order)
        .into_paginator()
        .page_size(page)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("DescribeRecoverySnapshots")
}

async fn source_server(c: &Client, id: &str) -> aws_sdk_drs::types::SourceServer {
    let out = c
        .describe_source_servers()
        .filters(
            aws_sdk_drs::types::DescribeSourceServersRequestFilters::builder()
                .source_server_ids(id)
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("DescribeSourceServers");
    // Through every page: a page may be empty and still carry a nextToken.
    out.into_iter().next().expect("the server")
}

fn replication(
    s: &aws_sdk_drs::types::SourceServer,
) -> (String, Option<DataReplicationErrorString>) {
    let info = s.data_replication_info().expect("dataReplicationInfo");
    (
        info.data_replication_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        info.data_replication_error()
            .and_then(|e| e.error())
            .cloned(),
    )
}

fn last_seen(s: &aws_sdk_drs::types::SourceServer) -> time::OffsetDateTime {
    rfc(s
        .life_cycle()
        .and_then(|l| l.last_seen_by_service_date_time())
        .expect("lastSeenByServiceDateTime"))
}
