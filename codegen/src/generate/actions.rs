//! The states of a wave's actions (`before:` and `after:`): Step Functions' own service
//! integrations, not the worker. A wave's before-actions run in front of its entry (its
//! approval gate or its start); its after-actions run once it has succeeded, before the
//! generator's `after` (a wave that failed with `onFailure: continue` or was skipped runs no
//! after-action). Each action's result goes to `$.action` (kept small by a ResultSelector);
//! a failed action either goes on (`onFailure: continue`) or is named in `$.error` and handed
//! to the generator's failure target (`Record failure`, or inside a Parallel state's branch the
//! branch's own failure).

use serde_json::{Map, Value, json};

use super::wave::OperatorGate;
use super::{Generator, names};
use crate::asl::{
    Catcher, Choice, ChoiceRule, Condition, Pass, Retrier, STATES_ALL, States, Task, Transition,
    Wait, WaitDuration,
};
use crate::budget;
use crate::contract::states::{ACTION_FAILED, ActionPhase, ActionStep, Way};
use crate::contract::{GateKind, OnFailure, WaveSpec, decisions, paths};
use crate::plan::actions::{Action, ActionKind, SSM_POLL_SECONDS};

/// Where an action's (selected) result goes: one slot, each action overwrites it.
pub const ACTION_RESULT: &str = "$.action";
pub const START_EXECUTION_SYNC: &str = "arn:aws:states:::states:startExecution.sync:2";
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
pub const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";
pub const SSM_START: &str = "arn:aws:states:::aws-sdk:ssm:startAutomationExecution";
pub const SSM_GET: &str = "arn:aws:states:::aws-sdk:ssm:getAutomationExecution";
/// SSM Automation's statuses that end a run badly.
pub const SSM_FAILED_STATUSES: [&str; 4] =
    ["Failed", "TimedOut", "Cancelled", "CompletedWithFailure"];
/// Each SSM call's own limit.
const SSM_CALL_TIMEOUT_SECONDS: u32 = 60;
const LAMBDA_TRANSIENT: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

impl Generator<'_> {
    /// The wave's `phase` actions that run on the generator's way (see [`Action::runs_on`]).
    fn actions_of(&self, wave: &WaveSpec, phase: ActionPhase) -> Vec<&Action> {
        let k = usize::try_from(wave.index.saturating_sub(1)).unwrap_or(usize::MAX);
        let list = self.plan.actions.get(k).map_or(&[][..], |a| match phase {
            ActionPhase::Before => a.before.as_slice(),
            ActionPhase::After => a.after.as_slice(),
        });
        list.iter().filter(|a| a.runs_on(self.way)).collect()
    }

    /// The first state of the wave's `phase` actions, or `next` when it has none.
    pub(super) fn actions_entry(&self, wave: &WaveSpec, phase: ActionPhase, next: &str) -> String {
        self.actions_of(wave, phase)
            .first()
            .map_or_else(|| next.to_owned(), |a| first_state(self.way, wave, a))
    }

    /// The states of the wave's `phase` actions, in order, the last going on to `next`.
    pub(super) fn action_chain(
        &self,
        states: &mut States,
        wave: &WaveSpec,
        phase: ActionPhase,
        next: &str,
    ) {
        let actions = self.actions_of(wave, phase);
        for (k, a) in actions.iter().enumerate() {
            let then = actions
                .get(k + 1)
                .map_or_else(|| next.to_owned(), |b| first_state(self.way, wave, b));
            self.action(states, wave, a, &then);
        }
    }

    fn action(&self, states: &mut States, wave: &WaveSpec, a: &Action, next: &str) {
        let name = |step| state_name(self.way, wave, a, step);
        let run = name(ActionStep::Run);
        if let Some(mode) = a.only_mode(self.way) {
            states.push(
                name(ActionStep::Mode),
                Choice {
                    comment: Some(format!(
                        "{run:?} runs only in a {} execution.",
                        mode.as_str()
                    )),
                    choices: vec![ChoiceRule::new(
                        Condition::string_equals(format!("{}.mode", paths::RUN), mode.as_str()),
                        run.clone(),
                    )],
                    default: Some(next.to_owned()),
                },
            );
        }
        let on_failed = match a.on_failure {
            OnFailure::Continue => next.to_owned(),
            OnFailure::Stop | OnFailure::Ask => name(ActionStep::Failed),
        };
        if let ActionKind::RecoverNetwork { source_networks } = &a.kind {
            self.network_action(states, wave, a, source_networks, (next, &on_failed));
        } else {
            self.service_action(states, wave, a, next, &on_failed);
        }
        self.action_failure(states, wave, a, next);
    }

    /// The action as a service integration's Task (and SSM Automation's loop of looks).
    fn service_action(
        &self,
        states: &mut States,
        wave: &WaveSpec,
        a: &Action,
        next: &str,
        on_failed: &str,
    ) {
        let name = |step| state_name(self.way, wave, a, step);
        let run = name(ActionStep::Run);
        let context = self.context(wave, a, &run);
        let (resource, parameters, selector, retry) = integration(a, context);
        let is_ssm = matches!(a.kind, ActionKind::SsmAutomation { .. });
        let after_run = if is_ssm {
            name(ActionStep::Wait)
        } else {
            next.to_owned()
        };
        states.push(
            run.clone(),
            Task {
                comment: Some(describe(a)),
                resource: resource.to_owned(),
                parameters: Some(parameters),
                result_selector: Some(selector),
                result_path: Some(ACTION_RESULT.to_owned()),
                timeout_seconds: Some(if is_ssm {
                    SSM_CALL_TIMEOUT_SECONDS
                } else {
                    a.timeout_seconds
                }),
                heartbeat_seconds: None,
                retry,
                catch: vec![catch_to(on_failed)],
                transition: Transition::next(after_run),
            },
        );
        if is_ssm {
            self.ssm_loop(states, wave, a, next, on_failed);
        }
    }

    /// What a failed action leads to, for every kind: with `stop` or `ask` the Pass that names
    /// it in `$.error`, then the failure target or the operator's decision.
    fn action_failure(&self, states: &mut States, wave: &WaveSpec, a: &Action, next: &str) {
        let name = |step| state_name(self.way, wave, a, step);
        let run = name(ActionStep::Run);
        if a.on_failure == OnFailure::Ask {
            self.action_decision(states, wave, a, next);
        }
        if a.on_failure != OnFailure::Continue {
            let (comment, then) = if a.on_failure == OnFailure::Ask {
                (
                    format!("{run:?} failed and its plan asks an operator (onFailure: ask)."),
                    name(ActionStep::Decide),
                )
            } else {
                (
                    format!("{run:?} failed and its plan stops the execution (onFailure: stop)."),
                    self.failure.clone(),
                )
            };
            states.push(
                name(ActionStep::Failed),
                Pass {
                    comment: Some(comment),
                    parameters: Some(json!({
                        "Error": ACTION_FAILED,
                        "Cause.$": format!(
                            "States.Format('{} ({}) failed: {{}}', States.JsonToString({ACTION_RESULT}))",
                            escape_intrinsic(&run),
                            escape_intrinsic(&target(a)),
                        ),
                    })),
                    result: None,
                    result_path: Some(paths::ERROR.to_owned()),
                    transition: Transition::next(then),
                },
            );
        }
    }

    /// `onFailure: ask` on an action: the operator's decision on the failure the Failed Pass
    /// named, and the Choice on the answer: retry runs the action again (nothing is
    /// launched), skip goes on to `next`, stop (or a decision past its timeout) fails the
    /// execution with the action's failure.
    fn action_decision(&self, states: &mut States, wave: &WaveSpec, a: &Action, next: &str) {
        let name = |step| state_name(self.way, wave, a, step);
        let run = name(ActionStep::Run);
        let timeout = budget::decision_timeout_seconds(wave);
        self.operator_gate(
            states,
            wave,
            OperatorGate {
                kind: GateKind::Decision,
                timeout_seconds: timeout,
                comment: format!(
                    "{run:?} failed and its plan asks an operator: `drs-waves decide <execution> retry` runs it again (nothing is \
                     launched), `skip` goes on without it, `stop` ends the execution. Without an answer in {timeout} s the execution fails."
                ),
                result_path: paths::decision_answer(wave.index),
                next: name(ActionStep::Answer),
                name: name(ActionStep::Decide),
                timed_out: name(ActionStep::Expired),
                what: format!("The decision on {run:?}"),
                inputs: vec![(
                    "action".to_owned(),
                    json!({"name": run, "failure.$": paths::ERROR}),
                )],
            },
        );
        states.push(
            name(ActionStep::Answer),
            Choice {
                comment: Some(format!(
                    "The operator's answer: retry runs {run:?} again, skip goes on to {next:?}."
                )),
                choices: vec![
                    ChoiceRule::new(
                        Condition::string_equals(paths::decision(wave.index), decisions::RETRY),
                        first_state(self.way, wave, a),
                    ),
                    ChoiceRule::new(
                        Condition::string_equals(paths::decision(wave.index), decisions::SKIP),
                        next,
                    ),
                ],
                default: Some(self.failure.clone()),
            },
        );
    }

    /// What every action gets: the plan, the mode, the execution, the wave, the action's
    /// state; an after-action also the wave's state (its jobs, counts and times) and its
    /// recovered servers (`servers`: source server, host name, recovery instance, EC2
    /// instance, private IPs), which the check that found it launched listed.
    fn context(&self, wave: &WaveSpec, a: &Action, run: &str) -> Value {
        let mut c = json!({
            "plan": self.plan_name(),
            "mode.$": format!("{}.mode", paths::RUN),
            "execution.$": paths::CONTEXT_EXECUTION_ID,
            "wave": {"index": wave.index, "name": wave.name},
            "phase": a.phase.word(),
            "action": run,
        });
        if a.phase == ActionPhase::After
            && let Some(map) = c.as_object_mut()
        {
            map.insert(
                "waveState.$".to_owned(),
                Value::String(paths::wave_state(wave.index)),
            );
            // The recovered servers are listed by the way out's check; on the way home they
            // are the ones leaving, and the wave's state says what came home.
            if self.way == Way::Out {
                map.insert(
                    "servers.$".to_owned(),
                    Value::String(format!("{}.recovered", paths::wave_state(wave.index))),
                );
            }
        }
        c
    }
}

/// The service integration of an action: its Resource, Parameters, ResultSelector and Retry.
fn integration(a: &Action, context: Value) -> (&'static str, Value, Value, Vec<Retrier>) {
    match &a.kind {
        ActionKind::StateMachine { arn, input } => (
            START_EXECUTION_SYNC,
            json!({
                "StateMachineArn": arn,
                "Input": {
                    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": paths::CONTEXT_EXECUTION_ID,
                    "drsWaves": context,
                    "input": input,
                },
            }),
            json!({"status.$": "$.Status", "executionArn.$": "$.ExecutionArn"}),
            Vec::new(),
        ),
        ActionKind::Lambda { function, payload } => (
            LAMBDA_INVOKE,
            json!({
                "FunctionName": function,
                "Payload": {"drsWaves": context, "payload": payload},
            }),
            json!({"statusCode.$": "$.StatusCode"}),
            vec![Retrier {
                error_equals: LAMBDA_TRANSIENT.map(str::to_owned).to_vec(),
                interval_seconds: Some(2),
                max_attempts: Some(3),
                backoff_rate: Some(2.0),
            }],
        ),
        ActionKind::Notify { topic, message } => (
            SNS_PUBLISH,
            json!({
                "TopicArn": topic,
                "Message": message,
                "MessageAttributes": message_attributes(&context),
            }),
            json!({"messageId.$": "$.MessageId"}),
            Vec::new(),
        ),
        ActionKind::SsmAutomation {
            document,
            parameters,
        } => {
            let mut p = json!({"DocumentName": document});
            if !parameters.is_empty()
                && let Some(map) = p.as_object_mut()
            {
                map.insert("Parameters".to_owned(), json!(parameters));
            }
            (
                SSM_START,
                p,
                json!({"id.$": "$.AutomationExecutionId", "polls": 0}),
                Vec::new(),
            )
        }
        // Never reached: `action` hands a network recovery to `network.rs` first.
        ActionKind::RecoverNetwork { .. } => (SNS_PUBLISH, context, Value::Null, Vec::new()),
    }
}

/// SSM Automation's loop of looks.
impl Generator<'_> {
    /// Start, then wait, look, and decide until the run ends or the action's time is up.
    fn ssm_loop(
        &self,
        states: &mut States,
        wave: &WaveSpec,
        a: &Action,
        next: &str,
        on_failed: &str,
    ) {
        let name = |step| state_name(self.way, wave, a, step);
        let looks = a.timeout_seconds.div_ceil(SSM_POLL_SECONDS);
        states.push(
            name(ActionStep::Wait),
            Wait {
                comment: Some(format!(
                    "Waits {SSM_POLL_SECONDS} s between two looks at the Automation run."
                )),
                duration: WaitDuration::Seconds(SSM_POLL_SECONDS),
                transition: Transition::next(name(ActionStep::Poll)),
            },
        );
        states.push(
            name(ActionStep::Poll),
            Task {
                comment: Some("GetAutomationExecution: the run's status.".to_owned()),
                resource: SSM_GET.to_owned(),
                parameters: Some(json!({"AutomationExecutionId.$": format!("{ACTION_RESULT}.id")})),
                result_selector: Some(
                    json!({"status.$": "$.AutomationExecution.AutomationExecutionStatus"}),
                ),
                result_path: Some(format!("{ACTION_RESULT}.last")),
                timeout_seconds: Some(SSM_CALL_TIMEOUT_SECONDS),
                heartbeat_seconds: None,
                retry: Vec::new(),
                catch: vec![catch_to(on_failed)],
                transition: Transition::next(name(ActionStep::Status)),
            },
        );
        let status = format!("{ACTION_RESULT}.last.status");
        let mut choices = vec![ChoiceRule::new(
            Condition::string_equals(&status, "Success"),
            next,
        )];
        choices.extend(
            SSM_FAILED_STATUSES
                .iter()
                .map(|s| ChoiceRule::new(Condition::string_equals(&status, *s), on_failed)),
        );
        choices.push(ChoiceRule::new(
            Condition::NumericGreaterThanEquals {
                variable: format!("{ACTION_RESULT}.polls"),
                value: u64::from(looks),
            },
            on_failed,
        ));
        states.push(
        name(ActionStep::Status),
        Choice {
            comment: Some(format!(
                "Success goes on; {} fail the action; so does a run still going after {looks} looks ({} s). Otherwise look again.",
                SSM_FAILED_STATUSES.join(", "),
                a.timeout_seconds
            )),
            choices,
            default: Some(name(ActionStep::Count)),
        },
    );
        states.push(
            name(ActionStep::Count),
            Pass {
                comment: Some("Counts the looks (the action's timeout).".to_owned()),
                parameters: Some(json!({
                    "id.$": format!("{ACTION_RESULT}.id"),
                    "polls.$": format!("States.MathAdd({ACTION_RESULT}.polls, 1)"),
                })),
                result: None,
                result_path: Some(ACTION_RESULT.to_owned()),
                transition: Transition::next(name(ActionStep::Wait)),
            },
        );
    }
}

pub(super) fn catch_to(next: &str) -> Catcher {
    Catcher {
        error_equals: vec![STATES_ALL.to_owned()],
        result_path: Some(ACTION_RESULT.to_owned()),
        next: next.to_owned(),
    }
}

/// The context as SNS message attributes (strings; the wave as `2 app`).
fn message_attributes(context: &Value) -> Value {
    let mut attrs = Map::new();
    if let Some(map) = context.as_object() {
        for (k, v) in map {
            let (key, value_key) = match k.strip_suffix(".$") {
                Some(k) => (k, "StringValue.$"),
                None => (k.as_str(), "StringValue"),
            };
            if key == "waveState" || key == "servers" {
                continue;
            }
            let value = match v {
                Value::Object(w) => Value::String(format!(
                    "{} {}",
                    w.get("index").map(Value::to_string).unwrap_or_default(),
                    w.get("name").and_then(Value::as_str).unwrap_or_default()
                )),
                other => other.clone(),
            };
            attrs.insert(
                key.to_owned(),
                json!({"DataType": "String", value_key: value}),
            );
        }
    }
    Value::Object(attrs)
}

fn first_state(way: Way, wave: &WaveSpec, a: &Action) -> String {
    let step = if a.only_mode(way).is_some() {
        ActionStep::Mode
    } else {
        ActionStep::Run
    };
    state_name(way, wave, a, step)
}

/// The action's state name: `Wave 2 app: before 1 (fail over database)` (on the way home
/// `Failback wave 2 app: ...`).
pub fn state_name(way: Way, wave: &WaveSpec, a: &Action, step: ActionStep) -> String {
    names::action_on(
        way,
        wave.index,
        &wave.name,
        (a.phase, a.position),
        a.name.as_deref(),
        step,
    )
}

/// What the action runs, in a few words.
pub fn target(a: &Action) -> String {
    match &a.kind {
        ActionKind::StateMachine { arn, .. } => format!("state machine {arn}"),
        ActionKind::Lambda { function, .. } => format!("Lambda function {function}"),
        ActionKind::SsmAutomation { document, .. } => format!("SSM Automation {document}"),
        ActionKind::Notify { topic, .. } => format!("SNS topic {topic}"),
        ActionKind::RecoverNetwork { source_networks } => {
            format!("DRS source network {}", source_networks.join(", "))
        }
    }
}

pub(super) fn describe(a: &Action) -> String {
    let how = match &a.kind {
        ActionKind::StateMachine { .. } => "Runs the child machine to its end",
        ActionKind::Lambda { .. } => "Invokes the function and waits for its answer",
        ActionKind::SsmAutomation { .. } => {
            "Starts the Automation run; the states after it look at it until it ends"
        }
        ActionKind::Notify { .. } => "Publishes the message",
        ActionKind::RecoverNetwork { .. } => {
            "Starts DRS's network recovery (a CloudFormation stack per network) in the worker; the states after it check its job until it ends"
        }
    };
    let policy = match a.on_failure {
        OnFailure::Continue => "a failure goes on (onFailure: continue)",
        OnFailure::Stop => "a failure stops the execution",
        OnFailure::Ask => "a failure asks an operator (onFailure: ask)",
    };
    format!(
        "{} {}: {how} (at most {} s); {policy}.",
        a.phase.word(),
        target(a),
        a.timeout_seconds
    )
}

/// A literal inside an intrinsic function's string: `'`, `{`, `}` and `\` escaped.
pub(super) fn escape_intrinsic(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\'' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
