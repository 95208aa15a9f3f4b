//! The statuses the history keeps for an execution: the worker writes them, and whatever
//! reads the history (the end-to-end tests, operator tools) reads them with the same names.

use serde::{Deserialize, Serialize};

/// An execution's status in the history table (`executionStatus`, the status index's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Preflight passed and the execution has not ended.
    Running,
    /// Every wave succeeded.
    Succeeded,
    /// It reached the end, but a wave with `onFailure: continue` failed.
    SucceededWithFailures,
    /// It ended on the failure path (record-failure ran).
    Failed,
    /// Stopped outside the machine's own path (StopExecution); found by the janitor.
    Aborted,
    /// The machine's TimeoutSeconds passed; found by the janitor.
    TimedOut,
    /// A drill stopped by a RECOVERY of the same plan.
    Preempted,
    /// An operator cancelled it (`drs-waves cancel`); a drill's instances were terminated.
    Cancelled,
    /// An operator answered a gate or a decision with stop; cleaned up as a cancel.
    Stopped,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 9] = [
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::SucceededWithFailures,
        ExecutionStatus::Failed,
        ExecutionStatus::Aborted,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Preempted,
        ExecutionStatus::Cancelled,
        ExecutionStatus::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::SucceededWithFailures => "SUCCEEDED_WITH_FAILURES",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::Aborted => "ABORTED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Preempted => "PREEMPTED",
            ExecutionStatus::Cancelled => "CANCELLED",
            ExecutionStatus::Stopped => "STOPPED",
        }
    }

    pub fn parse(s: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the execution has ended.
    pub fn is_final(self) -> bool {
        self != ExecutionStatus::Running
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_as_text_and_json() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).expect("json"),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(ExecutionStatus::parse("running"), None);
    }
}
