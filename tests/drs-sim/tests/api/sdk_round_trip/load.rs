//! Background load holding the quotas, other job types, and jobs that list their servers late.

use super::*;

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
        c.fixture = FixtureSource::Inline(Box::new(fixture));
        c.limits = Limits {
            max_servers_in_active_jobs: 14,
            max_concurrent_jobs: 6,
            ..Limits::default()
        };
    })
    .await;
    let c = client(&sim);
    background_jobs_are_listed_with_their_types(&c, &sim).await;

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
    a_short_background_job_through_the_admin_api(&sim, &c).await;

    sim.shutdown().await;
}

/// The fixture's five created background jobs are listed with their types and initiatedBy
/// (values the SDK knows); their synthetic servers are not.
async fn background_jobs_are_listed_with_their_types(c: &Client, sim: &SimHandle) {
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
}

/// Adds a 0.3 s TERMINATE background job through the admin API and waits for it to
/// complete; specs the admin API refuses answer 400.
async fn a_short_background_job_through_the_admin_api(sim: &SimHandle, c: &Client) {
    let (status, _, body) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/background-jobs",
        r#"{"jobs": [{"type": "TERMINATE", "servers": 2, "durationSeconds": 0.3}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = json(&body)["jobIDs"][0].as_str().expect("id").to_owned();
    let term = wait_completed(c, &id).await;
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
