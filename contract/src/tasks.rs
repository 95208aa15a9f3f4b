//! The JSON each task receives and returns, and the wave state the generated states read
//! between tasks. Every result is written by ResultPath into one fixed place ([`crate::paths`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Mode, OperatorAction, PlanSpec, Targets, WaveSpec};

/// The execution, from the context object (`$$.Execution`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRef {
    /// The execution ARN: the history record's key.
    pub id: String,
    pub name: String,
    pub start_time: String,
}

/// Input of the preflight task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PreflightInput {
    pub execution: ExecutionRef,
    /// The execution input as given (validated by the worker against
    /// [`ExecutionInput`](crate::ExecutionInput)).
    pub input: serde_json::Value,
    pub plan: PlanSpec,
    pub heartbeat_seconds: u32,
    /// The plan's targets (absent when it sets none): preflight holds launch points to
    /// `rpoSeconds`, and the report reads them from the machine's definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Targets>,
    /// The plan's `failback` settings (absent when it sets none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failback: Option<FailbackSettings>,
}

/// What a FAILBACK does at its end, from the plan's `failback`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailbackSettings {
    /// StopFailback and terminate the recovery instances that came home, once every wave has
    /// its verdict.
    #[serde(default)]
    pub stop_and_terminate: bool,
}

/// The key of the failback settings in the preflight state's Parameters.
pub const PREFLIGHT_FAILBACK_KEY: &str = "failback";

fn is_false(b: &bool) -> bool {
    !*b
}

/// Output of preflight, kept at [`paths::RUN`](crate::paths::RUN) for the rest of the execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RunContext {
    pub execution_id: String,
    pub execution_name: String,
    pub plan_name: String,
    pub mode: Mode,
    /// Copied from the input: the start task checks a RECOVERY's confirmation again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    pub started_at: String,
    pub terminate_drill_instances: bool,
    pub wave_count: u32,
    /// Servers resolved at preflight across all waves.
    pub server_count: u32,
    /// The input's `pointInTime`, checked: every launch uses the latest snapshot at or before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<String>,
    /// The oldest snapshot a required server will launch from, as its age in seconds at
    /// preflight: the recovery point achieved (RPO). None when no server has a snapshot time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_rpo_seconds: Option<u64>,
    /// A FAILBACK's RECOVERY (its execution ARN): the servers and instances it brings home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_execution_id: Option<String>,
    /// A FAILBACK that stops the failback of, and terminates, the instances that came home at
    /// its end (the plan's `failback.stopAndTerminate`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub stop_and_terminate: bool,
    /// What preflight noticed but did not refuse (a RECOVERY of servers whose replication has
    /// stopped, optional servers without a snapshot), at most [`MAX_WARNINGS_IN_STATE`] lines;
    /// the history has all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// At most this many warnings travel in the state (a 1,000-server recovery with its source site
/// down would otherwise carry 1,000 lines); the history keeps every one.
pub const MAX_WARNINGS_IN_STATE: usize = 20;

/// Status of a wave as the Choice state reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WaveStatus {
    Launching,
    Succeeded,
    Failed,
    /// Failed, and an operator decided to go on without it (`onFailure: ask`, skip).
    Skipped,
    /// The execution ended while the wave was launching (cancelled, stopped by an operator, or
    /// failed elsewhere): it never got a verdict. Written by record-failure, never by a check.
    Interrupted,
}

impl WaveStatus {
    pub const ALL: [WaveStatus; 5] = [
        WaveStatus::Launching,
        WaveStatus::Succeeded,
        WaveStatus::Failed,
        WaveStatus::Skipped,
        WaveStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WaveStatus::Launching => "LAUNCHING",
            WaveStatus::Succeeded => "SUCCEEDED",
            WaveStatus::Failed => "FAILED",
            WaveStatus::Skipped => "SKIPPED",
            WaveStatus::Interrupted => "INTERRUPTED",
        }
    }
}

/// Server counts of a wave: no per-server detail travels in the state (DynamoDB holds it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServerCounts {
    pub total: u32,
    pub launched: u32,
    pub failed: u32,
    /// PENDING or IN_PROGRESS.
    pub launching: u32,
    /// Of `failed`, how many are optional.
    pub optional_failed: u32,
}

/// A wave's place in the state, written by the start task and rewritten by each check, at
/// [`paths::wave_state`](crate::paths::wave_state). Carries what the Wait (nextWaitSeconds),
/// the Choice (status) and the next check (jobIds, startedAt, checks) need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WaveState {
    pub wave: String,
    pub index: u32,
    pub status: WaveStatus,
    pub job_ids: Vec<String>,
    /// When the start task launched the wave (RFC 3339).
    pub started_at: String,
    /// When the verdict was reached (RFC 3339), empty while launching.
    #[serde(default)]
    pub ended_at: String,
    /// How many checks have run.
    pub checks: u32,
    /// Seconds the Wait state waits before the next check.
    pub next_wait_seconds: u32,
    pub servers: ServerCounts,
    /// Why the wave failed, in words; empty otherwise. Always present so the generated
    /// failure state can read it.
    #[serde(default)]
    pub reason: String,
    /// The health checks after the launch, once they began (a wave with `health` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::HealthState>,
    /// The wave's recovered servers, listed by the check that found the wave launched when the
    /// wave [lists them](crate::WaveSpec::lists_recovered): what its after-actions get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Vec<RecoveredServer>>,
}

/// A server of the wave as it runs after the launch: what an after-action needs to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecoveredServer {
    pub source_server_id: String,
    /// The source's host name as DRS identified it; empty when DRS names none.
    #[serde(default)]
    pub hostname: String,
    /// DRS's recovery instance (`recoveryInstanceID`).
    pub recovery_instance_id: String,
    /// The EC2 instance (`ec2InstanceID`); empty while DRS names none.
    #[serde(default)]
    pub ec2_instance_id: String,
    /// The private IPv4 addresses of its network interfaces, in DRS's order.
    #[serde(default)]
    pub private_ips: Vec<String>,
}

/// Input of the start-wave task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StartWaveInput {
    pub run: RunContext,
    pub wave: WaveSpec,
    pub heartbeat_seconds: u32,
}

/// Input of the check-wave task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CheckWaveInput {
    pub run: RunContext,
    pub wave: WaveSpec,
    /// The wave's state as the previous start or check left it.
    pub state: WaveState,
    pub heartbeat_seconds: u32,
}

/// Input of the finish task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FinishInput {
    pub run: RunContext,
    /// Every wave's state, keyed as under [`paths::WAVES`](crate::paths::WAVES) (`w1`, `w2`, ...).
    pub waves: BTreeMap<String, WaveState>,
    pub heartbeat_seconds: u32,
}

/// How an execution that reached its finish step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Every wave succeeded.
    Succeeded,
    /// Some wave with `onFailure: continue` failed; the others ran.
    SucceededWithFailures,
}

/// One line of the final summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct WaveSummary {
    pub wave: String,
    pub status: WaveStatus,
    pub job_ids: Vec<String>,
    pub duration_seconds: u64,
    pub servers: ServerCounts,
}

/// Where a drill's clean-up (terminating its recovery instances) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CleanupStatus {
    /// A recovery, or a plan that keeps its drill instances.
    #[default]
    NotNeeded,
    /// Every instance the drill launched is terminated or being terminated.
    Done,
    /// It could not finish (the cause is recorded); the worker's janitor retries it, and the
    /// CleanupPending metric alarms.
    Pending,
}

impl CleanupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupStatus::NotNeeded => "NOT_NEEDED",
            CleanupStatus::Done => "DONE",
            CleanupStatus::Pending => "PENDING",
        }
    }

    pub fn parse(s: &str) -> Option<CleanupStatus> {
        [
            CleanupStatus::NotNeeded,
            CleanupStatus::Done,
            CleanupStatus::Pending,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Output of the finish task, at [`paths::RESULT`](crate::paths::RESULT).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FinishOutput {
    pub outcome: Outcome,
    pub waves: Vec<WaveSummary>,
    /// TERMINATE jobs started to clean up a drill's instances.
    pub terminate_job_ids: Vec<String>,
    /// Where the drill's clean-up stands; a PENDING clean-up does not fail a drill whose waves
    /// succeeded.
    #[serde(default)]
    pub cleanup: CleanupStatus,
    /// Why the clean-up is PENDING; empty otherwise.
    #[serde(default)]
    pub cleanup_error: String,
    /// What operators did during the run (approvals, decisions), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_actions: Vec<OperatorAction>,
}

/// What a Catch writes at [`paths::ERROR`](crate::paths::ERROR) (Step Functions' own shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// Input of the record-failure task. The failure may come before preflight finished, so the
/// task takes the whole state and reads what is there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecordFailureInput {
    pub execution: ExecutionRef,
    pub plan_name: String,
    /// The whole execution state: `run`, `waves` and `error` when they exist.
    pub state: serde_json::Value,
    pub heartbeat_seconds: u32,
}

/// Output of record-failure, at [`paths::FAILURE`](crate::paths::FAILURE); the final Fail
/// state reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecordFailureOutput {
    pub error: String,
    pub cause: String,
    pub terminate_job_ids: Vec<String>,
    #[serde(default)]
    pub cleanup: CleanupStatus,
    #[serde(default)]
    pub cleanup_error: String,
    /// What operators did during the run (approvals, decisions, a cancel), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_actions: Vec<OperatorAction>,
}
