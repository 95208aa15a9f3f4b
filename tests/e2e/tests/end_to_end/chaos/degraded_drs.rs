//! A DRS that misbehaves all along: throttling, errors and latency on every call, a big drill
//! cleaned up while its last wave still launches, and a launch that fails with the reason DRS
//! logged.

use super::*;

// ---------------------------------------------------------------------------------------------
// 11. A DRS that throttles, fails and lags
// ---------------------------------------------------------------------------------------------

/// 11. Every DRS call takes 200 ms more; 30% are throttled, 2.5% answered 500 before and 2.5%
/// after they were carried out. A five-wave drill succeeds with every server launched once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_five_waves_through_throttling_errors_and_latency() -> Result<()> {
    let ids = server_ids("cg11", 10);
    let config = SimConfig {
        faults: FaultConfig {
            all: FaultSpec {
                throttle_fraction: 0.3,
                error_fraction: 0.025,
                error_after_commit_fraction: 0.025,
                latency_ms: 200,
                ..FaultSpec::default()
            },
            ..FaultConfig::default()
        },
        seed: Some(11),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new("chaos-weather", config).await?;
    let names = ["one", "two", "three", "four", "five"];
    let waves: Vec<Wave<'_>> = names
        .iter()
        .zip(ids.chunks(2))
        .map(|(name, servers)| Wave::new(name, servers))
        .collect();
    let yaml = plan("weather", &waves, 10, false);
    let machine = dep.deploy_plan("weather.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs()).await?;
    let counters = dep.sim.counters();
    let throttled: u64 = counters
        .operations
        .values()
        .map(|o| o.by_status.get(&429).copied().unwrap_or(0))
        .sum();
    let failed: u64 = counters
        .operations
        .values()
        .map(|o| o.by_status.get(&500).copied().unwrap_or(0))
        .sum();
    ensure!(
        throttled > 0 && failed > 0,
        "the weather was bad: {throttled} throttled, {failed} 500s: {counters:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 12. A 250-server drill cleaned up while its last wave still launches
// ---------------------------------------------------------------------------------------------

/// 12. A drill of 250 servers in three waves (100, 100, 50) that terminates its instances.
/// The last wave has an optional server whose launch takes far longer than the wave's launch
/// timeout: the wave succeeds without it and finish starts while its launch job still runs.
/// The clean-up waits for that job, then terminates every instance (the slow one too) in jobs
/// of at most 100 within DRS's default quotas; the first TerminateRecoveryInstances is answered
/// 500 after DRS made the job. No ConflictException, no instance left, none terminated twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_big_drill_cleaned_up_while_its_last_wave_still_launches() -> Result<()> {
    let ids = server_ids("ch12", 250);
    let slow = vec![ids[249].clone()];
    let mut servers = fleet(&ids[..249], 1.0);
    servers.push(ServerSpec::new(slow[0].as_str(), 30.0));
    let config = SimConfig {
        faults: per_operation(
            "TerminateRecoveryInstances",
            FaultSpec {
                error_after_commit_next: 1,
                ..FaultSpec::default()
            },
        ),
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("chaos-big-cleanup", config).await?;
    let last = Wave {
        optional: &slow,
        launch_timeout_seconds: 8,
        ..Wave::new("last", &ids[200..])
    };
    let yaml = plan(
        "big-cleanup",
        &[
            Wave::new("first", &ids[..100]),
            Wave::new("second", &ids[100..200]),
            last,
        ],
        10,
        true,
    );
    let machine = dep.deploy_plan("big-cleanup.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let logs = dep.worker_logs();
    ensure!(
        ended.succeeded(),
        "{execution} did not succeed: {}\n{logs}",
        describe(&ended)
    );
    let jobs = assert_each_launched_once(&dep, &execution, &ids)?;
    assert_jobs_recorded(&dep, &execution, &ended).await?;
    assert_no_conflicts(&dep)?;

    // Finish started while the slow server still launched.
    let slow_launch = jobs
        .iter()
        .flat_map(|j| &j.servers)
        .find(|s| s.source_server_id == slow[0])
        .context("the slow server's launch")?
        .clone();
    ensure!(
        slow_launch.launch_status == LaunchStatus::Launched,
        "the slow server launched in the end: {slow_launch:?}"
    );
    let events = sfn_events(&dep, &execution).await?;
    let finish_entered = events
        .iter()
        .filter(|e| e.r#type() == &HistoryEventType::TaskStateEntered)
        .find(|e| {
            e.state_entered_event_details()
                .is_some_and(|d| d.name().to_lowercase().contains("finish"))
        })
        .context("the Finish state")?;
    let finish_at = event_time(finish_entered)?;
    ensure!(
        finish_at < slow_launch.launch_end_date_time,
        "finish ({finish_at}) must start while the slow server launches (until {})",
        slow_launch.launch_end_date_time
    );

    let terminate_jobs = assert_terminated_once(&dep, &execution, &ended).await?;
    let instances = dep.sim.recovery_instances();
    ensure!(
        instances.len() == 250 && instances.iter().all(|i| i.terminated_date_time.is_some()),
        "250 instances, all terminated"
    );
    let first_terminate = terminate_jobs
        .iter()
        .map(|j| j.creation_date_time)
        .min()
        .context("TERMINATE jobs")?;
    ensure!(
        first_terminate >= slow_launch.launch_end_date_time,
        "the clean-up waited for the launch job: first TERMINATE at {first_terminate}, launch ended {}",
        slow_launch.launch_end_date_time
    );
    // Within the quotas at every moment: servers in active jobs, concurrent jobs.
    let limits = Limits::default();
    let all_jobs = dep.sim.jobs();
    for job in &all_jobs {
        let at = job.creation_date_time;
        let active: Vec<&JobSnapshot> = all_jobs
            .iter()
            .filter(|j| j.creation_date_time <= at && j.end_date_time.is_none_or(|end| end > at))
            .collect();
        let servers: usize = active.iter().map(|j| j.servers.len()).sum();
        ensure!(
            servers <= limits.max_servers_in_active_jobs
                && active.len() <= limits.max_concurrent_jobs,
            "over the quotas when job {} started: {servers} servers in {} active jobs",
            job.job_id,
            active.len()
        );
    }
    let counters = dep.sim.counters();
    let op = "TerminateRecoveryInstances";
    ensure!(
        counters.errors_after_commit(op) == 1,
        "the first TERMINATE answer was lost: {counters:?}"
    );
    ensure!(
        counters.count(op, 200) + counters.errors_after_commit(op)
            == u64::try_from(terminate_jobs.len())?,
        "each TERMINATE job from one call: {counters:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 13. A required server's launch fails, with DRS's reason
// ---------------------------------------------------------------------------------------------

/// 13. A required server fails to launch for lack of EC2 capacity: the execution fails, and its
/// cause names the server and the reason from the job log, as the history does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_required_server_launch_fails_with_the_job_log_reason() -> Result<()> {
    let ids = server_ids("ci13", 2);
    let failing = ids[1].clone();
    let servers = vec![
        ServerSpec::new(ids[0].as_str(), 1.0),
        ServerSpec::new(failing.as_str(), 1.0).failing_with("capacity"),
    ];
    let mut dep = Deployment::new("chaos-launch-fails", SimConfig::with_servers(servers)).await?;
    let yaml = plan("launch-fails", &[Wave::new("only", &ids)], 10, false);
    let machine = dep.deploy_plan("launch-fails.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.status == ExecutionStatus::Failed,
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.WaveFailed"),
        "{}",
        describe(&ended)
    );
    let reason = "InsufficientInstanceCapacity";
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains(&failing) && cause.contains(reason) && !cause.contains(&ids[0]),
        "the cause names the failed server and DRS's reason: {cause}"
    );
    assert_each_launched_once(&dep, &execution, &ids)?;
    assert_jobs_recorded(&dep, &execution, &ended).await?;
    assert_no_conflicts(&dep)?;

    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(record["executionStatus"] == "FAILED", "{record}");
    let recorded_cause = record["cause"].as_str().unwrap_or_default();
    ensure!(
        recorded_cause.contains(&failing) && recorded_cause.contains(reason),
        "{record}"
    );
    let job_items: Vec<&Value> = history.jobs_of_wave(1).map(|(_, item)| item).collect();
    ensure!(job_items.len() == 1, "one JOB item: {job_items:?}");
    let server = &job_items[0]["servers"][failing.as_str()];
    ensure!(
        server["launchStatus"] == "FAILED"
            && server["failureReason"]
                .as_str()
                .is_some_and(|r| r.contains(reason)),
        "the JOB item keeps the failed server's reason: {server}"
    );
    let ok = &job_items[0]["servers"][ids[0].as_str()];
    ensure!(
        ok["launchStatus"] == "LAUNCHED" && ok["failureReason"].is_null(),
        "{ok}"
    );
    Ok(())
}
