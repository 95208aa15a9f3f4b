//! The errors a task can fail with, each mapped to one of the contract's error names (which the
//! generated Retry/Catch match) and a cause a person can act on.

use std::fmt::Debug;

use drs_waves_contract::{ErrorName, MAX_CAUSE_CHARS, MAX_ERROR_CHARS};

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

/// How an AWS call failed, reduced to what the classification needs (so it can be tested
/// without building SDK errors).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFailure {
    pub kind: FailureKind,
    /// The modeled error code (`ThrottlingException`, ...), when the service answered.
    pub code: Option<String>,
    pub message: Option<String>,
    pub status: Option<u16>,
    /// The exceeded quota of a ServiceQuotaExceededException (its `quotaCode` member in the DRS
    /// API model), so that the cause names the quota to raise.
    pub quota_code: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailureKind {
    /// The service answered with an error.
    #[default]
    Service,
    /// The request timed out.
    Timeout,
    /// The request could not be sent (connection refused, DNS, TLS).
    Dispatch,
    /// The answer could not be read.
    Response,
    /// The request could not be built (a bug or bad configuration).
    Construction,
}

const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];
const ACCESS_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "KmsAccessDeniedException",
];
const TRANSIENT_CODES: &[&str] = &[
    "InternalServerException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ExpiredTokenException",
    "RequestTimeout",
    "RequestTimeoutException",
    // A conditional write that lost a race with a concurrent retry of the same task: the retry
    // reads what the winner wrote.
    "ConditionalCheckFailedException",
    "TransactionConflictException",
    "TransactionCanceledException",
];

/// What a per-job quota refusal says, so that the start task can tell it from the concurrency
/// quotas (concurrent jobs, servers in all active jobs) that other jobs' ends clear.
const PER_JOB_QUOTA_MARK: &str = "waiting cannot clear it";

/// `quotaCode`s of ServiceQuotaExceededException that name the quota of source servers in one
/// job. The DRS API model says only that `quotaCode` is "Quota code" (Service Quotas codes,
/// `L-...`), and the code DRS sends for this quota is not documented: drs-sim's
/// `SourceServersPerJob` is listed, any code containing `PerJob` counts, and otherwise the
/// refusal's message decides ([`PER_JOB_QUOTA_PHRASES`]). Add a code here once it is seen.
pub const PER_JOB_QUOTA_CODES: &[&str] = &["SourceServersPerJob"];

/// Phrases (matched case-insensitively) by which a quota refusal's message names the per-job
/// limit ("Cannot start a job of 150 source servers (limit 100 per job)"). The concurrency
/// quotas' messages speak of jobs in progress and servers in active jobs instead.
pub const PER_JOB_QUOTA_PHRASES: &[&str] = &[
    "per job",
    "in one job",
    "in a single job",
    "per recovery job",
    "per launch job",
];

/// Whether a ServiceQuotaExceededException is the per-job quota: waiting for other jobs to end
/// cannot clear it (the same request is refused again), only a smaller chunk can.
fn names_per_job_quota(failure: &ServiceFailure) -> bool {
    let by_code = failure.quota_code.as_deref().is_some_and(|q| {
        PER_JOB_QUOTA_CODES.contains(&q) || q.to_ascii_lowercase().contains("perjob")
    });
    let message = failure
        .message
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    by_code || PER_JOB_QUOTA_PHRASES.iter().any(|p| message.contains(p))
}

impl TaskError {
    /// Whether this is a per-job quota refusal (see [`PER_JOB_QUOTA_CODES`]), which waiting
    /// cannot clear.
    pub fn is_per_job_quota(&self) -> bool {
        matches!(self, TaskError::QuotaExceeded { detail, .. } if detail.contains(PER_JOB_QUOTA_MARK))
    }
}

/// Maps a failed call to a task error. `call` names the service and operation
/// ("DRS StartRecovery") so the cause says what failed.
pub fn classify(call: &str, failure: &ServiceFailure) -> TaskError {
    let code = failure.code.as_deref().unwrap_or("");
    let message = failure.message.as_deref().unwrap_or("no message");
    let detail = if code.is_empty() {
        match failure.status {
            Some(status) => format!("HTTP {status}: {message}"),
            None => message.to_string(),
        }
    } else {
        format!("{code}: {message}")
    };
    let call = call.to_string();
    match failure.kind {
        FailureKind::Timeout | FailureKind::Dispatch | FailureKind::Response => {
            return TaskError::Transient { call, detail };
        }
        FailureKind::Construction => {
            return TaskError::Internal(format!(
                "{call}: the request could not be built: {detail}"
            ));
        }
        FailureKind::Service => {}
    }
    if THROTTLING_CODES.contains(&code) || failure.status == Some(429) {
        return TaskError::Throttled { call, detail };
    }
    if ACCESS_CODES.contains(&code) || (code.is_empty() && failure.status == Some(403)) {
        return TaskError::AccessDenied { call, detail };
    }
    if code == "ServiceQuotaExceededException" {
        let quota = failure
            .quota_code
            .as_deref()
            .map(|q| format!(" (quota {q})"))
            .unwrap_or_default();
        let advice = if names_per_job_quota(failure) {
            format!(
                "this is the quota of source servers in one job: {PER_JOB_QUOTA_MARK}; set \
                 DRS_WAVES_MAX_SERVERS_PER_JOB (--max-servers-per-job) to at most the quota, or raise the \
                 quota in Service Quotas"
            )
        } else {
            "raise the quota or lower --max-servers-per-job / the wave size".to_string()
        };
        return TaskError::QuotaExceeded {
            call,
            detail: format!("{detail}{quota}; {advice}"),
        };
    }
    if TRANSIENT_CODES.contains(&code) || failure.status.is_some_and(|s| s >= 500) {
        return TaskError::Transient { call, detail };
    }
    let hint = match code {
        "UninitializedAccountException" => {
            "; DRS is not initialized in this account and region: initialize it in the DRS console"
        }
        "ConflictException" => "; a source server may already be in another DRS job",
        "ValidationException" => "; DRS rejected the request as invalid",
        "ResourceNotFoundException" => "; the resource does not exist (or not in this region)",
        _ => "",
    };
    TaskError::Internal(format!("{call} failed: {detail}{hint}"))
}

/// Classifies any SDK error (all service crates share `SdkError` and `HttpResponse`).
pub fn from_sdk<E>(
    call: &str,
    err: &aws_sdk_drs::error::SdkError<E, aws_sdk_drs::config::http::HttpResponse>,
) -> TaskError
where
    E: aws_sdk_drs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    classify(call, &failure_of(err))
}

/// Reduces an SDK error to a [`ServiceFailure`].
pub fn failure_of<E>(
    err: &aws_sdk_drs::error::SdkError<E, aws_sdk_drs::config::http::HttpResponse>,
) -> ServiceFailure
where
    E: aws_sdk_drs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_sdk_drs::error::{DisplayErrorContext, SdkError};
    let text = || Some(DisplayErrorContext(err).to_string());
    match err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().map(str::to_string);
            // The SDK's generic error metadata has no quotaCode; it is in the JSON body.
            let quota_code = if code.as_deref() == Some("ServiceQuotaExceededException") {
                ctx.raw()
                    .body()
                    .bytes()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                    .and_then(|v| v["quotaCode"].as_str().map(str::to_string))
            } else {
                None
            };
            ServiceFailure {
                kind: FailureKind::Service,
                code,
                message: ctx.err().message().map(str::to_string).or_else(text),
                status: Some(ctx.raw().status().as_u16()),
                quota_code,
            }
        }
        SdkError::TimeoutError(_) => ServiceFailure {
            kind: FailureKind::Timeout,
            message: text(),
            ..Default::default()
        },
        SdkError::DispatchFailure(_) => ServiceFailure {
            kind: FailureKind::Dispatch,
            message: text(),
            ..Default::default()
        },
        SdkError::ConstructionFailure(_) => ServiceFailure {
            kind: FailureKind::Construction,
            message: text(),
            ..Default::default()
        },
        _ => ServiceFailure {
            kind: FailureKind::Response,
            message: text(),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, status: u16) -> ServiceFailure {
        ServiceFailure {
            kind: FailureKind::Service,
            code: Some(code.to_string()),
            message: Some("something happened".to_string()),
            status: Some(status),
            quota_code: None,
        }
    }

    #[test]
    fn a_quota_error_names_the_quota() {
        let failure = ServiceFailure {
            quota_code: Some("MaxSourceServersPerJob".into()),
            ..service("ServiceQuotaExceededException", 402)
        };
        let err = classify("DRS StartRecovery", &failure);
        assert_eq!(err.name(), ErrorName::QuotaExceeded);
        let cause = err.to_string();
        assert!(cause.contains("(quota MaxSourceServersPerJob)"), "{cause}");
    }

    #[test]
    fn drs_errors_map_to_contract_names() {
        let cases = [
            (service("ThrottlingException", 429), ErrorName::Throttled),
            (
                service("InternalServerException", 500),
                ErrorName::Transient,
            ),
            (service("", 503), ErrorName::Transient),
            (
                service("AccessDeniedException", 403),
                ErrorName::AccessDenied,
            ),
            (
                service("ServiceQuotaExceededException", 402),
                ErrorName::QuotaExceeded,
            ),
            (
                service("ConditionalCheckFailedException", 400),
                ErrorName::Transient,
            ),
            (
                service("ProvisionedThroughputExceededException", 400),
                ErrorName::Throttled,
            ),
            (service("ValidationException", 400), ErrorName::Internal),
            (service("ConflictException", 409), ErrorName::Internal),
            (
                ServiceFailure {
                    kind: FailureKind::Dispatch,
                    ..Default::default()
                },
                ErrorName::Transient,
            ),
            (
                ServiceFailure {
                    kind: FailureKind::Timeout,
                    ..Default::default()
                },
                ErrorName::Transient,
            ),
            (
                ServiceFailure {
                    kind: FailureKind::Construction,
                    ..Default::default()
                },
                ErrorName::Internal,
            ),
        ];
        for (failure, want) in cases {
            let err = classify("DRS StartRecovery", &failure);
            assert_eq!(err.name(), want, "{failure:?} -> {err:?}");
            assert!(
                err.to_string().contains("DRS StartRecovery"),
                "cause names the call: {err}"
            );
        }
        assert!(classify("x", &service("ThrottlingException", 429)).retryable());
        assert!(!classify("x", &service("AccessDeniedException", 403)).retryable());
    }

    #[test]
    fn causes_say_what_to_do() {
        let denied = classify("DRS StartRecovery", &service("AccessDeniedException", 403));
        assert!(denied.to_string().contains("IAM role"), "{denied}");
        let uninit = classify(
            "DRS DescribeJobs",
            &service("UninitializedAccountException", 400),
        );
        assert!(uninit.to_string().contains("initialize"), "{uninit}");
    }

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
