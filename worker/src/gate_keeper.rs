//! The gate keeper: keeps the approval gates and decisions that wait for an operator alive.
//!
//! A gate's await-operator task records its token in the history and answers nothing. The
//! task has a HeartbeatSeconds of its own (the plan's `tasks.gateHeartbeatSeconds`): every
//! worker runs this keeper, which heartbeats each token recorded as a RUNNING execution's
//! pending gates (one per wave and kind; several at once when waves run side by side), so a gate stays open however many workers come and go. A token that was
//! never recorded (GetActivityTask "is designed to provide a taskToken exactly-once": a
//! dropped answer, or a worker killed between the poll and the history write, loses it) is
//! heartbeated by nobody; its heartbeat times out and the machine's Retry opens the gate again
//! with a fresh token, which the worker records. A gate past the deadline it first opened with
//! is failed here with DrsWaves.GateTimedOut, so a re-opened gate never outlives its timeout.

use std::time::Duration;

use drs_waves_contract::operator::gate_timed_out_cause;
use drs_waves_contract::{ErrorName, PendingGate};
use time::OffsetDateTime;
use tracing::{debug, info, warn};

use crate::error::TaskError;
use crate::sfn::{ActivityService, Delivery};
use crate::token::TaskToken;
use drs_waves_history::History;
use drs_waves_rules::parse_time;

/// RUNNING records looked at per round (newest first).
const RUNNING_PER_ROUND: usize = 200;

/// The shortest wait between two rounds (a plan with a very short gate heartbeat).
const MIN_ROUND_INTERVAL: Duration = Duration::from_secs(1);

/// What one round did to one gate (`gate`: its key, `approve_w2` / `decide_w4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateKept {
    /// Heartbeated: the gate stays open.
    Alive { execution_id: String, gate: String },
    /// Step Functions no longer knows the token (the gate was answered, timed out, or its
    /// heartbeat timed out and it is re-opening with a fresh token).
    Gone {
        execution_id: String,
        gate: String,
        reason: String,
    },
    /// Past its deadline: failed with DrsWaves.GateTimedOut.
    TimedOut { execution_id: String, gate: String },
}

/// One round over every pending gate of every RUNNING execution (waves that run side by side
/// can wait at several gates at once). Errors on one gate are logged and do not stop the
/// round; the smallest gate heartbeat seen decides how soon the next round must come.
pub async fn keep_gates<H: History, S: ActivityService>(
    history: &H,
    sfn: &S,
    now: OffsetDateTime,
) -> Result<(Vec<GateKept>, Option<u32>), TaskError> {
    let mut kept = Vec::new();
    let mut smallest_heartbeat: Option<u32> = None;
    for record in history.running_executions(RUNNING_PER_ROUND).await? {
        for gate in &record.pending_gates {
            // A gate of a machine generated before gates had a heartbeat has nothing to keep.
            let Some(heartbeat) = gate.heartbeat_seconds else {
                continue;
            };
            smallest_heartbeat = Some(smallest_heartbeat.map_or(heartbeat, |h| h.min(heartbeat)));
            if let Some(k) = keep_logged(sfn, &record.execution_id, gate, now).await {
                kept.push(k);
            }
        }
    }
    Ok((kept, smallest_heartbeat))
}

/// Keeps one gate and logs what became of it; None when the heartbeat itself failed (the next
/// round tries again).
async fn keep_logged<S: ActivityService>(
    sfn: &S,
    execution_id: &str,
    gate: &PendingGate,
    now: OffsetDateTime,
) -> Option<GateKept> {
    let (execution_id, key) = (execution_id.to_string(), gate.key());
    match keep_one(sfn, gate, now).await {
        Ok(GateOutcome::Alive) => Some(GateKept::Alive {
            execution_id,
            gate: key,
        }),
        Ok(GateOutcome::Gone(reason)) => {
            info!(execution = %execution_id, gate = %key, wave = %gate.wave_name, %reason,
                  "a recorded gate token is gone (answered, or re-opening with a fresh token)");
            Some(GateKept::Gone {
                execution_id,
                gate: key,
                reason,
            })
        }
        Ok(GateOutcome::TimedOut) => {
            warn!(execution = %execution_id, gate = %key, wave = %gate.wave_name, timeout_at = %gate.timeout_at,
                  "a gate passed its deadline: failed as timed out");
            Some(GateKept::TimedOut {
                execution_id,
                gate: key,
            })
        }
        Err(e) => {
            warn!(execution = %execution_id, gate = %key, error = %e,
                  "could not heartbeat a gate; the next round tries again");
            None
        }
    }
}

enum GateOutcome {
    Alive,
    Gone(String),
    TimedOut,
}

async fn keep_one<S: ActivityService>(
    sfn: &S,
    gate: &PendingGate,
    now: OffsetDateTime,
) -> Result<GateOutcome, TaskError> {
    let token = TaskToken::new(gate.token.clone());
    let overdue = parse_time(&gate.timeout_at).is_some_and(|deadline| now >= deadline);
    let delivery = if overdue {
        let timeout_seconds = match (parse_time(&gate.since), parse_time(&gate.timeout_at)) {
            (Some(since), Some(until)) => {
                u32::try_from((until - since).whole_seconds()).unwrap_or(0)
            }
            _ => 0,
        };
        let cause =
            gate_timed_out_cause(gate.kind, gate.wave_index, &gate.wave_name, timeout_seconds);
        match sfn
            .fail(&token, ErrorName::GateTimedOut.as_str(), &cause)
            .await?
        {
            Delivery::Delivered => return Ok(GateOutcome::TimedOut),
            gone => gone,
        }
    } else {
        sfn.heartbeat(&token).await?
    };
    Ok(match delivery {
        Delivery::Delivered => {
            debug!(wave = %gate.wave_name, "gate heartbeat");
            GateOutcome::Alive
        }
        Delivery::TaskGone(reason) => GateOutcome::Gone(reason),
    })
}

/// How long to wait before the next round: the configured interval, but at most a third of
/// the smallest gate heartbeat seen (so no recorded gate misses its heartbeat), never under a
/// second.
pub fn next_round_in(interval: Duration, smallest_heartbeat: Option<u32>) -> Duration {
    let by_heartbeat = smallest_heartbeat
        .map(|h| Duration::from_millis(u64::from(h) * 1000 / 3))
        .unwrap_or(interval);
    interval.min(by_heartbeat).max(MIN_ROUND_INTERVAL)
}

#[cfg(test)]
mod tests;
