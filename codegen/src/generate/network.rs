//! The states of a `recoverNetwork` action: DRS's StartSourceNetworkRecovery, started and
//! checked by the worker like a wave's launch. `<action>` (start-network: the job's ID goes
//! to `$.action` at once, and into the history before the task answers), then
//! `<action> / wait` (the state's `nextWaitSeconds`), `<action> / check` (check-network:
//! DescribeJobs on the job) and `<action> / status` (a Choice: SUCCEEDED goes on, FAILED fails
//! the action, anything else waits again). A failure goes where the other kinds' go (the
//! caller adds `<action> / failed` and, with `ask`, the decision): on (`onFailure:
//! continue`), to the failure target, or to an operator.

use serde_json::{Value, json};

use super::Generator;
use super::actions::{ACTION_RESULT, catch_to, describe, state_name};
use crate::asl::{Choice, ChoiceRule, Condition, States, Transition, Wait, WaitDuration};
use crate::contract::states::ActionStep;
use crate::contract::{Activity, NetworkStatus, WaveSpec, paths};
use crate::plan::actions::Action;

impl Generator<'_> {
    /// The action's states; `targets` is (where it goes when done, where a failure goes).
    pub(super) fn network_action(
        &self,
        states: &mut States,
        wave: &WaveSpec,
        a: &Action,
        source_networks: &[String],
        (next, on_failed): (&str, &str),
    ) {
        let name = |step| state_name(self.way, wave, a, step);
        let run = name(ActionStep::Run);
        let input = |with_state: bool| {
            let mut p = json!({
                "run.$": paths::RUN,
                "wave": serde_json::to_value(wave).unwrap_or(Value::Null),
                "phase": a.phase.word(),
                "position": a.position,
                "sourceNetworks": source_networks,
                "timeoutSeconds": a.timeout_seconds,
            });
            if with_state && let Some(map) = p.as_object_mut() {
                map.insert(
                    "state.$".to_owned(),
                    Value::String(ACTION_RESULT.to_owned()),
                );
            }
            p
        };
        let mut start = self.task(
            Activity::StartNetwork,
            describe(a),
            input(false),
            ACTION_RESULT.to_owned(),
            name(ActionStep::Wait),
        );
        start.catch = vec![catch_to(on_failed)];
        states.push(run.clone(), start);
        states.push(
            name(ActionStep::Wait),
            Wait {
                comment: Some("Waits until the network recovery's next check is due.".to_owned()),
                duration: WaitDuration::SecondsPath(format!("{ACTION_RESULT}.nextWaitSeconds")),
                transition: Transition::next(name(ActionStep::Poll)),
            },
        );
        let mut check = self.task(
            Activity::CheckNetwork,
            format!(
                "DescribeJobs on the network recovery's job: SUCCEEDED once {} LAUNCHED; FAILED when one failed or after {} s.",
                source_networks.join(", "),
                a.timeout_seconds
            ),
            input(true),
            ACTION_RESULT.to_owned(),
            name(ActionStep::Status),
        );
        check.catch = vec![catch_to(on_failed)];
        states.push(name(ActionStep::Poll), check);
        let status = format!("{ACTION_RESULT}.status");
        states.push(
            name(ActionStep::Status),
            Choice {
                comment: Some(
                    "Succeeded: go on. Failed: the action fails. In progress: wait and check again."
                        .to_owned(),
                ),
                choices: vec![
                    ChoiceRule::new(
                        Condition::string_equals(&status, NetworkStatus::Succeeded.as_str()),
                        next,
                    ),
                    ChoiceRule::new(
                        Condition::string_equals(&status, NetworkStatus::Failed.as_str()),
                        on_failed,
                    ),
                ],
                default: Some(name(ActionStep::Wait)),
            },
        );
    }
}
