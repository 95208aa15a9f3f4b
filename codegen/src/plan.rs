//! The recovery plan file (YAML or JSON), and its validation into the contract's
//! [`PlanSpec`] with every default applied.
//!
//! Parsing stops at the first syntax or type error (serde cannot go on), reported with its line
//! and column; validation then reports every problem it finds, each naming the wave and field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_path_to_error::Segment;

use crate::budget;
use crate::contract::{
    ApprovalGate, MAX_OUTPUT_BYTES, OnFailure, PlanSpec, PollingBounds, Targets, WaveSpec,
    WaveTarget,
};

/// Built-in defaults, used when neither the wave nor the plan's `defaults` say otherwise.
pub const DEFAULT_LAUNCH_TIMEOUT_SECONDS: u32 = 30 * 60;
pub const DEFAULT_POLLING: PollingBounds = PollingBounds {
    min_wait_seconds: 30,
    max_wait_seconds: 300,
    expected_launch_seconds: 600,
};
pub const DEFAULT_HEARTBEAT_SECONDS: u32 = 60;
pub use drs_waves_contract::operator::DEFAULT_GATE_HEARTBEAT_SECONDS;
/// A heartbeat longer than this would leave a dead worker's task unnoticed for too long.
pub const MAX_HEARTBEAT_SECONDS: u32 = 3600;
pub const MAX_NAME_CHARS: usize = 40;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;

/// A drs-waves recovery plan: which source servers to recover, in which waves and order, with
/// which limits and failure policy. `drs-codegen schema plan` prints this type's JSON Schema.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
// `waves` is defaulted only so that a missing list gets the same message as an empty one.
#[schemars(title = "drs-waves recovery plan", extend("required" = ["name", "waves"]))]
pub struct PlanFile {
    /// The plan's name: letters, digits, '-' and '_'. Part of resource names, and what a
    /// RECOVERY execution must name in `confirm`.
    #[schemars(pattern(r"^[A-Za-z0-9_-]{1,40}$"))]
    pub name: String,
    /// What the plan recovers, in words (shown in the console and the runbook).
    #[serde(default)]
    pub description: Option<String>,
    /// Terminate a drill's recovery instances when the execution ends (default false).
    #[serde(default)]
    pub terminate_drill_instances: Option<bool>,
    /// Override of the whole execution's time limit, in minutes (fractions allowed). By default
    /// it is derived from the waves' launch timeouts. Give this or `executionTimeoutSeconds`.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub execution_timeout_minutes: Option<f64>,
    /// Override of the whole execution's time limit, in seconds.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub execution_timeout_seconds: Option<i64>,
    /// Recovery time objective, in minutes (fractions allowed): from the execution's start to
    /// the last required server of the last wave LAUNCHED. The report shows the achieved RTO
    /// against it (PASS or FAIL); nothing stops an execution that passes it.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rto_minutes: Option<f64>,
    /// Recovery point objective, in minutes: the oldest acceptable snapshot a required server
    /// launches from. The report compares the worst one with it.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rpo_minutes: Option<f64>,
    /// Plan-wide defaults for every wave; each wave may override them.
    #[serde(default)]
    pub defaults: Option<WaveDefaults>,
    /// Settings of the worker's tasks.
    #[serde(default)]
    pub tasks: Option<TaskSettings>,
    /// The waves, recovered in this order.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub waves: Vec<WaveFile>,
}

/// Limits and failure policy shared by the waves that do not set their own.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaveDefaults {
    /// How long a wave may take to launch, in minutes (fractions allowed: 0.25 is 15 s).
    /// Give this or `launchTimeoutSeconds`. Built-in default: 30 minutes.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub launch_timeout_minutes: Option<f64>,
    /// How long a wave may take to launch, in seconds.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub launch_timeout_seconds: Option<i64>,
    /// What a failed wave does: stop the execution (default), continue with the next wave, or
    /// ask an operator (`drs-waves decide`: retry, skip or stop).
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// Bounds of the adaptive wait between checks of a launching wave.
    #[serde(default)]
    pub polling: Option<PollingFile>,
    /// An approval gate before every wave (a wave may turn it off with `before: false`).
    #[serde(default)]
    pub approval: Option<ApprovalFile>,
    /// With `onFailure: ask`: how long a decision waits and whom it tells.
    #[serde(default)]
    pub decision: Option<DecisionFile>,
    /// With `onFailure: ask`: how many launches of a wave an operator may ask for, the first
    /// included (default 1: no retry).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: Option<i64>,
}

/// An approval gate: the wave starts only when an operator approves (`drs-waves approve`);
/// `drs-waves stop` ends the execution, cleaned up as a cancel.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalFile {
    /// Hold the wave until an operator approves it. `false` turns off a gate of `defaults`.
    pub before: bool,
    /// How long the gate waits for an answer, in minutes (default 240, at most 7 days); then
    /// the execution fails naming the gate, and no later wave starts.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_minutes: Option<f64>,
    /// An SNS topic ARN told when the gate opens (what to run to answer it).
    #[serde(default)]
    #[schemars(pattern(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"))]
    pub notify: Option<String>,
}

/// A decision after a failed wave (`onFailure: ask`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DecisionFile {
    /// How long the decision waits for an answer, in minutes (default 240, at most 7 days);
    /// then the execution fails naming it.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_minutes: Option<f64>,
    /// An SNS topic ARN told when a decision waits.
    #[serde(default)]
    #[schemars(pattern(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"))]
    pub notify: Option<String>,
}

/// Polling bounds; each field may be given alone (the rest come from the defaults).
/// `minWaitSeconds` equal to `maxWaitSeconds` polls at a fixed interval.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PollingFile {
    /// Shortest wait between two checks, in seconds (built-in default 30).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub min_wait_seconds: Option<i64>,
    /// Longest wait between two checks, in seconds (built-in default 300).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_wait_seconds: Option<i64>,
    /// How long a launch is expected to take, in seconds: the adaptive wait is long before
    /// it and short near it (built-in default 600).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub expected_launch_seconds: Option<i64>,
}

/// Settings of every activity task of the plan's machine.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskSettings {
    /// HeartbeatSeconds of every task: a task whose worker stops heartbeating this long is
    /// retried (built-in default 60).
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub heartbeat_seconds: Option<i64>,
    /// HeartbeatSeconds of the approval gates and decisions (built-in default 300). Every
    /// worker heartbeats the gate tokens recorded in the history; a gate whose token was lost
    /// before it was recorded times out its heartbeat and opens again with a fresh token, so
    /// this is how long an operator may have to wait for a lost gate to come back.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub gate_heartbeat_seconds: Option<i64>,
}

/// One wave of the plan.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaveFile {
    /// The wave's name: letters, digits, '-' and '_'; unique in the plan. The console's state
    /// names are built from it.
    #[schemars(pattern(r"^[A-Za-z0-9_-]{1,40}$"))]
    pub name: String,
    /// What the wave recovers, in words.
    #[serde(default)]
    pub description: Option<String>,
    /// Which source servers the wave recovers.
    #[serde(default)]
    pub servers: Option<ServersFile>,
    /// Source servers whose failure does not fail the wave. Each must be one of `servers.ids`,
    /// or, when the wave selects by tags, is expected to carry them.
    #[serde(default)]
    #[schemars(inner(pattern(r"^s-[A-Za-z0-9]{17}$")))]
    pub optional: Vec<String>,
    /// Overrides `defaults.launchTimeoutMinutes`.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub launch_timeout_minutes: Option<f64>,
    /// Overrides `defaults.launchTimeoutSeconds`.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub launch_timeout_seconds: Option<i64>,
    /// Overrides `defaults.onFailure`.
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// Overrides `defaults.approval`.
    #[serde(default)]
    pub approval: Option<ApprovalFile>,
    /// Overrides `defaults.decision`.
    #[serde(default)]
    pub decision: Option<DecisionFile>,
    /// Overrides `defaults.maxAttempts`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: Option<i64>,
    /// This wave's recovery time objective, in minutes: from the execution's start (not the
    /// wave's) to the wave's last required server LAUNCHED. At most the plan's `rtoMinutes`
    /// and at least an earlier wave's (waves run in order).
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rto_minutes: Option<f64>,
    /// Overrides fields of `defaults.polling`.
    #[serde(default)]
    pub polling: Option<PollingFile>,
}

/// A wave's server selector: explicit IDs, tags, or both (the union).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServersFile {
    /// Source server IDs: `s-` followed by 17 letters or digits.
    #[serde(default)]
    #[schemars(inner(pattern(r"^s-[A-Za-z0-9]{17}$")))]
    pub ids: Vec<String>,
    /// Every source server that carries all of these tags, resolved when the execution runs
    /// (so servers added later are included).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A validated plan: the contract's [`PlanSpec`] and what only the generator and the runbook
/// need.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub spec: PlanSpec,
    pub description: Option<String>,
    /// One per wave, in order.
    pub wave_descriptions: Vec<Option<String>>,
    pub heartbeat_seconds: u32,
    /// HeartbeatSeconds of the gates and decisions.
    pub gate_heartbeat_seconds: u32,
    /// The machine's TimeoutSeconds.
    pub execution_timeout_seconds: u32,
    /// Whether the plan set the execution timeout (else it is derived from the waves).
    pub execution_timeout_from_plan: bool,
    /// The RTO and RPO targets (empty when the plan sets none).
    pub targets: Targets,
}

/// Which wave a problem is in (1-based, as the console names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaveRef {
    pub index: u32,
    pub name: String,
}

/// One thing wrong with a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub wave: Option<WaveRef>,
    /// The field's path inside the plan or the wave (`servers.ids[1]`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(w) = &self.wave {
            write!(f, "wave {} {:?}: ", w.index, w.name)?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a plan was not compiled.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {}{}{message}", location_text(*.location), if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Syntax {
        file: String,
        location: Option<(usize, usize)>,
        path: String,
        message: String,
    },
    #[error("{}", problems.iter().map(|p| format!("{file}: {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
    #[error("{file}: internal error, the generated state machine is invalid (a drs-codegen bug): {}", errors.join("; "))]
    Generator { file: String, errors: Vec<String> },
}

fn location_text(location: Option<(usize, usize)>) -> String {
    location
        .map(|(line, column)| format!("line {line}, column {column}: "))
        .unwrap_or_default()
}

impl PlanError {
    /// The CLI's exit status: 2 for a bad plan, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            PlanError::Syntax { .. } | PlanError::Invalid { .. } => 2,
            PlanError::Read { .. } | PlanError::Generator { .. } => 1,
        }
    }
}

/// Parses a plan's text. JSON when the file name ends in `.json`, YAML otherwise.
pub fn parse(file: &str, text: &str) -> Result<PlanFile, PlanError> {
    let syntax = |location, path: String, message: String| PlanError::Syntax {
        file: file.to_owned(),
        location,
        path,
        message,
    };
    if text.trim().is_empty() {
        return Err(syntax(None, String::new(), "the plan file is empty".into()));
    }
    if Path::new(file)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let mut de = serde_json::Deserializer::from_str(text);
        let plan: PlanFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            let location = (inner.line() > 0).then(|| (inner.line(), inner.column()));
            let message = clean_message(&inner.to_string(), &e.path().to_string());
            syntax(location, friendly_path(e.path(), &message), message)
        })?;
        de.end().map_err(|e| {
            syntax(
                Some((e.line(), e.column())),
                String::new(),
                clean_message(&e.to_string(), ""),
            )
        })?;
        Ok(plan)
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let location = e.inner().location().map(|l| (l.line(), l.column()));
            let message = clean_message(&e.inner().to_string(), &e.path().to_string());
            syntax(location, friendly_path(e.path(), &message), message)
        })
    }
}

/// `waves[1].servers` -> `wave 2: servers`, matching how validation names waves. An unknown
/// field's own name is dropped from the path: the message names it already.
fn friendly_path(path: &serde_path_to_error::Path, message: &str) -> String {
    let mut segments: Vec<&Segment> = path.iter().collect();
    if let Some(Segment::Map { key }) = segments.last()
        && message.contains(&format!("unknown field `{key}`"))
    {
        segments.pop();
    }
    let mut out = String::new();
    let mut rest = segments.as_slice();
    if let [Segment::Map { key }, Segment::Seq { index }, tail @ ..] = rest
        && key == "waves"
    {
        out = format!("wave {}", index + 1);
        rest = tail;
        if !rest.is_empty() {
            out.push_str(": ");
        }
    }
    let mut first = true;
    for segment in rest {
        match segment {
            Segment::Map { key } => {
                if !first {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => continue,
        }
        first = false;
    }
    if out == "." { String::new() } else { out }
}

/// Drops what [`PlanError::Syntax`] already says: a leading path and every "at line L column C".
fn clean_message(message: &str, path: &str) -> String {
    let mut m = message;
    if let Some((prefix, rest)) = m.split_once(": ")
        && !prefix.is_empty()
        && path.starts_with(prefix)
    {
        m = rest;
    }
    let mut out = String::with_capacity(m.len());
    let mut rest = m;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " at line ".len()..];
        let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let line_len = digits(after);
        let tail = &after[line_len..];
        match tail.strip_prefix(" column ") {
            Some(col) if line_len > 0 && digits(col) > 0 => rest = &col[digits(col)..],
            _ => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_name(s: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `s-` followed by 17 letters or digits.
pub fn is_source_server_id(s: &str) -> bool {
    s.len() == 19 && s.starts_with("s-") && s[2..].bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_tag_text(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

/// Collects problems for one scope (the plan, or one wave).
struct Scope<'a> {
    wave: Option<WaveRef>,
    problems: &'a mut Vec<Problem>,
}

impl Scope<'_> {
    fn report(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            wave: self.wave.clone(),
            field: field.into(),
            message: message.into(),
        });
    }
}

fn on_failure_name(o: OnFailure) -> &'static str {
    match o {
        OnFailure::Stop => "stop",
        OnFailure::Continue => "continue",
        OnFailure::Ask => "ask",
    }
}

/// A gate's timeout in whole seconds (default 4 hours, at most 7 days).
fn gate_timeout(scope: &mut Scope<'_>, prefix: &str, minutes: Option<f64>) -> Option<u32> {
    let Some(m) = minutes else {
        return Some(budget::DEFAULT_GATE_TIMEOUT_SECONDS);
    };
    let secs = duration_seconds(scope, prefix, "timeout", Some(m), None)?;
    if secs > budget::MAX_GATE_TIMEOUT_SECONDS {
        scope.report(
            format!("{prefix}timeoutMinutes"),
            format!(
                "{} minutes is more than 7 days: a gate that long is a plan nobody is watching",
                minutes_text(secs)
            ),
        );
        return None;
    }
    Some(secs)
}

/// An SNS topic ARN, or a problem naming the field.
fn topic(scope: &mut Scope<'_>, field: String, arn: Option<&String>) -> Option<String> {
    let arn = arn?;
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && parts[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        scope.report(
            field,
            format!("{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"),
        );
        return None;
    }
    Some(arn.clone())
}

/// The gate of an `approval` block, none when `before` is false.
fn approval_gate(scope: &mut Scope<'_>, prefix: &str, a: &ApprovalFile) -> Option<ApprovalGate> {
    let timeout = gate_timeout(scope, prefix, a.timeout_minutes);
    let notify = topic(scope, format!("{prefix}notify"), a.notify.as_ref());
    if !a.before {
        return None;
    }
    Some(ApprovalGate {
        timeout_seconds: timeout?,
        notify,
    })
}

/// A decision's timeout and topic.
fn decision_settings(
    scope: &mut Scope<'_>,
    prefix: &str,
    d: &DecisionFile,
) -> (u32, Option<String>) {
    let timeout = gate_timeout(scope, prefix, d.timeout_minutes)
        .unwrap_or(budget::DEFAULT_GATE_TIMEOUT_SECONDS);
    (
        timeout,
        topic(scope, format!("{prefix}notify"), d.notify.as_ref()),
    )
}

fn attempts(scope: &mut Scope<'_>, field: &str, n: i64) -> u32 {
    if !(1..=i64::from(budget::MAX_ATTEMPTS)).contains(&n) {
        scope.report(
            field,
            format!(
                "{n} must be between 1 and {} launches",
                budget::MAX_ATTEMPTS
            ),
        );
        return 1;
    }
    u32::try_from(n).unwrap_or(1)
}

/// Converts a minutes-or-seconds pair into whole seconds, reporting what is wrong with it.
fn duration_seconds(
    scope: &mut Scope<'_>,
    prefix: &str,
    what: &str,
    minutes: Option<f64>,
    seconds: Option<i64>,
) -> Option<u32> {
    let (m_field, s_field) = (
        format!("{prefix}{what}Minutes"),
        format!("{prefix}{what}Seconds"),
    );
    match (minutes, seconds) {
        (Some(_), Some(_)) => {
            scope.report(
                format!("{m_field}, {s_field}"),
                "give the limit in minutes or in seconds, not both",
            );
            None
        }
        (Some(m), None) => {
            let secs = m * 60.0;
            if !m.is_finite() || m <= 0.0 {
                scope.report(m_field, format!("{m} must be a positive number of minutes"));
                None
            } else if secs > budget::MAX_EXECUTION_SECONDS as f64 {
                scope.report(
                    m_field,
                    format!(
                        "{m} minutes is longer than a Step Functions execution may run (1 year)"
                    ),
                );
                None
            } else if (secs - secs.round()).abs() > 1e-6 || secs.round() < 1.0 {
                scope.report(
                    m_field,
                    format!(
                        "{m} minutes is {secs} seconds; use a whole number of seconds{}",
                        // Targets and gate timeouts have no `...Seconds` field to point to.
                        if what.starts_with("rt") || what.starts_with("rp") || what == "timeout" {
                            String::new()
                        } else {
                            format!(" ({s_field})")
                        }
                    ),
                );
                None
            } else {
                Some(secs.round() as u32)
            }
        }
        (None, Some(s)) => positive_seconds(scope, &s_field, s, budget::MAX_EXECUTION_SECONDS),
        (None, None) => None,
    }
}

/// A heartbeat from `tasks`: its default when absent, checked (and the default after a
/// reported problem) when given.
fn heartbeat_setting(scope: &mut Scope<'_>, field: &str, value: Option<i64>, default: u32) -> u32 {
    value
        .and_then(|h| positive_seconds(scope, field, h, u64::from(MAX_HEARTBEAT_SECONDS)))
        .unwrap_or(default)
}

fn positive_seconds(scope: &mut Scope<'_>, field: &str, value: i64, max: u64) -> Option<u32> {
    if value <= 0 {
        scope.report(
            field,
            format!("{value} must be a positive number of seconds"),
        );
        None
    } else if value as u64 > max {
        scope.report(field, format!("{value} is too long: at most {max} seconds"));
        None
    } else {
        u32::try_from(value).ok()
    }
}

/// The given polling fields, each checked on its own.
#[derive(Clone, Copy, Default)]
struct PollingParts {
    min: Option<u32>,
    max: Option<u32>,
    expected: Option<u32>,
    /// Whether any field was given but invalid (so the combination is not checked again).
    broken: bool,
}

fn polling_parts(
    scope: &mut Scope<'_>,
    prefix: &str,
    polling: Option<&PollingFile>,
) -> PollingParts {
    let Some(p) = polling else {
        return PollingParts::default();
    };
    let mut parts = PollingParts::default();
    let max = budget::MAX_EXECUTION_SECONDS;
    let mut field = |name: &str, value: Option<i64>, parts: &mut PollingParts| {
        value.and_then(|v| {
            let r = positive_seconds(scope, &format!("{prefix}polling.{name}"), v, max);
            parts.broken |= r.is_none();
            r
        })
    };
    parts.min = field("minWaitSeconds", p.min_wait_seconds, &mut parts);
    parts.max = field("maxWaitSeconds", p.max_wait_seconds, &mut parts);
    parts.expected = field(
        "expectedLaunchSeconds",
        p.expected_launch_seconds,
        &mut parts,
    );
    parts
}

/// Checks a resolved combination of limits; `prefix` names where they were set.
fn check_limits(scope: &mut Scope<'_>, prefix: &str, polling: &PollingBounds, launch_timeout: u32) {
    if polling.min_wait_seconds > polling.max_wait_seconds {
        scope.report(
            format!("{prefix}polling"),
            format!(
                "minWaitSeconds {} is more than maxWaitSeconds {}: the shortest wait must not exceed the longest",
                polling.min_wait_seconds, polling.max_wait_seconds
            ),
        );
    }
    if polling.expected_launch_seconds > launch_timeout {
        scope.report(
            format!("{prefix}polling.expectedLaunchSeconds"),
            format!(
                "{} is more than the launch timeout of {launch_timeout} s: the wave would time out before its launch is expected to finish",
                polling.expected_launch_seconds
            ),
        );
    }
}

static NO_SERVERS: ServersFile = ServersFile {
    ids: Vec::new(),
    tags: BTreeMap::new(),
};

/// Validates a parsed plan; every problem is reported at once.
pub fn resolve(file: &str, raw: &PlanFile) -> Result<Plan, PlanError> {
    let mut problems = Vec::new();
    let mut plan_scope = Scope {
        wave: None,
        problems: &mut problems,
    };

    if !is_name(&raw.name) {
        plan_scope.report(
            "name",
            format!(
                "{:?} is not a valid plan name: use 1 to {MAX_NAME_CHARS} letters, digits, '-' or '_' (it becomes part of resource names)",
                raw.name
            ),
        );
    }

    let tasks = raw.tasks.clone().unwrap_or_default();
    let heartbeat_seconds = heartbeat_setting(
        &mut plan_scope,
        "tasks.heartbeatSeconds",
        tasks.heartbeat_seconds,
        DEFAULT_HEARTBEAT_SECONDS,
    );
    let gate_heartbeat_seconds = heartbeat_setting(
        &mut plan_scope,
        "tasks.gateHeartbeatSeconds",
        tasks.gate_heartbeat_seconds,
        DEFAULT_GATE_HEARTBEAT_SECONDS,
    );

    // Plan-wide defaults, resolved once so that a bad default is reported once, not per wave.
    let defaults = raw.defaults.clone().unwrap_or_default();
    let default_timeout = duration_seconds(
        &mut plan_scope,
        "defaults.",
        "launchTimeout",
        defaults.launch_timeout_minutes,
        defaults.launch_timeout_seconds,
    );
    let default_polling_parts =
        polling_parts(&mut plan_scope, "defaults.", defaults.polling.as_ref());
    let default_polling = PollingBounds {
        min_wait_seconds: default_polling_parts
            .min
            .unwrap_or(DEFAULT_POLLING.min_wait_seconds),
        max_wait_seconds: default_polling_parts
            .max
            .unwrap_or(DEFAULT_POLLING.max_wait_seconds),
        expected_launch_seconds: default_polling_parts
            .expected
            .unwrap_or(DEFAULT_POLLING.expected_launch_seconds),
    };
    let default_timeout_ok = defaults.launch_timeout_minutes.is_none()
        && defaults.launch_timeout_seconds.is_none()
        || default_timeout.is_some();
    let default_timeout = default_timeout.unwrap_or(DEFAULT_LAUNCH_TIMEOUT_SECONDS);
    if !default_polling_parts.broken && default_timeout_ok {
        check_limits(
            &mut plan_scope,
            "defaults.",
            &default_polling,
            default_timeout,
        );
    }
    let default_on_failure = defaults.on_failure.unwrap_or_default();
    let default_approval = defaults
        .approval
        .as_ref()
        .and_then(|a| approval_gate(&mut plan_scope, "defaults.approval.", a));
    let default_decision = defaults
        .decision
        .as_ref()
        .map(|d| decision_settings(&mut plan_scope, "defaults.decision.", d));
    let default_max_attempts = defaults
        .max_attempts
        .map(|n| attempts(&mut plan_scope, "defaults.maxAttempts", n));
    let plan_rto = duration_seconds(&mut plan_scope, "", "rto", raw.rto_minutes, None);
    let plan_rpo = duration_seconds(&mut plan_scope, "", "rpo", raw.rpo_minutes, None);
    let mut wave_targets: Vec<WaveTarget> = Vec::new();

    if raw.waves.is_empty() {
        plan_scope.report(
            "waves",
            "the plan has no waves: add at least one wave with servers",
        );
    }

    let mut waves = Vec::new();
    let mut wave_ok = true;
    let mut first_wave_of_name: BTreeMap<&str, u32> = BTreeMap::new();
    // Server ID -> (wave index, wave name) of the first wave that lists it.
    let mut owner: BTreeMap<&str, (u32, &str)> = BTreeMap::new();
    for (i, w) in raw.waves.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let before = problems.len();
        let mut scope = Scope {
            wave: Some(WaveRef {
                index,
                name: w.name.clone(),
            }),
            problems: &mut problems,
        };

        if !is_name(&w.name) {
            scope.report(
                "name",
                format!(
                    "{:?} is not a valid wave name: use 1 to {MAX_NAME_CHARS} letters, digits, '-' or '_'",
                    w.name
                ),
            );
        } else if let Some(first) = first_wave_of_name.get(w.name.as_str()) {
            scope.report(
                "name",
                format!(
                    "{:?} is also the name of wave {first}: wave names must be unique",
                    w.name
                ),
            );
        } else {
            first_wave_of_name.insert(&w.name, index);
        }

        let servers = w.servers.as_ref().unwrap_or(&NO_SERVERS);
        if servers.ids.is_empty() && servers.tags.is_empty() {
            scope.report(
                "servers",
                "the wave selects no servers: give servers.ids (source server IDs) and/or servers.tags",
            );
        }
        let mut in_wave = BTreeSet::new();
        for (k, id) in servers.ids.iter().enumerate() {
            let field = format!("servers.ids[{k}]");
            if !is_source_server_id(id) {
                scope.report(
                    field,
                    format!(
                        "{id:?} is not a source server ID (s- followed by 17 letters or digits)"
                    ),
                );
            } else if !in_wave.insert(id.as_str()) {
                scope.report(field, format!("{id:?} is listed twice in this wave"));
            } else if let Some((other, other_name)) = owner.get(id.as_str()) {
                scope.report(
                    field,
                    format!("{id:?} is already in wave {other} {other_name:?}: a server may be in one wave only"),
                );
            } else {
                owner.insert(id, (index, &w.name));
            }
        }
        for (key, value) in &servers.tags {
            let field = format!("servers.tags.{key}");
            if key.is_empty() || key.chars().count() > MAX_TAG_KEY_CHARS || !is_tag_text(key) {
                scope.report(
                    field,
                    format!(
                        "{key:?} is not a valid tag key: 1 to {MAX_TAG_KEY_CHARS} letters, digits, spaces or _ . : / = + - @"
                    ),
                );
            } else if key.to_ascii_lowercase().starts_with("aws:") {
                scope.report(
                    field,
                    format!("{key:?}: tag keys starting with aws: are reserved by AWS"),
                );
            } else if value.chars().count() > MAX_TAG_VALUE_CHARS || !is_tag_text(value) {
                scope.report(
                    field,
                    format!(
                        "{value:?} is not a valid tag value: at most {MAX_TAG_VALUE_CHARS} letters, digits, spaces or _ . : / = + - @"
                    ),
                );
            }
        }
        let mut optional_seen = BTreeSet::new();
        for (k, id) in w.optional.iter().enumerate() {
            let field = format!("optional[{k}]");
            if !is_source_server_id(id) {
                scope.report(
                    field,
                    format!(
                        "{id:?} is not a source server ID (s- followed by 17 letters or digits)"
                    ),
                );
            } else if !optional_seen.insert(id.as_str()) {
                scope.report(field, format!("{id:?} is listed twice in optional"));
            } else if in_wave.contains(id.as_str()) {
                // Selected by ID in this wave: fine.
            } else if let Some((other, other_name)) = owner.get(id.as_str()) {
                scope.report(
                    field,
                    format!("{id:?} is in wave {other} {other_name:?}: a wave can only make its own servers optional"),
                );
            } else if servers.tags.is_empty() {
                scope.report(
                    field,
                    format!("{id:?} is not selected by this wave: list it in servers.ids (or select it by tags)"),
                );
            } else {
                // Expected to carry the wave's tags; preflight checks it at run time. Claim it
                // so that no other wave lists it.
                owner.insert(id, (index, &w.name));
            }
        }

        let timeout = duration_seconds(
            &mut scope,
            "",
            "launchTimeout",
            w.launch_timeout_minutes,
            w.launch_timeout_seconds,
        );
        let timeout_given =
            w.launch_timeout_minutes.is_some() || w.launch_timeout_seconds.is_some();
        let parts = polling_parts(&mut scope, "", w.polling.as_ref());
        let polling = PollingBounds {
            min_wait_seconds: parts.min.unwrap_or(default_polling.min_wait_seconds),
            max_wait_seconds: parts.max.unwrap_or(default_polling.max_wait_seconds),
            expected_launch_seconds: parts
                .expected
                .unwrap_or(default_polling.expected_launch_seconds),
        };
        let launch_timeout_seconds = timeout.unwrap_or(default_timeout);
        let overrides = timeout_given || w.polling.is_some();
        if overrides && !parts.broken && (timeout.is_some() || !timeout_given) && default_timeout_ok
        {
            check_limits(&mut scope, "", &polling, launch_timeout_seconds);
        }

        if let Some(rto) = duration_seconds(&mut scope, "", "rto", w.rto_minutes, None) {
            if let Some(plan) = plan_rto.filter(|p| rto > *p) {
                scope.report(
                    "rtoMinutes",
                    format!(
                        "{} minutes is more than the plan's rtoMinutes ({}): a wave's target counts from the execution's start, so it cannot be later than the whole plan's",
                        minutes_text(rto),
                        minutes_text(plan)
                    ),
                );
            } else if let Some(earlier) = wave_targets.iter().find(|t| t.rto_seconds > rto) {
                scope.report(
                    "rtoMinutes",
                    format!(
                        "{} minutes is less than wave {} {:?}'s rtoMinutes ({}): waves run in order, so a later wave cannot be recovered sooner",
                        minutes_text(rto),
                        earlier.index,
                        earlier.name,
                        minutes_text(earlier.rto_seconds)
                    ),
                );
            } else {
                wave_targets.push(WaveTarget {
                    index,
                    name: w.name.clone(),
                    rto_seconds: rto,
                });
            }
        }

        let on_failure = w.on_failure.unwrap_or(default_on_failure);
        let approval = match &w.approval {
            Some(a) => approval_gate(&mut scope, "approval.", a),
            None => default_approval.clone(),
        };
        let own_decision = w
            .decision
            .as_ref()
            .map(|d| decision_settings(&mut scope, "decision.", d));
        let own_attempts = w
            .max_attempts
            .map(|n| attempts(&mut scope, "maxAttempts", n));
        if on_failure != OnFailure::Ask {
            if let Some(n) = own_attempts.filter(|n| *n > 1) {
                scope.report(
                    "maxAttempts",
                    format!("{n} launches need an operator to ask for them: set onFailure: ask (it is {})", on_failure_name(on_failure)),
                );
            }
            if w.decision.is_some() {
                scope.report(
                    "decision",
                    format!(
                        "a decision is asked only with onFailure: ask (it is {})",
                        on_failure_name(on_failure)
                    ),
                );
            }
        }
        let (decision_timeout_seconds, decision_notify) = match on_failure {
            OnFailure::Ask => own_decision
                .or_else(|| default_decision.clone())
                .unwrap_or((budget::DEFAULT_GATE_TIMEOUT_SECONDS, None)),
            _ => (budget::DEFAULT_GATE_TIMEOUT_SECONDS, None),
        };
        let max_attempts = match on_failure {
            OnFailure::Ask => own_attempts.or(default_max_attempts).unwrap_or(1),
            _ => 1,
        };

        wave_ok &= problems.len() == before;
        waves.push(WaveSpec {
            index,
            name: w.name.clone(),
            server_ids: servers.ids.clone(),
            tags: servers.tags.clone(),
            optional: w.optional.clone(),
            launch_timeout_seconds,
            on_failure,
            polling,
            approval,
            max_attempts,
            decision_timeout_seconds: (on_failure == OnFailure::Ask)
                .then_some(decision_timeout_seconds),
            decision_notify,
        });
    }

    let mut plan_scope = Scope {
        wave: None,
        problems: &mut problems,
    };
    let timeout_override = duration_seconds(
        &mut plan_scope,
        "",
        "executionTimeout",
        raw.execution_timeout_minutes,
        raw.execution_timeout_seconds,
    );
    let mut execution_timeout_seconds = 0;
    if wave_ok && plan_scope.problems.is_empty() {
        let launch_total: u64 = waves
            .iter()
            .map(|w| u64::from(w.launch_timeout_seconds))
            .sum();
        let derived = budget::derived_execution_timeout_seconds(&waves, heartbeat_seconds);
        if let Some(over) = timeout_override {
            if u64::from(over) < launch_total {
                let field = if raw.execution_timeout_minutes.is_some() {
                    "executionTimeoutMinutes"
                } else {
                    "executionTimeoutSeconds"
                };
                plan_scope.report(
                    field,
                    format!(
                        "{over} s is less than the waves' launch timeouts together ({launch_total} s): the execution would time out before its waves could"
                    ),
                );
            }
            execution_timeout_seconds = over;
        } else if derived > budget::MAX_EXECUTION_SECONDS {
            plan_scope.report(
                "waves",
                format!(
                    "the waves' launch timeouts add up to {launch_total} s, longer than a Step Functions execution may run (1 year)"
                ),
            );
        } else {
            // Round up to whole minutes so the number reads well in the console.
            execution_timeout_seconds =
                u32::try_from(derived.div_ceil(60) * 60).unwrap_or(u32::MAX);
        }

        let events = budget::worst_case_history_events(&waves);
        if events > budget::HISTORY_EVENT_LIMIT {
            let mut heavy: Vec<&WaveSpec> = waves.iter().collect();
            heavy.sort_by_key(|w| std::cmp::Reverse(budget::wave_history_events(w)));
            let worst: Vec<String> = heavy
                .iter()
                .take(3)
                .map(|w| {
                    format!(
                        "wave {} {:?} may check {} times ({} s launch timeout / {} s minWaitSeconds)",
                        w.index,
                        w.name,
                        budget::max_checks(w),
                        w.launch_timeout_seconds,
                        w.polling.min_wait_seconds
                    )
                })
                .collect();
            plan_scope.report(
                "waves",
                format!(
                    "in the worst case an execution would record about {events} history events, over Step Functions' limit of {} per execution \
                     (each check of a launching wave costs about {} events: {}). Raise polling.minWaitSeconds, shorten launch timeouts, or split the plan",
                    budget::HISTORY_EVENT_LIMIT,
                    budget::EVENTS_PER_POLL_ROUND,
                    worst.join("; ")
                ),
            );
        }
    }

    let spec = PlanSpec {
        name: raw.name.clone(),
        terminate_drill_instances: raw.terminate_drill_instances.unwrap_or(false),
        waves,
    };
    if problems.is_empty() {
        // The preflight task gets the whole plan as its input; Step Functions caps a state's
        // input (and so the plan's explicit server lists).
        let size = serde_json::to_string(&spec).map(|s| s.len()).unwrap_or(0)
            + PREFLIGHT_INPUT_OVERHEAD_BYTES;
        if size > MAX_OUTPUT_BYTES {
            problems.push(Problem {
                wave: None,
                field: "waves".into(),
                message: format!(
                    "the plan lists too many servers: the preflight task's input would be about {size} bytes, over Step Functions' \
                     limit of {MAX_OUTPUT_BYTES} bytes for a state's input. Select servers by tags instead of listing their IDs, or split the plan"
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Err(PlanError::Invalid {
            file: file.to_owned(),
            problems,
        });
    }
    Ok(Plan {
        spec,
        description: raw.description.clone(),
        wave_descriptions: raw.waves.iter().map(|w| w.description.clone()).collect(),
        heartbeat_seconds,
        gate_heartbeat_seconds,
        execution_timeout_seconds,
        execution_timeout_from_plan: timeout_override.is_some(),
        targets: Targets {
            rto_seconds: plan_rto,
            rpo_seconds: plan_rpo,
            waves: wave_targets,
        },
    })
}

/// Seconds as minutes for a message: `2`, `0.5`.
fn minutes_text(seconds: u32) -> String {
    let m = f64::from(seconds) / 60.0;
    let text = format!("{m:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Room for the execution reference, the execution input and the keys around the plan.
const PREFLIGHT_INPUT_OVERHEAD_BYTES: usize = 2048;

/// Parses and validates a plan's text.
pub fn load_str(file: &str, text: &str) -> Result<Plan, PlanError> {
    resolve(file, &parse(file, text)?)
}

/// Reads, parses and validates a plan file.
pub fn load_file(path: &Path) -> Result<Plan, PlanError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        file: file.clone(),
        source,
    })?;
    load_str(&file, &text)
}
