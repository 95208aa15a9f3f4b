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

pub mod activity;
pub mod arn;
pub mod clock;
pub mod definition;
pub mod health;
pub mod history;
pub mod network;
pub mod operator;
pub mod paths;
pub mod spec;
pub mod states;
pub mod status;
pub mod task_retry;
pub mod tasks;
pub mod timing;

// Every type keeps its path at the crate's root (`drs_waves_contract::WaveSpec`): the modules
// only group the definitions.
pub use activity::{
    Activity, ErrorName, MAX_CAUSE_CHARS, MAX_ERROR_CHARS, MAX_OUTPUT_BYTES,
    RETRYABLE_STATES_ERRORS,
};
pub use arn::{ActivityArnError, ActivityArns};
pub use definition::{DefinitionError, PreflightParameters, embedded_plan};
pub use health::{
    ALARM_OK, AlarmRead, AlarmsRead, CheckHealthInput, HealthCheck, HealthState, HealthStatus,
    Probe, StatusRange,
};
pub use network::{NetworkState, NetworkStatus, NetworkTaskInput};
pub use operator::{
    AwaitOperatorInput, FailedAction, GateKind, OperatorAction, OperatorActionKind, OperatorAnswer,
    PendingGate, decisions, gate_key,
};
pub use spec::{
    ApprovalGate, ExecutionInput, Mode, OnFailure, PREFLIGHT_TARGETS_KEY, PlanSpec, PollingBounds,
    Targets, WaveAccount, WaveSpec, WaveTarget,
};
pub use states::{WaveStateName, WaveStep};
pub use status::ExecutionStatus;
pub use tasks::{
    CaughtError, CheckWaveInput, CleanupStatus, ExecutionRef, FailbackSettings, FinishInput,
    FinishOutput, MAX_WARNINGS_IN_STATE, Outcome, PREFLIGHT_FAILBACK_KEY, PreflightInput,
    RecordFailureInput, RecordFailureOutput, RecoveredServer, RunContext, ServerCounts,
    StartWaveInput, WaveState, WaveStatus, WaveSummary,
};

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
    /// The account a wave in another account launched in (its role's account).
    pub const ACCOUNT: &str = "drs-waves:account";
    /// The region a wave in another region launched in.
    pub const REGION: &str = "drs-waves:region";
    /// A network recovery's execution ARN (not `EXECUTION`: the job launches no server, and
    /// the launch jobs' look-ups, clean-ups and verdicts must never see it).
    pub const NETWORK_OF: &str = "drs-waves:network-of";
    /// A network recovery's action (`w1-before-1`).
    pub const ACTION: &str = "drs-waves:action";
}
