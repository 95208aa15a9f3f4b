//! Operator control: approval gates, decisions after a failed wave, and cancels.
//!
//! A gate is an `await-operator` activity task. The worker records its task token in the
//! history (the EXECUTION item's `pendingGate`) and does not answer; the operator CLI answers
//! with SendTaskSuccess ([`OperatorAnswer`]) or SendTaskFailure (`DrsWaves.StoppedByOperator`,
//! `DrsWaves.Cancelled`). Every answer, and every cancel request, is recorded first as an
//! [`OperatorAction`] with the caller's identity, in the same conditional write that clears the
//! pending gate, so a gate is answered at most once.

use serde::{Deserialize, Serialize};

use crate::{RunContext, WaveSpec, WaveState};

/// What a gate waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GateKind {
    /// Before a wave: approve (the wave starts) or stop.
    Approval,
    /// After a wave failed (`onFailure: ask`): retry, skip or stop.
    Decision,
}

impl GateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GateKind::Approval => "APPROVAL",
            GateKind::Decision => "DECISION",
        }
    }

    pub fn parse(s: &str) -> Option<GateKind> {
        [GateKind::Approval, GateKind::Decision]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// "approval gate" / "decision", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            GateKind::Approval => "approval gate",
            GateKind::Decision => "decision",
        }
    }
}

/// Input of the await-operator task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AwaitOperatorInput {
    pub run: RunContext,
    pub gate: GateKind,
    pub wave: WaveSpec,
    /// The task's TimeoutSeconds: the gate fails the execution after it.
    pub timeout_seconds: u32,
    /// A decision's failed wave (its reason and counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<WaveState>,
    pub heartbeat_seconds: u32,
}

/// The gate an execution waits at, in the history until it is answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PendingGate {
    pub kind: GateKind,
    pub wave_index: u32,
    pub wave_name: String,
    /// The await-operator task's token: what the answer is sent with.
    pub token: String,
    /// When the gate opened (RFC 3339).
    pub since: String,
    /// When it times out (RFC 3339).
    pub timeout_at: String,
    /// A decision: launches of the wave so far, and how many the plan allows.
    pub attempts: u32,
    pub max_attempts: u32,
    /// A decision: why the wave failed.
    #[serde(default)]
    pub reason: String,
}

/// What an operator did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperatorActionKind {
    /// Let the wave behind an approval gate start.
    Approve,
    /// Stop the execution at a gate or decision (cleaned up as a cancel).
    Stop,
    /// Launch again the required servers of a failed wave that did not launch.
    Retry,
    /// Record a failed wave SKIPPED and go on.
    Skip,
    /// Cancel the execution: a drill's instances are terminated, a recovery's never.
    Cancel,
}

impl OperatorActionKind {
    pub const ALL: [OperatorActionKind; 5] = [
        OperatorActionKind::Approve,
        OperatorActionKind::Stop,
        OperatorActionKind::Retry,
        OperatorActionKind::Skip,
        OperatorActionKind::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperatorActionKind::Approve => "APPROVE",
            OperatorActionKind::Stop => "STOP",
            OperatorActionKind::Retry => "RETRY",
            OperatorActionKind::Skip => "SKIP",
            OperatorActionKind::Cancel => "CANCEL",
        }
    }

    pub fn parse(s: &str) -> Option<OperatorActionKind> {
        OperatorActionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One operator action, as the history records it and the execution's output shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OperatorAction {
    pub action: OperatorActionKind,
    /// The wave of the gate or decision it answered; none for a cancel outside a gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    /// The caller's ARN (sts:GetCallerIdentity).
    pub by: String,
    /// RFC 3339.
    pub at: String,
}

/// The output an operator sends with SendTaskSuccess to a gate; the machine's Choice after a
/// decision reads `decision`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OperatorAnswer {
    /// `approve` (a gate), `retry` or `skip` (a decision).
    pub decision: String,
    pub by: String,
    pub at: String,
}

/// The decisions a Choice state tells apart.
pub mod decisions {
    pub const APPROVE: &str = "approve";
    pub const RETRY: &str = "retry";
    pub const SKIP: &str = "skip";
}
