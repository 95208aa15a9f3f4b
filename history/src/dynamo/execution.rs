//! The EXECUTION item (`EXEC#<arn>`, `EXECUTION`): created by preflight, closed by the end of
//! the run (an upsert), listed through the plan and status indexes, and carrying an operator's
//! cancel request and where the report went.

use aws_sdk_dynamodb::types::AttributeValue;
use drs_waves_contract::history::{
    EXECUTION_SK, PARTITION_KEY, PLAN_INDEX, PLAN_INDEX_PARTITION_KEY, STATUS_INDEX,
    STATUS_INDEX_PARTITION_KEY, STATUS_INDEX_SORT_KEY, execution_pk,
};
use drs_waves_contract::{ExecutionStatus, OperatorAction};

use super::{DynamoHistory, Update, first_items, missing_record};
use crate::HistoryError;
use crate::codec::{
    Fields, LEGACY_PENDING_GATE, LEGACY_PENDING_GATE_TOKEN, PENDING_GATES, execution_of, n, s,
    to_json, wave_statuses_av,
};
use crate::error::from_sdk;
use crate::items::execution_item;
use crate::records::{CancelOutcome, ExecutionClose, ExecutionRecord, ReportOutcome};
use crate::roles::Executions;

impl Executions for DynamoHistory {
    async fn create_execution(&self, r: ExecutionRecord) -> Result<(), HistoryError> {
        let item = execution_item(&r);
        // An existing record was created by an earlier attempt of this preflight.
        self.put_new(item, "execution record").await.map(|_| ())
    }

    async fn get_execution(
        &self,
        execution_id: &str,
    ) -> Result<Option<ExecutionRecord>, HistoryError> {
        let Some(item) = self.get(execution_pk(execution_id), EXECUTION_SK).await? else {
            return Ok(None);
        };
        let mut r = execution_of(&item)?;
        if !r.terminate_job_ids.is_empty() {
            // Inline instances are the previous layout's; a job's TERMINATE item names its own.
            let mut seen: std::collections::HashSet<String> =
                r.terminating_instances.iter().cloned().collect();
            for i in self
                .terminate_instances(execution_id, &r.terminate_job_ids)
                .await?
            {
                if seen.insert(i.clone()) {
                    r.terminating_instances.push(i);
                }
            }
        }
        Ok(Some(r))
    }

    async fn close_execution(&self, c: ExecutionClose) -> Result<(), HistoryError> {
        let mut u = Update::default();
        u.set("itemType", s("EXECUTION"))
            .set("executionId", s(&c.execution_id))
            .set(STATUS_INDEX_PARTITION_KEY, s(c.status.as_str()))
            .set("endedAt", s(&c.ended_at))
            .set("waveStatuses", wave_statuses_av(&c.wave_statuses))
            .set_if_not_exists("executionName", s(&c.execution_name))
            .set_if_not_exists(PLAN_INDEX_PARTITION_KEY, s(&c.plan_name))
            .set_if_not_exists(STATUS_INDEX_SORT_KEY, s(&c.started_at))
            // A failure before preflight created the record: the counts are not known.
            .set_if_not_exists("waveCount", n(0))
            .set_if_not_exists("serverCount", n(0))
            .set_if_not_exists("terminateDrillInstances", AttributeValue::Bool(false))
            // An ended execution waits at no gate (one that timed out, or that a cancel
            // answered, is closed here; `pendingGate` is the previous release's one gate).
            .remove(PENDING_GATES)
            .remove(LEGACY_PENDING_GATE)
            .remove(LEGACY_PENDING_GATE_TOKEN);
        if let Some(by) = &c.preempted_by {
            u.set("preemptedBy", s(by));
        }
        if let Some(mode) = &c.mode {
            u.set_if_not_exists("mode", s(mode.as_str()));
        }
        if let Some(error) = &c.error {
            u.set("error", s(error));
        }
        if let Some(cause) = &c.cause {
            u.set("cause", s(cause));
        }
        self.update(execution_pk(&c.execution_id), EXECUTION_SK, u)
            .await
            .map(|_| ())
    }

    async fn recent_executions(
        &self,
        plan: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, HistoryError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PLAN_INDEX)
            .key_condition_expression("#plan = :plan")
            .expression_attribute_names("#plan", PLAN_INDEX_PARTITION_KEY)
            .expression_attribute_values(":plan", s(plan))
            .scan_index_forward(false);
        first_items(query, limit, "DynamoDB Query (plan index)")
            .await?
            .iter()
            .map(execution_of)
            .collect()
    }

    async fn running_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>, HistoryError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STATUS_INDEX)
            .key_condition_expression("#st = :running")
            .expression_attribute_names("#st", STATUS_INDEX_PARTITION_KEY)
            .expression_attribute_values(":running", s(ExecutionStatus::Running.as_str()))
            .scan_index_forward(false);
        first_items(query, limit, "DynamoDB Query (status index)")
            .await?
            .iter()
            .map(execution_of)
            .collect()
    }

    async fn request_cancel(
        &self,
        execution_id: &str,
        action: OperatorAction,
    ) -> Result<CancelOutcome, HistoryError> {
        let mut u = Update::default();
        u.set("cancelRequested", s(to_json(&action)?))
            .clause("#acts = list_append(if_not_exists(#acts, :none), :act)")
            .name("#acts", "operatorActions")
            .value(":none", AttributeValue::L(vec![]))
            .value(":act", AttributeValue::L(vec![s(to_json(&action)?)]))
            .condition("#st = :running AND attribute_not_exists(#cancel)")
            .name("#st", STATUS_INDEX_PARTITION_KEY)
            .value(":running", s(ExecutionStatus::Running.as_str()))
            .name("#cancel", "cancelRequested");
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            return Ok(CancelOutcome::Requested);
        }
        Ok(match self.get_execution(execution_id).await? {
            Some(r) => match r.cancel_requested {
                Some(earlier) => CancelOutcome::AlreadyRequested(earlier),
                None => CancelOutcome::NotRunning(Some(r.status)),
            },
            None => CancelOutcome::NotRunning(None),
        })
    }

    async fn record_report(
        &self,
        execution_id: &str,
        outcome: ReportOutcome,
    ) -> Result<(), HistoryError> {
        let mut u = Update::default();
        match &outcome {
            ReportOutcome::Written(location) => {
                u.set("reportLocation", s(location)).remove("reportError");
            }
            ReportOutcome::Failed(error) => {
                u.set("reportError", s(error)).remove("reportLocation");
            }
        }
        u.condition("attribute_exists(#pk)")
            .name("#pk", PARTITION_KEY);
        if self
            .update(execution_pk(execution_id), EXECUTION_SK, u)
            .await?
        {
            Ok(())
        } else {
            Err(missing_record(execution_id))
        }
    }

    async fn report_outcome(
        &self,
        execution_id: &str,
    ) -> Result<Option<ReportOutcome>, HistoryError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(execution_pk(execution_id), EXECUTION_SK)))
            .projection_expression("reportLocation, reportError")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk("DynamoDB GetItem", &e))?;
        let Some(item) = resp.item() else {
            return Ok(None);
        };
        let f = Fields::of(item);
        Ok(
            match (f.opt_s("reportLocation")?, f.opt_s("reportError")?) {
                (Some(l), _) => Some(ReportOutcome::Written(l)),
                (None, Some(e)) => Some(ReportOutcome::Failed(e)),
                (None, None) => None,
            },
        )
    }
}
