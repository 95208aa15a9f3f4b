//! One wave's states: its approval gate, its start / wait / check loop, its verdict, and the
//! operator's decision after a failure.

use serde_json::{Value, json};

use super::Generator;
use crate::asl::{
    Catcher, Choice, ChoiceRule, Condition, Pass, Retrier, States, Transition, Wait, WaitDuration,
};
use crate::budget;
use crate::contract::operator::{GATE_REOPENINGS, gate_what, waited_cause};
use crate::contract::states::{ActionPhase, WaveStep};
use crate::contract::{
    Activity, ErrorName, GateKind, OnFailure, RETRYABLE_STATES_ERRORS, WaveSpec, WaveStatus,
    decisions, paths,
};
use crate::describe::describe_selection;

impl Generator<'_> {
    /// The five states of one wave; `after` is where a finished wave goes.
    pub(super) fn wave(&self, states: &mut States, wave: &WaveSpec, after: &str) {
        self.pause(states, wave);
        // The plan's `before` and `after` actions (see `actions.rs`): in front of the wave's
        // entry, and between its success and `after`.
        self.action_chain(states, wave, ActionPhase::Before, &self.wave_start(wave));
        self.approval_gate(states, wave);
        self.launch_loop(states, wave);
        // After a launch: the `after` actions, then the health checks (see `health.rs`), then
        // `after`: the next wave starts only when the application answers.
        let checks = self.health(states, wave, after);
        let succeeded = self.actions_entry(wave, ActionPhase::After, &checks);
        self.verdict(states, wave, &succeeded, after);
        self.action_chain(states, wave, ActionPhase::After, &checks);
    }

    /// The wave's first state: its pause, its first `before` action, its approval gate or its
    /// start.
    pub(super) fn wave_entry(&self, wave: &WaveSpec) -> String {
        match wave.pause_before_seconds {
            Some(_) => self.wave_state(wave, WaveStep::Pause),
            None => self.actions_entry(wave, ActionPhase::Before, &self.wave_start(wave)),
        }
    }

    /// The pause before the wave, when the plan asks for one: a Wait state, so that it costs
    /// no worker task and a StopExecution ends it at once.
    fn pause(&self, states: &mut States, wave: &WaveSpec) {
        let Some(seconds) = wave.pause_before_seconds else {
            return;
        };
        let next = self.actions_entry(wave, ActionPhase::Before, &self.wave_start(wave));
        states.push(
            self.wave_state(wave, WaveStep::Pause),
            Wait {
                comment: Some(format!(
                    "The plan's pause of {seconds} s before wave {} ({}).",
                    wave.index, wave.name
                )),
                duration: WaitDuration::Seconds(seconds),
                transition: Transition::next(next),
            },
        );
    }

    /// The approval gate before the wave, when the plan asks for one.
    pub(super) fn approval_gate(&self, states: &mut States, wave: &WaveSpec) {
        let (i, n) = (wave.index, wave.name.as_str());
        let selection = describe_selection(wave);
        if let Some(gate) = &wave.approval {
            self.operator_gate(
                states,
                wave,
                OperatorGate {
                    kind: GateKind::Approval,
                    timeout_seconds: gate.timeout_seconds,
                    comment: format!(
                        "Approval gate: wave {i} ({selection}) starts only when an operator approves (`drs-waves approve <execution>`); \
                         `drs-waves stop` ends the execution. The worker records this task's token in the history and does not answer it. \
                         Without an answer in {} s the execution fails, and no later wave starts.",
                        gate.timeout_seconds
                    ),
                    result_path: paths::approval_answer(i),
                    next: self.wave_state(wave, WaveStep::Start),
                    name: self.wave_state(wave, WaveStep::Approve),
                    timed_out: self.wave_state(wave, WaveStep::ApprovalTimedOut),
                    what: gate_what(GateKind::Approval, i, n),
                    inputs: Vec::new(),
                },
            );
        }
    }

    /// Start, wait, check: the loop that launches the wave and follows it to a verdict.
    fn launch_loop(&self, states: &mut States, wave: &WaveSpec) {
        let i = wave.index;
        let state_path = paths::wave_state(i);
        let wave_value = serde_json::to_value(wave).unwrap_or(Value::Null);
        let selection = describe_selection(wave);
        let p = &wave.polling;
        states.push(
            self.wave_state(wave, WaveStep::Start),
            self.task(
                Activity::StartWave,
                format!(
                    "Launches wave {i} ({selection}) with StartRecovery, in jobs of at most the per-job server limit. \
                     The job IDs are written to {state_path}.jobIds and to the history table."
                ),
                json!({
                    "run.$": paths::RUN,
                    "wave": wave_value,
                    "heartbeatSeconds": self.plan.heartbeat_seconds,
                }),
                state_path.clone(),
                self.wave_state(wave, WaveStep::Wait),
            ),
        );
        states.push(
            self.wave_state(wave, WaveStep::Wait),
            Wait {
                comment: Some(format!(
                    "Waits as long as the last check asked ({}..{} s, adaptive around an expected launch of {} s).",
                    p.min_wait_seconds, p.max_wait_seconds, p.expected_launch_seconds
                )),
                duration: WaitDuration::SecondsPath(paths::wave_next_wait_seconds(i)),
                transition: Transition::next(self.wave_state(wave, WaveStep::Check)),
            },
        );
        states.push(
            self.wave_state(wave, WaveStep::Check),
            self.task(
                Activity::CheckWave,
                format!(
                    "DescribeJobs for wave {i}'s jobs: SUCCEEDED once every required server is LAUNCHED; FAILED when a required \
                     server FAILED or the launch timeout of {} s has passed; LAUNCHING otherwise.",
                    wave.launch_timeout_seconds
                ),
                json!({
                    "run.$": paths::RUN,
                    "wave": wave_value,
                    "state.$": state_path,
                    "heartbeatSeconds": self.plan.heartbeat_seconds,
                }),
                state_path.clone(),
                self.wave_state(wave, WaveStep::Done),
            ),
        );
    }

    /// The Choice on the check's verdict, what a failure leads to (the plan's `onFailure`),
    /// and the Pass that names a wave's failure. A launched wave goes on to `succeeded` (its
    /// after-actions, its health checks, or `after`).
    pub(super) fn verdict(
        &self,
        states: &mut States,
        wave: &WaveSpec,
        succeeded: &str,
        after: &str,
    ) {
        let i = wave.index;
        let failed = self.wave_state(wave, WaveStep::Failed);
        let (on_failed, policy) = match wave.on_failure {
            OnFailure::Stop => (failed.clone(), "a failure stops the execution"),
            OnFailure::Continue => (
                after.to_owned(),
                "a failure is recorded and the next step runs (onFailure: continue)",
            ),
            OnFailure::Ask => (
                self.wave_state(wave, WaveStep::Decide),
                "an operator decides: retry, skip or stop (onFailure: ask)",
            ),
        };
        if wave.on_failure == OnFailure::Ask {
            self.decision(states, wave, after, &failed);
        }
        let status = paths::wave_status(i);
        states.push(
            self.wave_state(wave, WaveStep::Done),
            Choice {
                comment: Some(format!("Still launching: wait and check again. Succeeded: go on to {succeeded:?}. Failed: {policy}.")),
                choices: vec![
                    ChoiceRule::new(
                        Condition::string_equals(&status, WaveStatus::Launching.as_str()),
                        self.wave_state(wave, WaveStep::Wait),
                    ),
                    ChoiceRule::new(Condition::string_equals(&status, WaveStatus::Succeeded.as_str()), succeeded),
                    ChoiceRule::new(Condition::string_equals(&status, WaveStatus::Failed.as_str()), on_failed),
                ],
                default: Some(failed.clone()),
            },
        );
        states.push(
            failed,
            Pass {
                comment: Some(format!("Wave {i} failed (the cause says why); the failure is recorded and the execution stops.")),
                parameters: Some(json!({
                    "Error": ErrorName::WaveFailed.as_str(),
                    "Cause.$": paths::wave_reason(i),
                })),
                result: None,
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(self.failure.clone()),
            },
        );
    }

    /// An await-operator task (a gate or a decision) and the Pass that turns its timeout into
    /// a named failure. The worker answers nothing, the operator does; every worker's gate
    /// keeper heartbeats the token recorded in the history. A token lost before it was recorded
    /// (a dropped GetActivityTask answer, a worker killed in between) times out the gate's
    /// heartbeat, and the Retry opens the gate again with a fresh token; the worker keeps the
    /// deadline the gate first opened with (`$$.State.EnteredTime`), and fails a re-opened gate
    /// past it with DrsWaves.GateTimedOut. Locally a heartbeat timeout is States.Timeout, the
    /// same name as the gate's own timeout: both are retried, and the worker tells them apart
    /// by the deadline.
    pub(super) fn operator_gate(&self, states: &mut States, wave: &WaveSpec, gate: OperatorGate) {
        let OperatorGate {
            kind,
            timeout_seconds,
            comment,
            result_path,
            next,
            name,
            timed_out: timed_out_name,
            what,
            inputs,
        } = gate;
        let wave_value = serde_json::to_value(wave).unwrap_or(Value::Null);
        let mut parameters = json!({
            "run.$": paths::RUN,
            "gate": kind,
            "wave": wave_value,
            "timeoutSeconds": timeout_seconds,
            "heartbeatSeconds": self.plan.heartbeat_seconds,
            "openedAt.$": paths::CONTEXT_STATE_ENTERED_TIME,
            "reopened.$": paths::CONTEXT_STATE_RETRY_COUNT,
        });
        // A heartbeat at or past the gate's own timeout could never fire first, and Step
        // Functions refuses a HeartbeatSeconds that is not less than TimeoutSeconds.
        let heartbeat = Some(self.plan.gate_heartbeat_seconds).filter(|h| *h < timeout_seconds);
        if let Some(map) = parameters.as_object_mut() {
            if let Some(h) = heartbeat {
                map.insert("gateHeartbeatSeconds".to_owned(), json!(h));
            }
            map.extend(inputs);
        }
        let mut task = self.task(
            Activity::AwaitOperator,
            comment,
            parameters,
            result_path,
            next,
        );
        task.timeout_seconds = Some(timeout_seconds);
        task.heartbeat_seconds = heartbeat;
        for retrier in &mut task.retry {
            retrier
                .error_equals
                .retain(|e| !RETRYABLE_STATES_ERRORS.contains(&e.as_str()));
        }
        task.retry.retain(|r| !r.error_equals.is_empty());
        task.retry.insert(
            0,
            Retrier {
                error_equals: RETRYABLE_STATES_ERRORS.map(str::to_owned).to_vec(),
                interval_seconds: Some(1),
                max_attempts: Some(GATE_REOPENINGS),
                backoff_rate: Some(1.0),
            },
        );
        task.catch.insert(
            0,
            Catcher {
                error_equals: vec!["States.Timeout".to_owned()],
                result_path: Some(paths::ERROR.to_owned()),
                next: timed_out_name.clone(),
            },
        );
        states.push(name.clone(), task);
        states.push(
            timed_out_name,
            Pass {
                comment: Some(format!("{what} got no answer in time.")),
                parameters: None,
                result: Some(json!({
                    "Error": ErrorName::GateTimedOut.as_str(),
                    "Cause": waited_cause(&what, timeout_seconds),
                })),
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(self.failure.clone()),
            },
        );
    }

    /// `onFailure: ask`: the decision, the Choice on its answer, and the skip.
    fn decision(&self, states: &mut States, wave: &WaveSpec, after: &str, failed: &str) {
        let (i, n) = (wave.index, wave.name.as_str());
        let timeout = budget::decision_timeout_seconds(wave);
        self.operator_gate(
            states,
            wave,
            OperatorGate {
                kind: GateKind::Decision,
                timeout_seconds: timeout,
                comment: format!(
                    "Wave {i} failed and its plan asks an operator: `drs-waves decide <execution> retry` launches again the required \
                     servers that did not launch (at most {} launches in all), `skip` records the wave SKIPPED and goes on, `stop` ends \
                     the execution. Without an answer in {timeout} s the execution fails.",
                    wave.max_attempts
                ),
                result_path: paths::decision_answer(i),
                next: self.wave_state(wave, WaveStep::Decision),
                name: self.wave_state(wave, WaveStep::Decide),
                timed_out: self.wave_state(wave, WaveStep::DecisionTimedOut),
                what: gate_what(GateKind::Decision, i, n),
                inputs: vec![("state.$".to_owned(), Value::String(paths::wave_state(i)))],
            },
        );
        let skipped = self.wave_state(wave, WaveStep::Skipped);
        states.push(
            self.wave_state(wave, WaveStep::Decision),
            Choice {
                comment: Some(format!(
                    "The operator's answer: retry goes back to the wave's start, skip goes on to {after:?}."
                )),
                choices: self.health_retry_rule(wave).into_iter().chain([
                    ChoiceRule::new(
                        Condition::string_equals(paths::decision(i), decisions::RETRY),
                        self.wave_state(wave, WaveStep::Start),
                    ),
                    ChoiceRule::new(
                        Condition::string_equals(paths::decision(i), decisions::SKIP),
                        skipped.clone(),
                    ),
                ]).collect(),
                default: Some(failed.to_owned()),
            },
        );
        states.push(
            skipped,
            Pass {
                comment: Some(format!("An operator skipped wave {i}: it is recorded SKIPPED and the execution goes on.")),
                parameters: None,
                result: Some(json!(WaveStatus::Skipped.as_str())),
                result_path: Some(paths::wave_status(i)),
                transition: Transition::next(after),
            },
        );
    }
}

/// An await-operator task as the generator makes it: its kind, its own states' names, what it
/// tells the worker beyond the wave, and where its answer goes.
pub(super) struct OperatorGate {
    pub kind: GateKind,
    pub timeout_seconds: u32,
    pub comment: String,
    /// Where the operator's answer goes.
    pub result_path: String,
    /// Where the answered gate goes.
    pub next: String,
    /// The gate's state name, and the Pass that names its timeout.
    pub name: String,
    pub timed_out: String,
    /// The gate in words, for its timeout: "The decision after wave 2 'app' failed".
    pub what: String,
    /// Parameters beyond the run, the wave and the timing (a decision's failure).
    pub inputs: Vec<(String, Value)>,
}
