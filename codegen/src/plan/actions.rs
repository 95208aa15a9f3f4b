//! A wave's actions (`before:` and `after:`, or the plan's `defaults`): the file's form, their
//! validation, and the resolved [`Action`]s the generator compiles into Step Functions' own
//! service integrations (child machines, Lambda, SSM Automation, SNS).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::fields::{Scope, topic};
use crate::budget;
use crate::contract::states::ActionPhase;
use crate::contract::states::Way;
use crate::contract::{Mode, OnFailure};

/// The most actions in one `before` or `after` list.
pub const MAX_ACTIONS_PER_LIST: usize = 20;
/// A Lambda function runs at most 15 minutes.
pub const LAMBDA_MAX_SECONDS: u32 = 15 * 60;
/// How long an action may take when the plan does not say: 1 hour (a notification: 1 minute).
pub const DEFAULT_ACTION_TIMEOUT_SECONDS: u32 = 3600;
pub const DEFAULT_NOTIFY_TIMEOUT_SECONDS: u32 = 60;
/// The longest an action may take: 1 day.
pub const MAX_ACTION_TIMEOUT_SECONDS: u32 = 24 * 3600;
/// How often an SSM Automation run is looked at.
pub const SSM_POLL_SECONDS: u32 = 30;
/// The longest label an action's `name` may have (state names are shortened beyond that).
pub const MAX_ACTION_NAME_CHARS: usize = 40;

/// One action around a wave: exactly one kind (`stateMachine`, `lambda`, `ssmAutomation`,
/// `notify`), with an optional name, timeout, failure policy and modes.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ActionFile {
    /// A few words for the state's name: `Wave 2 app: before 1 (fail over database)`.
    #[serde(default)]
    pub name: Option<String>,
    /// A child state machine, run to its end (`states:startExecution.sync:2`).
    #[serde(default)]
    pub state_machine: Option<StateMachineAction>,
    /// A Lambda function, invoked and waited for.
    #[serde(default)]
    pub lambda: Option<LambdaAction>,
    /// An SSM Automation run, looked at every 30 s until it ends.
    #[serde(default)]
    pub ssm_automation: Option<SsmAction>,
    /// An SNS message.
    #[serde(default)]
    pub notify: Option<NotifyAction>,
    /// DRS's StartSourceNetworkRecovery (in-AWS sources: the VPC recovered as a
    /// CloudFormation stack), started and checked by the worker; `before:` only.
    #[serde(default)]
    pub recover_network: Option<network::RecoverNetworkAction>,
    /// How long the action may take (default 60; a notification 1; a Lambda at most 15).
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_minutes: Option<f64>,
    /// What a failed action does: stop the execution (default), continue, or ask an operator
    /// (retry the action, skip it, or stop; the wave's `decision` settings apply).
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// The modes the action runs in (default DRILL and RECOVERY: the way out). An action
    /// listing FAILBACK also runs on the way home, around the wave's failback launch.
    #[serde(default)]
    pub modes: Option<Vec<Mode>>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StateMachineAction {
    /// The child machine's ARN.
    pub arn: String,
    /// Its input (under `input`, beside the execution's context under `drsWaves`).
    #[serde(default)]
    pub input: Option<Value>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaAction {
    /// The function's name or ARN (a version or alias allowed).
    pub function: String,
    /// Its payload (under `payload`, beside the execution's context under `drsWaves`).
    #[serde(default)]
    pub payload: Option<Value>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SsmAction {
    /// The Automation document's name or ARN.
    pub document: String,
    /// The document's parameters: a string or a list of strings each.
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotifyAction {
    /// The SNS topic's ARN.
    pub topic: String,
    /// The message's text (the context goes in its message attributes).
    pub message: String,
}

/// What an action does.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    StateMachine {
        arn: String,
        input: Value,
    },
    Lambda {
        function: String,
        payload: Value,
    },
    SsmAutomation {
        document: String,
        parameters: BTreeMap<String, Vec<String>>,
    },
    Notify {
        topic: String,
        message: String,
    },
    /// DRS StartSourceNetworkRecovery of these source networks, run by the worker.
    RecoverNetwork {
        source_networks: Vec<String>,
    },
}

impl ActionKind {
    /// The plan's word for the kind.
    pub fn word(&self) -> &'static str {
        match self {
            ActionKind::StateMachine { .. } => "stateMachine",
            ActionKind::Lambda { .. } => "lambda",
            ActionKind::SsmAutomation { .. } => "ssmAutomation",
            ActionKind::Notify { .. } => "notify",
            ActionKind::RecoverNetwork { .. } => "recoverNetwork",
        }
    }
}

/// A validated action.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub phase: ActionPhase,
    /// 1-based, in its list.
    pub position: u32,
    pub name: Option<String>,
    pub kind: ActionKind,
    pub timeout_seconds: u32,
    /// Stop or Continue (ask is refused).
    pub on_failure: OnFailure,
    /// The modes the action runs in, each once (default DRILL and RECOVERY).
    pub modes: Vec<Mode>,
}

impl Action {
    /// Whether the action is one of the wave's actions on `way` (out: in a DRILL or a
    /// RECOVERY; home: in a FAILBACK).
    pub fn runs_on(&self, way: Way) -> bool {
        self.modes.iter().any(|m| way_of(*m) == way)
    }

    /// The one mode of the way's modes the action runs in, when it is not all of them: the
    /// action's state is then behind a Choice on the execution's mode. The way home has one
    /// mode only.
    pub fn only_mode(&self, way: Way) -> Option<Mode> {
        let on_way: Vec<Mode> = self
            .modes
            .iter()
            .copied()
            .filter(|m| way_of(*m) == way)
            .collect();
        match (way, on_way.as_slice()) {
            (Way::Out, [one]) => Some(*one),
            _ => None,
        }
    }
}

/// The way a mode takes the servers.
fn way_of(mode: Mode) -> Way {
    match mode {
        Mode::Drill | Mode::Recovery => Way::Out,
        Mode::Failback => Way::Home,
    }
}

/// `modes`: each at most once, none empty; a network is recovered on the way out only.
fn modes(scope: &mut Scope<'_>, prefix: &str, a: &ActionFile) -> Vec<Mode> {
    let Some(listed) = a.modes.as_deref() else {
        return vec![Mode::Drill, Mode::Recovery];
    };
    if listed.is_empty() {
        scope.report(
            format!("{prefix}modes"),
            "an empty list would never run the action: list DRILL, RECOVERY, FAILBACK or some of them, or leave modes out",
        );
    }
    let mut seen = Vec::new();
    for m in listed {
        if seen.contains(m) {
            scope.report(
                format!("{prefix}modes"),
                "list each of DRILL, RECOVERY and FAILBACK at most once",
            );
            return seen;
        }
        seen.push(*m);
    }
    if a.recover_network.is_some() && seen.contains(&Mode::Failback) {
        scope.report(
            format!("{prefix}modes"),
            "recoverNetwork recovers a source network into the recovery region: it has no FAILBACK",
        );
    }
    seen
}

/// A wave's actions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WaveActions {
    pub before: Vec<Action>,
    pub after: Vec<Action>,
}

impl WaveActions {
    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }

    pub fn all(&self) -> impl Iterator<Item = &Action> {
        self.before.iter().chain(&self.after)
    }
}

/// The wave's own lists, else the defaults' (a list replaces, never merges).
pub(super) fn resolve_actions(
    scope: &mut Scope<'_>,
    own: (Option<&Vec<ActionFile>>, Option<&Vec<ActionFile>>),
    defaults: (Option<&Vec<ActionFile>>, Option<&Vec<ActionFile>>),
) -> WaveActions {
    let list = |scope: &mut Scope<'_>,
                phase,
                own: Option<&Vec<ActionFile>>,
                def: Option<&Vec<ActionFile>>| match own {
        Some(list) => resolve_list(scope, "", phase, list),
        None => def.map_or_else(Vec::new, |l| resolve_list(scope, "defaults.", phase, l)),
    };
    WaveActions {
        before: list(scope, ActionPhase::Before, own.0, defaults.0),
        after: list(scope, ActionPhase::After, own.1, defaults.1),
    }
}

fn resolve_list(
    scope: &mut Scope<'_>,
    prefix: &str,
    phase: ActionPhase,
    list: &[ActionFile],
) -> Vec<Action> {
    let field = format!("{prefix}{}", phase.word());
    if list.len() > MAX_ACTIONS_PER_LIST {
        scope.report(
            field.clone(),
            format!(
                "{} actions: at most {MAX_ACTIONS_PER_LIST} may run before or after a wave",
                list.len()
            ),
        );
    }
    list.iter()
        .enumerate()
        .filter_map(|(k, a)| {
            let position = u32::try_from(k + 1).unwrap_or(u32::MAX);
            resolve_action(scope, &format!("{field}[{k}]."), phase, position, a)
        })
        .collect()
}

fn resolve_action(
    scope: &mut Scope<'_>,
    prefix: &str,
    phase: ActionPhase,
    position: u32,
    a: &ActionFile,
) -> Option<Action> {
    let before = scope.problems.len();
    let kinds = [
        a.state_machine.is_some(),
        a.lambda.is_some(),
        a.ssm_automation.is_some(),
        a.notify.is_some(),
        a.recover_network.is_some(),
    ];
    let count = kinds.iter().filter(|k| **k).count();
    if count != 1 {
        scope.report(
            prefix.trim_end_matches('.'),
            format!(
                "an action has exactly one kind (stateMachine, lambda, ssmAutomation, notify or recoverNetwork); this one has {count}"
            ),
        );
    }
    let name = a.name.as_ref().map(|n| n.trim().to_owned());
    if let Some(n) = &name
        && (n.is_empty()
            || n.chars().count() > MAX_ACTION_NAME_CHARS
            || n.chars().any(|c| c.is_control() || c == '(' || c == ')'))
    {
        scope.report(
            format!("{prefix}name"),
            format!("{n:?}: give 1 to {MAX_ACTION_NAME_CHARS} characters, without parentheses or control characters"),
        );
    }
    let kind = match &a.recover_network {
        Some(n) if count == 1 => network::resolve(scope, prefix, phase, n),
        _ => kind(scope, prefix, a),
    };
    let timeout_seconds = timeout(scope, prefix, a, kind.as_ref());
    let on_failure = a.on_failure.unwrap_or(OnFailure::Stop);
    let modes = modes(scope, prefix, a);
    if scope.problems.len() != before {
        return None;
    }
    Some(Action {
        phase,
        position,
        name,
        kind: kind?,
        timeout_seconds: timeout_seconds?,
        on_failure,
        modes,
    })
}

fn kind(scope: &mut Scope<'_>, prefix: &str, a: &ActionFile) -> Option<ActionKind> {
    if let Some(sm) = &a.state_machine {
        let arn_ok = arn_parts(&sm.arn, "states").is_some_and(|rest| {
            rest.strip_prefix("stateMachine:")
                .is_some_and(|n| is_resource_name(n, 80))
        });
        if !arn_ok {
            scope.report(
                format!("{prefix}stateMachine.arn"),
                format!("{:?} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)", sm.arn),
            );
        }
        let input = sm
            .input
            .clone()
            .unwrap_or(Value::Object(serde_json::Map::new()));
        no_path_keys(scope, &format!("{prefix}stateMachine.input"), &input);
        return arn_ok.then(|| ActionKind::StateMachine {
            arn: sm.arn.clone(),
            input,
        });
    }
    if let Some(l) = &a.lambda {
        let ok = is_function(&l.function);
        if !ok {
            scope.report(
                format!("{prefix}lambda.function"),
                format!("{:?} is not a Lambda function name or ARN (1 to 64 letters, digits, '-' or '_', an optional :version or :alias, or arn:aws:lambda:<region>:<account>:function:<name>)", l.function),
            );
        }
        let payload = l
            .payload
            .clone()
            .unwrap_or(Value::Object(serde_json::Map::new()));
        no_path_keys(scope, &format!("{prefix}lambda.payload"), &payload);
        return ok.then(|| ActionKind::Lambda {
            function: l.function.clone(),
            payload,
        });
    }
    if let Some(s) = &a.ssm_automation {
        let doc_ok = is_resource_name(&s.document, 128)
            || arn_parts(&s.document, "ssm").is_some_and(|r| {
                r.strip_prefix("automation-definition/")
                    .or_else(|| r.strip_prefix("document/"))
                    .is_some_and(|n| !n.is_empty())
            });
        if !doc_ok {
            scope.report(
                format!("{prefix}ssmAutomation.document"),
                format!("{:?} is not an SSM document name (3 to 128 letters, digits, '-', '_' or '.') or ARN", s.document),
            );
        }
        let mut parameters = BTreeMap::new();
        for (key, value) in &s.parameters {
            let values = match value {
                Value::String(v) => Some(vec![v.clone()]),
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                _ => None,
            };
            match values {
                Some(v) if !key.ends_with(".$") => {
                    parameters.insert(key.clone(), v);
                }
                _ => scope.report(
                    format!("{prefix}ssmAutomation.parameters.{key}"),
                    "give a string or a list of strings, under a name that does not end in '.$'",
                ),
            }
        }
        return doc_ok.then(|| ActionKind::SsmAutomation {
            document: s.document.clone(),
            parameters,
        });
    }
    if let Some(n) = &a.notify {
        let arn = topic(scope, format!("{prefix}notify.topic"), Some(&n.topic));
        if n.message.trim().is_empty() || n.message.len() > 100_000 {
            scope.report(
                format!("{prefix}notify.message"),
                "give a message of 1 to 100,000 bytes",
            );
            return None;
        }
        return arn.map(|topic| ActionKind::Notify {
            topic,
            message: n.message.clone(),
        });
    }
    None
}

fn timeout(
    scope: &mut Scope<'_>,
    prefix: &str,
    a: &ActionFile,
    kind: Option<&ActionKind>,
) -> Option<u32> {
    let field = format!("{prefix}timeoutMinutes");
    let default = match kind {
        Some(ActionKind::Notify { .. }) => DEFAULT_NOTIFY_TIMEOUT_SECONDS,
        Some(ActionKind::Lambda { .. }) => LAMBDA_MAX_SECONDS,
        _ => DEFAULT_ACTION_TIMEOUT_SECONDS,
    };
    let Some(m) = a.timeout_minutes else {
        return Some(default);
    };
    let secs = (m * 60.0).ceil();
    if !m.is_finite() || m <= 0.0 || secs < 1.0 {
        scope.report(
            field,
            format!("{m} must be a positive number of minutes (at least 1 s)"),
        );
        return None;
    }
    if secs > f64::from(MAX_ACTION_TIMEOUT_SECONDS) {
        scope.report(
            field,
            format!(
                "{m} minutes is longer than an action may take ({} minutes)",
                MAX_ACTION_TIMEOUT_SECONDS / 60
            ),
        );
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let secs = secs as u32;
    if matches!(kind, Some(ActionKind::Lambda { .. })) && secs > LAMBDA_MAX_SECONDS {
        scope.report(
            field,
            format!("{m} minutes: a Lambda function runs at most 15 minutes"),
        );
        return None;
    }
    if matches!(kind, Some(ActionKind::SsmAutomation { .. })) && secs < SSM_POLL_SECONDS {
        scope.report(field, format!("{m} minutes is shorter than one look at the SSM Automation run ({SSM_POLL_SECONDS} s)"));
        return None;
    }
    Some(secs)
}

/// `arn:<partition>:<service>:<region>:<account>:<rest>`: the rest, when the ARN has that form.
fn arn_parts<'a>(arn: &'a str, service: &str) -> Option<&'a str> {
    if arn.len() > budget::MAX_ARN_CHARS {
        return None;
    }
    let mut parts = arn.splitn(6, ':');
    let ok = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| p.starts_with("aws"))
        && parts.next() == Some(service)
        && parts.next().is_some_and(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && parts
            .next()
            .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
    if ok { parts.next() } else { None }
}

fn is_resource_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn is_function(f: &str) -> bool {
    let plain = |s: &str| {
        let (name, qualifier) = s.split_once(':').unwrap_or((s, ""));
        (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && (qualifier.is_empty() && !s.ends_with(':')
                || (1..=128).contains(&qualifier.len())
                    && qualifier
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$'))
    };
    match arn_parts(f, "lambda") {
        Some(rest) => rest.strip_prefix("function:").is_some_and(plain),
        None => !f.starts_with("arn:") && plain(f),
    }
}

/// A key ending in `.$` would be read by Step Functions as a path, not passed on.
fn no_path_keys(scope: &mut Scope<'_>, field: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k.ends_with(".$") {
                    scope.report(
                        format!("{field}.{k}"),
                        "a key ending in '.$' would be read by Step Functions as a path: rename it",
                    );
                }
                no_path_keys(scope, &format!("{field}.{k}"), v);
            }
        }
        Value::Array(items) => {
            for (k, v) in items.iter().enumerate() {
                no_path_keys(scope, &format!("{field}[{k}]"), v);
            }
        }
        _ => {}
    }
}

/// The longest one action may take: its timeout, an SSM run's or a network recovery's last
/// look, and a retry's backoff.
pub fn action_seconds(a: &Action) -> u64 {
    let looks = match a.kind {
        ActionKind::SsmAutomation { .. } => u64::from(SSM_POLL_SECONDS),
        ActionKind::RecoverNetwork { .. } => network::network_seconds_beyond_timeout(),
        _ => 0,
    };
    u64::from(a.timeout_seconds) + looks + budget::retry_backoff_total_seconds()
}

/// Worst-case history events of one action: its Choice on the mode, its task (scheduled,
/// started, submitted, succeeded or failed, entered and exited), a failure's Pass, and for SSM
/// Automation each round of looks (a wait, a poll task, a Choice and a count).
pub fn action_events(a: &Action) -> u64 {
    const TASK: u64 = 8;
    const ROUND: u64 = 4 + TASK;
    let mode = if a.only_mode(Way::Out).is_some() {
        2
    } else {
        0
    };
    let rounds = match a.kind {
        ActionKind::SsmAutomation { .. } => {
            u64::from(a.timeout_seconds.div_ceil(SSM_POLL_SECONDS)) * ROUND
        }
        ActionKind::RecoverNetwork { .. } => network::network_events(a.timeout_seconds),
        _ => 0,
    };
    mode + TASK * (1 + u64::from(budget::RETRY_MAX_ATTEMPTS)) + 2 + rounds
}

/// Whether an action of the list asks an operator on failure (`onFailure: ask`).
pub fn any_asks(list: Option<&[ActionFile]>) -> bool {
    list.is_some_and(|l| l.iter().any(|a| a.on_failure == Some(OnFailure::Ask)))
}

/// The seconds and events of every action of a wave. An action with `onFailure: ask` counts
/// twice (a failure and the operator's retry) and its decision's whole wait
/// (`decision_timeout_seconds`, the wave's): more retries than one run into the execution's
/// timeout, which the plan may raise (`executionTimeoutMinutes`).
pub fn wave_action_budget(actions: &WaveActions, decision_timeout_seconds: u32) -> (u64, u64) {
    /// The decision's task (as an action's), its Pass on a failure and its Choice.
    const DECISION_EVENTS: u64 = 12;
    actions.all().fold((0, 0), |(s, e), a| {
        let (seconds, events) = (action_seconds(a), action_events(a));
        if a.on_failure == OnFailure::Ask {
            (
                s + 2 * seconds + u64::from(decision_timeout_seconds),
                e + 2 * events + DECISION_EVENTS,
            )
        } else {
            (s + seconds, e + events)
        }
    })
}

pub mod network;

#[cfg(test)]
mod tests;
