//! Unit tests of failback: failback states over time, ReverseReplication,
//! StartFailbackLaunch, StopFailback and the staged errors and stalls. Time is passed
//! explicitly; every answer is checked against the model's output shape and error list.

use super::*;
use crate::fixture::ServerSpec;
use crate::model::{Direction, Model};
use serde_json::json;
use time::Duration;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);
const A: &str = "s-00000000000000001";
const B: &str = "s-00000000000000002";
const EC2: &str = "s-00000000000000003";

fn state() -> SimState {
    let mut config = SimConfig::with_servers(vec![
        ServerSpec::new(A, 10.0),
        ServerSpec::new(B, 20.0),
        ServerSpec::new(EC2, 10.0).in_aws(),
    ]);
    config.seed = Some(5);
    let fixture = config.fixture.load_all().expect("fixture");
    SimState::new(&config, fixture, T0)
}

fn at(seconds: i64) -> OffsetDateTime {
    T0 + Duration::seconds(seconds)
}

/// Calls `op` and checks the answer against the model.
fn call(s: &mut SimState, op: &str, body: Value, now: OffsetDateTime) -> Result<Value, ApiError> {
    let model = Model::drs();
    let operation = model.operation(op).expect("a model operation");
    match s.call(op, body.to_string().as_bytes(), now) {
        Ok((status, v)) => {
            assert_eq!(status, operation.response_code, "{op}");
            if let Some(output) = operation.output.as_deref() {
                let wrong = model.validate(output, &v, Direction::Response);
                assert!(wrong.is_empty(), "{op} outside the model: {wrong:?}\n{v}");
            }
            Ok(v)
        }
        Err(e) => {
            assert!(
                operation.errors.iter().any(|x| x == e.code),
                "{op} may not answer {}",
                e.code
            );
            Err(e)
        }
    }
}

fn ok(s: &mut SimState, op: &str, body: Value, now: OffsetDateTime) -> Value {
    call(s, op, body, now).unwrap_or_else(|e| panic!("{op}: {} {}", e.code, e.message))
}

/// Recovers `ids` at T0 (done by 30 s) and answers their recovery instances by server.
fn recover(s: &mut SimState, ids: &[&str]) -> BTreeMap<String, String> {
    let servers: Vec<Value> = ids.iter().map(|id| json!({"sourceServerID": id})).collect();
    ok(s, "StartRecovery", json!({"sourceServers": servers}), T0);
    s.instance_snapshots(at(30))
        .into_iter()
        .map(|i| (i.source_server_id, i.recovery_instance_id))
        .collect()
}

fn instance(s: &mut SimState, id: &str, now: OffsetDateTime) -> Value {
    let v = ok(
        s,
        "DescribeRecoveryInstances",
        json!({"filters": {"recoveryInstanceIDs": [id]}}),
        now,
    );
    v["items"][0].clone()
}

fn staging(body: Value) -> FailbackStaging {
    serde_json::from_value(body).expect("staging")
}

#[test]
fn failback_client_then_launch_completes_the_failback() {
    let mut s = state();
    let ri = recover(&mut s, &[A])[A].clone();
    let before = instance(&mut s, &ri, at(30));
    assert_eq!(before["failback"]["state"], "FAILBACK_NOT_STARTED");
    assert_eq!(before["originEnvironment"], "ON_PREMISES");
    assert!(before.get("dataReplicationInfo").is_none());

    let staged = s
        .stage_failback(&staging(json!({"servers": [A], "syncSeconds": 10})), at(30))
        .expect("staged");
    assert_eq!(staged, vec![ri.clone()]);
    let syncing = instance(&mut s, &ri, at(35));
    assert_eq!(syncing["failback"]["state"], "FAILBACK_IN_PROGRESS");
    assert_eq!(
        syncing["dataReplicationInfo"]["dataReplicationState"],
        "INITIAL_SYNC"
    );
    let e = call(
        &mut s,
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [ri]}),
        at(35),
    )
    .expect_err("not ready yet");
    assert_eq!(e.code, "ValidationException");
    assert!(e.message.contains("FAILBACK_IN_PROGRESS"), "{}", e.message);

    let ready = instance(&mut s, &ri, at(40));
    assert_eq!(ready["failback"]["state"], "FAILBACK_READY_FOR_LAUNCH");
    assert_eq!(
        ready["dataReplicationInfo"]["dataReplicationState"],
        "CONTINUOUS"
    );
    let job = ok(
        &mut s,
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [ri], "tags": {"drs-waves:execution": "x"}}),
        at(40),
    )["job"]
        .clone();
    assert_eq!(job["initiatedBy"], "FAILBACK");
    assert_eq!(job["type"], "LAUNCH");
    assert_eq!(job["tags"]["drs-waves:execution"], "x");
    let job_id = job["jobID"].as_str().expect("job ID").to_owned();
    assert_eq!(
        instance(&mut s, &ri, at(41))["failback"]["state"],
        "FAILBACK_IN_PROGRESS"
    );
    let done = instance(&mut s, &ri, at(60));
    assert_eq!(done["failback"]["state"], "FAILBACK_COMPLETED");
    assert_eq!(done["failback"]["failbackJobID"], job_id.as_str());
    let jobs = ok(
        &mut s,
        "DescribeJobs",
        json!({"filters": {"jobIDs": [job_id]}}),
        at(60),
    );
    assert_eq!(jobs["items"][0]["status"], "COMPLETED");
    assert_eq!(
        jobs["items"][0]["participatingServers"][0]["launchStatus"],
        "LAUNCHED"
    );
    assert_eq!(
        jobs["items"][0]["participatingServers"][0]["recoveryInstanceID"],
        ri.as_str()
    );
    let log = ok(
        &mut s,
        "DescribeJobLogItems",
        json!({"jobID": job_id}),
        at(60),
    );
    let events: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["event"].as_str())
        .collect();
    assert_eq!(
        events,
        [
            "JOB_START",
            "CONVERSION_START",
            "CONVERSION_END",
            "LAUNCH_START",
            "JOB_END"
        ]
    );
    // The recovery instance stays until it is terminated; StopFailback resets its state.
    ok(
        &mut s,
        "StopFailback",
        json!({"recoveryInstanceID": ri}),
        at(61),
    );
    assert_eq!(
        instance(&mut s, &ri, at(61))["failback"]["state"],
        "FAILBACK_NOT_STARTED"
    );
    let snapshot = s.instance_snapshots(at(61));
    assert_eq!(
        snapshot[0].failback_state.as_deref(),
        Some("FAILBACK_NOT_STARTED")
    );
}

#[test]
fn reverse_replication_only_for_instances_from_ec2() {
    let mut s = state();
    let ri = recover(&mut s, &[A, EC2]);
    let e = call(
        &mut s,
        "ReverseReplication",
        json!({"recoveryInstanceID": ri[A]}),
        at(30),
    )
    .expect_err("on premises");
    assert_eq!(e.code, "ValidationException");
    let answer = ok(
        &mut s,
        "ReverseReplication",
        json!({"recoveryInstanceID": ri[EC2]}),
        at(30),
    );
    assert!(
        answer["reversedDirectionSourceServerArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(EC2)),
        "{answer}"
    );
    let item = instance(&mut s, &ri[EC2], at(30));
    assert_eq!(item["originEnvironment"], "AWS");
    assert_eq!(item["failback"]["state"], "FAILBACK_IN_PROGRESS");
    assert!(item["failback"].get("failbackClientID").is_none());
    let again = call(
        &mut s,
        "ReverseReplication",
        json!({"recoveryInstanceID": ri[EC2]}),
        at(31),
    )
    .expect_err("already reversing");
    assert_eq!(again.code, "ConflictException");
    assert_eq!(
        instance(&mut s, &ri[EC2], at(32))["failback"]["state"],
        "FAILBACK_READY_FOR_LAUNCH"
    );
    let unknown = call(
        &mut s,
        "StopFailback",
        json!({"recoveryInstanceID": "i-00000000000000000"}),
        at(32),
    )
    .expect_err("unknown");
    assert_eq!(unknown.code, "ResourceNotFoundException");
}

#[test]
fn staged_errors_stalls_and_failed_launches() {
    let mut s = state();
    let ri = recover(&mut s, &[A, B]);
    s.stage_failback(
        &staging(json!({"servers": [A], "outcome": {"error": "FAILBACK_CLIENT_NOT_SEEN"}})),
        at(30),
    )
    .expect("error staged");
    s.stage_failback(
        &staging(json!({"servers": [B], "outcome": "stall"})),
        at(30),
    )
    .expect("stall staged");
    let erred = instance(&mut s, &ri[A], at(100));
    assert_eq!(erred["failback"]["state"], "FAILBACK_ERROR");
    assert_eq!(
        erred["dataReplicationInfo"]["dataReplicationError"]["error"],
        "FAILBACK_CLIENT_NOT_SEEN"
    );
    let stalled = instance(&mut s, &ri[B], at(1000));
    assert_eq!(stalled["failback"]["state"], "FAILBACK_IN_PROGRESS");
    assert_eq!(
        stalled["dataReplicationInfo"]["dataReplicationState"],
        "STALLED"
    );

    // Staged again, ready, with a failing launch: the failback ends in FAILBACK_ERROR.
    s.stage_failback(
        &staging(json!({"servers": [A], "syncSeconds": 0, "failLaunch": true})),
        at(100),
    )
    .expect("restaged");
    let job = ok(
        &mut s,
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [ri[A]]}),
        at(100),
    );
    let id = job["job"]["jobID"].as_str().expect("job").to_owned();
    assert_eq!(
        instance(&mut s, &ri[A], at(200))["failback"]["state"],
        "FAILBACK_ERROR"
    );
    let log = ok(&mut s, "DescribeJobLogItems", json!({"jobID": id}), at(200));
    assert!(log.to_string().contains("LAUNCH_FAILED"), "{log}");
}

#[test]
fn staging_names_what_is_wrong() {
    let mut s = state();
    recover(&mut s, &[A]);
    let bad = s
        .stage_failback(
            &staging(json!({"servers": [A], "outcome": {"error": "NOPE"}})),
            at(30),
        )
        .expect_err("bad error");
    assert!(bad.contains("NOPE"), "{bad}");
    let none = s
        .stage_failback(&staging(json!({"servers": [B]})), at(30))
        .expect_err("no instance");
    assert!(none.contains(B), "{none}");
}

#[test]
fn failback_launch_refuses_repeats_unknowns_and_busy_instances() {
    let mut s = state();
    let ri = recover(&mut s, &[A]);
    s.stage_failback(&staging(json!({"all": true, "syncSeconds": 0})), at(30))
        .expect_err("B has no instance");
    s.stage_failback(&staging(json!({"servers": [A], "syncSeconds": 0})), at(30))
        .expect("staged");
    let twice = call(
        &mut s,
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [ri[A], ri[A]]}),
        at(30),
    )
    .expect_err("twice");
    assert_eq!(twice.code, "ValidationException");
    let unknown = call(
        &mut s,
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": ["i-00000000000000000"]}),
        at(30),
    )
    .expect_err("unknown");
    assert_eq!(unknown.code, "ValidationException");
    ok(
        &mut s,
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [ri[A]]}),
        at(30),
    );
    let busy = call(
        &mut s,
        "StartFailbackLaunch",
        json!({"recoveryInstanceIDs": [ri[A]]}),
        at(31),
    )
    .expect_err("in progress");
    assert_eq!(busy.code, "ValidationException");
}
