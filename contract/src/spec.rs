//! What an execution is asked to do: the execution input, and the plan (every wave with its
//! defaults applied) as the generator renders it into the machine and preflight reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an execution does: a drill launches drill instances; a recovery launches production
/// recovery instances and must name the plan in `confirm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Drill,
    Recovery,
    /// Brings a RECOVERY home: each recovered server's recovery instance launches its
    /// original machine (DRS StartFailbackLaunch), the waves in reverse order. Must name the
    /// plan in `confirm`.
    Failback,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Drill, Mode::Recovery, Mode::Failback]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Drill => "DRILL",
            Mode::Recovery => "RECOVERY",
            Mode::Failback => "FAILBACK",
        }
    }
}

/// The input of StartExecution: `{"mode": "DRILL"}` or
/// `{"mode": "RECOVERY", "confirm": "<plan name>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[cfg_attr(feature = "schema", schemars(title = "drs-waves execution input"))]
pub struct ExecutionInput {
    /// DRILL launches drill instances (what schedules start); RECOVERY launches production
    /// recovery instances.
    pub mode: Mode,
    /// Required for RECOVERY and FAILBACK: the plan's name, typed again as a confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    /// FAILBACK only: the RECOVERY to bring home (its execution ARN or name); without it, the
    /// plan's last RECOVERY, which must have SUCCEEDED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<String>,
    /// Launch every server from its latest recovery snapshot at or before this moment (RFC 3339,
    /// e.g. `2026-11-27T03:00:00Z`): the whole application comes back from one consistent point
    /// in time (the ransomware case). Not in the future. Without it each server launches from
    /// its latest snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<String>,
    /// Who started the execution (an IAM ARN): the operator CLI fills it in from
    /// sts:GetCallerIdentity; the history and the report show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
}

/// What a wave does when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Fail the execution: later waves never start.
    #[default]
    Stop,
    /// Record the failure and go on with the next wave.
    Continue,
    /// Wait for an operator's decision (`drs-waves decide`): retry the servers that did not
    /// launch (up to the wave's `maxAttempts`), skip the wave, or stop.
    Ask,
}

/// An approval gate before a wave: the wave starts only when an operator approves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalGate {
    /// How long the gate waits for an answer; then the execution fails naming the gate.
    pub timeout_seconds: u32,
    /// An SNS topic ARN told that the gate is waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

/// Bounds of the adaptive wait between two checks of a launching wave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PollingBounds {
    /// Shortest wait between checks, in seconds.
    pub min_wait_seconds: u32,
    /// Longest wait between checks, in seconds.
    pub max_wait_seconds: u32,
    /// How long a launch is expected to take; waits are long before it and short near it.
    pub expected_launch_seconds: u32,
}

/// One wave as the worker needs it, every default applied. Rendered into the task input by
/// the generator as a constant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WaveSpec {
    /// 1-based position in the plan.
    pub index: u32,
    pub name: String,
    /// Explicit source server IDs.
    #[serde(default)]
    pub server_ids: Vec<String>,
    /// Every source server carrying all of these tags (resolved at run time).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Servers whose failure does not fail the wave.
    #[serde(default)]
    pub optional: Vec<String>,
    pub launch_timeout_seconds: u32,
    pub on_failure: OnFailure,
    pub polling: PollingBounds,
    /// An approval gate before the wave starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalGate>,
    /// How many launches of the wave an operator may ask for with `onFailure: ask` (the first
    /// included); 1 without retries.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub max_attempts: u32,
    /// With `onFailure: ask`: how long the decision waits for an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_timeout_seconds: Option<u32>,
    /// With `onFailure: ask`: an SNS topic ARN told that a decision is waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_notify: Option<String>,
    /// The waves (by index) that must end before this one starts, as the plan's `dependsOn`
    /// named them. Absent: the wave before it (so a plan written before `dependsOn` existed
    /// compiles to the same machine); empty: the wave starts at once. See
    /// [`PlanSpec::dependencies`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<u32>>,
    /// Where the wave's source servers live; absent: the account and region the worker runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<WaveAccount>,
    /// What must answer after the wave's launch before the wave is done (the plan's
    /// `health`); empty: the wave is done when its servers launch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<crate::HealthCheck>,
    /// Whether the check that finds the wave launched lists its recovered servers in the
    /// wave's state ([`crate::WaveState::recovered`]): set when the wave has after-actions,
    /// which get them (recovery instance, EC2 instance, private IPs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lists_recovered: bool,
    /// A pause before the wave (the plan's `pauseBeforeMinutes`): a Wait state between the end
    /// of the waves it waits for and its `before` actions. A DRS recovery plan's WAIT step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_before_seconds: Option<u32>,
}

/// The account and region a wave's servers replicate to, reached through a role the worker
/// assumes (STS AssumeRole) for every DRS call of the wave.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveAccount {
    /// The IAM role to assume (`arn:aws:iam::<account>:role/<name>`); absent: the worker's own
    /// credentials (a wave in another region of the same account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The region of the wave's DRS; absent: the worker's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The external ID the role's trust policy requires, when it requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl WaveAccount {
    /// The 12-digit account ID in the role's ARN, when there is a role.
    pub fn account_id(&self) -> Option<&str> {
        let arn = self.role_arn.as_deref()?;
        arn.split(':').nth(4).filter(|a| !a.is_empty())
    }

    /// `123456789012 eu-west-1` for a person: what is not given reads "this account" or
    /// "this region".
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.account_id().unwrap_or("this account"),
            self.region.as_deref().unwrap_or("this region")
        )
    }
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// The whole plan as preflight needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanSpec {
    pub name: String,
    /// Terminate a drill's recovery instances when the execution ends.
    pub terminate_drill_instances: bool,
    pub waves: Vec<WaveSpec>,
}

impl PlanSpec {
    /// The waves (by index) that wave `index` waits for: its `dependsOn`, or else the wave
    /// before it.
    pub fn dependencies(&self, index: u32) -> Vec<u32> {
        let Some(wave) = self.waves.iter().find(|w| w.index == index) else {
            return Vec::new();
        };
        match &wave.depends_on {
            Some(deps) => deps.clone(),
            None => self
                .waves
                .iter()
                .filter(|w| w.index < index)
                .map(|w| w.index)
                .max()
                .into_iter()
                .collect(),
        }
    }

    /// Whether any wave says `dependsOn` (else the waves run one after another).
    pub fn is_graph(&self) -> bool {
        self.waves.iter().any(|w| w.depends_on.is_some())
    }
}

/// The plan's recovery targets. The generator writes them into the preflight state's
/// Parameters as `targets` (only when the plan sets one), so that a report reads the targets of
/// the state machine that ran (DescribeStateMachineForExecution), not of a plan file that may
/// have changed since. Preflight holds launch points to `rpo_seconds`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Targets {
    /// Recovery time objective of the whole plan, in seconds: from the execution's start to the
    /// last required server of the last wave LAUNCHED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_seconds: Option<u32>,
    /// Recovery point objective, in seconds: the oldest acceptable snapshot a required server
    /// launches from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<u32>,
    /// Per-wave targets, for the waves that set one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<WaveTarget>,
}

impl Targets {
    pub fn is_empty(&self) -> bool {
        self.rto_seconds.is_none() && self.rpo_seconds.is_none() && self.waves.is_empty()
    }

    /// The RTO target of wave `index`, if it has one.
    pub fn wave_rto_seconds(&self, index: u32) -> Option<u32> {
        self.waves
            .iter()
            .find(|w| w.index == index)
            .map(|w| w.rto_seconds)
    }
}

/// One wave's recovery time objective.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WaveTarget {
    /// 1-based position in the plan.
    pub index: u32,
    pub name: String,
    /// From the execution's start to the wave's last required server LAUNCHED, in seconds.
    pub rto_seconds: u32,
}

/// Where the targets are in the preflight state's Parameters.
pub const PREFLIGHT_TARGETS_KEY: &str = "targets";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_input_rejects_unknown_fields_and_modes() {
        let ok: ExecutionInput = serde_json::from_str(r#"{"mode":"DRILL"}"#).expect("drill");
        assert_eq!(ok.mode, Mode::Drill);
        assert!(
            serde_json::from_str::<ExecutionInput>(r#"{"mode":"DRILL","confirmation":"x"}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<ExecutionInput>(r#"{"mode":"drill"}"#).is_err());
    }
}
