//! [`FakeExecutions`]: the executions side of Step Functions in memory (DescribeExecution and
//! StopExecution), linked to a [`crate::testing::FakeActivityService`] when a test needs AWS's
//! stop semantics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{FakeActivityService, lock};
use crate::error::TaskError;
use crate::sfn::{ExecutionInfo, ExecutionLookup};

/// Executions for the run-lock takeover, the preemption and the janitor; unknown executions
/// do not exist. A stop moves a RUNNING execution to ABORTED, as StopExecution does.
#[derive(Clone, Default)]
pub struct FakeExecutions {
    executions: Arc<Mutex<HashMap<String, ExecutionInfo>>>,
    stops: Arc<Mutex<Vec<(String, String, String)>>>,
    /// The activity side of the same Step Functions, when a test links them: a stop then ends
    /// the execution's tasks there too.
    activities: Option<FakeActivityService>,
}

impl FakeExecutions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Executions and activity tasks of one Step Functions: StopExecution ends the execution
    /// at once and its tasks' heartbeats then fail (AWS's semantics).
    pub fn linked_to(activities: &FakeActivityService) -> Self {
        FakeExecutions {
            activities: Some(activities.clone()),
            ..Self::default()
        }
    }

    pub fn set(&self, execution_arn: &str, status: &str) {
        let stopped_at = (status != "RUNNING").then(|| "2030-01-01T00:20:00Z".to_string());
        lock(&self.executions).insert(
            execution_arn.to_string(),
            ExecutionInfo {
                status: status.to_string(),
                stopped_at,
            },
        );
    }

    /// Every StopExecution: (ARN, error, cause).
    pub fn stops(&self) -> Vec<(String, String, String)> {
        lock(&self.stops).clone()
    }
}

impl ExecutionLookup for FakeExecutions {
    async fn execution(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>, TaskError> {
        Ok(lock(&self.executions).get(execution_arn).cloned())
    }

    async fn stop_execution(
        &self,
        execution_arn: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), TaskError> {
        lock(&self.stops).push((
            execution_arn.to_string(),
            error.to_string(),
            cause.to_string(),
        ));
        if let Some(e) = lock(&self.executions).get_mut(execution_arn)
            && e.status == "RUNNING"
        {
            e.status = "ABORTED".to_string();
            e.stopped_at = Some("2030-01-01T00:20:00Z".to_string());
        }
        if let Some(activities) = &self.activities {
            activities.end_execution(execution_arn);
        }
        Ok(())
    }
}
