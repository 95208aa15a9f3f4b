//! A wave's health checks (the plan's `health`): after the launch succeeded, a Pass begins the
//! checks (their clock starts), the check-health task runs one round of probes in the worker,
//! a Choice reads its verdict, and a Wait spaces the rounds. A wave without checks has none of
//! these states, and its machine is what it was before checks existed.

use serde_json::{Value, json};

use super::{Generator, names};
use crate::asl::{
    Catcher, Choice, ChoiceRule, Condition, Pass, STATES_ALL, States, Task, Transition, Wait,
    WaitDuration,
};
use crate::contract::states::WaveStep;
use crate::contract::{Activity, HealthStatus, OnFailure, WaveSpec, paths};
use crate::plan::health::alarm_names;

/// CloudWatch's DescribeAlarms as Step Functions' AWS SDK integration.
pub const DESCRIBE_ALARMS: &str = "arn:aws:states:::aws-sdk:cloudwatch:describeAlarms";
const DESCRIBE_ALARMS_TIMEOUT_SECONDS: u32 = 60;

/// `$.waves.w<i>.health`: the checks' [`crate::contract::HealthState`].
pub(super) fn health_path(index: u32) -> String {
    format!("{}.health", paths::wave_state(index))
}

impl Generator<'_> {
    /// The health checks' states; returns where a launched wave goes next: the checks' first
    /// state, or `after` when the wave has none.
    pub(super) fn health(&self, states: &mut States, wave: &WaveSpec, after: &str) -> String {
        if wave.health.is_empty() {
            return after.to_owned();
        }
        let (i, n) = (wave.index, wave.name.as_str());
        let begin = names::wave(i, n, WaveStep::HealthBegin);
        let check = names::wave(i, n, WaveStep::HealthCheck);
        // With alarm checks, every round begins with Step Functions reading the alarms.
        let alarms = alarm_names(&wave.health);
        let round = if alarms.is_empty() {
            check.clone()
        } else {
            let read = names::wave(i, n, WaveStep::HealthAlarms);
            states.push(read.clone(), read_alarms(&alarms, &check));
            read
        };
        let healthy = names::wave(i, n, WaveStep::Healthy);
        let wait = names::wave(i, n, WaveStep::HealthWait);
        let health = health_path(i);
        let listed: Vec<String> = wave.health.iter().map(|c| c.probe.to_string()).collect();
        states.push(
            begin.clone(),
            Pass {
                comment: Some(format!(
                    "Wave {i}'s servers launched: its health checks begin now (each check's timeout counts from here; an \
                     operator's retry begins them again)."
                )),
                parameters: Some(json!({
                    "status": HealthStatus::Checking.as_str(),
                    "startedAt.$": paths::CONTEXT_STATE_ENTERED_TIME,
                    "rounds": 0,
                    "passed": [],
                    "nextWaitSeconds": 0,
                    "healthyAt": "",
                })),
                result: None,
                result_path: Some(health.clone()),
                transition: Transition::next(round.clone()),
            },
        );
        let wave_value = serde_json::to_value(wave).unwrap_or(Value::Null);
        states.push(
            check,
            self.task(
                Activity::CheckHealth,
                format!(
                    "One round of wave {i}'s health checks, from the worker inside the VPC: {}. HEALTHY once every check \
                     has passed; FAILED when a check has not passed within its timeout; CHECKING otherwise. Each probe's \
                     answer is recorded in the history.",
                    listed.join("; ")
                ),
                check_parameters(
                    json!({
                        "run.$": paths::RUN,
                        "wave": wave_value,
                        "state.$": paths::wave_state(i),
                        "heartbeatSeconds": self.plan.heartbeat_seconds,
                    }),
                    !alarms.is_empty(),
                ),
                paths::wave_state(i),
                healthy.clone(),
            ),
        );
        let (on_failed, policy) = match wave.on_failure {
            OnFailure::Stop => (
                names::wave(i, n, WaveStep::Failed),
                "a failed check stops the execution",
            ),
            OnFailure::Continue => (
                after.to_owned(),
                "a failed check is recorded and the next step runs (onFailure: continue)",
            ),
            OnFailure::Ask => (
                names::wave(i, n, WaveStep::Decide),
                "an operator decides: retry (the checks run again, nothing is launched), skip or stop (onFailure: ask)",
            ),
        };
        let status = format!("{health}.status");
        states.push(
            healthy,
            Choice {
                comment: Some(format!(
                    "Healthy: go on to {after:?}. Failed: {policy}. Still checking: wait and check again."
                )),
                choices: vec![
                    ChoiceRule::new(
                        Condition::string_equals(&status, HealthStatus::Healthy.as_str()),
                        after,
                    ),
                    ChoiceRule::new(
                        Condition::string_equals(&status, HealthStatus::Failed.as_str()),
                        on_failed,
                    ),
                ],
                default: Some(wait.clone()),
            },
        );
        states.push(
            wait,
            Wait {
                comment: Some(
                    "Waits until the next check is due (each check at its own interval, never past a deadline).".to_owned(),
                ),
                duration: WaitDuration::SecondsPath(format!("{health}.nextWaitSeconds")),
                transition: Transition::next(round),
            },
        );
        begin
    }

    /// With checks and `onFailure: ask`, the decision's rule that sends a retry after failed
    /// checks back to the checks (nothing is launched again): the checks' state is present
    /// only once the launch succeeded.
    pub(super) fn health_retry_rule(&self, wave: &WaveSpec) -> Option<ChoiceRule> {
        // The way home has no health checks (they are of the application in the recovery
        // region): a retry there always launches again.
        if wave.health.is_empty() || self.way == crate::contract::states::Way::Home {
            return None;
        }
        let (i, n) = (wave.index, wave.name.as_str());
        Some(ChoiceRule::new(
            Condition::And(vec![
                Condition::string_equals(paths::decision(i), crate::contract::decisions::RETRY),
                Condition::is_present(health_path(i)),
            ]),
            names::wave(i, n, WaveStep::HealthBegin),
        ))
    }
}

/// The check task's parameters; with alarm checks, also what the round's DescribeAlarms read.
fn check_parameters(mut parameters: Value, with_alarms: bool) -> Value {
    if with_alarms && let Some(map) = parameters.as_object_mut() {
        map.insert(
            "alarms.$".to_owned(),
            Value::String(paths::ALARMS.to_owned()),
        );
    }
    parameters
}

/// DescribeAlarms of the wave's alarms (metric alarms: composite ones need the permission on
/// `*`, see the README), kept to the list at `$.alarms`; an error is caught there too, and the
/// check task records it as the alarm checks' answer for the round (the next round reads
/// again).
fn read_alarms(names: &[String], check: &str) -> Task {
    Task {
        comment: Some(format!(
            "Reads the alarms the health checks name ({}); the check after it judges them.",
            names.join(", ")
        )),
        resource: DESCRIBE_ALARMS.to_owned(),
        parameters: Some(json!({"AlarmNames": names, "AlarmTypes": ["MetricAlarm"]})),
        result_selector: Some(json!({"MetricAlarms.$": "$.MetricAlarms"})),
        result_path: Some(paths::ALARMS.to_owned()),
        timeout_seconds: Some(DESCRIBE_ALARMS_TIMEOUT_SECONDS),
        heartbeat_seconds: None,
        retry: Vec::new(),
        catch: vec![Catcher {
            error_equals: vec![STATES_ALL.to_owned()],
            result_path: Some(paths::ALARMS.to_owned()),
            next: check.to_owned(),
        }],
        transition: Transition::next(check.to_owned()),
    }
}
