//! drs-sim: a simulator of AWS Elastic Disaster Recovery (DRS) that speaks the real DRS
//! restJson1 wire protocol, so that tests exercise the unmodified `aws-sdk-drs` client.
//!
//! It answers StartRecovery, DescribeJobs, DescribeJobLogItems, DescribeSourceServers,
//! DescribeRecoveryInstances, TerminateRecoveryInstances and DescribeRecoverySnapshots for
//! source servers from a fixture, refuses what the DRS API model (`model/`, from botocore)
//! refuses as DRS does, moves jobs through their lifecycle on the fixture's
//! timings, enforces DRS's quotas with DRS's error codes, injects faults (throttling, 500s,
//! latency, answers lost after a job was made), stages a disaster (replication states,
//! point-in-time snapshots kept as DRS's retention keeps them, source-site outages,
//! background load), stages DRS as it really is (short and empty pages, jobs listed late,
//! participants listed late), and has an admin API under `/_sim/` for counters, jobs,
//! faults, limits, timings, paging, servers, outages, snapshot aging and reset.
//!
//! ```no_run
//! # async fn demo() -> Result<(), drs_sim::SimError> {
//! use drs_sim::{ServerSpec, SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::with_servers(vec![
//!     ServerSpec::new("s-00000000000000001", 0.3).with_tag("App", "billing"),
//! ]))
//! .await?;
//! let endpoint = sim.endpoint(); // http://127.0.0.1:PORT for aws-sdk-drs's endpoint_url
//! # let _ = endpoint;
//! let jobs = sim.jobs();
//! # let _ = jobs;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub mod config;
pub mod fixture;
pub mod job_events;
pub mod launch_actions;
pub mod lifecycle;
pub mod model;
pub mod network;
pub mod principal;
pub mod replication;
pub mod server;
pub mod state;
pub mod sts;
pub mod wire;

pub use config::{
    DateStyle, FaultConfig, FaultSpec, FixtureSource, Limits, Paging, SimConfig, Timings,
};
pub use fixture::{
    BackgroundJobSpec, BackgroundServers, FAIL_CAUSES, Fixture, FixtureDefaults, FixtureError,
    LoadedFixture, ServerSpec, SnapshotSpec, SourceServerDef,
};
pub use job_events::FailStage;
pub use launch_actions::{LaunchActionDef, LaunchActionSpec, RunStatus};
pub use lifecycle::{InitiatedBy, JobStatus, JobType, LaunchStatus};
pub use model::{Direction, Model, Violation};
pub use network::SourceNetworkSpec;
pub use principal::{Caller, Callers, Owner};
pub use replication::{OutageState, RecoverySnapshot};
pub use server::{SimError, SimHandle, Simulator};
pub use state::{
    Counters, FailbackOutcome, FailbackStaging, InstanceSnapshot, JobNetworkSnapshot,
    JobServerSnapshot, JobSnapshot, LaunchActionRunSnapshot, OperationCounters, OutageSelector,
    ServerSelector,
};
