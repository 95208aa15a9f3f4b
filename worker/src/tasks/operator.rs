//! The await-operator task: an approval gate before a wave, or a decision after a failed wave
//! (`onFailure: ask`). It records the task token as the run's pending gate and answers
//! nothing: the operator does (`drs-waves approve|stop|decide|cancel`). A cancel requested
//! before the gate opened is seen here (`Gates::open_gate` refuses), so a cancel never
//! misses a gate.

use drs_waves_contract::operator::gate_timed_out_cause;
use drs_waves_contract::{
    AwaitOperatorInput, ExecutionStatus, GateKind, OperatorAction, PendingGate, RunContext,
};
use tracing::{info, warn};

use super::Handlers;
use crate::error::TaskError;
use crate::faults::FaultPoint;
use crate::sfn::ExecutionLookup;
use crate::token::TaskToken;
use drs_waves_aws::drs::DrsAccounts;
use drs_waves_history::{ExecutionRecord, History};
use drs_waves_rules::{format_time, parse_time};

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Opens the gate in the history and tells the plan's topic; the operator answers.
    pub async fn await_operator(
        &self,
        input: AwaitOperatorInput,
        token: &TaskToken,
    ) -> Result<(), TaskError> {
        let run = &input.run;
        let wave = &input.wave;
        let now = self.now();
        if input.reopened == 0 && self.faults.drops(FaultPoint::DropFirstGateToken) {
            warn!("TEST fault point: the gate's first token is dropped unrecorded");
            return Ok(());
        }
        // A gate re-opened after its token was lost keeps the deadline it first opened with.
        let opened = input
            .opened_at
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(now);
        let deadline = opened + time::Duration::seconds(i64::from(input.timeout_seconds));
        if input.reopened > 0 && now >= deadline {
            return Err(TaskError::GateTimedOut(gate_timed_out_cause(
                input.gate,
                wave.index,
                &wave.name,
                input.timeout_seconds,
            )));
        }
        // A failed action's decision launches nothing: its retry runs the action again.
        let attempts = match (input.gate, &input.action) {
            (GateKind::Approval, _) | (GateKind::Decision, Some(_)) => 0,
            (GateKind::Decision, None) => self
                .history
                .get_wave(&run.execution_id, wave.index)
                .await?
                .map_or(1, |w| w.attempt()),
        };
        let reason = match (&input.action, &input.state) {
            (Some(a), _) => a.failure.cause.clone(),
            (None, Some(s)) => s.reason.clone(),
            (None, None) => String::new(),
        };
        let gate = PendingGate {
            kind: input.gate,
            wave_index: wave.index,
            wave_name: wave.name.clone(),
            token: token.expose().to_owned(),
            since: format_time(opened),
            timeout_at: format_time(deadline),
            attempts,
            max_attempts: wave.max_attempts,
            reason,
            action: input.action.as_ref().map(|a| a.name.clone()),
            heartbeat_seconds: input.gate_heartbeat_seconds,
            reopened: input.reopened,
        };
        if !self
            .history
            .open_gate(&run.execution_id, gate.clone())
            .await?
        {
            return Err(self.cancelled(run).await);
        }
        if input.reopened > 0 {
            // The operator was told when the gate first opened; the commands are the same.
            warn!(gate = input.gate.as_str(), wave = %wave.name, reopened = input.reopened, timeout_at = %gate.timeout_at,
                  "the gate re-opened with a fresh token (the previous one was lost); waiting for an operator");
            return Ok(());
        }
        info!(gate = input.gate.as_str(), wave = %wave.name, timeout_at = %gate.timeout_at, "waiting for an operator");
        let topic = match input.gate {
            GateKind::Approval => wave.approval.as_ref().and_then(|a| a.notify.clone()),
            GateKind::Decision => wave.decision_notify.clone(),
        };
        if let Some(topic) = topic {
            let (subject, message) = gate_message(run, &gate);
            // The gate waits whether or not the message went out: the console and the CLI
            // show it too. A lost message must not fail a recovery.
            if let Err(e) = self.notifier.publish(&topic, &subject, &message).await {
                warn!(%topic, error = %e, "could not notify the gate's topic; the gate waits all the same");
            }
        }
        Ok(())
    }

    /// Why the gate write was refused: the run was cancelled (the cause names who) or its
    /// record is closed (a redrive, or a gate task that outlived StopExecution).
    pub(super) async fn cancelled(&self, run: &RunContext) -> TaskError {
        match self.history.get_execution(&run.execution_id).await {
            Ok(Some(r)) => refusal(&r).unwrap_or_else(|| {
                TaskError::transient(
                    "DynamoDB",
                    "a gate write was refused for a cancel that the record does not show",
                )
            }),
            Ok(None) => TaskError::Internal(format!(
                "the history has no record of execution {}",
                run.execution_id
            )),
            Err(e) => e.into(),
        }
    }

    /// Fails when the execution may no longer act: its record is closed
    /// ([`TaskError::ExecutionClosed`]: preempted, ended, found ended by the janitor, or a
    /// console Redrive of any of those) or an operator cancelled it ([`TaskError::Cancelled`]).
    /// The start task asks right before every StartRecovery, so a drill preempted by a
    /// RECOVERY (recorded PREEMPTED before it is stopped) launches nothing more; check and
    /// finish ask before they touch DRS or the record.
    pub(super) async fn ensure_open(&self, run: &RunContext) -> Result<(), TaskError> {
        match self.history.get_execution(&run.execution_id).await? {
            Some(r) => refusal(&r).map_or(Ok(()), Err),
            None => Ok(()),
        }
    }
}

/// Why a task of this execution must not act, if it must not. A closed record comes first: a
/// redriven cancelled execution is closed, and is not cancelled again.
pub fn refusal(record: &ExecutionRecord) -> Option<TaskError> {
    if record.status != ExecutionStatus::Running {
        return Some(TaskError::ExecutionClosed(closed_cause(record)));
    }
    record
        .cancel_requested
        .as_ref()
        .map(|action| TaskError::Cancelled(cancel_cause(action)))
}

/// "execution x's history record is closed (PREEMPTED by ... at ...): ..."
fn closed_cause(record: &ExecutionRecord) -> String {
    let by = record
        .preempted_by
        .as_ref()
        .map(|r| format!(" by {r}"))
        .unwrap_or_default();
    let at = record
        .ended_at
        .as_ref()
        .map(|t| format!(" at {t}"))
        .unwrap_or_default();
    format!(
        "execution {}'s history record is closed ({}{by}{at}): this task launches and records nothing. \
         Redrive is not supported (a redriven run would act outside the plan's run lock): start a new execution",
        record.execution_name,
        record.status.as_str()
    )
}

/// "Cancelled by arn:aws:iam::1:user/alice at 2026-11-28T10:00:00Z."
pub fn cancel_cause(action: &OperatorAction) -> String {
    format!(
        "Cancelled by {} at {}: a drill's recovery instances are terminated; a recovery's are kept.",
        action.by, action.at
    )
}

/// The subject and body of a gate's notification. Its commands name the wave (`--wave`): by
/// the time it is read, another gate of the execution may be open too (waves side by side).
fn gate_message(run: &RunContext, gate: &PendingGate) -> (String, String) {
    let plan = &run.plan_name;
    let exec = &run.execution_name;
    let wave = format!("wave {} {}", gate.wave_index, gate.wave_name);
    match gate.kind {
        GateKind::Approval => (
            format!("drs-waves {plan}: approve {wave}?"),
            format!(
                "The {mode} {exec} of plan {plan} waits for approval before {wave}.\n\
                 Approve:  drs-waves approve {exec} --wave {index}\n\
                 Stop:     drs-waves stop {exec} --wave {index}\n\
                 The gate opened at {since} and fails the execution at {until} without an answer.\n\
                 Execution: {arn}",
                mode = run.mode.as_str(),
                index = gate.wave_index,
                since = gate.since,
                until = gate.timeout_at,
                arn = run.execution_id,
            ),
        ),
        GateKind::Decision if gate.action.is_some() => (
            format!("drs-waves {plan}: an action of {wave} failed, decide"),
            format!(
                "{action} of the {mode} {exec} (plan {plan}) failed: {reason}\n\
                 Run the action again:     drs-waves decide {exec} retry --wave {index}\n\
                 Go on without it:         drs-waves decide {exec} skip --wave {index}\n\
                 Stop the execution:       drs-waves decide {exec} stop --wave {index}\n\
                 The decision waits until {until}. Execution: {arn}",
                action = gate.action.as_deref().unwrap_or_default(),
                mode = run.mode.as_str(),
                index = gate.wave_index,
                reason = gate.reason,
                until = gate.timeout_at,
                arn = run.execution_id,
            ),
        ),
        GateKind::Decision => (
            format!("drs-waves {plan}: {wave} failed, decide"),
            format!(
                "{wave} of the {mode} {exec} (plan {plan}) failed: {reason}\n\
                 Launches so far: {attempts} of at most {max}.\n\
                 Retry the servers that did not launch:  drs-waves decide {exec} retry --wave {index}\n\
                 Go on without the wave:                 drs-waves decide {exec} skip --wave {index}\n\
                 Stop the execution:                     drs-waves decide {exec} stop --wave {index}\n\
                 The decision waits until {until}. Execution: {arn}",
                mode = run.mode.as_str(),
                index = gate.wave_index,
                reason = gate.reason,
                attempts = gate.attempts,
                max = gate.max_attempts,
                until = gate.timeout_at,
                arn = run.execution_id,
            ),
        ),
    }
}
