//! What the fake stores, item by item, sized as the DynamoDB adapter's items would be: the
//! items are built by the same functions the adapter writes with ([`crate::items`]).

use super::{MemoryHistory, lock};
use crate::HistoryError;
use crate::codec::{Item, list_s, wave_statuses_av};
use crate::conformance::StoredItems;
use crate::items::{
    execution_item, health_items, item_size, job_item, launch_point_items, network_item,
    terminate_item, wave_items,
};
use drs_waves_contract::history::SORT_KEY;

impl StoredItems for MemoryHistory {
    /// Every item of the execution: EXECUTION, its TERMINATE jobs, its waves' WAVE, JOB,
    /// SERVERS and HEALTH (with their pages) and NETWORK items.
    async fn stored_item_sizes(
        &self,
        execution_id: &str,
    ) -> Result<Vec<(String, usize)>, HistoryError> {
        let state = lock(&self.state);
        let mine = |id: &String| id == execution_id;
        let mut items: Vec<Item> = Vec::new();
        if let Some(r) = state.executions.get(execution_id) {
            // As created, with what the run adds that grows: its waves' statuses and the
            // clean-up's TERMINATE jobs (their instances are TERMINATE items of their own).
            let mut item = execution_item(r);
            item.insert("terminateJobIds".into(), list_s(&r.terminate_job_ids));
            item.insert("waveStatuses".into(), wave_statuses_av(&r.wave_statuses));
            items.push(item);
        }
        items.extend(
            state
                .terminate_jobs
                .iter()
                .filter(|((id, _), _)| mine(id))
                .map(|((id, job), instances)| terminate_item(id, job, instances)),
        );
        items.extend(
            state
                .waves
                .iter()
                .filter(|((id, _), _)| mine(id))
                .flat_map(|(_, w)| wave_items(w)),
        );
        items.extend(
            state
                .jobs
                .iter()
                .filter(|((id, _), _)| mine(id))
                .map(|(_, j)| job_item(j)),
        );
        for ((id, wave), points) in &state.launch_points {
            if mine(id) {
                items.extend(launch_point_items(id, *wave, points));
            }
        }
        for ((id, _), health) in &state.health {
            if mine(id) {
                items.extend(health_items(health)?);
            }
        }
        for ((id, _), network) in &state.networks {
            if mine(id) {
                items.push(network_item(network)?);
            }
        }
        Ok(items
            .iter()
            .map(|item| {
                let sk = item
                    .get(SORT_KEY)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                (sk, item_size(item))
            })
            .collect())
    }
}
