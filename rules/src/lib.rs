//! drs-waves-rules: the rules of a recovery, pure (no I/O, so every rule has a fast test), shared
//! by the worker that applies them and the CLI that shows an operator what they will do.
//!
//! - [`preflight`]: which servers a wave selects, what stops a plan from running, the RECOVERY
//!   confirmation, how a wave is split into jobs.
//! - [`verdict`]: when a wave has succeeded or failed, and how long to wait before the next check.
//! - [`timing`]: what past executions teach about a wave's launch time, and the wait with it.
//! - [`rpo`]: launch points held to the plan's recovery point objective.
//! - [`schedule`]: the scheduled launch strategy: chunks sent within the quotas, quotas learned
//!   from a refusal.
//! - [`retry`]: which servers of a failed wave an operator's retry launches again.
//! - [`launch_points`]: the snapshots a launch would use, and what the plan's RPO says of them
//!   (read through the DRS seam: preflight and `drs-waves start` ask the same question).
//! - [`bound`]: the fastest recovery the quotas allow, a lower bound on a plan's makespan
//!   (the bench's yardstick).
//! - [`failback`]: the RECOVERY a FAILBACK brings home, which recovery instances are ready to
//!   fail back (and why the others are not), the verdict of a failback wave.
//! - [`clock`]: the timestamps Step Functions and DRS write, and the clock the tasks read.

pub mod bound;
pub mod clock;
pub mod failback;
pub mod launch_points;
pub mod preflight;
pub mod retry;
pub mod rpo;
pub mod schedule;
pub mod timing;
pub mod verdict;

pub use clock::*;
pub use preflight::*;
pub use retry::*;
pub use rpo::*;
pub use timing::*;
pub use verdict::*;

/// DRS limits the worker plans with (the real quotas vary by account: configure them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Source servers in one StartRecovery job (DRS accepts up to 200).
    pub max_servers_per_job: usize,
    /// Source servers in all active jobs.
    pub max_active_servers: usize,
    /// Concurrent jobs in progress.
    pub max_concurrent_jobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_servers_per_job: 100,
            max_active_servers: 200,
            max_concurrent_jobs: 20,
        }
    }
}

/// TerminateRecoveryInstances takes at most this many IDs.
pub const MAX_TERMINATE_PER_CALL: usize = 200;
