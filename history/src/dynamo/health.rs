//! The HEALTH item (`EXEC#<arn>`, `WAVE#0001#HEALTH`): a wave's health checks, written whole by
//! each round (the record as JSON in one attribute: it is read whole, never queried inside).

use drs_waves_contract::history::{execution_pk, health_sk};

use super::DynamoHistory;
use super::json_item::JsonItem;
use crate::codec::s;
use crate::{HistoryError, WaveHealthRecord};

fn health_item<'a>(execution_id: &str, sk: &'a str) -> JsonItem<'a> {
    JsonItem {
        pk: execution_pk(execution_id),
        sk,
        item_type: "HEALTH",
        what: "health",
        attribute: "health",
    }
}

impl DynamoHistory {
    /// Replaces the wave's HEALTH item.
    pub(super) async fn put_health(&self, health: &WaveHealthRecord) -> Result<(), HistoryError> {
        let sk = health_sk(health.wave_index);
        let extra = [("healthStatus".to_owned(), s(health.status.as_str()))].into();
        self.put_json_item(
            &health_item(&health.execution_id, &sk),
            (&health.execution_id, health.wave_index),
            extra,
            health,
        )
        .await
    }

    /// The wave's HEALTH item, if it has one.
    pub(super) async fn read_health(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Option<WaveHealthRecord>, HistoryError> {
        let sk = health_sk(wave_index);
        self.read_json_item(
            &health_item(execution_id, &sk),
            &format!("health item of wave {wave_index}"),
        )
        .await
    }
}
