//! drs-worker: the Step Functions activity worker of drs-waves.
//!
//! One process polls every activity of a deployment (preflight, start-wave, check-wave, finish,
//! record-failure, await-operator) and does the work each task of the generated state machine
//! asks for, through the contract in `drs_waves_contract`. Step Functions owns the order, the
//! waits and the retries; the worker keeps the rules (docs/DESIGN.md, "Rules the worker must
//! keep"): a wave succeeds only when every required server is LAUNCHED, large waves are split
//! into jobs, a retried start finds the jobs it already made, job IDs are recorded before the
//! task reports success, a drill never launches a recovery, a recovery never runs unconfirmed,
//! and task tokens are never logged whole.
//!
//! Layout: [`runtime`] polls and answers through the [`sfn::ActivityService`] seam; [`tasks`]
//! does the work through the DRS seam (`drs_waves_aws::drs::Drs`) and the history
//! (`drs_waves_history::History`), applying the pure rules of `drs_waves_rules`; [`error`] maps
//! what those crates fail with to the task errors Step Functions sees, in one place. With the
//! `test-util` feature, `testing` has fakes of the seams and `conformance` the suites both fakes
//! and real adapters pass.

pub mod config;
#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
pub mod error;
pub mod faults;
pub mod gate_keeper;
pub mod health;
pub mod metrics;
pub mod runtime;
pub mod sfn;
pub mod tasks;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod token;

pub use error::TaskError;
pub use token::TaskToken;

#[cfg(test)]
mod tests;
