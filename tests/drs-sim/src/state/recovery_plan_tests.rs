//! Unit tests of recovery plans and their executions. Time is passed explicitly, so an
//! execution is looked at the instants that matter instead of waited for; every answer is
//! checked against the model's output shape.

use super::*;
use crate::fixture::ServerSpec;
use crate::model::{Direction, Model};
use serde_json::json;
use time::Duration;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);
const A: &str = "s-00000000000000001";
const B: &str = "s-00000000000000002";
const C: &str = "s-00000000000000003";

fn state() -> SimState {
    // Launches take 10 s (B 20 s); the plan jobs' timings are the ordinary ones.
    let config = SimConfig::with_servers(vec![
        ServerSpec::new(A, 10.0),
        ServerSpec::new(B, 20.0),
        ServerSpec::new(C, 10.0),
    ]);
    let mut config = config;
    config.seed = Some(3);
    let fixture = config.fixture.load_all().expect("fixture");
    SimState::new(&config, fixture, T0)
}

fn arn(id: &str) -> String {
    format!("arn:aws:drs:us-east-1:123456789012:source-server/{id}")
}

/// Calls `op` and checks the answer against the model: a success against the operation's
/// output shape, an error against its error shape and the operation's error list.
fn call(s: &mut SimState, op: &str, body: Value, now: OffsetDateTime) -> Result<Value, ApiError> {
    let model = Model::drs();
    let operation = model.operation(op).expect("a model operation");
    let (status, v) = match s.call(op, body.to_string().as_bytes(), now) {
        Ok(answer) => answer,
        Err(e) => {
            assert!(
                operation.errors.iter().any(|x| x == e.code),
                "{op} may not answer {}",
                e.code
            );
            assert_eq!(
                model.error_status(e.code),
                Some(e.status),
                "{op}: {}",
                e.code
            );
            // `__type` is the protocol's copy of the error type, not a member of the shape.
            let mut body = e.body();
            if let Some(fields) = body.as_object_mut() {
                fields.remove("__type");
            }
            let wrong = model.validate(e.code, &body, Direction::Response);
            assert!(
                wrong.is_empty(),
                "{op}: {} outside the model: {wrong:?}",
                e.code
            );
            return Err(e);
        }
    };
    assert_eq!(status, operation.response_code, "{op}");
    let output = operation.output.as_deref().expect("an output shape");
    let wrong = model.validate(output, &v, Direction::Response);
    assert!(
        wrong.is_empty(),
        "{op} answered outside the model: {wrong:?}\n{v}"
    );
    Ok(v)
}

fn ok(s: &mut SimState, op: &str, body: Value, now: OffsetDateTime) -> Value {
    call(s, op, body, now).unwrap_or_else(|e| panic!("{op}: {} {}", e.code, e.message))
}

fn server_step(servers: &[(&str, &str)]) -> Value {
    let list: Vec<Value> = (servers.iter())
        .map(|(id, level)| json!({"serverArn": arn(id), "impactLevel": level}))
        .collect();
    json!({"serverStepConfiguration": {"servers": list}})
}

/// A plan of the given step configurations; returns its ARN.
fn plan(s: &mut SimState, steps: &[Value]) -> String {
    let p = ok(s, "CreateRecoveryPlan", json!({"name": "app"}), T0);
    let plan_arn = p["recoveryPlan"]["recoveryPlanArn"]
        .as_str()
        .expect("arn")
        .to_owned();
    for (i, c) in steps.iter().enumerate() {
        let body = json!({"recoveryPlanArn": plan_arn, "stepName": format!("step {i}"), "configuration": c});
        ok(s, "CreateRecoveryPlanStep", body, T0);
    }
    plan_arn
}

fn start(s: &mut SimState, plan_arn: &str, now: OffsetDateTime) -> Result<String, ApiError> {
    let body = json!({"recoveryPlanArn": plan_arn, "mode": "DRILL"});
    let v = call(s, "StartRecoveryPlanExecution", body, now)?;
    Ok(v["recoveryPlanExecution"]["recoveryPlanExecutionArn"]
        .as_str()
        .expect("arn")
        .to_owned())
}

fn execution(s: &mut SimState, exec: &str, now: OffsetDateTime) -> Value {
    let v = ok(
        s,
        "GetRecoveryPlanExecution",
        json!({"recoveryPlanExecutionArn": exec}),
        now,
    );
    v["recoveryPlanExecution"].clone()
}

fn steps(s: &mut SimState, exec: &str, now: OffsetDateTime) -> Vec<Value> {
    let body = json!({"recoveryPlanExecutionArn": exec});
    let v = ok(s, "ListRecoveryPlanExecutionSteps", body, now);
    v["recoveryPlanExecutionSteps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn statuses(s: &mut SimState, exec: &str, now: OffsetDateTime) -> (String, Vec<String>) {
    let e = execution(s, exec, now)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let st = steps(s, exec, now)
        .iter()
        .map(|v| v["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    (e, st)
}

fn at(secs: i64) -> OffsetDateTime {
    T0 + Duration::seconds(secs)
}

#[test]
fn a_plan_runs_its_steps_one_at_a_time_through_to_completed() {
    let mut s = state();
    let p = plan(
        &mut s,
        &[
            server_step(&[(A, "CRITICAL"), (B, "OPTIONAL")]),
            json!({"waitStepConfiguration": {"waitDurationMinutes": 1}}),
            server_step(&[(C, "CRITICAL")]),
        ],
    );
    let plan_v = ok(&mut s, "GetRecoveryPlan", json!({"recoveryPlanArn": p}), T0);
    assert_eq!(plan_v["recoveryPlan"]["status"], "ACTIVE");
    let e = start(&mut s, &p, T0).expect("start");
    assert_eq!(execution(&mut s, &e, T0)["status"], "IN_PROGRESS");
    let (_, st) = statuses(&mut s, &e, at(1));
    assert_eq!(st, ["EXECUTING", "NOT_STARTED", "NOT_STARTED"]);
    // Step 1's servers are one drill job, started by the plan (jobID per server).
    let first = steps(&mut s, &e, at(1))[0].clone();
    let servers = &first["configuration"]["executionServerStepConfiguration"]["servers"];
    let job = servers[0]["jobID"].as_str().expect("jobID").to_owned();
    assert_eq!(servers[1]["jobID"], job.as_str());
    let jobs = ok(
        &mut s,
        "DescribeJobs",
        json!({"filters": {"jobIDs": [job]}}),
        at(1),
    );
    assert_eq!(jobs["items"][0]["initiatedBy"], "START_DRILL");
    // B takes 20 s: the WAIT step starts once both launched, and lasts a minute.
    let (_, st) = statuses(&mut s, &e, at(25));
    assert_eq!(st, ["COMPLETED", "WAITING", "NOT_STARTED"]);
    let (_, st) = statuses(&mut s, &e, at(70));
    assert_eq!(st, ["COMPLETED", "WAITING", "NOT_STARTED"]);
    let (_, st) = statuses(&mut s, &e, at(90));
    assert_eq!(st, ["COMPLETED", "COMPLETED", "EXECUTING"]);
    let (status, st) = statuses(&mut s, &e, at(200));
    assert_eq!(
        (status.as_str(), st),
        ("COMPLETED", vec!["COMPLETED".to_owned(); 3])
    );
    assert!(execution(&mut s, &e, at(200)).get("completedAt").is_some());
}

#[test]
fn a_failed_critical_server_fails_the_step_and_the_execution_and_retry_relaunches() {
    let mut s = state();
    s.set_fail_launch(&ServerSelector::Servers(vec![A.to_owned()]), true, None)
        .expect("staged");
    let p = plan(
        &mut s,
        &[
            server_step(&[(A, "CRITICAL")]),
            server_step(&[(C, "CRITICAL")]),
        ],
    );
    let e = start(&mut s, &p, T0).expect("start");
    let (status, st) = statuses(&mut s, &e, at(60));
    assert_eq!(
        (status.as_str(), st),
        (
            "FAILED",
            vec!["FAILED".to_owned(), "NOT_STARTED".to_owned()]
        )
    );
    let failed = steps(&mut s, &e, at(60))[0].clone();
    assert!(
        failed["errorDetail"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(A)
    );
    let old_job =
        failed["configuration"]["executionServerStepConfiguration"]["servers"][0]["jobID"].clone();
    // Retry: new jobs, attempt 2, the execution in progress again.
    s.set_fail_launch(&ServerSelector::Servers(vec![A.to_owned()]), false, None)
        .expect("cleared");
    let step_arn = failed["recoveryPlanExecutionStepArn"].clone();
    let v = ok(
        &mut s,
        "RetryRecoveryPlanExecutionStep",
        json!({"recoveryPlanExecutionStepArn": step_arn}),
        at(61),
    );
    let step = &v["recoveryPlanExecutionStep"];
    assert_eq!(
        (step["attempt"].as_i64(), step["status"].as_str()),
        (Some(2), Some("EXECUTING"))
    );
    let new_job = &step["configuration"]["executionServerStepConfiguration"]["servers"][0]["jobID"];
    assert_ne!(*new_job, old_job);
    assert_eq!(execution(&mut s, &e, at(62))["status"], "IN_PROGRESS");
    let (status, _) = statuses(&mut s, &e, at(200));
    assert_eq!(status, "COMPLETED");
}

#[test]
fn an_optional_server_that_fails_does_not_fail_its_step() {
    let mut s = state();
    s.set_fail_launch(&ServerSelector::Servers(vec![B.to_owned()]), true, None)
        .expect("staged");
    let p = plan(&mut s, &[server_step(&[(A, "CRITICAL"), (B, "OPTIONAL")])]);
    let e = start(&mut s, &p, T0).expect("start");
    let (status, st) = statuses(&mut s, &e, at(60));
    assert_eq!(
        (status.as_str(), st),
        ("COMPLETED", vec!["COMPLETED".to_owned()])
    );
}

#[test]
fn skipping_a_failed_step_resumes_the_execution_at_the_next_step() {
    let mut s = state();
    s.set_fail_launch(&ServerSelector::Servers(vec![A.to_owned()]), true, None)
        .expect("staged");
    let p = plan(
        &mut s,
        &[
            server_step(&[(A, "CRITICAL")]),
            server_step(&[(C, "CRITICAL")]),
        ],
    );
    let e = start(&mut s, &p, T0).expect("start");
    let first = steps(&mut s, &e, at(60))[0]["recoveryPlanExecutionStepArn"].clone();
    let body = json!({"recoveryPlanExecutionStepArn": first, "status": "SKIPPED"});
    ok(
        &mut s,
        "UpdateRecoveryPlanExecutionStep",
        body.clone(),
        at(61),
    );
    let (status, st) = statuses(&mut s, &e, at(62));
    assert_eq!(
        (status.as_str(), st),
        (
            "IN_PROGRESS",
            vec!["SKIPPED".to_owned(), "EXECUTING".to_owned()]
        )
    );
    // A SKIPPED step cannot be skipped again, and an EXECUTING one cannot be skipped.
    let e2 = call(&mut s, "UpdateRecoveryPlanExecutionStep", body, at(63)).expect_err("again");
    assert_eq!(e2.code, "ConflictException");
    let (status, _) = statuses(&mut s, &e, at(200));
    assert_eq!(
        status, "COMPLETED",
        "an execution with skipped steps reports COMPLETED"
    );
}

#[test]
fn a_step_not_yet_started_can_be_edited_or_skipped_ahead() {
    let mut s = state();
    let p = plan(
        &mut s,
        &[
            server_step(&[(A, "CRITICAL")]),
            json!({"waitStepConfiguration": {"waitDurationMinutes": 120}}),
            server_step(&[(B, "CRITICAL")]),
        ],
    );
    let e = start(&mut s, &p, T0).expect("start");
    let list = steps(&mut s, &e, at(1));
    let (wait, last) = (
        list[1]["recoveryPlanExecutionStepArn"].clone(),
        list[2]["recoveryPlanExecutionStepArn"].clone(),
    );
    let body = json!({"recoveryPlanExecutionStepArn": wait, "waitDurationMinutes": 1});
    let v = ok(&mut s, "UpdateRecoveryPlanExecutionStep", body, at(2));
    assert_eq!(
        v["recoveryPlanExecutionStep"]["configuration"]["waitStepConfiguration"]["waitDurationMinutes"],
        1
    );
    let body = json!({"recoveryPlanExecutionStepArn": last, "servers": [{"serverArn": arn(C)}]});
    ok(&mut s, "UpdateRecoveryPlanExecutionStep", body, at(3));
    // A WAIT step has no servers.
    let body = json!({"recoveryPlanExecutionStepArn": wait, "servers": [{"serverArn": arn(C)}]});
    let err = call(&mut s, "UpdateRecoveryPlanExecutionStep", body, at(4)).expect_err("no servers");
    assert_eq!(err.code, "ValidationException");
    let (status, _) = statuses(&mut s, &e, at(120));
    assert_eq!(status, "COMPLETED");
    let last_step = steps(&mut s, &e, at(120))[2].clone();
    let server = &last_step["configuration"]["executionServerStepConfiguration"]["servers"][0];
    assert_eq!(server["serverArn"], arn(C).as_str());
}

#[test]
fn cancel_skips_what_remains_and_waits_for_a_running_step() {
    let mut s = state();
    let p = plan(
        &mut s,
        &[
            server_step(&[(B, "CRITICAL")]),
            server_step(&[(C, "CRITICAL")]),
        ],
    );
    let e = start(&mut s, &p, T0).expect("start");
    let v = ok(
        &mut s,
        "CancelRecoveryPlanExecution",
        json!({"recoveryPlanExecutionArn": e}),
        at(5),
    );
    assert_eq!(v["recoveryPlanExecution"]["status"], "CANCELLING");
    let (status, st) = statuses(&mut s, &e, at(6));
    assert_eq!(
        (status.as_str(), st),
        (
            "CANCELLING",
            vec!["EXECUTING".to_owned(), "SKIPPED".to_owned()]
        )
    );
    let (status, st) = statuses(&mut s, &e, at(60));
    assert_eq!(
        (status.as_str(), st),
        (
            "CANCELLED",
            vec!["COMPLETED".to_owned(), "SKIPPED".to_owned()]
        )
    );
    let again = call(
        &mut s,
        "CancelRecoveryPlanExecution",
        json!({"recoveryPlanExecutionArn": e}),
        at(61),
    );
    assert_eq!(again.expect_err("terminal").code, "ConflictException");
}

#[test]
fn a_second_start_while_one_is_unfinished_is_a_conflict() {
    let mut s = state();
    let p = plan(&mut s, &[server_step(&[(A, "CRITICAL")])]);
    start(&mut s, &p, T0).expect("first");
    let err = start(&mut s, &p, at(1)).expect_err("second");
    assert_eq!((err.status, err.code), (409, "ConflictException"));
    let err = call(
        &mut s,
        "DeleteRecoveryPlan",
        json!({"recoveryPlanArn": p}),
        at(1),
    )
    .expect_err("busy");
    assert_eq!(err.code, "ConflictException");
    start(&mut s, &p, at(60)).expect("after the first completed");
}

#[test]
fn limits_of_the_model_are_refused() {
    let mut s = state();
    let p = plan(
        &mut s,
        &vec![json!({"waitStepConfiguration": {"waitDurationMinutes": 1}}); 20],
    );
    // A plan of WAIT steps only is INVALID and cannot start.
    let v = ok(&mut s, "GetRecoveryPlan", json!({"recoveryPlanArn": p}), T0);
    assert_eq!(v["recoveryPlan"]["status"], "INVALID");
    assert_eq!(
        start(&mut s, &p, T0).expect_err("invalid").code,
        "ValidationException"
    );
    let step = |c: Value| json!({"recoveryPlanArn": p, "stepName": "x", "configuration": c});
    let e = call(
        &mut s,
        "CreateRecoveryPlanStep",
        step(server_step(&[(A, "CRITICAL")])),
        T0,
    )
    .expect_err("21st");
    assert_eq!(e.code, "ServiceQuotaExceededException");
    for bad in [
        json!({"waitStepConfiguration": {"waitDurationMinutes": 121}}),
        json!({"waitStepConfiguration": {"waitDurationMinutes": 0}}),
        json!({"serverStepConfiguration": {"servers": []}}),
        json!({"serverStepConfiguration": {"servers": (0..101).map(|_| json!({"serverArn": arn(A)})).collect::<Vec<_>>()}}),
        server_step(&[(A, "SOMETIMES")]),
    ] {
        let e = call(&mut s, "CreateRecoveryPlanStep", step(bad.clone()), T0).expect_err("refused");
        assert_eq!(e.code, "ValidationException", "{bad}");
        assert!(e.members.contains_key("fieldList"), "{bad}");
    }
    let too_many: Vec<Value> = (0..201).map(|i| json!({"sourceServerID": format!("s-{i:017}"), "recoverySnapshotID": format!("pit-{i:017}")})).collect();
    let body = json!({"recoveryPlanArn": p, "mode": "DRILL", "sourceServers": too_many});
    assert_eq!(
        call(&mut s, "StartRecoveryPlanExecution", body, T0)
            .expect_err("201")
            .code,
        "ValidationException"
    );
}

#[test]
fn steps_are_listed_reordered_and_deleted_and_unknown_arns_are_not_found() {
    let mut s = state();
    let p = plan(
        &mut s,
        &[
            server_step(&[(A, "CRITICAL")]),
            server_step(&[(B, "CRITICAL")]),
        ],
    );
    let v = ok(
        &mut s,
        "ListRecoveryPlanSteps",
        json!({"recoveryPlanArn": p}),
        T0,
    );
    let arns: Vec<Value> = (v["recoveryPlanSteps"].as_array().expect("steps").iter())
        .map(|s| s["recoveryPlanStepArn"].clone())
        .collect();
    let v = ok(
        &mut s,
        "ReorderRecoveryPlanSteps",
        json!({"recoveryPlanArn": p, "orderedStepArns": [arns[1], arns[0]]}),
        T0,
    );
    assert_eq!(v["recoveryPlanSteps"][0]["recoveryPlanStepArn"], arns[1]);
    assert_eq!(v["recoveryPlanSteps"][0]["stepOrder"], 1);
    let e = call(
        &mut s,
        "ReorderRecoveryPlanSteps",
        json!({"recoveryPlanArn": p, "orderedStepArns": [arns[0]]}),
        T0,
    );
    assert_eq!(e.expect_err("incomplete").code, "ValidationException");
    ok(
        &mut s,
        "DeleteRecoveryPlanStep",
        json!({"recoveryPlanStepArn": arns[0]}),
        T0,
    );
    let e = call(
        &mut s,
        "GetRecoveryPlanStep",
        json!({"recoveryPlanStepArn": arns[0]}),
        T0,
    )
    .expect_err("gone");
    assert_eq!((e.status, e.code), (404, "ResourceNotFoundException"));
    let v = ok(&mut s, "ListRecoveryPlans", json!({"maxResults": 1}), T0);
    assert_eq!(v["recoveryPlans"].as_array().map(Vec::len), Some(1));
    ok(
        &mut s,
        "UpdateRecoveryPlan",
        json!({"recoveryPlanArn": p, "description": "d"}),
        T0,
    );
    ok(
        &mut s,
        "DeleteRecoveryPlan",
        json!({"recoveryPlanArn": p}),
        T0,
    );
}

#[test]
fn an_execution_may_name_a_snapshot_per_server() {
    let mut s = state();
    let snaps = s.recovery_snapshots(A, T0).unwrap_or_default();
    let Some(snap) = snaps.first() else {
        panic!("the fixture server has snapshots");
    };
    let pit = snap.snapshot_id.clone();
    let p = plan(&mut s, &[server_step(&[(A, "CRITICAL")])]);
    let body = json!({"recoveryPlanArn": p, "mode": "RECOVERY", "sourceServers": [{"sourceServerID": A, "recoverySnapshotID": pit}]});
    ok(&mut s, "StartRecoveryPlanExecution", body, T0);
    ok(&mut s, "DescribeJobs", json!({}), at(1));
    let jobs = s.job_snapshots(at(1));
    let used = jobs
        .iter()
        .flat_map(|j| j.servers.iter())
        .find_map(|x| x.recovery_snapshot_id.clone());
    assert_eq!(used.as_deref(), Some(pit.as_str()));
    // A server that is in no SERVER step of the plan is refused.
    let body = json!({"recoveryPlanArn": p, "mode": "RECOVERY", "sourceServers": [{"sourceServerID": C, "recoverySnapshotID": pit}]});
    assert_eq!(
        call(&mut s, "StartRecoveryPlanExecution", body, at(100))
            .expect_err("not in plan")
            .code,
        "ValidationException"
    );
}
