//! drs-waves-aws: everything that talks to AWS, once.
//!
//! - [`clients`]: the SDK clients, built from the standard environment with one table of
//!   timeouts and retry settings (the worker's and the CLI's).
//! - [`credentials`]: the region and credential check the CLI and the worker make first.
//! - [`failure`]: an SDK error reduced to a [`failure::ServiceFailure`] and classified into an
//!   [`AwsError`] (throttled, transient, access denied, quota, failed).
//! - [`drs`]: the DRS seam (the [`drs::Drs`] trait and its SDK adapter [`drs::SdkDrs`]): source
//!   servers, snapshots, jobs, job logs, recovery instances, StartRecovery and
//!   TerminateRecoveryInstances, paginated the SDK's way.
//! - [`sfn`]: the Step Functions reads the worker, the CLI and the report share
//!   (DescribeExecution, GetExecutionHistory).
//! - [`s3`] and [`sns`]: the report bucket's PutObject and the gate notifications.
//!
//! This crate knows nothing of plans' waves beyond selecting servers, of the history table, or
//! of Step Functions tasks: the worker maps an [`AwsError`] to the task error Step Functions
//! sees, in one place (`drs_worker::error`).

pub mod clients;
pub mod credentials;
pub mod drs;
pub mod error;
pub mod failure;
pub mod s3;
pub mod sfn;
pub mod sns;

pub use error::AwsError;
