//! Decisions after a failed wave (`onFailure: ask`): retry (only the failed server launches
//! again; a retry with nothing to launch again is refused), skip, stop, and a cancel that
//! answers the decision itself.

use super::*;

const ASK_OK: &str = "s-0e2000000000000a1";
const ASK_BAD: &str = "s-0e2000000000000a2";
const ASK_NEXT: &str = "s-0e2000000000000b1";

/// A two-wave plan whose first wave asks an operator when it fails; ASK_BAD fails to launch.
async fn ask_deployment(test: &str) -> Result<(Deployment, String)> {
    let servers = vec![
        ServerSpec::new(ASK_OK, 1.0),
        ServerSpec::new(ASK_BAD, 1.0).failing_with("capacity"),
        ServerSpec::new(ASK_NEXT, 1.0),
    ];
    deploy_plan_with_worker(
        test,
        servers,
        "asking",
        &format!(
            "  - name: pair\n    servers: {{ids: [{ASK_OK}, {ASK_BAD}]}}\n    onFailure: ask\n    maxAttempts: 2\n    decision: {{timeoutMinutes: 10}}\n  - name: after\n    servers: {{ids: [{ASK_NEXT}]}}\n"
        ),
    )
    .await
}

/// 4. A required server fails, the operator mends it (drs-sim's admin API) and answers retry:
/// the retry launches only that server, the wave and the drill succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_retries_a_failed_wave_and_only_the_failed_server_launches_again() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let (dep, machine) = ask_deployment("operator-retry").await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    let gate = wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    ensure!(
        gate["reason"].as_str().is_some_and(|r| r.contains(ASK_BAD)),
        "the decision says which server failed: {gate}"
    );
    assert_eq!(
        (gate["attempts"].as_u64(), gate["maxAttempts"].as_u64()),
        (Some(1), Some(2)),
        "{gate}"
    );
    ensure!(
        wave_jobs(&dep, &execution, "after").is_empty(),
        "wave 2 started before the decision"
    );
    dep.sim
        .set_fail_launch(
            &ServerSelector::Servers(vec![ASK_BAD.to_owned()]),
            false,
            None,
        )
        .map_err(sim_error)?;
    let told = operate(&dep, &execution, Act::Decide("retry")).await?;
    ensure!(
        told.contains("launch 2 of at most 2"),
        "drs-waves decide retry said: {told}"
    );

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let output = ended.output.clone().context("output")?;
    assert_eq!(output["result"]["outcome"], "SUCCEEDED", "{output}");
    let pair = wave_jobs(&dep, &execution, "pair");
    ensure!(
        pair.len() == 2,
        "wave 1: the launch and the retry: {pair:?}"
    );
    assert_eq!(
        servers_of(&pair[0]),
        vec![ASK_OK.to_owned(), ASK_BAD.to_owned()]
    );
    assert_eq!(
        servers_of(&pair[1]),
        vec![ASK_BAD.to_owned()],
        "the retry launches only the failed server"
    );
    ensure!(
        pair[1].servers[0].launch_status == drs_sim::LaunchStatus::Launched,
        "the mended server launched: {:?}",
        pair[1]
    );
    ensure!(
        wave_jobs(&dep, &execution, "after").len() == 1,
        "wave 2 ran"
    );
    let history = dep.history(&execution).await?;
    assert_eq!(
        history.wave(1)?["waveStatus"],
        "SUCCEEDED",
        "{:?}",
        history.wave(1)?
    );
    let record = history.execution()?;
    assert_eq!(record["executionStatus"], "SUCCEEDED", "{record}");
    assert_actions(record, &[("RETRY", Some(1))], caller(), since)?;
    assert_lock_free(&dep, "asking").await?;
    took(
        "operator_retries_a_failed_wave_and_only_the_failed_server_launches_again",
        since,
    );
    Ok(())
}

const SLOW: &str = "s-0e5000000000000a1";
const SLOW_NEXT: &str = "s-0e5000000000000b1";

/// 4b. A retry with nothing to launch again is refused by the CLI before anything is recorded
/// or sent (the start task would fail the execution over it): first while the wave's one
/// server is still launching after its wave timed out (the refusal names it and says to wait),
/// then once it has launched (nothing is left to retry). The execution still waits at its
/// decision; the operator skips, wave 2 runs. drs-sim made one job for the wave: no relaunch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_retry_with_nothing_to_launch_again_is_refused_and_the_decision_waits()
-> Result<()> {
    let since = OffsetDateTime::now_utc();
    let servers = vec![ServerSpec::new(SLOW, 25.0), ServerSpec::new(SLOW_NEXT, 1.0)];
    let (dep, machine) = deploy_plan_with_worker(
        "operator-retry-nothing",
        servers,
        "slowpoke",
        &format!(
            "  - name: slow\n    servers: {{ids: [{SLOW}]}}\n    launchTimeoutSeconds: 8\n    onFailure: ask\n    maxAttempts: 2\n    decision: {{timeoutMinutes: 10}}\n  - name: after\n    servers: {{ids: [{SLOW_NEXT}]}}\n"
        ),
    )
    .await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    let slow_job = || -> Result<JobSnapshot> {
        let jobs = wave_jobs(&dep, &execution, "slow");
        ensure!(jobs.len() == 1, "wave 1 has exactly one job: {jobs:?}");
        Ok(jobs[0].clone())
    };
    ensure!(
        slow_job()?.servers[0].launch_status != drs_sim::LaunchStatus::Launched,
        "the server was meant to be still launching at the decision: {:?}",
        slow_job()?
    );

    let (code, stdout, stderr) = drs_waves(&dep, &["decide", &execution, "retry"]).await?;
    ensure!(
        code != 0 && stderr.contains("still launching") && stderr.contains(SLOW),
        "a retry while the server still launches is refused, naming it (exit {code}):\n{stdout}\n{stderr}"
    );

    eventually(
        "the slow server to launch in drs-sim",
        Duration::from_secs(90),
        POLL,
        || {
            let launched = slow_job()
                .ok()
                .filter(|j| j.servers[0].launch_status == drs_sim::LaunchStatus::Launched);
            async move { launched }
        },
    )
    .await?;
    let (code, stdout, stderr) = drs_waves(&dep, &["decide", &execution, "retry"]).await?;
    ensure!(
        code != 0 && stderr.contains("every required server launched"),
        "a retry with every server launched is refused (exit {code}):\n{stdout}\n{stderr}"
    );
    let record = execution_record(&dep, &execution).await?;
    ensure!(
        pending_gate(&record).is_some_and(|g| g["kind"] == "DECISION"),
        "the execution still waits for its decision: {record}"
    );
    assert_actions(&record, &[], caller(), since)?;

    operate(&dep, &execution, Act::Decide("skip")).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    ensure!(
        wave_jobs(&dep, &execution, "slow").len() == 1,
        "no relaunch of wave 1: {:?}",
        wave_jobs(&dep, &execution, "slow")
    );
    ensure!(
        wave_jobs(&dep, &execution, "after").len() == 1,
        "wave 2 ran"
    );
    let record = execution_record(&dep, &execution).await?;
    assert_actions(&record, &[("SKIP", Some(1))], caller(), since)?;
    assert_lock_free(&dep, "slowpoke").await?;
    took(
        "operator_retry_with_nothing_to_launch_again_is_refused_and_the_decision_waits",
        since,
    );
    Ok(())
}

/// 5. The operator skips the failed wave: it is recorded SKIPPED, wave 2 runs, and the drill
/// ends SUCCEEDED_WITH_FAILURES.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_skips_a_failed_wave_and_the_next_wave_runs() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let (dep, machine) = ask_deployment("operator-skip").await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    let follower = Follower::start(&dep, &execution)?;
    let told = operate(&dep, &execution, Act::Decide("skip")).await?;
    ensure!(
        told.contains("Skipped wave 1 'pair'"),
        "drs-waves decide skip said: {told}"
    );

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let output = ended.output.clone().context("output")?;
    assert_eq!(
        output["result"]["outcome"], "SUCCEEDED_WITH_FAILURES",
        "{output}"
    );
    assert_eq!(output["waves"]["w1"]["status"], "SKIPPED", "{output}");
    ensure!(
        wave_jobs(&dep, &execution, "pair").len() == 1,
        "wave 1 launched once"
    );
    ensure!(
        wave_jobs(&dep, &execution, "after").len() == 1,
        "wave 2 ran"
    );
    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    assert_eq!(
        record["executionStatus"], "SUCCEEDED_WITH_FAILURES",
        "{record}"
    );
    assert_eq!(record["waveStatuses"]["pair"], "SKIPPED", "{record}");
    // The wave's own item says SKIPPED too (finish closes it) and keeps why it failed.
    assert_eq!(
        history.wave(1)?["waveStatus"],
        "SKIPPED",
        "{:?}",
        history.wave(1)?
    );
    ensure!(
        history.wave(1)?["reason"]
            .as_str()
            .is_some_and(|r| r.contains(ASK_BAD)),
        "{:?}",
        history.wave(1)?
    );
    assert_actions(record, &[("SKIP", Some(1))], caller(), since)?;
    assert_lock_free(&dep, "asking").await?;
    follower.assert_end(0, "SUCCEEDED_WITH_FAILURES").await?;
    took("operator_skips_a_failed_wave_and_the_next_wave_runs", since);
    Ok(())
}

/// 6. The operator answers stop: the drill ends STOPPED, its instance is terminated, wave 2
/// never launched, the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_decides_stop_after_a_failed_wave() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let (dep, machine) = ask_deployment("operator-decide-stop").await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    operate(&dep, &execution, Act::Decide("stop")).await?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_failed_with(&ended, "DrsWaves.StoppedByOperator", &dep)?;
    ensure!(
        ended.cause.as_deref().is_some_and(
            |c| c.contains("decision after wave 1 'pair' failed") && c.contains(caller())
        ),
        "the cause names the decision and who stopped: {:?}",
        ended.cause
    );
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "STOPPED", "{record}");
    assert_actions(&record, &[("STOP", Some(1))], caller(), since)?;
    ensure!(
        wave_jobs(&dep, &execution, "after").is_empty(),
        "wave 2 launched after the stop"
    );
    assert_all_terminated(&dep, &wave_jobs(&dep, &execution, "pair")).await?;
    assert_lock_free(&dep, "asking").await?;
    took("operator_decides_stop_after_a_failed_wave", since);
    Ok(())
}

/// 7. A cancel while the drill waits for a decision answers the decision itself (the CLI
/// fails the gate's task with DrsWaves.Cancelled): CANCELLED, the instance that launched is
/// terminated, wave 2 never starts, and a second cancel changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cancels_a_drill_waiting_for_a_decision() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let (dep, machine) = ask_deployment("operator-cancel-decision").await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    let told = operate(&dep, &execution, Act::Cancel).await?;
    ensure!(
        told.contains("at the decision of wave 1 'pair'"),
        "drs-waves cancel said: {told}"
    );

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_failed_with(&ended, "DrsWaves.Cancelled", &dep)?;
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "CANCELLED", "{record}");
    ensure!(
        pending_gate(&record).is_none(),
        "the decision is still pending: {record}"
    );
    assert_actions(&record, &[("CANCEL", Some(1))], caller(), since)?;
    ensure!(
        wave_jobs(&dep, &execution, "after").is_empty(),
        "wave 2 launched after the cancel"
    );
    assert_all_terminated(&dep, &wave_jobs(&dep, &execution, "pair")).await?;
    assert_lock_free(&dep, "asking").await?;
    let (code, stdout, stderr) = drs_waves(&dep, &["cancel", &execution]).await?;
    ensure!(
        code != 0 && stderr.contains("nothing to cancel"),
        "a cancel of an ended execution exited {code}: {stdout}{stderr}"
    );
    assert_actions(
        &execution_record(&dep, &execution).await?,
        &[("CANCEL", Some(1))],
        caller(),
        since,
    )?;
    took("operator_cancels_a_drill_waiting_for_a_decision", since);
    Ok(())
}
