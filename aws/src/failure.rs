//! How an AWS call failed: the SDK's error reduced to a [`ServiceFailure`] and classified once
//! into an [`AwsError`] (throttled, transient, access denied, quota, or failed), for every
//! service and every caller (the worker, the history, the CLI and the report).

use crate::AwsError;
use crate::error::PER_JOB_QUOTA_MARK;

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

/// Classifies a failed call. `call` names the service and operation
/// ("DRS StartRecovery") so the cause says what failed.
pub fn classify(call: &str, failure: &ServiceFailure) -> AwsError {
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
            return AwsError::Transient { call, detail };
        }
        FailureKind::Construction => {
            return AwsError::Failed(format!("{call}: the request could not be built: {detail}"));
        }
        FailureKind::Service => {}
    }
    if THROTTLING_CODES.contains(&code) || failure.status == Some(429) {
        return AwsError::Throttled { call, detail };
    }
    if ACCESS_CODES.contains(&code) || (code.is_empty() && failure.status == Some(403)) {
        return AwsError::AccessDenied { call, detail };
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
        return AwsError::QuotaExceeded {
            call,
            detail: format!("{detail}{quota}; {advice}"),
        };
    }
    if TRANSIENT_CODES.contains(&code) || failure.status.is_some_and(|s| s >= 500) {
        return AwsError::Transient { call, detail };
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
    AwsError::Failed(format!("{call} failed: {detail}{hint}"))
}

/// Classifies any SDK error (all service crates share `SdkError` and `HttpResponse`).
pub fn from_sdk<E>(
    call: &str,
    err: &aws_sdk_drs::error::SdkError<E, aws_sdk_drs::config::http::HttpResponse>,
) -> AwsError
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
    use drs_waves_contract::ErrorName;

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
}
