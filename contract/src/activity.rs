//! The activities the machine calls and the worker polls, the error names their tasks fail
//! with, and Step Functions' limits on what a task sends back.

use serde::{Deserialize, Serialize};

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
    /// One round of a wave's HTTP and TCP health checks (the plan's `health`), from inside the
    /// VPC: a verdict (checking, healthy, failed) and the next wait.
    CheckHealth,
    /// StartSourceNetworkRecovery for a `recoverNetwork` action (once per execution and
    /// action: a retry finds the job it made by the history and the job's tags).
    StartNetwork,
    /// DescribeJobs for a `recoverNetwork` action's job: a verdict and the next wait.
    CheckNetwork,
}

impl Activity {
    pub const ALL: [Activity; 9] = [
        Activity::Preflight,
        Activity::StartWave,
        Activity::CheckWave,
        Activity::Finish,
        Activity::RecordFailure,
        Activity::AwaitOperator,
        Activity::CheckHealth,
        Activity::StartNetwork,
        Activity::CheckNetwork,
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
            Activity::CheckHealth => "check-health",
            Activity::StartNetwork => "start-network",
            Activity::CheckNetwork => "check-network",
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
            Activity::CheckHealth => "CheckHealthActivityArn",
            Activity::StartNetwork => "StartNetworkActivityArn",
            Activity::CheckNetwork => "CheckNetworkActivityArn",
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

/// SendTaskFailure limits (docs/REFERENCE.md): longer values are truncated by the worker.
pub const MAX_ERROR_CHARS: usize = 256;
pub const MAX_CAUSE_CHARS: usize = 32_768;
/// SendTaskSuccess output limit in bytes.
pub const MAX_OUTPUT_BYTES: usize = 262_144;

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
}
