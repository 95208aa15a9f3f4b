//! Operator control (issue #13): approval gates, decisions after a failed wave (`onFailure:
//! ask`: retry, skip, stop) and cancels, answered the way an operator answers them: with the
//! `drs-waves` CLI as a subprocess (`approve`, `stop`, `decide`, `cancel`), with
//! `drs-waves follow` beside the execution where its exit status says something (0 succeeded,
//! 1 failed, 3 cancelled or stopped). The tests find a gate open from the history (the
//! EXECUTION item's `pendingGate`), as the CLI does.
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

/// How often the tests look at the history and drs-sim while they wait.
mod lost_token;

const POLL: Duration = Duration::from_millis(150);

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
fn plan_yaml(name: &str, waves: &str) -> String {
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
async fn deploy_plan_with_worker(
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
fn wave_jobs(dep: &Deployment, execution: &str, wave: &str) -> Vec<JobSnapshot> {
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
async fn execution_record(dep: &Deployment, execution: &str) -> Result<Value> {
    Ok(dep
        .history(execution)
        .await?
        .execution_if_any()
        .cloned()
        .unwrap_or(Value::Null))
}

/// The gate the execution waits at, as the history records it (`pendingGate`, a JSON string).
fn pending_gate(record: &Value) -> Option<Value> {
    record["pendingGate"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
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
async fn drs_waves(dep: &Deployment, args: &[&str]) -> Result<(i32, String, String)> {
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
    let undecided = dep
        .start_execution(&undecided_machine, &super::drill())
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
    let execution = dep.start_execution(&machine, &super::drill()).await?;
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
