//! The Step Functions seam: the narrow trait the runtime drives (poll, succeed, fail,
//! heartbeat), the execution-status lookup preflight needs for a stale run lock, and their
//! aws-sdk-sfn implementations.

use std::collections::BTreeMap;
use std::future::Future;

use drs_waves_contract::{Activity, MAX_CAUSE_CHARS, MAX_ERROR_CHARS};

use aws_sdk_sfn::error::ProvideErrorMetadata;

use crate::error::{TaskError, from_sdk, truncate_chars};
use crate::token::TaskToken;

/// A task handed out by GetActivityTask.
#[derive(Debug, Clone)]
pub struct ActivityTask {
    pub token: TaskToken,
    pub input: String,
}

/// What Step Functions said to a heartbeat or an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// TaskTimedOut, TaskDoesNotExist or InvalidToken: the task is no longer ours, stop working
    /// on it and send nothing more.
    TaskGone(String),
}

/// The activity side of Step Functions. Errors are classified; a task that is gone is not an
/// error but [`Delivery::TaskGone`].
pub trait ActivityService: Send + Sync + 'static {
    /// Long poll (up to 60 s). `None` when no task came.
    fn poll(
        &self,
        activity_arn: &str,
        worker_name: &str,
    ) -> impl Future<Output = Result<Option<ActivityTask>, TaskError>> + Send;
    fn heartbeat(
        &self,
        token: &TaskToken,
    ) -> impl Future<Output = Result<Delivery, TaskError>> + Send;
    fn succeed(
        &self,
        token: &TaskToken,
        output: &str,
    ) -> impl Future<Output = Result<Delivery, TaskError>> + Send;
    fn fail(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<Delivery, TaskError>> + Send;
}

/// An execution as Step Functions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE.
    pub status: String,
    /// When it ended (RFC 3339), for an execution that has.
    pub stopped_at: Option<String>,
}

/// The executions seam: looks up and stops executions (the run-lock takeover, the preemption
/// of a drill by a recovery, the janitor).
pub trait ExecutionLookup: Send + Sync + 'static {
    /// `None` when the execution does not exist.
    fn execution(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = Result<Option<ExecutionInfo>, TaskError>> + Send;
    /// StopExecution with an error and cause; an execution that has already ended is left as
    /// it is (not an error).
    fn stop_execution(
        &self,
        execution_arn: &str,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<(), TaskError>> + Send;
}

const GONE_CODES: [&str; 3] = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];

/// [`ActivityService`] and [`ExecutionLookup`] over aws-sdk-sfn. The client must be built
/// with a read timeout above 60 s (see [`drs_waves_aws::clients::sfn_client`]).
#[derive(Clone, Debug)]
pub struct SdkSfn {
    client: aws_sdk_sfn::Client,
}

impl SdkSfn {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        SdkSfn { client }
    }
}

fn gone_or<E>(
    call: &str,
    err: aws_sdk_sfn::error::SdkError<E, aws_sdk_sfn::config::http::HttpResponse>,
) -> Result<Delivery, TaskError>
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let aws_sdk_sfn::error::SdkError::ServiceError(ctx) = &err
        && let Some(code) = ctx.err().code()
        && GONE_CODES.contains(&code)
    {
        return Ok(Delivery::TaskGone(code.to_string()));
    }
    Err(from_sdk(call, &err))
}

impl ActivityService for SdkSfn {
    async fn poll(
        &self,
        activity_arn: &str,
        worker_name: &str,
    ) -> Result<Option<ActivityTask>, TaskError> {
        let resp = self
            .client
            .get_activity_task()
            .activity_arn(activity_arn)
            .worker_name(worker_name)
            .send()
            .await
            .map_err(|e| from_sdk("Step Functions GetActivityTask", &e))?;
        match resp.task_token() {
            Some(t) if !t.is_empty() => Ok(Some(ActivityTask {
                token: TaskToken::new(t),
                input: resp.input().unwrap_or("{}").to_string(),
            })),
            _ => Ok(None),
        }
    }

    async fn heartbeat(&self, token: &TaskToken) -> Result<Delivery, TaskError> {
        match self
            .client
            .send_task_heartbeat()
            .task_token(token.expose())
            .send()
            .await
        {
            Ok(_) => Ok(Delivery::Delivered),
            Err(e) => gone_or("Step Functions SendTaskHeartbeat", e),
        }
    }

    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<Delivery, TaskError> {
        match self
            .client
            .send_task_success()
            .task_token(token.expose())
            .output(output)
            .send()
            .await
        {
            Ok(_) => Ok(Delivery::Delivered),
            Err(e) => gone_or("Step Functions SendTaskSuccess", e),
        }
    }

    async fn fail(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<Delivery, TaskError> {
        match self
            .client
            .send_task_failure()
            .task_token(token.expose())
            .error(error)
            .cause(cause)
            .send()
            .await
        {
            Ok(_) => Ok(Delivery::Delivered),
            Err(e) => gone_or("Step Functions SendTaskFailure", e),
        }
    }
}

impl ExecutionLookup for SdkSfn {
    async fn stop_execution(
        &self,
        execution_arn: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), TaskError> {
        match self
            .client
            .stop_execution()
            .execution_arn(execution_arn)
            .error(truncate_chars(error, MAX_ERROR_CHARS))
            .cause(truncate_chars(cause, MAX_CAUSE_CHARS))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                if let aws_sdk_sfn::error::SdkError::ServiceError(ctx) = &e
                    && matches!(ctx.err().code(), Some("ExecutionDoesNotExist"))
                {
                    return Ok(());
                }
                Err(from_sdk("Step Functions StopExecution", &e))
            }
        }
    }

    async fn execution(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>, TaskError> {
        let found = drs_waves_aws::sfn::describe_execution(&self.client, execution_arn).await?;
        Ok(found.map(|d| ExecutionInfo {
            status: d.status,
            // Whole seconds, as the history records times.
            stopped_at: d.stopped.and_then(|t| {
                time::OffsetDateTime::from_unix_timestamp(t.unix_timestamp())
                    .ok()
                    .map(drs_waves_rules::format_time)
            }),
        }))
    }
}

/// Finds the deployed activities `<prefix>-<name>` with ListActivities. Every activity must
/// exist: a worker that silently skips one leaves executions waiting until they time out.
pub async fn resolve_activity_arns(
    client: &aws_sdk_sfn::Client,
    prefix: &str,
) -> Result<BTreeMap<Activity, String>, TaskError> {
    let mut by_name = BTreeMap::new();
    let mut pages = client
        .list_activities()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk("Step Functions ListActivities", &e))?;
        for a in page.activities() {
            by_name.insert(a.name().to_string(), a.activity_arn().to_string());
        }
    }
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    for activity in Activity::ALL {
        let name = activity.deployed_name(prefix);
        match by_name.get(&name) {
            Some(arn) => {
                found.insert(activity, arn.clone());
            }
            None => missing.push(name),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(TaskError::InvalidInput(format!(
            "activities not found with ListActivities: {} (is --activity-prefix '{prefix}' right, and is the stack deployed in this region?)",
            missing.join(", ")
        )))
    }
}
