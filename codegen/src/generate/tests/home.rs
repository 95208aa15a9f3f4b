//! The way home (a FAILBACK, issue #27) has the way out's gates, decisions and FAILBACK
//! actions under its own names, and none of the way out's pause or health checks.

use super::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ops";
const DNS: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:dns";

/// db asks on failure, web is gated; web has an action for the way out only, one for both
/// ways and one for the way home only; web also pauses and has a health check, both the way
/// out's only.
fn gated_plan() -> Plan {
    plan(&format!(
        "name: shop\ntasks: {{heartbeatSeconds: 5}}\n\
         waves:\n\
         \x20 - name: db\n    onFailure: ask\n    maxAttempts: 3\n    servers: {{ids: [s-a1b2c3d4e5f600001]}}\n\
         \x20 - name: web\n    approval: {{before: true, timeoutMinutes: 30}}\n    pauseBeforeSeconds: 5\n\
         \x20   servers: {{tags: {{Tier: web}}}}\n\
         \x20   health: [{{http: {{url: \"http://{{privateIp}}:8080/health\"}}}}]\n\
         \x20   before:\n\
         \x20     - {{name: out only, notify: {{topic: \"{TOPIC}\", message: out}}}}\n\
         \x20     - {{name: drain, notify: {{topic: \"{TOPIC}\", message: drain}}, modes: [RECOVERY, FAILBACK]}}\n\
         \x20   after:\n\
         \x20     - {{name: dns home, stateMachine: {{arn: \"{DNS}\"}}, modes: [FAILBACK]}}\n"
    ))
}

fn next_of(m: &StateMachine, name: &str) -> Value {
    state_json(m, name)["Next"].clone()
}

#[test]
fn a_wave_comes_home_through_its_failback_actions_and_its_approval_gate() {
    let m = generate(&gated_plan(), &ActivityResources::Placeholders);
    // Web leaves first: its FAILBACK before-action, then its gate, then its start.
    let which = state_json(&m, "Which way?");
    assert_eq!(
        which["Choices"][0]["Next"],
        json!("Failback wave 2 web: before 2 (drain)")
    );
    assert_eq!(
        next_of(&m, "Failback wave 2 web: before 2 (drain)"),
        json!("Failback wave 2 web: approve?")
    );
    let gate = state_json(&m, "Failback wave 2 web: approve?");
    assert_eq!(gate["TimeoutSeconds"], json!(1800));
    assert_eq!(gate["Next"], json!("Failback wave 2 web: start"));
    assert_eq!(gate["Parameters"]["gate"], json!("APPROVAL"));
    assert_eq!(
        gate["Catch"][0]["Next"],
        json!("Failback wave 2 web: approval timed out")
    );
    // Home: the FAILBACK after-action, then the next wave home (db, ungated: its start).
    let done = state_json(&m, "Failback wave 2 web: done?");
    assert_eq!(
        done["Choices"][1]["Next"],
        json!("Failback wave 2 web: after 1 (dns home)")
    );
    assert_eq!(
        next_of(&m, "Failback wave 2 web: after 1 (dns home)"),
        json!("Failback wave 1 db: start")
    );
    // Its context has the wave's state, and no recovered servers (the way out's check lists
    // them; on the way home they are the ones leaving).
    let home = state_json(&m, "Failback wave 2 web: after 1 (dns home)");
    let context = home["Parameters"].to_string();
    assert!(
        context.contains("\"waveState.$\":\"$.waves.w2\"") && !context.contains("recovered"),
        "{context}"
    );
    // The way out's action and the way home's only action are where they belong; the way
    // out's pause, health checks and out-only action have no state on the way home, and the
    // FAILBACK-only action none on the way out.
    for state in [
        "Wave 2 web: before 1 (out only)",
        "Wave 2 web: before 2 (drain) / mode?",
        "Wave 2 web: pause",
        "Wave 2 web: health check",
    ] {
        assert!(m.states.get(state).is_some(), "{state}");
    }
    for state in [
        "Failback wave 2 web: before 1 (out only)",
        "Failback wave 2 web: before 2 (drain) / mode?",
        "Failback wave 2 web: pause",
        "Failback wave 2 web: health check",
        "Wave 2 web: after 1 (dns home)",
    ] {
        assert!(m.states.get(state).is_none(), "{state}");
    }
}

#[test]
fn a_failure_on_the_way_home_asks_and_a_retry_brings_the_wave_home_again() {
    let m = generate(&gated_plan(), &ActivityResources::Placeholders);
    let done = state_json(&m, "Failback wave 1 db: done?");
    assert_eq!(
        done["Choices"][2]["Next"],
        json!("Failback wave 1 db: decide?")
    );
    let decide = state_json(&m, "Failback wave 1 db: decide?");
    assert_eq!(decide["Parameters"]["gate"], json!("DECISION"));
    assert_eq!(decide["Parameters"]["state.$"], json!("$.waves.w1"));
    let decision = state_json(&m, "Failback wave 1 db: decision");
    // No health checks on the way home: a retry always goes back to the start.
    assert_eq!(
        decision["Choices"],
        json!([
            {"Variable": "$.operator.decide_w1.decision", "StringEquals": "retry", "Next": "Failback wave 1 db: start"},
            {"Variable": "$.operator.decide_w1.decision", "StringEquals": "skip", "Next": "Failback wave 1 db: skipped"}
        ])
    );
    assert_eq!(decision["Default"], json!("Failback wave 1 db: failed"));
    assert_eq!(next_of(&m, "Failback wave 1 db: skipped"), json!("Finish"));
    // Every state of the way home reads back as the way home's (the CLI's follow, gates).
    for name in m.states.names() {
        if name.starts_with(names::FAILBACK_PREFIX) {
            assert!(
                names::parse_failback_wave(name).is_some()
                    || names::parse_action(name).is_some_and(|a| a.way == names::Way::Home),
                "{name}"
            );
        }
    }
}

#[test]
fn the_execution_timeout_covers_the_gates_and_decisions_on_the_way_home() {
    let with = gated_plan();
    let without = plan(
        "name: shop\ntasks: {heartbeatSeconds: 5}\n\
         waves:\n\
         \x20 - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n\
         \x20 - name: web\n    servers: {tags: {Tier: web}}\n",
    );
    // Gates and decisions wait for hours both ways: the derived timeout counts them.
    assert!(
        with.execution_timeout_seconds >= without.execution_timeout_seconds + 1800 + 3 * 4 * 3600,
        "{} vs {}",
        with.execution_timeout_seconds,
        without.execution_timeout_seconds
    );
}
