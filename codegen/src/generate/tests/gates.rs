//! Approval gates and decisions: their own heartbeat, and re-opening a gate whose token was
//! lost.

use super::*;

/// A gate survives a lost token: it has a heartbeat of its own, and its heartbeat timeout
/// (States.HeartbeatTimeout on AWS, States.Timeout locally) opens it again, at most
/// GATE_REOPENINGS times, before the Catch turns a timeout into DrsWaves.GateTimedOut. The task
/// carries when it was first entered and how often it was retried, so the worker keeps the
/// gate's first deadline.
#[test]
fn a_gate_has_its_own_heartbeat_and_reopens_when_its_token_is_lost() {
    let plan = plan(
        "name: shop\ntasks: {heartbeatSeconds: 5, gateHeartbeatSeconds: 45}\n\
         waves:\n\
         \x20 - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n\
         \x20 - name: web\n    approval: {before: true, timeoutMinutes: 30}\n    servers: {tags: {Tier: web}}\n",
    );
    let m = generate(&plan, &ActivityResources::Placeholders);
    let gate = state_json(&m, "Wave 2 web: approve?");
    assert_eq!(gate["HeartbeatSeconds"], json!(45));
    assert_eq!(gate["TimeoutSeconds"], json!(1800));
    assert_eq!(
        gate["Retry"][0],
        json!({
            "ErrorEquals": ["States.HeartbeatTimeout", "States.Timeout"],
            "IntervalSeconds": 1,
            "MaxAttempts": crate::contract::operator::GATE_REOPENINGS,
            "BackoffRate": 1.0
        })
    );
    let parameters = &gate["Parameters"];
    assert_eq!(parameters["openedAt.$"], json!("$$.State.EnteredTime"));
    assert_eq!(parameters["reopened.$"], json!("$$.State.RetryCount"));
    assert_eq!(parameters["gateHeartbeatSeconds"], json!(45));
    assert_eq!(
        gate["Catch"][0],
        json!({"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Wave 2 web: approval timed out"})
    );
    let timed_out = state_json(&m, "Wave 2 web: approval timed out");
    assert_eq!(
        timed_out["Result"]["Cause"],
        json!(
            "The approval gate before wave 2 'web' waited 1800 s (30 min) with no answer; no later wave started."
        )
    );
}

#[test]
fn a_gate_heartbeat_defaults_to_five_minutes() {
    let m = generate(&every_kind_of_state(), &ActivityResources::Placeholders);
    for gate in ["Wave 1 db: decide?", "Wave 2 web: approve?"] {
        assert_eq!(
            state_json(&m, gate)["HeartbeatSeconds"],
            json!(crate::contract::operator::DEFAULT_GATE_HEARTBEAT_SECONDS),
            "{gate}"
        );
    }
}

/// A gate whose timeout comes before its heartbeat would could never lose a token to the
/// heartbeat: it has none (Step Functions refuses HeartbeatSeconds not less than
/// TimeoutSeconds), and the worker is not told of one.
#[test]
fn a_gate_shorter_than_its_heartbeat_has_none() {
    let plan = plan(
        "name: shop\ntasks: {heartbeatSeconds: 5}\n\
         waves:\n\
         \x20 - name: db\n    approval: {before: true, timeoutMinutes: 0.1}\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n\
         \x20 - name: web\n    approval: {before: true, timeoutMinutes: 5}\n    servers: {tags: {Tier: web}}\n",
    );
    let m = generate(&plan, &ActivityResources::Placeholders);
    let short = state_json(&m, "Wave 1 db: approve?");
    assert_eq!(short["TimeoutSeconds"], json!(6));
    assert!(short.get("HeartbeatSeconds").is_none(), "{short}");
    assert!(short["Parameters"].get("gateHeartbeatSeconds").is_none());
    // Five minutes is exactly the default heartbeat: not less, so none either.
    let equal = state_json(&m, "Wave 2 web: approve?");
    assert!(equal.get("HeartbeatSeconds").is_none(), "{equal}");
}
