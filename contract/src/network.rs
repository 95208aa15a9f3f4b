//! A `recoverNetwork` action (DRS StartSourceNetworkRecovery): the input of its two tasks
//! (start-network and check-network) and the state they write to `$.action`.

use serde::{Deserialize, Serialize};

use crate::spec::WaveSpec;
use crate::tasks::RunContext;

/// How often a network recovery is looked at (the Wait between two checks): a
/// CloudFormation stack takes minutes.
pub const NETWORK_POLL_SECONDS: u32 = 15;

/// Where a network recovery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NetworkStatus {
    /// The job runs (or is not listed yet): wait and check again.
    InProgress,
    /// Every network LAUNCHED.
    Succeeded,
    /// A network FAILED, the job ended without launching one, or the action's time is up.
    Failed,
}

impl NetworkStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            NetworkStatus::InProgress => "IN_PROGRESS",
            NetworkStatus::Succeeded => "SUCCEEDED",
            NetworkStatus::Failed => "FAILED",
        }
    }
}

/// The action's state (`$.action`), written by the start task and each check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NetworkState {
    /// The DRS job of the recovery.
    pub job_id: String,
    /// When the start task started it (RFC 3339): the action's timeout counts from here.
    pub started_at: String,
    pub status: NetworkStatus,
    /// Why it failed: the network(s) and their launch status, or the timeout.
    #[serde(default)]
    pub reason: String,
    /// Seconds the Wait state waits before the next check.
    #[serde(default)]
    pub next_wait_seconds: u32,
}

/// Input of the start-network and check-network tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NetworkTaskInput {
    pub run: RunContext,
    /// The wave the action belongs to (its account: the network is recovered there).
    pub wave: WaveSpec,
    /// `before` or `after`.
    pub phase: String,
    /// The action's place in its list (1-based).
    pub position: u32,
    /// The source networks (`sn-...`).
    pub source_networks: Vec<String>,
    /// The action's `timeoutMinutes`, in seconds.
    pub timeout_seconds: u32,
    /// The check task's input: what the start task (or the previous check) wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<NetworkState>,
}

impl NetworkTaskInput {
    /// The action's key in job tags and the history: `w1-before-1`.
    pub fn action_key(&self) -> String {
        format!("w{}-{}-{}", self.wave.index, self.phase, self.position)
    }
}
