//! The HEALTH item (`EXEC#<arn>`, `WAVE#0001#HEALTH`) and its pages: a wave's health checks,
//! written whole by each round (the record as JSON, cut into pages when a large wave's probes
//! need them: [`super::paged`]), read whole, never queried inside.

use drs_waves_contract::history::{execution_pk, health_sk};

use super::DynamoHistory;
use crate::items::{health_items, health_of};
use crate::{HistoryError, WaveHealthRecord};

impl DynamoHistory {
    /// Replaces the wave's HEALTH item and its pages.
    pub(super) async fn put_health(&self, health: &WaveHealthRecord) -> Result<(), HistoryError> {
        self.put_pages(
            execution_pk(&health.execution_id),
            health_items(health)?,
            "health",
        )
        .await
    }

    /// The wave's health record, if it has one.
    pub(super) async fn read_health(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Option<WaveHealthRecord>, HistoryError> {
        self.read_pages(execution_pk(execution_id), &health_sk(wave_index), "health")
            .await?
            .map(|pages| health_of(&pages))
            .transpose()
    }
}
