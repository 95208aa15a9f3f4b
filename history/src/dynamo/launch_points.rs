//! The SERVERS item (`EXEC#<arn>`, `WAVE#0001#SERVERS`): a wave's launch points, written whole
//! (preflight's, then the ones the launch used) and read back by server ID.

use drs_waves_contract::history::{execution_pk, servers_sk};

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::{launch_points_av, launch_points_of, n, s};
use crate::error::from_sdk;
use crate::records::ServerLaunchPoint;

impl DynamoHistory {
    /// Replaces the wave's SERVERS item.
    pub(super) async fn put_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
        points: &[ServerLaunchPoint],
    ) -> Result<(), HistoryError> {
        let mut item = Self::key(execution_pk(execution_id), &servers_sk(wave_index));
        item.insert("itemType".into(), s("SERVERS"));
        item.insert("executionId".into(), s(execution_id));
        item.insert("waveIndex".into(), n(wave_index));
        item.insert("servers".into(), launch_points_av(points));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB PutItem (launch points)", &e))?;
        Ok(())
    }

    /// The wave's launch points, by server ID; empty when it has no SERVERS item.
    pub(super) async fn read_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Vec<ServerLaunchPoint>, HistoryError> {
        match self
            .get(execution_pk(execution_id), &servers_sk(wave_index))
            .await?
        {
            Some(item) => launch_points_of(&item),
            None => Ok(Vec::new()),
        }
    }
}
