//! Items that hold their record as JSON in one attribute (NETWORK; HEALTH, in pages, is read by
//! [`super::paged`]): written whole (built by [`crate::items`]), read whole, never queried
//! inside.

use serde::de::DeserializeOwned;

use super::DynamoHistory;
use crate::HistoryError;

/// Where a JSON item lives and which attribute holds its JSON.
pub(super) struct JsonItem<'a> {
    pub pk: String,
    pub sk: &'a str,
    /// The attribute that holds the JSON.
    pub attribute: &'static str,
}

impl DynamoHistory {
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
