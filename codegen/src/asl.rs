//! A typed model of the Amazon States Language (JSONPath flavour), just big enough for the
//! machines drs-codegen generates, and a [`StateMachine::validate`] that catches what the local
//! engines let through (a `Next` that names no state, unreachable states, ...).
//!
//! Rendering is deterministic: struct fields serialize in declaration order, states in the
//! order they were added, and empty lists are omitted, so generated files diff cleanly.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

/// The catch-all error name; must be alone in its `ErrorEquals` and in the last retrier/catcher.
pub const STATES_ALL: &str = "States.ALL";
/// Step Functions rejects longer state names.
pub const MAX_STATE_NAME_CHARS: usize = 80;

/// A whole state machine definition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateMachine {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "StartAt")]
    pub start_at: String,
    #[serde(rename = "TimeoutSeconds", skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(rename = "States")]
    pub states: States,
}

/// The states in insertion order. A list rather than a map so that a duplicate name survives
/// until [`StateMachine::validate`] can report it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct States(pub Vec<(String, State)>);

impl States {
    pub fn push(&mut self, name: impl Into<String>, state: impl Into<State>) {
        self.0.push((name.into(), state.into()));
    }

    pub fn get(&self, name: &str) -> Option<&State> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }
}

impl Serialize for States {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, state) in &self.0 {
            map.serialize_entry(name, state)?;
        }
        map.end()
    }
}

/// One state; `Type` is rendered first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "Type")]
pub enum State {
    Task(Task),
    Choice(Choice),
    Wait(Wait),
    Pass(Pass),
    Succeed(Succeed),
    Fail(Fail),
}

macro_rules! into_state {
    ($($t:ident),*) => {$(
        impl From<$t> for State {
            fn from(s: $t) -> State { State::$t(s) }
        }
    )*};
}
into_state!(Task, Choice, Wait, Pass, Succeed, Fail);

/// Where a non-terminal state goes next: `"Next": name` or `"End": true`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
}

impl Transition {
    pub fn next(name: impl Into<String>) -> Transition {
        Transition::Next(name.into())
    }
}

impl Serialize for Transition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Transition::Next(name) => map.serialize_entry("Next", name)?,
            Transition::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Task {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "Resource")]
    pub resource: String,
    #[serde(rename = "Parameters", skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(rename = "ResultPath", skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    #[serde(rename = "TimeoutSeconds", skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(rename = "HeartbeatSeconds", skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u32>,
    #[serde(rename = "Retry", skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(rename = "Catch", skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Retrier {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(rename = "IntervalSeconds", skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    #[serde(rename = "MaxAttempts", skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(rename = "BackoffRate", skip_serializing_if = "Option::is_none")]
    pub backoff_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Catcher {
    #[serde(rename = "ErrorEquals")]
    pub error_equals: Vec<String>,
    #[serde(rename = "ResultPath", skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    #[serde(rename = "Next")]
    pub next: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "Choices")]
    pub choices: Vec<ChoiceRule>,
    #[serde(rename = "Default", skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A top-level choice rule: a condition and the state to go to when it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
}

impl ChoiceRule {
    pub fn new(condition: Condition, next: impl Into<String>) -> ChoiceRule {
        ChoiceRule {
            condition,
            next: next.into(),
        }
    }
}

impl Serialize for ChoiceRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.condition.write_entries(&mut map)?;
        map.serialize_entry("Next", &self.next)?;
        map.end()
    }
}

/// The comparisons the generator uses (JSONPath `Variable` form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    StringEquals {
        variable: String,
        value: String,
    },
    IsPresent {
        variable: String,
        value: bool,
    },
    IsTimestamp {
        variable: String,
        value: bool,
    },
    IsString {
        variable: String,
        value: bool,
    },
    /// `*` matches any run of characters (Step Functions' only wildcard).
    StringMatches {
        variable: String,
        pattern: String,
    },
    And(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    pub fn string_equals(variable: impl Into<String>, value: impl Into<String>) -> Condition {
        Condition::StringEquals {
            variable: variable.into(),
            value: value.into(),
        }
    }

    pub fn is_present(variable: impl Into<String>) -> Condition {
        Condition::IsPresent {
            variable: variable.into(),
            value: true,
        }
    }

    /// True when the field is a string in the RFC 3339 form Step Functions accepts. The
    /// variable must be present (guard it with [`Condition::is_present`] in an earlier rule).
    pub fn is_timestamp(variable: impl Into<String>) -> Condition {
        Condition::IsTimestamp {
            variable: variable.into(),
            value: true,
        }
    }

    /// True when the field is a string. The variable must be present (guard it with
    /// [`Condition::is_present`] in an earlier rule).
    pub fn is_string(variable: impl Into<String>) -> Condition {
        Condition::IsString {
            variable: variable.into(),
            value: true,
        }
    }

    /// True when the string matches `pattern` (`*` is the wildcard). A value that is not a
    /// string does not match.
    pub fn string_matches(variable: impl Into<String>, pattern: impl Into<String>) -> Condition {
        Condition::StringMatches {
            variable: variable.into(),
            pattern: pattern.into(),
        }
    }

    pub fn negate(condition: Condition) -> Condition {
        Condition::Not(Box::new(condition))
    }

    fn write_entries<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            Condition::StringEquals { variable, value } => {
                map.serialize_entry("Variable", variable)?;
                map.serialize_entry("StringEquals", value)
            }
            Condition::IsPresent { variable, value } => {
                map.serialize_entry("Variable", variable)?;
                map.serialize_entry("IsPresent", value)
            }
            Condition::IsTimestamp { variable, value } => {
                map.serialize_entry("Variable", variable)?;
                map.serialize_entry("IsTimestamp", value)
            }
            Condition::IsString { variable, value } => {
                map.serialize_entry("Variable", variable)?;
                map.serialize_entry("IsString", value)
            }
            Condition::StringMatches { variable, pattern } => {
                map.serialize_entry("Variable", variable)?;
                map.serialize_entry("StringMatches", pattern)
            }
            Condition::And(all) => map.serialize_entry("And", all),
            Condition::Not(inner) => map.serialize_entry("Not", inner),
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.write_entries(&mut map)?;
        map.end()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Wait {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub duration: WaitDuration,
    #[serde(flatten)]
    pub transition: Transition,
}

/// How long a Wait state waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum WaitDuration {
    Seconds(u32),
    SecondsPath(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pass {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "Parameters", skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(rename = "Result", skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(rename = "ResultPath", skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    #[serde(flatten)]
    pub transition: Transition,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Succeed {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fail {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(flatten)]
    pub error: FailField,
    #[serde(flatten)]
    pub cause: FailCause,
}

/// A Fail state's error: a constant or read from the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum FailField {
    Error(String),
    ErrorPath(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum FailCause {
    Cause(String),
    CausePath(String),
}

/// One thing wrong with a machine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AslError {
    #[error("state name {0:?} is used more than once")]
    DuplicateState(String),
    #[error("StartAt names {0:?}, which is not a state")]
    UnknownStartAt(String),
    #[error("state {state:?}: {field} names {target:?}, which is not a state")]
    DanglingTarget {
        state: String,
        field: &'static str,
        target: String,
    },
    #[error("state {0:?} cannot be reached from StartAt")]
    Unreachable(String),
    #[error("no terminal state (Succeed, Fail or End: true) can be reached")]
    NoTerminalState,
    #[error(
        "state {state:?}: {field}[{index}]: States.ALL must be alone in ErrorEquals and in the last entry"
    )]
    StatesAllNotAloneAndLast {
        state: String,
        field: &'static str,
        index: usize,
    },
    #[error("state {state:?}: {field}[{index}]: ErrorEquals is empty")]
    EmptyErrorEquals {
        state: String,
        field: &'static str,
        index: usize,
    },
    #[error(
        "state name {name:?} is {chars} characters long; at most {MAX_STATE_NAME_CHARS} are allowed"
    )]
    NameTooLong { name: String, chars: usize },
    #[error("state {0:?}: a Choice needs at least one rule")]
    EmptyChoice(String),
    #[error(
        "state {state:?}: HeartbeatSeconds {heartbeat} must be less than TimeoutSeconds {timeout}"
    )]
    HeartbeatNotBelowTimeout {
        state: String,
        heartbeat: u32,
        timeout: u32,
    },
}

impl StateMachine {
    /// Every problem found, in a stable order; empty when the machine is sound.
    pub fn validate(&self) -> Vec<AslError> {
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, _) in &self.states.0 {
            if !seen.insert(name.as_str()) {
                errors.push(AslError::DuplicateState(name.clone()));
            }
            let chars = name.chars().count();
            if chars > MAX_STATE_NAME_CHARS {
                errors.push(AslError::NameTooLong {
                    name: name.clone(),
                    chars,
                });
            }
        }
        if !seen.contains(self.start_at.as_str()) {
            errors.push(AslError::UnknownStartAt(self.start_at.clone()));
        }

        for (name, state) in &self.states.0 {
            for (field, target) in targets(state) {
                if !seen.contains(target) {
                    errors.push(AslError::DanglingTarget {
                        state: name.clone(),
                        field,
                        target: target.to_owned(),
                    });
                }
            }
            match state {
                State::Task(task) => {
                    let retry = task.retry.iter().map(|r| &r.error_equals);
                    check_error_lists(name, "Retry", retry, &mut errors);
                    let catch = task.catch.iter().map(|c| &c.error_equals);
                    check_error_lists(name, "Catch", catch, &mut errors);
                    if let (Some(heartbeat), Some(timeout)) =
                        (task.heartbeat_seconds, task.timeout_seconds)
                        && heartbeat >= timeout
                    {
                        errors.push(AslError::HeartbeatNotBelowTimeout {
                            state: name.clone(),
                            heartbeat,
                            timeout,
                        });
                    }
                }
                State::Choice(choice) if choice.choices.is_empty() => {
                    errors.push(AslError::EmptyChoice(name.clone()));
                }
                _ => {}
            }
        }

        // Reachability over every edge (Next, Default, choice rules, catchers).
        let by_name: BTreeMap<&str, &State> =
            self.states.0.iter().map(|(n, s)| (n.as_str(), s)).collect();
        let mut reached = BTreeSet::new();
        let mut queue = VecDeque::new();
        if by_name.contains_key(self.start_at.as_str()) {
            queue.push_back(self.start_at.as_str());
        }
        while let Some(name) = queue.pop_front() {
            if !reached.insert(name) {
                continue;
            }
            if let Some(state) = by_name.get(name) {
                for (_, target) in targets(state) {
                    if by_name.contains_key(target) && !reached.contains(target) {
                        queue.push_back(target);
                    }
                }
            }
        }
        let mut reported = BTreeSet::new();
        for (name, _) in &self.states.0 {
            if !reached.contains(name.as_str()) && reported.insert(name.as_str()) {
                errors.push(AslError::Unreachable(name.clone()));
            }
        }
        if !reached
            .iter()
            .any(|name| by_name.get(name).is_some_and(|s| is_terminal(s)))
        {
            errors.push(AslError::NoTerminalState);
        }
        errors
    }

    /// The definition as Step Functions takes it: pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain structs and `Value`s into a String cannot fail.
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }
}

fn is_terminal(state: &State) -> bool {
    match state {
        State::Succeed(_) | State::Fail(_) => true,
        State::Task(Task { transition, .. })
        | State::Wait(Wait { transition, .. })
        | State::Pass(Pass { transition, .. }) => *transition == Transition::End,
        State::Choice(_) => false,
    }
}

/// Every state name a state can move to, with the field that names it.
fn targets(state: &State) -> Vec<(&'static str, &str)> {
    fn transition<'a>(t: &'a Transition, out: &mut Vec<(&'static str, &'a str)>) {
        if let Transition::Next(next) = t {
            out.push(("Next", next.as_str()));
        }
    }
    let mut out = Vec::new();
    match state {
        State::Task(task) => {
            transition(&task.transition, &mut out);
            out.extend(task.catch.iter().map(|c| ("Catch.Next", c.next.as_str())));
        }
        State::Wait(wait) => transition(&wait.transition, &mut out),
        State::Pass(pass) => transition(&pass.transition, &mut out),
        State::Choice(choice) => {
            out.extend(
                choice
                    .choices
                    .iter()
                    .map(|r| ("Choices.Next", r.next.as_str())),
            );
            if let Some(default) = &choice.default {
                out.push(("Default", default.as_str()));
            }
        }
        State::Succeed(_) | State::Fail(_) => {}
    }
    out
}

fn check_error_lists<'a>(
    state: &str,
    field: &'static str,
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
    errors: &mut Vec<AslError>,
) {
    let count = lists.len();
    for (index, list) in lists.enumerate() {
        if list.is_empty() {
            errors.push(AslError::EmptyErrorEquals {
                state: state.to_owned(),
                field,
                index,
            });
        }
        let has_all = list.iter().any(|e| e == STATES_ALL);
        if has_all && (list.len() != 1 || index + 1 != count) {
            errors.push(AslError::StatesAllNotAloneAndLast {
                state: state.to_owned(),
                field,
                index,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(next: Transition) -> Task {
        Task {
            comment: None,
            resource: "arn:aws:states:us-east-1:000000000000:activity:a".into(),
            parameters: None,
            result_path: None,
            timeout_seconds: Some(60),
            heartbeat_seconds: Some(10),
            retry: vec![],
            catch: vec![],
            transition: next,
        }
    }

    fn succeed() -> Succeed {
        Succeed { comment: None }
    }

    /// Given a sound two-state machine, with `change` applied.
    fn machine(change: impl FnOnce(&mut StateMachine)) -> StateMachine {
        let mut states = States::default();
        states.push("A", task(Transition::next("Done")));
        states.push("Done", succeed());
        let mut m = StateMachine {
            comment: None,
            start_at: "A".into(),
            timeout_seconds: Some(100),
            states,
        };
        change(&mut m);
        m
    }

    fn task_mut<'a>(m: &'a mut StateMachine, name: &str) -> &'a mut Task {
        match m.states.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, State::Task(t))) => t,
            _ => panic!("no task {name}"),
        }
    }

    #[test]
    fn a_sound_machine_has_no_errors() {
        assert_eq!(machine(|_| {}).validate(), vec![]);
    }

    #[test]
    fn rejects_duplicate_state_names() {
        let m = machine(|m| m.states.push("Done", succeed()));
        assert_eq!(m.validate(), vec![AslError::DuplicateState("Done".into())]);
    }

    #[test]
    fn rejects_a_next_that_names_no_state() {
        let m = machine(|m| task_mut(m, "A").transition = Transition::next("Nowhere"));
        let errors = m.validate();
        assert!(errors.contains(&AslError::DanglingTarget {
            state: "A".into(),
            field: "Next",
            target: "Nowhere".into()
        }));
        assert!(errors.contains(&AslError::Unreachable("Done".into())));
    }

    #[test]
    fn rejects_a_dangling_catch_target() {
        let m = machine(|m| {
            task_mut(m, "A").catch = vec![Catcher {
                error_equals: vec![STATES_ALL.into()],
                result_path: None,
                next: "Gone".into(),
            }]
        });
        assert_eq!(
            m.validate(),
            vec![AslError::DanglingTarget {
                state: "A".into(),
                field: "Catch.Next",
                target: "Gone".into()
            }]
        );
    }

    #[test]
    fn rejects_a_dangling_choice_default_and_rule() {
        let m = machine(|m| {
            task_mut(m, "A").transition = Transition::next("C");
            m.states.push(
                "C",
                Choice {
                    comment: None,
                    choices: vec![ChoiceRule::new(Condition::is_present("$.x"), "Done")],
                    default: Some("Elsewhere".into()),
                },
            );
            m.states.push(
                "D",
                Choice {
                    comment: None,
                    choices: vec![ChoiceRule::new(Condition::is_present("$.x"), "Missing")],
                    default: None,
                },
            );
        });
        let errors = m.validate();
        assert!(errors.contains(&AslError::DanglingTarget {
            state: "C".into(),
            field: "Default",
            target: "Elsewhere".into()
        }));
        assert!(errors.contains(&AslError::DanglingTarget {
            state: "D".into(),
            field: "Choices.Next",
            target: "Missing".into()
        }));
    }

    #[test]
    fn rejects_an_unknown_start_at() {
        let m = machine(|m| m.start_at = "Z".into());
        let errors = m.validate();
        assert_eq!(errors[0], AslError::UnknownStartAt("Z".into()));
    }

    #[test]
    fn rejects_unreachable_states() {
        let m = machine(|m| m.states.push("Orphan", succeed()));
        assert_eq!(m.validate(), vec![AslError::Unreachable("Orphan".into())]);
    }

    #[test]
    fn a_state_reached_only_through_catch_is_reachable() {
        let m = machine(|m| {
            m.states.push(
                "Oops",
                Fail {
                    comment: None,
                    error: FailField::Error("E".into()),
                    cause: FailCause::Cause("c".into()),
                },
            );
            task_mut(m, "A").catch = vec![Catcher {
                error_equals: vec![STATES_ALL.into()],
                result_path: None,
                next: "Oops".into(),
            }];
        });
        assert_eq!(m.validate(), vec![]);
    }

    #[test]
    fn rejects_a_machine_with_no_terminal_state() {
        let m = machine(|m| {
            m.states.0.retain(|(n, _)| n != "Done");
            task_mut(m, "A").transition = Transition::next("W");
            m.states.push(
                "W",
                Wait {
                    comment: None,
                    duration: WaitDuration::Seconds(1),
                    transition: Transition::next("A"),
                },
            );
        });
        assert_eq!(m.validate(), vec![AslError::NoTerminalState]);
    }

    #[test]
    fn end_true_counts_as_terminal() {
        let m = machine(|m| {
            m.states.0.retain(|(n, _)| n != "Done");
            task_mut(m, "A").transition = Transition::End;
        });
        assert_eq!(m.validate(), vec![]);
    }

    #[test]
    fn rejects_states_all_not_alone() {
        let m = machine(|m| {
            task_mut(m, "A").retry = vec![Retrier {
                error_equals: vec!["X".into(), STATES_ALL.into()],
                interval_seconds: None,
                max_attempts: None,
                backoff_rate: None,
            }]
        });
        assert_eq!(
            m.validate(),
            vec![AslError::StatesAllNotAloneAndLast {
                state: "A".into(),
                field: "Retry",
                index: 0
            }]
        );
    }

    #[test]
    fn rejects_states_all_not_last() {
        let catcher = |e: &str| Catcher {
            error_equals: vec![e.into()],
            result_path: None,
            next: "Done".into(),
        };
        let m = machine(|m| task_mut(m, "A").catch = vec![catcher(STATES_ALL), catcher("X")]);
        assert_eq!(
            m.validate(),
            vec![AslError::StatesAllNotAloneAndLast {
                state: "A".into(),
                field: "Catch",
                index: 0
            }]
        );
    }

    #[test]
    fn rejects_an_empty_error_equals() {
        let m = machine(|m| {
            task_mut(m, "A").catch = vec![Catcher {
                error_equals: vec![],
                result_path: None,
                next: "Done".into(),
            }]
        });
        assert_eq!(
            m.validate(),
            vec![AslError::EmptyErrorEquals {
                state: "A".into(),
                field: "Catch",
                index: 0
            }]
        );
    }

    #[test]
    fn rejects_state_names_over_80_characters() {
        let long = "x".repeat(81);
        let m = machine(|m| {
            m.states.0[1].0 = long.clone();
            task_mut(m, "A").transition = Transition::next(long.clone());
        });
        assert_eq!(
            m.validate(),
            vec![AslError::NameTooLong {
                name: long,
                chars: 81
            }]
        );
        let just_fits = "y".repeat(80);
        let m = machine(|m| {
            m.states.0[1].0 = just_fits.clone();
            task_mut(m, "A").transition = Transition::next(just_fits.clone());
        });
        assert_eq!(m.validate(), vec![]);
    }

    #[test]
    fn rejects_a_choice_without_rules() {
        let m = machine(|m| {
            task_mut(m, "A").transition = Transition::next("C");
            m.states.push(
                "C",
                Choice {
                    comment: None,
                    choices: vec![],
                    default: Some("Done".into()),
                },
            );
        });
        assert_eq!(m.validate(), vec![AslError::EmptyChoice("C".into())]);
    }

    #[test]
    fn rejects_a_heartbeat_not_below_the_timeout() {
        let m = machine(|m| task_mut(m, "A").heartbeat_seconds = Some(60));
        assert_eq!(
            m.validate(),
            vec![AslError::HeartbeatNotBelowTimeout {
                state: "A".into(),
                heartbeat: 60,
                timeout: 60
            }]
        );
    }

    #[test]
    fn renders_keys_in_a_fixed_order_and_omits_empty_lists() {
        let m = machine(|m| {
            let t = task_mut(m, "A");
            t.comment = Some("c".into());
            t.parameters = Some(json!({"b": 1, "a.$": "$.a"}));
            t.result_path = Some("$.r".into());
        });
        let rendered = serde_json::to_string(&m).expect("render");
        assert_eq!(
            rendered,
            r#"{"StartAt":"A","TimeoutSeconds":100,"States":{"A":{"Type":"Task","Comment":"c","Resource":"arn:aws:states:us-east-1:000000000000:activity:a","Parameters":{"b":1,"a.$":"$.a"},"ResultPath":"$.r","TimeoutSeconds":60,"HeartbeatSeconds":10,"Next":"Done"},"Done":{"Type":"Succeed"}}}"#
        );
    }

    #[test]
    fn renders_choice_rules_wait_and_fail() {
        let choice = Choice {
            comment: None,
            choices: vec![ChoiceRule::new(
                Condition::And(vec![
                    Condition::negate(Condition::is_present("$.a")),
                    Condition::string_equals("$.b", "X"),
                    Condition::is_string("$.c"),
                ]),
                "N",
            )],
            default: Some("D".into()),
        };
        assert_eq!(
            serde_json::to_value(State::from(choice)).expect("render"),
            json!({"Type": "Choice", "Choices": [{"And": [
                {"Not": {"Variable": "$.a", "IsPresent": true}},
                {"Variable": "$.b", "StringEquals": "X"},
                {"Variable": "$.c", "IsString": true}], "Next": "N"}], "Default": "D"})
        );
        let wait = Wait {
            comment: None,
            duration: WaitDuration::SecondsPath("$.w".into()),
            transition: Transition::next("N"),
        };
        assert_eq!(
            serde_json::to_value(State::from(wait)).expect("render"),
            json!({"Type": "Wait", "SecondsPath": "$.w", "Next": "N"})
        );
        let fail = Fail {
            comment: None,
            error: FailField::ErrorPath("$.e.Error".into()),
            cause: FailCause::CausePath("$.e.Cause".into()),
        };
        assert_eq!(
            serde_json::to_value(State::from(fail)).expect("render"),
            json!({"Type": "Fail", "ErrorPath": "$.e.Error", "CausePath": "$.e.Cause"})
        );
    }
}
