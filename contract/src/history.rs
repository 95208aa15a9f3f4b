//! The history table's keys and indexes: the one place that spells them (the item shapes are
//! the history crate's).

/// Partition key (S): `EXEC#<execution ARN>` for an execution's items, `LOCK#<plan>` for a
/// plan's run lock.
pub const PARTITION_KEY: &str = "pk";
/// Sort key (S): `EXECUTION`, `WAVE#0001`, `WAVE#0001#JOB#<jobID>`, `LOCK`.
pub const SORT_KEY: &str = "sk";
/// GSI: executions by status, newest first: "what is running now".
pub const STATUS_INDEX: &str = "status-index";
pub const STATUS_INDEX_PARTITION_KEY: &str = "executionStatus";
pub const STATUS_INDEX_SORT_KEY: &str = "startedAt";
/// GSI: executions of a plan, newest first: "recent drills of billing".
pub const PLAN_INDEX: &str = "plan-index";
pub const PLAN_INDEX_PARTITION_KEY: &str = "planName";
pub const PLAN_INDEX_SORT_KEY: &str = "startedAt";

pub const EXECUTION_SK: &str = "EXECUTION";
pub const LOCK_SK: &str = "LOCK";
/// Partition of the pending clean-ups (`PENDING#<execution ARN>`), which the janitor retries.
pub const CLEANUP_PK: &str = "CLEANUP";

/// An execution's partition key is this, then its ARN.
pub const EXECUTION_PK_PREFIX: &str = "EXEC#";
/// A wave's sort key is this, then its index in [`WAVE_INDEX_DIGITS`] digits.
pub const WAVE_SK_PREFIX: &str = "WAVE#";
pub const WAVE_INDEX_DIGITS: usize = 4;

pub fn execution_pk(execution_id: &str) -> String {
    format!("{EXECUTION_PK_PREFIX}{execution_id}")
}

pub fn wave_sk(index: u32) -> String {
    format!("{WAVE_SK_PREFIX}{index:0WAVE_INDEX_DIGITS$}")
}

pub fn job_sk(index: u32, job_id: &str) -> String {
    format!("{}#JOB#{job_id}", wave_sk(index))
}

pub fn servers_sk(index: u32) -> String {
    format!("{}#SERVERS", wave_sk(index))
}

pub fn lock_pk(plan: &str) -> String {
    format!("LOCK#{plan}")
}

/// A wave's HEALTH item: the results of its health checks, written whole each round.
pub fn health_sk(index: u32) -> String {
    format!("{}#HEALTH", wave_sk(index))
}

/// A network recovery action's NETWORK item (`WAVE#0001#NETWORK#before#1`): its DRS job.
pub fn network_sk(index: u32, phase: &str, position: u32) -> String {
    format!("{}#NETWORK#{phase}#{position}", wave_sk(index))
}
