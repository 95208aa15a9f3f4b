//! Calls counted per operation and per HTTP status, and the calls an after-commit fault
//! answered 500 or left unanswered (the admin API's `/_sim/counters`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Calls per operation and per HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Every call, dropped ones included.
    pub total: u64,
    /// Calls by the status they were answered with (dropped calls have none).
    pub by_status: BTreeMap<u16, u64>,
    /// Calls carried out and then answered 500 by an `errorAfterCommit*` fault.
    #[serde(default)]
    pub error_after_commit: u64,
    /// Calls carried out and then left without an answer by a `dropAfterCommit*` fault.
    #[serde(default)]
    pub drop_after_commit: u64,
    pub operations: BTreeMap<String, OperationCounters>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationCounters {
    pub total: u64,
    pub by_status: BTreeMap<u16, u64>,
    #[serde(default)]
    pub error_after_commit: u64,
    #[serde(default)]
    pub drop_after_commit: u64,
}

impl Counters {
    pub fn record(&mut self, operation: &str, status: u16) {
        self.total += 1;
        *self.by_status.entry(status).or_default() += 1;
        let op = self.operations.entry(operation.to_owned()).or_default();
        op.total += 1;
        *op.by_status.entry(status).or_default() += 1;
    }

    /// A call that was carried out and then answered 500 on purpose (it is recorded with
    /// its status by [`Counters::record`] too).
    pub fn record_error_after_commit(&mut self, operation: &str) {
        self.error_after_commit += 1;
        self.operations
            .entry(operation.to_owned())
            .or_default()
            .error_after_commit += 1;
    }

    /// A call that was carried out and then got no answer: counted in the totals, with no
    /// status.
    pub fn record_drop_after_commit(&mut self, operation: &str) {
        self.total += 1;
        self.drop_after_commit += 1;
        let op = self.operations.entry(operation.to_owned()).or_default();
        op.total += 1;
        op.drop_after_commit += 1;
    }

    /// Calls of `operation` that were carried out and then answered 500.
    pub fn errors_after_commit(&self, operation: &str) -> u64 {
        self.operations
            .get(operation)
            .map_or(0, |o| o.error_after_commit)
    }

    /// Calls of `operation` that were carried out and then got no answer.
    pub fn drops_after_commit(&self, operation: &str) -> u64 {
        self.operations
            .get(operation)
            .map_or(0, |o| o.drop_after_commit)
    }

    /// Calls of `operation` answered with `status`.
    pub fn count(&self, operation: &str, status: u16) -> u64 {
        self.operations
            .get(operation)
            .and_then(|o| o.by_status.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// All calls of `operation`.
    pub fn calls(&self, operation: &str) -> u64 {
        self.operations.get(operation).map_or(0, |o| o.total)
    }
}
