//! A drill's clean-up and the janitor: the TERMINATE jobs and clean-up status on the EXECUTION
//! item, the `CLEANUP` / `PENDING#<arn>` items the janitor retries until DONE, and the janitor's
//! lease on an execution.

use drs_waves_contract::history::{
    CLEANUP_PK, EXECUTION_SK, PARTITION_KEY, STATUS_INDEX_PARTITION_KEY, execution_pk,
};
use drs_waves_contract::{CleanupStatus, ExecutionStatus};

use super::{DynamoHistory, Update, first_items};
use crate::HistoryError;
use crate::codec::{Fields, list_s, s};
use crate::error::from_sdk;
use crate::records::JanitorWork;
use crate::roles::Janitor;

impl Janitor for DynamoHistory {
    async fn claim_for_janitor(
        &self,
        execution_id: &str,
        work: JanitorWork,
        worker: &str,
        now: &str,
        until: &str,
    ) -> Result<bool, HistoryError> {
        let mut u = Update::default();
        u.set("janitorWorker", s(worker))
            .set("janitorLeaseUntil", s(until));
        let (attr, wanted) = match work {
            JanitorWork::EndedRun => (
                STATUS_INDEX_PARTITION_KEY,
                ExecutionStatus::Running.as_str(),
            ),
            JanitorWork::PendingCleanup => ("cleanup", CleanupStatus::Pending.as_str()),
        };
        // RFC 3339 UTC strings of one format order as the times they name.
        u.condition(
            "#st = :wanted AND (attribute_not_exists(#lease) OR #lease < :now OR #worker = :me)",
        )
        .name("#st", attr)
        .name("#lease", "janitorLeaseUntil")
        .name("#worker", "janitorWorker")
        .value(":wanted", s(wanted))
        .value(":now", s(now))
        .value(":me", s(worker));
        self.update(execution_pk(execution_id), EXECUTION_SK, u)
            .await
    }

    async fn record_terminate_job(
        &self,
        execution_id: &str,
        job_id: &str,
        instances: Vec<String>,
    ) -> Result<(), HistoryError> {
        let mut u = Update::default();
        u.clause("#jobs = list_append(if_not_exists(#jobs, :none), :job)")
            .clause("#inst = list_append(if_not_exists(#inst, :none), :instances)")
            .name("#jobs", "terminateJobIds")
            .name("#inst", "terminatingInstances")
            .value(":none", list_s(&[]))
            .value(":job", list_s(&[job_id.to_string()]))
            .value(":instances", list_s(&instances));
        // Never create a partial record: the clean-up of an execution that was never recorded
        // is a bug to report, not a record to invent.
        u.condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            Ok(())
        } else {
            Err(HistoryError::Corrupt(format!(
                "history: no execution record for {execution_id}"
            )))
        }
    }

    async fn set_cleanup(
        &self,
        execution_id: &str,
        status: CleanupStatus,
        error: Option<String>,
    ) -> Result<(), HistoryError> {
        let mut u = Update::default();
        u.set("cleanup", s(status.as_str()));
        if let Some(e) = &error {
            u.set("cleanupError", s(e));
        }
        u.condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        if !self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            return Err(HistoryError::Corrupt(format!(
                "history: no execution record for {execution_id}"
            )));
        }
        let key = Self::key(CLEANUP_PK.to_string(), &format!("PENDING#{execution_id}"));
        if status == CleanupStatus::Pending {
            let mut item = key;
            item.insert("executionId".into(), s(execution_id));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| from_sdk("DynamoDB PutItem (pending clean-up)", &e))?;
        } else {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(|e| from_sdk("DynamoDB DeleteItem (pending clean-up)", &e))?;
        }
        Ok(())
    }

    async fn pending_cleanups(&self, limit: usize) -> Result<Vec<String>, HistoryError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", s(CLEANUP_PK))
            .consistent_read(true);
        first_items(query, limit, "DynamoDB Query (pending clean-ups)")
            .await?
            .iter()
            .map(|i| Fields::of(i).s("executionId"))
            .collect()
    }
}
