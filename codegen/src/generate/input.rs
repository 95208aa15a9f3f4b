//! The first states: the Choice on the execution input, the point-in-time check, and the
//! Pass states that turn a refused input into a named failure.

use serde_json::json;

use super::{Generator, POINT_IN_TIME_PATTERN, names};
use crate::asl::{Choice, ChoiceRule, Condition, Pass, States, Transition};
use crate::contract::{ErrorName, Mode, paths};

impl Generator<'_> {
    /// The Choice on the execution's mode and confirmation, then the point-in-time check and
    /// the refusals.
    pub(super) fn input_check(&self, states: &mut States) {
        let name = self.plan_name();
        let mode = paths::INPUT_MODE;
        let confirm = paths::INPUT_CONFIRM;
        let (drill, recovery) = (Mode::Drill.as_str(), Mode::Recovery.as_str());
        let failback = Mode::Failback.as_str();
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
                    // A FAILBACK names the plan too; it launches from the data replicated back,
                    // so no pointInTime applies (preflight refuses one).
                    ChoiceRule::new(
                        Condition::And(vec![
                            Condition::string_equals(mode, failback),
                            Condition::is_present(confirm),
                            Condition::string_equals(confirm, name),
                        ]),
                        names::PREFLIGHT,
                    ),
                    ChoiceRule::new(Condition::string_equals(mode, failback), names::RECOVERY_NOT_CONFIRMED),
                ],
                default: Some(names::INPUT_REJECTED.to_owned()),
            },
        );
        Self::point_in_time_check(states);
        self.input_refusals(states);
    }

    /// An optional `pointInTime` must be a UTC timestamp; anything else is refused by name.
    fn point_in_time_check(states: &mut States) {
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
    }

    /// The failures of an input the first Choice refused: a RECOVERY without its confirmation,
    /// and anything else.
    fn input_refusals(&self, states: &mut States) {
        let name = self.plan_name();
        let (drill, recovery) = (Mode::Drill.as_str(), Mode::Recovery.as_str());
        let failback = Mode::Failback.as_str();
        states.push(
            names::RECOVERY_NOT_CONFIRMED,
            Pass {
                comment: Some("A RECOVERY or a FAILBACK launches production instances, so it must name the plan in confirm.".into()),
                parameters: None,
                result: Some(json!({
                    "Error": ErrorName::RecoveryNotConfirmed.as_str(),
                    "Cause": format!(
                        "A {recovery} (or a {failback}) launches production instances, so its input must name the plan again: \
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
                        "The execution input must be {{\"mode\": \"{drill}\"}} for a drill, \
                         {{\"mode\": \"{failback}\", \"confirm\": \"{name}\"}} to bring a recovery home, or \
                         {{\"mode\": \"{recovery}\", \"confirm\": \"{name}\"}} for a recovery. Nothing was launched."
                    ),
                })),
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(names::RECORD_FAILURE),
            },
        );
    }
}
