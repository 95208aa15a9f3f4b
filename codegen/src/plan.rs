//! The recovery plan file (YAML or JSON), and its validation into the contract's
//! [`PlanSpec`] with every default applied.
//!
//! Parsing stops at the first syntax or type error (serde cannot go on), reported with its line
//! and column; validation then reports every problem it finds, each naming the wave and field.

//!
//! - [`file`](mod@file): the plan file as written (its JSON Schema is `drs-codegen schema plan`);
//! - [`parse`](fn@parse): its text into a [`PlanFile`], with positions in errors;
//! - [`resolve`](fn@resolve): a [`PlanFile`] into a [`Plan`], every problem reported at once.

use std::path::Path;

use crate::contract::{PlanSpec, PollingBounds, Targets};

mod account;
pub mod actions;
mod depends;
mod error;
mod fields;
pub mod file;
pub mod health;
mod parse;
mod resolve;
mod wave;

pub use error::{PlanError, Problem, WaveRef};
pub use fields::{is_name, is_source_server_id};
pub use file::{
    AccountFile, ApprovalFile, DecisionFile, PlanFile, PollingFile, ServersFile, TaskSettings,
    WaveDefaults, WaveFile,
};
pub use parse::parse;
pub use resolve::resolve;

/// Built-in defaults, used when neither the wave nor the plan's `defaults` say otherwise.
pub const DEFAULT_LAUNCH_TIMEOUT_SECONDS: u32 = 30 * 60;
pub const DEFAULT_POLLING: PollingBounds = PollingBounds {
    min_wait_seconds: 30,
    max_wait_seconds: 300,
    expected_launch_seconds: 600,
};
pub const DEFAULT_HEARTBEAT_SECONDS: u32 = 60;
pub use drs_waves_contract::operator::DEFAULT_GATE_HEARTBEAT_SECONDS;
/// A heartbeat longer than this would leave a dead worker's task unnoticed for too long.
pub const MAX_HEARTBEAT_SECONDS: u32 = 3600;
pub const MAX_NAME_CHARS: usize = 40;

/// A validated plan: the contract's [`PlanSpec`] and what only the generator and the runbook
/// need.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub spec: PlanSpec,
    pub description: Option<String>,
    /// One per wave, in order.
    pub wave_descriptions: Vec<Option<String>>,
    pub heartbeat_seconds: u32,
    /// HeartbeatSeconds of the gates and decisions.
    pub gate_heartbeat_seconds: u32,
    /// The machine's TimeoutSeconds.
    pub execution_timeout_seconds: u32,
    /// Whether the plan set the execution timeout (else it is derived from the waves).
    pub execution_timeout_from_plan: bool,
    /// Each wave's `before` and `after` actions, one entry per wave, in order.
    pub actions: Vec<actions::WaveActions>,
    /// The RTO and RPO targets (empty when the plan sets none).
    pub targets: Targets,
    /// The waves' indexes in the order a FAILBACK brings them home (`failback.order`, else
    /// the plan's order reversed).
    pub failback_order: Vec<u32>,
    /// `failback.stopAndTerminate`.
    pub failback_stop_and_terminate: bool,
    /// What is sound but not what the author may expect (a wave the layout makes wait longer
    /// than its dependencies need): printed, never refused.
    pub warnings: Vec<Problem>,
}

/// Parses and validates a plan's text.
pub fn load_str(file: &str, text: &str) -> Result<Plan, PlanError> {
    resolve(file, &parse(file, text)?)
}

/// Reads, parses and validates a plan file.
pub fn load_file(path: &Path) -> Result<Plan, PlanError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        file: file.clone(),
        source,
    })?;
    load_str(&file, &text)
}
