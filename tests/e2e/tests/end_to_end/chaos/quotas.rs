//! DRS's quotas in the way of a wave: a big wave's second chunk refused by the
//! servers-in-active-jobs quota until it clears (or until the wave gives up, naming the quota
//! and the jobs made), and the concurrent-jobs quota full when a wave starts.

use super::*;

// ---------------------------------------------------------------------------------------------
// 5-6. A wave of 250 servers in three chunks
// ---------------------------------------------------------------------------------------------

/// 5. A wave of 250 servers (chunks of 100, 100, 50) whose second chunk is refused by the
/// servers-in-active-jobs quota: other jobs (150 servers, started after preflight, while a
/// first one-server wave launched) fill it. The start task waits with backoff; once the quota
/// is raised the second and third chunks launch, once each, and the drill succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_quota_refuses_the_second_chunk_until_it_clears() -> Result<()> {
    let warmup = server_ids("cb05w", 1);
    let big = server_ids("cb05b", 250);
    let mut servers = fleet(&warmup, 1.0);
    servers.extend(fleet(&big, 1.0));
    let config = SimConfig {
        limits: big_wave_limits(),
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("chaos-quota-chunk", config).await?;
    let yaml = plan(
        "quota-chunk",
        &[Wave::new("warmup", &warmup), Wave::new("big", &big)],
        10,
        false,
    );
    let machine = dep.deploy_plan("quota-chunk.plan.yaml", &yaml).await?;
    let active = BIG_WAVE_ACTIVE_SERVERS.to_string();
    dep.start_worker(&[("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str())])?;
    let execution = dep.start_execution(&machine, &drill()).await?;

    // Preflight is over once the warmup wave has its job: now another team's jobs take 150 of
    // the 300 servers (so 100 + 100 of the big wave do not fit).
    let sim = &dep.sim;
    eventually("the warmup wave's job", DRILL_TIMEOUT, POLL, || {
        let found = launch_jobs_of(&sim.jobs(), &execution)
            .iter()
            .any(|j| wave_of(j) == "warmup");
        async move { found.then_some(()) }
    })
    .await?;
    sim.add_background_jobs(&[BackgroundJobSpec::launch(150, 600.0)])
        .map_err(sim_error)?;
    eventually(
        "the big wave's second chunk refused by the quota",
        DRILL_TIMEOUT,
        POLL,
        || {
            let refused = sim.counters().count("StartRecovery", 402);
            async move { (refused > 0).then_some(()) }
        },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    let refused_at = OffsetDateTime::now_utc();
    ensure!(
        chunks_in_sim(&sim.jobs(), "big")
            .keys()
            .copied()
            .collect::<Vec<_>>()
            == vec![1],
        "only chunk 1 is launched when chunk 2 is refused: {:?}",
        chunks_in_sim(&sim.jobs(), "big").keys()
    );
    // The quota clears (raised, as after a quota increase).
    sim.set_limits(Limits {
        max_servers_in_active_jobs: 1000,
        ..big_wave_limits()
    })
    .map_err(sim_error)?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let mut all = warmup.clone();
    all.extend(big.iter().cloned());
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &all, &dep.worker_logs())
            .await?;
    let chunks = chunks_in_sim(&jobs, "big");
    let sizes: Vec<(u32, usize)> = chunks.iter().map(|(n, j)| (*n, j.servers.len())).collect();
    ensure!(
        sizes == vec![(1, 100), (2, 100), (3, 50)],
        "chunks of 100, 100, 50: {sizes:?}"
    );
    ensure!(
        chunks[&1].creation_date_time < refused_at && chunks[&2].creation_date_time > refused_at,
        "chunk 1 launched before the quota refused chunk 2 ({refused_at}), chunk 2 after: {} / {}",
        chunks[&1].creation_date_time,
        chunks[&2].creation_date_time
    );
    let counters = dep.sim.counters();
    ensure!(
        counters.calls("StartRecovery") == counters.count("StartRecovery", 402) + 4,
        "one call per job, plus the refused ones: {counters:?}"
    );
    Ok(())
}

/// 5b. The other way out of scenario 5: the quota never clears. A wave of 200 servers (two
/// chunks) whose second chunk is refused, other jobs holding 150 of the 300 servers in active
/// jobs for ten minutes and chunk 1's launches taking a minute: the start task waits with backoff within the wave's 12 s launch
/// timeout, then fails the execution with DrsWaves.QuotaExceeded naming the quota and the job
/// already made for chunk 1, which the history keeps (chunk 2 planned, without a job).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_quota_that_never_clears_fails_naming_the_quota_and_the_jobs_made() -> Result<()> {
    let warmup = server_ids("cb05x", 1);
    let big = server_ids("cb05y", 200);
    let mut servers = fleet(&warmup, 1.0);
    // Chunk 1's launches outlast the wave's launch timeout: its job keeps its servers in the
    // quota, so nothing frees room for chunk 2.
    servers.extend(fleet(&big, 60.0));
    let config = SimConfig {
        limits: big_wave_limits(),
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("chaos-quota-stuck", config).await?;
    let big_wave = Wave {
        launch_timeout_seconds: 12,
        ..Wave::new("big", &big)
    };
    let yaml = plan(
        "quota-stuck",
        &[Wave::new("warmup", &warmup), big_wave],
        10,
        false,
    );
    let machine = dep.deploy_plan("quota-stuck.plan.yaml", &yaml).await?;
    let active = BIG_WAVE_ACTIVE_SERVERS.to_string();
    dep.start_worker(&[("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str())])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let sim = &dep.sim;
    eventually("the warmup wave's job", DRILL_TIMEOUT, POLL, || {
        let found = launch_jobs_of(&sim.jobs(), &execution)
            .iter()
            .any(|j| wave_of(j) == "warmup");
        async move { found.then_some(()) }
    })
    .await?;
    sim.add_background_jobs(&[BackgroundJobSpec::launch(150, 600.0)])
        .map_err(sim_error)?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.status == ExecutionStatus::Failed
            && ended.error.as_deref() == Some("DrsWaves.QuotaExceeded"),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let jobs = launch_jobs_of(&dep.sim.jobs(), &execution);
    let chunks = chunks_in_sim(&jobs, "big");
    ensure!(
        chunks.keys().copied().collect::<Vec<_>>() == vec![1],
        "only chunk 1 launched: {:?}",
        chunks.keys()
    );
    let chunk1 = &chunks[&1];
    let mut launched = warmup.clone();
    launched.extend(big[..100].iter().cloned());
    assert_each_launched_once(&dep, &execution, &launched)?;
    assert_no_conflicts(&dep)?;
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains("ServiceQuotaExceeded")
            && cause.contains("active jobs")
            && cause.contains("(quota SourceServersInActiveJobs)")
            && cause.contains(&chunk1.job_id),
        "the cause names the quota (its quotaCode) and the job already made: {cause}"
    );
    ensure!(
        dep.sim.counters().count("StartRecovery", 402) >= 2,
        "the refused chunk was tried again before giving up: {:?}",
        dep.sim.counters()
    );
    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(
        record["executionStatus"] == "FAILED" && record["error"] == "DrsWaves.QuotaExceeded",
        "{record}"
    );
    let wave = history.wave(2)?;
    ensure!(
        wave["chunks"]["1"]["jobId"] == chunk1.job_id.as_str()
            && wave["chunks"]["2"]["jobId"].is_null()
            && strings(&wave["jobIds"]) == vec![chunk1.job_id.clone()],
        "chunk 1's job recorded, chunk 2 planned without one: {wave}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7. The concurrent-jobs quota full when a wave starts
// ---------------------------------------------------------------------------------------------

/// 7. Twenty jobs of another team fill the concurrent-jobs quota for 20 s just as the second
/// wave starts (they begin while the first wave launches, after preflight): the wave waits
/// with backoff, then launches once they have ended, and the drill succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_concurrent_jobs_quota_full_when_a_wave_starts() -> Result<()> {
    let warmup = server_ids("cc07w", 1);
    let second = server_ids("cc07s", 2);
    let mut servers = fleet(&warmup, 1.0);
    servers.extend(fleet(&second, 1.0));
    let mut dep =
        Deployment::new("chaos-concurrent-jobs", SimConfig::with_servers(servers)).await?;
    let yaml = plan(
        "concurrent-jobs",
        &[Wave::new("warmup", &warmup), Wave::new("second", &second)],
        10,
        false,
    );
    let machine = dep.deploy_plan("concurrent-jobs.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let sim = &dep.sim;
    eventually("the warmup wave's job", DRILL_TIMEOUT, POLL, || {
        let found = launch_jobs_of(&sim.jobs(), &execution)
            .iter()
            .any(|j| wave_of(j) == "warmup");
        async move { found.then_some(()) }
    })
    .await?;
    let max_jobs = Limits::default().max_concurrent_jobs;
    let background: Vec<BackgroundJobSpec> = (0..max_jobs)
        .map(|_| BackgroundJobSpec::launch(1, 20.0))
        .collect();
    let background_ids = sim.add_background_jobs(&background).map_err(sim_error)?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let mut all = warmup.clone();
    all.extend(second.iter().cloned());
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &all, &dep.worker_logs())
            .await?;
    let counters = dep.sim.counters();
    ensure!(
        counters.count("StartRecovery", 402) > 0,
        "the second wave met the full quota: {counters:?}"
    );
    let background_end = dep
        .sim
        .jobs()
        .iter()
        .filter(|j| background_ids.contains(&j.job_id))
        .filter_map(|j| j.end_date_time)
        .max()
        .context("the background jobs ended")?;
    let second_job = jobs
        .iter()
        .find(|j| wave_of(j) == "second")
        .context("the second wave's job")?;
    ensure!(
        second_job.creation_date_time >= background_end,
        "the second wave launched at {} while the quota was full (until {background_end})",
        second_job.creation_date_time
    );
    Ok(())
}
