//! Items that hold their record as JSON in one attribute (HEALTH, NETWORK): written whole,
//! read whole, never queried inside. Beside the JSON, the attributes a person reading the
//! table looks for (the item's type, its execution and wave, and what the caller adds).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::DynamoHistory;
use crate::HistoryError;
use crate::codec::{Item, n, s};
use crate::error::from_sdk;

/// Where a JSON item lives and what it is.
pub(super) struct JsonItem<'a> {
    pub pk: String,
    pub sk: &'a str,
    /// `itemType`, and the name the record has in errors ("health", "network").
    pub item_type: &'static str,
    pub what: &'static str,
    /// The attribute that holds the JSON.
    pub attribute: &'static str,
}

impl DynamoHistory {
    /// Replaces the item with `record`, plus `extra` attributes beside the usual ones.
    pub(super) async fn put_json_item(
        &self,
        at: &JsonItem<'_>,
        (execution_id, wave_index): (&str, u32),
        extra: Item,
        record: &impl Serialize,
    ) -> Result<(), HistoryError> {
        let json = serde_json::to_string(record)
            .map_err(|e| HistoryError::Failed(format!("encoding a {} record: {e}", at.what)))?;
        let mut item = Self::key(at.pk.clone(), at.sk);
        item.insert("itemType".into(), s(at.item_type));
        item.insert("executionId".into(), s(execution_id));
        item.insert("waveIndex".into(), n(wave_index));
        item.extend(extra);
        item.insert(at.attribute.into(), s(json));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("DynamoDB PutItem ({})", at.what), &e))?;
        Ok(())
    }

    /// The item's record, if the item exists; `context` names it in a Corrupt error.
    pub(super) async fn read_json_item<T: DeserializeOwned>(
        &self,
        at: &JsonItem<'_>,
        context: &str,
    ) -> Result<Option<T>, HistoryError> {
        let Some(item) = self.get(at.pk.clone(), at.sk).await? else {
            return Ok(None);
        };
        let json = item
            .get(at.attribute)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| HistoryError::Corrupt(format!("{context} has no {}", at.attribute)))?;
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| HistoryError::Corrupt(format!("{context}: {e}")))
    }
}
