//! Actions before and after a wave (issue #24), on LocalStack's own Step Functions and SNS: a
//! child state machine runs before wave 2 and an SNS message goes out after it; a child machine
//! that fails with `onFailure: stop` ends the drill, cleaned up, with nothing of wave 2
//! launched. Asserted from drs-sim's records, the history table, the child executions and the
//! messages an HTTP subscriber on 127.0.0.1 received. Every test's name contains `actions`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use drs_e2e::Deployment;
use drs_sim::{JobSnapshot, ServerSpec, SimConfig};
use drs_test_harness::eventually;
use drs_waves_contract::job_tags;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::operator::{Act, operate, wait_for_gate};
use super::{describe, drill, run_to_end, run_to_success};

const POLL: Duration = Duration::from_millis(200);
const ROLE: &str = "arn:aws:iam::000000000000:role/drs-waves-local";

fn servers() -> Vec<ServerSpec> {
    ["db", "app"]
        .into_iter()
        .enumerate()
        .map(|(n, tier)| {
            ServerSpec::new(format!("s-7a{:015}", n + 1), 2.0)
                .with_tag("App", "actions")
                .with_tag("Tier", tier)
                .with_recovered_ip(format!("10.7.0.{}", n + 1))
        })
        .collect()
}

/// db, then app with `app_actions` (YAML lines of the app wave).
fn plan(name: &str, app_actions: &str) -> String {
    format!(
        "name: {name}\nterminateDrillInstances: true\n\
         defaults:\n  launchTimeoutSeconds: 120\n  polling: {{minWaitSeconds: 1, maxWaitSeconds: 2, expectedLaunchSeconds: 2}}\n\
         tasks: {{heartbeatSeconds: 10}}\nwaves:\n\
         \x20 - name: db\n    servers: {{tags: {{App: actions, Tier: db}}}}\n\
         \x20 - name: app\n    servers: {{tags: {{App: actions, Tier: app}}}}\n{app_actions}"
    )
}

/// A child machine of one Pass (`ok`) or one Fail state.
pub(super) async fn child_machine(dep: &Deployment, name: &str, fails: bool) -> Result<String> {
    let definition = if fails {
        r#"{"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Failover.Refused", "Cause": "the replica is behind"}}}"#
    } else {
        r#"{"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": true}}}"#
    };
    let created = dep
        .sfn
        .create_state_machine()
        .name(format!("{}-{name}", dep.prefix))
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .context("creating the child machine")?;
    Ok(created.state_machine_arn().to_owned())
}

/// The input of a child machine's one execution.
async fn only_run_input(dep: &Deployment, machine: &str) -> Result<Value> {
    let runs = dep
        .sfn
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await?;
    let [run] = runs.executions() else {
        anyhow::bail!("{machine} ran {} times", runs.executions().len());
    };
    let described = dep
        .sfn
        .describe_execution()
        .execution_arn(run.execution_arn())
        .send()
        .await?;
    Ok(serde_json::from_str(described.input().unwrap_or("null"))?)
}

/// The after-action `register` got wave 2's server as drs-sim recovered it: its recovery and
/// EC2 instance, host name and private IP.
async fn servers_given_to(dep: &Deployment, register: &str) -> Result<()> {
    let app_instance = dep
        .sim
        .recovery_instances()
        .into_iter()
        .find(|i| i.source_server_id == "s-7a000000000000002")
        .context("app has no recovery instance")?;
    let input = only_run_input(dep, register).await?;
    ensure!(
        input["drsWaves"]["servers"]
            == serde_json::json!([{
                "sourceServerId": "s-7a000000000000002",
                "hostname": input["drsWaves"]["servers"][0]["hostname"],
                "recoveryInstanceId": app_instance.recovery_instance_id,
                "ec2InstanceId": app_instance.recovery_instance_id,
                "privateIps": ["10.7.0.2"],
            }])
            && input["drsWaves"]["servers"][0]["hostname"]
                .as_str()
                .is_some_and(|h| !h.is_empty()),
        "the after-action's servers: {input}"
    );
    Ok(())
}

fn wave_jobs(dep: &Deployment, execution: &str, wave: &str) -> Vec<JobSnapshot> {
    dep.sim
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == "LAUNCH" && !j.background)
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some(wave))
        .collect()
}

/// The states an execution entered, in order.
pub(super) async fn entered_states(dep: &Deployment, execution: &str) -> Result<Vec<String>> {
    let mut pages = dep
        .sfn
        .get_execution_history()
        .execution_arn(execution)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        for e in page.context("GetExecutionHistory")?.events() {
            let entered = [
                HistoryEventType::TaskStateEntered,
                HistoryEventType::ChoiceStateEntered,
                HistoryEventType::PassStateEntered,
                HistoryEventType::WaitStateEntered,
            ]
            .contains(e.r#type());
            if entered && let Some(d) = e.state_entered_event_details() {
                names.push(d.name().to_owned());
            }
        }
    }
    Ok(names)
}

pub(super) fn position(states: &[String], name: &str) -> Result<usize> {
    states
        .iter()
        .position(|s| s == name)
        .with_context(|| format!("{name:?} was never entered: {states:?}"))
}

/// An HTTP endpoint on 127.0.0.1 that SNS delivers to: it confirms its subscription and keeps
/// every notification's body.
struct Subscriber {
    endpoint: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Subscriber {
    async fn start(sns: aws_sdk_sns::Client, topic: String) -> Result<Subscriber> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}/", listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let Some(body) = read_request(&mut conn).await else {
                    continue;
                };
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                    continue;
                };
                if v["Type"] == "SubscriptionConfirmation" {
                    if let Some(token) = v["Token"].as_str() {
                        let _ = sns
                            .confirm_subscription()
                            .topic_arn(&topic)
                            .token(token)
                            .send()
                            .await;
                    }
                } else if let Ok(mut all) = kept.lock() {
                    all.push(v);
                }
            }
        });
        Ok(Subscriber { endpoint, received })
    }

    fn notifications(&self) -> Vec<Value> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// One HTTP request's body (Content-Length framed), or None when the request is not readable.
async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf[header_end..header_end + length].to_vec())
}

/// An SNS topic in LocalStack with a [`Subscriber`] on it.
async fn topic_with_subscriber(dep: &Deployment) -> Result<(String, Subscriber)> {
    let sns =
        aws_sdk_sns::Client::new(&drs_test_harness::sdk_config(dep.localstack_endpoint()).await);
    let topic = sns
        .create_topic()
        .name(format!("{}-recovery", dep.prefix))
        .send()
        .await
        .context("CreateTopic")?
        .topic_arn()
        .context("no topic ARN")?
        .to_owned();
    let subscriber = Subscriber::start(sns.clone(), topic.clone()).await?;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&subscriber.endpoint)
        .send()
        .await
        .context("Subscribe")?;
    Ok((topic, subscriber))
}

/// A child machine runs before wave 2 (after wave 1 has launched, before wave 2's job), gets
/// the execution's context, and an SNS message goes out after wave 2 with the context in its
/// attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_child_machine_before_wave_2_and_a_notification_after_it() -> Result<()> {
    let mut dep = Deployment::new("actions-ok", SimConfig::with_servers(servers())).await?;
    let child = child_machine(&dep, "failover", false).await?;
    let register = child_machine(&dep, "register", false).await?;
    let (topic, subscriber) = topic_with_subscriber(&dep).await?;
    let actions = format!(
        "    before:\n      - name: fail over database\n        stateMachine: {{arn: \"{child}\", input: {{cluster: shop-db}}}}\n        timeoutMinutes: 2\n\
         \x20   after:\n      - name: tell the team\n        notify: {{topic: \"{topic}\", message: app tier is up}}\n\
         \x20     - name: register servers\n        stateMachine: {{arn: \"{register}\"}}\n"
    );
    let machine = dep
        .deploy_plan("actions.plan.yaml", &plan("actions", &actions))
        .await?;
    dep.start_worker(&[])?;
    let (execution, _) = run_to_success(&dep, &machine, drill()).await?;

    // The child ran once, to its end, with the context and the plan's input.
    let runs = dep
        .sfn
        .list_executions()
        .state_machine_arn(&child)
        .send()
        .await?;
    let runs = runs.executions();
    ensure!(runs.len() == 1, "the child ran {} times", runs.len());
    ensure!(
        runs[0].status() == &ExecutionStatus::Succeeded,
        "child: {:?}",
        runs[0].status()
    );
    let child_run = dep
        .sfn
        .describe_execution()
        .execution_arn(runs[0].execution_arn())
        .send()
        .await?;
    let input: Value = serde_json::from_str(child_run.input().unwrap_or("null"))?;
    ensure!(
        input["drsWaves"]["execution"] == execution.as_str(),
        "child input: {input}"
    );
    ensure!(
        input["drsWaves"]["mode"] == "DRILL" && input["drsWaves"]["plan"] == "actions",
        "child input: {input}"
    );
    ensure!(
        input["drsWaves"]["wave"]["index"] == 2 && input["input"]["cluster"] == "shop-db",
        "child input: {input}"
    );

    // In order: wave 1 launched, then the child, then wave 2's launch, then the message.
    let states = entered_states(&dep, &execution).await?;
    let before = position(&states, "Wave 2 app: before 1 (fail over database)")?;
    let after = position(&states, "Wave 2 app: after 1 (tell the team)")?;
    ensure!(
        position(&states, "Wave 1 db: done?")? < before,
        "{states:?}"
    );
    ensure!(
        before < position(&states, "Wave 2 app: start")?,
        "{states:?}"
    );
    ensure!(
        position(&states, "Wave 2 app: done?")? < after && after < position(&states, "Finish")?,
        "{states:?}"
    );
    let db_ended = wave_jobs(&dep, &execution, "db")
        .iter()
        .flat_map(|j| j.servers.iter().map(|s| s.launch_end_date_time))
        .max()
        .context("db launched nothing")?;
    let app_created = wave_jobs(&dep, &execution, "app")
        .iter()
        .map(|j| j.creation_date_time)
        .min()
        .context("app launched nothing")?;
    let child_stop = child_run.stop_date().context("child has no stop date")?;
    let child_start = child_run.start_date();
    let secs = |d: &aws_sdk_sfn::primitives::DateTime| d.as_secs_f64();
    ensure!(
        secs(child_start) + 1.0 >= db_ended.unix_timestamp() as f64
            && secs(child_stop) <= app_created.unix_timestamp() as f64 + 1.0,
        "the child ran {child_start:?}..{child_stop:?}, db launched by {db_ended}, app's job created {app_created}"
    );
    let history = dep.history(&execution).await?;
    ensure!(
        history.wave(2)?["waveStatus"] == "SUCCEEDED",
        "app: {}",
        history.wave(2)?
    );

    // The after-action got the wave's servers as DRS recovered them.
    servers_given_to(&dep, &register).await?;

    // The message reached the subscriber, with the context as attributes.
    let subscriber = &subscriber;
    let note = eventually(
        "the notification to arrive",
        Duration::from_secs(60),
        POLL,
        || async move {
            subscriber
                .notifications()
                .into_iter()
                .find(|n| n["Message"] == "app tier is up")
        },
    )
    .await?;
    let attrs = &note["MessageAttributes"];
    ensure!(attrs["execution"]["Value"] == execution.as_str(), "{note}");
    ensure!(
        attrs["mode"]["Value"] == "DRILL" && attrs["wave"]["Value"] == "2 app",
        "{note}"
    );
    Ok(())
}

/// A child machine that fails before wave 2 with `onFailure: stop`: the drill fails naming the
/// action and the child's error, nothing of wave 2 launches, and wave 1's drill instances are
/// terminated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_a_failing_before_action_stops_the_drill_and_cleans_up() -> Result<()> {
    let mut dep = Deployment::new("actions-stop", SimConfig::with_servers(servers())).await?;
    let child = child_machine(&dep, "refuse", true).await?;
    let actions = format!(
        "    before:\n      - name: fail over database\n        stateMachine: {{arn: \"{child}\"}}\n        onFailure: stop\n"
    );
    let machine = dep
        .deploy_plan("actions-stop.plan.yaml", &plan("actions-stop", &actions))
        .await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(&dep, &machine, drill()).await?;
    ensure!(!ended.succeeded(), "the drill succeeded");
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.ActionFailed"),
        "error: {}",
        describe(&ended)
    );
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains("Wave 2 app: before 1 (fail over database)")
            && cause.contains("Failover.Refused"),
        "the cause names the action and the child's error: {cause}"
    );
    ensure!(
        wave_jobs(&dep, &execution, "app").is_empty(),
        "app launched"
    );
    let history = dep.history(&execution).await?;
    ensure!(
        history.execution()?["executionStatus"] == "FAILED",
        "{}",
        history.execution()?
    );
    ensure!(
        history.wave(1)?["waveStatus"] == "SUCCEEDED",
        "db: {}",
        history.wave(1)?
    );

    let sim = &dep.sim;
    let db: Vec<String> = wave_jobs(&dep, &execution, "db")
        .into_iter()
        .flat_map(|j| j.servers)
        .filter_map(|s| s.recovery_instance_id)
        .collect();
    ensure!(!db.is_empty(), "db launched no instance");
    let db = &db;
    eventually(
        "wave 1's drill instances terminated",
        Duration::from_secs(120),
        POLL,
        || async move {
            let instances = sim.recovery_instances();
            db.iter()
                .all(|id| {
                    instances
                        .iter()
                        .any(|i| &i.recovery_instance_id == id && i.terminated_date_time.is_some())
                })
                .then_some(())
        },
    )
    .await?;
    Ok(())
}

/// A child machine that fails before wave 2 with `onFailure: ask`: the decision names the action
/// and the child's error and nothing of wave 2 has launched; a retry runs the child again (and
/// launches nothing), a skip goes on without it, and the drill succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_a_failing_action_that_asks_is_retried_then_skipped() -> Result<()> {
    let mut dep = Deployment::new("actions-ask", SimConfig::with_servers(servers())).await?;
    let child = child_machine(&dep, "refuse", true).await?;
    let actions = format!(
        "    decision: {{timeoutMinutes: 10}}\n    before:\n      - name: fail over database\n        stateMachine: {{arn: \"{child}\"}}\n        onFailure: ask\n"
    );
    let machine = dep
        .deploy_plan("actions-ask.plan.yaml", &plan("actions-ask", &actions))
        .await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let name = "Wave 2 app: before 1 (fail over database)";
    let gate = wait_for_gate(&dep, &execution, "DECISION", 2).await?;
    ensure!(
        gate["action"] == name
            && gate["reason"]
                .as_str()
                .is_some_and(|r| r.contains(name) && r.contains("Failover.Refused")),
        "the decision names the action and the child's error: {gate}"
    );
    ensure!(
        wave_jobs(&dep, &execution, "app").is_empty(),
        "app launched before the decision"
    );
    let told = operate(&dep, &execution, Act::Decide("retry")).await?;
    ensure!(told.contains("the action runs again"), "{told}");
    let sfn = &dep.sfn;
    let child_ref = &child;
    eventually(
        "the child to run again",
        Duration::from_secs(60),
        POLL,
        || async move {
            let runs = sfn
                .list_executions()
                .state_machine_arn(child_ref)
                .send()
                .await
                .ok()?;
            (runs.executions().len() == 2).then_some(())
        },
    )
    .await?;
    wait_for_gate(&dep, &execution, "DECISION", 2).await?;
    ensure!(
        wave_jobs(&dep, &execution, "app").is_empty(),
        "a retry of the action launched app"
    );
    operate(&dep, &execution, Act::Decide("skip")).await?;
    let ended = dep
        .wait_for_end(&execution, Duration::from_secs(240))
        .await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    ensure!(
        wave_jobs(&dep, &execution, "app").len() == 1,
        "after the skip, app launched once"
    );
    let history = dep.history(&execution).await?;
    let acts = history.execution()?["operatorActions"].to_string();
    ensure!(
        acts.contains("RETRY") && acts.contains("SKIP"),
        "both answers are recorded: {acts}"
    );
    Ok(())
}
