//! The NETWORK item (`EXEC#<arn>`, `WAVE#0001#NETWORK#before#1`): a network recovery action's
//! DRS job (the record as JSON in one attribute, the job ID beside it for a person reading
//! the table).

use drs_waves_contract::history::{execution_pk, network_sk};

use super::DynamoHistory;
use super::json_item::JsonItem;
use crate::codec::s;
use crate::{HistoryError, NetworkRecord};

fn network_item<'a>(execution_id: &str, sk: &'a str) -> JsonItem<'a> {
    JsonItem {
        pk: execution_pk(execution_id),
        sk,
        item_type: "NETWORK",
        what: "network",
        attribute: "network",
    }
}

impl DynamoHistory {
    /// Replaces the action's NETWORK item.
    pub(super) async fn put_network(&self, r: &NetworkRecord) -> Result<(), HistoryError> {
        let sk = network_sk(r.wave_index, &r.phase, r.position);
        let extra = [
            ("jobId".to_owned(), s(&r.job_id)),
            ("networkStatus".to_owned(), s(&r.status)),
        ]
        .into();
        self.put_json_item(
            &network_item(&r.execution_id, &sk),
            (&r.execution_id, r.wave_index),
            extra,
            r,
        )
        .await
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
        self.read_json_item(&network_item(execution_id, &sk), &sk)
            .await
    }
}
