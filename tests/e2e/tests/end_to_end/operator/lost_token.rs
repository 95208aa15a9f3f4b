//! A gate whose task token is lost survives: Step Functions' GetActivityTask hands a token out
//! exactly once, and a worker that loses it between the poll and the history write (a dropped
//! answer, a worker killed in between) leaves a gate nobody could answer. The gate's heartbeat
//! times out (nobody heartbeats a token that was never recorded), the machine's Retry opens it
//! again with a fresh token, the worker records that one, and every worker's gate keeper
//! heartbeats it until the operator answers.

use super::*;

const LOST_W1: &str = "s-0e10000000000f0a1";

/// The worker drops the gate's first task unrecorded (test fault point
/// `drop-first-gate-token`); the gate re-opens within its heartbeat (5 s), stays open past
/// several heartbeats while nobody answers (the keeper heartbeats it), is approved, and the
/// drill succeeds with one job for the wave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_gate_reopens_after_its_token_is_lost_and_is_answered() -> Result<()> {
    let since = OffsetDateTime::now_utc();
    let mut dep = Deployment::new(
        "operator-lost-token",
        SimConfig::with_servers(vec![ServerSpec::new(LOST_W1, 1.0)]),
    )
    .await?;
    let plan = plan_yaml(
        "lost-token",
        &format!(
            "  - name: first\n    servers: {{ids: [{LOST_W1}]}}\n    approval: {{before: true, timeoutMinutes: 10}}\n"
        ),
    )
    .replace(
        "tasks: {heartbeatSeconds: 10}",
        "tasks: {heartbeatSeconds: 10, gateHeartbeatSeconds: 5}",
    );
    let machine = dep.deploy_plan("lost-token.plan.yaml", &plan).await?;
    dep.start_worker(&[
        ("DRS_WAVES_TEST_FAULT", "drop-first-gate-token"),
        ("DRS_WAVES_GATE_KEEPER_INTERVAL_SECONDS", "1"),
    ])?;
    let execution = dep
        .start_execution(&machine, &super::super::drill())
        .await?;

    // The first token was dropped: the gate recorded is the re-opened one.
    let gate = wait_for_gate(&dep, &execution, "APPROVAL", 1).await?;
    assert_eq!(gate["reopened"], 1, "{gate}");
    assert_eq!(gate["heartbeatSeconds"], 5, "{gate}");
    // It kept the deadline it first opened with: 10 min from its first opening.
    let opened = OffsetDateTime::parse(gate["since"].as_str().unwrap_or_default(), &Rfc3339)?;
    let until = OffsetDateTime::parse(gate["timeoutAt"].as_str().unwrap_or_default(), &Rfc3339)?;
    assert_eq!((until - opened).whole_seconds(), 600, "{gate}");
    ensure!(opened >= since - Duration::from_secs(5), "{gate}");

    // The worker polls: its container health check says so.
    let health = tokio::process::Command::new(drs_e2e::worker_binary()?)
        .args(["health", "--port", &dep.health_port.to_string()])
        .env_clear()
        .output()
        .await?;
    let said = String::from_utf8_lossy(&health.stdout);
    ensure!(
        health.status.success() && said.starts_with("healthy: the last GetActivityTask answered"),
        "drs-worker health exited {:?}: {said}",
        health.status
    );

    // Nobody answers for three of its heartbeats: the keeper keeps the same token alive.
    let token = gate["token"].as_str().unwrap_or_default().to_owned();
    let quiet_until = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < quiet_until {
        let record = execution_record(&dep, &execution).await?;
        let now = pending_gate(&record).context("the gate closed while nobody answered")?;
        ensure!(
            now["token"].as_str() == Some(token.as_str()),
            "the gate re-opened again although its token was recorded and heartbeated: {now}\n{}",
            dep.worker_logs()
        );
        tokio::time::sleep(POLL).await;
    }
    ensure!(
        launch_jobs(&dep, &execution).is_empty(),
        "nothing launches before the approval"
    );

    let told = operate(&dep, &execution, Act::Approve).await?;
    ensure!(
        told.contains("Approved wave 1 'first'"),
        "drs-waves approve said: {told}"
    );
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let jobs = wave_jobs(&dep, &execution, "first");
    ensure!(jobs.len() == 1, "the wave launched once: {jobs:?}");
    let record = execution_record(&dep, &execution).await?;
    assert_eq!(record["executionStatus"], "SUCCEEDED", "{record}");
    assert_actions(&record, &[("APPROVE", Some(1))], caller(), since)?;
    Ok(())
}
