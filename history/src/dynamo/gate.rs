//! The gates on the EXECUTION item (`pendingGates`, a map keyed `approve_w<i>` / `decide_w<i>`,
//! each entry `{token, gate}`): each opened by its gate task unless a cancel came first,
//! answered once by the token it was opened with. Waves that run side by side may wait at
//! several gates at once; a gate's write touches only its own entry.

use aws_sdk_dynamodb::types::AttributeValue;
use drs_waves_contract::history::{
    EXECUTION_SK, PARTITION_KEY, STATUS_INDEX_PARTITION_KEY, execution_pk,
};
use drs_waves_contract::{ExecutionStatus, OperatorAction, PendingGate};

use super::{DynamoHistory, Update, missing_record};
use crate::HistoryError;
use crate::codec::{
    GATE_TOKEN, Item, LEGACY_PENDING_GATE, LEGACY_PENDING_GATE_TOKEN, PENDING_GATES, execution_of,
    gate_entry_av, s, to_json,
};
use crate::roles::Gates;

/// How many times opening a gate goes round when the map appears or goes between its read
/// and its write (another gate of the execution opened at the same moment).
const OPEN_ROUNDS: usize = 4;

/// Whether the execution refuses gates: a cancel was asked of it, or it is not RUNNING.
fn refuses_gates(item: &Item) -> Result<bool, HistoryError> {
    let r = execution_of(item)?;
    Ok(r.cancel_requested.is_some() || r.status != ExecutionStatus::Running)
}

/// The condition every gate write shares: a RUNNING execution that no cancel was asked of.
fn open_condition(u: &mut Update, map: &str) {
    u.condition(&format!(
        "attribute_exists(#pk) AND attribute_not_exists(#cancel) AND #status = :running AND {map}"
    ))
    .name("#pk", PARTITION_KEY)
    .name("#cancel", "cancelRequested")
    .name("#status", STATUS_INDEX_PARTITION_KEY)
    .name("#gates", PENDING_GATES)
    .value(":running", s(ExecutionStatus::Running.as_str()));
}

impl Gates for DynamoHistory {
    async fn open_gate(&self, execution_id: &str, gate: PendingGate) -> Result<bool, HistoryError> {
        let key = gate.key();
        let entry = gate_entry_av(&gate)?;
        for _ in 0..OPEN_ROUNDS {
            // The usual case: the map exists; set (or replace) this gate's own entry only.
            let mut u = Update::default();
            u.set_path("#gates.#key", entry.clone()).name("#key", &key);
            open_condition(&mut u, "attribute_exists(#gates)");
            if self
                .update(execution_pk(execution_id), EXECUTION_SK, u)
                .await?
            {
                return Ok(true);
            }
            let Some(item) = self.get(execution_pk(execution_id), EXECUTION_SK).await? else {
                return Err(missing_record(execution_id));
            };
            if refuses_gates(&item)? {
                return Ok(false);
            }
            if item.contains_key(PENDING_GATES) {
                // The map appeared since the write: go round.
                continue;
            }
            // The execution's first gate (or a record of the previous release): make the map.
            let mut u = Update::default();
            u.set(
                PENDING_GATES,
                AttributeValue::M([(key.clone(), entry.clone())].into()),
            );
            open_condition(&mut u, "attribute_not_exists(#gates)");
            if self
                .update(execution_pk(execution_id), EXECUTION_SK, u)
                .await?
            {
                return Ok(true);
            }
        }
        Err(HistoryError::conflict(
            "DynamoDB UpdateItem",
            format!(
                "the gate {key}'s conditional write was refused {OPEN_ROUNDS} times, yet the \
                 record has no cancel request and is RUNNING"
            ),
        ))
    }

    async fn answer_gate(
        &self,
        execution_id: &str,
        token: &str,
        action: OperatorAction,
    ) -> Result<bool, HistoryError> {
        // Which gate holds the token; the write below is conditional on it still holding it.
        let Some(item) = self.get(execution_pk(execution_id), EXECUTION_SK).await? else {
            return Ok(false);
        };
        let record = execution_of(&item)?;
        let Some(gate) = record.gate_with_token(token) else {
            return Ok(false);
        };
        let in_map = item
            .get(PENDING_GATES)
            .and_then(|m| m.as_m().ok())
            .and_then(|m| m.get(&gate.key()))
            .and_then(|e| e.as_m().ok())
            .and_then(|e| e.get(GATE_TOKEN))
            .and_then(|t| t.as_s().ok())
            .is_some_and(|t| t == token);
        let mut u = Update::default();
        u.clause("#acts = list_append(if_not_exists(#acts, :none), :act)")
            .name("#acts", "operatorActions")
            .value(":none", AttributeValue::L(vec![]))
            .value(":act", AttributeValue::L(vec![s(to_json(&action)?)]))
            .value(":tok", s(token));
        if in_map {
            // The previous release's gate of the same wave and kind is an older token of this
            // very gate (the map entry hid it): it goes with it, or it would show again.
            let stale_legacy = item
                .get(LEGACY_PENDING_GATE)
                .and_then(|g| g.as_s().ok())
                .and_then(|g| serde_json::from_str::<PendingGate>(g).ok())
                .is_some_and(|old| old.key() == gate.key());
            if stale_legacy {
                u.remove(LEGACY_PENDING_GATE)
                    .remove(LEGACY_PENDING_GATE_TOKEN);
            }
            u.remove_path("#gates.#key")
                .name("#gates", PENDING_GATES)
                .name("#key", &gate.key())
                .name("#tok", GATE_TOKEN)
                .condition("#gates.#key.#tok = :tok");
        } else {
            // The previous release's one gate.
            u.remove(LEGACY_PENDING_GATE)
                .remove(LEGACY_PENDING_GATE_TOKEN)
                .condition("#tok = :tok")
                .name("#tok", LEGACY_PENDING_GATE_TOKEN);
        }
        self.update(execution_pk(execution_id), EXECUTION_SK, u)
            .await
    }
}
