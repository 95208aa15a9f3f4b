//! The Step Functions reads that the worker, the CLI and the report share: an execution as
//! DescribeExecution tells it. (The worker's activity seam, GetActivityTask and SendTask*, is
//! the worker's own: `drs_worker::sfn`.)

use aws_sdk_sfn::primitives::DateTimeFormat;

use crate::AwsError;
use crate::failure::{failure_of, from_sdk};

/// What DescribeExecution says of an execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionDescription {
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    pub state_machine_arn: String,
    /// The execution's input, when it is JSON.
    pub input: Option<serde_json::Value>,
    /// When it ended (RFC 3339), for an execution that has.
    pub stopped_at: Option<String>,
}

/// DescribeExecution. `None` when the execution does not exist (or the ARN names none).
pub async fn describe_execution(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Option<ExecutionDescription>, AwsError> {
    match client
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
    {
        Ok(d) => Ok(Some(ExecutionDescription {
            status: d.status().as_str().to_owned(),
            state_machine_arn: d.state_machine_arn().to_owned(),
            input: d.input().and_then(|i| serde_json::from_str(i).ok()),
            stopped_at: d
                .stop_date()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
        })),
        Err(e) => {
            let failure = failure_of(&e);
            if matches!(
                failure.code.as_deref(),
                Some("ExecutionDoesNotExist" | "InvalidArn")
            ) {
                return Ok(None);
            }
            Err(from_sdk("Step Functions DescribeExecution", &e))
        }
    }
}
