//! The way home (issue #27), asserted from drs-sim's jobs and recovery instances. One RECOVERY
//! of the billing example serves the whole story of the first test (checked, refused while a
//! server is not ready, then home in reverse order despite a lost answer), so that the suite
//! pays for as few recoveries as the behaviours need.

use super::*;
use std::collections::BTreeSet;

use drs_sim::{FailbackOutcome, FailbackStaging};

/// Runs `drs-waves failback-check billing`: its exit status and its output.
fn failback_check(dep: &Deployment) -> Result<(i32, String)> {
    failback_check_of(dep, "billing", &[])
}

/// Runs `drs-waves failback-check PLAN` with `env` besides the deployment's: its exit status
/// and its output.
pub(super) fn failback_check_of(
    dep: &Deployment,
    plan: &str,
    env: &[(String, String)],
) -> Result<(i32, String)> {
    let out = dep
        .cli_command()?
        .args(["failback-check", plan])
        .envs(env.iter().map(|(k, v)| (k, v)))
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

/// The billing example recovered for real (a RECOVERY to SUCCEEDED) by the running worker;
/// returns the RECOVERY's execution ARN.
async fn recover(dep: &Deployment, machine: &str) -> Result<String> {
    let recovery = json!({"mode": "RECOVERY", "confirm": "billing"});
    Ok(run_to_success(dep, machine, recovery).await?.0)
}

/// A fresh deployment of the billing example, its RECOVERY done: the start of a FAILBACK test.
async fn recovered(test: &str) -> Result<(Deployment, String)> {
    let mut dep = Deployment::new(test, SimConfig::with_servers(billing_servers(&[], 0.5))).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    recover(&dep, &machine).await?;
    Ok((dep, machine))
}

/// `drs-waves failback-check billing` before and after the RECOVERY: every required server
/// not ready named with its failback state (exit 1), in the order the waves come home, and
/// ready (exit 0) once drs-sim reports every one FAILBACK_READY_FOR_LAUNCH; it only reads.
/// Meanwhile a FAILBACK with DB1 stalled is refused by preflight, naming it, launching
/// nothing. Then, with StartFailbackLaunch's answer lost once, the FAILBACK brings every
/// instance home in one job each, the waves in reverse order, none sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_is_checked_refused_while_not_ready_then_comes_home_in_reverse_order()
-> Result<()> {
    let mut dep = Deployment::new(
        "failback-home",
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
    let recovery = recover(&dep, &machine).await?;
    let name = recovery.rsplit(':').next().unwrap_or_default().to_string();
    check_names_every_server_until_ready(&dep, &name).await?;
    refused_while_db1_stalls(&dep, &machine).await?;

    // DB1 in sync too: ready, exit 0, and still no failback job.
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
    comes_home_despite_a_lost_answer(&dep, &machine).await
}

/// After the RECOVERY: nothing replicates back yet, every required server is named; then with
/// DB1's replication back stalled, DB1 alone is.
async fn check_names_every_server_until_ready(dep: &Deployment, recovery: &str) -> Result<()> {
    let (code, text) = failback_check(dep)?;
    ensure!(code == 1, "not ready ({code}): {text}");
    ensure!(
        text.contains(&format!("bringing home RECOVERY {recovery}")),
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
    let (code, text) = failback_check(dep)?;
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
    Ok(())
}

/// A FAILBACK while DB1's replication back stalls: refused at preflight naming DB1 and its
/// state, nothing launched, the lock released.
async fn refused_while_db1_stalls(dep: &Deployment, machine: &str) -> Result<()> {
    let (execution, ended) = run_to_end(dep, machine, failback()).await?;
    ensure!(!ended.succeeded(), "refused: {}", describe(&ended));
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.PreflightFailed")
            && cause.contains(DB1)
            && cause.contains("FAILBACK_IN_PROGRESS")
            && cause.contains("STALLED"),
        "the cause names DB1 and its state: {}",
        describe(&ended)
    );
    ensure!(
        failback_jobs(dep, &execution).is_empty()
            && dep.sim.jobs().iter().all(|j| j.initiated_by != "FAILBACK"),
        "nothing launched"
    );
    ensure!(dep.lock("billing").await?.is_none(), "the lock is released");
    Ok(())
}

const ALL: [&str; 6] = [DB1, DB2, APP1, APP2_OPTIONAL, WEB1, WEB2];

fn failback() -> Value {
    json!({"mode": "FAILBACK", "confirm": "billing"})
}

/// The failback jobs (initiatedBy FAILBACK) of `execution`, oldest first.
fn failback_jobs(dep: &Deployment, execution: &str) -> Vec<JobSnapshot> {
    dep.sim
        .jobs()
        .into_iter()
        .filter(|j| j.initiated_by == "FAILBACK")
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .collect()
}

/// The FAILBACK, every instance ready, StartFailbackLaunch's answer lost once: it succeeds,
/// one failback job per wave and each instance in exactly one, the waves in reverse order each
/// after the previous one ended, every instance FAILBACK_COMPLETED, the history and the report
/// saying so.
async fn comes_home_despite_a_lost_answer(dep: &Deployment, machine: &str) -> Result<()> {
    let mut faults = FaultConfig::default();
    faults.per_operation.insert(
        "StartFailbackLaunch".into(),
        FaultSpec {
            drop_after_commit_next: 1,
            ..Default::default()
        },
    );
    dep.sim
        .set_faults(faults)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (execution, _) = run_to_success(dep, machine, failback()).await?;
    let jobs = failback_jobs(dep, &execution);
    // One failback job per instance: every instance of the recovery in exactly one job.
    let mut sent: Vec<String> = jobs
        .iter()
        .flat_map(|j| j.servers.iter().map(|s| s.source_server_id.clone()))
        .collect();
    sent.sort();
    let mut all: Vec<String> = ALL.iter().map(|s| (*s).to_string()).collect();
    all.sort();
    ensure!(sent == all, "every server once: {sent:?}");
    // Waves home in reverse order: web, then the app servers, then the databases, each
    // wave's job made after the previous wave's job ended.
    let order: Vec<String> = jobs
        .iter()
        .map(|j| j.tags.get(job_tags::WAVE).cloned().unwrap_or_default())
        .collect();
    ensure!(
        order == ["web", "app-servers", "databases"],
        "waves home in reverse order: {order:?}"
    );
    for pair in jobs.windows(2) {
        let ended = pair[0].end_date_time.context("the earlier job ended")?;
        ensure!(
            pair[1].creation_date_time >= ended,
            "{} began before {} ended",
            pair[1].job_id,
            pair[0].job_id
        );
    }
    let instances = dep.sim.recovery_instances();
    let home: Vec<_> = instances
        .iter()
        .filter(|i| i.terminated_date_time.is_none())
        .collect();
    ensure!(
        home.len() == 6
            && home
                .iter()
                .all(|i| i.failback_state.as_deref() == Some("FAILBACK_COMPLETED")),
        "every instance FAILBACK_COMPLETED (and kept): {home:?}"
    );
    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(record["mode"] == "FAILBACK", "{record}");
    ensure!(record["executionStatus"] == "SUCCEEDED", "{record}");
    // The report: each wave's time home, each server what its instance replicated back.
    let report = dep.report(&execution).await?;
    ensure!(
        report.execution.mode.as_deref() == Some("FAILBACK"),
        "{:?}",
        report.execution
    );
    ensure!(
        report
            .waves
            .iter()
            .all(|w| w.status == "SUCCEEDED" && w.duration_seconds.is_some()),
        "{:#?}",
        report.waves
    );
    ensure!(
        report.servers.len() == 6
            && report
                .servers
                .iter()
                .all(|s| s.replicated_back_bytes.is_some_and(|b| b > 0)),
        "every server replicated back: {:#?}",
        report.servers
    );
    ensure!(
        dep.sim.counters().drop_after_commit >= 1,
        "an answer was lost: {:?}",
        dep.sim.counters()
    );
    ensure!(
        jobs.len() == 3,
        "one failback job per wave, none twice: {:?}",
        jobs.iter().map(|j| &j.job_id).collect::<Vec<_>>()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failback_cancelled_mid_way_leaves_the_instances_not_home_running() -> Result<()> {
    let (dep, machine) = recovered("failback-cancel").await?;
    // The app servers' way home is slow (their failback launch takes a minute): the cancel
    // comes while it runs, after the web tier is home.
    let slow: Vec<ServerSpec> = billing_servers(&[], 60.0)
        .into_iter()
        .filter(|s| s.id == APP1 || s.id == APP2_OPTIONAL)
        .collect();
    dep.sim
        .add_servers(&slow)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    dep.sim
        .stage_failback(&FailbackStaging::ready(&ALL, 0.0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let execution = dep.start_execution(&machine, &failback()).await?;
    let dep_ref = &dep;
    let exec = execution.as_str();
    eventually(
        "the app servers' failback job",
        Duration::from_secs(120),
        Duration::from_millis(200),
        || async move {
            failback_jobs(dep_ref, exec)
                .iter()
                .any(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some("app-servers"))
                .then_some(())
        },
    )
    .await?;
    let out = dep
        .cli_command()?
        .args(["cancel", &execution])
        .stdin(std::process::Stdio::null())
        .output()
        .context("drs-waves cancel")?;
    ensure!(
        out.status.success(),
        "drs-waves cancel: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ended = dep.wait_for_end(&execution, super::DRILL_TIMEOUT).await?;
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.Cancelled"),
        "the run ends cancelled: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let waves: Vec<String> = failback_jobs(&dep, &execution)
        .iter()
        .filter_map(|j| j.tags.get(job_tags::WAVE).cloned())
        .collect();
    ensure!(
        waves == ["web", "app-servers"],
        "the databases never started home: {waves:?}"
    );
    let instances = dep.sim.recovery_instances();
    let state_of = |server: &str| {
        instances
            .iter()
            .find(|i| i.source_server_id == server && i.terminated_date_time.is_none())
            .and_then(|i| i.failback_state.clone())
    };
    for web in [WEB1, WEB2] {
        ensure!(
            state_of(web).as_deref() == Some("FAILBACK_COMPLETED"),
            "{web} is home: {instances:?}"
        );
    }
    for db in [DB1, DB2] {
        ensure!(
            state_of(db).as_deref() == Some("FAILBACK_READY_FOR_LAUNCH"),
            "{db}'s instance still runs in the recovery region, not launched: {instances:?}"
        );
    }
    ensure!(
        dep.sim.jobs().iter().all(|j| j.job_type != "TERMINATE"),
        "nothing terminated"
    );
    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(
        record["mode"] == "FAILBACK" && record["executionStatus"] == "CANCELLED",
        "{record}"
    );
    ensure!(dep.lock("billing").await?.is_none(), "the lock is released");
    Ok(())
}

/// The billing plan with an approval gate before the web tier, a child machine after the web
/// tier that runs on the way home only (`modes: [FAILBACK]`), a decision when the databases
/// fail, and `failback.stopAndTerminate`: the same gate and decision on the way home.
fn gated_billing_that_terminates(dns_home: &str) -> Result<String> {
    let text = std::fs::read_to_string(repo_root().join("statemachines/billing.plan.yaml"))?;
    let gated = text
        .replace(
            "  - name: web\n",
            &format!(
                "  - name: web\n    approval: {{before: true, timeoutMinutes: 10}}\n    after:\n      \
                 - {{name: dns home, stateMachine: {{arn: \"{dns_home}\"}}, modes: [FAILBACK]}}\n"
            ),
        )
        .replace(
            "  - name: databases\n",
            "  - name: databases\n    onFailure: ask\n    maxAttempts: 2\n",
        );
    ensure!(
        gated.contains("approval:") && gated.contains("onFailure: ask"),
        "{gated}"
    );
    Ok(format!("{gated}\nfailback: {{stopAndTerminate: true}}\n"))
}

/// Starts `input`, approves the web tier's gate (wave 3) with the CLI, and returns the
/// execution once the gate is answered.
async fn start_and_approve_web(dep: &Deployment, machine: &str, input: &Value) -> Result<String> {
    let execution = dep.start_execution(machine, input).await?;
    super::operator::wait_for_gate(dep, &execution, "APPROVAL", 3).await?;
    super::operator::operate(dep, &execution, super::operator::Act::Approve).await?;
    Ok(execution)
}

/// The way home has the way out's gate and decision: the web tier waits for approval, DB1's
/// failback launch fails and an operator is asked; `decide retry` is refused (naming DB1 and
/// its FAILBACK_ERROR) until its replication back is ready again, then brings DB1 alone home.
/// At the end StopFailback and TERMINATE come only after every wave's verdict; a TERMINATE
/// DRS refuses leaves the clean-up PENDING, and the janitor's retry does it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_way_home_asks_at_its_gate_and_decision_and_terminates_only_after_every_verdict()
-> Result<()> {
    let mut dep = Deployment::new(
        "failback-gated",
        SimConfig::with_servers(billing_servers(&[], 0.5)),
    )
    .await?;
    let dns_home = super::actions::child_machine(&dep, "dns-home", false).await?;
    let machine = dep
        .deploy_plan(
            "billing-home.plan.yaml",
            &gated_billing_that_terminates(&dns_home)?,
        )
        .await?;
    // The janitor looks every 2 s: it retries the clean-up left PENDING below.
    dep.start_worker(&[("DRS_WAVES_JANITOR_INTERVAL_SECONDS", "2")])?;
    let recovery = json!({"mode": "RECOVERY", "confirm": "billing"});
    let execution = start_and_approve_web(&dep, &machine, &recovery).await?;
    let ended = dep.wait_for_end(&execution, super::DRILL_TIMEOUT).await?;
    ensure!(ended.succeeded(), "recovery: {}", describe(&ended));

    dep.sim
        .stage_failback(&FailbackStaging::ready(&ALL, 0.0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    dep.sim
        .stage_failback(&FailbackStaging {
            fail_launch: true,
            ..FailbackStaging::ready(&[DB1], 0.0)
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // TerminateRecoveryInstances is refused until the end: the finish leaves its clean-up
    // PENDING, and the janitor's retry does it once the permission is back.
    let mut denied = FaultConfig::default();
    denied.per_operation.insert(
        "TerminateRecoveryInstances".into(),
        FaultSpec {
            access_denied: true,
            ..Default::default()
        },
    );
    dep.sim
        .set_faults(denied)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let execution = start_and_approve_web(&dep, &machine, &failback()).await?;
    super::operator::wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    let (code, out, err) =
        super::operator::drs_waves(&dep, &["decide", &execution, "retry"]).await?;
    ensure!(
        code != 0 && format!("{out}{err}").contains(DB1) && err.contains("FAILBACK_ERROR"),
        "a retry before DB1 is ready again is refused, naming it ({code}): {out}{err}"
    );
    // The operator restarts DB1's replication back; now the retry brings it home.
    dep.sim
        .stage_failback(&FailbackStaging::ready(&[DB1], 0.0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    super::operator::operate(&dep, &execution, super::operator::Act::Decide("retry")).await?;
    let ended = dep.wait_for_end(&execution, super::DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "the failback did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let states = super::actions::entered_states(&dep, &execution).await?;
    dns_home_ran_once_on_the_way_home(&dep, &dns_home, &states).await?;
    for gate in [
        "Failback wave 3 web: approve?",
        "Failback wave 1 db: decide?",
    ] {
        let gate = gate.replace("1 db", "1 databases");
        ensure!(states.contains(&gate), "{gate} entered: {states:?}");
    }
    let home: Vec<Vec<String>> = failback_jobs(&dep, &execution)
        .iter()
        .map(|j| {
            j.servers
                .iter()
                .map(|s| s.source_server_id.clone())
                .collect()
        })
        .collect();
    ensure!(
        home.len() == 4 && home[3] == [DB1.to_string()],
        "web, app servers, databases, then DB1 alone again: {home:?}"
    );
    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(
        record["cleanup"] == "PENDING" && record["executionStatus"] == "SUCCEEDED",
        "the refused TERMINATE leaves the clean-up PENDING, the FAILBACK succeeded: {record}"
    );
    ensure!(
        dep.sim.jobs().iter().all(|j| j.job_type != "TERMINATE")
            && dep
                .sim
                .counters()
                .operations
                .get("StopFailback")
                .is_none_or(|o| o.total == 0),
        "nothing stopped or terminated while TERMINATE is refused"
    );
    dep.sim
        .set_faults(FaultConfig::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let dep_ref = &dep;
    let exec = execution.as_str();
    eventually(
        "the janitor's retry of the FAILBACK's clean-up",
        Duration::from_secs(60),
        Duration::from_millis(500),
        || async move {
            let history = dep_ref.history(exec).await.ok()?;
            let done = history.execution().ok()?["cleanup"] == "DONE";
            done.then_some(())
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    terminated_only_after_every_verdict(&dep, &execution)
}

/// The FAILBACK-only action ran once in all (not in the RECOVERY), in a FAILBACK, after the web
/// tier came home and before the app servers left.
async fn dns_home_ran_once_on_the_way_home(
    dep: &Deployment,
    dns_home: &str,
    states: &[String],
) -> Result<()> {
    let runs = dep
        .sfn
        .list_executions()
        .state_machine_arn(dns_home)
        .send()
        .await?;
    let runs = runs.executions();
    ensure!(runs.len() == 1, "dns home ran {} times", runs.len());
    let run = dep
        .sfn
        .describe_execution()
        .execution_arn(runs[0].execution_arn())
        .send()
        .await?;
    let input: Value = serde_json::from_str(run.input().unwrap_or("null"))?;
    ensure!(input["drsWaves"]["mode"] == "FAILBACK", "{input}");
    let at = |name: &str| super::actions::position(states, name);
    let action = at("Failback wave 3 web: after 1 (dns home)")?;
    ensure!(
        at("Failback wave 3 web: done?")? < action
            && action < at("Failback wave 2 app-servers: start")?,
        "{states:?}"
    );
    Ok(())
}

/// One TERMINATE job per wave that came home, each after the last failback job ended; every
/// instance stopped (StopFailback) once, and every one terminated.
fn terminated_only_after_every_verdict(dep: &Deployment, execution: &str) -> Result<()> {
    let jobs = dep.sim.jobs();
    let last_home = failback_jobs(dep, execution)
        .iter()
        .filter_map(|j| j.end_date_time)
        .max()
        .context("failback jobs ended")?;
    let terminates: Vec<_> = jobs.iter().filter(|j| j.job_type == "TERMINATE").collect();
    ensure!(
        terminates.len() == 3 && terminates.iter().all(|j| j.creation_date_time >= last_home),
        "terminated only after every wave's verdict: {terminates:?}"
    );
    let counters = dep.sim.counters();
    ensure!(
        counters
            .operations
            .get("StopFailback")
            .is_some_and(|o| o.total == 6),
        "StopFailback once per instance: {counters:?}"
    );
    let terminated: BTreeSet<String> = terminates
        .iter()
        .flat_map(|j| j.servers.iter().map(|s| s.source_server_id.clone()))
        .collect();
    ensure!(
        terminated.len() == 6,
        "every instance that came home terminated once: {terminated:?}"
    );
    Ok(())
}
