//! Cancels while a wave launches: a drill cancelled in wave 2 is cleaned up; a cancelled
//! RECOVERY keeps its instances.

use super::*;

const CANCEL_W1: &str = "s-0e3000000000000a1";
const CANCEL_W2: &str = "s-0e3000000000000b1";
const CANCEL_W3: &str = "s-0e3000000000000c1";

/// A three-wave plan; wave 2's launch takes `w2_seconds`.
async fn cancel_deployment(test: &str, w2_seconds: f64) -> Result<(Deployment, String)> {
    let servers = vec![
        ServerSpec::new(CANCEL_W1, 1.0),
        ServerSpec::new(CANCEL_W2, w2_seconds),
        ServerSpec::new(CANCEL_W3, 1.0),
    ];
    deploy_plan_with_worker(
        test,
        servers,
        "cancelled",
        &format!(
            "  - name: one\n    servers: {{ids: [{CANCEL_W1}]}}\n  - name: two\n    servers: {{ids: [{CANCEL_W2}]}}\n  - name: three\n    servers: {{ids: [{CANCEL_W3}]}}\n"
        ),
    )
    .await
}

/// Waits until wave `wave` of the execution has a launch job in drs-sim.
async fn wait_for_wave_job(dep: &Deployment, execution: &str, wave: &str) -> Result<()> {
    eventually(
        &format!("a launch job of wave {wave}"),
        DRILL_TIMEOUT,
        POLL,
        || async move { (!wave_jobs(dep, execution, wave).is_empty()).then_some(()) },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))
}

/// 8. A drill cancelled while wave 2 launches: the next task sees the cancel, the execution
/// ends CANCELLED, every instance of the drill is terminated, the lock is free, wave 3 never
/// starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cancels_a_drill_in_wave_two() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let (dep, machine) = cancel_deployment("operator-cancel-drill", 3.0).await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    let follower = Follower::start(&dep, &execution)?;
    wait_for_wave_job(&dep, &execution, "two").await?;
    let told = operate(&dep, &execution, Act::Cancel).await?;
    ensure!(told.contains("requested"), "drs-waves cancel said: {told}");

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_failed_with(&ended, "DrsWaves.Cancelled", &dep)?;
    ensure!(
        ended.cause.as_deref().is_some_and(|c| c.contains(caller())),
        "the cause names who cancelled: {:?}",
        ended.cause
    );
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "CANCELLED", "{record}");
    assert_actions(&record, &[("CANCEL", None)], caller(), since)?;
    // The wave that was launching has no verdict of its own: it is INTERRUPTED, in the record
    // and in its own item, with why.
    assert_eq!(record["waveStatuses"]["two"], "INTERRUPTED", "{record}");
    let history = dep.history(&execution).await?;
    assert_eq!(
        history.wave(2)?["waveStatus"],
        "INTERRUPTED",
        "{:?}",
        history.wave(2)?
    );
    ensure!(
        history.wave(2)?["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cancelled")),
        "{:?}",
        history.wave(2)?
    );
    ensure!(
        wave_jobs(&dep, &execution, "three").is_empty(),
        "wave 3 launched after the cancel"
    );
    assert_all_terminated(&dep, &launch_jobs(&dep, &execution)).await?;
    assert_lock_free(&dep, "cancelled").await?;
    follower.assert_end(3, "CANCELLED").await?;
    took("operator_cancels_a_drill_in_wave_two", since);
    Ok(())
}

/// 9. A RECOVERY cancelled while wave 2 launches: CANCELLED, and nothing is terminated (its
/// instances are production now).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cancels_a_recovery_and_nothing_is_terminated() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let (dep, machine) = cancel_deployment("operator-cancel-recovery", 3.0).await?;
    let execution = dep
        .start_execution(
            &machine,
            &json!({"mode": "RECOVERY", "confirm": "cancelled"}),
        )
        .await?;
    let follower = Follower::start(&dep, &execution)?;
    wait_for_wave_job(&dep, &execution, "two").await?;
    let told = operate(&dep, &execution, Act::Cancel).await?;
    ensure!(told.contains("requested"), "drs-waves cancel said: {told}");

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_failed_with(&ended, "DrsWaves.Cancelled", &dep)?;
    ensure!(
        ended.cause.as_deref().is_some_and(|c| c.contains(caller())),
        "the cause names who cancelled: {:?}",
        ended.cause
    );
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "CANCELLED", "{record}");
    assert_actions(&record, &[("CANCEL", None)], caller(), since)?;
    // The wave that was launching has no verdict of its own: it is INTERRUPTED, in the record
    // and in its own item, with why.
    assert_eq!(record["waveStatuses"]["two"], "INTERRUPTED", "{record}");
    let history = dep.history(&execution).await?;
    assert_eq!(
        history.wave(2)?["waveStatus"],
        "INTERRUPTED",
        "{:?}",
        history.wave(2)?
    );
    ensure!(
        history.wave(2)?["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cancelled")),
        "{:?}",
        history.wave(2)?
    );
    ensure!(
        wave_jobs(&dep, &execution, "three").is_empty(),
        "wave 3 launched after the cancel"
    );
    assert_lock_free(&dep, "cancelled").await?;
    follower.assert_end(3, "CANCELLED").await?;
    // Wave 2's launch ends on its own; then nothing of the recovery is terminated.
    let sim = &dep.sim;
    let execution_ref = &execution;
    let jobs = eventually(
        "the recovery's launch jobs to end",
        Duration::from_secs(30),
        POLL,
        || async move {
            let jobs = launch_jobs_of_sim(sim, execution_ref);
            jobs.iter()
                .all(|j| j.end_date_time.is_some())
                .then_some(jobs)
        },
    )
    .await?;
    ensure!(jobs.len() == 2, "waves 1 and 2 launched: {jobs:?}");
    let terminate: Vec<JobSnapshot> = dep
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == "TERMINATE")
        .collect();
    ensure!(
        terminate.is_empty(),
        "a recovery's instances are never terminated: {terminate:?}"
    );
    let instances = dep.sim.recovery_instances();
    ensure!(
        instances.len() == 2
            && instances
                .iter()
                .all(|i| !i.is_drill && i.terminated_date_time.is_none()),
        "the recovery's two instances stand: {instances:?}"
    );
    ensure!(
        record["terminateJobIds"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{record}"
    );
    took(
        "operator_cancels_a_recovery_and_nothing_is_terminated",
        since,
    );
    Ok(())
}
