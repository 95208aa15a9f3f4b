//! [`Executions`] in memory: the EXECUTION records, their listing by plan and by status, the
//! cancel request and the report outcome, with DynamoDB's conditional-write rules.

use drs_waves_contract::{ExecutionStatus, OperatorAction};

use super::{MemoryHistory, lock, missing_execution};
use crate::roles::Executions;
use crate::{CancelOutcome, ExecutionClose, ExecutionRecord, HistoryError, ReportOutcome};

impl Executions for MemoryHistory {
    async fn create_execution(&self, record: ExecutionRecord) -> Result<(), HistoryError> {
        self.injected("create_execution")?;
        lock(&self.state)
            .executions
            .entry(record.execution_id.clone())
            .or_insert(record);
        Ok(())
    }

    async fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>, HistoryError> {
        self.injected("get_execution")?;
        Ok(self.execution(id))
    }

    async fn close_execution(&self, c: ExecutionClose) -> Result<(), HistoryError> {
        self.injected("close_execution")?;
        let mut state = lock(&self.state);
        // An upsert, as DynamoDB's UpdateItem: what the record has is kept where the close
        // says "if not set".
        let r = state
            .executions
            .entry(c.execution_id.clone())
            .or_insert_with(|| {
                ExecutionRecord::new(
                    c.execution_id.clone(),
                    c.execution_name.clone(),
                    c.plan_name.clone(),
                    c.status,
                    c.started_at.clone(),
                )
            });
        r.pending_gates.clear();
        if c.preempted_by.is_some() {
            r.preempted_by = c.preempted_by;
        }
        if r.mode.is_none() {
            r.mode = c.mode;
        }
        r.status = c.status;
        r.ended_at = Some(c.ended_at);
        if c.error.is_some() {
            r.error = c.error;
        }
        if c.cause.is_some() {
            r.cause = c.cause;
        }
        r.wave_statuses = c.wave_statuses;
        Ok(())
    }

    async fn recent_executions(
        &self,
        plan: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, HistoryError> {
        self.injected("recent_executions")?;
        let mut of_plan: Vec<ExecutionRecord> = lock(&self.state)
            .executions
            .values()
            .filter(|r| r.plan_name == plan)
            .cloned()
            .collect();
        of_plan.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        of_plan.truncate(limit);
        Ok(of_plan)
    }

    async fn running_executions(&self, limit: usize) -> Result<Vec<ExecutionRecord>, HistoryError> {
        self.injected("running_executions")?;
        let mut running: Vec<ExecutionRecord> = lock(&self.state)
            .executions
            .values()
            .filter(|r| r.status == ExecutionStatus::Running)
            .cloned()
            .collect();
        running.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        running.truncate(limit);
        Ok(running)
    }

    async fn request_cancel(
        &self,
        id: &str,
        action: OperatorAction,
    ) -> Result<CancelOutcome, HistoryError> {
        self.injected("request_cancel")?;
        let mut state = lock(&self.state);
        let Some(r) = state.executions.get_mut(id) else {
            return Ok(CancelOutcome::NotRunning(None));
        };
        if let Some(earlier) = &r.cancel_requested {
            return Ok(CancelOutcome::AlreadyRequested(earlier.clone()));
        }
        if r.status != ExecutionStatus::Running {
            return Ok(CancelOutcome::NotRunning(Some(r.status)));
        }
        r.cancel_requested = Some(action.clone());
        r.operator_actions.push(action);
        Ok(CancelOutcome::Requested)
    }

    async fn record_report(&self, id: &str, outcome: ReportOutcome) -> Result<(), HistoryError> {
        self.injected("record_report")?;
        let mut state = lock(&self.state);
        if !state.executions.contains_key(id) {
            return Err(missing_execution(id));
        }
        state.reports.insert(id.to_owned(), outcome);
        Ok(())
    }

    async fn report_outcome(&self, id: &str) -> Result<Option<ReportOutcome>, HistoryError> {
        self.injected("report_outcome")?;
        Ok(lock(&self.state).reports.get(id).cloned())
    }
}
