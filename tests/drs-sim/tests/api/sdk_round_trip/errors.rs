//! Errors as the SDK's modeled types, throttling the SDK retries, and many clients at once.

use super::*;

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

    refusals_arrive_as_validation_errors(&c).await;

    injected_faults_arrive_as_modeled_types(&sim, &c).await;

    let counters = sim.counters();
    assert_eq!(counters.count("StartRecovery", 409), 1);
    assert_eq!(counters.count("StartRecovery", 402), 2);
    assert_eq!(counters.count("DescribeSourceServers", 429), 1);
    assert_eq!(counters.count("DescribeJobs", 500), 1);
    assert_eq!(counters.count("DescribeRecoveryInstances", 403), 1);
    sim.shutdown().await;
}

/// Unknown servers and jobs, and a maxResults the model refuses.
async fn refusals_arrive_as_validation_errors(c: &Client) {
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
}

/// Throttling (with its Retry-After), 500s and a per-operation AccessDenied, each as the
/// operation's modeled error.
async fn injected_faults_arrive_as_modeled_types(sim: &SimHandle, c: &Client) {
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
