//! Before the way home (issue #27): after a real RECOVERY of the billing example,
//! `drs-waves failback-check billing` names every required server whose recovery instance is
//! not ready to fail back, with its DRS failback state and why (exit 1), in the order the
//! waves would come home, and says ready (exit 0) once drs-sim reports every one
//! FAILBACK_READY_FOR_LAUNCH. It only reads: no failback job is ever made.

use super::*;
use drs_sim::{FailbackOutcome, FailbackStaging};

/// Runs `drs-waves failback-check billing`: its exit status and its output.
fn failback_check(dep: &Deployment) -> Result<(i32, String)> {
    let out = dep
        .cli_command()?
        .args(["failback-check", "billing"])
        .stdin(std::process::Stdio::null())
        .output()
        .context("drs-waves failback-check")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code().unwrap_or(-1), text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_check_names_servers_not_ready_after_a_recovery_then_says_ready() -> Result<()> {
    let mut dep = Deployment::new(
        "failback-check",
        SimConfig::with_servers(billing_servers(&[], 0.5)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;

    // No RECOVERY yet: nothing to bring home.
    let (code, text) = failback_check(&dep)?;
    ensure!(
        code == 2 && text.contains("no RECOVERY"),
        "refused without a RECOVERY ({code}): {text}"
    );

    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(
        &dep,
        &machine,
        json!({"mode": "RECOVERY", "confirm": "billing"}),
    )
    .await?;
    ensure!(
        ended.succeeded(),
        "the recovery did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let name = execution.rsplit(':').next().unwrap_or_default().to_string();

    // Nothing replicates back yet: every required server is named, FAILBACK_NOT_STARTED.
    let (code, text) = failback_check(&dep)?;
    ensure!(code == 1, "not ready ({code}): {text}");
    ensure!(
        text.contains(&format!("bringing home RECOVERY {name}")),
        "{text}"
    );
    ensure!(
        text.contains("waves come home in order: 3 web, 2 app-servers, 1 databases"),
        "{text}"
    );
    for server in [DB1, DB2, APP1, WEB1, WEB2] {
        ensure!(text.contains(server), "{server} named: {text}");
    }
    ensure!(text.contains("FAILBACK_NOT_STARTED"), "{text}");
    ensure!(
        text.contains(&format!("{APP2_OPTIONAL} (optional)")),
        "the optional server listed as such: {text}"
    );

    // The web and app tiers and DB2 are ready; DB1's replication back stalls.
    dep.sim
        .stage_failback(&FailbackStaging::ready(
            &[WEB1, WEB2, APP1, APP2_OPTIONAL, DB2],
            0.0,
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    dep.sim
        .stage_failback(&FailbackStaging {
            outcome: FailbackOutcome::Stall,
            ..FailbackStaging::ready(&[DB1], 0.0)
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (code, text) = failback_check(&dep)?;
    ensure!(code == 1, "DB1 holds it back ({code}): {text}");
    ensure!(
        text.contains(DB1) && text.contains("FAILBACK_IN_PROGRESS") && text.contains("STALLED"),
        "DB1 named with its state: {text}"
    );
    for ready in [DB2, APP1, WEB1, WEB2] {
        ensure!(
            !text.contains(ready),
            "{ready} is ready, not listed: {text}"
        );
    }

    // DB1 in sync too: ready, exit 0.
    dep.sim
        .stage_failback(&FailbackStaging::ready(&[DB1], 0.0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (code, text) = failback_check(&dep)?;
    ensure!(code == 0, "ready ({code}): {text}");
    ensure!(
        text.contains("ready: every required server (5) is FAILBACK_READY_FOR_LAUNCH"),
        "{text}"
    );
    ensure!(
        dep.sim.jobs().iter().all(|j| j.initiated_by != "FAILBACK"),
        "a check launches nothing"
    );
    Ok(())
}
