//! Answers lost after DRS did the work: StartRecovery and TerminateRecoveryInstances answered
//! 500, or their connection closed, after the job was made. The retry finds the job instead of
//! making a second one.

use super::*;

// ---------------------------------------------------------------------------------------------
// 1-2. StartRecovery's answer lost after the job was made
// ---------------------------------------------------------------------------------------------

/// Two waves of two servers; each wave's StartRecovery is carried out and then answered
/// `fault`: the worker finds each job by its tags in the same attempt, sends StartRecovery
/// once per chunk, and the drill succeeds with every server launched once.
async fn lost_start_recovery_answer(test: &str, prefix: &str, fault: FaultSpec) -> Result<()> {
    let ids = server_ids(prefix, 4);
    let config = SimConfig {
        faults: per_operation("StartRecovery", fault),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new(test, config).await?;
    let yaml = plan(
        "lost-start",
        &[
            Wave::new("first", &ids[..2]),
            Wave::new("second", &ids[2..]),
        ],
        10,
        false,
    );
    let machine = dep.deploy_plan("lost-start.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs())
            .await?;
    let counters = dep.sim.counters();
    let lost = counters.errors_after_commit("StartRecovery")
        + counters.drops_after_commit("StartRecovery");
    ensure!(lost == 2, "both waves' answers were lost: {counters:?}");
    ensure!(
        jobs.len() == 2 && counters.calls("StartRecovery") == 2,
        "StartRecovery is sent once per chunk, never retried: {} calls, {} jobs",
        counters.calls("StartRecovery"),
        jobs.len()
    );
    Ok(())
}

/// 1. StartRecovery answered 500 after DRS made the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_start_recovery_answered_500_after_the_job_was_made() -> Result<()> {
    lost_start_recovery_answer(
        "chaos-start-500",
        "ca01",
        FaultSpec {
            error_after_commit_next: 2,
            ..FaultSpec::default()
        },
    )
    .await
}

/// 2. StartRecovery's connection closed without an answer after DRS made the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_start_recovery_connection_closed_after_the_job_was_made() -> Result<()> {
    lost_start_recovery_answer(
        "chaos-start-drop",
        "ca02",
        FaultSpec {
            drop_after_commit_next: 2,
            ..FaultSpec::default()
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// 3-4. TerminateRecoveryInstances' answer lost after the job was made
// ---------------------------------------------------------------------------------------------

/// A drill of four servers that terminates its instances, two per TERMINATE job; the first
/// TerminateRecoveryInstances is carried out and answered `fault`: the drill succeeds, every
/// instance is terminated by exactly one job, every TERMINATE job is recorded.
async fn lost_terminate_answer(test: &str, prefix: &str, fault: FaultSpec) -> Result<()> {
    let ids = server_ids(prefix, 4);
    let config = SimConfig {
        faults: per_operation("TerminateRecoveryInstances", fault),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new(test, config).await?;
    let yaml = plan(
        "lost-terminate",
        &[
            Wave::new("first", &ids[..2]),
            Wave::new("second", &ids[2..]),
        ],
        10,
        true,
    );
    let machine = dep.deploy_plan("lost-terminate.plan.yaml", &yaml).await?;
    // Two instances per TERMINATE job: the lost answer is the first of two.
    dep.start_worker(&[("DRS_WAVES_MAX_SERVERS_PER_JOB", "2")])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs()).await?;
    let terminate_jobs = assert_terminated_once(&dep, &execution, &ended).await?;
    let counters = dep.sim.counters();
    let op = "TerminateRecoveryInstances";
    ensure!(
        counters.errors_after_commit(op) + counters.drops_after_commit(op) == 1,
        "one answer was lost: {counters:?}"
    );
    ensure!(
        terminate_jobs.len() == 2 && counters.calls(op) == 2,
        "TerminateRecoveryInstances is sent once per job: {} calls, {} jobs",
        counters.calls(op),
        terminate_jobs.len()
    );
    Ok(())
}

/// 3. TerminateRecoveryInstances answered 500 after DRS made the TERMINATE job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_terminate_answered_500_after_the_job_was_made() -> Result<()> {
    lost_terminate_answer(
        "chaos-terminate-500",
        "ca03",
        FaultSpec {
            error_after_commit_next: 1,
            ..FaultSpec::default()
        },
    )
    .await
}

/// 4. TerminateRecoveryInstances' connection closed after DRS made the TERMINATE job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_terminate_connection_closed_after_the_job_was_made() -> Result<()> {
    lost_terminate_answer(
        "chaos-terminate-drop",
        "ca04",
        FaultSpec {
            drop_after_commit_next: 1,
            ..FaultSpec::default()
        },
    )
    .await
}
