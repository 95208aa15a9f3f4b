//! The CLI's errors: each says what happened and what to do, on one line (no SDK debug dump).

use drs_waves_aws::credentials::{OPERATOR_CREDENTIALS_HINT, SetupError};
use drs_waves_aws::failure::{FailureKind, ServiceFailure};
use drs_waves_history::HistoryError;

/// Exit status of a command that could not do what it was asked (bad usage, unknown names,
/// AWS refusals, a gate that is not waiting). `follow` also exits 0, 1 or 3 by the outcome.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Wrong arguments, or a refusal before anything was sent (a RECOVERY not confirmed, a
    /// retry past maxAttempts).
    #[error("{0}")]
    Usage(String),
    #[error(
        "no AWS region: set AWS_REGION (for example `export AWS_REGION=eu-west-1`), or a region for your AWS_PROFILE in ~/.aws/config"
    )]
    NoRegion,
    #[error("no AWS credentials: {0}")]
    NoCredentials(String),
    #[error(
        "access denied to {action} ({detail}): allow {action} for your identity in IAM, or use a role that has it"
    )]
    AccessDenied { action: String, detail: String },
    /// An unknown plan or execution, with the close names.
    #[error("{0}")]
    NotFound(String),
    /// A gate or decision answered when the execution does not wait at one.
    #[error("{0}")]
    NotWaiting(String),
    /// Anything else AWS answered, in one line.
    #[error("{0}")]
    Aws(String),
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        EXIT_ERROR
    }
}

/// The IAM action of a call named like the worker names them ("DynamoDB UpdateItem",
/// "DynamoDB Query (plan index)", "Step Functions SendTaskSuccess") or already an action.
pub fn iam_action(call: &str) -> String {
    if call.contains(':') {
        return call.to_string();
    }
    let call = call.split(" (").next().unwrap_or(call);
    let (service, op) = call.rsplit_once(' ').unwrap_or(("", call));
    let prefix = match service.to_ascii_lowercase().as_str() {
        "dynamodb" => "dynamodb",
        "step functions" | "sfn" | "states" => "states",
        "drs" => "drs",
        "sts" => "sts",
        "" => return op.to_string(),
        other => return format!("{other}:{op}"),
    };
    format!("{prefix}:{op}")
}

const ACCESS_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "KmsAccessDeniedException",
];
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException",
    "ExpiredToken",
    "ExpiredTokenException",
];
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

/// Whether a failure is throttling (the follower backs off).
pub fn is_throttling(f: &ServiceFailure) -> bool {
    f.code
        .as_deref()
        .is_some_and(|c| THROTTLING_CODES.contains(&c))
        || f.status == Some(429)
}

/// One line for a failed AWS call; `action` is the IAM action (`states:SendTaskSuccess`).
pub fn aws_error(action: &str, f: &ServiceFailure) -> CliError {
    let code = f.code.as_deref().unwrap_or("");
    let message = one_line(f.message.as_deref().unwrap_or("no message"));
    match f.kind {
        FailureKind::Dispatch => {
            return CliError::Aws(format!(
                "{action}: cannot reach the service ({message}); check the network, AWS_REGION and any AWS_ENDPOINT_URL_* you set"
            ));
        }
        FailureKind::Timeout => {
            return CliError::Aws(format!(
                "{action}: no answer in time ({message}); try again"
            ));
        }
        FailureKind::Response | FailureKind::Construction => {
            return CliError::Aws(format!("{action} failed: {message}"));
        }
        FailureKind::Service => {}
    }
    if ACCESS_CODES.contains(&code) || (code.is_empty() && f.status == Some(403)) {
        return CliError::AccessDenied {
            action: action.to_string(),
            detail: if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            },
        };
    }
    if CREDENTIAL_CODES.contains(&code) {
        return CliError::NoCredentials(format!(
            "the service refused them ({code}: {message}); refresh them (`aws sso login`, new keys) or check AWS_PROFILE"
        ));
    }
    if is_throttling(f) {
        return CliError::Aws(format!(
            "{action} was throttled ({code}); try again in a moment"
        ));
    }
    let detail = if code.is_empty() {
        match f.status {
            Some(s) => format!("HTTP {s}: {message}"),
            None => message,
        }
    } else {
        format!("{code}: {message}")
    };
    CliError::Aws(format!("{action} failed: {detail}"))
}

/// An SDK error reduced to a [`ServiceFailure`] (every SDK crate shares the error type).
pub fn failure<E>(
    err: &aws_sdk_drs::error::SdkError<E, aws_sdk_drs::config::http::HttpResponse>,
) -> ServiceFailure
where
    E: aws_sdk_drs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    drs_waves_aws::failure::failure_of(err)
}

/// [`aws_error`] of an SDK error.
pub fn sdk<E>(
    action: &str,
    err: &aws_sdk_drs::error::SdkError<E, aws_sdk_drs::config::http::HttpResponse>,
) -> CliError
where
    E: aws_sdk_drs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    aws_error(action, &failure(err))
}

/// A missing region or missing credentials, found before the first call: one line saying
/// which and how to set them.
pub fn setup(e: SetupError) -> CliError {
    match e {
        SetupError::NoRegion => CliError::NoRegion,
        SetupError::NoCredentials(problem) => {
            CliError::NoCredentials(format!("{}; {OPERATOR_CREDENTIALS_HINT}", problem.detail()))
        }
    }
}

/// A history (DynamoDB) error, for an operator.
pub fn history(e: HistoryError) -> CliError {
    const NO_TABLE: &str = "the history table does not exist";
    const SET_TABLE: &str = "set --table or DRS_WAVES_TABLE to the deployment's table";
    match e {
        HistoryError::Denied { call, detail } => CliError::AccessDenied {
            action: iam_action(&call),
            detail: one_line(&detail),
        },
        HistoryError::Transient { call, detail }
        | HistoryError::Throttled { call, detail }
        | HistoryError::Conflict { call, detail } => {
            let action = iam_action(&call);
            if detail.contains("ResourceNotFoundException") {
                CliError::NotFound(format!(
                    "{action}: {NO_TABLE} ({}); {SET_TABLE}",
                    one_line(&detail)
                ))
            } else {
                CliError::Aws(format!("{action} failed: {}; try again", one_line(&detail)))
            }
        }
        HistoryError::Failed(s) if s.contains("ResourceNotFoundException") => {
            CliError::NotFound(format!("{NO_TABLE} ({}); {SET_TABLE}", one_line(&s)))
        }
        other => CliError::Aws(one_line(&other.to_string())),
    }
}

/// Newlines and runs of spaces folded: every error is one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, status: u16) -> ServiceFailure {
        ServiceFailure {
            kind: FailureKind::Service,
            code: Some(code.to_string()),
            message: Some(
                "User: arn:aws:iam::1:user/bob is not authorized\n to perform it".to_string(),
            ),
            status: Some(status),
            quota_code: None,
        }
    }

    #[test]
    fn access_denied_names_the_action_on_one_line() {
        let e = aws_error(
            "states:SendTaskSuccess",
            &service("AccessDeniedException", 400),
        );
        let text = e.to_string();
        assert!(matches!(e, CliError::AccessDenied { .. }));
        assert!(
            text.starts_with("access denied to states:SendTaskSuccess"),
            "{text}"
        );
        assert!(text.contains("allow states:SendTaskSuccess"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn history_errors_name_the_dynamodb_action() {
        let e = history(HistoryError::Denied {
            call: "DynamoDB UpdateItem".into(),
            detail: "AccessDeniedException: no".into(),
        });
        assert!(
            e.to_string()
                .starts_with("access denied to dynamodb:UpdateItem"),
            "{e}"
        );
        assert_eq!(iam_action("DynamoDB Query (plan index)"), "dynamodb:Query");
        assert_eq!(iam_action("states:StartExecution"), "states:StartExecution");
    }

    #[test]
    fn refused_credentials_say_how_to_refresh_them() {
        let e = aws_error(
            "sts:GetCallerIdentity",
            &service("ExpiredTokenException", 400),
        );
        assert!(
            e.to_string()
                .starts_with("no AWS credentials: the service refused them"),
            "{e}"
        );
        assert!(e.to_string().contains("aws sso login"), "{e}");
    }

    #[test]
    fn missing_region_is_one_line_saying_how_to_set_it() {
        let text = CliError::NoRegion.to_string();
        assert!(
            text.contains("AWS_REGION") && !text.contains('\n'),
            "{text}"
        );
    }

    #[test]
    fn an_unreachable_endpoint_says_what_to_check() {
        let f = ServiceFailure {
            kind: FailureKind::Dispatch,
            message: Some("io error: Connection refused (os error 111)".into()),
            ..Default::default()
        };
        let text = aws_error("states:DescribeExecution", &f).to_string();
        assert!(
            text.contains("cannot reach") && text.contains("AWS_ENDPOINT_URL_"),
            "{text}"
        );
    }
}
