//! Fragment tests: given a plan, when the machine is generated, then these states render as
//! this JSON. Whole-machine comparisons live in the golden tests (tests/artifacts.rs).

use serde_json::{Value, json};

use super::*;
use crate::contract::{
    CheckWaveInput, FinishInput, PreflightInput, RecordFailureInput, StartWaveInput,
};
use crate::plan::load_str;

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

#[test]
fn a_wave_start_writes_its_state_and_goes_to_wait() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: start")),
        json!({
            "Type": "Task",
            "Resource": "${StartWaveActivityArn}",
            "Parameters": {"run.$": "$.run", "wave": db_wave(), "heartbeatSeconds": 5},
            "ResultPath": "$.waves.w1",
            "TimeoutSeconds": 600,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": catch_to_record_failure(),
            "Next": "Wave 1 db: wait"
        })
    );
}

#[test]
fn a_wave_waits_as_long_as_the_last_check_asked() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: wait")),
        json!({"Type": "Wait", "SecondsPath": "$.waves.w1.nextWaitSeconds", "Next": "Wave 1 db: check"})
    );
}

#[test]
fn a_wave_check_reads_and_rewrites_the_wave_state() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: check")),
        json!({
            "Type": "Task",
            "Resource": "${CheckWaveActivityArn}",
            "Parameters": {"run.$": "$.run", "wave": db_wave(), "state.$": "$.waves.w1", "heartbeatSeconds": 5},
            "ResultPath": "$.waves.w1",
            "TimeoutSeconds": 300,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": catch_to_record_failure(),
            "Next": "Wave 1 db: done?"
        })
    );
}

#[test]
fn a_stopping_wave_that_fails_goes_to_its_failure_state() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: done?")),
        json!({
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.waves.w1.status", "StringEquals": "LAUNCHING", "Next": "Wave 1 db: wait"},
                {"Variable": "$.waves.w1.status", "StringEquals": "SUCCEEDED", "Next": "Wave 2 web: start"},
                {"Variable": "$.waves.w1.status", "StringEquals": "FAILED", "Next": "Wave 1 db: failed"}
            ],
            "Default": "Wave 1 db: failed"
        })
    );
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: failed")),
        json!({
            "Type": "Pass",
            "Parameters": {"Error": "DrsWaves.WaveFailed", "Cause.$": "$.waves.w1.reason"},
            "ResultPath": "$.error",
            "Next": "Record failure"
        })
    );
}

#[test]
fn a_continuing_wave_that_fails_goes_on_to_the_next_wave() {
    let m = generate(&two_waves("continue"), &ActivityResources::Placeholders);
    let done = state_json(&m, "Wave 1 db: done?");
    assert_eq!(
        done["Choices"][2],
        json!({"Variable": "$.waves.w1.status", "StringEquals": "FAILED", "Next": "Wave 2 web: start"})
    );
    // An unknown status is never taken for success.
    assert_eq!(done["Default"], json!("Wave 1 db: failed"));
}

#[test]
fn the_last_wave_goes_on_to_finish() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    let done = state_json(&m, "Wave 2 web: done?");
    assert_eq!(done["Choices"][1]["Next"], json!("Finish"));
    assert_eq!(
        without_comment(state_json(&m, "Finish")),
        json!({
            "Type": "Task",
            "Resource": "${FinishActivityArn}",
            "Parameters": {"run.$": "$.run", "waves.$": "$.waves", "heartbeatSeconds": 5},
            "ResultPath": "$.result",
            "TimeoutSeconds": 600,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": catch_to_record_failure(),
            "Next": "Succeeded"
        })
    );
}

#[test]
fn the_input_check_guards_every_comparison() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    let check = without_comment(state_json(&m, "Check input"));
    assert_eq!(
        check,
        json!({
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.mode", "IsPresent": true}, "Next": "Input rejected"},
                {"Variable": "$.mode", "StringEquals": "DRILL", "Next": "Check point in time"},
                {"And": [{"Variable": "$.mode", "StringEquals": "RECOVERY"},
                         {"Not": {"Variable": "$.confirm", "IsPresent": true}}],
                 "Next": "Recovery not confirmed"},
                {"And": [{"Variable": "$.mode", "StringEquals": "RECOVERY"},
                         {"Variable": "$.confirm", "IsPresent": true},
                         {"Variable": "$.confirm", "StringEquals": "shop"}],
                 "Next": "Check point in time"},
                {"Variable": "$.mode", "StringEquals": "RECOVERY", "Next": "Recovery not confirmed"}
            ],
            "Default": "Input rejected"
        })
    );
    // An optional pointInTime is compared only once it is known to be present.
    assert_eq!(
        without_comment(state_json(&m, "Check point in time")),
        json!({
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.pointInTime", "IsPresent": true}, "Next": "Preflight"},
                {"Variable": "$.pointInTime", "IsTimestamp": true, "Next": "Preflight"}
            ],
            "Default": "Point in time rejected"
        })
    );
    assert_eq!(
        state_json(&m, "Point in time rejected")["Result"]["Error"],
        json!("DrsWaves.InvalidInput")
    );
    let rejected = state_json(&m, "Recovery not confirmed");
    assert_eq!(
        rejected["Result"]["Error"],
        json!("DrsWaves.RecoveryNotConfirmed")
    );
    assert!(
        rejected["Result"]["Cause"]
            .as_str()
            .is_some_and(|c| c.contains(r#""confirm": "shop""#))
    );
    assert_eq!(rejected["ResultPath"], json!("$.error"));
    assert_eq!(rejected["Next"], json!("Record failure"));
    assert_eq!(
        state_json(&m, "Input rejected")["Result"]["Error"],
        json!("DrsWaves.InvalidInput")
    );
}

#[test]
fn the_failure_path_records_then_fails_with_the_caught_error() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Record failure")),
        json!({
            "Type": "Task",
            "Resource": "${RecordFailureActivityArn}",
            "Parameters": {
                "execution": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "startTime.$": "$$.Execution.StartTime"},
                "planName": "shop",
                "state.$": "$",
                "heartbeatSeconds": 5
            },
            "ResultPath": "$.failure",
            "TimeoutSeconds": 600,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.recordFailureError", "Next": "Failed"}],
            "Next": "Failed"
        })
    );
    assert_eq!(
        without_comment(state_json(&m, "Failed")),
        json!({"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"})
    );
}

#[test]
fn preflight_gets_the_execution_the_input_and_the_whole_plan() {
    let p = two_waves("stop");
    let m = generate(&p, &ActivityResources::Placeholders);
    let preflight = state_json(&m, "Preflight");
    assert_eq!(
        preflight["Parameters"]["plan"],
        serde_json::to_value(&p.spec).expect("spec")
    );
    assert_eq!(preflight["Parameters"]["input.$"], json!("$"));
    assert_eq!(preflight["ResultPath"], json!("$.run"));
    assert_eq!(preflight["Next"], json!("Wave 1 db: start"));
}

#[test]
fn the_machine_timeout_is_derived_unless_the_plan_sets_it() {
    let p = two_waves("stop");
    let m = generate(&p, &ActivityResources::Placeholders);
    let derived = m.timeout_seconds.expect("timeout");
    assert!(
        derived >= 2 * 60 + 600,
        "{derived} does not cover both waves' launch timeouts and their tasks"
    );
    assert_eq!(derived % 60, 0);
    let set = plan(
        "name: shop\nexecutionTimeoutMinutes: 90\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n",
    );
    assert_eq!(
        generate(&set, &ActivityResources::Placeholders).timeout_seconds,
        Some(5400)
    );
}

#[test]
fn heartbeats_longer_than_a_task_base_timeout_stretch_the_timeout() {
    let p = plan(
        "name: slow\ntasks: {heartbeatSeconds: 200}\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n",
    );
    let m = generate(&p, &ActivityResources::Placeholders);
    let check = state_json(&m, "Wave 1 db: check");
    assert_eq!(check["HeartbeatSeconds"], json!(200));
    assert_eq!(check["TimeoutSeconds"], json!(600));
    assert_eq!(m.validate(), vec![]);
}

#[test]
fn concrete_arns_replace_the_placeholders() {
    let pairs: Vec<String> = Activity::ALL
        .iter()
        .map(|a| {
            format!(
                "{}=arn:aws:states:us-east-1:000000000000:activity:drs-waves-{}",
                a.name(),
                a.name()
            )
        })
        .collect();
    let resources = ActivityResources::from_pairs(&pairs).expect("all five");
    let m = generate(&two_waves("stop"), &resources);
    assert_eq!(
        state_json(&m, "Wave 2 web: check")["Resource"],
        json!("arn:aws:states:us-east-1:000000000000:activity:drs-waves-check-wave")
    );
    let rendered = serde_json::to_string(&m).expect("render");
    assert!(
        !rendered.contains("${"),
        "a placeholder is left: {rendered}"
    );
}

#[test]
fn activity_arn_arguments_are_checked() {
    let arn = |n: &str| format!("{n}=arn:aws:states:us-east-1:000000000000:activity:x");
    assert_eq!(
        ActivityResources::from_pairs::<String>(&[]),
        Ok(ActivityResources::Placeholders)
    );
    assert!(matches!(
        ActivityResources::from_pairs(&[arn("preflight")]),
        Err(ActivityArnError::Missing { missing }) if missing == "start-wave, check-wave, finish, record-failure, await-operator"
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&[arn("launch")]),
        Err(ActivityArnError::UnknownActivity { name, .. }) if name == "launch"
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&[arn("finish"), arn("finish")]),
        Err(ActivityArnError::Duplicate { name }) if name == "finish"
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&["finish"]),
        Err(ActivityArnError::Malformed(_))
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&["finish=arn:aws:lambda:us-east-1:0:function:f"]),
        Err(ActivityArnError::NotAnActivityArn { .. })
    ));
}

#[test]
fn every_state_name_of_a_maximal_wave_fits() {
    let name = "w".repeat(crate::plan::MAX_NAME_CHARS);
    let longest = names::wave(9999, &name, WaveStep::Failed);
    assert!(
        longest.chars().count() <= crate::asl::MAX_STATE_NAME_CHARS,
        "{longest}"
    );
}

/// Resolves the JSONPaths the generator uses (`$`, `$.a.b`, `$$.Execution.X`) against a state
/// and a context object, as Step Functions does for `.$` keys.
fn resolve_parameters(template: &Value, state: &Value, context: &Value) -> Value {
    fn lookup(path: &str, state: &Value, context: &Value) -> Value {
        let (root, rest) = match path.strip_prefix("$$") {
            Some(rest) => (context, rest),
            None => (state, path.strip_prefix('$').expect("a JSONPath")),
        };
        rest.split('.')
            .filter(|s| !s.is_empty())
            .fold(root.clone(), |v, key| {
                v.get(key)
                    .cloned()
                    .unwrap_or_else(|| panic!("{path} is missing"))
            })
    }
    match template {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(key) => (
                        key.to_owned(),
                        lookup(v.as_str().expect("path"), state, context),
                    ),
                    None => (k.clone(), resolve_parameters(v, state, context)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Given the state an execution has at each task, when its Parameters are resolved, then the
/// worker can read them as the contract's input types.
#[test]
fn every_task_input_deserializes_into_the_contract_types() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    let context = json!({"Execution": {"Id": "arn:aws:states:us-east-1:0:execution:shop:e1", "Name": "e1", "StartTime": "2025-01-01T00:00:00Z"}});
    let run = json!({
        "executionId": "arn:aws:states:us-east-1:0:execution:shop:e1", "executionName": "e1", "planName": "shop",
        "mode": "DRILL", "startedAt": "2025-01-01T00:00:00Z", "terminateDrillInstances": false, "waveCount": 2, "serverCount": 1
    });
    let wave_state = json!({
        "wave": "db", "index": 1, "status": "LAUNCHING", "jobIds": ["drsjob-a1b2c3d4e5f600001"],
        "startedAt": "2025-01-01T00:00:01Z", "endedAt": "", "checks": 0, "nextWaitSeconds": 2,
        "servers": {"total": 1, "launched": 0, "failed": 0, "launching": 1, "optionalFailed": 0}, "reason": ""
    });
    let state = json!({"mode": "DRILL", "run": run, "waves": {"w1": wave_state}, "error": {"Error": "E", "Cause": "C"}});
    let params =
        |name: &str| resolve_parameters(&state_json(&m, name)["Parameters"], &state, &context);

    let preflight: PreflightInput =
        serde_json::from_value(params("Preflight")).expect("preflight input");
    assert_eq!(preflight.plan.name, "shop");
    assert_eq!(preflight.execution.name, "e1");
    let start: StartWaveInput =
        serde_json::from_value(params("Wave 1 db: start")).expect("start input");
    assert_eq!(start.wave.index, 1);
    let check: CheckWaveInput =
        serde_json::from_value(params("Wave 1 db: check")).expect("check input");
    assert_eq!(check.state.job_ids, vec!["drsjob-a1b2c3d4e5f600001"]);
    let finish: FinishInput = serde_json::from_value(params("Finish")).expect("finish input");
    assert!(finish.waves.contains_key("w1"));
    let record: RecordFailureInput =
        serde_json::from_value(params("Record failure")).expect("record input");
    assert_eq!(record.plan_name, "shop");
    assert_eq!(record.state["error"]["Error"], json!("E"));
}
