//! drs-waves-contract: what the generated state machine, the activity worker and the operator
//! tools agree on, and nothing else.
//!
//! Everything the sides must agree on is defined here once: activity names and their ARNs, the
//! JSON each task receives and returns, the state paths the generated states read and write, the
//! error names that Retry/Catch match and SendTaskFailure sends, the execution input, the
//! statuses kept in the history, and the history table's keys. `drs-codegen` renders these into
//! ASL (and writes them to `statemachines/contract.json` for the CDK app); `drs-worker`
//! (de)serializes them. JSON Schema derives are behind the `schema` feature, so the worker does
//! not compile schemars.
//!
//! Field names on the wire are camelCase. Every task's result is written by ResultPath into
//! one fixed place in the execution state, so a later state never reads a path that may not
//! exist (LocalStack and AWS fail such a state with `States.Runtime`).

pub mod arn;
pub mod clock;
pub mod operator;
pub mod status;
pub mod task_retry;
pub mod timing;

pub use arn::{ActivityArnError, ActivityArns};
pub use operator::{
    AwaitOperatorInput, GateKind, OperatorAction, OperatorActionKind, OperatorAnswer, PendingGate,
    decisions,
};
pub use status::ExecutionStatus;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped when a task's input or output changes shape in a way an older worker cannot read.
pub const CONTRACT_VERSION: u32 = 1;

/// Prefix of the deployed activity names (`drs-waves-preflight`, ...) unless configured.
pub const DEFAULT_ACTIVITY_PREFIX: &str = "drs-waves";
/// Name of the DynamoDB history table unless configured.
pub const DEFAULT_HISTORY_TABLE: &str = "drs-waves-history";

/// Tag keys put on every DRS job so a retried start task can find the jobs it already made.
pub mod job_tags {
    /// The Step Functions execution ARN.
    pub const EXECUTION: &str = "drs-waves:execution";
    /// The wave's name.
    pub const WAVE: &str = "drs-waves:wave";
    /// Which chunk of a wave split over several jobs (`1`, `2`, ...).
    pub const CHUNK: &str = "drs-waves:chunk";
    /// The plan's name.
    pub const PLAN: &str = "drs-waves:plan";
}

/// One activity per kind of task. A deployment has one activity ARN per kind, shared by all
/// plans, and one worker process polls all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Activity {
    /// Validates the execution input, resolves every wave's servers, checks replication and
    /// quotas, takes the plan's run lock and creates the history record.
    Preflight,
    /// StartRecovery for one wave (split into jobs of at most the per-job limit).
    StartWave,
    /// DescribeJobs for one wave's jobs: a verdict and the next wait.
    CheckWave,
    /// Final status, history, drill clean-up, lock release.
    Finish,
    /// Records a failure in the history, cleans up, releases the lock.
    RecordFailure,
    /// An approval gate or a decision after a failed wave: the worker records the task token
    /// in the history (the run's pending gate) and does not answer; the operator does
    /// (`drs-waves approve|stop|decide|cancel`), with SendTaskSuccess or SendTaskFailure.
    AwaitOperator,
}

impl Activity {
    pub const ALL: [Activity; 6] = [
        Activity::Preflight,
        Activity::StartWave,
        Activity::CheckWave,
        Activity::Finish,
        Activity::RecordFailure,
        Activity::AwaitOperator,
    ];

    /// The activity's short name; deployed as `<prefix>-<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Activity::Preflight => "preflight",
            Activity::StartWave => "start-wave",
            Activity::CheckWave => "check-wave",
            Activity::Finish => "finish",
            Activity::RecordFailure => "record-failure",
            Activity::AwaitOperator => "await-operator",
        }
    }

    /// The definitionSubstitutions key that stands for this activity's ARN in generated ASL
    /// (`${PreflightActivityArn}`).
    pub fn placeholder(self) -> &'static str {
        match self {
            Activity::Preflight => "PreflightActivityArn",
            Activity::StartWave => "StartWaveActivityArn",
            Activity::CheckWave => "CheckWaveActivityArn",
            Activity::Finish => "FinishActivityArn",
            Activity::RecordFailure => "RecordFailureActivityArn",
            Activity::AwaitOperator => "AwaitOperatorActivityArn",
        }
    }

    /// The deployed activity name for a prefix.
    pub fn deployed_name(self, prefix: &str) -> String {
        format!("{prefix}-{}", self.name())
    }

    pub fn from_name(name: &str) -> Option<Activity> {
        Activity::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Error names sent with SendTaskFailure and matched by the generated Retry/Catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// The execution input is malformed (unknown mode, unknown field, not an object).
    InvalidInput,
    /// A RECOVERY whose `confirm` is missing or does not name the plan.
    RecoveryNotConfirmed,
    /// Servers unknown, not replicating, already in an active job, or the plan exceeds quotas.
    PreflightFailed,
    /// Another execution of the same plan holds the run lock.
    PlanAlreadyRunning,
    /// DRS refused a job for a quota (ServiceQuotaExceededException) at launch time.
    QuotaExceeded,
    /// A wave failed (a required server FAILED, or the launch timeout passed). Raised by the
    /// generated failure states, never retried.
    WaveFailed,
    /// DRS or DynamoDB throttled us; retried with backoff.
    Throttled,
    /// A 5xx, a network failure, or a conditional write lost to a concurrent retry; retried.
    Transient,
    /// The worker lacks permission for a DRS or DynamoDB call.
    AccessDenied,
    /// An answer the worker cannot make sense of, or a bug. Not retried.
    Internal,
    /// The error a DRILL is stopped with when a RECOVERY of the same plan preempts it.
    Preempted,
    /// A DRILL's required source servers stopped replicating after preflight (the source site
    /// went down mid-drill): the drill stops; a RECOVERY would launch from the snapshots.
    ReplicationLost,
    /// An operator cancelled the execution (`drs-waves cancel`): the next task, or the pending
    /// gate, fails with it and the machine takes the cancel path. Never retried.
    Cancelled,
    /// An operator answered a gate or a decision with stop. Never retried.
    StoppedByOperator,
    /// An approval gate or a decision got no answer within its timeout. Never retried.
    GateTimedOut,
    /// A task of an execution whose history record is already closed (preempted, cancelled,
    /// ended, or found ended by the janitor): a console Redrive, or a task that outlived its
    /// execution's StopExecution. It launches nothing and leaves the record as it is. Never
    /// retried.
    ExecutionClosed,
}

impl ErrorName {
    pub const ALL: [ErrorName; 16] = [
        ErrorName::InvalidInput,
        ErrorName::RecoveryNotConfirmed,
        ErrorName::PreflightFailed,
        ErrorName::PlanAlreadyRunning,
        ErrorName::QuotaExceeded,
        ErrorName::WaveFailed,
        ErrorName::Throttled,
        ErrorName::Transient,
        ErrorName::AccessDenied,
        ErrorName::Internal,
        ErrorName::Preempted,
        ErrorName::ReplicationLost,
        ErrorName::Cancelled,
        ErrorName::StoppedByOperator,
        ErrorName::GateTimedOut,
        ErrorName::ExecutionClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::InvalidInput => "DrsWaves.InvalidInput",
            ErrorName::RecoveryNotConfirmed => "DrsWaves.RecoveryNotConfirmed",
            ErrorName::PreflightFailed => "DrsWaves.PreflightFailed",
            ErrorName::PlanAlreadyRunning => "DrsWaves.PlanAlreadyRunning",
            ErrorName::QuotaExceeded => "DrsWaves.QuotaExceeded",
            ErrorName::WaveFailed => "DrsWaves.WaveFailed",
            ErrorName::Throttled => "DrsWaves.Throttled",
            ErrorName::Transient => "DrsWaves.Transient",
            ErrorName::AccessDenied => "DrsWaves.AccessDenied",
            ErrorName::Internal => "DrsWaves.Internal",
            ErrorName::Preempted => "DrsWaves.Preempted",
            ErrorName::ReplicationLost => "DrsWaves.ReplicationLost",
            ErrorName::Cancelled => "DrsWaves.Cancelled",
            ErrorName::StoppedByOperator => "DrsWaves.StoppedByOperator",
            ErrorName::GateTimedOut => "DrsWaves.GateTimedOut",
            ErrorName::ExecutionClosed => "DrsWaves.ExecutionClosed",
        }
    }

    /// Whether the generated Retry retries a task that failed with this error.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorName::Throttled | ErrorName::Transient)
    }

    pub fn from_str_name(name: &str) -> Option<ErrorName> {
        ErrorName::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// Step Functions' own error names that the generated Retry also matches: a task whose worker
/// died stops heartbeating, and the retried task is picked up by another worker (which finds the
/// jobs the first one made). Locally a heartbeat timeout surfaces as `States.Timeout`.
pub const RETRYABLE_STATES_ERRORS: [&str; 2] = ["States.HeartbeatTimeout", "States.Timeout"];

/// SendTaskFailure limits (REFERENCE.md): longer values are truncated by the worker.
pub const MAX_ERROR_CHARS: usize = 256;
pub const MAX_CAUSE_CHARS: usize = 32_768;
/// SendTaskSuccess output limit in bytes.
pub const MAX_OUTPUT_BYTES: usize = 262_144;

/// What an execution does: a drill launches drill instances; a recovery launches production
/// recovery instances and must name the plan in `confirm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Drill,
    Recovery,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Drill, Mode::Recovery]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Drill => "DRILL",
            Mode::Recovery => "RECOVERY",
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
    /// Required for RECOVERY: the plan's name, typed again as a confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
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
    /// The execution input as given (validated by the worker against [`ExecutionInput`]).
    pub input: serde_json::Value,
    pub plan: PlanSpec,
    pub heartbeat_seconds: u32,
    /// The plan's targets (absent when it sets none): preflight holds launch points to
    /// `rpoSeconds`, and the report reads them from the machine's definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Targets>,
}

/// Output of preflight, kept at [`paths::RUN`] for the rest of the execution.
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
/// [`paths::wave_state`]. Carries what the Wait (nextWaitSeconds), the Choice (status) and the
/// next check (jobIds, startedAt, checks) need.
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
    /// Every wave's state, keyed as under [`paths::WAVES`] (`w1`, `w2`, ...).
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

/// Output of the finish task, at [`paths::RESULT`].
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

/// What a Catch writes at [`paths::ERROR`] (Step Functions' own shape).
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

/// Output of record-failure, at [`paths::FAILURE`]; the final Fail state reads it.
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

/// Where each task's result lives in the execution state (JSONPath).
pub mod paths {
    /// Preflight's [`super::RunContext`].
    pub const RUN: &str = "$.run";
    /// Object of every wave's [`super::WaveState`], keyed `w1`, `w2`, ...
    pub const WAVES: &str = "$.waves";
    /// What a Catch caught ([`super::CaughtError`]).
    pub const ERROR: &str = "$.error";
    /// Record-failure's [`super::RecordFailureOutput`].
    pub const FAILURE: &str = "$.failure";
    /// Finish's [`super::FinishOutput`].
    pub const RESULT: &str = "$.result";

    /// The whole state (a task that takes everything, such as record-failure).
    pub const STATE: &str = "$";
    /// The execution input's mode, read by the first Choice state.
    pub const INPUT_MODE: &str = "$.mode";
    /// The execution input's confirmation, read by the first Choice state.
    pub const INPUT_CONFIRM: &str = "$.confirm";
    /// The execution input's point in time, checked to be a timestamp by the input check.
    pub const INPUT_POINT_IN_TIME: &str = "$.pointInTime";
    /// The name and cause of what a Catch caught, read by the final Fail state.
    pub const ERROR_NAME: &str = "$.error.Error";
    pub const ERROR_CAUSE: &str = "$.error.Cause";
    /// Where record-failure's own Catch puts its error, so the original `$.error` survives.
    pub const RECORD_FAILURE_ERROR: &str = "$.recordFailureError";

    /// The context object's execution fields (the [`super::ExecutionRef`] a task gets).
    pub const CONTEXT_EXECUTION_ID: &str = "$$.Execution.Id";
    pub const CONTEXT_EXECUTION_NAME: &str = "$$.Execution.Name";
    pub const CONTEXT_EXECUTION_START_TIME: &str = "$$.Execution.StartTime";
    /// When the current state was entered: unchanged by its Retry (a re-opened gate keeps the
    /// deadline it opened with).
    pub const CONTEXT_STATE_ENTERED_TIME: &str = "$$.State.EnteredTime";
    /// How many times the current state's task has been retried.
    pub const CONTEXT_STATE_RETRY_COUNT: &str = "$$.State.RetryCount";

    /// The key of a wave under `$.waves`.
    pub fn wave_key(index: u32) -> String {
        format!("w{index}")
    }

    /// `$.waves.w<index>`.
    pub fn wave_state(index: u32) -> String {
        format!("{WAVES}.{}", wave_key(index))
    }

    /// A wave's [`super::WaveState::status`], read by its Choice state.
    pub fn wave_status(index: u32) -> String {
        format!("{}.status", wave_state(index))
    }

    /// A wave's [`super::WaveState::next_wait_seconds`], read by its Wait state.
    pub fn wave_next_wait_seconds(index: u32) -> String {
        format!("{}.nextWaitSeconds", wave_state(index))
    }

    /// A wave's [`super::WaveState::reason`], read by its failure state.
    pub fn wave_reason(index: u32) -> String {
        format!("{}.reason", wave_state(index))
    }

    /// Where the operators' answers go, keyed `approve_w<i>` and `decide_w<i>`
    /// ([`super::OperatorAnswer`]).
    ///
    /// Every path here is a Reference Path as AWS checks it when a definition is created: `$`
    /// (or `$$` for the context object) followed by `.name` steps of letters, digits and `_`.
    /// A `-` in a name (`approve-w2`) is valid JSONPath but refused by AWS and statelint, and a
    /// refused definition fails the whole deploy; [`is_reference_path`] checks the rule.
    pub const OPERATOR: &str = "$.operator";

    /// The answer of wave `index`'s approval gate.
    pub fn approval_answer(index: u32) -> String {
        format!("{OPERATOR}.approve_w{index}")
    }

    /// The answer of wave `index`'s decision after a failure.
    pub fn decision_answer(index: u32) -> String {
        format!("{OPERATOR}.decide_w{index}")
    }

    /// The decision itself (`retry` or `skip`), read by the Choice after it.
    pub fn decision(index: u32) -> String {
        format!("{}.decision", decision_answer(index))
    }

    /// True when `path` is `$` or `$$` followed only by `.name` steps, each name of ASCII
    /// letters, digits and `_`: the subset of AWS's Reference Paths that this project uses for
    /// every path it renders (no brackets, no wildcards, no other characters).
    pub fn is_reference_path(path: &str) -> bool {
        let Some(steps) = path.strip_prefix("$$").or_else(|| path.strip_prefix('$')) else {
            return false;
        };
        if steps.is_empty() {
            return true;
        }
        let Some(steps) = steps.strip_prefix('.') else {
            return false;
        };
        steps.split('.').all(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    }
}

/// The history table's keys and indexes: the one place that spells them (the item shapes are
/// the history crate's).
pub mod history {
    /// Partition key (S): `EXEC#<execution ARN>` for an execution's items, `LOCK#<plan>` for a
    /// plan's run lock.
    pub const PARTITION_KEY: &str = "pk";
    /// Sort key (S): `EXECUTION`, `WAVE#0001`, `WAVE#0001#JOB#<jobID>`, `LOCK`.
    pub const SORT_KEY: &str = "sk";
    /// GSI: executions by status, newest first: "what is running now".
    pub const STATUS_INDEX: &str = "status-index";
    pub const STATUS_INDEX_PARTITION_KEY: &str = "executionStatus";
    pub const STATUS_INDEX_SORT_KEY: &str = "startedAt";
    /// GSI: executions of a plan, newest first: "recent drills of billing".
    pub const PLAN_INDEX: &str = "plan-index";
    pub const PLAN_INDEX_PARTITION_KEY: &str = "planName";
    pub const PLAN_INDEX_SORT_KEY: &str = "startedAt";

    pub const EXECUTION_SK: &str = "EXECUTION";
    pub const LOCK_SK: &str = "LOCK";
    /// Partition of the pending clean-ups (`PENDING#<execution ARN>`), which the janitor retries.
    pub const CLEANUP_PK: &str = "CLEANUP";

    pub fn execution_pk(execution_id: &str) -> String {
        format!("EXEC#{execution_id}")
    }

    pub fn wave_sk(index: u32) -> String {
        format!("WAVE#{index:04}")
    }

    pub fn job_sk(index: u32, job_id: &str) -> String {
        format!("WAVE#{index:04}#JOB#{job_id}")
    }

    pub fn servers_sk(index: u32) -> String {
        format!("WAVE#{index:04}#SERVERS")
    }

    pub fn lock_pk(plan: &str) -> String {
        format!("LOCK#{plan}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_names_round_trip_and_are_unique() {
        let mut names: Vec<_> = Activity::ALL.iter().map(|a| a.name()).collect();
        for a in Activity::ALL {
            assert_eq!(Activity::from_name(a.name()), Some(a));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Activity::ALL.len());
    }

    #[test]
    fn error_names_fit_send_task_failure_and_round_trip() {
        for e in ErrorName::ALL {
            assert!(e.as_str().len() <= MAX_ERROR_CHARS);
            assert_eq!(ErrorName::from_str_name(e.as_str()), Some(e));
        }
    }

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

    #[test]
    fn wave_state_paths() {
        assert_eq!(paths::wave_state(3), "$.waves.w3");
    }

    #[test]
    fn operator_answer_paths_use_underscores_not_hyphens() {
        assert_eq!(paths::approval_answer(2), "$.operator.approve_w2");
        assert_eq!(paths::decision_answer(1), "$.operator.decide_w1");
        assert_eq!(paths::decision(1), "$.operator.decide_w1.decision");
    }

    #[test]
    fn every_path_is_a_reference_path_aws_accepts() {
        let mut all: Vec<String> = [
            paths::RUN,
            paths::WAVES,
            paths::ERROR,
            paths::FAILURE,
            paths::RESULT,
            paths::STATE,
            paths::INPUT_MODE,
            paths::INPUT_CONFIRM,
            paths::INPUT_POINT_IN_TIME,
            paths::ERROR_NAME,
            paths::ERROR_CAUSE,
            paths::RECORD_FAILURE_ERROR,
            paths::CONTEXT_EXECUTION_ID,
            paths::CONTEXT_EXECUTION_NAME,
            paths::CONTEXT_EXECUTION_START_TIME,
            paths::CONTEXT_STATE_ENTERED_TIME,
            paths::CONTEXT_STATE_RETRY_COUNT,
            paths::OPERATOR,
        ]
        .map(str::to_owned)
        .to_vec();
        for i in [1, 20, 9999] {
            all.extend([
                paths::wave_state(i),
                paths::wave_status(i),
                paths::wave_next_wait_seconds(i),
                paths::wave_reason(i),
                paths::approval_answer(i),
                paths::decision_answer(i),
                paths::decision(i),
            ]);
        }
        for path in &all {
            assert!(paths::is_reference_path(path), "{path}");
        }
    }

    #[test]
    fn is_reference_path_refuses_what_aws_refuses() {
        for good in ["$", "$$", "$.a", "$.a_b.C9", "$$.Execution.Id"] {
            assert!(paths::is_reference_path(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "$.",
            "$a",
            "$.a..b",
            "$.approve-w2",
            "$.a b",
            "$.a[0]",
            "$.a.*",
            "$['a']",
            "$$$.a",
            "$.é",
        ] {
            assert!(!paths::is_reference_path(bad), "{bad}");
        }
    }

    #[test]
    fn wave_field_paths_name_fields_of_the_serialized_wave_state() {
        let state = WaveState {
            wave: "w".into(),
            index: 2,
            status: WaveStatus::Launching,
            job_ids: vec![],
            started_at: String::new(),
            ended_at: String::new(),
            checks: 0,
            next_wait_seconds: 7,
            servers: ServerCounts::default(),
            reason: "why".into(),
        };
        let value = serde_json::to_value(&state).expect("serialize");
        let field = |path: String| {
            let key = path
                .rsplit('.')
                .next()
                .map(str::to_owned)
                .unwrap_or_default();
            value.get(key).cloned()
        };
        assert_eq!(
            field(paths::wave_status(2)),
            Some(serde_json::json!("LAUNCHING"))
        );
        assert_eq!(
            field(paths::wave_next_wait_seconds(2)),
            Some(serde_json::json!(7))
        );
        assert_eq!(field(paths::wave_reason(2)), Some(serde_json::json!("why")));
    }
}
