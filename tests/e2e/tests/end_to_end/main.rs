//! End-to-end: recovery plans run as real Step Functions executions (LocalStack's engine) with
//! a real `drs-worker` process against drs-sim and moto's DynamoDB. Each test has its own
//! deployment (activities, table, simulator, worker), so the tests run side by side.
//!
//! Timings: the simulated launches take seconds; every wait polls with a deadline.
//!
//! `disaster_day`: the day the source site is down (issue #11): RECOVERY from recovery
//! snapshots, point in time, an outage mid-drill, a RECOVERY preempting a DRILL, the janitor.
//!
//! `report`: the recovery report of a real drill (issue #14), opened in headless Chromium.
//!
//! `operator`: operator control (issue #13): approval gates approved, stopped and timing out;
//! `onFailure: ask` answered retry, skip and stop; cancels of a drill and of a recovery.
//!
//! `launch_actions`: post-launch actions (a required one failing fails its wave, an optional
//! one is a warning in the report) and a server DRS skipped (issue #21).
//!
//! `realistic_drs`: DRS as it really is (issue #21): one-item and empty first pages, jobs
//! listed 90 s late after a lost answer, servers listed after 95 s, a retry after the first
//! attempt's snapshots expired.
//!
//! `chaos`: no launch lost or doubled (issue #12): lost answers, quotas, dying workers, a
//! degraded DRS, a big drill's clean-up; every test's name contains `chaos`.
//!
//! `graph`: waves as a graph (issue #23): independent waves side by side, a failure in one
//! branch stopping the other.
//!
//! `actions`: actions before and after a wave (issue #24): a child state machine before wave
//! 2 and an SNS notification after it, and a failing child machine stopping the drill.
//!
//! `health`: health checks that decide when a wave is done (issue #24): an HTTP check holding
//! the next wave until it passes, a TCP check failing with `onFailure: ask` and a retry of the
//! checks.
//!
//! `network`: `recoverNetwork` (issue #24): DRS's StartSourceNetworkRecovery before the
//! first wave, and a failed network recovery stopping the drill with nothing launched.
//!
//! `native_plans`: DRS's own recovery plans (issue #25): a plan pushed twice through the
//! binary (the second changes nothing), a native DRILL followed, retried and skipped past a
//! CRITICAL failure, and its report checked against the schema and in Chromium; a native
//! RECOVERY confirmed by name and followed live in tmux.
//!
//! `failback`: the way home (issue #27): RECOVERY then FAILBACK with the waves home in
//! reverse order, a FAILBACK refused with a server not ready, a lost StartFailbackLaunch answer
//! resolved without a second job, a FAILBACK cancelled mid-way, StopFailback and terminate
//! after the verdicts, and `drs-waves failback-check`.
//!
//! `deployment_guard`: a test that panics leaves no worker and no drs-sim behind.
//!
//! `recovery_instances`: jobs that never name their recovery instances, and launches from
//! DRS's on-demand snapshot (issue #21, items 6 and 7).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use drs_e2e::{Deployment, Ended};
use drs_sim::{FaultConfig, FaultSpec, FixtureSource, JobSnapshot, ServerSpec, SimConfig};
use drs_test_harness::{eventually, repo_root};
use drs_waves_contract::job_tags;
use serde_json::{Value, json};

mod accounts;
mod actions;
mod chaos;
mod deployment_guard;
mod disaster_day;
mod failback;
mod graph;
mod health;
mod launch_actions;
mod native_plans;
mod network;
mod operator;
mod operator_cli;
mod quotas;
mod realistic_drs;
mod recovery_instances;
mod report;

/// Generous: LocalStack hands out activity tasks about once a second, and a 2-core machine
/// runs several of these executions at once.
const DRILL_TIMEOUT: Duration = Duration::from_secs(240);

const DB1: &str = "s-a1b2c3d4e5f600001";
const DB2: &str = "s-a1b2c3d4e5f600002";
const APP1: &str = "s-a1b2c3d4e5f600003";
const APP2_OPTIONAL: &str = "s-a1b2c3d4e5f600004";
const WEB1: &str = "s-a1b2c3d4e5f600005";
const WEB2: &str = "s-a1b2c3d4e5f600006";

fn example_fixture() -> PathBuf {
    repo_root().join("tests/drs-sim/fixtures/examples.yaml")
}

/// The billing example's six servers (tags as the shipped fixture has them), with `failing`
/// ones ending FAILED and every launch taking `launch_seconds`.
fn billing_servers(failing: &[&str], launch_seconds: f64) -> Vec<ServerSpec> {
    [
        (DB1, "db"),
        (DB2, "db"),
        (APP1, "app"),
        (APP2_OPTIONAL, "app"),
        (WEB1, "web"),
        (WEB2, "web"),
    ]
    .into_iter()
    .map(|(id, tier)| {
        let spec = ServerSpec::new(id, launch_seconds)
            .with_tag("App", "billing")
            .with_tag("Tier", tier);
        if failing.contains(&id) {
            spec.failing()
        } else {
            spec
        }
    })
    .collect()
}

fn drill() -> Value {
    json!({"mode": "DRILL"})
}

/// The LAUNCH jobs of the simulator, grouped by the wave tag the worker put on them.
fn launch_jobs_by_wave(jobs: &[JobSnapshot]) -> BTreeMap<String, Vec<JobSnapshot>> {
    let mut by_wave: BTreeMap<String, Vec<JobSnapshot>> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.job_type == "LAUNCH") {
        let wave = job.tags.get(job_tags::WAVE).cloned().unwrap_or_default();
        by_wave.entry(wave).or_default().push(job.clone());
    }
    by_wave
}

fn job_ids_in_output(output: &Value, wave_key: &str) -> Vec<String> {
    output["waves"][wave_key]["jobIds"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn describe(ended: &Ended) -> String {
    format!(
        "{:?} error={:?} cause={:?}",
        ended.status, ended.error, ended.cause
    )
}

async fn run_to_end(dep: &Deployment, machine: &str, input: Value) -> Result<(String, Ended)> {
    let execution = dep.start_execution(machine, &input).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    Ok((execution, ended))
}

/// [`run_to_end`], which must have SUCCEEDED: else the run's end and the worker's logs say why.
async fn run_to_success(dep: &Deployment, machine: &str, input: Value) -> Result<(String, Ended)> {
    let (execution, ended) = run_to_end(dep, machine, input).await?;
    ensure!(
        ended.succeeded(),
        "{execution} did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    Ok((execution, ended))
}

/// Runs a DRILL of `machine` to its end and insists that it SUCCEEDED (the worker's log in the
/// error otherwise).
async fn drill_to_success(dep: &Deployment, machine: &str) -> Result<(String, Ended)> {
    run_to_success(dep, machine, drill()).await
}

/// 1. The seed scenario: 3 waves, 6 servers, a DRILL reaches SUCCEEDED; the output and the
/// history hold every wave's job IDs; waves ran strictly in order; every job was a drill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_drill_runs_three_waves_in_order_to_success() -> Result<()> {
    let mut dep = Deployment::new(
        "seed",
        SimConfig {
            fixture: FixtureSource::File(example_fixture()),
            ..SimConfig::default()
        },
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_success(&dep, &machine, drill()).await?;

    let output = ended
        .output
        .clone()
        .context("a succeeded execution has output")?;
    assert_eq!(output["result"]["outcome"], "SUCCEEDED");
    let history = dep.history(&execution).await?;
    assert_eq!(history.execution()?["executionStatus"], "SUCCEEDED");
    for (index, key) in [(1, "w1"), (2, "w2"), (3, "w3")] {
        let in_output = job_ids_in_output(&output, key);
        assert!(
            !in_output.is_empty(),
            "wave {index} has no job IDs in the output: {output}"
        );
        let wave_item = history.wave(index)?;
        let in_history: Vec<String> = serde_json::from_value(wave_item["jobIds"].clone())?;
        assert_eq!(
            in_history, in_output,
            "wave {index}: history and output disagree"
        );
        assert_eq!(wave_item["waveStatus"], "SUCCEEDED");
        for job_id in &in_output {
            let job_item = history.job(index, job_id)?;
            let servers = job_item["servers"]
                .as_object()
                .context("per-server detail")?;
            assert!(
                servers.values().all(|s| s["launchStatus"] == "LAUNCHED"),
                "wave {index}: {job_item}"
            );
        }
    }

    let jobs = dep.sim.jobs();
    let by_wave = launch_jobs_by_wave(&jobs);
    assert_eq!(
        by_wave.len(),
        3,
        "one wave tag per wave: {:?}",
        by_wave.keys()
    );
    for job in jobs.iter().filter(|j| j.job_type == "LAUNCH") {
        assert_eq!(
            job.is_drill,
            Some(true),
            "job {} was not a drill",
            job.job_id
        );
        assert_eq!(job.initiated_by, "START_DRILL");
        assert_eq!(job.tags.get(job_tags::EXECUTION), Some(&execution));
    }
    // Strict order: no job of wave N+1 was created before every server of wave N launched.
    let order = ["databases", "app-servers", "web"];
    for pair in order.windows(2) {
        let last_launch_of_previous = by_wave[pair[0]]
            .iter()
            .flat_map(|j| j.servers.iter())
            .map(|s| s.launch_end_date_time)
            .max()
            .context("servers in the previous wave")?;
        for job in &by_wave[pair[1]] {
            assert!(
                job.creation_date_time >= last_launch_of_previous,
                "wave {} job {} was created at {} before wave {} finished launching at {}",
                pair[1],
                job.job_id,
                job.creation_date_time,
                pair[0],
                last_launch_of_previous
            );
        }
    }
    Ok(())
}

/// 2. Three executions of three different plans at once, served by one worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_plans_at_once_on_one_worker_all_succeed() -> Result<()> {
    let mut dep = Deployment::new(
        "three-plans",
        SimConfig {
            fixture: FixtureSource::File(example_fixture()),
            ..SimConfig::default()
        },
    )
    .await?;
    let ledger: Vec<ServerSpec> = (1..=4)
        .map(|n| ServerSpec::new(format!("s-d1b2c3d4e5f60000{n}"), 2.0).with_tag("App", "ledger"))
        .collect();
    dep.sim
        .add_servers(&ledger)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ledger_plan = r#"
name: ledger
defaults:
  launchTimeoutMinutes: 2
  polling: {minWaitSeconds: 1, maxWaitSeconds: 10, expectedLaunchSeconds: 3}
tasks: {heartbeatSeconds: 10}
waves:
  - name: first-pair
    servers: {ids: [s-d1b2c3d4e5f600001, s-d1b2c3d4e5f600002]}
  - name: second-pair
    servers: {ids: [s-d1b2c3d4e5f600003, s-d1b2c3d4e5f600004]}
"#;
    let machines = vec![
        dep.deploy_example("billing").await?,
        dep.deploy_example("storefront").await?,
        dep.deploy_plan("ledger.plan.yaml", ledger_plan).await?,
    ];
    dep.start_worker(&[])?;
    let mut executions = Vec::new();
    for machine in &machines {
        executions.push(dep.start_execution(machine, &drill()).await?);
    }
    for execution in &executions {
        let ended = dep.wait_for_end(execution, DRILL_TIMEOUT).await?;
        ensure!(
            ended.succeeded(),
            "{execution}: {}\n{}",
            describe(&ended),
            dep.worker_logs()
        );
    }
    // Storefront pauses before its web wave: the Wait state ran between app and web.
    let entered = actions::entered_states(&dep, &executions[1]).await?;
    let at = |name: &str| entered.iter().position(|n| n == name);
    ensure!(
        at("Wave 2 app: done?") < at("Wave 3 web: pause")
            && at("Wave 3 web: pause") < at("Wave 3 web: start")
            && at("Wave 3 web: pause").is_some(),
        "{entered:?}"
    );
    let executions_with_jobs: BTreeSet<String> = dep
        .sim
        .jobs()
        .iter()
        .filter_map(|j| j.tags.get(job_tags::EXECUTION).cloned())
        .collect();
    assert_eq!(executions_with_jobs.len(), 3);
    Ok(())
}

/// 3. A required server fails to launch in wave 2: the execution fails naming the wave and the
/// server, wave 3 never starts, and the history says the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_server_failure_fails_the_execution_and_stops_later_waves() -> Result<()> {
    let mut dep = Deployment::new(
        "required-fails",
        SimConfig::with_servers(billing_servers(&[APP1], 1.5)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(&dep, &machine, drill()).await?;
    assert_eq!(
        ended.status,
        aws_sdk_sfn::types::ExecutionStatus::Failed,
        "{}",
        describe(&ended)
    );
    assert_eq!(ended.error.as_deref(), Some("DrsWaves.WaveFailed"));
    let cause = ended.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("app-servers") && cause.contains(APP1),
        "the cause must name the wave and the server: {cause}"
    );

    let by_wave = launch_jobs_by_wave(&dep.sim.jobs());
    assert!(
        !by_wave.contains_key("web"),
        "wave 3 must never start: {:?}",
        by_wave.keys()
    );
    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    assert_eq!(record["executionStatus"], "FAILED");
    assert_eq!(record["error"], "DrsWaves.WaveFailed");
    assert!(
        record["cause"].as_str().unwrap_or_default().contains(APP1),
        "{record}"
    );
    assert_eq!(history.wave(2)?["waveStatus"], "FAILED");
    assert!(
        history.wave_if_any(3).is_none(),
        "wave 3 has a history item: {:?}",
        history.wave_if_any(3)
    );
    Ok(())
}

/// 4. An optional server fails: the wave and the execution succeed, the history shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_server_failure_is_recorded_and_the_drill_succeeds() -> Result<()> {
    let mut dep = Deployment::new(
        "optional-fails",
        SimConfig::with_servers(billing_servers(&[APP2_OPTIONAL], 1.5)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, ended) = drill_to_success(&dep, &machine).await?;
    let output = ended.output.context("output")?;
    assert_eq!(
        output["waves"]["w2"]["servers"]["optionalFailed"], 1,
        "{output}"
    );

    let history = dep.history(&execution).await?;
    let failed_in_history: Vec<&String> = history
        .jobs_of_wave(2)
        .flat_map(|(_, item)| item["servers"].as_object().into_iter().flatten())
        .filter(|(_, s)| s["launchStatus"] == "FAILED")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(failed_in_history, vec![APP2_OPTIONAL]);
    Ok(())
}

/// 6. DRS throttles 30% of calls: the SDK's and the state machine's retries carry the drill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_completes_while_drs_throttles_thirty_percent_of_calls() -> Result<()> {
    let faults = FaultConfig {
        all: FaultSpec {
            throttle_fraction: 0.3,
            ..FaultSpec::default()
        },
        ..FaultConfig::default()
    };
    let config = SimConfig {
        faults,
        seed: Some(7),
        ..SimConfig::with_servers(billing_servers(&[], 1.5))
    };
    let mut dep = Deployment::new("throttled", config).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    drill_to_success(&dep, &machine).await?;
    let counters = dep.sim.counters();
    let throttled: u64 = ["StartRecovery", "DescribeJobs", "DescribeSourceServers"]
        .iter()
        .map(|op| counters.count(op, 429))
        .sum();
    assert!(
        throttled > 0,
        "the simulator throttled nothing: {counters:?}"
    );
    Ok(())
}

/// 7a. A RECOVERY without its confirmation (or with the wrong plan named) fails before any job
/// exists; a confirmed RECOVERY launches recovery (not drill) jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_runs_only_with_its_confirmation() -> Result<()> {
    let mut dep = Deployment::new(
        "recovery",
        SimConfig::with_servers(billing_servers(&[], 1.0)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    for input in [
        json!({"mode": "RECOVERY"}),
        json!({"mode": "RECOVERY", "confirm": "payroll"}),
    ] {
        let (_, ended) = run_to_end(&dep, &machine, input.clone()).await?;
        assert_eq!(
            ended.status,
            aws_sdk_sfn::types::ExecutionStatus::Failed,
            "{input}: {}",
            describe(&ended)
        );
        assert_eq!(
            ended.error.as_deref(),
            Some("DrsWaves.RecoveryNotConfirmed"),
            "{input}"
        );
        assert!(dep.sim.jobs().is_empty(), "{input}: a job was created");
        assert_eq!(dep.sim.counters().calls("StartRecovery"), 0);
    }
    let _ = run_to_success(
        &dep,
        &machine,
        json!({"mode": "RECOVERY", "confirm": "billing"}),
    )
    .await?;
    let jobs = dep.sim.jobs();
    assert_eq!(jobs.len(), 3);
    assert!(
        jobs.iter()
            .all(|j| j.initiated_by == "START_RECOVERY" && j.is_drill == Some(false)),
        "{jobs:?}"
    );
    Ok(())
}

/// 7b. A second execution of a plan that is already running is refused; the first is unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_execution_of_a_running_plan_is_refused() -> Result<()> {
    let mut dep = Deployment::new(
        "second-run",
        SimConfig::with_servers(billing_servers(&[], 3.0)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let first = dep.start_execution(&machine, &drill()).await?;
    let sim = &dep.sim;
    eventually(
        "the first execution's first job",
        DRILL_TIMEOUT,
        Duration::from_millis(200),
        || {
            let started = !sim.jobs().is_empty();
            async move { started.then_some(()) }
        },
    )
    .await?;
    let second = dep.start_execution(&machine, &drill()).await?;
    let refused = dep.wait_for_end(&second, DRILL_TIMEOUT).await?;
    assert_eq!(
        refused.status,
        aws_sdk_sfn::types::ExecutionStatus::Failed,
        "{}",
        describe(&refused)
    );
    assert_eq!(
        refused.error.as_deref(),
        Some("DrsWaves.PlanAlreadyRunning")
    );
    assert!(
        refused.cause.clone().unwrap_or_default().contains(&first),
        "the cause names the running execution: {:?}",
        refused.cause
    );

    let ended = dep.wait_for_end(&first, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let executions: BTreeSet<String> = dep
        .sim
        .jobs()
        .iter()
        .filter_map(|j| j.tags.get(job_tags::EXECUTION).cloned())
        .collect();
    assert_eq!(
        executions,
        BTreeSet::from([first.clone()]),
        "only the first execution launched"
    );
    // The lock is released at the end: the plan runs again.
    let (_, again) = run_to_end(&dep, &machine, drill()).await?;
    ensure!(again.succeeded(), "{}", describe(&again));
    Ok(())
}

/// 8. A launch that outlives the wave's timeout fails the wave with a timeout reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_past_the_wave_timeout_fails_the_wave() -> Result<()> {
    let servers = vec![ServerSpec::new("s-e1b2c3d4e5f600001", 120.0)];
    let mut dep = Deployment::new("timeout", SimConfig::with_servers(servers)).await?;
    let plan = r#"
name: slowpoke
defaults:
  launchTimeoutSeconds: 5
  polling: {minWaitSeconds: 1, maxWaitSeconds: 2, expectedLaunchSeconds: 2}
tasks: {heartbeatSeconds: 10}
waves:
  - name: slow-wave
    servers: {ids: [s-e1b2c3d4e5f600001]}
"#;
    let machine = dep.deploy_plan("slowpoke.plan.yaml", plan).await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(&dep, &machine, drill()).await?;
    assert_eq!(
        ended.status,
        aws_sdk_sfn::types::ExecutionStatus::Failed,
        "{}",
        describe(&ended)
    );
    assert_eq!(ended.error.as_deref(), Some("DrsWaves.WaveFailed"));
    let cause = ended.cause.unwrap_or_default().to_lowercase();
    assert!(
        cause.contains("slow-wave") && (cause.contains("timeout") || cause.contains("timed out")),
        "{cause}"
    );
    let history = dep.history(&execution).await?;
    assert_eq!(history.wave(1)?["waveStatus"], "FAILED");
    Ok(())
}
