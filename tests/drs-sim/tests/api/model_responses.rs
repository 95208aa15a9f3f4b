//! Every answer drs-sim gives is one the DRS model allows: a scenario calls every served
//! operation (the router's `wire::OPERATIONS`) through the states a disaster day brings, and
//! each answer is validated against the operation's output shape (no member the model does
//! not define, required members present, enum values and patterns valid) and its
//! `responseCode`. Error answers are held to the model's error shapes.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::common::{Answer, call, error_violations, output_violations, sid, start};
use drs_sim::wire::{OPERATIONS, RECOVERY_PLAN_OPERATIONS};
use drs_sim::{
    BackgroundJobSpec, BackgroundServers, DateStyle, FaultConfig, FaultSpec, Limits, Model,
    ServerSpec, SimHandle, SnapshotSpec,
};
use serde_json::{Value, json};

/// Every answer of one call, in call order.
struct Recorder {
    endpoint: String,
    answers: Vec<(String, Answer)>,
}

impl Recorder {
    fn new(sim: &SimHandle) -> Self {
        Self {
            endpoint: sim.endpoint(),
            answers: Vec::new(),
        }
    }

    async fn call(&mut self, operation: &str, body: Value) -> Value {
        let answer = call(&self.endpoint, operation, &body).await;
        let out = answer.body.clone();
        self.answers.push((operation.to_owned(), answer));
        out
    }

    /// Every page of a Describe* listing, following `nextToken`; the items.
    async fn all_pages(&mut self, operation: &str, body: Value) -> Vec<Value> {
        let mut items = Vec::new();
        let mut request = body;
        loop {
            let page = self.call(operation, request.clone()).await;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["nextToken"].as_str() {
                Some(token) if !token.is_empty() => request["nextToken"] = json!(token),
                _ => return items,
            }
        }
    }

    /// Polls DescribeJobs (every answer recorded: PENDING, STARTED, COMPLETED) until every
    /// job listed is COMPLETED.
    async fn until_all_completed(&mut self) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + crate::common::DEADLINE;
        loop {
            let last = self
                .all_pages("DescribeJobs", json!({"maxResults": 2}))
                .await;
            if last.iter().all(|j| j["status"] == "COMPLETED") {
                return last;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs never completed: {last:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        }
    }
}

fn source(id: &str) -> Value {
    json!({ "sourceServerID": id })
}

/// A drill and a recovery over healthy, failing, stalled and never-synced servers, with
/// other teams' jobs running, then a clean-up; every served operation is called on the way.
async fn disaster_day(style: DateStyle) -> Vec<(String, Answer)> {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.3)
                .with_tag("App", "billing")
                .with_hostname("billing-db-1"),
            ServerSpec::new(sid(2), 0.2).failing_with("capacity"),
            ServerSpec::new(sid(3), 0.2)
                .with_replication_state("STALLED")
                .with_replication_error("AGENT_NOT_SEEN")
                .down_since_minutes(30.0),
            ServerSpec::new(sid(4), 0.2)
                .with_replication_state("INITIAL_SYNC")
                .with_snapshots(SnapshotSpec::None),
            ServerSpec::new(sid(5), 0.2),
            ServerSpec::new(sid(6), 0.2).in_aws(),
        ],
        |c| {
            c.date_style = style;
            // New jobs list no participatingServers at first, as DRS may.
            c.timings.participants_delay_seconds = 0.1;
        },
    )
    .await;
    sim.add_background_jobs(&[
        BackgroundJobSpec::launch(2, 0.5).initiated_by("DIAGNOSTIC"),
        BackgroundJobSpec::new(
            "CREATE_CONVERTED_SNAPSHOT",
            BackgroundServers::Count(1),
            0.5,
        ),
        BackgroundJobSpec::new("TERMINATE", BackgroundServers::Count(1), 0.5),
    ])
    .expect("background jobs");
    let mut r = Recorder::new(&sim);

    let snapshot5 = list_servers_and_snapshots(&mut r).await;

    let drill = r
        .call(
            "StartRecovery",
            json!({
                "sourceServers": [source(&sid(1)), source(&sid(2)), source(&sid(3)), source(&sid(4))],
                "isDrill": true,
                "tags": {"Owner": "drs-waves", "Wave": "1"},
            }),
        )
        .await;
    r.call(
        "StartRecovery",
        json!({"sourceServers": [{"sourceServerID": sid(5), "recoverySnapshotID": snapshot5}, source(&sid(6))]}),
    )
    .await;
    // A server already in an active job: ConflictException.
    r.call("StartRecovery", json!({"sourceServers": [source(&sid(1))]}))
        .await;
    networks(&sim, &mut r).await;

    let jobs = r.until_all_completed().await;
    let drill_id = drill["job"]["jobID"].clone();
    r.call(
        "DescribeJobs",
        json!({"filters": {"jobIDs": [drill_id], "fromDate": "2000-01-01T00:00:00Z"}}),
    )
    .await;
    for job in &jobs {
        r.all_pages(
            "DescribeJobLogItems",
            json!({"jobID": job["jobID"], "maxResults": 3}),
        )
        .await;
    }

    let instances = r.all_pages("DescribeRecoveryInstances", json!({})).await;
    r.call(
        "DescribeRecoveryInstances",
        json!({"filters": {"sourceServerIDs": [sid(1)]}}),
    )
    .await;
    let ids: Vec<Value> = instances
        .iter()
        .map(|i| i["recoveryInstanceID"].clone())
        .collect();
    assert!(!ids.is_empty(), "the drill launched nothing");
    failback(&sim, &mut r, &instances).await;
    let terminate = r
        .call(
            "TerminateRecoveryInstances",
            json!({ "recoveryInstanceIDs": ids }),
        )
        .await;
    // While terminating: SHUTTING-DOWN.
    r.call("DescribeRecoveryInstances", json!({})).await;
    r.until_all_completed().await;
    r.all_pages(
        "DescribeJobLogItems",
        json!({"jobID": terminate["job"]["jobID"]}),
    )
    .await;
    r.all_pages("DescribeSourceServers", json!({})).await;
    // After the recovery: lastRecovery, cfnStackName and launchedVpcID.
    r.all_pages("DescribeSourceNetworks", json!({})).await;
    sim.shutdown().await;
    r.answers
}

/// Failback of the recovery's two instances: server 5's (on premises) by the Failback
/// Client, launched home; server 6's (in EC2) by ReverseReplication, then stopped. A second
/// ReverseReplication (ConflictException) and one of an on-premises instance
/// (ValidationException) are refused. Every job has completed when it returns.
async fn failback(sim: &SimHandle, r: &mut Recorder, instances: &[Value]) {
    let of = |server: String| {
        instances
            .iter()
            .find(|i| i["sourceServerID"] == server.as_str())
            .map(|i| i["recoveryInstanceID"].clone())
            .expect("the recovery's instance")
    };
    let (home, ec2) = (of(sid(5)), of(sid(6)));
    sim.stage_failback(&drs_sim::FailbackStaging::ready(&[&sid(5)], 0.0))
        .expect("failback client");
    r.call("ReverseReplication", json!({"recoveryInstanceID": home}))
        .await;
    r.call("ReverseReplication", json!({"recoveryInstanceID": ec2}))
        .await;
    r.call("ReverseReplication", json!({"recoveryInstanceID": ec2}))
        .await;
    // Server 6 is still syncing: refused.
    r.call(
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [ec2], "tags": {"Owner": "drs-waves"}}),
    )
    .await;
    r.call(
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [home], "tags": {"Owner": "drs-waves"}}),
    )
    .await;
    r.call("DescribeRecoveryInstances", json!({})).await;
    r.call("StopFailback", json!({"recoveryInstanceID": ec2}))
        .await;
    r.call(
        "StopFailback",
        json!({"recoveryInstanceID": "i-0000000000000000f"}),
    )
    .await;
    r.until_all_completed().await;
    r.call("DescribeRecoveryInstances", json!({})).await;
}

/// Source networks: listed (paged, filtered), one recovered, one failing, one unknown, one
/// already recovering (ConflictException).
async fn networks(sim: &SimHandle, r: &mut Recorder) {
    let (ok, bad) = ("sn-00000000000000001", "sn-00000000000000002");
    sim.add_source_networks(&[
        drs_sim::SourceNetworkSpec::new(ok).with_recovery_seconds(0.2),
        drs_sim::SourceNetworkSpec::new(bad)
            .with_recovery_seconds(0.1)
            .failing(Some("VPC quota")),
    ])
    .expect("networks");
    r.all_pages("DescribeSourceNetworks", json!({"maxResults": 1}))
        .await;
    r.call(
        "StartSourceNetworkRecovery",
        json!({"sourceNetworks": [{"sourceNetworkID": ok}, {"sourceNetworkID": bad, "cfnStackName": "net-b"}],
               "tags": {"Owner": "drs-waves"}}),
    )
    .await;
    r.call(
        "StartSourceNetworkRecovery",
        json!({"sourceNetworks": [{"sourceNetworkID": ok}]}),
    )
    .await;
    r.call(
        "StartSourceNetworkRecovery",
        json!({"sourceNetworks": [{"sourceNetworkID": "sn-0000000000000000f"}]}),
    )
    .await;
    r.call(
        "DescribeSourceNetworks",
        json!({"filters": {"sourceNetworkIDs": [ok]}}),
    )
    .await;
}

/// The scenario's first calls: source servers and snapshots, paged, filtered, ordered and of
/// a server without any. Returns the ID of server 5's newest snapshot.
async fn list_servers_and_snapshots(r: &mut Recorder) -> Value {
    r.all_pages("DescribeSourceServers", json!({"maxResults": 2}))
        .await;
    let snapshots = r
        .all_pages(
            "DescribeRecoverySnapshots",
            json!({"sourceServerID": sid(1), "maxResults": 50}),
        )
        .await;
    let from = snapshots[snapshots.len() - 5]["timestamp"].clone();
    r.call(
        "DescribeRecoverySnapshots",
        json!({"sourceServerID": sid(1), "order": "DESC", "filters": {"fromDateTime": from}}),
    )
    .await;
    r.call(
        "DescribeRecoverySnapshots",
        json!({"sourceServerID": sid(4)}),
    )
    .await;
    let newest5 = r
        .call(
            "DescribeRecoverySnapshots",
            json!({"sourceServerID": sid(5), "order": "DESC", "maxResults": 1}),
        )
        .await;
    newest5["items"][0]["snapshotID"].clone()
}

/// The Zulu (default) scenario's answers, recorded once for every test of this file.
fn recorded() -> &'static [(String, Answer)] {
    static ANSWERS: OnceLock<Vec<(String, Answer)>> = OnceLock::new();
    ANSWERS.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(disaster_day(DateStyle::default()))
    })
}

/// Every violation of the model in `operation`'s successful answers, each named by its call.
fn violations_of(answers: &[(String, Answer)], operation: &str) -> Vec<String> {
    answers
        .iter()
        .enumerate()
        .filter(|(_, (op, a))| op == operation && a.status < 300)
        .flat_map(|(i, (_, a))| {
            output_violations(operation, a)
                .into_iter()
                .map(move |v| format!("call {i}: {v}"))
        })
        .collect()
}

fn assert_within_the_model(operation: &str) {
    let answers = recorded();
    assert!(
        answers
            .iter()
            .any(|(op, a)| op == operation && a.status < 300),
        "the scenario got no successful {operation} answer: {:?}",
        answers
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, a)| &a.body)
            .collect::<Vec<_>>()
    );
    let wrong = violations_of(answers, operation);
    assert!(
        wrong.is_empty(),
        "{operation} answers outside the DRS model:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn start_recovery_answers_are_the_models() {
    assert_within_the_model("StartRecovery");
}

#[test]
fn describe_jobs_answers_are_the_models() {
    assert_within_the_model("DescribeJobs");
}

#[test]
fn describe_job_log_items_answers_are_the_models() {
    assert_within_the_model("DescribeJobLogItems");
}

#[test]
fn describe_source_servers_answers_are_the_models() {
    assert_within_the_model("DescribeSourceServers");
}

#[test]
fn describe_recovery_instances_answers_are_the_models() {
    assert_within_the_model("DescribeRecoveryInstances");
}

#[test]
fn terminate_recovery_instances_answers_are_the_models() {
    assert_within_the_model("TerminateRecoveryInstances");
}

#[test]
fn describe_recovery_snapshots_answers_are_the_models() {
    assert_within_the_model("DescribeRecoverySnapshots");
}

#[test]
fn failback_answers_are_the_models() {
    assert_within_the_model("ReverseReplication");
    assert_within_the_model("StartFailbackLaunch");
    assert_within_the_model("StopFailback");
    let failback_states: BTreeSet<String> = recorded()
        .iter()
        .filter(|(op, _)| op == "DescribeRecoveryInstances")
        .flat_map(|(_, a)| a.body["items"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["failback"]["state"].as_str().map(str::to_owned))
        .collect();
    for state in [
        "FAILBACK_NOT_STARTED",
        "FAILBACK_IN_PROGRESS",
        "FAILBACK_COMPLETED",
    ] {
        assert!(
            failback_states.contains(state),
            "{state} never seen: {failback_states:?}"
        );
    }
}

#[test]
fn source_network_answers_are_the_models() {
    assert_within_the_model("DescribeSourceNetworks");
    assert_within_the_model("StartSourceNetworkRecovery");
}

/// The served list comes from the router; an operation added there without a call in the
/// scenario fails here, and the model's operations drs-sim does not serve are printed.
#[test]
fn every_served_operation_is_checked_and_the_unserved_are_listed() {
    let answers = recorded();
    for operation in OPERATIONS {
        assert!(
            answers
                .iter()
                .any(|(op, a)| op == operation && a.status < 300),
            "drs-sim serves {operation} but the scenario never gets an answer of it to check"
        );
        let wrong = violations_of(answers, operation);
        assert!(wrong.is_empty(), "{operation}: {wrong:?}");
    }
    let model = Model::drs();
    let unserved: Vec<&str> = model
        .operations()
        .map(|op| op.name.as_str())
        // The recovery-plan operations' answers are checked against the model by the
        // state's unit tests (`src/state/recovery_plan_tests.rs`), each call of them.
        .filter(|name| !OPERATIONS.contains(name) && !RECOVERY_PLAN_OPERATIONS.contains(name))
        .collect();
    println!(
        "DRS model operations drs-sim does not serve ({} of {}): {}",
        unserved.len(),
        model.operations().count(),
        unserved.join(", ")
    );
}

/// The scenario's statuses and enum values reach the states a check must see, so the
/// checks above are not vacuous.
#[test]
fn the_scenario_reaches_the_states_worth_checking() {
    let answers = recorded();
    let mut seen = BTreeSet::new();
    for (op, a) in answers {
        let items = a.body["items"].as_array().cloned().unwrap_or_default();
        let jobs = items.iter().chain(a.body.get("job"));
        for job in jobs.filter(|_| op == "DescribeJobs" || op == "StartRecovery") {
            seen.insert(format!("job {}", job["status"].as_str().unwrap_or("-")));
            seen.insert(format!("type {}", job["type"].as_str().unwrap_or("-")));
            for s in job["participatingServers"].as_array().into_iter().flatten() {
                seen.insert(format!(
                    "server {}",
                    s["launchStatus"].as_str().unwrap_or("-")
                ));
            }
        }
        if op == "DescribeJobLogItems" {
            for item in &items {
                seen.insert(format!("event {}", item["event"].as_str().unwrap_or("-")));
            }
        }
        if op == "DescribeRecoveryInstances" {
            for item in &items {
                let state = item["ec2InstanceState"].as_str().unwrap_or("-");
                seen.insert(format!("instance {state}"));
            }
        }
        if a.status >= 400 {
            seen.insert(format!("error {}", a.error_type.as_deref().unwrap_or("-")));
        }
    }
    for wanted in [
        "job PENDING",
        "job STARTED",
        "job COMPLETED",
        "type LAUNCH",
        "type TERMINATE",
        "type CREATE_CONVERTED_SNAPSHOT",
        "server LAUNCHED",
        "server FAILED",
        "server TERMINATED",
        "event LAUNCH_FAILED",
        "event USING_PREVIOUS_SNAPSHOT",
        "event CLEANUP_END",
        "instance RUNNING",
        "instance SHUTTING-DOWN",
        "error ConflictException",
    ] {
        assert!(seen.contains(wanted), "never saw {wanted}; saw {seen:?}");
    }
}

/// `--date-style offset` writes `+00:00`, which the model's ISO8601DatetimeString does not
/// allow: it stays a knob for clients that must survive it, outside the model.
#[tokio::test]
async fn the_offset_date_style_is_outside_the_model() {
    let sim = start(vec![ServerSpec::new(sid(1), 0.1)], |c| {
        c.date_style = DateStyle::Offset;
    })
    .await;
    let e = sim.endpoint();
    let started = call(
        &e,
        "StartRecovery",
        &json!({"sourceServers": [source(&sid(1))]}),
    )
    .await;
    let wrong = output_violations("StartRecovery", &started);
    assert!(
        wrong
            .iter()
            .any(|v| v.starts_with("job.creationDateTime: Member must satisfy regular expression")),
        "{wrong:?}"
    );
    sim.shutdown().await;
}

/// The errors drs-sim answers are error shapes of the model, with its status and members.
#[tokio::test]
async fn error_answers_are_the_models_error_shapes() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 30.0), ServerSpec::new(sid(2), 0.1)],
        |c| {
            c.limits = Limits {
                max_concurrent_jobs: 1,
                ..Limits::default()
            };
        },
    )
    .await;
    let e = sim.endpoint();
    let start_one = |id: String| json!({"sourceServers": [source(&id)]});
    let mut answers = vec![
        call(&e, "StartRecovery", &start_one(sid(1))).await,
        // sid(1) is in a job: ConflictException; sid(2) meets the concurrency quota.
        call(&e, "StartRecovery", &start_one(sid(1))).await,
        call(&e, "StartRecovery", &start_one(sid(2))).await,
        // An unknown server, and a request the model refuses.
        call(&e, "StartRecovery", &start_one(sid(9))).await,
        call(&e, "DescribeJobs", &json!({"maxResults": 0})).await,
        call(&e, "NoSuchOperation", &json!({})).await,
    ];
    assert_eq!(answers[0].status, 202, "{}", answers[0].body);
    answers.remove(0);
    for fault in [
        FaultSpec {
            throttle_next: 1,
            ..FaultSpec::default()
        },
        FaultSpec {
            error_next: 1,
            ..FaultSpec::default()
        },
        FaultSpec {
            access_denied: true,
            ..FaultSpec::default()
        },
        FaultSpec {
            uninitialized_account: true,
            ..FaultSpec::default()
        },
    ] {
        sim.set_faults(FaultConfig {
            all: fault,
            ..FaultConfig::default()
        })
        .expect("faults");
        answers.push(call(&e, "DescribeSourceServers", &json!({})).await);
    }
    let types: Vec<&str> = answers
        .iter()
        .map(|a| a.error_type.as_deref().unwrap_or("-"))
        .collect();
    assert_eq!(
        types,
        [
            "ConflictException",
            "ServiceQuotaExceededException",
            "ValidationException",
            "ValidationException",
            "ValidationException",
            "ThrottlingException",
            "InternalServerException",
            "AccessDeniedException",
            "UninitializedAccountException",
        ]
    );
    for a in &answers {
        let wrong = error_violations(a);
        assert!(wrong.is_empty(), "{}: {wrong:?}", a.body);
    }
    sim.shutdown().await;
}
