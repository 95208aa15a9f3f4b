//! [`HistoryError`]: why reading or writing the history failed, in the history's own terms. The
//! worker maps it to the task error Step Functions sees in one place (`drs_worker::error`); the
//! CLI and the report say it as it is.

use drs_waves_aws::AwsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A conditional write lost a race with another writer (a concurrent retry of the same
    /// task): reading again and retrying is safe.
    #[error("{call}: {detail}")]
    Conflict { call: String, detail: String },
    #[error("{call}: throttled ({detail})")]
    Throttled { call: String, detail: String },
    /// Timed out, unreachable or a server error: retrying may succeed.
    #[error("{call}: {detail}")]
    Transient { call: String, detail: String },
    #[error("{call}: access denied ({detail}); allow this call in the role's IAM policy")]
    Denied { call: String, detail: String },
    /// An item that is missing where the history says it must be, or cannot be read as the
    /// record it should be.
    #[error("{0}")]
    Corrupt(String),
    /// DynamoDB refused the request for good (no such table, validation).
    #[error("{0}")]
    Failed(String),
}

impl HistoryError {
    pub fn conflict(call: impl Into<String>, detail: impl Into<String>) -> Self {
        HistoryError::Conflict {
            call: call.into(),
            detail: detail.into(),
        }
    }

    /// Whether trying the same operation again may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            HistoryError::Conflict { .. }
                | HistoryError::Throttled { .. }
                | HistoryError::Transient { .. }
        )
    }
}

impl From<AwsError> for HistoryError {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::Throttled { call, detail } => HistoryError::Throttled { call, detail },
            // DynamoDB has no quota error of DRS's kind; its limits answer as throttling.
            AwsError::QuotaExceeded { call, detail } => HistoryError::Throttled { call, detail },
            AwsError::Transient { call, detail } => HistoryError::Transient { call, detail },
            AwsError::AccessDenied { call, detail } => HistoryError::Denied { call, detail },
            AwsError::Failed(s) => HistoryError::Failed(s),
        }
    }
}

/// Classifies a failed DynamoDB call.
pub(crate) fn from_sdk<E>(
    call: &str,
    err: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> HistoryError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    drs_waves_aws::failure::from_sdk(call, err).into()
}
