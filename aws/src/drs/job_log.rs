//! Job-log events read by name (the DRS model's JobLogEvent, as aws-sdk-drs parses it): which
//! of them say a server's launch failed, and the reason to give for it.

use aws_sdk_drs::types::JobLogEvent;

use super::ServerFailure;

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
