//! drs-sim exercised through the real, unmodified aws-sdk-drs client (and its admin API and
//! binary through plain HTTP).

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
use aws_sdk_drs::operation::describe_source_servers::DescribeSourceServersError;
use aws_sdk_drs::operation::start_recovery::StartRecoveryError;
use aws_sdk_drs::types::{
    InitiatedBy, Job, JobLogEvent, JobStatus, JobType, LastLaunchResult, LastLaunchType,
    LaunchStatus, StartRecoveryRequestSourceServer, ValidationExceptionReason,
};
use drs_sim::{FaultConfig, FaultSpec, Limits, ServerSpec, SimConfig, SimHandle, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

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

#[tokio::test]
async fn drill_launches_and_fails_servers_as_the_fixture_says() {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.2).with_tag("App", "billing"),
            // Long enough that polling sees it IN_PROGRESS even on a loaded machine.
            ServerSpec::new(sid(2), 0.8).failing(),
        ],
        |_| {},
    )
    .await;
    let c = client(&sim);
    let mut req = c
        .start_recovery()
        .is_drill(true)
        .tags("drs-waves:wave", "db");
    for id in [sid(1), sid(2)] {
        req = req.source_servers(source(&id));
    }
    let job = req
        .send()
        .await
        .expect("StartRecovery")
        .job()
        .cloned()
        .expect("job");
    let job_id = job.job_id().to_owned();
    assert!(
        job_id.starts_with("drsjob-") && job_id.len() == 24,
        "{job_id}"
    );
    assert_eq!(job.r#type(), Some(&JobType::Launch));
    assert_eq!(job.initiated_by(), Some(&InitiatedBy::StartDrill));
    assert_eq!(job.status(), Some(&JobStatus::Pending));
    assert!(job.end_date_time().is_none());
    assert_eq!(
        job.tags()
            .and_then(|t| t.get("drs-waves:wave"))
            .map(String::as_str),
        Some("db")
    );
    assert!(
        job.participating_servers()
            .iter()
            .all(|s| s.launch_status() == Some(&LaunchStatus::Pending)
                && s.recovery_instance_id().is_none())
    );

    // The job passes through STARTED with a server IN_PROGRESS before it completes.
    wait_for("a server in progress", || async {
        let j = describe_job(&c, &job_id).await;
        (j.status() == Some(&JobStatus::Started)
            && j.participating_servers()
                .iter()
                .any(|s| s.launch_status() == Some(&LaunchStatus::InProgress)))
        .then_some(())
    })
    .await;

    let done = wait_completed(&c, &job_id).await;
    let by_server = statuses(&done);
    let (status1, instance1) = &by_server[&sid(1)];
    assert_eq!(status1, &LaunchStatus::Launched);
    let instance1 = instance1.clone().expect("launched server has an instance");
    assert!(is_instance_id(&instance1), "{instance1}");
    assert_eq!(by_server[&sid(2)], (LaunchStatus::Failed, None));
    let created = done.creation_date_time().expect("creationDateTime");
    let ended = done.end_date_time().expect("endDateTime");
    assert!(
        created.ends_with("+00:00") && ended > created,
        "{created} {ended}"
    );

    // Log items tell the same story.
    let log = c
        .describe_job_log_items()
        .job_id(&job_id)
        .send()
        .await
        .expect("DescribeJobLogItems");
    let events: Vec<&JobLogEvent> = log.items().iter().filter_map(|i| i.event()).collect();
    assert_eq!(events.first(), Some(&&JobLogEvent::JobStart));
    assert_eq!(events.last(), Some(&&JobLogEvent::JobEnd));
    for e in [
        JobLogEvent::SnapshotStart,
        JobLogEvent::SnapshotEnd,
        JobLogEvent::ConversionStart,
        JobLogEvent::ConversionEnd,
        JobLogEvent::LaunchStart,
    ] {
        assert_eq!(events.iter().filter(|x| ***x == e).count(), 2, "{e:?}");
    }
    let failed: Vec<_> = log
        .items()
        .iter()
        .filter(|i| i.event() == Some(&JobLogEvent::LaunchFailed))
        .collect();
    assert_eq!(failed.len(), 1);
    let data = failed[0].event_data().expect("eventData");
    assert_eq!(data.source_server_id(), Some(sid(2).as_str()));
    assert!(data.raw_error().is_some_and(|e| !e.is_empty()));

    // The recovery instance exists, is a drill instance, and its source server knows it.
    let instances = c
        .describe_recovery_instances()
        .send()
        .await
        .expect("DescribeRecoveryInstances");
    assert_eq!(instances.items().len(), 1);
    let ri = &instances.items()[0];
    assert_eq!(ri.recovery_instance_id(), Some(instance1.as_str()));
    assert_eq!(ri.source_server_id(), Some(sid(1).as_str()));
    assert_eq!(ri.job_id(), Some(job_id.as_str()));
    assert_eq!(ri.is_drill(), Some(true));

    let servers = c
        .describe_source_servers()
        .send()
        .await
        .expect("DescribeSourceServers");
    let by_id: HashMap<_, _> = servers
        .items()
        .iter()
        .map(|s| (s.source_server_id().unwrap_or_default().to_owned(), s))
        .collect();
    let s1 = by_id[&sid(1)];
    assert_eq!(s1.last_launch_result(), Some(&LastLaunchResult::Succeeded));
    assert_eq!(s1.recovery_instance_id(), Some(instance1.as_str()));
    assert_eq!(
        s1.tags().and_then(|t| t.get("App")).map(String::as_str),
        Some("billing")
    );
    let last = s1
        .life_cycle()
        .and_then(|l| l.last_launch())
        .expect("lastLaunch");
    assert_eq!(last.status(), Some(&LaunchStatus::Launched));
    let initiated = last.initiated().expect("initiated");
    assert_eq!(initiated.job_id(), Some(job_id.as_str()));
    assert_eq!(initiated.r#type(), Some(&LastLaunchType::Drill));
    let s2 = by_id[&sid(2)];
    assert_eq!(s2.last_launch_result(), Some(&LastLaunchResult::Failed));
    assert!(s2.recovery_instance_id().is_none());
    assert_eq!(
        s2.source_properties()
            .and_then(|p| p.identification_hints())
            .and_then(|h| h.hostname()),
        Some(sid(2).as_str())
    );
    assert_eq!(
        s2.data_replication_info()
            .and_then(|d| d.data_replication_state())
            .map(|s| s.as_str()),
        Some("CONTINUOUS")
    );

    // The admin view carries each server's launch timestamps: a job created after this one
    // completed was created after every one of its servers finished.
    let next = start_job(&c, &[sid(1)], true).await;
    let jobs = sim.jobs();
    assert_eq!(jobs.len(), 2);
    let (first, second) = (&jobs[0], &jobs[1]);
    assert_eq!(second.job_id, next.job_id());
    assert!(
        first
            .servers
            .iter()
            .all(|s| s.launch_end_date_time <= second.creation_date_time)
    );
    assert_eq!(first.end_date_time, Some(first.scheduled_end_date_time));
    sim.shutdown().await;
}

#[tokio::test]
async fn recovery_is_initiated_by_start_recovery() {
    let sim = start(vec![ServerSpec::new(sid(1), 0.1)], |_| {}).await;
    let c = client(&sim);
    let job = start_job(&c, &[sid(1)], false).await;
    assert_eq!(job.initiated_by(), Some(&InitiatedBy::StartRecovery));
    wait_completed(&c, job.job_id()).await;
    let instances = c
        .describe_recovery_instances()
        .send()
        .await
        .expect("instances");
    assert_eq!(instances.items()[0].is_drill(), Some(false));
    let servers = c.describe_source_servers().send().await.expect("servers");
    let last = servers.items()[0]
        .life_cycle()
        .and_then(|l| l.last_launch())
        .and_then(|l| l.initiated())
        .and_then(|i| i.r#type())
        .cloned();
    assert_eq!(last, Some(LastLaunchType::Recovery));
    sim.shutdown().await;
}

#[tokio::test]
async fn terminate_makes_a_terminate_job_and_removes_the_instances() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 0.1), ServerSpec::new(sid(2), 0.1)],
        // Long enough for the second call below to land while the job runs.
        |c| c.timings.terminate_seconds = 0.8,
    )
    .await;
    let c = client(&sim);
    let launch = start_job(&c, &[sid(1), sid(2)], true).await;
    let done = wait_completed(&c, launch.job_id()).await;
    let ids: Vec<String> = done
        .participating_servers()
        .iter()
        .filter_map(|s| s.recovery_instance_id().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 2);

    let out = c
        .terminate_recovery_instances()
        .set_recovery_instance_ids(Some(ids.clone()))
        .send()
        .await
        .expect("TerminateRecoveryInstances");
    let term = out.job().expect("job");
    assert_eq!(term.r#type(), Some(&JobType::Terminate));
    assert_eq!(
        term.initiated_by(),
        Some(&InitiatedBy::TerminateRecoveryInstances)
    );
    // Terminating the same instance again while the job runs is a conflict.
    let again = c
        .terminate_recovery_instances()
        .recovery_instance_ids(&ids[0])
        .send()
        .await
        .expect_err("conflict");
    assert_eq!(again.code(), Some("ConflictException"));

    let finished = wait_completed(&c, term.job_id()).await;
    let by_server = statuses(&finished);
    for (status, instance) in by_server.values() {
        assert_eq!(status, &LaunchStatus::Terminated);
        assert!(instance.as_ref().is_some_and(|i| ids.contains(i)));
    }
    let left = c
        .describe_recovery_instances()
        .send()
        .await
        .expect("instances");
    assert!(left.items().is_empty(), "{:?}", left.items());
    assert!(
        sim.recovery_instances()
            .iter()
            .all(|i| i.terminated_date_time.is_some())
    );
    // Unknown instances are rejected.
    let err = c
        .terminate_recovery_instances()
        .recovery_instance_ids(&ids[0])
        .send()
        .await
        .expect_err("gone");
    assert_eq!(err.code(), Some("ValidationException"));
    sim.shutdown().await;
}

#[tokio::test]
async fn pagination_collects_everything_exactly_once() {
    let servers: Vec<ServerSpec> = (1..=23).map(|n| ServerSpec::new(sid(n), 0.05)).collect();
    let sim = start(servers, |_| {}).await;
    let c = client(&sim);

    let items: Vec<_> = c
        .describe_source_servers()
        .into_paginator()
        .page_size(4)
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("paginate source servers");
    let ids: Vec<String> = items
        .iter()
        .map(|s| s.source_server_id().unwrap_or_default().to_owned())
        .collect();
    let unique: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), 23);
    assert_eq!(unique.len(), 23);
    assert!(sim.counters().calls("DescribeSourceServers") >= 6);

    // One job per server, created in order; DescribeJobs pages newest first.
    let mut created = Vec::new();
    for n in 1..=9 {
        created.push(start_job(&c, &[sid(n)], true).await.job_id().to_owned());
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .describe_jobs()
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("DescribeJobs page");
        assert!(page.items().len() <= 2);
        seen.extend(page.items().iter().map(|j| j.job_id().to_owned()));
        if seen.len() == 4 {
            // A job created between pages must not shift what later pages hold.
            start_job(&c, &[sid(20)], true).await;
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    created.reverse();
    assert_eq!(seen, created, "every job once, newest first");

    // Date filters select by creation time.
    let all = sim.jobs();
    let cut = all[3].creation_date_time;
    let cut_text = cut
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let from: Vec<_> = c
        .describe_jobs()
        .filters(
            aws_sdk_drs::types::DescribeJobsRequestFilters::builder()
                .from_date(cut_text)
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("filtered");
    assert_eq!(from.len(), all.len() - 3);

    // Log items page too, and in order.
    let job = &created[0];
    wait_completed(&c, job).await;
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .describe_job_log_items()
            .job_id(job)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("log page");
        events.extend(page.items().iter().filter_map(|i| i.event().cloned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(events.len(), 7, "{events:?}");
    assert_eq!(events[0], JobLogEvent::JobStart);
    assert_eq!(events[6], JobLogEvent::JobEnd);
    sim.shutdown().await;
}

#[tokio::test]
async fn errors_arrive_as_the_sdks_modeled_types() {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 60.0),
            ServerSpec::new(sid(2), 0.1),
            ServerSpec::new(sid(3), 0.1),
        ],
        |c| {
            c.limits = Limits {
                max_servers_per_job: 2,
                ..Limits::default()
            }
        },
    )
    .await;
    let c = client_with(&sim, 1);

    start_job(&c, &[sid(1)], true).await;
    let err = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .send()
        .await
        .expect_err("conflict")
        .into_service_error();
    let StartRecoveryError::ConflictException(e) = &err else {
        panic!("expected ConflictException, got {err:?}");
    };
    assert_eq!(e.resource_id(), Some(sid(1).as_str()));
    assert!(e.message().is_some_and(|m| m.contains("active job")));

    let err = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .source_servers(source(&sid(2)))
        .source_servers(source(&sid(3)))
        .send()
        .await
        .expect_err("quota")
        .into_service_error();
    let StartRecoveryError::ServiceQuotaExceededException(e) = &err else {
        panic!("expected ServiceQuotaExceededException, got {err:?}");
    };
    assert_eq!(e.quota_code(), Some("SourceServersPerJob"));
    assert_eq!(e.service_code(), Some("drs"));
    assert_eq!(e.resource_type(), Some("SOURCE_SERVER"));

    sim.set_limits(Limits {
        max_concurrent_jobs: 1,
        ..Limits::default()
    })
    .expect("limits");
    let err = c
        .start_recovery()
        .source_servers(source(&sid(2)))
        .send()
        .await
        .expect_err("concurrent")
        .into_service_error();
    assert!(
        matches!(&err, StartRecoveryError::ServiceQuotaExceededException(e) if e.quota_code() == Some("ConcurrentJobs")),
        "{err:?}"
    );

    // StartRecovery's model has no ValidationException: an unknown server arrives as an
    // unmodeled error whose code and message say what is wrong.
    let err = c
        .start_recovery()
        .source_servers(source("s-99999999999999999"))
        .send()
        .await
        .expect_err("unknown server")
        .into_service_error();
    assert!(
        !err.is_conflict_exception() && !err.is_service_quota_exceeded_exception(),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(
        err.message()
            .is_some_and(|m| m.contains("s-99999999999999999"))
    );

    let err = c
        .describe_job_log_items()
        .job_id("drsjob-00000000000000000")
        .send()
        .await
        .expect_err("unknown job")
        .into_service_error();
    let DescribeJobLogItemsError::ValidationException(e) = &err else {
        panic!("expected ValidationException, got {err:?}");
    };
    assert_eq!(
        e.reason(),
        Some(&ValidationExceptionReason::FieldValidationFailed)
    );
    assert_eq!(e.field_list()[0].name(), Some("jobID"));

    let err = c
        .describe_jobs()
        .max_results(0)
        .send()
        .await
        .expect_err("bad maxResults")
        .into_service_error();
    assert!(
        matches!(&err, DescribeJobsError::ValidationException(_)),
        "{err:?}"
    );

    sim.set_faults(FaultConfig {
        all: FaultSpec {
            throttle_next: 1,
            ..FaultSpec::default()
        },
        retry_after_seconds: 2,
        ..FaultConfig::default()
    })
    .expect("faults");
    let err = c
        .describe_source_servers()
        .send()
        .await
        .expect_err("throttled")
        .into_service_error();
    let DescribeSourceServersError::ThrottlingException(e) = &err else {
        panic!("expected ThrottlingException, got {err:?}");
    };
    assert_eq!(e.retry_after_seconds(), Some("2"));
    assert!(!e.message().is_empty());

    sim.set_faults(FaultConfig {
        all: FaultSpec {
            error_next: 1,
            ..FaultSpec::default()
        },
        ..FaultConfig::default()
    })
    .expect("faults");
    let err = c
        .describe_jobs()
        .send()
        .await
        .expect_err("500")
        .into_service_error();
    assert!(
        matches!(&err, DescribeJobsError::InternalServerException(_)),
        "{err:?}"
    );

    let mut per_op = FaultConfig::default();
    per_op.per_operation.insert(
        "DescribeRecoveryInstances".to_owned(),
        FaultSpec {
            access_denied: true,
            ..FaultSpec::default()
        },
    );
    sim.set_faults(per_op).expect("faults");
    let err = c
        .describe_recovery_instances()
        .send()
        .await
        .expect_err("denied")
        .into_service_error();
    assert!(
        matches!(
            &err,
            DescribeRecoveryInstancesError::AccessDeniedException(_)
        ),
        "{err:?}"
    );
    // Other operations are untouched by a per-operation fault.
    c.describe_jobs()
        .send()
        .await
        .expect("DescribeJobs unaffected");

    let counters = sim.counters();
    assert_eq!(counters.count("StartRecovery", 409), 1);
    assert_eq!(counters.count("StartRecovery", 402), 2);
    assert_eq!(counters.count("DescribeSourceServers", 429), 1);
    assert_eq!(counters.count("DescribeJobs", 500), 1);
    assert_eq!(counters.count("DescribeRecoveryInstances", 403), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn throttled_calls_are_retried_by_the_sdk_and_succeed() {
    let sim = start(vec![ServerSpec::new(sid(1), 0.1)], |c| {
        c.faults.all.throttle_fraction = 0.5;
        c.seed = Some(42);
    })
    .await;
    let c = client_with(&sim, 12);
    for _ in 0..20 {
        c.describe_source_servers()
            .send()
            .await
            .expect("retried until it succeeds");
    }
    let counters = sim.counters();
    assert_eq!(counters.count("DescribeSourceServers", 200), 20);
    assert!(
        counters.count("DescribeSourceServers", 429) > 0,
        "{counters:?}"
    );

    // Exactly two throttles then success: the default three attempts are enough.
    sim.reset(false).expect("reset");
    sim.set_faults(FaultConfig {
        all: FaultSpec {
            throttle_next: 2,
            ..FaultSpec::default()
        },
        ..FaultConfig::default()
    })
    .expect("faults");
    let job = client(&sim)
        .start_recovery()
        .source_servers(source(&sid(1)))
        .send()
        .await
        .expect("StartRecovery after two throttles");
    assert!(job.job().is_some());
    let counters = sim.counters();
    assert_eq!(counters.count("StartRecovery", 429), 2);
    assert_eq!(counters.count("StartRecovery", 202), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_clients_are_served() {
    let servers: Vec<ServerSpec> = (1..=8).map(|n| ServerSpec::new(sid(n), 0.1)).collect();
    let sim = start(servers, |_| {}).await;
    let mut tasks = Vec::new();
    for n in 1..=8 {
        let c = client(&sim);
        tasks.push(tokio::spawn(async move {
            c.start_recovery()
                .source_servers(source(&sid(n)))
                .send()
                .await
                .expect("StartRecovery");
            for _ in 0..10 {
                c.describe_jobs().send().await.expect("DescribeJobs");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let counters = sim.counters();
    assert_eq!(counters.count("StartRecovery", 202), 8);
    assert_eq!(counters.count("DescribeJobs", 200), 80);
    assert_eq!(sim.jobs().len(), 8);
    sim.shutdown().await;
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

#[tokio::test]
async fn admin_api_and_raw_protocol_errors() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 0.1).with_tag("App", "billing")],
        |_| {},
    )
    .await;
    let ep = sim.endpoint();
    let c = client(&sim);

    let (status, head, body) = http(&ep, "POST", "/NoSuchOperation", "{}").await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: validationexception"),
        "{head}"
    );
    assert_eq!(json(&body)["reason"], "unknownOperation");
    let (status, _, body) = http(&ep, "POST", "/DescribeJobs", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(json(&body)["__type"], "ValidationException");
    assert_eq!(json(&body)["reason"], "cannotParse");

    // Servers added at run time are visible to DescribeSourceServers at once.
    let add = format!(
        r#"{{"servers":[{{"id":"{}","tags":{{"App":"billing"}},"launchSeconds":0.1}}]}}"#,
        sid(2)
    );
    let (status, _, _) = http(&ep, "POST", "/_sim/servers", &add).await;
    assert_eq!(status, 200);
    let (status, _, body) = http(
        &ep,
        "POST",
        "/_sim/servers",
        r#"{"servers":[{"id":"bad"}]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("bad"))
    );
    let servers = c.describe_source_servers().send().await.expect("servers");
    let billing = servers
        .items()
        .iter()
        .filter(|s| {
            s.tags()
                .and_then(|t| t.get("App"))
                .is_some_and(|a| a == "billing")
        })
        .count();
    assert_eq!(billing, 2);

    // Faults through the admin API, with unknown keys refused.
    let (status, _, _) = http(&ep, "POST", "/_sim/faults", r#"{"throttleFractio":1}"#).await;
    assert_eq!(status, 400);
    let (status, _, _) = http(
        &ep,
        "POST",
        "/_sim/faults",
        r#"{"perOperation":{"DescribeJobs":{"throttleNext":1}},"retryAfterSeconds":3}"#,
    )
    .await;
    assert_eq!(status, 200);
    let (status, head, body) = http(&ep, "POST", "/DescribeJobs", "{}").await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: 3"), "{head}");
    assert!(
        head.contains("x-amzn-errortype: throttlingexception"),
        "{head}"
    );
    assert_eq!(json(&body)["__type"], "ThrottlingException");

    let job = start_job(&c, &[sid(1)], true).await;
    wait_completed(&c, job.job_id()).await;
    let (status, _, body) = http(&ep, "GET", "/_sim/jobs", "").await;
    assert_eq!(status, 200);
    let jobs = json(&body);
    let first = &jobs["jobs"][0];
    assert_eq!(first["jobID"], job.job_id());
    assert_eq!(first["status"], "COMPLETED");
    assert_eq!(first["servers"][0]["launchStatus"], "LAUNCHED");
    assert!(first["servers"][0]["launchEndDateTime"].is_string());
    assert!(first["creationDateTime"].is_string());

    let (_, _, body) = http(&ep, "GET", "/_sim/counters", "").await;
    let counters = json(&body);
    assert_eq!(counters["operations"]["DescribeJobs"]["byStatus"]["429"], 1);
    assert_eq!(counters["operations"]["UnknownOperation"]["total"], 1);

    let (_, _, body) = http(&ep, "GET", "/_sim/recovery-instances", "").await;
    assert_eq!(
        json(&body)["recoveryInstances"].as_array().map(Vec::len),
        Some(1)
    );

    let (status, _, _) = http(&ep, "POST", "/_sim/limits", r#"{"maxConcurrentJobs":0}"#).await;
    assert_eq!(status, 400);
    let (status, _, body) = http(&ep, "POST", "/_sim/limits", r#"{"maxConcurrentJobs":5}"#).await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["maxServersPerJob"], 100);
    assert_eq!(sim.limits().max_concurrent_jobs, 5);

    // Reset forgets jobs, instances, counters and servers added at run time.
    let (status, _, _) = http(&ep, "POST", "/_sim/reset", "").await;
    assert_eq!(status, 200);
    assert!(sim.jobs().is_empty());
    assert!(sim.recovery_instances().is_empty());
    assert_eq!(sim.counters().total, 0);
    assert_eq!(sim.source_servers().len(), 1);
    let (status, _, _) = http(&ep, "GET", "/_sim/nothing", "").await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_binary_prints_its_endpoint_and_rejects_bad_fixtures() {
    let exe = env!("CARGO_BIN_EXE_drs-sim");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/examples.yaml");
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--fixture",
            fixture,
            "--seed",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn drs-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::time::timeout(DEADLINE, BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("first line in time")
        .expect("read");
    let endpoint = line
        .trim()
        .strip_prefix("drs-sim listening on ")
        .expect("listening line")
        .to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let config = aws_sdk_drs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(&endpoint)
        .build();
    let out = Client::from_conf(config)
        .describe_source_servers()
        .send()
        .await
        .expect("DescribeSourceServers");
    assert_eq!(out.items().len(), 12);
    let storefront_db = out
        .items()
        .iter()
        .filter(|s| {
            s.tags().is_some_and(|t| {
                t.get("App").is_some_and(|a| a == "storefront")
                    && t.get("Tier").is_some_and(|a| a == "db")
            })
        })
        .count();
    assert_eq!(storefront_db, 2);
    child.start_kill().expect("kill");
    child.wait().await.expect("wait");

    let dir = std::env::temp_dir().join(format!("drs-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "servers:\n  - id: s-1234\n").expect("write");
    let out = tokio::process::Command::new(exe)
        .args(["--fixture".as_ref(), bad.as_os_str()])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("s-1234"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
