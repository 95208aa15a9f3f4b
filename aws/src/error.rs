//! [`AwsError`]: a failed AWS call, classified. The worker maps it to the task error Step
//! Functions sees (one `From` in `drs_worker::error`); the CLI and the report print it.

use drs_waves_contract::ErrorName;

/// Why an AWS call failed. `call` names the service and operation ("DRS StartRecovery") so that
/// what is said names what failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("{call}: a DRS quota was exceeded: {detail}")]
    QuotaExceeded { call: String, detail: String },
    #[error("{call}: throttled ({detail})")]
    Throttled { call: String, detail: String },
    #[error("{call}: {detail}")]
    Transient { call: String, detail: String },
    #[error("{call}: access denied ({detail}); allow this call in the worker's IAM role")]
    AccessDenied { call: String, detail: String },
    /// The service refused the request for good (validation, conflict, not found), or answered
    /// something that cannot be made sense of. Not worth trying again as it is.
    #[error("{0}")]
    Failed(String),
}

/// What a per-job quota refusal says, so that the start task can tell it from the concurrency
/// quotas (concurrent jobs, servers in all active jobs) that other jobs' ends clear.
pub(crate) const PER_JOB_QUOTA_MARK: &str = "waiting cannot clear it";

impl AwsError {
    pub fn transient(call: impl Into<String>, detail: impl Into<String>) -> Self {
        AwsError::Transient {
            call: call.into(),
            detail: detail.into(),
        }
    }

    /// The contract's error name a task failing with this error is sent with.
    pub fn name(&self) -> ErrorName {
        match self {
            AwsError::QuotaExceeded { .. } => ErrorName::QuotaExceeded,
            AwsError::Throttled { .. } => ErrorName::Throttled,
            AwsError::Transient { .. } => ErrorName::Transient,
            AwsError::AccessDenied { .. } => ErrorName::AccessDenied,
            AwsError::Failed(_) => ErrorName::Internal,
        }
    }

    pub fn retryable(&self) -> bool {
        self.name().retryable()
    }

    /// Whether this is a per-job quota refusal (see [`crate::failure::PER_JOB_QUOTA_CODES`]),
    /// which waiting cannot clear.
    pub fn is_per_job_quota(&self) -> bool {
        matches!(self, AwsError::QuotaExceeded { detail, .. } if detail.contains(PER_JOB_QUOTA_MARK))
    }
}
