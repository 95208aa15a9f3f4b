//! The report's facts: what `report.json` holds (its JSON Schema is
//! `statemachines/schemas/report.schema.json`) and what the HTML page shows.

use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or goes away.
pub const REPORT_VERSION: u32 = 2;

/// The evidence of one execution of a recovery plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(title = "drs-waves recovery report"))]
pub struct Report {
    pub report_version: u32,
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    pub plan: PlanFacts,
    pub execution: ExecutionFacts,
    /// Achieved recovery time against the plan's `rtoMinutes`.
    pub rto: Verdict,
    /// The oldest snapshot a required server launched from, against the plan's `rpoMinutes`.
    pub rpo: Verdict,
    /// What the plan's past successful executions foretold (p50, p90), beside the outcome.
    /// None when the history could not tell (see `sources`).
    pub forecast: Option<Forecast>,
    pub waves: Vec<WaveFacts>,
    pub servers: Vec<ServerFacts>,
    /// Approvals, decisions, stops and cancels, oldest first, as the history recorded them.
    pub operator_actions: Vec<OperatorAction>,
    pub operator_actions_note: String,
    pub cleanup: CleanupFacts,
    /// Preflight's warnings (stalled servers, old snapshots), then the servers' (optional
    /// post-launch actions that failed).
    pub warnings: Vec<String>,
    /// Where the facts came from, and what the sources could not tell.
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanFacts {
    pub name: String,
    /// The plan's `rtoMinutes`, in seconds, as compiled into the machine that ran.
    pub rto_target_seconds: Option<u64>,
    /// The plan's `rpoMinutes`, in seconds.
    pub rpo_target_seconds: Option<u64>,
    /// Whether the targets were read from the machine (false: the machine that ran sets none,
    /// or its definition could not be read; see `sources`).
    pub targets_from_machine: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionFacts {
    /// The execution ARN (the history's key).
    pub arn: String,
    pub name: String,
    pub state_machine_arn: Option<String>,
    /// DRILL or RECOVERY; None when the execution failed before its input was understood.
    pub mode: Option<String>,
    /// The history's status: RUNNING, SUCCEEDED, SUCCEEDED_WITH_FAILURES, FAILED, ABORTED,
    /// TIMED_OUT, PREEMPTED.
    pub status: String,
    /// Step Functions' status (RUNNING, SUCCEEDED, FAILED, ...), when it could be asked.
    pub machine_status: Option<String>,
    /// True while the execution runs: the report shows what is known so far.
    pub running: bool,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// From the start to the end (or to `generatedAt` while running).
    pub duration_seconds: u64,
    /// The execution input as given to StartExecution.
    pub input: Option<serde_json::Value>,
    /// Who started it: the input's `startedBy` (the operator CLI fills it in from
    /// sts:GetCallerIdentity). Step Functions itself does not say (CloudTrail's StartExecution
    /// event does): see `startedByNote`.
    pub started_by: Option<String>,
    pub started_by_note: String,
    pub point_in_time: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub preempted_by: Option<String>,
}

/// PASS or FAIL of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verdict {
    pub target_seconds: Option<u64>,
    pub achieved_seconds: Option<u64>,
    pub verdict: VerdictKind,
    /// Why, in words.
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerdictKind {
    Pass,
    Fail,
    /// The plan sets no target.
    NoTarget,
    /// Still running, and the target not passed yet.
    Pending,
}

impl VerdictKind {
    pub fn text(self) -> &'static str {
        match self {
            VerdictKind::Pass => "PASS",
            VerdictKind::Fail => "FAIL",
            VerdictKind::NoTarget => "NO TARGET",
            VerdictKind::Pending => "PENDING",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveFacts {
    /// 1-based position in the plan.
    pub index: u32,
    pub name: String,
    /// LAUNCHING, SUCCEEDED, FAILED; NOT_STARTED for a wave the execution never reached.
    pub status: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// When its last launch job ended (DRS's `endDateTime`): every required server LAUNCHED
    /// by then. None unless the wave succeeded.
    pub recovered_at: Option<String>,
    /// From the wave's start to `recoveredAt` (or to its end).
    pub duration_seconds: Option<u64>,
    /// From the execution's start to `recoveredAt`, against the wave's `rtoMinutes`.
    pub rto: Verdict,
    pub job_ids: Vec<String>,
    pub servers: u32,
    pub launched: u32,
    pub failed: u32,
    pub checks: u32,
    pub reason: Option<String>,
    /// Where a wave of another account or region launched (its history record's account);
    /// absent for the worker's own account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<WaveAccountFacts>,
    /// In a plan whose waves form a graph (`dependsOn`): the waves this one waited for (empty:
    /// it started at once). Absent for a plan whose waves run in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<Vec<u32>>,
    /// A wave with health checks: when the last of them passed (after `recoveredAt`). Its RTO
    /// is then measured to this moment ("recovered when healthy"), not to the launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_at: Option<String>,
    /// A wave with health checks: each check in words, with when it passed or its last answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<String>,
}

/// The account and region a wave launched in, through which role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveAccountFacts {
    /// The 12-digit account of the role; absent: the worker's own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Absent: the worker's own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

impl WaveAccountFacts {
    pub fn of(a: &drs_waves_contract::WaveAccount) -> WaveAccountFacts {
        WaveAccountFacts {
            account_id: a.account_id().map(str::to_owned),
            region: a.region.clone(),
            role_arn: a.role_arn.clone(),
        }
    }

    /// `111111111111 eu-west-1`, as `drs-waves follow` says it.
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.account_id.as_deref().unwrap_or("this account"),
            self.region.as_deref().unwrap_or("this region")
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerFacts {
    pub wave_index: u32,
    pub wave_name: String,
    pub source_server_id: String,
    /// From DescribeSourceServers (`identificationHints.hostname`).
    pub hostname: Option<String>,
    pub required: bool,
    pub job_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub snapshot_taken_at: Option<String>,
    /// The snapshot's age when the launch chose it: this server's recovery point.
    pub snapshot_age_seconds: Option<u64>,
    pub recovery_instance_id: Option<String>,
    pub ec2_instance_id: Option<String>,
    /// PENDING, IN_PROGRESS, LAUNCHED, FAILED, TERMINATED.
    pub launch_status: String,
    /// The server's first event in the job's log (DescribeJobLogItems), else the job's start.
    pub launch_started_at: Option<String>,
    /// LAUNCH_FAILED's time for a failed server; for a LAUNCHED one the job's `endDateTime`
    /// (DRS logs no per-server end of a launch), so it is an upper bound.
    pub launch_ended_at: Option<String>,
    /// A post-launch action that is not optional and FAILED (named, with DRS's
    /// `failureReason`), else the job's log (`rawError` of LAUNCH_FAILED or another failure
    /// event, SERVER_SKIPPED included).
    pub failure_reason: Option<String>,
    /// Optional post-launch actions that FAILED: warnings, the launch still counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// A FAILBACK: the bytes its recovery instance replicated back to the source before the
    /// failback launch (DescribeRecoveryInstances' `replicatedDisks`, summed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicated_back_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorAction {
    /// When (RFC 3339).
    pub at: String,
    /// The caller's ARN.
    pub by: String,
    /// APPROVE, STOP, RETRY, SKIP or CANCEL.
    pub action: String,
    /// The wave of the gate or decision it answered; none for a cancel outside a gate.
    pub wave_index: Option<u32>,
    pub wave_name: Option<String>,
}

/// The RTO forecast: from the plan's most recent successful executions (SUCCEEDED or
/// SUCCEEDED_WITH_FAILURES), each wave's duration from its start to its last required server
/// LAUNCHED (its launch jobs' last end: the figure learned timing records as the wave's
/// `completionMillis`), and the plan's recovery time (the execution's start to its last wave
/// recovered). Nearest-rank percentiles, as learned timing computes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Forecast {
    /// How many past successful executions were asked for (N).
    pub executions_wanted: u32,
    /// The executions the figures are from (ARNs), newest first; the report's own execution
    /// and any started after it are never among them.
    pub executions: Vec<String>,
    pub waves: Vec<WaveForecast>,
    /// The plan's recovery time, from executions in which every wave recovered.
    pub recovery: Option<DurationForecast>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveForecast {
    /// 1-based position in the plan.
    pub index: u32,
    pub name: String,
    /// From the wave's start to its last required server LAUNCHED.
    pub duration: DurationForecast,
    /// From the wave's start to its health checks all passed (a wave with `health` only): the
    /// time the business waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_healthy: Option<DurationForecast>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DurationForecast {
    /// How many past executions the figures are from.
    pub samples: u32,
    pub p50_seconds: u64,
    pub p90_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CleanupFacts {
    /// NOT_NEEDED, DONE, PENDING; None before the execution ended.
    pub status: Option<String>,
    pub error: Option<String>,
    /// Whether the plan terminates a drill's recovery instances at the end.
    pub terminate_drill_instances: bool,
    pub terminate_job_ids: Vec<String>,
    pub terminated_instances: Vec<String>,
}

/// The report's JSON Schema.
#[cfg(feature = "schema")]
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).unwrap_or(serde_json::Value::Null)
}

impl WaveFacts {
    /// A wave with health checks, in words: when it launched and when it was healthy, then
    /// each check; None for a wave without checks.
    pub fn health_note(&self) -> Option<String> {
        if self.health_checks.is_empty() && self.healthy_at.is_none() {
            return None;
        }
        let launched = self.recovered_at.as_deref().unwrap_or("not launched");
        let healthy = self.healthy_at.as_deref().unwrap_or("not healthy");
        let mut note = format!("launched {launched}, healthy {healthy}");
        for check in &self.health_checks {
            note.push_str("; ");
            note.push_str(check);
        }
        Some(note)
    }
}
