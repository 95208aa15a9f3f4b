//! [`StateMachine::validate`]: what the local engines let through and AWS refuses (a `Next`
//! that names no state, unreachable states, a misplaced States.ALL, ...).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{
    MAX_STATE_NAME_CHARS, Parallel, Pass, STATES_ALL, State, StateMachine, States, Task,
    Transition, Wait,
};

/// One thing wrong with a machine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AslError {
    #[error("state name {0:?} is used more than once")]
    DuplicateState(String),
    #[error("StartAt names {0:?}, which is not a state")]
    UnknownStartAt(String),
    #[error("state {state:?}: {field} names {target:?}, which is not a state")]
    DanglingTarget {
        state: String,
        field: &'static str,
        target: String,
    },
    #[error("state {0:?} cannot be reached from StartAt")]
    Unreachable(String),
    #[error("no terminal state (Succeed, Fail or End: true) can be reached")]
    NoTerminalState,
    #[error(
        "state {state:?}: {field}[{index}]: States.ALL must be alone in ErrorEquals and in the last entry"
    )]
    StatesAllNotAloneAndLast {
        state: String,
        field: &'static str,
        index: usize,
    },
    #[error("state {state:?}: {field}[{index}]: ErrorEquals is empty")]
    EmptyErrorEquals {
        state: String,
        field: &'static str,
        index: usize,
    },
    #[error(
        "state name {name:?} is {chars} characters long; at most {MAX_STATE_NAME_CHARS} are allowed"
    )]
    NameTooLong { name: String, chars: usize },
    #[error("state {0:?}: a Choice needs at least one rule")]
    EmptyChoice(String),
    #[error(
        "state {state:?}: HeartbeatSeconds {heartbeat} must be less than TimeoutSeconds {timeout}"
    )]
    HeartbeatNotBelowTimeout {
        state: String,
        heartbeat: u32,
        timeout: u32,
    },
}

impl StateMachine {
    /// Every problem found, in a stable order; empty when the machine is sound.
    pub fn validate(&self) -> Vec<AslError> {
        let mut errors = Vec::new();
        let mut every_name = BTreeSet::new();
        validate_scope(&self.start_at, &self.states, &mut every_name, &mut errors);
        errors
    }
}

/// The machine, or one branch of a Parallel state: its states move only among themselves,
/// while a name must be unique in the whole machine (`every_name`).
fn validate_scope<'a>(
    start_at: &'a str,
    states: &'a States,
    every_name: &mut BTreeSet<&'a str>,
    errors: &mut Vec<AslError>,
) {
    let names = check_names(start_at, states, every_name, errors);
    for (name, state) in &states.0 {
        check_state(name, state, &names, errors);
        if let State::Parallel(parallel) = state {
            for branch in &parallel.branches {
                validate_scope(&branch.start_at, &branch.states, every_name, errors);
            }
        }
    }
    check_reachability(start_at, states, errors);
}

/// Duplicate and overlong names, and a StartAt that names no state; returns the scope's names.
fn check_names<'a>(
    start_at: &str,
    states: &'a States,
    every_name: &mut BTreeSet<&'a str>,
    errors: &mut Vec<AslError>,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    for (name, _) in &states.0 {
        seen.insert(name.as_str());
        if !every_name.insert(name.as_str()) {
            errors.push(AslError::DuplicateState(name.clone()));
        }
        let chars = name.chars().count();
        if chars > MAX_STATE_NAME_CHARS {
            errors.push(AslError::NameTooLong {
                name: name.clone(),
                chars,
            });
        }
    }
    if !seen.contains(start_at) {
        errors.push(AslError::UnknownStartAt(start_at.to_owned()));
    }
    seen
}

/// Reachability over every edge (Next, Default, choice rules, catchers): every state reached
/// from StartAt, and some terminal state among them.
fn check_reachability(start_at: &str, states: &States, errors: &mut Vec<AslError>) {
    let by_name: BTreeMap<&str, &State> = states.0.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let mut reached = BTreeSet::new();
    let mut queue = VecDeque::new();
    if by_name.contains_key(start_at) {
        queue.push_back(start_at);
    }
    while let Some(name) = queue.pop_front() {
        if !reached.insert(name) {
            continue;
        }
        if let Some(state) = by_name.get(name) {
            for (_, target) in targets(state) {
                if by_name.contains_key(target) && !reached.contains(target) {
                    queue.push_back(target);
                }
            }
        }
    }
    let mut reported = BTreeSet::new();
    for (name, _) in &states.0 {
        if !reached.contains(name.as_str()) && reported.insert(name.as_str()) {
            errors.push(AslError::Unreachable(name.clone()));
        }
    }
    if !reached
        .iter()
        .any(|name| by_name.get(name).is_some_and(|s| is_terminal(s)))
    {
        errors.push(AslError::NoTerminalState);
    }
}

/// One state's own problems: targets that name no state, Retry and Catch lists, a heartbeat
/// not below the timeout, a Choice without rules.
fn check_state(name: &str, state: &State, names: &BTreeSet<&str>, errors: &mut Vec<AslError>) {
    for (field, target) in targets(state) {
        if !names.contains(target) {
            errors.push(AslError::DanglingTarget {
                state: name.to_owned(),
                field,
                target: target.to_owned(),
            });
        }
    }
    match state {
        State::Task(task) => {
            let retry = task.retry.iter().map(|r| &r.error_equals);
            check_error_lists(name, "Retry", retry, errors);
            let catch = task.catch.iter().map(|c| &c.error_equals);
            check_error_lists(name, "Catch", catch, errors);
            if let (Some(heartbeat), Some(timeout)) = (task.heartbeat_seconds, task.timeout_seconds)
                && heartbeat >= timeout
            {
                errors.push(AslError::HeartbeatNotBelowTimeout {
                    state: name.to_owned(),
                    heartbeat,
                    timeout,
                });
            }
        }
        State::Parallel(parallel) => {
            let retry = parallel.retry.iter().map(|r| &r.error_equals);
            check_error_lists(name, "Retry", retry, errors);
            let catch = parallel.catch.iter().map(|c| &c.error_equals);
            check_error_lists(name, "Catch", catch, errors);
        }
        State::Choice(choice) if choice.choices.is_empty() => {
            errors.push(AslError::EmptyChoice(name.to_owned()));
        }
        _ => {}
    }
}

fn is_terminal(state: &State) -> bool {
    match state {
        State::Succeed(_) | State::Fail(_) => true,
        State::Task(Task { transition, .. })
        | State::Wait(Wait { transition, .. })
        | State::Pass(Pass { transition, .. })
        | State::Parallel(Parallel { transition, .. }) => *transition == Transition::End,
        State::Choice(_) => false,
    }
}

/// Every state name a state can move to, with the field that names it.
fn targets(state: &State) -> Vec<(&'static str, &str)> {
    fn transition<'a>(t: &'a Transition, out: &mut Vec<(&'static str, &'a str)>) {
        if let Transition::Next(next) = t {
            out.push(("Next", next.as_str()));
        }
    }
    let mut out = Vec::new();
    match state {
        State::Task(task) => {
            transition(&task.transition, &mut out);
            out.extend(task.catch.iter().map(|c| ("Catch.Next", c.next.as_str())));
        }
        State::Parallel(parallel) => {
            transition(&parallel.transition, &mut out);
            out.extend(
                parallel
                    .catch
                    .iter()
                    .map(|c| ("Catch.Next", c.next.as_str())),
            );
        }
        State::Wait(wait) => transition(&wait.transition, &mut out),
        State::Pass(pass) => transition(&pass.transition, &mut out),
        State::Choice(choice) => {
            out.extend(
                choice
                    .choices
                    .iter()
                    .map(|r| ("Choices.Next", r.next.as_str())),
            );
            if let Some(default) = &choice.default {
                out.push(("Default", default.as_str()));
            }
        }
        State::Succeed(_) | State::Fail(_) => {}
    }
    out
}

fn check_error_lists<'a>(
    state: &str,
    field: &'static str,
    lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
    errors: &mut Vec<AslError>,
) {
    let count = lists.len();
    for (index, list) in lists.enumerate() {
        if list.is_empty() {
            errors.push(AslError::EmptyErrorEquals {
                state: state.to_owned(),
                field,
                index,
            });
        }
        let has_all = list.iter().any(|e| e == STATES_ALL);
        if has_all && (list.len() != 1 || index + 1 != count) {
            errors.push(AslError::StatesAllNotAloneAndLast {
                state: state.to_owned(),
                field,
                index,
            });
        }
    }
}
