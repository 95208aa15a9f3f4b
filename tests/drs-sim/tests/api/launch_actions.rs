//! Post-launch actions and the job log's failure events over the wire: what DescribeJobs and
//! DescribeJobLogItems say, held to the DRS model at every step.

use crate::common::{call, output_violations, sid, start};
use drs_sim::{LaunchActionSpec, RunStatus, ServerSpec};
use serde_json::{Value, json};

/// Polls DescribeJobs for `job` (every answer checked against the model) until `done` says
/// so; every answer seen, in order.
async fn watch_job(endpoint: &str, job: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + crate::common::DEADLINE;
    loop {
        let answer = call(
            endpoint,
            "DescribeJobs",
            &json!({"filters": {"jobIDs": [job]}}),
        )
        .await;
        let violations = output_violations("DescribeJobs", &answer);
        assert!(violations.is_empty(), "{violations:?}");
        let item = answer.body["items"][0].clone();
        seen.push(item.clone());
        if done(&item) {
            return seen;
        }
        assert!(tokio::time::Instant::now() < deadline, "never done: {item}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn server<'a>(job: &'a Value, id: &str) -> &'a Value {
    job["participatingServers"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["sourceServerID"] == id))
        .unwrap_or_else(|| panic!("{id} not in {job}"))
}

async fn log_events(endpoint: &str, job: &str) -> Vec<Value> {
    let answer = call(endpoint, "DescribeJobLogItems", &json!({"jobID": job})).await;
    let violations = output_violations("DescribeJobLogItems", &answer);
    assert!(violations.is_empty(), "{violations:?}");
    answer.body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn actions_run_in_order_after_launched_and_the_job_completes_when_they_end() {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.2)
                .with_post_launch_action(
                    LaunchActionSpec::new("Check app health", 0.3)
                        .with_order(5)
                        .with_action_code("Custom-CheckHealth")
                        .failing_with("HTTP check on port 443 failed: connection refused"),
                )
                .with_post_launch_action(
                    LaunchActionSpec::new("Install CloudWatch agent", 0.2)
                        .with_order(3)
                        .optional(),
                ),
            ServerSpec::new(sid(2), 0.1),
        ],
        |_| {},
    )
    .await;
    let endpoint = sim.endpoint();
    let started = call(
        &endpoint,
        "StartRecovery",
        &json!({"sourceServers": [{"sourceServerID": sid(1)}, {"sourceServerID": sid(2)}], "isDrill": true}),
    )
    .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let job = started.body["job"]["jobID"]
        .as_str()
        .expect("job")
        .to_owned();
    let seen = watch_job(&endpoint, &job, |j| j["status"] == "COMPLETED").await;

    // While the actions run the server is LAUNCHED and the job still STARTED.
    let launched_running: Vec<&Value> = seen
        .iter()
        .filter(|j| server(j, &sid(1))["launchStatus"] == "LAUNCHED")
        .collect();
    assert!(
        launched_running.iter().any(|j| j["status"] == "STARTED"),
        "the job completed as soon as the server launched: {seen:?}"
    );
    // Runs are listed as they start, lowest order first.
    let in_progress: Vec<(String, String)> = seen
        .iter()
        .filter_map(|j| server(j, &sid(1)).get("launchActionsStatus"))
        .flat_map(|s| s["runs"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["status"] == "IN_PROGRESS")
        .map(|r| {
            (
                r["action"]["name"].as_str().unwrap_or_default().to_owned(),
                r["runId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let first_running = in_progress.first().map(|(n, _)| n.as_str());
    assert_eq!(
        first_running,
        Some("Install CloudWatch agent"),
        "{in_progress:?}"
    );

    let done = seen.last().expect("an answer");
    let status = &server(done, &sid(1))["launchActionsStatus"];
    assert!(status["ssmAgentDiscoveryDatetime"].is_string(), "{status}");
    let runs = status["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["status"], "SUCCEEDED");
    assert_eq!(runs[0]["action"]["optional"], true);
    assert_eq!(runs[1]["action"]["name"], "Check app health");
    assert_eq!(runs[1]["action"]["actionCode"], "Custom-CheckHealth");
    assert_eq!(runs[1]["action"]["order"], 5);
    assert_eq!(runs[1]["status"], "FAILED");
    assert_eq!(
        runs[1]["failureReason"],
        "HTTP check on port 443 failed: connection refused"
    );
    // The instance is there: the launch itself succeeded.
    assert_eq!(server(done, &sid(1))["launchStatus"], "LAUNCHED");
    // A server without actions reports none.
    assert!(server(done, &sid(2)).get("launchActionsStatus").is_none());

    // The admin API records the runs, and the job's end after the last one.
    let record = sim
        .jobs()
        .into_iter()
        .find(|j| j.job_id == job)
        .expect("job");
    let s1 = &record.servers[0];
    assert_eq!(s1.launch_action_runs.len(), 2);
    assert_eq!(s1.launch_action_runs[1].status, Some(RunStatus::Failed));
    let last_run_end = s1.launch_action_runs[1].end_date_time;
    assert!(s1.launch_end_date_time < s1.launch_action_runs[0].start_date_time);
    assert_eq!(record.end_date_time, Some(last_run_end));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_skipped_server_and_failures_at_the_snapshot_and_the_conversion_are_logged() {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.2).skipped("Source server is not in a replicating state"),
            ServerSpec::new(sid(2), 0.2).failing_at("conversion"),
            ServerSpec::new(sid(3), 0.2).failing_at("snapshot"),
            ServerSpec::new(sid(4), 0.2),
        ],
        |_| {},
    )
    .await;
    let endpoint = sim.endpoint();
    let ids: Vec<Value> = (1..=4).map(|n| json!({"sourceServerID": sid(n)})).collect();
    let started = call(&endpoint, "StartRecovery", &json!({"sourceServers": ids})).await;
    let job = started.body["job"]["jobID"]
        .as_str()
        .expect("job")
        .to_owned();
    let seen = watch_job(&endpoint, &job, |j| j["status"] == "COMPLETED").await;
    let done = seen.last().expect("answer");
    for n in 1..=3 {
        assert_eq!(server(done, &sid(n))["launchStatus"], "FAILED", "{n}");
        assert!(server(done, &sid(n)).get("recoveryInstanceID").is_none());
    }
    assert_eq!(server(done, &sid(4))["launchStatus"], "LAUNCHED");
    let log = log_events(&endpoint, &job).await;
    let of = |n: u32| -> Vec<(String, Option<String>)> {
        log.iter()
            .filter(|i| i["eventData"]["sourceServerID"] == sid(n))
            .map(|i| {
                (
                    i["event"].as_str().unwrap_or_default().to_owned(),
                    i["eventData"]["rawError"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    assert_eq!(
        of(1),
        vec![(
            "SERVER_SKIPPED".to_owned(),
            Some("Source server is not in a replicating state".to_owned())
        )]
    );
    let conversion: Vec<String> = of(2).into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        conversion,
        [
            "SNAPSHOT_START",
            "SNAPSHOT_END",
            "CONVERSION_START",
            "CONVERSION_FAIL",
            "LAUNCH_FAILED"
        ]
    );
    assert!(
        of(2)[3]
            .1
            .as_deref()
            .is_some_and(|r| r.starts_with("Conversion failed"))
    );
    let snapshot: Vec<String> = of(3).into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        snapshot,
        ["SNAPSHOT_START", "SNAPSHOT_FAIL", "LAUNCH_FAILED"]
    );
    let record = sim
        .jobs()
        .into_iter()
        .find(|j| j.job_id == job)
        .expect("job");
    assert!(record.servers[0].skipped);
    assert_eq!(
        record.servers[0].fail_reason.as_deref(),
        Some("Source server is not in a replicating state")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn default_actions_apply_by_tag_and_a_servers_own_replace_them() {
    let fixture = r#"
defaults:
  postLaunchActions:
    - {name: Verify billing, tags: {App: billing}, outcome: FAILED, failureReason: port 8080 closed}
    - {name: Everyone, optional: true}
servers:
  - {id: s-00000000000000001, tags: {App: billing}}
  - {id: s-00000000000000002, tags: {App: shop}}
  - id: s-00000000000000003
    tags: {App: billing}
    postLaunchActions: [{name: Own check, actionCode: AWS-RunPowerShellScript}]
"#;
    let origin = std::path::Path::new("f.yaml");
    let servers = drs_sim::Fixture::parse(fixture, origin)
        .and_then(|f| f.validate(origin))
        .expect("valid fixture");
    let names = |i: usize| -> Vec<&str> {
        servers[i]
            .post_launch_actions
            .iter()
            .map(|a| a.name.as_str())
            .collect()
    };
    assert_eq!(names(0), ["Verify billing", "Everyone"]);
    assert_eq!(names(1), ["Everyone"]);
    assert_eq!(names(2), ["Own check"]);
    assert_eq!(
        servers[0].post_launch_actions[0].failure_reason.as_deref(),
        Some("port 8080 closed")
    );
    for (bad, needle) in [
        (
            "servers:\n  - id: s-00000000000000001\n    postLaunchActions: [{name: x, tags: {A: b}}]\n",
            "defaults.postLaunchActions only",
        ),
        (
            "servers:\n  - id: s-00000000000000001\n    postLaunchActions: [{name: x}, {name: x}]\n",
            "listed twice",
        ),
        (
            "defaults:\n  postLaunchActions: [{name: x, order: 1}]\n",
            "postLaunchActions",
        ),
        (
            "servers:\n  - id: s-00000000000000001\n    skipReason: why\n",
            "skipLaunch",
        ),
        (
            "servers:\n  - id: s-00000000000000001\n    failStage: conversion\n",
            "failLaunch",
        ),
        (
            "servers:\n  - id: s-00000000000000001\n    failLaunch: true\n    failStage: boot\n",
            "failStage",
        ),
    ] {
        let err = drs_sim::Fixture::parse(bad, origin)
            .and_then(|f| f.validate(origin))
            .expect_err(needle)
            .to_string();
        assert!(
            err.contains(needle) && err.contains("f.yaml"),
            "{needle}: {err}"
        );
    }
}
