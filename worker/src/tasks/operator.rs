//! The await-operator task: an approval gate before a wave, or a decision after a failed wave
//! (`onFailure: ask`). It records the task token as the run's pending gate and answers
//! nothing: the operator does (`drs-waves approve|stop|decide|cancel`). A cancel requested
//! before the gate opened is seen here ([`History::open_gate`] refuses), so a cancel never
//! misses a gate.

use drs_waves_contract::{AwaitOperatorInput, GateKind, OperatorAction, PendingGate, RunContext};
use tracing::{info, warn};

use super::Handlers;
use crate::drs::Drs;
use crate::error::TaskError;
use crate::history::History;
use crate::rules::format_time;
use crate::sfn::ExecutionLookup;
use crate::token::TaskToken;

impl<D: Drs, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Opens the gate in the history and tells the plan's topic; the operator answers.
    pub async fn await_operator(
        &self,
        input: AwaitOperatorInput,
        token: &TaskToken,
    ) -> Result<(), TaskError> {
        let run = &input.run;
        let wave = &input.wave;
        let now = self.now();
        let attempts = match input.gate {
            GateKind::Approval => 0,
            GateKind::Decision => self
                .history
                .get_wave(&run.execution_id, wave.index)
                .await?
                .map_or(1, |w| w.attempt()),
        };
        let reason = input
            .state
            .as_ref()
            .map(|s| s.reason.clone())
            .unwrap_or_default();
        let gate = PendingGate {
            kind: input.gate,
            wave_index: wave.index,
            wave_name: wave.name.clone(),
            token: token.expose().to_owned(),
            since: format_time(now),
            timeout_at: format_time(
                now + time::Duration::seconds(i64::from(input.timeout_seconds)),
            ),
            attempts,
            max_attempts: wave.max_attempts,
            reason,
        };
        if !self
            .history
            .open_gate(&run.execution_id, gate.clone())
            .await?
        {
            return Err(self.cancelled(run).await);
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

    /// The error a task fails with once an operator cancelled the run; the cause names who.
    pub(super) async fn cancelled(&self, run: &RunContext) -> TaskError {
        match self.history.get_execution(&run.execution_id).await {
            Ok(Some(r)) => match r.cancel_requested {
                Some(action) => TaskError::Cancelled(cancel_cause(&action)),
                None => TaskError::transient(
                    "DynamoDB",
                    "a gate write was refused for a cancel that the record does not show",
                ),
            },
            Ok(None) => TaskError::Internal(format!(
                "the history has no record of execution {}",
                run.execution_id
            )),
            Err(e) => e,
        }
    }

    /// Fails with [`TaskError::Cancelled`] when an operator cancelled the run: the start and
    /// check tasks ask before they touch DRS.
    pub(super) async fn ensure_not_cancelled(&self, run: &RunContext) -> Result<(), TaskError> {
        match self.history.get_execution(&run.execution_id).await? {
            Some(r) => match r.cancel_requested {
                Some(action) => Err(TaskError::Cancelled(cancel_cause(&action))),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }
}

/// "Cancelled by arn:aws:iam::1:user/alice at 2026-11-28T10:00:00Z."
pub fn cancel_cause(action: &OperatorAction) -> String {
    format!(
        "Cancelled by {} at {}: a drill's recovery instances are terminated; a recovery's are kept.",
        action.by, action.at
    )
}

/// The subject and body of a gate's notification.
fn gate_message(run: &RunContext, gate: &PendingGate) -> (String, String) {
    let plan = &run.plan_name;
    let exec = &run.execution_name;
    let wave = format!("wave {} {}", gate.wave_index, gate.wave_name);
    match gate.kind {
        GateKind::Approval => (
            format!("drs-waves {plan}: approve {wave}?"),
            format!(
                "The {mode} {exec} of plan {plan} waits for approval before {wave}.\n\
                 Approve:  drs-waves approve {exec}\nStop:     drs-waves stop {exec}\n\
                 The gate opened at {since} and fails the execution at {until} without an answer.\n\
                 Execution: {arn}",
                mode = run.mode.as_str(),
                since = gate.since,
                until = gate.timeout_at,
                arn = run.execution_id,
            ),
        ),
        GateKind::Decision => (
            format!("drs-waves {plan}: {wave} failed, decide"),
            format!(
                "{wave} of the {mode} {exec} (plan {plan}) failed: {reason}\n\
                 Launches so far: {attempts} of at most {max}.\n\
                 Retry the servers that did not launch:  drs-waves decide {exec} retry\n\
                 Go on without the wave:                 drs-waves decide {exec} skip\n\
                 Stop the execution:                     drs-waves decide {exec} stop\n\
                 The decision waits until {until}. Execution: {arn}",
                mode = run.mode.as_str(),
                reason = gate.reason,
                attempts = gate.attempts,
                max = gate.max_attempts,
                until = gate.timeout_at,
                arn = run.execution_id,
            ),
        ),
    }
}
