//! The layout of the waves ([`crate::graph`]) as states: a series one after another, side by
//! side parts as the branches of a Parallel state.
//!
//! Inside a branch, a failure cannot reach the machine's `Record failure` (a branch moves only
//! among its own states): it ends the branch in a Fail state that re-raises the caught error,
//! which fails the Parallel state (Step Functions then stops the other branches), whose Catch
//! hands the same error on, to `Record failure` or to the enclosing branch's failure. A branch
//! that ends well hands on the states of its waves (the first branch also those of the waves
//! before the Parallel state), and the Parallel state puts them together again under
//! `$.waves`, where the finish task reads every wave.

use serde_json::{Map, Value};

use super::ending::NO_CAUSE_GIVEN;
use super::{Generator, names};
use crate::asl::{
    Branch, Catcher, Choice, ChoiceRule, Condition, Fail, FailCause, FailField, Parallel, Pass,
    STATES_ALL, States, Transition,
};
use crate::contract::states::BranchStep;
use crate::contract::{WaveSpec, paths};
use crate::graph::Block;

impl Generator<'_> {
    /// The states of `block`; `after` is where it goes once it has ended, and `earlier` the
    /// waves that have ended before it starts.
    pub(super) fn block(&self, states: &mut States, block: &Block, after: &str, earlier: &[u32]) {
        match block {
            Block::Wave(i) => self.wave(states, self.wave_spec(*i), after),
            Block::Series(parts) => {
                let mut ended = earlier.to_vec();
                for (k, part) in parts.iter().enumerate() {
                    let next = parts
                        .get(k + 1)
                        .map_or_else(|| after.to_owned(), |p| self.entry(p));
                    self.block(states, part, &next, &ended);
                    ended.extend(part.waves());
                }
            }
            Block::Parallel(parts) => self.parallel(states, block, parts, after, earlier),
        }
    }

    /// The first state of a block.
    pub(super) fn entry(&self, block: &Block) -> String {
        match block {
            Block::Wave(i) => self.wave_entry(self.wave_spec(*i)),
            Block::Series(parts) => parts.first().map_or_else(String::new, |p| self.entry(p)),
            Block::Parallel(_) => parallel_name(&block.waves()),
        }
    }

    fn wave_spec(&self, index: u32) -> &WaveSpec {
        let waves = &self.plan.spec.waves;
        waves.iter().find(|w| w.index == index).unwrap_or(&waves[0])
    }

    fn parallel(
        &self,
        states: &mut States,
        block: &Block,
        parts: &[Block],
        after: &str,
        earlier: &[u32],
    ) {
        let mut selector = Map::new();
        let branches = parts
            .iter()
            .enumerate()
            .map(|(k, part)| {
                let own = part.waves();
                // The first branch also carries the waves that ended before the Parallel
                // state, so that the merged `$.waves` lacks none.
                let carried: Vec<u32> = if k == 0 {
                    earlier.iter().copied().chain(own.iter().copied()).collect()
                } else {
                    own.clone()
                };
                for w in &carried {
                    let key = paths::wave_key(*w);
                    selector.insert(format!("{key}.$"), Value::String(format!("$[{k}].{key}")));
                }
                self.branch(part, &carried)
            })
            .collect();
        let waves = block.waves();
        let described: Vec<String> = parts.iter().map(|p| self.describe_part(p)).collect();
        states.push(
            parallel_name(&waves),
            Parallel {
                comment: Some(format!(
                    "Runs {} side by side: {}. Ends when every branch has ended; a failure that stops the run stops the other \
                     branches, and the failure is recorded as any other.",
                    if parts.len() == 2 { "two branches".to_owned() } else { format!("{} branches", parts.len()) },
                    described.join("; ")
                )),
                branches,
                result_selector: Some(Value::Object(selector)),
                result_path: Some(paths::WAVES.to_owned()),
                retry: Vec::new(),
                catch: vec![Catcher {
                    error_equals: vec![STATES_ALL.to_owned()],
                    result_path: Some(paths::ERROR.to_owned()),
                    next: self.failure.clone(),
                }],
                transition: Transition::next(after),
            },
        );
    }

    /// One branch: its block, then a Pass handing on `carried` wave states, and the failure
    /// states that re-raise a caught error.
    fn branch(&self, part: &Block, carried: &[u32]) -> Branch {
        let own = part.waves();
        let done = branch_name(&own, BranchStep::Done);
        let failed = branch_name(&own, BranchStep::ErrorHasCause);
        let inner = Generator {
            failure: failed.clone(),
            ..*self
        };
        let mut states = States::default();
        inner.block(&mut states, part, &done, &[]);
        let mut handed_on = Map::new();
        for w in carried {
            let key = paths::wave_key(*w);
            handed_on.insert(format!("{key}.$"), Value::String(paths::wave_state(*w)));
        }
        states.push(
            done,
            Pass {
                comment: Some(
                    "The branch has ended: its waves' states go back to the Parallel state.".into(),
                ),
                parameters: Some(Value::Object(handed_on)),
                result: None,
                result_path: None,
                transition: Transition::End,
            },
        );
        for (name, state) in branch_failure(&own, failed) {
            states.push(name, state);
        }
        Branch {
            start_at: inner.entry(part),
            states,
        }
    }

    fn describe_part(&self, part: &Block) -> String {
        let list: Vec<String> = part
            .waves()
            .iter()
            .map(|&i| format!("{i} {}", self.wave_spec(i).name))
            .collect();
        format!(
            "wave{} {}",
            if list.len() == 1 { "" } else { "s" },
            list.join(", ")
        )
    }
}

/// How a branch fails: the caught error (at `$.error`) raised again, with its cause when it
/// has one (a Fail state reading a missing cause would fail with States.Runtime instead).
fn branch_failure(own: &[u32], check: String) -> Vec<(String, crate::asl::State)> {
    let with_cause = branch_name(own, BranchStep::Failed);
    let without = branch_name(own, BranchStep::FailedWithoutCause);
    let cause = paths::ERROR_CAUSE;
    vec![
        (
            check,
            Choice {
                comment: Some(
                    "A failure in this branch: it is raised again, to the Parallel state.".into(),
                ),
                choices: vec![
                    ChoiceRule::new(
                        Condition::negate(Condition::is_present(cause)),
                        without.clone(),
                    ),
                    ChoiceRule::new(Condition::is_string(cause), with_cause.clone()),
                ],
                default: Some(without.clone()),
            }
            .into(),
        ),
        (
            with_cause,
            Fail {
                comment: Some(
                    "Fails the branch, and so the Parallel state, with the caught error.".into(),
                ),
                error: FailField::ErrorPath(paths::ERROR_NAME.to_owned()),
                cause: FailCause::CausePath(cause.to_owned()),
            }
            .into(),
        ),
        (
            without,
            Fail {
                comment: Some(
                    "Fails the branch with the caught error, which carried no cause.".into(),
                ),
                error: FailField::ErrorPath(paths::ERROR_NAME.to_owned()),
                cause: FailCause::Cause(NO_CAUSE_GIVEN.to_owned()),
            }
            .into(),
        ),
    ]
}

/// `Waves 2, 3 side by side` (the contract spells it).
pub fn parallel_name(waves: &[u32]) -> String {
    names::parallel(waves)
}

fn branch_name(waves: &[u32], step: BranchStep) -> String {
    names::branch(waves, step)
}
