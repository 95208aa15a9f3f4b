//! A drill's clean-up and the janitor: the TERMINATE jobs and clean-up status on the EXECUTION
//! item, each job's instances in a TERMINATE item of its own (`TERMINATE#<jobID>`), the
//! `CLEANUP` / `PENDING#<arn>` items the janitor retries until DONE, and the janitor's lease on
//! an execution.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use drs_waves_contract::history::{
    CLEANUP_PK, EXECUTION_SK, PARTITION_KEY, SORT_KEY, STATUS_INDEX_PARTITION_KEY, execution_pk,
};
use drs_waves_contract::{CleanupStatus, ExecutionStatus};

use super::{DynamoHistory, Update, first_items};
use crate::HistoryError;
use crate::codec::{Fields, list_s, s};
use crate::error::from_sdk;
use crate::items::{TERMINATE_SK_PREFIX, terminate_item, terminate_of};
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
            .name("#jobs", "terminateJobIds")
            .value(":none", list_s(&[]))
            .value(":job", list_s(&[job_id.to_string()]));
        // Never create a partial record: the clean-up of an execution that was never recorded
        // is a bug to report, not a record to invent.
        u.condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        let job = u.into_transact(
            &self.table,
            Self::key(execution_pk(execution_id), EXECUTION_SK),
        )?;
        // The instances in an item of their own, written with the job's ID in one transaction:
        // a reader that sees the job finds its instances.
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(terminate_item(execution_id, job_id, &instances)))
            .build()
            .map_err(|e| HistoryError::Failed(format!("terminate job request: {e}")))?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(job)
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            // Cancelled: by the condition when there is no execution record (what the
            // cancellation reasons say is not relied on: the record is looked for).
            Err(e) => match self.get(execution_pk(execution_id), EXECUTION_SK).await? {
                None => Err(HistoryError::Corrupt(format!(
                    "history: no execution record for {execution_id}"
                ))),
                Some(_) => Err(from_sdk("DynamoDB TransactWriteItems (terminate job)", &e)),
            },
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
            self.put_whole(item, "pending clean-up").await?;
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

impl DynamoHistory {
    /// The instances the execution's TERMINATE jobs terminate, job by job as `job_ids` lists
    /// them, each job once (none of a job without a TERMINATE item: the previous layout kept
    /// them on the EXECUTION item).
    pub(super) async fn terminate_instances(
        &self,
        execution_id: &str,
        job_ids: &[String],
    ) -> Result<Vec<String>, HistoryError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :terminate)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":pk", s(execution_pk(execution_id)))
            .expression_attribute_values(":terminate", s(TERMINATE_SK_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut by_job = HashMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DynamoDB Query (terminate jobs)", &e))?;
            for item in page.items() {
                let (job, instances) = terminate_of(item)?;
                by_job.insert(job, instances);
            }
        }
        let mut seen = HashSet::new();
        Ok(job_ids
            .iter()
            .filter(|j| seen.insert(j.as_str()))
            .filter_map(|j| by_job.remove(j))
            .flatten()
            .collect())
    }
}
