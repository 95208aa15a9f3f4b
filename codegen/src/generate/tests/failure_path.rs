//! The failure path: record the failure, then fail with the caught error, run as Step
//! Functions runs it.

use super::*;

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
