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
            "Parameters": {"run.$": "$.run", "wave": db_wave(), "heartbeatSeconds": 5, "retryCount.$": "$$.State.RetryCount"},
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
            "Parameters": {"run.$": "$.run", "wave": db_wave(), "state.$": "$.waves.w1", "heartbeatSeconds": 5, "retryCount.$": "$$.State.RetryCount"},
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
            "Parameters": {"run.$": "$.run", "waves.$": "$.waves", "heartbeatSeconds": 5, "retryCount.$": "$$.State.RetryCount"},
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
    // An optional pointInTime is compared only once it is known to be present, and must be
    // in the form AWS's IsTimestamp takes (upper-case T and Z) on every engine.
    assert_eq!(
        without_comment(state_json(&m, "Check point in time")),
        json!({
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.pointInTime", "IsPresent": true}, "Next": "Preflight"},
                {"And": [{"Variable": "$.pointInTime", "IsTimestamp": true},
                         {"Variable": "$.pointInTime", "StringMatches": "*-*-*T*:*:*Z"}],
                 "Next": "Preflight"}
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
                "heartbeatSeconds": 5,
                "retryCount.$": "$$.State.RetryCount"
            },
            "ResultPath": "$.failure",
            "TimeoutSeconds": 600,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.recordFailureError", "Next": "Error has a cause?"}],
            "Next": "Error has a cause?"
        })
    );
    assert_eq!(
        without_comment(state_json(&m, "Error has a cause?")),
        json!({
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.error.Cause", "IsPresent": true}, "Next": "Failed (error without a cause)"},
                {"Variable": "$.error.Cause", "IsString": true, "Next": "Failed"}
            ],
            "Default": "Failed (error without a cause)"
        })
    );
    assert_eq!(
        without_comment(state_json(&m, "Failed")),
        json!({"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"})
    );
    assert_eq!(
        without_comment(state_json(&m, "Failed (error without a cause)")),
        json!({"Type": "Fail", "ErrorPath": "$.error.Error", "Cause": NO_CAUSE_GIVEN})
    );
}

/// The value at a path the generator renders (`$`, `$.a.b`), or None where the state has none.
fn lookup<'a>(state: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('$').expect("a JSONPath");
    rest.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(state, |v, key| v.get(key))
}

/// A Choice condition as Step Functions evaluates it; a comparison of a missing field panics,
/// as AWS fails it with States.Runtime.
fn holds(condition: &Condition, state: &Value) -> bool {
    let present = |variable: &str| {
        lookup(state, variable)
            .unwrap_or_else(|| panic!("States.Runtime: {variable} is compared but missing"))
    };
    match condition {
        Condition::IsPresent { variable, value } => lookup(state, variable).is_some() == *value,
        Condition::IsString { variable, value } => present(variable).is_string() == *value,
        Condition::StringEquals { variable, value } => present(variable) == &json!(value),
        Condition::Not(inner) => !holds(inner, state),
        Condition::And(all) => all.iter().all(|c| holds(c, state)),
        other => panic!("the failure end uses no {other:?}"),
    }
}

/// Given the state after `Record failure`, runs the machine from there to its Fail state as
/// Step Functions does, and returns that state's name, error and cause. A Fail whose ErrorPath
/// or CausePath selects no string panics, as AWS fails the execution with States.Runtime.
fn run_failure_end(m: &StateMachine, state: &Value) -> (String, String, String) {
    let text = |path: &str| {
        lookup(state, path)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("States.Runtime: {path} selects no string in {state}"))
            .to_owned()
    };
    let Some(State::Task(record)) = m.states.get(names::RECORD_FAILURE) else {
        panic!("no {} task", names::RECORD_FAILURE);
    };
    let Transition::Next(mut name) = record.transition.clone() else {
        panic!("{} has no Next", names::RECORD_FAILURE);
    };
    for _ in 0..m.states.0.len() {
        match m.states.get(&name) {
            Some(State::Choice(choice)) => {
                name = choice
                    .choices
                    .iter()
                    .find(|rule| holds(&rule.condition, state))
                    .map(|rule| rule.next.clone())
                    .or_else(|| choice.default.clone())
                    .unwrap_or_else(|| panic!("States.NoChoiceMatched at {name}"));
            }
            Some(State::Fail(fail)) => {
                let error = match &fail.error {
                    FailField::Error(e) => e.clone(),
                    FailField::ErrorPath(path) => text(path),
                };
                let cause = match &fail.cause {
                    FailCause::Cause(c) => c.clone(),
                    FailCause::CausePath(path) => text(path),
                };
                return (name, error, cause);
            }
            other => panic!("the failure end reached {name}: {other:?}"),
        }
    }
    panic!("the failure end loops")
}

#[test]
fn a_failed_execution_ends_with_the_caught_error_whether_or_not_it_has_a_cause() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    let with_cause =
        json!({"error": {"Error": "DrsWaves.WaveFailed", "Cause": "s-1 failed"}, "failure": {}});
    assert_eq!(
        run_failure_end(&m, &with_cause),
        (
            "Failed".into(),
            "DrsWaves.WaveFailed".into(),
            "s-1 failed".into()
        )
    );
    // A Step Functions timeout caught by States.ALL may have no Cause at all.
    let without_cause = json!({"error": {"Error": "States.Timeout"}, "failure": {}});
    assert_eq!(
        run_failure_end(&m, &without_cause),
        (
            "Failed (error without a cause)".into(),
            "States.Timeout".into(),
            NO_CAUSE_GIVEN.into()
        )
    );
    let null_cause = json!({"error": {"Error": "States.TaskFailed", "Cause": null}});
    assert_eq!(
        run_failure_end(&m, &null_cause).0,
        "Failed (error without a cause)"
    );
    // Record failure's own failure takes the same way, and the original error is what ends it.
    let Some(State::Task(record)) = m.states.get(names::RECORD_FAILURE) else {
        panic!("no record failure task");
    };
    assert_eq!(record.catch.len(), 1);
    assert_eq!(record.transition, Transition::next(&record.catch[0].next));
    let record_failed = json!({"error": {"Error": "States.Timeout"}, "recordFailureError": {"Error": "X", "Cause": "y"}});
    assert_eq!(run_failure_end(&m, &record_failed).1, "States.Timeout");
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

/// Every path a rendered machine holds, as `(where, path)`: each `*Path` field and `Variable`
/// at any depth of a state (Choice rules, Catch), and each `*.$` key of a payload template.
/// Static data (`Result`, plain Parameters values) is not a path. A field the walker does not
/// know fails, so that a new kind of field is classified here rather than skipped.
fn paths_of_machine(definition: &Value) -> Vec<(String, String)> {
    fn template(at: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let here = format!("{at}.{k}");
                    if k.ends_with(".$") {
                        let path = v.as_str().unwrap_or_else(|| panic!("{here}: not a string"));
                        out.push((here, path.to_owned()));
                    } else {
                        template(&here, v, out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    template(&format!("{at}[{i}]"), v, out);
                }
            }
            _ => {}
        }
    }
    fn fields(at: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let here = format!("{at}.{k}");
                    match k.as_str() {
                        "Parameters" | "ResultSelector" | "ItemSelector" => template(&here, v, out),
                        "Result" => {}
                        "Choices" | "Catch" | "And" | "Or" | "Not" => fields(&here, v, out),
                        "Variable" => out.push((here, v.as_str().expect("Variable").to_owned())),
                        path_field if path_field.ends_with("Path") => {
                            // ResultPath, InputPath and OutputPath may be null (discard).
                            if let Some(path) = v.as_str() {
                                out.push((here, path.to_owned()));
                            }
                        }
                        "Type" | "Comment" | "Resource" | "TimeoutSeconds" | "HeartbeatSeconds"
                        | "Next" | "End" | "Default" | "Retry" | "Seconds" | "Error" | "Cause"
                        | "ErrorEquals" => {}
                        comparison if v.is_string() || v.is_boolean() || v.is_number() => {
                            // A Choice rule's comparison value (StringEquals, IsPresent, ...).
                            assert!(
                                at.contains(".Choices")
                                    || at.contains(".Not")
                                    || at.contains(".And"),
                                "{here}: unknown field {comparison}: say whether it holds a path"
                            );
                        }
                        unknown => {
                            panic!("{here}: unknown field {unknown}: say whether it holds a path")
                        }
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    fields(&format!("{at}[{i}]"), v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let states = definition["States"].as_object().expect("States");
    for (name, state) in states {
        fields(name, state, &mut out);
    }
    out
}

/// The paths that break the rule AWS applies to Reference Paths (`$`/`$$`, then `.name` steps
/// of letters, digits and `_`), with where they are.
fn bad_paths(definition: &Value) -> Vec<String> {
    paths_of_machine(definition)
        .into_iter()
        .filter(|(_, path)| !paths::is_reference_path(path))
        .map(|(at, path)| format!("{at}: {path:?}"))
        .collect()
}

#[test]
fn every_path_in_a_generated_machine_is_a_plain_reference_path() {
    let mut machines = vec![(
        "every kind of state".to_owned(),
        generate(&every_kind_of_state(), &ActivityResources::Placeholders),
    )];
    for entry in std::fs::read_dir(crate::artifacts::default_dir()).expect("statemachines/") {
        let file = entry.expect("entry").path();
        if file
            .to_string_lossy()
            .ends_with(crate::artifacts::PLAN_SUFFIX)
        {
            let compiled = crate::compile_file(&file, &ActivityResources::Placeholders)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            machines.push((file.display().to_string(), compiled.machine));
        }
    }
    assert!(machines.len() >= 4, "the examples were not found");
    for (name, machine) in &machines {
        let definition = serde_json::to_value(machine).expect("render");
        let bad = bad_paths(&definition);
        assert!(
            bad.is_empty(),
            "{name}: not Reference Paths AWS accepts:\n{}",
            bad.join("\n")
        );
    }

    // The walker sees every kind of path field the generator writes, so the rule above is
    // checked on each of them (a walker that found nothing would pass anything).
    let definition = serde_json::to_value(&machines[0].1).expect("render");
    let found = paths_of_machine(&definition);
    for field in [
        ".ResultPath",
        ".Catch[0].ResultPath",
        ".Variable",
        ".Not.Variable",
        ".SecondsPath",
        ".ErrorPath",
        ".CausePath",
        ".$",
    ] {
        assert!(
            found.iter().any(|(at, _)| at.ends_with(field)),
            "no {field} path was found: {found:?}"
        );
    }
    assert!(
        found.iter().any(|(_, path)| path.starts_with("$$.")),
        "no context path was found: {found:?}"
    );
    for wanted in [
        paths::approval_answer(2),
        paths::decision_answer(1),
        paths::decision(1),
        paths::ERROR_CAUSE.to_owned(),
    ] {
        assert!(
            found.iter().any(|(_, p)| *p == wanted),
            "{wanted} not found"
        );
    }
}

#[test]
fn the_path_walker_reports_a_hyphenated_path_wherever_it_is() {
    let m = generate(&every_kind_of_state(), &ActivityResources::Placeholders);
    let mut definition = serde_json::to_value(&m).expect("render");
    let states = &mut definition["States"];
    states["Wave 2 web: approve?"]["ResultPath"] = json!("$.operator.approve-w2");
    states["Wave 1 db: decision"]["Choices"][0]["Variable"] =
        json!("$.operator.decide-w1.decision");
    states["Wave 1 db: check"]["Parameters"]["state.$"] = json!("$.waves['w1']");
    states["Wave 1 db: check"]["Catch"][0]["ResultPath"] = json!("$.error-1");
    states["Wave 1 db: wait"]["SecondsPath"] = json!("$.waves.w1.next wait");
    let mut bad = bad_paths(&definition);
    bad.sort();
    assert_eq!(
        bad,
        [
            r#"Wave 1 db: check.Catch[0].ResultPath: "$.error-1""#,
            r#"Wave 1 db: check.Parameters.state.$: "$.waves['w1']""#,
            r#"Wave 1 db: decision.Choices[0].Variable: "$.operator.decide-w1.decision""#,
            r#"Wave 1 db: wait.SecondsPath: "$.waves.w1.next wait""#,
            r#"Wave 2 web: approve?.ResultPath: "$.operator.approve-w2""#,
        ]
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
    let context = json!({"Execution": {"Id": "arn:aws:states:us-east-1:0:execution:shop:e1", "Name": "e1", "StartTime": "2025-01-01T00:00:00Z"}, "State": {"EnteredTime": "2025-01-01T00:00:01Z", "RetryCount": 0}});
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

/// Every task tells its worker how often it has been retried, so that a retryable failure's
/// cause says how many tries are left (and the last says it is the last).
#[test]
fn every_task_carries_its_retry_count() {
    let m = generate(&every_kind_of_state(), &ActivityResources::Placeholders);
    let machine = serde_json::to_value(&m).expect("render");
    let mut tasks = 0;
    for (name, state) in machine["States"].as_object().expect("states") {
        if state["Type"] == "Task" {
            tasks += 1;
            assert_eq!(
                state["Parameters"]["retryCount.$"],
                json!("$$.State.RetryCount"),
                "{name}"
            );
        }
    }
    assert!(tasks >= 6, "{tasks} tasks");
}
