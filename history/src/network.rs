//! The NETWORK item of a `recoverNetwork` action (`EXEC#<arn>`,
//! `WAVE#0001#NETWORK#before#1`), beside its wave's items: the DRS job that recovers the
//! networks, written by the start task before it answers (so a retried start finds it), and
//! its outcome, written by the check that sees the job end.

use serde::{Deserialize, Serialize};

/// A network recovery action and its DRS job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRecord {
    pub execution_id: String,
    pub wave_index: u32,
    /// `before` or `after`.
    pub phase: String,
    pub position: u32,
    pub source_networks: Vec<String>,
    pub job_id: String,
    /// When the job was started (RFC 3339).
    pub started_at: String,
    /// IN_PROGRESS, SUCCEEDED or FAILED.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}
