//! The gate on the EXECUTION item (`pendingGate`, `pendingGateToken`): opened by the gate task
//! unless a cancel came first, answered once by the token it was opened with.

use aws_sdk_dynamodb::types::AttributeValue;
use drs_waves_contract::history::{
    EXECUTION_SK, PARTITION_KEY, STATUS_INDEX_PARTITION_KEY, execution_pk,
};
use drs_waves_contract::{ExecutionStatus, OperatorAction, PendingGate};

use super::{DynamoHistory, Update, missing_record};
use crate::HistoryError;
use crate::codec::{s, to_json};
use crate::roles::{Executions, Gates};

impl Gates for DynamoHistory {
    async fn open_gate(&self, execution_id: &str, gate: PendingGate) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("pendingGate", s(to_json(&gate)?))
            .set("pendingGateToken", s(&gate.token))
            .condition(
                "attribute_exists(#pk) AND attribute_not_exists(#cancel) AND #status = :running",
            )
            .name("#pk", PARTITION_KEY)
            .name("#cancel", "cancelRequested")
            .name("#status", STATUS_INDEX_PARTITION_KEY)
            .value(":running", s(ExecutionStatus::Running.as_str()));
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            return Ok(true);
        }
        match self.get_execution(execution_id).await? {
            Some(r) if r.cancel_requested.is_some() || r.status != ExecutionStatus::Running => {
                Ok(false)
            }
            Some(_) => Err(HistoryError::conflict(
                "DynamoDB UpdateItem",
                "the gate's conditional write was refused, yet the record has no cancel request",
            )),
            None => Err(missing_record(execution_id)),
        }
    }

    async fn answer_gate(
        &self,
        execution_id: &str,
        token: &str,
        action: OperatorAction,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.clause("#acts = list_append(if_not_exists(#acts, :none), :act)")
            .name("#acts", "operatorActions")
            .value(":none", AttributeValue::L(vec![]))
            .value(":act", AttributeValue::L(vec![s(to_json(&action)?)]))
            .remove("pendingGate")
            .remove("pendingGateToken")
            .condition("#tok = :tok")
            .name("#tok", "pendingGateToken")
            .value(":tok", s(token));
        self.update(execution_pk(execution_id), EXECUTION_SK, u)
            .await
    }
}
