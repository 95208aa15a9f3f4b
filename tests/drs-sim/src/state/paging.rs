//! Paging of the Describe operations: page sizes, `nextToken`s, and the paging knob's
//! empty first pages.

use serde_json::{Value, json};

use super::SimState;
use crate::config::Paging;
use crate::wire::{self, ApiError};

impl SimState {
    pub fn paging(&self) -> &Paging {
        &self.paging
    }

    pub fn set_paging(&mut self, paging: Paging) {
        self.paging = paging;
    }

    /// The size of a page for a Describe call with `max_results` (the model's minimum 1 is
    /// checked), within the paging knob.
    pub(super) fn page_size(&self, max_results: Option<i64>) -> Result<usize, ApiError> {
        wire::page_size(max_results, self.default_page_size).map(|n| self.paging.clamp(n))
    }

    /// With `emptyFirstPage`, the answer to a listing's first call (no `nextToken`): no
    /// items, and a token that leads to the first item.
    pub(super) fn empty_first_page(&self, token: Option<&str>, prefix: &str) -> Option<Value> {
        (self.paging.empty_first_page && token.is_none_or(str::is_empty))
            .then(|| json!({ "items": [], "nextToken": format!("{prefix}{FROM_THE_START}") }))
    }
}

/// The position of an `emptyFirstPage` token: before the first item.
const FROM_THE_START: &str = "start";

pub(super) fn decode_token(token: Option<&str>, prefix: &str) -> Result<Option<String>, ApiError> {
    match token {
        None | Some("") => Ok(None),
        Some(t) if t.strip_prefix(prefix) == Some(FROM_THE_START) => Ok(None),
        Some(t) => t
            .strip_prefix(prefix)
            .map(|rest| Some(rest.to_owned()))
            .ok_or_else(|| ApiError::field("nextToken", "Invalid nextToken")),
    }
}

/// The first `size` items, and whether more follow.
pub(super) fn take_page<T>(mut items: impl Iterator<Item = T>, size: usize) -> (Vec<T>, bool) {
    let page: Vec<T> = items.by_ref().take(size).collect();
    let more = items.next().is_some();
    (page, more)
}

pub(super) fn with_token(mut v: Value, token: Option<String>) -> Value {
    if let Some(t) = token {
        v["nextToken"] = Value::from(t);
    }
    v
}
