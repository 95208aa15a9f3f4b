//! Approval gates: an operator approves one and the wave starts only then, stops at one and
//! the drill is cleaned up, or nobody answers and the gate times out before any wave starts.

use super::*;

const GATE_W1: &str = "s-0e1000000000000a1";
const GATE_W2: &str = "s-0e1000000000000b1";

/// 1. An approval gate before wave 2: nothing of wave 2 is launched until an operator
/// approves; then it runs and the drill succeeds. The history records the APPROVE and who.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_approves_a_gate_and_the_wave_starts_only_then() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let servers = vec![ServerSpec::new(GATE_W1, 1.0), ServerSpec::new(GATE_W2, 1.0)];
    let (dep, machine) = deploy_plan_with_worker(
        "operator-approve",
        servers,
        "gated",
        &format!(
            "  - name: first\n    servers: {{ids: [{GATE_W1}]}}\n  - name: second\n    servers: {{ids: [{GATE_W2}]}}\n    approval: {{before: true, timeoutMinutes: 10}}\n"
        ),
    )
    .await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    let follower = Follower::start(&dep, &execution)?;

    let gate = wait_for_gate(&dep, &execution, "APPROVAL", 2).await?;
    assert_eq!(gate["waveName"], "second", "{gate}");
    ensure!(
        wave_jobs(&dep, &execution, "first").len() == 1,
        "wave 1 ran before the gate"
    );
    ensure!(
        wave_jobs(&dep, &execution, "second").is_empty(),
        "wave 2 launched before the approval"
    );
    let approved_at = OffsetDateTime::now_utc();
    let told = operate(&dep, &execution, Act::Approve).await?;
    ensure!(
        told.contains("Approved wave 2 'second'"),
        "drs-waves approve said: {told}"
    );
    // A gate is answered once: a second approval is refused and says why.
    let (code, stdout, stderr) = drs_waves(&dep, &["approve", &execution]).await?;
    ensure!(
        code != 0 && stderr.contains("does not wait at an approval gate"),
        "a second approve exited {code}: {stdout}{stderr}"
    );

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let second = wave_jobs(&dep, &execution, "second");
    ensure!(second.len() == 1, "wave 2 launched once: {second:?}");
    ensure!(
        second[0].creation_date_time >= approved_at,
        "wave 2's job was made at {}, before the approval at {approved_at}",
        second[0].creation_date_time
    );
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "SUCCEEDED", "{record}");
    ensure!(
        pending_gate(&record).is_none(),
        "the gate is still pending: {record}"
    );
    assert_actions(&record, &[("APPROVE", Some(2))], caller(), since)?;
    let output = ended.output.context("output")?;
    let in_output = &output["result"]["operatorActions"];
    ensure!(
        in_output.as_array().is_some_and(|a| a.len() == 1) && in_output[0]["by"] == caller(),
        "the execution's output shows the approval: {output}"
    );
    assert_lock_free(&dep, "gated").await?;
    follower.assert_end(0, "SUCCEEDED").await?;
    took(
        "operator_approves_a_gate_and_the_wave_starts_only_then",
        since,
    );
    Ok(())
}

/// 2. An operator stops at the gate before wave 2: the execution ends STOPPED, the drill's
/// wave-1 instance is terminated, the lock is free, and wave 2 never launched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_stops_at_a_gate_and_the_drill_is_cleaned_up() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let servers = vec![ServerSpec::new(GATE_W1, 1.0), ServerSpec::new(GATE_W2, 1.0)];
    let (dep, machine) = deploy_plan_with_worker(
        "operator-stop",
        servers,
        "gated",
        &format!(
            "  - name: first\n    servers: {{ids: [{GATE_W1}]}}\n  - name: second\n    servers: {{ids: [{GATE_W2}]}}\n    approval: {{before: true, timeoutMinutes: 10}}\n"
        ),
    )
    .await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    let follower = Follower::start(&dep, &execution)?;
    wait_for_gate(&dep, &execution, "APPROVAL", 2).await?;
    operate(&dep, &execution, Act::Stop).await?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_failed_with(&ended, "DrsWaves.StoppedByOperator", &dep)?;
    ensure!(
        ended.cause.as_deref().is_some_and(|c| c
            .contains("approval gate of wave 2 'second'")
            && c.contains(caller())),
        "the cause names the gate and who stopped: {:?}",
        ended.cause
    );
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "STOPPED", "{record}");
    assert_actions(&record, &[("STOP", Some(2))], caller(), since)?;
    ensure!(
        wave_jobs(&dep, &execution, "second").is_empty(),
        "wave 2 launched after the stop"
    );
    assert_all_terminated(&dep, &wave_jobs(&dep, &execution, "first")).await?;
    assert_lock_free(&dep, "gated").await?;
    follower.assert_end(3, "STOPPED").await?;
    took(
        "operator_stops_at_a_gate_and_the_drill_is_cleaned_up",
        since,
    );
    Ok(())
}

/// 3. Nobody answers the gate before wave 1 (timeoutMinutes 0.1: 6 s): the execution fails
/// with DrsWaves.GateTimedOut naming the gate, and nothing is ever launched. Beside it, a
/// decision nobody answers (a second plan on the same deployment) fails the same way, naming
/// the decision, and its next wave never starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_gate_times_out_and_no_wave_starts() -> Result<()> {
    let started = OffsetDateTime::now_utc();
    let servers = vec![
        ServerSpec::new(GATE_W1, 1.0),
        ServerSpec::new(GATE_W2, 1.0),
        ServerSpec::new(UNDECIDED_BAD, 1.0).failing_with("capacity"),
        ServerSpec::new(UNDECIDED_NEXT, 1.0),
    ];
    let mut dep = Deployment::new("operator-timeout", SimConfig::with_servers(servers)).await?;
    let plan = plan_yaml(
        "unanswered",
        &format!(
            "  - name: first\n    servers: {{ids: [{GATE_W1}]}}\n    approval: {{before: true, timeoutMinutes: 0.1}}\n  - name: second\n    servers: {{ids: [{GATE_W2}]}}\n"
        ),
    );
    let machine = dep.deploy_plan("unanswered.plan.yaml", &plan).await?;
    let undecided_plan = plan_yaml(
        "undecided",
        &format!(
            "  - name: pair\n    servers: {{ids: [{UNDECIDED_BAD}]}}\n    onFailure: ask\n    decision: {{timeoutMinutes: 0.1}}\n  - name: after\n    servers: {{ids: [{UNDECIDED_NEXT}]}}\n"
        ),
    );
    let undecided_machine = dep
        .deploy_plan("undecided.plan.yaml", &undecided_plan)
        .await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    let undecided = dep
        .start_execution(&undecided_machine, &crate::drill())
        .await?;
    let follower = Follower::start(&dep, &execution)?;
    let gate = wait_for_gate(&dep, &execution, "APPROVAL", 1).await?;
    let since = OffsetDateTime::parse(gate["since"].as_str().unwrap_or_default(), &Rfc3339)?;
    let until = OffsetDateTime::parse(gate["timeoutAt"].as_str().unwrap_or_default(), &Rfc3339)?;
    assert_eq!((until - since).whole_seconds(), 6, "{gate}");

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_failed_with(&ended, "DrsWaves.GateTimedOut", &dep)?;
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains("approval gate before wave 1 'first' waited 6 s with no answer"),
        "the cause names the gate and how long it waited: {cause}"
    );
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "FAILED", "{record}");
    assert_eq!(record["error"], "DrsWaves.GateTimedOut", "{record}");
    // It waited its whole timeout (to the second the history keeps), not less.
    let ended_at = OffsetDateTime::parse(record["endedAt"].as_str().unwrap_or_default(), &Rfc3339)?;
    ensure!(
        ended_at >= until - Duration::from_secs(1),
        "the execution ended at {ended_at}, before the gate's timeout at {until}"
    );
    ensure!(
        pending_gate(&record).is_none(),
        "the gate is still pending: {record}"
    );
    assert_actions(&record, &[], caller(), OffsetDateTime::now_utc())?;
    let jobs = launch_jobs(&dep, &execution);
    ensure!(jobs.is_empty(), "nothing may launch: {jobs:?}");
    assert_lock_free(&dep, "unanswered").await?;

    let ended = dep.wait_for_end(&undecided, DRILL_TIMEOUT).await?;
    assert_failed_with(&ended, "DrsWaves.GateTimedOut", &dep)?;
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains("decision after wave 1 'pair' failed"),
        "the cause names the decision: {cause}"
    );
    let record = execution_record(&dep, &undecided).await?;
    assert_eq!(record["executionStatus"], "FAILED", "{record}");
    assert_eq!(record["error"], "DrsWaves.GateTimedOut", "{record}");
    assert_actions(&record, &[], caller(), OffsetDateTime::now_utc())?;
    ensure!(
        wave_jobs(&dep, &undecided, "pair").len() == 1
            && wave_jobs(&dep, &undecided, "after").is_empty(),
        "wave 1 launched once and wave 2 never: {:?}",
        launch_jobs(&dep, &undecided)
    );
    assert_lock_free(&dep, "undecided").await?;
    follower.assert_end(1, "FAILED").await?;
    // Too late: the gate is gone, and the CLI says what became of the execution.
    let (code, stdout, stderr) = drs_waves(&dep, &["approve", &execution]).await?;
    ensure!(
        code != 0 && stderr.contains("has ended"),
        "an approve after the timeout exited {code}: {stdout}{stderr}"
    );
    took("operator_gate_times_out_and_no_wave_starts", started);
    Ok(())
}

const UNDECIDED_BAD: &str = "s-0e4000000000000a1";
const UNDECIDED_NEXT: &str = "s-0e4000000000000b1";

/// Two approval gates open at once, one in each of two side-by-side branches (issue #23): each
/// is recorded with its own token, `drs-waves approve` without `--wave` refuses and names both,
/// and each approval starts exactly its own wave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_answers_two_gates_open_at_once_in_side_by_side_branches() -> Result<()> {
    let servers = vec![ServerSpec::new(GATE_W1, 1.0), ServerSpec::new(GATE_W2, 1.0)];
    let (dep, machine) = deploy_plan_with_worker(
        "operator-two-gates",
        servers,
        "two-gates",
        &format!(
            "  - name: first\n    servers: {{ids: [{GATE_W1}]}}\n    approval: {{before: true, timeoutMinutes: 10}}\n\
             \x20 - name: second\n    dependsOn: []\n    servers: {{ids: [{GATE_W2}]}}\n    approval: {{before: true, timeoutMinutes: 10}}\n"
        ),
    )
    .await?;
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
    let exec = execution.as_str();
    let dep_ref = &dep;
    let both = eventually(
        "both gates open at once",
        GATE_TIMEOUT,
        POLL,
        || async move {
            let gates = pending_gates(&execution_record(dep_ref, exec).await.ok()?);
            (gates.len() == 2).then_some(gates)
        },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    ensure!(
        both[0]["token"] != both[1]["token"] || both[0]["token"].is_null(),
        "each gate has its own token: {both:?}"
    );
    let (code, stdout, stderr) = drs_waves(&dep, &["approve", &execution]).await?;
    ensure!(
        code != 0 && stderr.contains("first") && stderr.contains("second"),
        "approve without --wave must name the open gates and refuse: exited {code}: {stdout}{stderr}"
    );
    ensure!(
        launch_jobs(&dep, &execution).is_empty(),
        "nothing launched before an approval"
    );

    let (code, stdout, stderr) =
        drs_waves(&dep, &["approve", &execution, "--wave", "second"]).await?;
    ensure!(
        code == 0,
        "approve --wave second exited {code}: {stdout}{stderr}"
    );
    eventually("wave second launched", GATE_TIMEOUT, POLL, || {
        let n = wave_jobs(dep_ref, exec, "second").len();
        async move { (n == 1).then_some(()) }
    })
    .await?;
    ensure!(
        wave_jobs(&dep, &execution, "first").is_empty(),
        "first launched without its approval"
    );
    let left = pending_gates(&execution_record(&dep, &execution).await?);
    ensure!(
        left.len() == 1 && left[0]["waveName"] == "first",
        "the other gate stays open: {left:?}"
    );
    let (code, stdout, stderr) = drs_waves(&dep, &["approve", &execution, "--wave", "1"]).await?;
    ensure!(
        code == 0,
        "approve --wave 1 exited {code}: {stdout}{stderr}"
    );
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    ensure!(wave_jobs(&dep, &execution, "first").len() == 1);
    ensure!(wave_jobs(&dep, &execution, "second").len() == 1);
    Ok(())
}
