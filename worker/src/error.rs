//! The errors a task can fail with, each mapped to one of the contract's error names (which the
//! generated Retry/Catch match) and a cause a person can act on.

use std::fmt::Debug;

use drs_waves_aws::AwsError;
use drs_waves_contract::{ErrorName, MAX_CAUSE_CHARS, MAX_ERROR_CHARS};
use drs_waves_history::HistoryError;

/// Why a task failed. `name()` is the wire name sent with SendTaskFailure, `Display` the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The task input (or the execution input inside it) is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A RECOVERY without the plan's name as confirmation.
    #[error("{0}")]
    RecoveryNotConfirmed(String),
    /// Every problem preflight (or a start task re-resolving its wave) found, at once.
    #[error("{} problem(s) found: {}", .0.len(), .0.join("; "))]
    PreflightFailed(Vec<String>),
    /// Another execution of the plan holds the run lock.
    #[error("{0}")]
    PlanAlreadyRunning(String),
    /// A DRILL's required servers stopped replicating after preflight.
    #[error("{0}")]
    ReplicationLost(String),
    #[error("{call}: a DRS quota was exceeded: {detail}")]
    QuotaExceeded { call: String, detail: String },
    /// Retryable: the worker adds how many tries are left (`task_retry::outlook`).
    #[error("{call}: throttled ({detail})")]
    Throttled { call: String, detail: String },
    #[error("{call}: {detail}")]
    Transient { call: String, detail: String },
    #[error("{call}: access denied ({detail}); allow this call in the worker's IAM role")]
    AccessDenied { call: String, detail: String },
    /// An answer the worker cannot make sense of, or a bug. Not retried.
    #[error("{0}")]
    Internal(String),
    /// An operator cancelled the execution; the cause names who and when.
    #[error("{0}")]
    Cancelled(String),
    /// The execution's history record is closed (a redrive, or a task that outlived a
    /// StopExecution): the task does nothing.
    #[error("{0}")]
    ExecutionClosed(String),
    /// A re-opened gate (its token was lost) already past the deadline it first opened with.
    #[error("{0}")]
    GateTimedOut(String),
}

impl TaskError {
    pub fn transient(call: impl Into<String>, detail: impl Into<String>) -> Self {
        TaskError::Transient {
            call: call.into(),
            detail: detail.into(),
        }
    }

    pub fn name(&self) -> ErrorName {
        match self {
            TaskError::InvalidInput(_) => ErrorName::InvalidInput,
            TaskError::RecoveryNotConfirmed(_) => ErrorName::RecoveryNotConfirmed,
            TaskError::PreflightFailed(_) => ErrorName::PreflightFailed,
            TaskError::PlanAlreadyRunning(_) => ErrorName::PlanAlreadyRunning,
            TaskError::ReplicationLost(_) => ErrorName::ReplicationLost,
            TaskError::QuotaExceeded { .. } => ErrorName::QuotaExceeded,
            TaskError::Throttled { .. } => ErrorName::Throttled,
            TaskError::Transient { .. } => ErrorName::Transient,
            TaskError::AccessDenied { .. } => ErrorName::AccessDenied,
            TaskError::Internal(_) => ErrorName::Internal,
            TaskError::Cancelled(_) => ErrorName::Cancelled,
            TaskError::ExecutionClosed(_) => ErrorName::ExecutionClosed,
            TaskError::GateTimedOut(_) => ErrorName::GateTimedOut,
        }
    }

    /// The same error (same name) with `context` added to what it says.
    pub fn with_context(self, context: &str) -> TaskError {
        let add = |s: String| format!("{s}; {context}");
        match self {
            TaskError::InvalidInput(s) => TaskError::InvalidInput(add(s)),
            TaskError::RecoveryNotConfirmed(s) => TaskError::RecoveryNotConfirmed(add(s)),
            TaskError::PreflightFailed(mut v) => {
                v.push(context.to_string());
                TaskError::PreflightFailed(v)
            }
            TaskError::PlanAlreadyRunning(s) => TaskError::PlanAlreadyRunning(add(s)),
            TaskError::ReplicationLost(s) => TaskError::ReplicationLost(add(s)),
            TaskError::QuotaExceeded { call, detail } => TaskError::QuotaExceeded {
                call,
                detail: add(detail),
            },
            TaskError::Throttled { call, detail } => TaskError::Throttled {
                call,
                detail: add(detail),
            },
            TaskError::Transient { call, detail } => TaskError::Transient {
                call,
                detail: add(detail),
            },
            TaskError::AccessDenied { call, detail } => TaskError::AccessDenied {
                call,
                detail: add(detail),
            },
            TaskError::Internal(s) => TaskError::Internal(add(s)),
            TaskError::Cancelled(s) => TaskError::Cancelled(add(s)),
            TaskError::ExecutionClosed(s) => TaskError::ExecutionClosed(add(s)),
            TaskError::GateTimedOut(s) => TaskError::GateTimedOut(add(s)),
        }
    }

    pub fn retryable(&self) -> bool {
        self.name().retryable()
    }

    /// `(error, cause)` for SendTaskFailure, within the API's limits.
    pub fn to_wire(&self) -> (String, String) {
        (
            truncate_chars(self.name().as_str(), MAX_ERROR_CHARS),
            truncate_chars(&self.to_string(), MAX_CAUSE_CHARS),
        )
    }
}

/// An AWS call's failure, as the task that made it fails: the same classification, named by
/// the contract.
impl From<AwsError> for TaskError {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::QuotaExceeded { call, detail } => TaskError::QuotaExceeded { call, detail },
            AwsError::Throttled { call, detail } => TaskError::Throttled { call, detail },
            AwsError::Transient { call, detail } => TaskError::Transient { call, detail },
            AwsError::AccessDenied { call, detail } => TaskError::AccessDenied { call, detail },
            AwsError::Failed(s) => TaskError::Internal(s),
        }
    }
}

/// A history failure, as the task that met it fails: a lost conditional write or a throttled or
/// unreachable table is retried by the state machine (Transient, Throttled); a corrupt item
/// or a refused request is not (Internal).
impl From<HistoryError> for TaskError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::Conflict { call, detail } | HistoryError::Transient { call, detail } => {
                TaskError::Transient { call, detail }
            }
            HistoryError::Throttled { call, detail } => TaskError::Throttled { call, detail },
            HistoryError::Denied { call, detail } => TaskError::AccessDenied { call, detail },
            HistoryError::Corrupt(s) | HistoryError::Failed(s) => TaskError::Internal(s),
        }
    }
}

/// Classifies a failed SDK call as the task error it fails the task with.
pub fn from_sdk<E>(
    call: &str,
    err: &aws_sdk_drs::error::SdkError<E, aws_sdk_drs::config::http::HttpResponse>,
) -> TaskError
where
    E: aws_sdk_drs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    drs_waves_aws::failure::from_sdk(call, err).into()
}

const TRUNCATION_MARK: &str = "… (truncated)";

/// At most `max` characters (Step Functions counts characters, not bytes), cut on a char
/// boundary, with a visible mark when something was cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mark_len = TRUNCATION_MARK.chars().count();
    if max <= mark_len {
        return s.chars().take(max).collect();
    }
    let mut out: String = s.chars().take(max - mark_len).collect();
    out.push_str(TRUNCATION_MARK);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_limits_and_char_boundaries() {
        let long = "é".repeat(MAX_CAUSE_CHARS + 10);
        let err = TaskError::Internal(long);
        let (error, cause) = err.to_wire();
        assert_eq!(error, "DrsWaves.Internal");
        assert_eq!(cause.chars().count(), MAX_CAUSE_CHARS);
        assert!(cause.ends_with(TRUNCATION_MARK));
        assert_eq!(truncate_chars("short", 10), "short");
        assert_eq!(truncate_chars("ab€cd", 3), "ab€");
        let exact = "x".repeat(MAX_ERROR_CHARS);
        assert_eq!(truncate_chars(&exact, MAX_ERROR_CHARS), exact);
    }

    #[test]
    fn preflight_failure_names_every_problem() {
        let err = TaskError::PreflightFailed(vec!["a is unknown".into(), "b is stalled".into()]);
        let (name, cause) = err.to_wire();
        assert_eq!(name, "DrsWaves.PreflightFailed");
        assert!(
            cause.contains("2 problem(s)")
                && cause.contains("a is unknown")
                && cause.contains("b is stalled")
        );
    }
}
