//! The HEALTH item of a wave (`EXEC#<arn>`, `WAVE#0001#HEALTH`): where its health checks stand
//! and every check's latest probe of each target, with its answer. Written whole by each round
//! of the check-health task; read by `drs-waves follow` and the report.

use drs_waves_contract::HealthStatus;
use serde::{Deserialize, Serialize};

/// A wave's health checks as the last round left them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveHealthRecord {
    pub execution_id: String,
    pub wave_index: u32,
    pub status: HealthStatus,
    /// When the checks began (RFC 3339): the launch's end, or an operator's retry.
    pub started_at: String,
    /// When the last check passed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_at: Option<String>,
    pub rounds: u32,
    /// One per check of the plan, in its order.
    pub checks: Vec<HealthCheckRecord>,
}

/// One check: what it probes, when it passed, and its latest probe of each target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckRecord {
    /// The check in words (`http http://{privateIp}:8080/health expects 2xx`).
    pub what: String,
    /// When it passed (RFC 3339); none while it has not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_at: Option<String>,
    /// How many rounds probed it.
    pub probes: u32,
    /// The latest probe of each target.
    pub last: Vec<ProbeRecord>,
}

/// One probe of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeRecord {
    /// What was probed (`http://10.0.1.5:8080/health`, `10.0.1.5:5432`).
    pub target: String,
    pub ok: bool,
    /// The answer (`HTTP 503`, `connection refused`, `connected`).
    pub answer: String,
    /// When (RFC 3339).
    pub at: String,
}

impl WaveHealthRecord {
    /// The first check that has not passed, with its failing probes' answers, in words.
    pub fn failing(&self) -> Option<String> {
        let check = self.checks.iter().find(|c| c.passed_at.is_none())?;
        let answers: Vec<String> = check
            .last
            .iter()
            .filter(|p| !p.ok)
            .map(|p| format!("{}: {}", p.target, p.answer))
            .collect();
        Some(if answers.is_empty() {
            format!("{} (not probed yet)", check.what)
        } else {
            format!("{}: {}", check.what, answers.join("; "))
        })
    }
}
