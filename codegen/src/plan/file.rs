//! The plan file as written: what serde reads (unknown fields refused) and what
//! `drs-codegen schema plan` prints as its JSON Schema. Nothing here is checked beyond its
//! type: [`super::resolve`](fn@super::resolve) does that.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::actions::ActionFile;
use crate::contract::OnFailure;

/// A drs-waves recovery plan: which source servers to recover, in which waves and order, with
/// which limits and failure policy. `drs-codegen schema plan` prints this type's JSON Schema.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
// `waves` is defaulted only so that a missing list gets the same message as an empty one.
#[schemars(title = "drs-waves recovery plan", extend("required" = ["name", "waves"]))]
pub struct PlanFile {
    /// The plan's name: letters, digits, '-' and '_'. Part of resource names, and what a
    /// RECOVERY execution must name in `confirm`.
    #[schemars(pattern(r"^[A-Za-z0-9_-]{1,40}$"))]
    pub name: String,
    /// What the plan recovers, in words (shown in the console and the runbook).
    #[serde(default)]
    pub description: Option<String>,
    /// Terminate a drill's recovery instances when the execution ends (default false).
    #[serde(default)]
    pub terminate_drill_instances: Option<bool>,
    /// Override of the whole execution's time limit, in minutes (fractions allowed). By default
    /// it is derived from the waves' launch timeouts. Give this or `executionTimeoutSeconds`.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub execution_timeout_minutes: Option<f64>,
    /// Override of the whole execution's time limit, in seconds.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub execution_timeout_seconds: Option<i64>,
    /// Recovery time objective, in minutes (fractions allowed): from the execution's start to
    /// the last required server of the last wave LAUNCHED. The report shows the achieved RTO
    /// against it (PASS or FAIL); nothing stops an execution that passes it.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rto_minutes: Option<f64>,
    /// Recovery point objective, in minutes: the oldest acceptable snapshot a required server
    /// launches from. The report compares the worst one with it.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rpo_minutes: Option<f64>,
    /// Plan-wide defaults for every wave; each wave may override them.
    #[serde(default)]
    pub defaults: Option<WaveDefaults>,
    /// Settings of the worker's tasks.
    #[serde(default)]
    pub tasks: Option<TaskSettings>,
    /// The waves, recovered in this order.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub waves: Vec<WaveFile>,
    /// How a FAILBACK execution brings the plan's last RECOVERY home.
    #[serde(default)]
    pub failback: Option<FailbackFile>,
}

/// The way home (a FAILBACK execution).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FailbackFile {
    /// The order the waves come home in, by name, each wave exactly once. Default: the plan's
    /// order reversed (the web tier leaves the recovery region first, the databases last).
    #[serde(default)]
    pub order: Option<Vec<String>>,
    /// At the end of a FAILBACK, once every wave has its verdict: StopFailback and terminate
    /// the recovery instances that came home (default false: they keep running).
    #[serde(default)]
    pub stop_and_terminate: Option<bool>,
}

/// Limits and failure policy shared by the waves that do not set their own.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaveDefaults {
    /// How long a wave may take to launch, in minutes (fractions allowed: 0.25 is 15 s).
    /// Give this or `launchTimeoutSeconds`. Built-in default: 30 minutes.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub launch_timeout_minutes: Option<f64>,
    /// How long a wave may take to launch, in seconds.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub launch_timeout_seconds: Option<i64>,
    /// What a failed wave does: stop the execution (default), continue with the next wave, or
    /// ask an operator (`drs-waves decide`: retry, skip or stop).
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// Bounds of the adaptive wait between checks of a launching wave.
    #[serde(default)]
    pub polling: Option<PollingFile>,
    /// An approval gate before every wave (a wave may turn it off with `before: false`).
    #[serde(default)]
    pub approval: Option<ApprovalFile>,
    /// With `onFailure: ask`: how long a decision waits and whom it tells.
    #[serde(default)]
    pub decision: Option<DecisionFile>,
    /// With `onFailure: ask`: how many launches of a wave an operator may ask for, the first
    /// included (default 1: no retry).
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: Option<i64>,
    /// Where every wave's source servers live, unless a wave says otherwise.
    #[serde(default)]
    pub account: Option<AccountFile>,
    /// Actions run in order before each wave launches (a wave's own list replaces it).
    #[serde(default)]
    pub before: Option<Vec<ActionFile>>,
    /// Actions run in order after each wave succeeded (a wave's own list replaces it).
    #[serde(default)]
    pub after: Option<Vec<ActionFile>>,
    /// Health checks of every wave that does not list its own.
    #[serde(default)]
    pub health: Option<Vec<super::health::HealthFile>>,
}

/// An approval gate: the wave starts only when an operator approves (`drs-waves approve`);
/// `drs-waves stop` ends the execution, cleaned up as a cancel.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalFile {
    /// Hold the wave until an operator approves it. `false` turns off a gate of `defaults`.
    pub before: bool,
    /// How long the gate waits for an answer, in minutes (default 240, at most 7 days); then
    /// the execution fails naming the gate, and no later wave starts.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_minutes: Option<f64>,
    /// An SNS topic ARN told when the gate opens (what to run to answer it).
    #[serde(default)]
    #[schemars(pattern(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"))]
    pub notify: Option<String>,
}

/// A decision after a failed wave (`onFailure: ask`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DecisionFile {
    /// How long the decision waits for an answer, in minutes (default 240, at most 7 days);
    /// then the execution fails naming it.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_minutes: Option<f64>,
    /// An SNS topic ARN told when a decision waits.
    #[serde(default)]
    #[schemars(pattern(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"))]
    pub notify: Option<String>,
}

/// Polling bounds; each field may be given alone (the rest come from the defaults).
/// `minWaitSeconds` equal to `maxWaitSeconds` polls at a fixed interval.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PollingFile {
    /// Shortest wait between two checks, in seconds (built-in default 30).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub min_wait_seconds: Option<i64>,
    /// Longest wait between two checks, in seconds (built-in default 300).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_wait_seconds: Option<i64>,
    /// How long a launch is expected to take, in seconds: the adaptive wait is long before
    /// it and short near it (built-in default 600).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub expected_launch_seconds: Option<i64>,
}

/// Settings of every activity task of the plan's machine.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaskSettings {
    /// HeartbeatSeconds of every task: a task whose worker stops heartbeating this long is
    /// retried (built-in default 60).
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub heartbeat_seconds: Option<i64>,
    /// HeartbeatSeconds of the approval gates and decisions (built-in default 300). Every
    /// worker heartbeats the gate tokens recorded in the history; a gate whose token was lost
    /// before it was recorded times out its heartbeat and opens again with a fresh token, so
    /// this is how long an operator may have to wait for a lost gate to come back.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub gate_heartbeat_seconds: Option<i64>,
}

/// One wave of the plan.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaveFile {
    /// The wave's name: letters, digits, '-' and '_'; unique in the plan. The console's state
    /// names are built from it.
    #[schemars(pattern(r"^[A-Za-z0-9_-]{1,40}$"))]
    pub name: String,
    /// What the wave recovers, in words.
    #[serde(default)]
    pub description: Option<String>,
    /// Which source servers the wave recovers.
    #[serde(default)]
    pub servers: Option<ServersFile>,
    /// Source servers whose failure does not fail the wave. Each must be one of `servers.ids`,
    /// or, when the wave selects by tags, is expected to carry them.
    #[serde(default)]
    #[schemars(inner(pattern(r"^s-[A-Za-z0-9]{17}$")))]
    pub optional: Vec<String>,
    /// Overrides `defaults.launchTimeoutMinutes`.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub launch_timeout_minutes: Option<f64>,
    /// Overrides `defaults.launchTimeoutSeconds`.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub launch_timeout_seconds: Option<i64>,
    /// Overrides `defaults.onFailure`.
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// Overrides `defaults.approval`.
    #[serde(default)]
    pub approval: Option<ApprovalFile>,
    /// Overrides `defaults.decision`.
    #[serde(default)]
    pub decision: Option<DecisionFile>,
    /// Overrides `defaults.maxAttempts`.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: Option<i64>,
    /// This wave's recovery time objective, in minutes: from the execution's start (not the
    /// wave's) to the wave's last required server LAUNCHED. At most the plan's `rtoMinutes`
    /// and at least an earlier wave's (waves run in order).
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub rto_minutes: Option<f64>,
    /// Overrides fields of `defaults.polling`.
    #[serde(default)]
    pub polling: Option<PollingFile>,
    /// The names of the waves that must end before this one starts (succeeded, failed with
    /// `onFailure: continue`, or skipped by an operator). Without it a wave waits for the wave
    /// before it; `[]` starts it at once. Waves with nothing between them run at the same time.
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
    /// A pause before the wave, once the waves it waits for have ended and before its `before`
    /// actions and approval gate (a Step Functions Wait state; a DRS recovery plan's WAIT
    /// step). In minutes or `pauseBeforeSeconds`, not both.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub pause_before_minutes: Option<f64>,
    /// The pause in seconds.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub pause_before_seconds: Option<i64>,
    /// Overrides `defaults.account`: where this wave's source servers live.
    #[serde(default)]
    pub account: Option<AccountFile>,
    /// Actions run in order before the wave launches (overrides `defaults.before`).
    #[serde(default)]
    pub before: Option<Vec<ActionFile>>,
    /// Actions run in order after the wave succeeded (overrides `defaults.after`).
    #[serde(default)]
    pub after: Option<Vec<ActionFile>>,
    /// What must answer after the wave's launch before the wave is done and a wave that
    /// depends on it may start (overrides `defaults.health`; `[]` turns them off).
    #[serde(default)]
    pub health: Option<Vec<super::health::HealthFile>>,
}

/// Where a wave's source servers live: the DRS of another account (through a role the worker
/// assumes) and/or another region. Neither given: the worker's own account and region.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccountFile {
    /// The role the worker assumes for every DRS call of the wave
    /// (`arn:aws:iam::<account>:role/<name>`; `cdk/role-template` is the role to create there).
    #[serde(default)]
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"))]
    pub role_arn: Option<String>,
    /// The region of the wave's DRS (`eu-west-1`).
    #[serde(default)]
    #[schemars(pattern(r"^[a-z]{2}(-[a-z]+)+-[0-9]$"))]
    pub region: Option<String>,
    /// The external ID the role's trust policy requires (with `roleArn` only).
    #[serde(default)]
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
}

/// A wave's server selector: explicit IDs, tags, or both (the union).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServersFile {
    /// Source server IDs: `s-` followed by 17 letters or digits.
    #[serde(default)]
    #[schemars(inner(pattern(r"^s-[A-Za-z0-9]{17}$")))]
    pub ids: Vec<String>,
    /// Every source server that carries all of these tags, resolved when the execution runs
    /// (so servers added later are included).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}
