//! Operator control: approval gates, decisions after a failed wave, and cancels.
//!
//! A gate is an `await-operator` activity task. The worker records its task token in the
//! history (the EXECUTION item's `pendingGates`, one per wave and kind: several may be open
//! at once when waves run side by side) and does not answer; the operator CLI answers
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
    /// A decision on a failed action (`onFailure: ask` on an action): the action's state
    /// name and its failure (what the service answered). A retry runs the action again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<FailedAction>,
    pub heartbeat_seconds: u32,
    /// When the gate's state was entered (`$$.State.EnteredTime`): a gate re-opened by its
    /// Retry (its token was lost) keeps the deadline it opened with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<String>,
    /// How many times the gate has been re-opened (`$$.State.RetryCount`).
    #[serde(default)]
    pub reopened: u32,
    /// The gate task's own HeartbeatSeconds: every worker's gate keeper heartbeats the token
    /// recorded in the history within it; a token that was never recorded (lost between
    /// GetActivityTask and the history write) times out and the gate opens again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_heartbeat_seconds: Option<u32>,
}

/// A failed action an operator decides on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailedAction {
    /// The action's state name (`Wave 2 app: before 1 (fail over database)`).
    pub name: String,
    /// What the generated failure state wrote at [`crate::paths::ERROR`].
    pub failure: crate::CaughtError,
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
    /// A decision: why the wave (or its action) failed.
    #[serde(default)]
    pub reason: String,
    /// A decision on a failed action: the action's state name (a retry runs it again, and
    /// launches nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The gate task's HeartbeatSeconds (None: a gate of a machine generated before gates had
    /// one, which no keeper needs to heartbeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u32>,
    /// How many times Step Functions re-opened this gate after its token was lost (its
    /// heartbeat timed out): each re-opening records a fresh token here.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reopened: u32,
}

impl PendingGate {
    /// The gate's key among the execution's pending gates ([`gate_key`]).
    pub fn key(&self) -> String {
        gate_key(self.kind, self.wave_index)
    }
}

/// How an execution's pending gates are told apart: one per wave and kind, keyed as the
/// operators' answers are in the state (`approve_w3`, `decide_w4`; [`crate::paths::OPERATOR`]).
pub fn gate_key(kind: GateKind, wave_index: u32) -> String {
    match kind {
        GateKind::Approval => format!("approve_w{wave_index}"),
        GateKind::Decision => format!("decide_w{wave_index}"),
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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

/// The suffixes of the gate states' names ("Wave 2 app: approve?"), shared by the generator
/// that names them and the CLI that recognises an execution waiting at one; spelled once, by
/// [`crate::states::WaveStep`].
pub mod gate_states {
    use crate::states::WaveStep;

    pub const APPROVE: &str = WaveStep::Approve.suffix();
    pub const DECIDE: &str = WaveStep::Decide.suffix();

    /// Whether a state of a generated machine is an approval gate or a decision.
    pub fn is_gate(state_name: &str) -> bool {
        [APPROVE, DECIDE].iter().any(|step| {
            state_name
                .strip_suffix(step)
                .is_some_and(|rest| rest.ends_with(": "))
        })
    }
}

/// How many times a gate is opened again after its token was lost (its heartbeat timed out)
/// before the execution gives up on it: each re-opening is a fresh task token.
pub const GATE_REOPENINGS: u32 = 5;

/// The gate task's HeartbeatSeconds unless the plan says otherwise: a token lost between
/// GetActivityTask and the history write re-opens the gate within it.
pub const DEFAULT_GATE_HEARTBEAT_SECONDS: u32 = 300;

/// The cause of [`crate::ErrorName::GateTimedOut`], the same whether the machine's own timeout
/// or the worker (a re-opened gate past its deadline) says it: "The approval gate before wave 2
/// 'app' waited 14400 s (4 h) with no answer; no later wave started."
pub fn gate_timed_out_cause(
    kind: GateKind,
    wave_index: u32,
    wave_name: &str,
    timeout_seconds: u32,
) -> String {
    waited_cause(&gate_what(kind, wave_index, wave_name), timeout_seconds)
}

/// The cause of a gate (`what`: "The approval gate before wave 2 'app'") that got no answer.
pub fn waited_cause(what: &str, timeout_seconds: u32) -> String {
    // "14400 s (4 h)", but "30 s" alone rather than "30 s (30 s)".
    let human = crate::clock::human_seconds(u64::from(timeout_seconds));
    let waited = if human == format!("{timeout_seconds} s") {
        human
    } else {
        format!("{timeout_seconds} s ({human})")
    };
    format!("{what} waited {waited} with no answer; no later wave started.")
}

/// The Pass state's comment for a gate that timed out ("The approval gate before wave 2 'app'
/// got no answer in time.").
pub fn gate_what(kind: GateKind, wave_index: u32, wave_name: &str) -> String {
    match kind {
        GateKind::Approval => format!("The approval gate before wave {wave_index} '{wave_name}'"),
        GateKind::Decision => format!("The decision after wave {wave_index} '{wave_name}' failed"),
    }
}

/// The decisions a Choice state tells apart.
pub mod decisions {
    pub const APPROVE: &str = "approve";
    pub const RETRY: &str = "retry";
    pub const SKIP: &str = "skip";
}
