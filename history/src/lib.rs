//! The execution history in DynamoDB.
//!
//! # Key design
//!
//! One table, keys from `drs_waves_contract::history`:
//!
//! | pk | sk | item |
//! |---|---|---|
//! | `EXEC#<execution ARN>` | `EXECUTION` | plan, mode, `executionStatus` (RUNNING, SUCCEEDED, SUCCEEDED_WITH_FAILURES, FAILED, ABORTED, TIMED_OUT, PREEMPTED), `startedAt`, `endedAt`, `error`, `cause`, `planName`, `waveStatuses`, `terminateJobIds`, `terminatingInstances` (the previous layout's: read, no longer written), `cleanup` (NOT_NEEDED, DONE, PENDING), `cleanupError`, `terminateDrillInstances`, `pointInTime`, `worstRpoSeconds`, `warnings`, `warningCount`, `preemptedBy`, `janitorWorker`, `janitorLeaseUntil`, `reportLocation` or `reportError` (where the finish or record-failure task wrote the report, or why it could not) |
//! | `EXEC#<execution ARN>` | `WAVE#0001` | `waveName`, `waveStatus`, `jobIds`, `waveStartedAt`, `waveEndedAt`, `checks`, `counts`, `reason`, `chunks` (per chunk number: `servers`, or `serversAttempt` when its attempt's servers are in CHUNKS items, `jobId` once DRS answered, `attempt`, `plannedAt`; planned before the first StartRecovery), `learned` (what past executions taught when the wave started: `samples`, `p10Millis`, `p50Millis`, `p95Millis`, `p90Millis` of its completion time), `completionMillis` (a SUCCEEDED wave: its start to its jobs' last `endDateTime`, the next executions' sample) |
//! | `EXEC#<execution ARN>` | `WAVE#0001#CHUNKS#0001` (and `#0002`, ...) | `chunks` (chunk number to its servers) of an attempt whose servers are too many to name in the WAVE item (over 16 KB, about 800 servers), `pages` as the SERVERS item; written with the plan or retry that makes the chunks, in its transaction, never changed |
//! | `EXEC#<execution ARN>` | `WAVE#0001#SERVERS` | `servers` (per source server: `snapshotID`, `snapshotTakenAt`, `rpoSeconds`, `replication`, `required`): preflight's launch points, then the ones the launch used, with an on-demand launch's point in time once its wave ended; the first page of them, and `pages`, how many there are (none: one, the previous layout) |
//! | `EXEC#<execution ARN>` | `WAVE#0001#SERVERS#0002`, ... | `page`, `servers`: the launch points' next pages, servers in ID order |
//! | `EXEC#<execution ARN>` | `WAVE#0001#JOB#<jobID>` | `jobStatus`, `servers` (per source server: `launchStatus`, `recoveryInstanceID`, `required`, `failureReason` from a failed post-launch action or the job log, `actionWarnings`: optional post-launch actions that failed) |
//! | `EXEC#<execution ARN>` | `WAVE#0001#HEALTH` (and `#0002`, ...) | `healthStatus`, `health` (the record as JSON: each check's latest probe of each target), cut into `pages` as the SERVERS item is |
//! | `EXEC#<execution ARN>` | `WAVE#0001#NETWORK#<phase>#<n>` | `jobId`, `networkStatus`, `network` (a network recovery action's DRS job, as JSON) |
//! | `EXEC#<execution ARN>` | `TERMINATE#<jobID>` | `jobId`, `instances`: the recovery instances one TERMINATE job of a drill's clean-up terminates, written with the job's ID on the EXECUTION item in one transaction |
//! | `CLEANUP` | `PENDING#<execution ARN>` | `executionId`: a drill whose clean-up is PENDING, retried by the janitor until DONE |
//! | `LOCK#<plan>` | `LOCK` | `holder` (execution ARN), `mode` (DRILL or RECOVERY: a RECOVERY preempts a DRILL), `acquiredAt` |
//!
//! No item is over 100 KB (`MAX_ITEM_BYTES`; DynamoDB allows 400 KB) whatever a wave's size:
//! the two records that grow with a wave's servers, its launch points (about 165 bytes a server)
//! and its health (about 120 bytes a probed server per check), are cut into pages of at most
//! 64 KB, written in one TransactWriteItems and read in one TransactGetItems, so that a reader
//! never meets half of a write (see `items` and `dynamo/paged.rs`). A JOB item holds one DRS job
//! (at most 200 servers, 20 KB). The WAVE item's chunks name their servers inline only for an
//! attempt of up to about 800 servers (16 KB); a larger attempt's are CHUNKS items, so the WAVE
//! item holds about 80 bytes a chunk (a wave of 1,600 in jobs of 100: 2.2 KB with its job IDs).
//! A drill's terminated instances (about 20 bytes each: 200 KB for a 10,000-server drill) are
//! kept per TERMINATE job, the EXECUTION item listing only the jobs. The conformance suite
//! writes, retries and reads a wave of 1,600 servers and a clean-up of 10,000 instances and
//! checks every item's size, on the fake and on DynamoDB. Only the EXECUTION item carries
//! `executionStatus`, `planName` and `startedAt`, so only executions appear in the two indexes.
//!
//! # Access patterns
//!
//! - One execution: GetItem (`EXEC#arn`, `EXECUTION`); everything about it: Query `pk = EXEC#arn`.
//! - What is running now: Query `status-index` with `executionStatus = RUNNING`, newest first.
//! - Recent executions of a plan: Query `plan-index` with `planName = <plan>`, newest first
//!   (learned timing: then GetItem of each one's WAVE item).
//! - The run lock: conditional PutItem / DeleteItem on (`LOCK#<plan>`, `LOCK`).
//! - A wave: GetItem of its WAVE item, then the CHUNKS items of each attempt it names there
//!   (as a paged record); a large plan or retry writes them with the WAVE item's conditional
//!   write in one TransactWriteItems.
//! - A paged record (launch points, health): GetItem of its first item, then, when it names
//!   more pages, TransactGetItems of all of them; written with one TransactWriteItems (a
//!   PutItem when it is one page and was one page).
//! - A drill's clean-up: TransactWriteItems of the EXECUTION item's `terminateJobIds` and the
//!   job's TERMINATE item; reading an execution with TERMINATE jobs adds a Query of its
//!   `TERMINATE#` items.
//!
//! Every write is safe to repeat: a retried task either finds what an earlier attempt wrote or
//! loses a conditional write and is retried ([`crate::HistoryError::Transient`]).
//!
//! # Layout
//!
//! [`records`]: the record types; [`roles`]: the operations, one trait per role ([`RunLocks`],
//! [`Executions`], [`Waves`], [`Gates`], [`Janitor`]) and [`History`], all of them; `codec`:
//! records to attribute maps and back; `items`: the whole items the adapter writes (the paged
//! ones too), which the fake builds to size what it holds, and DynamoDB's count of a size;
//! [`DynamoHistory`] (`dynamo/`, one module per item type) and [`create_table`]; behind the
//! `fake` feature, `MemoryHistory` and the `conformance` suite both adapters pass.

mod codec;
#[cfg(any(test, feature = "fake"))]
pub mod conformance;
mod dynamo;
pub mod error;
mod health;
mod items;
#[cfg(any(test, feature = "fake"))]
mod memory;
mod network;
pub mod records;
pub mod roles;

pub use drs_waves_contract::history::{
    CLEANUP_PK, EXECUTION_SK, LOCK_SK, execution_pk, health_sk, job_sk, lock_pk, servers_sk,
    wave_sk,
};
pub use dynamo::{DynamoHistory, create_table};
pub use error::HistoryError;
pub use health::{HealthCheckRecord, ProbeRecord, WaveHealthRecord};
pub use items::MAX_ITEM_BYTES;
#[cfg(any(test, feature = "fake"))]
pub use memory::MemoryHistory;
pub use network::NetworkRecord;
pub use records::{
    CancelOutcome, ChunkWrite, ExecutionClose, ExecutionRecord, JanitorWork, JobRecord,
    LockOutcome, MAX_WARNINGS_RECORDED, ReportOutcome, ServerLaunchPoint, ServerRecord, WaveChunk,
    WaveRecord,
};
pub use roles::{Executions, Gates, Janitor, RunLocks, Waves};

/// Every history operation the tasks need: all the roles. [`DynamoHistory`] is the real one;
/// `MemoryHistory` (the `fake` feature) keeps the same rules in memory for tests. Implemented
/// for whatever implements every role, so an `H: History` bound asks for nothing more.
pub trait History: RunLocks + Executions + Waves + Gates + Janitor {}

impl<T: RunLocks + Executions + Waves + Gates + Janitor> History for T {}

/// The role traits and [`History`], for a caller that calls history methods on a concrete
/// history (`use drs_waves_history::prelude::*;`): a method of a role is callable only with its
/// trait in scope.
pub mod prelude {
    pub use crate::History;
    pub use crate::roles::{Executions, Gates, Janitor, RunLocks, Waves};
}

/// The in-memory history passes the conformance suite, one test per case (the DynamoDB adapter
/// passes the same suite over moto in the worker's `tests/against_services/`).
#[cfg(test)]
mod memory_conformance {
    use crate::MemoryHistory;

    async fn fresh(case: &str) -> (MemoryHistory, String) {
        (MemoryHistory::new(), format!("memory-{case}"))
    }

    crate::history_conformance_tests!(fresh);
}
