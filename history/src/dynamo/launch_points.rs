//! The SERVERS item (`EXEC#<arn>`, `WAVE#0001#SERVERS`) and its pages
//! (`WAVE#0001#SERVERS#0002`, ...): a wave's launch points, written whole (preflight's, then
//! the ones the launch used) and read back by server ID, in as many pages as their size needs
//! ([`super::paged`]).

use drs_waves_contract::history::{execution_pk, servers_sk};

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::launch_points_of;
use crate::items::launch_point_items;
use crate::records::ServerLaunchPoint;

impl DynamoHistory {
    /// Replaces the wave's SERVERS item and its pages.
    pub(super) async fn put_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
        points: &[ServerLaunchPoint],
    ) -> Result<(), HistoryError> {
        let pages = launch_point_items(execution_id, wave_index, points);
        self.put_pages(execution_pk(execution_id), pages, "launch points")
            .await
    }

    /// The wave's launch points, by server ID; empty when it has no SERVERS item.
    pub(super) async fn read_launch_points(
        &self,
        execution_id: &str,
        wave_index: u32,
    ) -> Result<Vec<ServerLaunchPoint>, HistoryError> {
        let pages = self
            .read_pages(
                execution_pk(execution_id),
                &servers_sk(wave_index),
                "launch points",
            )
            .await?
            .unwrap_or_default();
        let mut points = Vec::new();
        for page in &pages {
            points.extend(launch_points_of(page)?);
        }
        points.sort_by(|a, b| a.server_id.cmp(&b.server_id));
        Ok(points)
    }
}
