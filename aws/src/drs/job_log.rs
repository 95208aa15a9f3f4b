//! A job's log: DescribeJobLogItems read once for the worker and the report ([`JobLogItem`]),
//! and its events read by name (the DRS model's JobLogEvent, as aws-sdk-drs parses it): which
//! of them say a server's launch failed, and the reason to give for it.

use aws_sdk_drs::types::JobLogEvent;

use super::{SdkDrs, ServerFailure};
use crate::AwsError;
use crate::failure::from_sdk;

/// Whether `event` says a server of a launch failed or was left out: SERVER_SKIPPED (the job
/// skipped it), SNAPSHOT_FAIL, USING_PREVIOUS_SNAPSHOT_FAILED, CONVERSION_FAIL, LAUNCH_FAILED,
/// CLEANUP_FAIL. Job-level events (JOB_CANCEL) and the network ones name no server.
pub fn is_server_failure(event: &JobLogEvent) -> bool {
    matches!(
        event,
        JobLogEvent::ServerSkipped
            | JobLogEvent::SnapshotFail
            | JobLogEvent::UsingPreviousSnapshotFailed
            | JobLogEvent::ConversionFail
            | JobLogEvent::LaunchFailed
            | JobLogEvent::CleanupFail
    )
}

/// The failure one log item records for `source_server_id`, if it records one: LAUNCH_FAILED
/// gives DRS's `rawError` as it is; the other events name themselves before it (a skipped
/// server was never launched, a conversion that failed is not an EC2 error). An item without
/// a `rawError` gives the event's name.
pub fn server_failure(
    event: &str,
    source_server_id: &str,
    raw_error: Option<&str>,
) -> Option<ServerFailure> {
    let parsed = JobLogEvent::from(event);
    if source_server_id.is_empty() || !is_server_failure(&parsed) {
        return None;
    }
    let raw = raw_error.map(str::trim).filter(|r| !r.is_empty());
    let reason = match (parsed, raw) {
        (JobLogEvent::LaunchFailed, Some(raw)) => raw.to_string(),
        (JobLogEvent::ServerSkipped, Some(raw)) => {
            format!("skipped by DRS (SERVER_SKIPPED): {raw}")
        }
        (_, Some(raw)) => format!("{event}: {raw}"),
        (_, None) => event.to_string(),
    };
    Some(ServerFailure {
        source_server_id: source_server_id.to_string(),
        event: event.to_string(),
        reason,
    })
}

/// One item of a job's log, as far as drs-waves reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobLogItem {
    /// The event's name (LAUNCH_START, LAUNCH_FAILED, ...).
    pub event: Option<String>,
    /// `eventData.sourceServerID`; absent or empty for a job-level event.
    pub source_server_id: Option<String>,
    /// `eventData.rawError`.
    pub raw_error: Option<String>,
    /// `logDateTime`.
    pub at: Option<String>,
}

impl SdkDrs {
    /// DescribeJobLogItems: every item of a job's log, in log order (every page, through the
    /// SDK's paginator). The worker reads the failures from it ([`server_failure`]), the report
    /// each server's first event and failure.
    pub async fn describe_job_log_items(&self, job_id: &str) -> Result<Vec<JobLogItem>, AwsError> {
        let mut pages = self
            .client
            .describe_job_log_items()
            .job_id(job_id)
            .max_results(1000)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DRS DescribeJobLogItems", &e))?;
            out.extend(page.items().iter().map(|item| {
                let data = item.event_data();
                JobLogItem {
                    event: item.event().map(|e| e.as_str().to_owned()),
                    source_server_id: data.and_then(|d| d.source_server_id()).map(str::to_owned),
                    raw_error: data.and_then(|d| d.raw_error()).map(str::to_owned),
                    at: item.log_date_time().map(str::to_owned),
                }
            }));
        }
        Ok(out)
    }
}
