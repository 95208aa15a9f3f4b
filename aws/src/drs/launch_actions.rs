//! Post-launch actions as DescribeJobs reports them (`participatingServers[].launchActionsStatus`,
//! the DRS model's LaunchActionsStatus / LaunchActionRun / LaunchAction), and what each run
//! means for its server: a FAILED run of an action that is not `optional` ("Whether the launch
//! will not be marked as failed if this action fails") fails the server; a FAILED optional one
//! is a warning; an IN_PROGRESS one keeps the wave waiting.

/// A run's `status` (the model's LaunchActionRunStatus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    InProgress,
    Succeeded,
    Failed,
    /// A value the model did not have when this was written: treated as still running.
    Other(String),
}

impl RunStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "IN_PROGRESS" => RunStatus::InProgress,
            "SUCCEEDED" => RunStatus::Succeeded,
            "FAILED" => RunStatus::Failed,
            other => RunStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::InProgress => "IN_PROGRESS",
            RunStatus::Succeeded => "SUCCEEDED",
            RunStatus::Failed => "FAILED",
            RunStatus::Other(s) => s,
        }
    }

    /// Not ended yet (IN_PROGRESS, or a status this worker does not know).
    pub fn running(&self) -> bool {
        matches!(self, RunStatus::InProgress | RunStatus::Other(_))
    }
}

/// One post-launch action run of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchActionRun {
    /// `action.name`; the action code, then its ID, when DRS gives no name.
    pub name: String,
    /// `action.actionCode`: the SSM document.
    pub action_code: Option<String>,
    /// `action.optional`; absent counts as required (the launch is marked as failed).
    pub optional: bool,
    pub status: RunStatus,
    /// DRS's `failureReason`.
    pub failure_reason: Option<String>,
}

impl LaunchActionRun {
    /// `'Check app health' (Custom-CheckHealth)`.
    pub fn label(&self) -> String {
        match &self.action_code {
            Some(code) if code != &self.name => format!("'{}' ({code})", self.name),
            _ => format!("'{}'", self.name),
        }
    }

    /// Why the run failed, as DRS said it (or that it said nothing).
    fn reason(&self) -> &str {
        self.failure_reason
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or("no failure reason given")
    }

    /// A failed required action, for a server's failure reason.
    pub fn failure_text(&self) -> String {
        format!(
            "post-launch action {} FAILED: {}",
            self.label(),
            self.reason()
        )
    }

    /// A failed optional action, for the history's and the report's warnings.
    pub fn warning_text(&self) -> String {
        format!(
            "optional post-launch action {} FAILED: {}",
            self.label(),
            self.reason()
        )
    }
}

/// What a server's runs say: why it failed (its required actions that FAILED), the warnings
/// (optional ones that FAILED), and the runs still going.
pub fn failure_of(runs: &[LaunchActionRun]) -> Option<String> {
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| !r.optional && r.status == RunStatus::Failed)
        .map(LaunchActionRun::failure_text)
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}

pub fn warnings_of(runs: &[LaunchActionRun]) -> Vec<String> {
    runs.iter()
        .filter(|r| r.optional && r.status == RunStatus::Failed)
        .map(LaunchActionRun::warning_text)
        .collect()
}

pub fn running_of(runs: &[LaunchActionRun]) -> Vec<&LaunchActionRun> {
    runs.iter().filter(|r| r.status.running()).collect()
}

/// The runs of one participating server, as the SDK parsed them.
pub fn runs_of(p: &aws_sdk_drs::types::ParticipatingServer) -> Vec<LaunchActionRun> {
    let Some(status) = p.launch_actions_status() else {
        return Vec::new();
    };
    status
        .runs()
        .iter()
        .map(|run| {
            let action = run.action();
            let code = action
                .and_then(|a| a.action_code())
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            let name = action
                .and_then(|a| a.name())
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .or_else(|| code.clone())
                .or_else(|| action.and_then(|a| a.action_id()).map(str::to_string))
                .unwrap_or_else(|| "unnamed action".to_string());
            LaunchActionRun {
                name,
                action_code: code,
                optional: action.and_then(|a| a.optional()).unwrap_or(false),
                // A run DRS lists without a status has not ended.
                status: run
                    .status()
                    .map_or(RunStatus::InProgress, |s| RunStatus::parse(s.as_str())),
                failure_reason: run
                    .failure_reason()
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
            }
        })
        .collect()
}

#[cfg(any(test, feature = "fake"))]
impl LaunchActionRun {
    /// A run for the rules' tests.
    pub fn for_test(name: &str, optional: bool, status: RunStatus, reason: Option<&str>) -> Self {
        LaunchActionRun {
            name: name.to_string(),
            action_code: Some("AWS-RunShellScript".to_string()),
            optional,
            status,
            failure_reason: reason.map(str::to_string),
        }
    }
}
