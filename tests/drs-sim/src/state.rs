//! The simulator's in-memory state and the DRS operations on it.
//!
//! Every operation takes `now` explicitly; the caller holds the state's mutex for the length
//! of one call and never across an await.
//!
//! What lives where: this file holds the state itself (servers, jobs, knobs), its reset and
//! the dispatch of DRS operations; each operation and admin action has its own module below
//! (`start_recovery`, `jobs`, `source_servers`, `recovery_instances`, `recovery_snapshots`,
//! `instances` for instance IDs and on-demand snapshots, `servers` for run-time staging,
//! `faults`, `limits`, `paging`, `counters`, `admin_views`; `recovery_plans`,
//! `recovery_plan_executions` and `recovery_plan_runner` for DRS recovery plans).

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::{DateStyle, FaultConfig, Limits, Paging, SimConfig, Timings};
use crate::fixture::{BackgroundJobSpec, LoadedFixture, SourceServerDef};
use crate::lifecycle::{Job, truncate_to_micros};
use crate::replication::Timeline;
use crate::wire::{self, ApiError};

mod admin_views;
mod counters;
mod failback;
mod faults;
mod instances;
mod jobs;
mod limits;
mod networks;
mod paging;
mod recovery_instances;
mod recovery_plan_executions;
mod recovery_plan_runner;
mod recovery_plans;
mod recovery_snapshots;
pub mod rfc3339;
mod servers;
mod source_servers;
mod start_recovery;

pub use admin_views::{
    InstanceSnapshot, JobNetworkSnapshot, JobServerSnapshot, JobSnapshot, LaunchActionRunSnapshot,
};
pub use counters::{Counters, OperationCounters};
pub use failback::{FAILBACK_REPLICATION_ERRORS, FailbackOutcome, FailbackStaging};
pub use instances::OmitInstanceIdRequest;

struct ServerEntry {
    def: SourceServerDef,
    added: OffsetDateTime,
    /// Index into `jobs` of the newest LAUNCH job of this server.
    last_launch_job: Option<usize>,
    /// Its replication states over time (the fixture's, then outages).
    timeline: Timeline,
    /// The state and error it had before the outage it is in now.
    pre_outage: Option<(String, Option<String>)>,
}

impl ServerEntry {
    fn new(def: SourceServerDef, added: OffsetDateTime, anchor: OffsetDateTime) -> Self {
        Self {
            timeline: Timeline::from_def(&def, anchor),
            def,
            added,
            last_launch_job: None,
            pre_outage: None,
        }
    }
}

/// Which source servers an admin action is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ServerSelector {
    /// These servers (each must exist).
    Servers(Vec<String>),
    /// Servers that carry every one of these tags (at least one must match).
    Tags(BTreeMap<String, String>),
    /// Every source server.
    All,
}

/// The servers a source-site outage takes down.
pub type OutageSelector = ServerSelector;

/// Where a recovery instance came from and what became of it.
struct InstanceRecord {
    source_server_id: String,
    job: usize,
    launched: OffsetDateTime,
    terminated: Option<OffsetDateTime>,
}

/// What happens to a call after it was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterCommit {
    /// Answer 500 InternalServerException.
    Error,
    /// Close the connection without an answer.
    Drop,
}

/// A fault decision for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultDecision {
    pub latency_ms: u64,
    pub error: Option<ApiError>,
}

pub struct SimState {
    fixture_servers: Vec<SourceServerDef>,
    fixture_background: Vec<BackgroundJobSpec>,
    fixture_networks: Vec<crate::network::SourceNetworkSpec>,
    networks: BTreeMap<String, networks::NetworkEntry>,
    /// When the simulator started (or was last reset): snapshot histories reach back from
    /// here, fixture background jobs count from here.
    sim_start: OffsetDateTime,
    /// Seeds snapshot IDs (stable for the life of the state).
    snapshot_salt: u64,
    servers: BTreeMap<String, ServerEntry>,
    jobs: Vec<Job>,
    job_index: HashMap<String, usize>,
    pub(crate) counters: Counters,
    pub(crate) faults: FaultConfig,
    pub(crate) limits: Limits,
    timings: Timings,
    paging: Paging,
    seed: Option<u64>,
    id_rng: StdRng,
    fault_rng: StdRng,
    region: String,
    account_id: String,
    date_style: DateStyle,
    default_page_size: usize,
    /// Recovery plans and their executions (`recovery_plans`, `recovery_plan_executions`).
    recovery_plans: recovery_plans::RecoveryPlans,
    /// Recovery instances replicating back to their origin, by instance ID (`failback`).
    failbacks: BTreeMap<String, failback::FailbackReplication>,
}

fn rng_from(seed: Option<u64>, salt: u64) -> StdRng {
    match seed {
        Some(s) => StdRng::seed_from_u64(s ^ salt),
        None => StdRng::from_os_rng(),
    }
}

const ID_SALT: u64 = 0x1d5;
const FAULT_SALT: u64 = 0xfa17;
const SNAPSHOT_SALT: u64 = 0x5a4b;

impl SimState {
    pub fn new(config: &SimConfig, fixture: LoadedFixture, now: OffsetDateTime) -> Self {
        let mut state = Self {
            fixture_servers: fixture.servers,
            fixture_background: fixture.background_jobs,
            fixture_networks: fixture.source_networks,
            networks: BTreeMap::new(),
            sim_start: now,
            snapshot_salt: 0,
            servers: BTreeMap::new(),
            jobs: Vec::new(),
            job_index: HashMap::new(),
            counters: Counters::default(),
            faults: config.faults.clone(),
            limits: config.limits.clone(),
            timings: fixture
                .timings
                .clone()
                .unwrap_or_else(|| config.timings.clone()),
            paging: fixture
                .paging
                .clone()
                .unwrap_or_else(|| config.paging.clone()),
            seed: config.seed.or(config.faults.seed),
            id_rng: rng_from(config.seed, ID_SALT),
            fault_rng: rng_from(config.seed.or(config.faults.seed), FAULT_SALT),
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            date_style: config.date_style,
            default_page_size: config.default_page_size,
            recovery_plans: recovery_plans::RecoveryPlans::default(),
            failbacks: BTreeMap::new(),
        };
        state.reset(None, now);
        state
    }

    /// Forgets jobs, instances, counters, outages and servers added at run time; `fixture`
    /// replaces the fixture when given. Faults and limits stay as they are. The fixture's
    /// background jobs are scheduled again from `now`.
    pub fn reset(&mut self, fixture: Option<LoadedFixture>, now: OffsetDateTime) {
        if let Some(f) = fixture {
            self.fixture_servers = f.servers;
            self.fixture_background = f.background_jobs;
            self.fixture_networks = f.source_networks;
            // A reloaded fixture's own settings replace the running ones.
            if let Some(t) = f.timings {
                self.timings = t;
            }
            if let Some(p) = f.paging {
                self.paging = p;
            }
        }
        let now = truncate_to_micros(now);
        self.sim_start = now;
        self.jobs.clear();
        self.failbacks.clear();
        self.recovery_plans = recovery_plans::RecoveryPlans::default();
        self.job_index.clear();
        self.counters = Counters::default();
        self.id_rng = rng_from(self.seed, ID_SALT);
        self.fault_rng = rng_from(self.seed, FAULT_SALT);
        self.snapshot_salt = rng_from(self.seed, SNAPSHOT_SALT).random();
        self.servers = self
            .fixture_servers
            .iter()
            .map(|def| (def.id.clone(), ServerEntry::new(def.clone(), now, now)))
            .collect();
        self.networks = self
            .fixture_networks
            .iter()
            .map(|n| (n.id.clone(), networks::NetworkEntry::new(n.clone())))
            .collect();
        let background = self.fixture_background.clone();
        if let Err(e) = self.add_background_jobs(&background, now) {
            // Validated with the fixture; only a bug gets here.
            tracing::warn!(error = %e, "fixture background jobs not scheduled");
        }
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// New timings apply to jobs created from now on.
    pub fn set_timings(&mut self, timings: Timings) {
        self.timings = timings;
    }

    fn hex_id(&mut self, prefix: &str) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        let tail: String = (0..17)
            .map(|_| HEX[self.id_rng.random_range(0..HEX.len())] as char)
            .collect();
        format!("{prefix}{tail}")
    }

    fn arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:drs:{}:{}:{kind}/{id}",
            self.region, self.account_id
        )
    }

    fn date(&self, t: OffsetDateTime) -> String {
        wire::format_date(t, self.date_style)
    }

    /// Dispatches one DRS operation.
    pub fn call(
        &mut self,
        operation: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(u16, Value), ApiError> {
        // What the DRS model refuses is refused before the operation changes anything.
        crate::model::check_request(operation, body)?;
        // Recovery plan executions launch their steps' jobs as time passes; whatever is
        // asked (DescribeJobs too) sees them from the instant they were due.
        self.advance_executions(now);
        match operation {
            "StartRecovery" => self
                .start_recovery(&wire::parse_body(body)?, now)
                .map(|v| (202, v)),
            "DescribeJobs" => self
                .describe_jobs(&wire::parse_body(body)?, now)
                .map(|v| (200, v)),
            "DescribeJobLogItems" => self
                .describe_job_log_items(&wire::parse_body(body)?, now)
                .map(|v| (200, v)),
            "DescribeSourceServers" => self
                .describe_source_servers(&wire::parse_body(body)?, now)
                .map(|v| (200, v)),
            "DescribeRecoveryInstances" => self
                .describe_recovery_instances(&wire::parse_body(body)?, now)
                .map(|v| (200, v)),
            "TerminateRecoveryInstances" => self
                .terminate_recovery_instances(&wire::parse_body(body)?, now)
                .map(|v| (200, v)),
            "DescribeSourceNetworks" => self
                .describe_source_networks(&networks::parse(body)?, now)
                .map(|v| (200, v)),
            "StartSourceNetworkRecovery" => self
                .start_source_network_recovery(&networks::parse(body)?, now)
                .map(|v| (202, v)),
            "DescribeRecoverySnapshots" => self
                .describe_recovery_snapshots(&wire::parse_body(body)?, now)
                .map(|v| (200, v)),
            "ReverseReplication" | "StartFailbackLaunch" | "StopFailback" => self
                .call_failback(operation, body, now)
                .unwrap_or_else(|| Err(ApiError::validation("unknownOperation", operation, &[]))),
            other if other.contains("RecoveryPlan") => self
                .call_recovery_plan(other, body, now)
                .unwrap_or_else(|| Err(ApiError::validation("unknownOperation", other, &[]))),
            other => Err(ApiError::validation(
                "unknownOperation",
                format!("Unknown operation {other}"),
                &[],
            )),
        }
    }
}

#[cfg(test)]
mod failback_tests;
#[cfg(test)]
mod recovery_plan_tests;
#[cfg(test)]
mod tests;
