//! The Step Functions reads that the worker, the CLI and the report share: an execution as
//! DescribeExecution tells it, and its history events (GetExecutionHistory, paginated). (The
//! worker's activity seam, GetActivityTask and SendTask*, is the worker's own:
//! `drs_worker::sfn`.)
//!
//! Each read has a form that returns the [`ServiceFailure`] (the CLI words its own errors from
//! it) and, where the worker or the report call it, one that classifies it into an
//! [`AwsError`].

use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sfn::types::HistoryEvent;
use time::OffsetDateTime;

use crate::AwsError;
use crate::failure::{ServiceFailure, classify, failure_of};

/// What DescribeExecution says of an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    pub execution_arn: String,
    /// Empty when Step Functions gave none.
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    pub state_machine_arn: String,
    /// The execution's input, when it is JSON.
    pub input: Option<serde_json::Value>,
    /// Its output, when it has one and it is JSON.
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started: OffsetDateTime,
    pub stopped: Option<OffsetDateTime>,
    /// When it ended, as Step Functions writes it (RFC 3339), for an execution that has.
    pub stopped_at: Option<String>,
}

/// Error codes of DescribeExecution that mean "no such execution": an unknown execution, an
/// ARN that names none, and (from some endpoints) a state machine that is gone.
pub const EXECUTION_MISSING_CODES: [&str; 3] = [
    "ExecutionDoesNotExist",
    "InvalidArn",
    "StateMachineDoesNotExist",
];

/// DescribeExecution. `None` when the execution does not exist (or the ARN names none).
pub async fn describe_execution(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Option<ExecutionDescription>, AwsError> {
    describe_execution_or_failure(client, execution_arn)
        .await
        .map_err(|f| classify("Step Functions DescribeExecution", &f))
}

/// [`describe_execution`], with the failure as the service gave it.
pub async fn describe_execution_or_failure(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Option<ExecutionDescription>, ServiceFailure> {
    match client
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
    {
        Ok(d) => Ok(Some(ExecutionDescription {
            execution_arn: d.execution_arn().to_owned(),
            name: d.name().unwrap_or_default().to_owned(),
            status: d.status().as_str().to_owned(),
            state_machine_arn: d.state_machine_arn().to_owned(),
            input: d.input().and_then(|i| serde_json::from_str(i).ok()),
            output: d.output().and_then(|o| serde_json::from_str(o).ok()),
            error: d.error().map(str::to_owned),
            cause: d.cause().map(str::to_owned),
            started: to_time(d.start_date()),
            stopped: d.stop_date().map(to_time),
            stopped_at: d
                .stop_date()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
        })),
        Err(e) => {
            let failure = failure_of(&e);
            if failure
                .code
                .as_deref()
                .is_some_and(|c| EXECUTION_MISSING_CODES.contains(&c))
            {
                return Ok(None);
            }
            Err(failure)
        }
    }
}

/// An SDK time as an [`OffsetDateTime`] (the epoch for one out of range).
pub fn to_time(t: &DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos()),
    )
    .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// How to read an execution's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRead {
    /// Newest event first (`reverseOrder`).
    pub newest_first: bool,
    /// Events per page (`maxResults`, at most 1,000).
    pub page_size: i32,
    /// With the states' input and output (`includeExecutionData`).
    pub with_data: bool,
    /// Stop after this many events, whatever the pages hold.
    pub at_most: Option<usize>,
}

/// GetExecutionHistory, every page (the SDK's paginator) until `stop` says so for an event
/// (which is left out), `read.at_most` events were read, or the history ends.
pub async fn execution_history(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
    read: HistoryRead,
    mut stop: impl FnMut(&HistoryEvent) -> bool,
) -> Result<Vec<HistoryEvent>, ServiceFailure> {
    let mut pages = client
        .get_execution_history()
        .execution_arn(execution_arn)
        .reverse_order(read.newest_first)
        .max_results(read.page_size)
        .include_execution_data(read.with_data)
        .into_paginator()
        .send();
    let mut events = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failure_of(&e))?;
        for e in page.events() {
            if stop(e) || read.at_most.is_some_and(|n| events.len() >= n) {
                return Ok(events);
            }
            events.push(e.clone());
        }
    }
    Ok(events)
}
