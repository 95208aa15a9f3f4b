//! The conformance suite's view of what the adapter stores: every item of an execution's
//! partition, read back and sized as DynamoDB counts it.

use drs_waves_contract::history::{PARTITION_KEY, SORT_KEY, execution_pk};

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::s;
use crate::conformance::StoredItems;
use crate::error::from_sdk;
use crate::items::item_size;

impl StoredItems for DynamoHistory {
    async fn stored_item_sizes(
        &self,
        execution_id: &str,
    ) -> Result<Vec<(String, usize)>, HistoryError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(execution_pk(execution_id)))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut sizes = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DynamoDB Query", &e))?;
            for item in page.items() {
                let sk = item
                    .get(SORT_KEY)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                sizes.push((sk, item_size(item)));
            }
        }
        Ok(sizes)
    }
}
