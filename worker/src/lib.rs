//! drs-worker: the Step Functions activity worker of drs-waves.
//!
//! One process polls every activity of a deployment (preflight, start-wave, check-wave,
//! finish, record-failure) and does the DRS and DynamoDB work each task of the generated state
//! machine asks for, through the contract in `drs_waves_contract`. Step Functions owns the
//! order, the waits and the retries; the worker owns the rules (the project's design brief, "Rules the
//! worker must keep"): a wave succeeds only when every required server is LAUNCHED, large waves are
//! split into jobs, a retried start finds the jobs it already made, job IDs are recorded before
//! the task reports success, a drill never launches a recovery, a recovery never runs
//! unconfirmed, and task tokens are never logged whole.
//!
//! Layout: [`runtime`] polls and answers through the [`sfn::ActivityService`] seam; [`tasks`]
//! does the work through the [`drs::Drs`] and [`history::History`] seams; [`rules`] holds the
//! pure rules. With the `test-util` feature, `testing` has fakes of all three seams and
//! `conformance` the suites both fakes and real adapters pass. The history table's key design and
//! access patterns are in [`history`] and in README.md.

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
