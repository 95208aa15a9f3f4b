//! Operator control (issue #13): approval gates, decisions after a failed wave (`onFailure:
//! ask`: retry, skip, stop) and cancels, answered the way an operator answers them: with the
//! `drs-waves` CLI as a subprocess (`approve`, `stop`, `decide`, `cancel`), with
//! `drs-waves follow` beside the execution where its exit status says something (0 succeeded,
//! 1 failed, 3 cancelled or stopped). The tests find a gate open from the history (the
//! EXECUTION item's `pendingGates`), as the CLI does.
//!
//! Every test asserts from drs-sim's own records (which jobs were made, with which servers,
//! which instances were terminated), from the run lock, and from the history's record of who
//! did what (`operatorActions`, each with the caller's ARN and a time).
//!
//! Every test's name contains `operator`.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use aws_sdk_sfn::types::ExecutionStatus;
use drs_e2e::{Deployment, Ended};
use drs_sim::{JobSnapshot, ServerSelector, ServerSpec, SimConfig};
use drs_test_harness::{ChildGuard, eventually, unique_name};
use drs_waves_contract::job_tags;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{DRILL_TIMEOUT, describe};

mod cancels;
mod decisions;
mod gates;
mod lost_token;

/// How often the tests look at the history and drs-sim while they wait.
pub(super) const POLL: Duration = Duration::from_millis(150);

/// Generous: a gate opens within a few task deliveries of the execution's start.
const GATE_TIMEOUT: Duration = Duration::from_secs(90);

/// LocalStack's STS answers GetCallerIdentity for the test credentials with its account's
/// root: the ARN every operator action of these tests is recorded with.
const LOCAL_CALLER: &str = "arn:aws:iam::000000000000:root";

/// How long one `drs-waves` command may take (an answer is a few calls).
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

fn sim_error(e: drs_sim::SimError) -> anyhow::Error {
    anyhow!("drs-sim: {e}")
}

/// A plan with short launches and quick polling; `waves` is the YAML of its waves (indented
/// by two spaces, as under `waves:`).
pub(super) fn plan_yaml(name: &str, waves: &str) -> String {
    format!(
        r#"
name: {name}
defaults:
  launchTimeoutSeconds: 60
  polling: {{minWaitSeconds: 1, maxWaitSeconds: 2, expectedLaunchSeconds: 1}}
tasks: {{heartbeatSeconds: 10}}
waves:
{waves}"#
    )
}

/// A deployment of test `test` with drs-sim's `servers`, one plan `plan` (the waves of
/// [`plan_yaml`]) and a worker running: returns it and the plan's state machine.
pub(super) async fn deploy_plan_with_worker(
    test: &str,
    servers: Vec<ServerSpec>,
    plan: &str,
    waves: &str,
) -> Result<(Deployment, String)> {
    let mut dep = Deployment::new(test, SimConfig::with_servers(servers)).await?;
    let machine = dep
        .deploy_plan(&format!("{plan}.plan.yaml"), &plan_yaml(plan, waves))
        .await?;
    dep.start_worker(&[])?;
    Ok((dep, machine))
}

/// The LAUNCH jobs of an execution (by the worker's tags), oldest first.
fn launch_jobs(dep: &Deployment, execution: &str) -> Vec<JobSnapshot> {
    launch_jobs_of_sim(&dep.sim, execution)
}

fn launch_jobs_of_sim(sim: &drs_sim::SimHandle, execution: &str) -> Vec<JobSnapshot> {
    sim.jobs()
        .into_iter()
        .filter(|j| j.job_type == "LAUNCH" && !j.background)
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .collect()
}

/// The LAUNCH jobs of one wave (by its name tag).
pub(super) fn wave_jobs(dep: &Deployment, execution: &str, wave: &str) -> Vec<JobSnapshot> {
    launch_jobs(dep, execution)
        .into_iter()
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some(wave))
        .collect()
}

fn servers_of(job: &JobSnapshot) -> Vec<String> {
    let mut ids: Vec<String> = job
        .servers
        .iter()
        .map(|s| s.source_server_id.clone())
        .collect();
    ids.sort();
    ids
}

/// The EXECUTION item of the history (empty JSON when there is none yet).
pub(super) async fn execution_record(dep: &Deployment, execution: &str) -> Result<Value> {
    Ok(dep
        .history(execution)
        .await?
        .execution_if_any()
        .cloned()
        .unwrap_or(Value::Null))
}

/// The gates the execution waits at, as the history records them (`pendingGates`, a map keyed
/// `approve_w<i>` / `decide_w<i>`, each entry's `gate` a JSON string), in key order.
fn pending_gates(record: &Value) -> Vec<Value> {
    record["pendingGates"]
        .as_object()
        .map(|gates| {
            gates
                .values()
                .filter_map(|entry| entry["gate"].as_str())
                .filter_map(|s| serde_json::from_str(s).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The gate the execution waits at: these plans run their waves in series, so at most one.
fn pending_gate(record: &Value) -> Option<Value> {
    pending_gates(record).into_iter().next()
}

/// Polls the history until the execution waits at a gate of `kind` (APPROVAL or DECISION)
/// for wave `wave_index`; returns the gate.
pub(super) async fn wait_for_gate(
    dep: &Deployment,
    execution: &str,
    kind: &str,
    wave_index: u32,
) -> Result<Value> {
    eventually(
        &format!("execution {execution} to wait at the {kind} gate of wave {wave_index}"),
        GATE_TIMEOUT,
        POLL,
        || async move {
            let record = execution_record(dep, execution).await.ok()?;
            let gate = pending_gate(&record)?;
            (gate["kind"] == kind && gate["waveIndex"] == wave_index).then_some(gate)
        },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))
}

/// The operator actions the history records, each parsed (they are JSON strings).
fn operator_actions(record: &Value) -> Result<Vec<Value>> {
    record["operatorActions"]
        .as_array()
        .map(|acts| {
            acts.iter()
                .map(|a| match a {
                    Value::String(s) => serde_json::from_str(s).context("an operator action"),
                    other => Ok(other.clone()),
                })
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// Asserts the history's operator actions are exactly `expected` (action, wave index), each by
/// `caller` and timed within the test.
fn assert_actions(
    record: &Value,
    expected: &[(&str, Option<u32>)],
    caller: &str,
    since: OffsetDateTime,
) -> Result<()> {
    let actions = operator_actions(record)?;
    let got: Vec<(String, Option<u64>)> = actions
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default().to_owned(),
                a["waveIndex"].as_u64(),
            )
        })
        .collect();
    let want: Vec<(String, Option<u64>)> = expected
        .iter()
        .map(|(a, w)| ((*a).to_owned(), w.map(u64::from)))
        .collect();
    ensure!(
        got == want,
        "operator actions {got:?}, expected {want:?}: {record}"
    );
    for action in &actions {
        ensure!(
            action["by"] == caller,
            "recorded by {}, not {caller}: {action}",
            action["by"]
        );
        let at = action["at"]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .with_context(|| format!("an action without an RFC 3339 time: {action}"))?;
        ensure!(
            at >= since - Duration::from_secs(1) && at <= OffsetDateTime::now_utc(),
            "action at {at}, not during the test (since {since}): {action}"
        );
    }
    Ok(())
}

/// What an operator does, with the `drs-waves` CLI.
#[derive(Clone, Copy, Debug)]
pub(super) enum Act {
    Approve,
    Stop,
    Decide(&'static str),
    Cancel,
}

impl Act {
    fn args(self) -> Vec<&'static str> {
        match self {
            Act::Approve => vec!["approve"],
            Act::Stop => vec!["stop"],
            Act::Decide(d) => vec!["decide", d],
            Act::Cancel => vec!["cancel"],
        }
    }
}

/// Runs `drs-waves ARGS` against the deployment (its env only) to its end; returns its exit
/// code, stdout and stderr.
pub(super) async fn drs_waves(dep: &Deployment, args: &[&str]) -> Result<(i32, String, String)> {
    let mut cmd = tokio::process::Command::from(dep.cli_command()?);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(CLI_TIMEOUT, cmd.output())
        .await
        .map_err(|_| anyhow!("drs-waves {args:?} did not end within {CLI_TIMEOUT:?}"))?
        .with_context(|| format!("running drs-waves {args:?}"))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// The operator answers with the CLI (`drs-waves approve|stop|decide|cancel EXECUTION`), which
/// must succeed; returns what it told the operator.
pub(super) async fn operate(dep: &Deployment, execution: &str, act: Act) -> Result<String> {
    let mut args = act.args();
    args.insert(1, execution);
    let (code, stdout, stderr) = drs_waves(dep, &args).await?;
    ensure!(
        code == 0,
        "drs-waves {args:?} exited {code}:\n{stdout}{stderr}\n{}",
        dep.worker_logs()
    );
    Ok(stdout)
}

/// The identity LocalStack's STS gives the test credentials: who the CLI records.
fn caller() -> &'static str {
    LOCAL_CALLER
}

/// `drs-waves follow EXECUTION`, running beside the test (plain lines: not a terminal).
struct Follower {
    child: ChildGuard,
}

impl Follower {
    fn start(dep: &Deployment, execution: &str) -> Result<Follower> {
        let mut cmd = dep.cli_command()?;
        cmd.args(["follow", execution]);
        let log = std::env::temp_dir().join(format!("{}-follow.log", unique_name("drs-waves")));
        Ok(Follower {
            child: ChildGuard::spawn_logged("drs-waves follow", &mut cmd, &log)?,
        })
    }

    /// Waits for the follower to end by itself; returns its exit code and output.
    async fn end(mut self) -> Result<(i32, String)> {
        let child = &mut self.child;
        let status = eventually(
            "drs-waves follow to end",
            Duration::from_secs(30),
            POLL,
            || {
                let status = child.try_wait();
                async move { status }
            },
        )
        .await
        .map_err(|e| anyhow!("{e:#}\n{}", self.child.log_tail(4000)))?;
        Ok((status.code().unwrap_or(-1), self.child.log_tail(4000)))
    }

    /// Asserts it ended with `code` (0 succeeded, 1 failed, 3 cancelled or stopped) and its
    /// last lines say `outcome`.
    async fn assert_end(self, code: i32, outcome: &str) -> Result<()> {
        let (got, output) = self.end().await?;
        ensure!(
            got == code && output.contains(outcome),
            "drs-waves follow exited {got} (expected {code}, the output saying {outcome}):\n{output}"
        );
        Ok(())
    }
}

/// The execution's end, which must be FAILED (record-failure ran) with `error`.
fn assert_failed_with(ended: &Ended, error: &str, dep: &Deployment) -> Result<()> {
    ensure!(
        ended.status == ExecutionStatus::Failed && ended.error.as_deref() == Some(error),
        "expected FAILED with {error}: {}\n{}",
        describe(ended),
        dep.worker_logs()
    );
    Ok(())
}

/// Waits until every instance launched by `jobs` is terminated in drs-sim, by a TERMINATE job.
async fn assert_all_terminated(dep: &Deployment, jobs: &[JobSnapshot]) -> Result<()> {
    let launched: Vec<String> = jobs
        .iter()
        .flat_map(|j| &j.servers)
        .filter_map(|s| s.recovery_instance_id.clone())
        .collect();
    ensure!(!launched.is_empty(), "no instance was launched: {jobs:?}");
    let sim = &dep.sim;
    let launched_ref = &launched;
    eventually(
        "every instance of the drill terminated in drs-sim",
        Duration::from_secs(30),
        POLL,
        || async move {
            let instances = sim.recovery_instances();
            launched_ref
                .iter()
                .all(|id| {
                    instances
                        .iter()
                        .any(|i| &i.recovery_instance_id == id && i.terminated_date_time.is_some())
                })
                .then_some(())
        },
    )
    .await?;
    let terminated_by_jobs: Vec<String> = dep
        .sim
        .jobs()
        .iter()
        .filter(|j| j.job_type == "TERMINATE")
        .flat_map(|j| &j.servers)
        .filter_map(|s| s.recovery_instance_id.clone())
        .collect();
    for id in &launched {
        ensure!(
            terminated_by_jobs.contains(id),
            "instance {id} was not terminated by a TERMINATE job: {terminated_by_jobs:?}"
        );
    }
    Ok(())
}

/// The test's wall time on stderr (shown with `--nocapture`).
fn took(test: &str, since: OffsetDateTime) {
    eprintln!(
        "{test}: {:.1} s",
        (OffsetDateTime::now_utc() - since).as_seconds_f64()
    );
}

async fn assert_lock_free(dep: &Deployment, plan: &str) -> Result<()> {
    let lock = dep.lock(plan).await?;
    ensure!(lock.is_none(), "the plan's lock is still held: {lock:?}");
    Ok(())
}
