//! The HEALTH item (`EXEC#<arn>`, `WAVE#0001#HEALTH`): a wave's health checks, written whole by
//! each round (the record as JSON in one attribute: it is read whole, never queried inside).

use drs_waves_contract::history::{execution_pk, health_sk};

use super::DynamoHistory;
use crate::codec::{n, s};
use crate::error::from_sdk;
use crate::{HistoryError, WaveHealthRecord};

const RECORD: &str = "health";

impl DynamoHistory {
    /// Replaces the wave's HEALTH item.
    pub(super) async fn put_health(&self, health: &WaveHealthRecord) -> Result<(), HistoryError> {
        let json = serde_json::to_string(health)
            .map_err(|e| HistoryError::Failed(format!("encoding a health record: {e}")))?;
        let mut item = Self::key(
            execution_pk(&health.execution_id),
            &health_sk(health.wave_index),
        );
        item.insert("itemType".into(), s("HEALTH"));
        item.insert("executionId".into(), s(&health.execution_id));
        item.insert("waveIndex".into(), n(health.wave_index));
        item.insert("healthStatus".into(), s(health.status.as_str()));
        item.insert(RECORD.into(), s(json));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB PutItem (health)", &e))?;
        Ok(())
    }

    /// The wave's HEALTH item, if it has one.
    pub(super) async fn read_health(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Option<WaveHealthRecord>, HistoryError> {
        let Some(item) = self
            .get(execution_pk(execution_id), &health_sk(wave_index))
            .await?
        else {
            return Ok(None);
        };
        let json = item
            .get(RECORD)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| {
                HistoryError::Corrupt(format!("health item of wave {wave_index} has no {RECORD}"))
            })?;
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| HistoryError::Corrupt(format!("health item of wave {wave_index}: {e}")))
    }
}
