//! The generator: a validated [`Plan`] becomes a JSONPath state machine.
//!
//! Shape (the worker and the end-to-end tests depend on it):
//! `Check input` -> `Preflight` -> for each wave `Wave i <name>: start` -> `: wait` ->
//! `: check` -> `: done?` (back to wait while launching) -> ... -> `Finish` -> `Succeeded`;
//! any failure -> `Record failure` -> `Error has a cause?` -> `Failed` (or
//! `Failed (error without a cause)` when the caught error has none).
//!
//! Every name the worker shares with the machine (activities, paths, errors) comes from
//! [`crate::contract`]; this module only decides the states around them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::asl::{
    Catcher, Choice, ChoiceRule, Condition, Fail, FailCause, FailField, Pass, Retrier, STATES_ALL,
    State, StateMachine, States, Succeed, Task, Transition, Wait, WaitDuration,
};
use crate::budget;
use crate::contract::operator::{GATE_REOPENINGS, gate_timed_out_cause, gate_what};
use crate::contract::{
    Activity, ActivityArnError, ActivityArns, CONTRACT_VERSION, ErrorName, GateKind, Mode,
    OnFailure, PREFLIGHT_TARGETS_KEY, RETRYABLE_STATES_ERRORS, WaveSpec, WaveStatus, decisions,
    paths,
};
use crate::plan::Plan;

/// The form of `pointInTime` the input check accepts besides IsTimestamp: UTC with an
/// upper-case `T` and `Z`, as AWS's IsTimestamp requires.
pub const POINT_IN_TIME_PATTERN: &str = "*-*-*T*:*:*Z";

/// State names outside the waves.
pub mod names {
    pub const CHECK_INPUT: &str = "Check input";
    pub const RECOVERY_NOT_CONFIRMED: &str = "Recovery not confirmed";
    pub const INPUT_REJECTED: &str = "Input rejected";
    pub const CHECK_POINT_IN_TIME: &str = "Check point in time";
    pub const POINT_IN_TIME_REJECTED: &str = "Point in time rejected";
    pub const PREFLIGHT: &str = "Preflight";
    pub const FINISH: &str = "Finish";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const RECORD_FAILURE: &str = "Record failure";
    /// The Choice before the two Fail states: a Fail whose CausePath selects no string fails
    /// itself with States.Runtime, hiding the real error, and a caught error only usually has
    /// a Cause.
    pub const ERROR_HAS_CAUSE: &str = "Error has a cause?";
    /// The end of a failed execution whose error has a cause: both are shown.
    pub const FAILED: &str = "Failed";
    /// The end of a failed execution whose error has no cause: the error and a fixed cause.
    pub const FAILED_WITHOUT_CAUSE: &str = "Failed (error without a cause)";

    /// One step of a wave's loop.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum WaveStep {
        /// The approval gate before the wave (a plan's `approval.before`).
        Approve,
        /// Its timeout.
        ApprovalTimedOut,
        Start,
        Wait,
        Check,
        Done,
        /// The decision after a failure (`onFailure: ask`).
        Decide,
        /// The Choice on the operator's answer.
        Decision,
        /// Its timeout.
        DecisionTimedOut,
        /// A failed wave an operator skipped.
        Skipped,
        Failed,
    }

    impl WaveStep {
        pub fn suffix(self) -> &'static str {
            match self {
                WaveStep::Approve => crate::contract::operator::gate_states::APPROVE,
                WaveStep::ApprovalTimedOut => "approval timed out",
                WaveStep::Start => "start",
                WaveStep::Wait => "wait",
                WaveStep::Check => "check",
                WaveStep::Done => "done?",
                WaveStep::Decide => crate::contract::operator::gate_states::DECIDE,
                WaveStep::Decision => "decision",
                WaveStep::DecisionTimedOut => "decision timed out",
                WaveStep::Skipped => "skipped",
                WaveStep::Failed => "failed",
            }
        }
    }

    /// `Wave 2 app-servers: check`.
    pub fn wave(index: u32, name: &str, step: WaveStep) -> String {
        format!("Wave {index} {name}: {}", step.suffix())
    }
}

use names::WaveStep;

/// What goes in each activity task's `Resource`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ActivityResources {
    /// `${PreflightActivityArn}` and so on, for CDK's definitionSubstitutions.
    #[default]
    Placeholders,
    /// Concrete ARNs (a local deployment), one per activity.
    Arns(BTreeMap<Activity, String>),
}

impl ActivityResources {
    /// Parses `NAME=ARN` pairs (the contract's one parser); none means placeholders.
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<ActivityResources, ActivityArnError> {
        if pairs.iter().all(|p| p.as_ref().trim().is_empty()) {
            return Ok(ActivityResources::Placeholders);
        }
        Ok(ActivityResources::Arns(
            ActivityArns::from_pairs(pairs)?.into_map(),
        ))
    }

    pub fn resource(&self, activity: Activity) -> String {
        match self {
            ActivityResources::Placeholders => format!("${{{}}}", activity.placeholder()),
            ActivityResources::Arns(arns) => arns.get(&activity).cloned().unwrap_or_default(),
        }
    }
}

/// Builds the whole machine. The caller validates it ([`crate::compile`] does).
pub fn generate(plan: &Plan, resources: &ActivityResources) -> StateMachine {
    let g = Generator { plan, resources };
    let mut states = States::default();
    g.input_check(&mut states);
    g.preflight(&mut states);
    for (i, wave) in plan.spec.waves.iter().enumerate() {
        let after = plan
            .spec
            .waves
            .get(i + 1)
            .map_or_else(|| names::FINISH.to_owned(), wave_start);
        g.wave(&mut states, wave, &after);
    }
    g.finish(&mut states);
    g.failure_path(&mut states);
    StateMachine {
        comment: Some(g.machine_comment()),
        start_at: names::CHECK_INPUT.to_owned(),
        timeout_seconds: Some(plan.execution_timeout_seconds),
        states,
    }
}

/// Where a wave begins: its approval gate, or its start.
fn wave_start(wave: &WaveSpec) -> String {
    let step = if wave.approval.is_some() {
        WaveStep::Approve
    } else {
        WaveStep::Start
    };
    names::wave(wave.index, &wave.name, step)
}

struct Generator<'a> {
    plan: &'a Plan,
    resources: &'a ActivityResources,
}

impl Generator<'_> {
    fn plan_name(&self) -> &str {
        &self.plan.spec.name
    }

    fn machine_comment(&self) -> String {
        let spec = &self.plan.spec;
        let description = self
            .plan
            .description
            .as_deref()
            .map(|d| format!(" {}.", d.trim().trim_end_matches('.')))
            .unwrap_or_default();
        let waves: Vec<&str> = spec.waves.iter().map(|w| w.name.as_str()).collect();
        format!(
            "drs-waves recovery plan {name:?}.{description} {count} wave(s) in order: {list}. \
             Start a drill with {{\"mode\": \"{drill}\"}}; a recovery with {{\"mode\": \"{recovery}\", \"confirm\": \"{name}\"}}. \
             Generated by drs-codegen (contract v{CONTRACT_VERSION}) from the plan file: edit the plan, not this definition.",
            name = spec.name,
            count = spec.waves.len(),
            list = waves.join(", "),
            drill = Mode::Drill.as_str(),
            recovery = Mode::Recovery.as_str(),
        )
    }

    fn execution_ref() -> Value {
        json!({
            "id.$": paths::CONTEXT_EXECUTION_ID,
            "name.$": paths::CONTEXT_EXECUTION_NAME,
            "startTime.$": paths::CONTEXT_EXECUTION_START_TIME,
        })
    }

    /// An activity task with the plan's heartbeat, the kind's timeout, the shared Retry, and a
    /// Catch to the failure path.
    fn task(
        &self,
        activity: Activity,
        comment: String,
        mut parameters: Value,
        result_path: String,
        next: String,
    ) -> Task {
        let heartbeat = self.plan.heartbeat_seconds;
        // The worker tells, in the cause of a retryable failure, how many tries are left.
        if let Some(map) = parameters.as_object_mut() {
            map.insert(
                format!("{}.$", crate::contract::task_retry::RETRY_COUNT_KEY),
                Value::String(paths::CONTEXT_STATE_RETRY_COUNT.to_owned()),
            );
        }
        let mut retryable: Vec<String> = ErrorName::ALL
            .into_iter()
            .filter(|e| e.retryable())
            .map(|e| e.as_str().to_owned())
            .collect();
        retryable.extend(RETRYABLE_STATES_ERRORS.map(str::to_owned));
        Task {
            comment: Some(comment),
            resource: self.resources.resource(activity),
            parameters: Some(parameters),
            result_path: Some(result_path),
            timeout_seconds: Some(budget::task_timeout_seconds(activity, heartbeat)),
            heartbeat_seconds: Some(heartbeat),
            retry: vec![Retrier {
                error_equals: retryable,
                interval_seconds: Some(budget::RETRY_INTERVAL_SECONDS),
                max_attempts: Some(budget::RETRY_MAX_ATTEMPTS),
                backoff_rate: Some(f64::from(budget::RETRY_BACKOFF_RATE)),
            }],
            catch: vec![Catcher {
                error_equals: vec![STATES_ALL.to_owned()],
                result_path: Some(paths::ERROR.to_owned()),
                next: names::RECORD_FAILURE.to_owned(),
            }],
            transition: Transition::Next(next),
        }
    }

    fn input_check(&self, states: &mut States) {
        let name = self.plan_name();
        let mode = paths::INPUT_MODE;
        let confirm = paths::INPUT_CONFIRM;
        let (drill, recovery) = (Mode::Drill.as_str(), Mode::Recovery.as_str());
        // The rules are tried in order; each guard comes before a rule that compares a field
        // it guards, so no comparison ever reads a missing field (AWS fails such a Choice with
        // States.Runtime) whether or not the engine short-circuits And.
        states.push(
            names::CHECK_INPUT,
            Choice {
                comment: Some(format!(
                    "Checks the execution input before anything is launched: {{\"mode\": \"{drill}\"}} runs a drill; \
                     {{\"mode\": \"{recovery}\", \"confirm\": \"{name}\"}} runs a real recovery."
                )),
                choices: vec![
                    ChoiceRule::new(Condition::negate(Condition::is_present(mode)), names::INPUT_REJECTED),
                    ChoiceRule::new(Condition::string_equals(mode, drill), names::CHECK_POINT_IN_TIME),
                    ChoiceRule::new(
                        Condition::And(vec![
                            Condition::string_equals(mode, recovery),
                            Condition::negate(Condition::is_present(confirm)),
                        ]),
                        names::RECOVERY_NOT_CONFIRMED,
                    ),
                    ChoiceRule::new(
                        Condition::And(vec![
                            Condition::string_equals(mode, recovery),
                            Condition::is_present(confirm),
                            Condition::string_equals(confirm, name),
                        ]),
                        names::CHECK_POINT_IN_TIME,
                    ),
                    ChoiceRule::new(Condition::string_equals(mode, recovery), names::RECOVERY_NOT_CONFIRMED),
                ],
                default: Some(names::INPUT_REJECTED.to_owned()),
            },
        );
        let point_in_time = paths::INPUT_POINT_IN_TIME;
        states.push(
            names::CHECK_POINT_IN_TIME,
            Choice {
                comment: Some(
                    "An optional pointInTime must be a UTC timestamp with an upper-case T and Z (2026-11-27T03:00:00Z): every \
                     server then launches from its latest snapshot at or before it. Preflight refuses one in the future."
                        .into(),
                ),
                choices: vec![
                    ChoiceRule::new(Condition::negate(Condition::is_present(point_in_time)), names::PREFLIGHT),
                    // AWS's IsTimestamp wants the upper-case T and Z; the pattern holds the local
                    // engine, which is laxer, to the same form.
                    ChoiceRule::new(
                        Condition::And(vec![
                            Condition::is_timestamp(point_in_time),
                            Condition::string_matches(point_in_time, POINT_IN_TIME_PATTERN),
                        ]),
                        names::PREFLIGHT,
                    ),
                ],
                default: Some(names::POINT_IN_TIME_REJECTED.to_owned()),
            },
        );
        states.push(
            names::POINT_IN_TIME_REJECTED,
            Pass {
                comment: Some("pointInTime is not a timestamp.".into()),
                parameters: None,
                result: Some(json!({
                    "Error": ErrorName::InvalidInput.as_str(),
                    "Cause": "The execution input's pointInTime must be a UTC timestamp in the form \
                              \"2026-11-27T03:00:00Z\" (upper-case T and Z, no offset; `drs-waves start --point-in-time` \
                              writes it so): every server launches from its latest snapshot at or before it. \
                              Nothing was launched.",
                })),
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(names::RECORD_FAILURE),
            },
        );
        states.push(
            names::RECOVERY_NOT_CONFIRMED,
            Pass {
                comment: Some("A RECOVERY launches production instances, so it must name the plan in confirm.".into()),
                parameters: None,
                result: Some(json!({
                    "Error": ErrorName::RecoveryNotConfirmed.as_str(),
                    "Cause": format!(
                        "A {recovery} launches production recovery instances, so its input must name the plan again: \
                         {{\"mode\": \"{recovery}\", \"confirm\": \"{name}\"}}. Nothing was launched."
                    ),
                })),
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(names::RECORD_FAILURE),
            },
        );
        states.push(
            names::INPUT_REJECTED,
            Pass {
                comment: Some("The execution input is not one this plan accepts.".into()),
                parameters: None,
                result: Some(json!({
                    "Error": ErrorName::InvalidInput.as_str(),
                    "Cause": format!(
                        "The execution input must be {{\"mode\": \"{drill}\"}} for a drill or \
                         {{\"mode\": \"{recovery}\", \"confirm\": \"{name}\"}} for a recovery. Nothing was launched."
                    ),
                })),
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(names::RECORD_FAILURE),
            },
        );
    }

    fn preflight(&self, states: &mut States) {
        let spec = &self.plan.spec;
        let servers: usize = spec.waves.iter().map(|w| w.server_ids.len()).sum();
        let tagged = spec.waves.iter().filter(|w| !w.tags.is_empty()).count();
        let next = spec
            .waves
            .first()
            .map_or_else(|| names::FINISH.to_owned(), wave_start);
        states.push(
            names::PREFLIGHT,
            self.task(
                Activity::Preflight,
                format!(
                    "Resolves every wave's servers ({servers} by ID, {tagged} wave(s) by tags), checks that they replicate and are in no \
                     active job, checks quotas, takes the plan's run lock and opens the history record. Nothing is launched yet."
                ),
                {
                    let mut parameters = json!({
                        "execution": Self::execution_ref(),
                        "input.$": paths::STATE,
                        "plan": spec,
                        "heartbeatSeconds": self.plan.heartbeat_seconds,
                    });
                    // For preflight (launch points held to the RPO) and the report: a plan
                    // without targets compiles to the same machine as before targets existed.
                    if !self.plan.targets.is_empty()
                        && let Some(map) = parameters.as_object_mut()
                    {
                        map.insert(
                            PREFLIGHT_TARGETS_KEY.to_owned(),
                            serde_json::to_value(&self.plan.targets).unwrap_or(Value::Null),
                        );
                    }
                    parameters
                },
                paths::RUN.to_owned(),
                next,
            ),
        );
    }

    /// The five states of one wave; `after` is where a finished wave goes.
    fn wave(&self, states: &mut States, wave: &WaveSpec, after: &str) {
        let (i, n) = (wave.index, wave.name.as_str());
        let state_path = paths::wave_state(i);
        let wave_value = serde_json::to_value(wave).unwrap_or(Value::Null);
        let selection = describe_selection(wave);
        let p = &wave.polling;

        if let Some(gate) = &wave.approval {
            self.operator_gate(
                states,
                wave,
                GateKind::Approval,
                gate.timeout_seconds,
                format!(
                    "Approval gate: wave {i} ({selection}) starts only when an operator approves (`drs-waves approve <execution>`); \
                     `drs-waves stop` ends the execution. The worker records this task's token in the history and does not answer it. \
                     Without an answer in {} s the execution fails, and no later wave starts.",
                    gate.timeout_seconds
                ),
                paths::approval_answer(i),
                names::wave(i, n, WaveStep::Start),
                WaveStep::ApprovalTimedOut,
            );
        }

        states.push(
            names::wave(i, n, WaveStep::Start),
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
                names::wave(i, n, WaveStep::Wait),
            ),
        );
        states.push(
            names::wave(i, n, WaveStep::Wait),
            Wait {
                comment: Some(format!(
                    "Waits as long as the last check asked ({}..{} s, adaptive around an expected launch of {} s).",
                    p.min_wait_seconds, p.max_wait_seconds, p.expected_launch_seconds
                )),
                duration: WaitDuration::SecondsPath(paths::wave_next_wait_seconds(i)),
                transition: Transition::next(names::wave(i, n, WaveStep::Check)),
            },
        );
        states.push(
            names::wave(i, n, WaveStep::Check),
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
                names::wave(i, n, WaveStep::Done),
            ),
        );
        let failed = names::wave(i, n, WaveStep::Failed);
        let (on_failed, policy) = match wave.on_failure {
            OnFailure::Stop => (failed.clone(), "a failure stops the execution"),
            OnFailure::Continue => (
                after.to_owned(),
                "a failure is recorded and the next step runs (onFailure: continue)",
            ),
            OnFailure::Ask => (
                names::wave(i, n, WaveStep::Decide),
                "an operator decides: retry, skip or stop (onFailure: ask)",
            ),
        };
        if wave.on_failure == OnFailure::Ask {
            self.decision(states, wave, after, &failed);
        }
        let status = paths::wave_status(i);
        states.push(
            names::wave(i, n, WaveStep::Done),
            Choice {
                comment: Some(format!("Still launching: wait and check again. Succeeded: go on to {after:?}. Failed: {policy}.")),
                choices: vec![
                    ChoiceRule::new(
                        Condition::string_equals(&status, WaveStatus::Launching.as_str()),
                        names::wave(i, n, WaveStep::Wait),
                    ),
                    ChoiceRule::new(Condition::string_equals(&status, WaveStatus::Succeeded.as_str()), after),
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
                transition: Transition::next(names::RECORD_FAILURE),
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
    #[allow(clippy::too_many_arguments)]
    fn operator_gate(
        &self,
        states: &mut States,
        wave: &WaveSpec,
        kind: GateKind,
        timeout_seconds: u32,
        comment: String,
        result_path: String,
        next: String,
        timed_out: WaveStep,
    ) {
        let (i, n) = (wave.index, wave.name.as_str());
        let timed_out_name = names::wave(i, n, timed_out);
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
            if kind == GateKind::Decision {
                map.insert("state.$".to_owned(), Value::String(paths::wave_state(i)));
            }
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
        states.push(names::wave(i, n, gate_step(kind)), task);
        states.push(
            timed_out_name,
            Pass {
                comment: Some(format!("{} got no answer in time.", gate_what(kind, i, n))),
                parameters: None,
                result: Some(json!({
                    "Error": ErrorName::GateTimedOut.as_str(),
                    "Cause": gate_timed_out_cause(kind, i, n, timeout_seconds),
                })),
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(names::RECORD_FAILURE),
            },
        );
    }

    /// `onFailure: ask`: the decision, the Choice on its answer, and the skip.
    fn decision(&self, states: &mut States, wave: &WaveSpec, after: &str, failed: &str) {
        let (i, n) = (wave.index, wave.name.as_str());
        let timeout = wave
            .decision_timeout_seconds
            .unwrap_or(budget::DEFAULT_GATE_TIMEOUT_SECONDS);
        self.operator_gate(
            states,
            wave,
            GateKind::Decision,
            timeout,
            format!(
                "Wave {i} failed and its plan asks an operator: `drs-waves decide <execution> retry` launches again the required \
                 servers that did not launch (at most {} launches in all), `skip` records the wave SKIPPED and goes on, `stop` ends \
                 the execution. Without an answer in {timeout} s the execution fails.",
                wave.max_attempts
            ),
            paths::decision_answer(i),
            names::wave(i, n, WaveStep::Decision),
            WaveStep::DecisionTimedOut,
        );
        let skipped = names::wave(i, n, WaveStep::Skipped);
        states.push(
            names::wave(i, n, WaveStep::Decision),
            Choice {
                comment: Some(format!(
                    "The operator's answer: retry goes back to the wave's start, skip goes on to {after:?}."
                )),
                choices: vec![
                    ChoiceRule::new(
                        Condition::string_equals(paths::decision(i), decisions::RETRY),
                        names::wave(i, n, WaveStep::Start),
                    ),
                    ChoiceRule::new(
                        Condition::string_equals(paths::decision(i), decisions::SKIP),
                        skipped.clone(),
                    ),
                ],
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

    fn finish(&self, states: &mut States) {
        let cleanup = if self.plan.spec.terminate_drill_instances {
            "terminates a drill's recovery instances, "
        } else {
            ""
        };
        states.push(
            names::FINISH,
            self.task(
                Activity::Finish,
                format!("Writes the final status and summary to the history table, {cleanup}and releases the plan's run lock."),
                json!({
                    "run.$": paths::RUN,
                    "waves.$": paths::WAVES,
                    "heartbeatSeconds": self.plan.heartbeat_seconds,
                }),
                paths::RESULT.to_owned(),
                names::SUCCEEDED.to_owned(),
            ),
        );
        states.push(
            names::SUCCEEDED,
            Succeed {
                comment: Some(format!(
                    "Every wave ran; the summary is at {}.",
                    paths::RESULT
                )),
            },
        );
    }

    fn failure_path(&self, states: &mut States) {
        let mut record = self.task(
            Activity::RecordFailure,
            format!(
                "Records the failure (the error is at {}) in the history table, cleans up and releases the plan's run lock.",
                paths::ERROR
            ),
            json!({
                "execution": Self::execution_ref(),
                "planName": self.plan_name(),
                "state.$": paths::STATE,
                "heartbeatSeconds": self.plan.heartbeat_seconds,
            }),
            paths::FAILURE.to_owned(),
            names::ERROR_HAS_CAUSE.to_owned(),
        );
        // Its own failure must not loop back into itself, nor overwrite the error it records.
        record.catch = vec![Catcher {
            error_equals: vec![STATES_ALL.to_owned()],
            result_path: Some(paths::RECORD_FAILURE_ERROR.to_owned()),
            next: names::ERROR_HAS_CAUSE.to_owned(),
        }];
        states.push(names::RECORD_FAILURE, record);
        for (name, state) in failure_end() {
            states.push(name, state);
        }
    }
}

/// The static cause of [`names::FAILED_WITHOUT_CAUSE`]: Step Functions' own errors (a timeout,
/// a lost heartbeat) may be caught without a Cause, and a Fail state has to say something.
pub const NO_CAUSE_GIVEN: &str = "(the caught error carried no cause: the error name says what failed; \
                                  the execution's events and history record have the details)";

/// How a failed execution ends, with the caught error at `$.error` as its error either way.
/// A Fail state whose CausePath selects no string fails itself with States.Runtime (which no
/// Catch sees) and the console then shows that instead of the real error, so the Cause is read
/// only once a Choice has seen that it is a string. The rules are tried in order, and
/// IsPresent comes before IsString, so no rule reads a missing field.
fn failure_end() -> [(&'static str, State); 3] {
    let cause = paths::ERROR_CAUSE;
    [
        (
            names::ERROR_HAS_CAUSE,
            State::Choice(Choice {
                comment: Some(format!(
                    "A caught error usually has a cause, not always: a Fail state reading a missing one would fail with \
                     States.Runtime and hide the error, so {cause} is checked first."
                )),
                choices: vec![
                    ChoiceRule::new(
                        Condition::negate(Condition::is_present(cause)),
                        names::FAILED_WITHOUT_CAUSE,
                    ),
                    ChoiceRule::new(Condition::is_string(cause), names::FAILED),
                ],
                default: Some(names::FAILED_WITHOUT_CAUSE.to_owned()),
            }),
        ),
        (
            names::FAILED,
            State::Fail(Fail {
                comment: Some("The execution failed; the error and cause say why.".into()),
                error: FailField::ErrorPath(paths::ERROR_NAME.to_owned()),
                cause: FailCause::CausePath(cause.to_owned()),
            }),
        ),
        (
            names::FAILED_WITHOUT_CAUSE,
            State::Fail(Fail {
                comment: Some(
                    "The execution failed with an error that carried no cause (a Step Functions timeout may have none): \
                     the error says what failed."
                        .into(),
                ),
                error: FailField::ErrorPath(paths::ERROR_NAME.to_owned()),
                cause: FailCause::Cause(NO_CAUSE_GIVEN.to_owned()),
            }),
        ),
    ]
}

fn gate_step(kind: GateKind) -> WaveStep {
    match kind {
        GateKind::Approval => WaveStep::Approve,
        GateKind::Decision => WaveStep::Decide,
    }
}

/// "2 servers by ID, tags App=billing, Tier=web; 1 optional".
pub fn describe_selection(wave: &WaveSpec) -> String {
    let mut parts = Vec::new();
    if !wave.server_ids.is_empty() {
        parts.push(format!("{} server(s) by ID", wave.server_ids.len()));
    }
    if !wave.tags.is_empty() {
        let tags: Vec<String> = wave.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("servers tagged {}", tags.join(", ")));
    }
    let mut out = parts.join(" and ");
    if !wave.optional.is_empty() {
        out.push_str(&format!("; {} optional", wave.optional.len()));
    }
    out
}

#[cfg(test)]
mod tests;
