//! The end of the machine: the finish task and its Succeed, and the failure path (record the
//! failure, then fail with the caught error).

use serde_json::json;

use super::{Generator, names};
use crate::asl::{
    Catcher, Choice, ChoiceRule, Condition, Fail, FailCause, FailField, STATES_ALL, State, States,
    Succeed,
};
use crate::contract::{Activity, paths};

impl Generator<'_> {
    pub(super) fn finish(&self, states: &mut States) {
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

    pub(super) fn failure_path(&self, states: &mut States) {
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
