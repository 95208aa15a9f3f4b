//! The typed confirmation of a RECOVERY or a FAILBACK, and the execution input a start sends.

use std::io::IsTerminal;

use drs_waves_contract::{ExecutionInput, Mode};

use super::PointInTime;
use crate::error::CliError;

/// What `drs-waves start` sends to StartExecution: a RECOVERY confirmed with the plan's name,
/// the point in time in its normalized form, the caller.
pub fn execution_input(
    mode: Mode,
    plan: &str,
    point_in_time: Option<&PointInTime>,
    started_by: &str,
) -> ExecutionInput {
    ExecutionInput {
        recovery: None,
        mode,
        confirm: matches!(mode, Mode::Recovery | Mode::Failback).then(|| plan.to_string()),
        point_in_time: point_in_time.map(|t| t.normalized.clone()),
        started_by: Some(started_by.to_string()),
    }
}

/// The typed confirmation of a RECOVERY: `--confirm`, or the plan's name typed at a prompt.
pub fn confirm_recovery(plan: &str, given: Option<&str>) -> Result<(), CliError> {
    confirm_mode(plan, Mode::Recovery, given)
}

/// What an operator types to start a RECOVERY or a FAILBACK: the plan's name; for a FAILBACK
/// whose plan stops and terminates the recovery instances that came home, `terminate <plan>`,
/// so that the end of the recovery region's copy is said in words, not only in the plan.
pub fn confirm_phrase(plan: &str, terminates: bool) -> String {
    if terminates {
        format!("terminate {plan}")
    } else {
        plan.to_owned()
    }
}

/// [`confirm_recovery`] for `mode`, with the phrase to type ([`confirm_phrase`]): the plan's
/// name, or `terminate <plan>`.
pub fn confirm_mode(phrase: &str, mode: Mode, given: Option<&str>) -> Result<(), CliError> {
    let what = mode.as_str();
    // The words that name the phrase: "the plan's name (billing)", or the phrase itself.
    let (asked, plan_only) = match phrase.strip_prefix("terminate ") {
        Some(_) => (format!("{phrase:?}"), false),
        None => (format!("the plan's name ({phrase})"), true),
    };
    let typed = match given {
        Some(c) => c.to_string(),
        None => {
            if !std::io::stdin().is_terminal() {
                return Err(CliError::Usage(format!(
                    "a {what} launches production instances: type {asked} at the prompt in a terminal, or pass --confirm {:?}; nothing started",
                    phrase
                )));
            }
            dialoguer::Input::<String>::new()
                .with_prompt(format!(
                    "Type {asked} to launch a {what}, anything else to abort"
                ))
                .allow_empty(true)
                .interact_text()
                .map_err(|e| CliError::Usage(format!("no confirmation ({e}); nothing started")))?
        }
    };
    if typed.trim() != phrase {
        let expected = if plan_only {
            format!("the plan's name {phrase:?}")
        } else {
            format!("{phrase:?}")
        };
        return Err(CliError::Usage(format!(
            "{:?} is not {expected}: the {what} is not confirmed; nothing started",
            typed.trim()
        )));
    }
    Ok(())
}
