//! The NETWORK item (`EXEC#<arn>`, `WAVE#0001#NETWORK#before#1`): a network recovery action's
//! DRS job (the record as JSON in one attribute, the job ID beside it for a person reading
//! the table).

use drs_waves_contract::history::{execution_pk, network_sk};

use super::DynamoHistory;
use crate::codec::{n, s};
use crate::error::from_sdk;
use crate::{HistoryError, NetworkRecord};

const RECORD: &str = "network";

impl DynamoHistory {
    /// Replaces the action's NETWORK item.
    pub(super) async fn put_network(&self, r: &NetworkRecord) -> Result<(), HistoryError> {
        let json = serde_json::to_string(r)
            .map_err(|e| HistoryError::Failed(format!("encoding a network record: {e}")))?;
        let mut item = Self::key(
            execution_pk(&r.execution_id),
            &network_sk(r.wave_index, &r.phase, r.position),
        );
        item.insert("itemType".into(), s("NETWORK"));
        item.insert("executionId".into(), s(&r.execution_id));
        item.insert("waveIndex".into(), n(r.wave_index));
        item.insert("jobId".into(), s(&r.job_id));
        item.insert("networkStatus".into(), s(&r.status));
        item.insert(RECORD.into(), s(json));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB PutItem (network)", &e))?;
        Ok(())
    }

    /// The action's NETWORK item, if it has one.
    pub(super) async fn read_network(
        &self,
        execution_id: &str,
        wave_index: u32,
        phase: &str,
        position: u32,
    ) -> Result<Option<NetworkRecord>, HistoryError> {
        let sk = network_sk(wave_index, phase, position);
        let Some(item) = self.get(execution_pk(execution_id), &sk).await? else {
            return Ok(None);
        };
        let json = item
            .get(RECORD)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| HistoryError::Corrupt(format!("{sk} has no {RECORD}")))?;
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| HistoryError::Corrupt(format!("{sk}: {e}")))
    }
}
