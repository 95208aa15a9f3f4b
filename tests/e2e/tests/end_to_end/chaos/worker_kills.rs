//! Workers that die mid-task: killed between two chunks of a wave, after StartRecovery while
//! the job lists no servers yet, SIGKILLed while holding a start task beside another worker,
//! one of three workers running ten executions, and exits at the worker's fault points. A new
//! or surviving worker takes the task over and finds the jobs already made.

use super::*;

/// 6. The same 250-server wave, with the worker killed between two chunks (after chunk 1's job
/// is recorded, before chunk 2 is sent): a new worker takes the task over after its heartbeat
/// timeout and launches chunks 2 and 3 only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_killed_between_two_chunks_of_a_wave() -> Result<()> {
    let big = server_ids("cb06b", 250);
    let config = SimConfig {
        limits: big_wave_limits(),
        ..SimConfig::with_servers(fleet(&big, 1.0))
    };
    let mut dep = Deployment::new("chaos-between-chunks", config).await?;
    let yaml = plan(
        "between-chunks",
        &[Wave::new("big", &big)],
        KILL_HEARTBEAT_SECONDS,
        false,
    );
    let machine = dep.deploy_plan("between-chunks.plan.yaml", &yaml).await?;
    let active = BIG_WAVE_ACTIVE_SERVERS.to_string();
    let fault = "exit-between-chunks";
    dep.start_worker(&[
        ("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str()),
        ("DRS_WAVES_TEST_FAULT", fault),
    ])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    wait_for_fault_exit(dep.worker().context("worker")?, fault).await?;
    dep.discard_worker();
    let before = chunks_in_sim(&dep.sim.jobs(), "big");
    ensure!(
        before.keys().copied().collect::<Vec<_>>() == vec![1],
        "the worker died after chunk 1: {:?}",
        before.keys()
    );
    let history = dep.history(&execution).await?;
    let recorded = &history.wave(1)?["chunks"];
    ensure!(
        recorded["1"]["jobId"] == before[&1].job_id.as_str()
            && recorded["2"]["jobId"].is_null()
            && recorded["3"]["jobId"].is_null(),
        "chunk 1's job is recorded, chunks 2 and 3 are planned without one: {recorded}"
    );

    dep.start_worker(&[("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str())])?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &big, &dep.worker_logs())
            .await?;
    let chunks = chunks_in_sim(&jobs, "big");
    let sizes: Vec<(u32, usize)> = chunks.iter().map(|(n, j)| (*n, j.servers.len())).collect();
    ensure!(
        sizes == vec![(1, 100), (2, 100), (3, 50)],
        "chunks of 100, 100, 50: {sizes:?}"
    );
    ensure!(
        chunks[&1].job_id == before[&1].job_id,
        "chunk 1 is the dead worker's job"
    );
    ensure!(
        dep.sim.counters().calls("StartRecovery") == 3,
        "three StartRecovery calls in all: {:?}",
        dep.sim.counters()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 8. A retried start finds its job PENDING with no participants yet
// ---------------------------------------------------------------------------------------------

/// 8. DRS lists a new job's servers only after 40 s. The worker dies right after
/// StartRecovery returned (before recording the job); a second worker retries the start task
/// while the job is still PENDING with no participatingServers, adopts it by its tags, and the
/// checks wait for it: no second job, and the drill succeeds.
///
/// The retry comes after the heartbeat timeout (6 s) and the Retry interval (2 s); LocalStack
/// may first hand it to the dead worker's open long poll (one: it polls with one poller),
/// which costs another timeout and interval (6 s + 4 s): about 18 s, hence the 40 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_retried_start_finds_its_job_pending_without_participants() -> Result<()> {
    let ids = server_ids("cd08", 2);
    let config = SimConfig {
        timings: Timings {
            participants_delay_seconds: 40.0,
            ..Timings::default()
        },
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new("chaos-no-participants", config).await?;
    let yaml = plan(
        "no-participants",
        &[Wave::new("only", &ids)],
        KILL_HEARTBEAT_SECONDS,
        false,
    );
    let machine = dep.deploy_plan("no-participants.plan.yaml", &yaml).await?;
    let fault = "exit-after-start-recovery";
    dep.start_worker(&[
        ("DRS_WAVES_TEST_FAULT", fault),
        ("DRS_WAVES_POLLERS_PER_ACTIVITY", "1"),
    ])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    wait_for_fault_exit(dep.worker().context("worker")?, fault).await?;
    dep.discard_worker();
    let jobs = launch_jobs_of(&dep.sim.jobs(), &execution);
    ensure!(jobs.len() == 1, "one job before the retry: {jobs:?}");
    let job = jobs[0].clone();

    dep.start_worker(&[])?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs()).await?;
    ensure!(
        dep.sim.counters().calls("StartRecovery") == 1,
        "the retry sent no StartRecovery: {:?}",
        dep.sim.counters()
    );
    // The retried start answered while the job still listed no servers.
    let events = sfn_events(&dep, &execution).await?;
    let start_answered = events
        .iter()
        .filter(|e| e.r#type() == &HistoryEventType::ActivitySucceeded)
        .find(|e| {
            e.activity_succeeded_event_details()
                .and_then(|d| d.output())
                .is_some_and(|o| o.contains(&job.job_id))
        })
        .context("the start task's ActivitySucceeded")?;
    let answered_at = event_time(start_answered)?;
    ensure!(
        answered_at < job.participants_listed_date_time,
        "the retried start answered at {answered_at}, after the job listed its servers at {}: \
         the scenario needs a longer participants delay",
        job.participants_listed_date_time
    );
    ensure!(
        events
            .iter()
            .any(|e| e.r#type() == &HistoryEventType::ActivityTimedOut),
        "the dead worker's start task timed out and was retried"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 9-10. Several workers, one of them SIGKILLed
// ---------------------------------------------------------------------------------------------

/// 9. Two workers poll the same activities. StartRecovery takes 3 s (latency); the worker that
/// holds the first start task is SIGKILLed once the wave's chunks are planned (so at or just
/// before StartRecovery). The other takes the task over after the heartbeat timeout; the same
/// execution succeeds, nothing launched twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_sigkilled_while_holding_a_start_task() -> Result<()> {
    let ids = server_ids("ce09", 4);
    let config = SimConfig {
        faults: per_operation(
            "StartRecovery",
            FaultSpec {
                latency_ms: 3000,
                ..FaultSpec::default()
            },
        ),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let dep = Deployment::new("chaos-sigkill-start", config).await?;
    let yaml = plan(
        "sigkill-start",
        &[
            Wave::new("first", &ids[..2]),
            Wave::new("second", &ids[2..]),
        ],
        KILL_HEARTBEAT_SECONDS,
        false,
    );
    let machine = dep.deploy_plan("sigkill-start.plan.yaml", &yaml).await?;
    let mut workers = vec![Worker::start(&dep, 1, &[])?, Worker::start(&dep, 2, &[])?];
    let execution = dep.start_execution(&machine, &drill()).await?;

    let workers_ref = &workers;
    let holder = eventually(
        "a worker to start the first start task",
        DRILL_TIMEOUT,
        POLL,
        || {
            let holder = workers_ref
                .iter()
                .position(|w| w.started_task(Activity::StartWave));
            async move { holder }
        },
    )
    .await?;
    // The chunks are planned in the history just before StartRecovery is sent.
    let dep_ref = &dep;
    let execution_ref = &execution;
    eventually(
        "the first wave's chunks planned",
        DRILL_TIMEOUT,
        POLL,
        || async move {
            let history = dep_ref.history(execution_ref).await.ok()?;
            history
                .wave_if_any(1)
                .is_some_and(|w| w["chunks"].is_object())
                .then_some(())
        },
    )
    .await?;
    let status = workers[holder].guard.kill();
    ensure!(
        status.is_some_and(|s| !s.success()),
        "worker {} was SIGKILLed: {status:?}",
        holder + 1
    );

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let logs = logs_of(&workers);
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &logs).await?;
    ensure!(
        workers[1 - holder].started_task(Activity::StartWave),
        "the other worker ran the start task\n{logs}"
    );
    let events = sfn_events(&dep, &execution).await?;
    ensure!(
        events
            .iter()
            .any(|e| e.r#type() == &HistoryEventType::ActivityTimedOut),
        "the killed worker's task timed out and was retried by the other\n{logs}"
    );
    for w in &mut workers {
        w.guard.kill();
    }
    Ok(())
}

/// 10. Ten plans, one execution each, spread over three workers; one worker is SIGKILLed
/// halfway (when half of the launches exist). Every execution succeeds, every server launched
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_ten_executions_on_three_workers_one_killed_halfway() -> Result<()> {
    const PLANS: usize = 10;
    let fleets: Vec<Vec<String>> = (1..=PLANS)
        .map(|p| server_ids(&format!("cf10p{p:02}"), 2))
        .collect();
    let servers: Vec<ServerSpec> = fleets.iter().flat_map(|f| fleet(f, 1.5)).collect();
    let dep = Deployment::new("chaos-ten-on-three", SimConfig::with_servers(servers)).await?;
    let mut machines = Vec::new();
    for (p, ids) in fleets.iter().enumerate() {
        let name = format!("fleet-{:02}", p + 1);
        let yaml = plan(
            &name,
            &[
                Wave::new("first", &ids[..1]),
                Wave::new("second", &ids[1..]),
            ],
            KILL_HEARTBEAT_SECONDS,
            false,
        );
        machines.push(dep.deploy_plan(&format!("{name}.plan.yaml"), &yaml).await?);
    }
    let mut workers = Vec::new();
    for n in 1..=3 {
        workers.push(Worker::start(&dep, n, &[])?);
    }
    let mut executions = Vec::new();
    for machine in &machines {
        executions.push(dep.start_execution(machine, &drill()).await?);
    }
    let total_launches = PLANS * 2;
    let sim = &dep.sim;
    eventually("half of the launches", DRILL_TIMEOUT, POLL, || {
        let launched = sim.jobs().iter().filter(|j| j.job_type == "LAUNCH").count();
        async move { (launched * 2 >= total_launches).then_some(()) }
    })
    .await?;
    // Which worker Step Functions hands a task to is its choice, not ours: kill one that has
    // taken part (the busiest), so the kill always lands on work in flight.
    let busiest = (0..workers.len())
        .max_by_key(|&w| workers[w].tasks_started())
        .expect("three workers");
    ensure!(
        workers[busiest].tasks_started() > 0,
        "some worker had taken part by the time half of the launches existed\n{}",
        logs_of(&workers)
    );
    let status = workers[busiest].guard.kill();
    ensure!(status.is_some(), "worker {} was running", busiest + 1);

    let mut ended = Vec::new();
    for execution in &executions {
        ended.push(dep.wait_for_end(execution, DRILL_TIMEOUT).await?);
    }
    let logs = logs_of(&workers);
    for ((execution, ended), ids) in executions.iter().zip(&ended).zip(&fleets) {
        assert_launched_once_and_succeeded(&dep, execution, ended, ids, &logs).await?;
    }
    for w in &mut workers {
        w.guard.kill();
    }
    Ok(())
}

/// The worker dies right after StartRecovery returned (`exit-after-start-recovery`), or right
/// after it recorded the job in the history (`exit-after-history-write`), before it answered
/// anything; a new worker picks the retried task up and finds the job instead of launching a
/// second one. (Scenario 5 of the end-to-end suite; one test per fault point, so that the two
/// heartbeat timeouts they wait for run side by side.)
async fn worker_exits_at_a_fault_point_and_the_retry_finds_its_job(fault: &str) -> Result<()> {
    let mut dep =
        Deployment::new(fault, SimConfig::with_servers(billing_servers(&[], 1.0))).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[("DRS_WAVES_TEST_FAULT", fault)])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    wait_for_fault_exit(dep.worker().context("worker")?, fault).await?;
    dep.discard_worker();
    assert_eq!(
        dep.sim.jobs().len(),
        1,
        "{fault}: exactly one job before the restart"
    );

    dep.start_worker(&[])?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT * 2).await?;
    ensure!(
        ended.succeeded(),
        "{fault}: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    for (wave, jobs) in launch_jobs_by_wave(&dep.sim.jobs()) {
        assert_eq!(
            jobs.len(),
            1,
            "{fault}: wave {wave} has {} jobs",
            jobs.len()
        );
    }
    let output = ended.output.context("output")?;
    assert_eq!(
        job_ids_in_output(&output, "w1"),
        vec![dep.sim.jobs()[0].job_id.clone()]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_exits_after_start_recovery_and_the_retry_finds_its_job() -> Result<()> {
    worker_exits_at_a_fault_point_and_the_retry_finds_its_job("exit-after-start-recovery").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_exits_after_the_history_write_and_the_retry_finds_its_job() -> Result<()> {
    worker_exits_at_a_fault_point_and_the_retry_finds_its_job("exit-after-history-write").await
}
