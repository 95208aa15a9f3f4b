//! Answering gates and decisions, and cancelling: `approve`, `stop`, `decide`, `cancel`.
//!
//! Every answer is first recorded in the history (`Gates::answer_gate`: a conditional write
//! on the gate's token, so a gate is answered once, and the action names the caller), and only
//! then sent to Step Functions with the token.

use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use drs_waves_aws::drs::{Drs, DrsAccounts as _, JobFilter};
use drs_waves_contract::operator::gate_states;
use drs_waves_contract::{
    ErrorName, ExecutionStatus, GateKind, HealthStatus, OperatorAction, OperatorActionKind,
    OperatorAnswer, PendingGate, decisions,
};
use drs_waves_history::{CancelOutcome, ExecutionRecord, Executions, Gates, Waves};
use drs_waves_rules::{RetryPlan, retry_plan};

use crate::aws::Aws;
use crate::error::{self, CliError};
use crate::resolve::{self, Execution};

mod pick;
pub use pick::{cancel_wave, command_for, describe_gate, list_gates, names_wave, pick};

/// What an operator answers at a gate or decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Decision {
    Retry,
    Skip,
    Stop,
}

/// `approve` or `stop` (either gate kind) or `decide`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approve,
    Stop,
    Retry,
    Skip,
}

impl Answer {
    fn kind(self) -> OperatorActionKind {
        match self {
            Answer::Approve => OperatorActionKind::Approve,
            Answer::Stop => OperatorActionKind::Stop,
            Answer::Retry => OperatorActionKind::Retry,
            Answer::Skip => OperatorActionKind::Skip,
        }
    }

    /// The gate kinds it answers.
    fn answers(self, kind: GateKind) -> bool {
        match self {
            Answer::Approve => kind == GateKind::Approval,
            Answer::Retry | Answer::Skip => kind == GateKind::Decision,
            Answer::Stop => true,
        }
    }

    fn command(self) -> &'static str {
        match self {
            Answer::Approve => "approve",
            Answer::Stop => "stop",
            Answer::Retry => "decide retry",
            Answer::Skip => "decide skip",
        }
    }
}

impl From<Decision> for Answer {
    fn from(d: Decision) -> Answer {
        match d {
            Decision::Retry => Answer::Retry,
            Decision::Skip => Answer::Skip,
            Decision::Stop => Answer::Stop,
        }
    }
}

/// "wave 2 'app'".
pub fn wave_label(index: u32, name: &str) -> String {
    format!("wave {index} '{name}'")
}

/// The cause of a stop at a gate: who, when, where.
pub fn stop_cause(gate: &PendingGate, by: &str, at: &str) -> String {
    let wave = wave_label(gate.wave_index, &gate.wave_name);
    match gate.kind {
        GateKind::Approval => format!("Stopped at the approval gate of {wave} by {by} at {at}."),
        GateKind::Decision => {
            format!("Stopped at the decision after {wave} failed by {by} at {at}.")
        }
    }
}

/// The cause of a cancel (the worker's `cancel_cause` says the same).
pub fn cancel_cause(action: &OperatorAction) -> String {
    format!(
        "Cancelled by {} at {}: a drill's recovery instances are terminated; a recovery's are kept.",
        action.by, action.at
    )
}

/// Why a retry is refused before anything is sent, if it is.
pub fn retry_refusal(gate: &PendingGate, execution: &str) -> Option<String> {
    (gate.attempts >= gate.max_attempts).then(|| {
        format!(
            "{} has had its {} launches (maxAttempts): skip or stop (drs-waves decide {execution} skip|stop)",
            wave_label(gate.wave_index, &gate.wave_name).replace('\'', ""),
            gate.attempts
        )
    })
}

/// A retry that would find nothing to launch again fails the execution (the start task
/// refuses it), so it is refused here, with what the wave's servers are doing. The same rule as
/// the worker's ([`retry_plan`]), on the wave's jobs as DRS describes them now. When the wave
/// or DRS cannot be read, nothing is refused: the worker decides.
/// On the way home (`failback`), the servers to bring home again must also be ready for it.
async fn nothing_to_relaunch(
    aws: &Aws,
    exec: &Execution,
    gate: &PendingGate,
    failback: bool,
) -> Option<String> {
    let recorded = aws
        .history
        .get_wave(&exec.arn, gate.wave_index)
        .await
        .ok()??;
    let optional = resolve::plan_spec(aws, &exec.machine_arn)
        .await
        .ok()
        .flatten()
        .and_then(|plan| plan.waves.into_iter().find(|w| w.index == gate.wave_index))
        .map(|w| w.optional)
        .unwrap_or_default();
    // The wave's jobs and instances are in its own account (through its role).
    let drs = aws
        .drs_accounts()
        .ok()?
        .drs_for(recorded.account.as_ref())
        .await;
    let jobs = drs
        .describe_jobs(JobFilter {
            job_ids: recorded.job_ids.clone(),
            from_date: None,
        })
        .await
        .ok()?;
    let plan = retry_plan(&recorded, &jobs, &optional);
    if plan.relaunch.is_empty() {
        return Some(relaunch_refusal(gate, &plan, &exec.name));
    }
    if !failback {
        return None;
    }
    let wave = wave_label(gate.wave_index, &gate.wave_name).replace('\'', "");
    crate::failback::not_ready_to_retry(aws, exec, (&wave, &drs), &plan.relaunch).await
}

/// The words of [`nothing_to_relaunch`]'s refusal.
pub fn relaunch_refusal(gate: &PendingGate, plan: &RetryPlan, execution: &str) -> String {
    let wave = wave_label(gate.wave_index, &gate.wave_name).replace('\'', "");
    if plan.still_launching.is_empty() {
        format!(
            "{wave} has nothing to launch again: every required server launched. Skip or stop (drs-waves decide {execution} skip|stop)"
        )
    } else {
        format!(
            "{wave} has nothing to launch again yet: {} required server(s) still launching ({}). Wait for them (drs-waves follow {execution}) and decide again, or skip|stop",
            plan.still_launching.len(),
            plan.still_launching.join(", ")
        )
    }
}

/// What the execution does, for an answer that found no gate waiting for it: among it, every
/// gate it waits at (with `--wave` in the commands when there are several).
pub fn doing(
    status: &SfnStatus,
    state: Option<&str>,
    record: Option<&ExecutionRecord>,
    gates: &[PendingGate],
    execution: &str,
) -> String {
    if *status != SfnStatus::Running {
        let recorded = record
            .map(|r| r.status)
            .filter(|s| s.is_final())
            .map(|s| format!(" (recorded {s})"))
            .unwrap_or_default();
        return format!("it has ended: {}{recorded}", status.as_str());
    }
    if let [g] = gates {
        let wave = wave_label(g.wave_index, &g.wave_name);
        return match g.kind {
            GateKind::Approval => format!(
                "it waits at the approval gate of {wave}: answer with drs-waves approve|stop {execution}"
            ),
            GateKind::Decision => format!(
                "it waits for a decision after {wave} failed: answer with drs-waves decide {execution} retry|skip|stop"
            ),
        };
    }
    if !gates.is_empty() {
        let each: Vec<String> = gates
            .iter()
            .map(|g| match g.kind {
                GateKind::Approval => format!(
                    "{} (drs-waves approve|stop {execution} --wave {})",
                    describe_gate(g),
                    g.wave_index
                ),
                GateKind::Decision => format!(
                    "{} (drs-waves decide {execution} retry|skip|stop --wave {})",
                    describe_gate(g),
                    g.wave_index
                ),
            })
            .collect();
        return format!("it waits at {} gates: {}", gates.len(), each.join("; "));
    }
    let cancel = record
        .and_then(|r| r.cancel_requested.as_ref())
        .map(|a| format!("; a cancel by {} at {} is under way", a.by, a.at))
        .unwrap_or_default();
    match state {
        // At a gate state with no token recorded: the worker lost the token (a dropped
        // GetActivityTask answer, a worker killed before its history write), or the gate is
        // just opening. Its heartbeat times out and the machine opens it again.
        Some(s) if cancel.is_empty() && gate_states::is_gate(s) => format!(
            "it is at '{s}', but no gate token is recorded yet: the gate is opening, or re-opening because its token was \
             lost (Step Functions opens it again when its heartbeat times out, within the plan's tasks.gateHeartbeatSeconds). \
             Try again in a minute, or follow it: drs-waves follow {execution}"
        ),
        Some(s) => format!("it is RUNNING in state '{s}'{cancel}"),
        None => format!("it is RUNNING{cancel}"),
    }
}

/// What the operator is told after an answer went through.
pub fn answered_text(answer: Answer, gate: &PendingGate, execution: &str) -> String {
    if let Some(action) = &gate.action {
        return match answer {
            Answer::Retry => format!("Retry of {action} of {execution}: the action runs again."),
            Answer::Skip => {
                format!("Skipped {action} of {execution}: the execution goes on without it.")
            }
            _ => answered_text_of_wave(answer, gate, execution),
        };
    }
    answered_text_of_wave(answer, gate, execution)
}

fn answered_text_of_wave(answer: Answer, gate: &PendingGate, execution: &str) -> String {
    let wave = wave_label(gate.wave_index, &gate.wave_name);
    match answer {
        Answer::Approve => format!("Approved {wave} of {execution}: the wave starts now."),
        Answer::Retry => format!(
            "Retry of {wave} of {execution}: its required servers that did not launch are launched again (launch {} of at most {}).",
            gate.attempts + 1,
            gate.max_attempts
        ),
        Answer::Skip => format!(
            "Skipped {wave} of {execution}: it is recorded SKIPPED and the next wave goes on."
        ),
        Answer::Stop => format!(
            "Stopped {execution} at {wave}: it ends STOPPED and is cleaned up as a cancel (a drill's instances are terminated, a recovery's kept)."
        ),
    }
}

/// Why a gate cannot be answered any more: its timeout has passed (Step Functions fails the
/// execution at it, if it has not already).
fn timed_out(gate: &PendingGate, now: time::OffsetDateTime, answer: Answer) -> Option<String> {
    let timeout = drs_waves_rules::parse_time(&gate.timeout_at)?;
    (now >= timeout).then(|| {
        format!(
            "the {} of {} timed out at {}: the execution fails at the gate; your {} was not recorded",
            gate.kind.describe(),
            wave_label(gate.wave_index, &gate.wave_name),
            gate.timeout_at,
            answer.command()
        )
    })
}

fn now_rfc3339() -> String {
    drs_waves_rules::format_time(time::OffsetDateTime::now_utc())
}

/// What an answer that Step Functions refused for its token says: past the gate's deadline
/// the execution fails at the gate; before it, the token was lost and the gate is re-opening
/// with a fresh one (its heartbeat timed out), to be answered again.
fn gone_token_text(gate: &PendingGate, answer: Answer, now: time::OffsetDateTime) -> String {
    let wave = wave_label(gate.wave_index, &gate.wave_name);
    let what = gate.kind.describe();
    let command = answer.command();
    match drs_waves_rules::parse_time(&gate.timeout_at) {
        Some(deadline) if now < deadline => format!(
            "the {what} of {wave} is re-opening: Step Functions no longer knows its token (it was lost, and the gate's \
             heartbeat timed out); your {command} is recorded but did not reach the execution. Answer again once \
             drs-waves status shows the gate waiting (within the plan's tasks.gateHeartbeatSeconds)"
        ),
        _ => format!(
            "the {what} of {wave} had already timed out (at {}); your {command} is recorded but changes nothing: the execution fails at the gate",
            gate.timeout_at
        ),
    }
}

/// Why a gate answer did not reach Step Functions: the token is no longer valid.
fn token_gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist")
    )
}

async fn record_of(aws: &Aws, exec: &Execution) -> Result<Option<ExecutionRecord>, CliError> {
    aws.history
        .get_execution(&exec.arn)
        .await
        .map_err(error::history)
}

async fn not_waiting(
    aws: &Aws,
    exec: &Execution,
    answer: Answer,
    record: Option<&ExecutionRecord>,
) -> CliError {
    let fresh = resolve::describe(aws, &exec.arn).await.ok().flatten();
    let status = fresh.as_ref().map_or(&exec.status, |e| &e.status);
    let state = if *status == SfnStatus::Running {
        resolve::current_state(aws, &exec.arn).await.ok().flatten()
    } else {
        None
    };
    let what = match answer {
        Answer::Approve => "an approval gate",
        Answer::Retry | Answer::Skip => "a decision",
        Answer::Stop => "a gate or decision",
    };
    CliError::NotWaiting(format!(
        "{} does not wait at {what}: {}",
        exec.name,
        doing(
            status,
            state.as_deref(),
            record,
            record.map_or(&[], |r| r.pending_gates.as_slice()),
            &exec.name
        )
    ))
}

/// Answers the gate the execution waits at (the one of wave `wave` when it waits at several
/// that take this answer). Returns what to tell the operator.
pub async fn answer(
    aws: &Aws,
    execution: &str,
    answer: Answer,
    wave: Option<&str>,
) -> Result<String, CliError> {
    let exec = resolve::execution(aws, execution).await?;
    let record = record_of(aws, &exec).await?;
    let gates = record
        .as_ref()
        .map_or(&[][..], |r| r.pending_gates.as_slice());
    let Some(gate) = pick(gates, answer, wave, &exec.name)
        .map_err(CliError::Usage)?
        .cloned()
    else {
        return Err(not_waiting(aws, &exec, answer, record.as_ref()).await);
    };
    // A decision on a failed action, or after failed health checks: a retry runs the action
    // or the checks again and launches nothing, so neither the launches left nor the servers
    // to launch again limit it.
    let checks_failed = answer == Answer::Retry
        && gate.kind == GateKind::Decision
        && gate.action.is_none()
        && aws
            .history
            .wave_health(&exec.arn, gate.wave_index)
            .await
            .ok()
            .flatten()
            .is_some_and(|h| h.status == HealthStatus::Failed);
    let launches_nothing = checks_failed || gate.action.is_some();
    if answer == Answer::Retry
        && !launches_nothing
        && let Some(why) = retry_refusal(&gate, &exec.name)
    {
        return Err(CliError::Usage(why));
    }
    // A gate past its timeout is Step Functions' to end: an answer now would be recorded and
    // change nothing (the history would show an approval that never took effect).
    if let Some(why) = timed_out(&gate, time::OffsetDateTime::now_utc(), answer) {
        return Err(CliError::NotWaiting(why));
    }
    // Last of the refusals: it reads the wave, the plan and DRS.
    if answer == Answer::Retry
        && !launches_nothing
        && let Some(why) = nothing_to_relaunch(
            aws,
            &exec,
            &gate,
            record.as_ref().and_then(|r| r.mode) == Some(drs_waves_contract::Mode::Failback),
        )
        .await
    {
        return Err(CliError::Usage(why));
    }
    let by = aws.caller_arn().await?;
    let at = now_rfc3339();
    let action = OperatorAction {
        action: answer.kind(),
        wave_index: Some(gate.wave_index),
        wave_name: Some(gate.wave_name.clone()),
        by: by.clone(),
        at: at.clone(),
    };
    let recorded = aws
        .history
        .answer_gate(&exec.arn, &gate.token, action)
        .await
        .map_err(error::history)?;
    if !recorded {
        let record = record_of(aws, &exec).await.ok().flatten();
        return Err(not_waiting(aws, &exec, answer, record.as_ref()).await);
    }
    let sent = match answer {
        Answer::Stop => aws
            .sfn
            .send_task_failure()
            .task_token(&gate.token)
            .error(ErrorName::StoppedByOperator.as_str())
            .cause(stop_cause(&gate, &by, &at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ("states:SendTaskFailure", error::failure(&e))),
        _ => {
            let decision = match answer {
                Answer::Approve => decisions::APPROVE,
                Answer::Retry => decisions::RETRY,
                _ => decisions::SKIP,
            };
            let output = serde_json::to_string(&OperatorAnswer {
                decision: decision.to_string(),
                by: by.clone(),
                at: at.clone(),
            })
            .map_err(|e| CliError::Other(format!("encoding the answer: {e}")))?;
            aws.sfn
                .send_task_success()
                .task_token(&gate.token)
                .output(output)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ("states:SendTaskSuccess", error::failure(&e)))
        }
    };
    match sent {
        Ok(()) => Ok(answered_text(answer, &gate, &exec.name)),
        Err((_, f)) if token_gone(f.code.as_deref()) => Err(CliError::NotWaiting(gone_token_text(
            &gate,
            answer,
            time::OffsetDateTime::now_utc(),
        ))),
        Err((action, f)) => Err(error::aws_error(action, &f)),
    }
}

/// Cancels an execution: the request is recorded, every pending gate is answered with the
/// cancel, otherwise the execution's next task sees it.
pub async fn cancel(aws: &Aws, execution: &str) -> Result<String, CliError> {
    let exec = resolve::execution(aws, execution).await?;
    if exec.status != SfnStatus::Running {
        return Err(CliError::NotWaiting(format!(
            "{} has ended ({}): there is nothing to cancel",
            exec.name,
            exec.status.as_str()
        )));
    }
    let by = aws.caller_arn().await?;
    let at = now_rfc3339();
    let before = record_of(aws, &exec).await?;
    let (wave_index, wave_name) = cancel_wave(before.as_ref().map_or(&[], |r| &r.pending_gates));
    let action = OperatorAction {
        action: OperatorActionKind::Cancel,
        wave_index,
        wave_name,
        by,
        at,
    };
    match aws
        .history
        .request_cancel(&exec.arn, action.clone())
        .await
        .map_err(error::history)?
    {
        CancelOutcome::Requested => {}
        CancelOutcome::AlreadyRequested(earlier) => {
            return Ok(format!(
                "{} was already cancelled by {} at {}; the cancel is under way",
                exec.name, earlier.by, earlier.at
            ));
        }
        CancelOutcome::NotRunning(None) => {
            return Err(CliError::NotWaiting(format!(
                "{} has no history record yet (it has not passed preflight): try again in a moment, or stop it in the Step Functions console",
                exec.name
            )));
        }
        CancelOutcome::NotRunning(Some(status)) => {
            return Err(CliError::NotWaiting(format!(
                "{} is not running (recorded {status}): there is nothing to cancel",
                exec.name
            )));
        }
    }
    let what = mode_effect(before.as_ref());
    // Every gate open now (one may have opened since the first read) is answered with the
    // cancel; a gate that opens later sees the request itself.
    let mut gates = record_of(aws, &exec)
        .await?
        .map(|r| r.pending_gates)
        .unwrap_or_default();
    for earlier in before.map(|r| r.pending_gates).unwrap_or_default() {
        if !gates.iter().any(|g| g.token == earlier.token) {
            gates.push(earlier);
        }
    }
    for gate in &gates {
        let sent = aws
            .sfn
            .send_task_failure()
            .task_token(&gate.token)
            .error(ErrorName::Cancelled.as_str())
            .cause(cancel_cause(&action))
            .send()
            .await;
        if let Err(e) = sent {
            let f = error::failure(&e);
            if !token_gone(f.code.as_deref()) {
                return Err(error::aws_error("states:SendTaskFailure", &f));
            }
        }
    }
    Ok(cancelled_text(&exec.name, &gates, what))
}

/// What a cancel tells the operator: where it stopped the execution (every gate it answered).
pub fn cancelled_text(execution: &str, gates: &[PendingGate], what: &str) -> String {
    match gates {
        [] => {
            format!("Cancel of {execution} requested: its next task takes the cancel path; {what}")
        }
        [gate] => format!(
            "Cancelled {execution} at the {} of {}: {what}",
            gate.kind.describe(),
            wave_label(gate.wave_index, &gate.wave_name)
        ),
        several => format!(
            "Cancelled {execution} at {} gates ({}): {what}",
            several.len(),
            list_gates(several)
        ),
    }
}

fn mode_effect(record: Option<&ExecutionRecord>) -> &'static str {
    match record.and_then(|r| r.mode) {
        Some(drs_waves_contract::Mode::Recovery) => {
            "a RECOVERY's instances are kept; it ends CANCELLED"
        }
        Some(drs_waves_contract::Mode::Drill) => {
            "the drill's instances are terminated; it ends CANCELLED"
        }
        Some(drs_waves_contract::Mode::Failback) => {
            "the recovery instances not yet home keep running; it ends CANCELLED"
        }
        None => "a drill's instances are terminated, a recovery's kept; it ends CANCELLED",
    }
}

/// Whether a recorded status means an operator ended the run.
pub fn by_operator(status: ExecutionStatus) -> bool {
    matches!(
        status,
        ExecutionStatus::Cancelled | ExecutionStatus::Stopped
    )
}

#[cfg(test)]
mod tests;
