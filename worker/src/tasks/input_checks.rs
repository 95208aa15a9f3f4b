//! Checks of an execution's input that refuse it before anything is launched: the RECOVERY
//! confirmation and the point in time.

use drs_waves_contract::Mode;
use drs_waves_rules::format_time;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::TaskError;

/// A RECOVERY launches production instances: it runs only when `confirm` names the plan.
pub fn check_confirmation(plan: &str, mode: Mode, confirm: Option<&str>) -> Result<(), TaskError> {
    if matches!(mode, Mode::Recovery | Mode::Failback) && confirm != Some(plan) {
        let got = match confirm {
            Some(c) => format!("confirm was {c:?}"),
            None => "confirm is missing".to_string(),
        };
        if mode == Mode::Failback {
            return Err(TaskError::RecoveryNotConfirmed(format!(
                "a FAILBACK launches the original machines and must name the plan: start the execution with \
                 {{\"mode\": \"FAILBACK\", \"confirm\": \"{plan}\"}} ({got}); nothing was launched"
            )));
        }
        return Err(TaskError::RecoveryNotConfirmed(format!(
            "a RECOVERY launches production recovery instances and must name the plan: start the execution with \
             {{\"mode\": \"RECOVERY\", \"confirm\": \"{plan}\"}} ({got}); nothing was launched"
        )));
    }
    Ok(())
}

/// Checks an execution input's `pointInTime`: RFC 3339, not after `now`.
pub fn check_point_in_time(value: &str, now: OffsetDateTime) -> Result<OffsetDateTime, TaskError> {
    let t = OffsetDateTime::parse(value, &Rfc3339).map_err(|e| {
        TaskError::InvalidInput(format!(
            "pointInTime {value:?} is not an RFC 3339 timestamp ({e}); for example \"2026-11-27T03:00:00Z\"; nothing was launched"
        ))
    })?;
    if t > now {
        return Err(TaskError::InvalidInput(format!(
            "pointInTime {value} is in the future (now is {}): a recovery can only go back in time; nothing was launched",
            format_time(now)
        )));
    }
    Ok(t)
}
