//! Fragment tests: given a plan, when the machine is generated, then these states render as
//! this JSON. Whole-machine comparisons live in the golden tests (tests/artifacts.rs).

use serde_json::{Value, json};

use super::*;
use crate::asl::{Condition, FailCause, FailField, State};
use crate::contract::{
    CheckWaveInput, FinishInput, PreflightInput, RecordFailureInput, StartWaveInput,
};
use crate::plan::load_str;

mod actions;
mod branches;
mod failure_path;
mod gates;
mod health;
mod home;
mod input_check;
mod network;
mod pause;
mod reference_paths;
mod tasks;
mod waves;

const RETRY: &str = r#"[{"ErrorEquals": ["DrsWaves.Throttled", "DrsWaves.Transient", "States.HeartbeatTimeout", "States.Timeout"],
    "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0}]"#;

fn plan(yaml: &str) -> Plan {
    load_str("test.plan.yaml", yaml).unwrap_or_else(|e| panic!("test plan is invalid: {e}"))
}

fn two_waves(on_failure: &str) -> Plan {
    plan(&format!(
        "name: shop\ntasks: {{heartbeatSeconds: 5}}\n\
         defaults: {{launchTimeoutSeconds: 60, polling: {{minWaitSeconds: 2, maxWaitSeconds: 10, expectedLaunchSeconds: 30}}}}\n\
         waves:\n\
         \x20 - name: db\n    onFailure: {on_failure}\n    servers: {{ids: [s-a1b2c3d4e5f600001]}}\n\
         \x20 - name: web\n    servers: {{tags: {{Tier: web}}}}\n"
    ))
}

fn state_json(machine: &StateMachine, name: &str) -> Value {
    let state = machine
        .states
        .get(name)
        .unwrap_or_else(|| panic!("no state {name:?}"));
    serde_json::to_value(state).expect("render")
}

fn retry() -> Value {
    serde_json::from_str(RETRY).expect("retry json")
}

fn catch_to_record_failure() -> Value {
    json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record failure"}])
}

fn db_wave() -> Value {
    json!({
        "index": 1, "name": "db", "serverIds": ["s-a1b2c3d4e5f600001"], "tags": {}, "optional": [],
        "launchTimeoutSeconds": 60, "onFailure": "stop",
        "polling": {"minWaitSeconds": 2, "maxWaitSeconds": 10, "expectedLaunchSeconds": 30}
    })
}

/// Drops operator comments so fragments compare structure only (comments are covered by the
/// golden files).
fn without_comment(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("Comment");
    }
    v
}

/// A plan with every kind of state the generator makes: servers by ID and by tags, a
/// decision after a failure, an approval gate (and the input and point-in-time checks).
fn every_kind_of_state() -> Plan {
    plan(
        "name: shop\ntasks: {heartbeatSeconds: 5}\n\
         waves:\n\
         \x20 - name: db\n    onFailure: ask\n    maxAttempts: 2\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n\
         \x20 - name: web\n    approval: {before: true}\n    servers: {tags: {Tier: web}}\n",
    )
}
