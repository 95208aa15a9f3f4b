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

use crate::asl::{Catcher, Retrier, STATES_ALL, StateMachine, States, Task, Transition};
use crate::budget;
use crate::contract::states::{WaveStep, Way};
use crate::contract::{
    Activity, ActivityArnError, ActivityArns, CONTRACT_VERSION, ErrorName, Mode,
    PREFLIGHT_TARGETS_KEY, RETRYABLE_STATES_ERRORS, WaveSpec, paths,
};
use crate::graph;
use crate::plan::Plan;

mod actions;
mod branches;
mod ending;
mod failback;
mod health;
mod input;
mod network;
mod wave;

pub use branches::parallel_name;

pub use ending::NO_CAUSE_GIVEN;

/// The form of `pointInTime` the input check accepts besides IsTimestamp: UTC with an
/// upper-case `T` and `Z`, as AWS's IsTimestamp requires.
pub const POINT_IN_TIME_PATTERN: &str = "*-*-*T*:*:*Z";

/// The state names, spelled once by the contract (the worker and the CLI read them back),
/// under the name the generator has always used for them.
pub use crate::contract::states as names;

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

/// Builds the whole machine. The caller validates it ([`crate::compile_plan`] does).
pub fn generate(plan: &Plan, resources: &ActivityResources) -> StateMachine {
    let g = Generator {
        plan,
        resources,
        failure: names::RECORD_FAILURE.to_owned(),
        way: Way::Out,
    };
    let layout = graph::layout(&plan.spec);
    let mut states = States::default();
    g.input_check(&mut states);
    let first = if plan.spec.waves.is_empty() {
        names::FINISH.to_owned()
    } else {
        g.entry(&layout.root)
    };
    g.preflight(&mut states, names::WHICH_WAY.to_owned());
    g.failback_path(&mut states, &first);
    if !plan.spec.waves.is_empty() {
        g.block(&mut states, &layout.root, names::FINISH, &[]);
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

#[derive(Clone)]
struct Generator<'a> {
    plan: &'a Plan,
    resources: &'a ActivityResources,
    /// Where a caught failure goes: `Record failure`, or inside a Parallel state's branch the
    /// branch's own failure (see [`branches`]).
    failure: String,
    /// Whose waves' states it makes: the plan's (out) or a FAILBACK's (home, see
    /// [`failback`]); the way names the states and picks the actions.
    way: Way,
}

impl Generator<'_> {
    /// A state of one of the waves on the generator's way.
    fn wave_state(&self, wave: &WaveSpec, step: WaveStep) -> String {
        names::wave_on(self.way, wave.index, &wave.name, step)
    }

    /// Where a wave's launch begins (after its pause and `before` actions): its approval
    /// gate, or its start.
    fn wave_start(&self, wave: &WaveSpec) -> String {
        let step = if wave.approval.is_some() {
            WaveStep::Approve
        } else {
            WaveStep::Start
        };
        self.wave_state(wave, step)
    }

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
        let order = if spec.is_graph() {
            "as a graph, independent waves side by side (the plan's dependsOn; see its runbook)"
        } else {
            "in order"
        };
        format!(
            "drs-waves recovery plan {name:?}.{description} {count} wave(s) {order}: {list}. \
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
            result_selector: None,
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
                next: self.failure.clone(),
            }],
            transition: Transition::Next(next),
        }
    }

    fn preflight(&self, states: &mut States, next: String) {
        let spec = &self.plan.spec;
        let servers: usize = spec.waves.iter().map(|w| w.server_ids.len()).sum();
        let tagged = spec.waves.iter().filter(|w| !w.tags.is_empty()).count();
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
                    // Only a plan that asks for it: the others compile as before.
                    if self.plan.failback_stop_and_terminate
                        && let Some(map) = parameters.as_object_mut()
                    {
                        map.insert(
                            crate::contract::PREFLIGHT_FAILBACK_KEY.to_owned(),
                            json!({"stopAndTerminate": true}),
                        );
                    }
                    parameters
                },
                paths::RUN.to_owned(),
                next,
            ),
        );
    }
}

#[cfg(test)]
mod tests;
