//! The NETWORK item (`EXEC#<arn>`, `WAVE#0001#NETWORK#before#1`): a network recovery action's
//! DRS job (the record as JSON in one attribute, the job ID beside it for a person reading
//! the table).

use drs_waves_contract::history::{execution_pk, network_sk};

use super::DynamoHistory;
use super::json_item::JsonItem;
use crate::items::{NETWORK_JSON, network_item};
use crate::{HistoryError, NetworkRecord};

impl DynamoHistory {
    /// Replaces the action's NETWORK item.
    pub(super) async fn put_network(&self, r: &NetworkRecord) -> Result<(), HistoryError> {
        self.put_whole(network_item(r)?, "network").await
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
        let at = JsonItem {
            pk: execution_pk(execution_id),
            sk: &sk,
            attribute: NETWORK_JSON,
        };
        self.read_json_item(&at, &sk).await
    }
}
