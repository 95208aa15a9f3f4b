//! An execution's history items as the tests read them: [`ExecutionHistory`] finds each item
//! by the keys of `drs_waves_contract::history` (the worker writes with the same ones), so no
//! test spells a sort key such as `WAVE#0002` by hand; plus the DynamoDB-item-to-JSON
//! conversion the tests assert on.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;

use anyhow::{Result, anyhow};
use aws_sdk_dynamodb::types::AttributeValue;
use drs_waves_contract::history;
use serde_json::Value;

/// Every history item of one execution, keyed by sort key, as plain JSON
/// ([`crate::Deployment::history`]). Derefs to the map for what the typed readers do not
/// cover (every key, for a failure message).
#[derive(Clone, Default)]
pub struct ExecutionHistory {
    items: BTreeMap<String, Value>,
}

impl ExecutionHistory {
    pub fn new(items: BTreeMap<String, Value>) -> Self {
        ExecutionHistory { items }
    }

    /// The item with sort key `sk`, or an error naming the keys there are.
    fn required(&self, sk: &str) -> Result<&Value> {
        self.items
            .get(sk)
            .ok_or_else(|| anyhow!("no history item {sk}; there are {:?}", self.items.keys()))
    }

    /// The execution's record (the `EXECUTION` item).
    pub fn execution(&self) -> Result<&Value> {
        self.required(history::EXECUTION_SK)
    }

    /// The execution's record, if it has been written yet.
    pub fn execution_if_any(&self) -> Option<&Value> {
        self.items.get(history::EXECUTION_SK)
    }

    /// Wave `index`'s record (1-based, as in the plan).
    pub fn wave(&self, index: u32) -> Result<&Value> {
        self.required(&history::wave_sk(index))
    }

    /// Wave `index`'s record, if the wave has one (a wave that never started has none).
    pub fn wave_if_any(&self, index: u32) -> Option<&Value> {
        self.items.get(&history::wave_sk(index))
    }

    /// Every wave's record, first wave first.
    pub fn waves(&self) -> Vec<&Value> {
        self.items
            .iter()
            .filter(|(sk, _)| wave_index_of(sk).is_some_and(|i| **sk == history::wave_sk(i)))
            .map(|(_, item)| item)
            .collect()
    }

    /// The record of job `job_id` in wave `index`.
    pub fn job(&self, index: u32, job_id: &str) -> Result<&Value> {
        self.required(&history::job_sk(index, job_id))
    }

    /// Every job record of wave `index`, with its sort key.
    pub fn jobs_of_wave(&self, index: u32) -> impl Iterator<Item = (&String, &Value)> {
        let prefix = history::job_sk(index, "");
        self.items
            .iter()
            .filter(move |(sk, _)| sk.starts_with(&prefix))
    }

    /// Every job record of the execution, whatever its wave, with its sort key.
    pub fn jobs(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.items.iter().filter(|(sk, _)| {
            wave_index_of(sk).is_some_and(|i| sk.starts_with(&history::job_sk(i, "")))
        })
    }

    /// Wave `index`'s per-server launch points (the `SERVERS` item), if it has them.
    pub fn servers_if_any(&self, index: u32) -> Option<&Value> {
        self.items.get(&history::servers_sk(index))
    }

    /// Wave `index`'s per-server launch points (the `SERVERS` item).
    pub fn servers(&self, index: u32) -> Result<&Value> {
        self.required(&history::servers_sk(index))
    }

    /// Wave `index`'s health checks (the `HEALTH` item's record, parsed), if they began.
    pub fn health_if_any(&self, index: u32) -> Option<Value> {
        let item = self.items.get(&history::health_sk(index))?;
        serde_json::from_str(item["health"].as_str()?).ok()
    }

    /// The items, keyed by sort key.
    pub fn into_items(self) -> BTreeMap<String, Value> {
        self.items
    }
}

/// As the map of items: failure messages print `{history:?}`.
impl std::fmt::Debug for ExecutionHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.items.fmt(f)
    }
}

impl Deref for ExecutionHistory {
    type Target = BTreeMap<String, Value>;

    fn deref(&self) -> &Self::Target {
        &self.items
    }
}

/// The wave index a sort key belongs to (`WAVE#0002`, `WAVE#0002#JOB#...` -> 2), checked
/// against the contract's own spelling of that wave's key.
fn wave_index_of(sk: &str) -> Option<u32> {
    let head = sk.get(..history::wave_sk(1).len())?;
    let digits = head.rsplit('#').next()?;
    let index: u32 = digits.parse().ok()?;
    (history::wave_sk(index) == head).then_some(index)
}

/// A DynamoDB item as JSON (S -> string, N -> number, BOOL, L, M, SS -> array, NULL).
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_to_json(v)))
            .collect(),
    )
}

fn attribute_to_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => serde_json::from_str(n).unwrap_or(Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(l) => Value::Array(l.iter().map(attribute_to_json).collect()),
        AttributeValue::M(m) => item_to_json(m),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Null(_) => Value::Null,
        other => Value::String(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history_of(keys: &[String]) -> ExecutionHistory {
        ExecutionHistory::new(
            keys.iter()
                .map(|k| (k.clone(), Value::String(k.clone())))
                .collect(),
        )
    }

    #[test]
    fn readers_find_items_by_the_contract_keys() -> Result<()> {
        let h = history_of(&[
            history::EXECUTION_SK.to_owned(),
            history::wave_sk(1),
            history::job_sk(1, "drsjob-a"),
            history::servers_sk(1),
            history::wave_sk(2),
            history::job_sk(2, "drsjob-b"),
            history::job_sk(2, "drsjob-c"),
        ]);
        assert_eq!(h.execution()?, history::EXECUTION_SK);
        assert_eq!(h.wave(2)?, &history::wave_sk(2));
        assert!(h.wave(3).is_err());
        assert_eq!(h.waves().len(), 2);
        assert_eq!(h.jobs_of_wave(2).count(), 2);
        assert_eq!(h.jobs().count(), 3);
        assert!(h.servers(1).is_ok() && h.servers_if_any(2).is_none());
        assert!(h.job(1, "drsjob-a").is_ok());
        Ok(())
    }

    #[test]
    fn waves_keeps_a_wave_past_a_missing_one() {
        let h = history_of(&[history::wave_sk(1), history::wave_sk(3)]);
        assert_eq!(h.waves().len(), 2);
    }
}
