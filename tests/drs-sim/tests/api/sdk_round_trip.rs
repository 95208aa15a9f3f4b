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
        created.ends_with('Z') && ended > created,
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

    // The disaster-day fixture, with the participants delay, the listing delay and the
    // paging flags.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/disaster-day.yaml");
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--fixture",
            fixture,
            "--seed",
            "1",
            "--participants-delay-seconds",
            "0.5",
            "--job-listing-delay-seconds",
            "30",
            "--page-size",
            "1",
            "--empty-first-page",
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
    let config = aws_sdk_drs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(&endpoint)
        .build();
    let c = Client::from_conf(config);
    let db1 = source_server(&c, "s-a1b2c3d4e5f600001").await;
    assert_eq!(
        replication(&db1),
        (
            "DISCONNECTED".to_owned(),
            Some(DataReplicationErrorString::AgentNotSeen)
        )
    );
    let app2 = all_snapshots(&c, "s-a1b2c3d4e5f600004", RecoverySnapshotsOrder::Asc, 10).await;
    assert!(app2.is_empty());
    let listed_jobs = || async {
        c.describe_jobs()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("DescribeJobs")
    };
    let first_page = c.describe_jobs().send().await.expect("DescribeJobs");
    assert!(first_page.items().is_empty() && first_page.next_token().is_some());
    assert_eq!(listed_jobs().await.len(), 2, "the background jobs");
    let job = c
        .start_recovery()
        .source_servers(source("s-b1b2c3d4e5f600001"))
        .send()
        .await
        .expect("StartRecovery")
        .job()
        .cloned()
        .expect("job");
    assert!(job.participating_servers().is_empty(), "listed after 0.5 s");
    assert_eq!(
        listed_jobs().await.len(),
        2,
        "the new job is listed after 30 s"
    );
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

// ---------------------------------------------------------------------------------------
// Disaster day: snapshots, replication states, outages.
// ---------------------------------------------------------------------------------------

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
    for s in &asc {
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

    // Seeded IDs repeat: another simulator with the same seed names the same snapshot the
    // same way, one with another seed does not.
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
    sim.shutdown().await;
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
    sim.shutdown().await;
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
    let stalled = source_server(&c, &sid(4)).await;
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
    let snaps = all_snapshots(&c, &sid(4), RecoverySnapshotsOrder::Desc, 1000).await;
    assert!(rfc(snaps[0].timestamp().expect("ts")) <= seen);

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
    let latest = all_snapshots(&c, &sid(1), RecoverySnapshotsOrder::Desc, 1).await;
    let job = start_job(&c, &[sid(1), sid(4)], false).await;
    let done = wait_completed(&c, job.job_id()).await;
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
    let ids = sim
        .start_outage(&ServerSelector::Servers(vec![sid(3)]), OutageState::Stalled)
        .expect("outage");
    assert_eq!(ids, [sid(3)]);
    assert_eq!(replication(&source_server(&c, &sid(3)).await).0, "STALLED");
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
        let (status, _, _) = http(&ep, "POST", "/_sim/outage", bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Faults that lose or double launches.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_answer_lost_after_the_job_was_made_leaves_a_job_the_client_never_saw() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 0.1), ServerSpec::new(sid(2), 5.0)],
        |_| {},
    )
    .await;
    let c = no_retries(&sim);
    let mut faults = FaultConfig::default();
    faults.per_operation.insert(
        "StartRecovery".to_owned(),
        FaultSpec {
            error_after_commit_next: 1,
            drop_after_commit_next: 1,
            ..FaultSpec::default()
        },
    );
    sim.set_faults(faults).expect("faults");

    // 500 after the commit: the SDK sees InternalServerException, the job exists.
    let err = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .send()
        .await
        .expect_err("500")
        .into_service_error();
    assert!(
        matches!(&err, StartRecoveryError::InternalServerException(_)),
        "{err:?}"
    );
    assert_eq!(sim.jobs().len(), 1);
    assert_eq!(sim.jobs()[0].servers[0].source_server_id, sid(1));

    // No answer at all: a dispatch/response failure, not a service error; the job exists.
    let err = c
        .start_recovery()
        .source_servers(source(&sid(2)))
        .send()
        .await
        .expect_err("dropped");
    assert!(
        matches!(
            err,
            aws_sdk_drs::error::SdkError::DispatchFailure(_)
                | aws_sdk_drs::error::SdkError::ResponseError(_)
                | aws_sdk_drs::error::SdkError::TimeoutError(_)
        ),
        "{err:?}"
    );
    let jobs = sim.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].servers[0].source_server_id, sid(2));
    let counters = sim.counters();
    assert_eq!(counters.errors_after_commit("StartRecovery"), 1);
    assert_eq!(counters.drops_after_commit("StartRecovery"), 1);
    assert_eq!(counters.count("StartRecovery", 500), 1);
    assert_eq!(counters.calls("StartRecovery"), 2);
    // The next call is answered normally (the faults were for one call each), once the
    // first job the client never heard of has finished.
    wait_completed(&c, &jobs[0].job_id).await;
    let job = start_job(&c, &[sid(1)], true).await;
    assert_eq!(sim.jobs().len(), 3);

    // TerminateRecoveryInstances, through the admin API's keys: the TERMINATE job exists.
    let done = wait_completed(&c, job.job_id()).await;
    let instance = statuses(&done)[&sid(1)].1.clone().expect("instance");
    let (status, _, body) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/faults",
        r#"{"perOperation": {"TerminateRecoveryInstances": {"dropAfterCommitNext": 1}}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    c.terminate_recovery_instances()
        .recovery_instance_ids(&instance)
        .send()
        .await
        .expect_err("dropped");
    let jobs = sim.jobs();
    assert_eq!(jobs.last().map(|j| j.job_type.as_str()), Some("TERMINATE"));
    let (_, _, body) = http(&sim.endpoint(), "GET", "/_sim/counters", "").await;
    let counters = json(&body);
    assert_eq!(
        counters["operations"]["TerminateRecoveryInstances"]["dropAfterCommit"],
        1
    );
    assert_eq!(counters["dropAfterCommit"], 2);
    assert_eq!(counters["errorAfterCommit"], 1);
    let (status, _, _) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/faults",
        r#"{"errorAfterCommitFraction": 1.5}"#,
    )
    .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_sdks_own_retry_of_a_lost_answer_runs_into_the_job_it_made() {
    // This is the bug the worker must avoid: StartRecovery has no client token, so the
    // SDK's retry of a 500 (or of a dropped connection) asks for a second launch, which DRS
    // refuses because the servers are in the first job already.
    let sim = start(
        vec![ServerSpec::new(sid(1), 30.0), ServerSpec::new(sid(2), 30.0)],
        |_| {},
    )
    .await;
    let c = client_with(&sim, 3);
    for (key, server) in [
        ("errorAfterCommitNext", sid(1)),
        ("dropAfterCommitNext", sid(2)),
    ] {
        let (status, _, body) = http(
            &sim.endpoint(),
            "POST",
            "/_sim/faults",
            &format!(r#"{{"perOperation": {{"StartRecovery": {{"{key}": 1}}}}}}"#),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let err = c
            .start_recovery()
            .source_servers(source(&server))
            .send()
            .await
            .expect_err("the retry conflicts")
            .into_service_error();
        assert!(
            matches!(&err, StartRecoveryError::ConflictException(e) if e.resource_id() == Some(server.as_str())),
            "{key}: {err:?}"
        );
    }
    assert_eq!(sim.jobs().len(), 2, "one job per server, none doubled");
    let counters = sim.counters();
    assert_eq!(counters.errors_after_commit("StartRecovery"), 1);
    assert_eq!(counters.drops_after_commit("StartRecovery"), 1);
    assert_eq!(counters.count("StartRecovery", 409), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn background_jobs_hold_quotas_and_other_job_types_show_up() {
    let fixture = drs_sim::Fixture {
        servers: vec![
            ServerSpec::new(sid(1), 0.1),
            ServerSpec::new(sid(2), 0.1),
            ServerSpec::new(sid(3), 0.1),
        ],
        background_jobs: vec![
            // Someone else's drill of 8 servers that are not ours, for a minute.
            BackgroundJobSpec::launch(8, 60.0),
            // Someone else drilling one of our servers.
            BackgroundJobSpec::new("LAUNCH", BackgroundServers::Ids(vec![sid(3)]), 60.0)
                .initiated_by("FAILBACK"),
            BackgroundJobSpec::new(
                "CREATE_CONVERTED_SNAPSHOT",
                BackgroundServers::Count(1),
                60.0,
            ),
            BackgroundJobSpec::new("DIAGNOSTIC", BackgroundServers::Count(1), 60.0),
            BackgroundJobSpec::new("TERMINATE", BackgroundServers::Count(1), 60.0),
            // Not there yet.
            BackgroundJobSpec::launch(1, 60.0).starting_after(3600.0),
        ],
        ..drs_sim::Fixture::default()
    };
    let sim = start(Vec::new(), |c| {
        c.fixture = FixtureSource::Inline(fixture);
        c.limits = Limits {
            max_servers_in_active_jobs: 14,
            max_concurrent_jobs: 6,
            ..Limits::default()
        };
    })
    .await;
    let c = client(&sim);
    let jobs = c.describe_jobs().send().await.expect("DescribeJobs");
    assert_eq!(jobs.items().len(), 5);
    let kinds: BTreeSet<(String, String)> = jobs
        .items()
        .iter()
        .map(|j| {
            (
                j.r#type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                j.initiated_by()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let expect: BTreeSet<(String, String)> = [
        ("LAUNCH", "START_DRILL"),
        ("LAUNCH", "FAILBACK"),
        ("CREATE_CONVERTED_SNAPSHOT", "DIAGNOSTIC"),
        ("LAUNCH", "DIAGNOSTIC"),
        ("TERMINATE", "TERMINATE_RECOVERY_INSTANCES"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(kinds, expect);
    // The SDK knows every one of these values.
    for j in jobs.items() {
        let (t, by) = (j.r#type().expect("type"), j.initiated_by().expect("by"));
        assert!(JobType::values().contains(&t.as_str()), "{j:?}");
        assert!(InitiatedBy::values().contains(&by.as_str()), "{j:?}");
    }
    // Synthetic servers are not ours.
    let listed = c.describe_source_servers().send().await.expect("servers");
    assert_eq!(listed.items().len(), 3);
    assert!(sim.jobs().iter().all(|j| j.background));

    // Our server in someone else's job: ConflictException.
    let err = c
        .start_recovery()
        .source_servers(source(&sid(3)))
        .send()
        .await
        .expect_err("conflict")
        .into_service_error();
    assert!(err.is_conflict_exception(), "{err:?}");
    // 12 servers are in active jobs; 2 more would pass 14, 3 would not.
    let err = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .source_servers(source(&sid(2)))
        .source_servers(source(&sid(3)))
        .send()
        .await
        .expect_err("capacity")
        .into_service_error();
    // (sid(3) conflicts first; without it the capacity check answers.)
    assert!(err.is_conflict_exception(), "{err:?}");
    let job = start_job(&c, &[sid(1), sid(2)], true).await;
    // Six jobs are active now: the concurrency quota is reached.
    sim.set_limits(Limits {
        max_servers_in_active_jobs: 100,
        max_concurrent_jobs: 6,
        ..Limits::default()
    })
    .expect("limits");
    wait_completed(&c, job.job_id()).await;
    let more = sim
        .add_background_jobs(&[BackgroundJobSpec::launch(90, 60.0)])
        .expect("added");
    assert_eq!(more.len(), 1);
    let err = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .send()
        .await
        .expect_err("quota")
        .into_service_error();
    assert!(
        matches!(&err, StartRecoveryError::ServiceQuotaExceededException(e) if e.quota_code() == Some("ConcurrentJobs")),
        "{err:?}"
    );
    sim.set_limits(Limits {
        max_servers_in_active_jobs: 100,
        max_concurrent_jobs: 20,
        ..Limits::default()
    })
    .expect("limits");
    let err = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .source_servers(source(&sid(2)))
        .send()
        .await
        .expect_err("quota")
        .into_service_error();
    assert!(
        matches!(&err, StartRecoveryError::ServiceQuotaExceededException(e) if e.quota_code() == Some("SourceServersInActiveJobs")),
        "{err:?}"
    );

    // Through the admin API: a short job that frees its quota when it completes.
    let (status, _, body) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/background-jobs",
        r#"{"jobs": [{"type": "TERMINATE", "servers": 2, "durationSeconds": 0.3}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = json(&body)["jobIDs"][0].as_str().expect("id").to_owned();
    let term = wait_completed(&c, &id).await;
    assert_eq!(term.r#type(), Some(&JobType::Terminate));
    assert!(
        term.participating_servers()
            .iter()
            .all(|s| s.launch_status() == Some(&LaunchStatus::Terminated))
    );
    for bad in [
        r#"{"jobs": [{"type": "REBOOT", "servers": 1}]}"#,
        r#"{"jobs": [{"servers": ["s-99999999999999999"]}]}"#,
        r#"{"jobs": [{"servers": 1, "initiatedBy": "ME"}]}"#,
        r#"{"jobs": [{"servers": 0}]}"#,
    ] {
        let (status, _, _) = http(&sim.endpoint(), "POST", "/_sim/background-jobs", bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_pending_job_may_list_its_servers_only_after_a_delay() {
    let sim = start(vec![ServerSpec::new(sid(1), 0.1)], |c| {
        c.timings.participants_delay_seconds = 0.6;
    })
    .await;
    let c = client(&sim);
    let job = start_job(&c, &[sid(1)], true).await;
    assert_eq!(job.status(), Some(&JobStatus::Pending));
    assert!(job.participating_servers().is_empty());
    let admin = &sim.jobs()[0];
    assert_eq!(admin.servers.len(), 1, "the admin view knows them");
    assert!(admin.participants_listed_date_time > admin.creation_date_time);
    // While they are not listed the job stays PENDING; then they appear.
    let seen = wait_for("participants to be listed", || async {
        let j = describe_job(&c, job.job_id()).await;
        if j.participating_servers().is_empty() {
            assert_eq!(j.status(), Some(&JobStatus::Pending));
            None
        } else {
            Some(j)
        }
    })
    .await;
    assert_eq!(seen.participating_servers().len(), 1);
    wait_completed(&c, job.job_id()).await;

    // The setting through the admin API; 0 is today's behaviour.
    let (status, _, body) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/timings",
        r#"{"participantsDelaySeconds": 0}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["pendingSeconds"], 0.05);
    assert_eq!(sim.timings().participants_delay_seconds, 0.0);
    let again = start_job(&c, &[sid(1)], true).await;
    assert_eq!(again.participating_servers().len(), 1);
    let (status, _, _) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/timings",
        r#"{"participantsDelaySeconds": -1}"#,
    )
    .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn launch_failures_carry_realistic_causes_and_can_be_mended() {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.1).failing_with("capacity"),
            ServerSpec::new(sid(2), 0.1).failing_with("iam"),
            ServerSpec::new(sid(3), 0.1).failing_with("launchTemplate"),
            ServerSpec::new(sid(4), 0.1).failing(),
            ServerSpec::new(sid(5), 0.1).failing_with("Custom: the disk was eaten"),
            ServerSpec::new(sid(6), 0.1).with_tag("App", "billing"),
        ],
        |_| {},
    )
    .await;
    let c = client(&sim);
    let ids: Vec<String> = (1..=6).map(sid).collect();
    let job = start_job(&c, &ids, true).await;
    wait_completed(&c, job.job_id()).await;
    let log = c
        .describe_job_log_items()
        .job_id(job.job_id())
        .send()
        .await
        .expect("log");
    let raw: HashMap<String, String> = log
        .items()
        .iter()
        .filter(|i| i.event() == Some(&JobLogEvent::LaunchFailed))
        .filter_map(|i| {
            let d = i.event_data()?;
            Some((d.source_server_id()?.to_owned(), d.raw_error()?.to_owned()))
        })
        .collect();
    assert_eq!(raw.len(), 5);
    assert!(
        raw[&sid(1)].starts_with("InsufficientInstanceCapacity:"),
        "{raw:?}"
    );
    assert!(raw[&sid(1)].contains("us-east-1a"), "{raw:?}");
    assert!(
        raw[&sid(2)].contains("not authorized to perform: ec2:RunInstances")
            && raw[&sid(2)].contains("123456789012"),
        "{raw:?}"
    );
    assert!(
        raw[&sid(3)].contains("launch template") && raw[&sid(3)].contains("invalid"),
        "{raw:?}"
    );
    assert!(raw[&sid(4)].contains("status checks"), "{raw:?}");
    assert_eq!(raw[&sid(5)], "Custom: the disk was eaten");

    // Mend one by replacing it (as before), mend one and break one through fail-launch.
    let ep = sim.endpoint();
    let add = format!(
        r#"{{"servers":[{{"id":"{}","launchSeconds":0.1}}]}}"#,
        sid(1)
    );
    let (status, _, body) = http(&ep, "POST", "/_sim/servers", &add).await;
    assert_eq!(status, 200, "{body}");
    let mend = format!(r#"{{"servers":["{}"], "failLaunch": false}}"#, sid(2));
    let (status, _, body) = http(&ep, "POST", "/_sim/fail-launch", &mend).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = http(
        &ep,
        "POST",
        "/_sim/fail-launch",
        r#"{"tags": {"App": "billing"}, "failReason": "quota"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http(
        &ep,
        "POST",
        "/_sim/fail-launch",
        r#"{"all": true, "failLaunch": false, "failReason": "iam"}"#,
    )
    .await;
    assert_eq!(status, 400);
    let job = start_job(&c, &[sid(1), sid(2), sid(6)], true).await;
    let done = wait_completed(&c, job.job_id()).await;
    let by_server = statuses(&done);
    assert_eq!(by_server[&sid(1)].0, LaunchStatus::Launched);
    assert_eq!(by_server[&sid(2)].0, LaunchStatus::Launched);
    assert_eq!(by_server[&sid(6)].0, LaunchStatus::Failed);
    let jobs = sim.jobs();
    let reason = jobs[1].servers[2].fail_reason.clone().expect("reason");
    assert!(reason.starts_with("VcpuLimitExceeded"), "{reason}");
    // The library mends too.
    sim.set_fail_launch(&ServerSelector::All, false, None)
        .expect("mend");
    assert!(sim.source_servers().iter().all(|s| !s.fail_launch));
    sim.shutdown().await;
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
