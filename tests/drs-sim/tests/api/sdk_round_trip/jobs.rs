//! Launch, recovery and terminate jobs through the SDK: their states, log items, instances
//! and source servers, paging, and launch failures with realistic causes.

use super::*;

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
    assert_log_tells_the_drill_story(&c, &job_id).await;

    // The recovery instance exists, is a drill instance, and its source server knows it.
    drill_instance_and_source_servers_know_the_launch(&c, &job_id, &instance1).await;

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

/// The drill's log: from JOB_START to JOB_END, both servers' stages, one LAUNCH_FAILED.
async fn assert_log_tells_the_drill_story(c: &Client, job_id: &str) {
    let log = c
        .describe_job_log_items()
        .job_id(job_id)
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
}

/// The launched server's instance is a drill instance, and both source servers show their
/// last launch.
async fn drill_instance_and_source_servers_know_the_launch(
    c: &Client,
    job_id: &str,
    instance1: &str,
) {
    let instances = c
        .describe_recovery_instances()
        .send()
        .await
        .expect("DescribeRecoveryInstances");
    assert_eq!(instances.items().len(), 1);
    let ri = &instances.items()[0];
    assert_eq!(ri.recovery_instance_id(), Some(instance1));
    assert_eq!(ri.source_server_id(), Some(sid(1).as_str()));
    assert_eq!(ri.job_id(), Some(job_id));
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
    assert_eq!(s1.recovery_instance_id(), Some(instance1));
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
    assert_eq!(initiated.job_id(), Some(job_id));
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
