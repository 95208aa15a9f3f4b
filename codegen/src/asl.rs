//! A typed model of the Amazon States Language (JSONPath flavour), just big enough for the
//! machines drs-codegen generates, and a [`StateMachine::validate`] that catches what the local
//! engines let through (a `Next` that names no state, unreachable states, ...).
//!
//! Rendering is deterministic: struct fields serialize in declaration order, states in the
//! order they were added, and empty lists are omitted, so generated files diff cleanly.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

mod parallel;
mod validate;

pub use parallel::{Branch, Parallel};

pub use validate::AslError;

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
    Parallel(Parallel),
}

macro_rules! into_state {
    ($($t:ident),*) => {$(
        impl From<$t> for State {
            fn from(s: $t) -> State { State::$t(s) }
        }
    )*};
}
into_state!(Task, Choice, Wait, Pass, Succeed, Fail, Parallel);

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
    /// What of the task's result is kept (a service integration's answer may be large).
    #[serde(rename = "ResultSelector", skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<Value>,
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
    NumericGreaterThanEquals {
        variable: String,
        value: u64,
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
            Condition::NumericGreaterThanEquals { variable, value } => {
                map.serialize_entry("Variable", variable)?;
                map.serialize_entry("NumericGreaterThanEquals", value)
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

impl StateMachine {
    /// The definition as Step Functions takes it: pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain structs and `Value`s into a String cannot fail.
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests;
