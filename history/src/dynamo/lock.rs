//! The run lock item (`LOCK#<plan>`, `LOCK`): a conditional PutItem takes it, a conditional
//! UpdateItem hands it from a DRILL to a RECOVERY, a conditional DeleteItem releases it.

use drs_waves_contract::Mode;
use drs_waves_contract::history::{LOCK_SK, PARTITION_KEY, lock_pk};

use super::{DynamoHistory, Update, condition_failed};
use crate::HistoryError;
use crate::codec::{Fields, s};
use crate::error::from_sdk;
use crate::records::LockOutcome;
use crate::roles::RunLocks;

impl RunLocks for DynamoHistory {
    async fn acquire_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        now: &str,
    ) -> Result<LockOutcome, HistoryError> {
        let mut item = Self::key(lock_pk(plan), LOCK_SK);
        item.insert("holder".into(), s(execution_id));
        item.insert("mode".into(), s(mode.as_str()));
        item.insert("acquiredAt".into(), s(now));
        item.insert("plan".into(), s(plan));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #holder = :me")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":me", s(execution_id))
            .send()
            .await;
        match put {
            Ok(_) => Ok(LockOutcome::Acquired),
            Err(e) if condition_failed(&e) => {
                let held = match self.get(lock_pk(plan), LOCK_SK).await? {
                    Some(i) => {
                        let f = Fields::of(&i);
                        Some((f.s("holder")?, f.parsed("mode", Mode::parse)?))
                    }
                    None => None,
                };
                match held {
                    Some((holder, mode)) => Ok(LockOutcome::HeldBy { holder, mode }),
                    None => Err(HistoryError::conflict(
                        "DynamoDB PutItem (run lock)",
                        "the lock was released while taking it",
                    )),
                }
            }
            Err(e) => Err(from_sdk("DynamoDB PutItem (run lock)", &e)),
        }
    }

    async fn take_over_lock(
        &self,
        plan: &str,
        execution_id: &str,
        mode: Mode,
        previous_holder: &str,
        now: &str,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("holder", s(execution_id))
            .set("mode", s(mode.as_str()))
            .set("acquiredAt", s(now))
            .set("previousHolder", s(previous_holder));
        u.condition("#holder = :prev")
            .name("#holder", "holder")
            .value(":prev", s(previous_holder));
        self.update(lock_pk(plan), LOCK_SK, u).await
    }

    async fn release_lock(&self, plan: &str, execution_id: &str) -> Result<bool, HistoryError> {
        let resp = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(lock_pk(plan), LOCK_SK)))
            .condition_expression("#holder = :me")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":me", s(execution_id))
            .send()
            .await;
        match resp {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(from_sdk("DynamoDB DeleteItem (run lock)", &e)),
        }
    }
}
