//! The simulator's in-memory state and the DRS operations on it.
//!
//! Every operation takes `now` explicitly; the caller holds the state's mutex for the length
//! of one call and never across an await.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::{DateStyle, FaultConfig, Limits, Paging, SimConfig, Timings};
use crate::fixture::{
    self, BackgroundJobSpec, BackgroundServers, LoadedFixture, ResolvedDefaults, ServerSpec,
    SourceServerDef,
};
use crate::job_events::{FailStage, GENERIC_SKIP_REASON};
use crate::launch_actions::{PostLaunch, RunStatus};
use crate::lifecycle::{
    Job, JobKind, JobStatus, LAUNCH_FAILED_RAW_ERROR, LaunchStatus, SNAPSHOT_SHARE,
    ScheduledServer, SnapshotSource, UsedSnapshot, seconds, truncate_to_micros,
};
use crate::replication::{self, OUTAGE_STATES, OutageState, RecoverySnapshot, Timeline};
use crate::wire::{self, ApiError};

mod instances;
pub use instances::OmitInstanceIdRequest;

/// Calls per operation and per HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Every call, dropped ones included.
    pub total: u64,
    /// Calls by the status they were answered with (dropped calls have none).
    pub by_status: BTreeMap<u16, u64>,
    /// Calls carried out and then answered 500 by an `errorAfterCommit*` fault.
    #[serde(default)]
    pub error_after_commit: u64,
    /// Calls carried out and then left without an answer by a `dropAfterCommit*` fault.
    #[serde(default)]
    pub drop_after_commit: u64,
    pub operations: BTreeMap<String, OperationCounters>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationCounters {
    pub total: u64,
    pub by_status: BTreeMap<u16, u64>,
    #[serde(default)]
    pub error_after_commit: u64,
    #[serde(default)]
    pub drop_after_commit: u64,
}

impl Counters {
    pub fn record(&mut self, operation: &str, status: u16) {
        self.total += 1;
        *self.by_status.entry(status).or_default() += 1;
        let op = self.operations.entry(operation.to_owned()).or_default();
        op.total += 1;
        *op.by_status.entry(status).or_default() += 1;
    }

    /// A call that was carried out and then answered 500 on purpose (it is recorded with
    /// its status by [`Counters::record`] too).
    pub fn record_error_after_commit(&mut self, operation: &str) {
        self.error_after_commit += 1;
        self.operations
            .entry(operation.to_owned())
            .or_default()
            .error_after_commit += 1;
    }

    /// A call that was carried out and then got no answer: counted in the totals, with no
    /// status.
    pub fn record_drop_after_commit(&mut self, operation: &str) {
        self.total += 1;
        self.drop_after_commit += 1;
        let op = self.operations.entry(operation.to_owned()).or_default();
        op.total += 1;
        op.drop_after_commit += 1;
    }

    /// Calls of `operation` that were carried out and then answered 500.
    pub fn errors_after_commit(&self, operation: &str) -> u64 {
        self.operations
            .get(operation)
            .map_or(0, |o| o.error_after_commit)
    }

    /// Calls of `operation` that were carried out and then got no answer.
    pub fn drops_after_commit(&self, operation: &str) -> u64 {
        self.operations
            .get(operation)
            .map_or(0, |o| o.drop_after_commit)
    }

    /// Calls of `operation` answered with `status`.
    pub fn count(&self, operation: &str, status: u16) -> u64 {
        self.operations
            .get(operation)
            .and_then(|o| o.by_status.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// All calls of `operation`.
    pub fn calls(&self, operation: &str) -> u64 {
        self.operations.get(operation).map_or(0, |o| o.total)
    }
}

/// A job as the admin API shows it: everything DescribeJobs shows plus each server's
/// scheduled launch start and end, so a test can order events across jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSnapshot {
    #[serde(rename = "jobID")]
    pub job_id: String,
    pub arn: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub initiated_by: String,
    pub is_drill: Option<bool>,
    pub status: JobStatus,
    pub tags: BTreeMap<String, String>,
    #[serde(with = "rfc3339")]
    pub creation_date_time: OffsetDateTime,
    /// When the job left (or will leave) PENDING.
    #[serde(with = "rfc3339")]
    pub start_date_time: OffsetDateTime,
    /// When the job completed; None while it is still running.
    #[serde(with = "rfc3339::option")]
    pub end_date_time: Option<OffsetDateTime>,
    /// When the job completes (or completed).
    #[serde(with = "rfc3339")]
    pub scheduled_end_date_time: OffsetDateTime,
    /// From when DescribeJobs lists its participatingServers.
    #[serde(with = "rfc3339")]
    pub participants_listed_date_time: OffsetDateTime,
    /// From when DescribeJobs lists the job (`jobListingDelaySeconds` after its creation).
    #[serde(with = "rfc3339")]
    pub listed_date_time: OffsetDateTime,
    /// Background load (someone else's job), not made by a DRS call.
    pub background: bool,
    pub servers: Vec<JobServerSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobServerSnapshot {
    #[serde(rename = "sourceServerID")]
    pub source_server_id: String,
    pub launch_status: LaunchStatus,
    /// The instance DescribeJobs shows now (a launch: once LAUNCHED).
    #[serde(rename = "recoveryInstanceID")]
    pub recovery_instance_id: Option<String>,
    /// The instance a successful launch will create (or a terminate job removes).
    #[serde(rename = "plannedRecoveryInstanceID")]
    pub planned_recovery_instance_id: Option<String>,
    #[serde(with = "rfc3339")]
    pub launch_start_date_time: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub launch_end_date_time: OffsetDateTime,
    pub fail_launch: bool,
    /// The LAUNCH_FAILED `rawError` of a failing launch.
    pub fail_reason: Option<String>,
    /// The point-in-time snapshot a launch uses (None: it has none, or not a launch).
    #[serde(rename = "recoverySnapshotID")]
    pub recovery_snapshot_id: Option<String>,
    /// That snapshot's `timestamp`.
    #[serde(with = "rfc3339::option")]
    pub recovery_snapshot_timestamp: Option<OffsetDateTime>,
    /// The client named the snapshot in `recoverySnapshotID` (else it is the latest).
    pub recovery_snapshot_requested: bool,
    /// DRS took the snapshot for this launch (no `recoverySnapshotID`, the server
    /// replicating): SNAPSHOT_START/END in the job log.
    #[serde(default)]
    pub on_demand_snapshot: bool,
    /// The launch job skipped it (SERVER_SKIPPED; `failReason` holds the `rawError`).
    pub skipped: bool,
    /// Where a failing launch fails (snapshot, conversion, launch).
    pub fail_stage: FailStage,
    /// Its post-launch action runs, in run order, started or not.
    pub launch_action_runs: Vec<LaunchActionRunSnapshot>,
}

/// One post-launch action run as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchActionRunSnapshot {
    pub name: String,
    pub action_code: String,
    pub optional: bool,
    pub order: u32,
    pub run_id: String,
    /// None before the run has started (DescribeJobs does not list it yet).
    pub status: Option<RunStatus>,
    /// The run's `failureReason` when it ends FAILED.
    pub failure_reason: Option<String>,
    #[serde(with = "rfc3339")]
    pub start_date_time: OffsetDateTime,
    #[serde(with = "rfc3339")]
    pub end_date_time: OffsetDateTime,
}

/// A recovery instance as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSnapshot {
    #[serde(rename = "recoveryInstanceID")]
    pub recovery_instance_id: String,
    #[serde(rename = "sourceServerID")]
    pub source_server_id: String,
    #[serde(rename = "jobID")]
    pub job_id: String,
    pub is_drill: bool,
    #[serde(with = "rfc3339")]
    pub launched_date_time: OffsetDateTime,
    /// When it was terminated (by a TERMINATE job, or replaced by a newer launch of its
    /// source server); None while it exists.
    #[serde(with = "rfc3339::option")]
    pub terminated_date_time: Option<OffsetDateTime>,
    /// DescribeRecoveryInstances' `pointInTimeSnapshotDateTime`: the snapshot it launched from.
    #[serde(with = "rfc3339::option", default)]
    pub point_in_time_snapshot_date_time: Option<OffsetDateTime>,
}

/// Serde helpers for timestamps in admin snapshots (RFC 3339).
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(text) => OffsetDateTime::parse(&text, &Rfc3339)
                    .map(Some)
                    .map_err(serde::de::Error::custom),
            }
        }
    }
}

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
        let background = self.fixture_background.clone();
        if let Err(e) = self.add_background_jobs(&background, now) {
            // Validated with the fixture; only a bug gets here.
            tracing::warn!(error = %e, "fixture background jobs not scheduled");
        }
    }

    pub fn set_faults(&mut self, faults: FaultConfig) {
        if let Some(seed) = faults.seed {
            self.fault_rng = StdRng::seed_from_u64(seed ^ FAULT_SALT);
        }
        self.faults = faults;
    }

    /// Adds source servers, or replaces those with the same ID. All or nothing.
    ///
    /// A replaced server keeps its jobs, and its replication history (outages included)
    /// unless the replacement changes its replicationState, replicationError or
    /// downSinceMinutes: then the new state holds from `now` (less downSinceMinutes).
    pub fn upsert_servers(
        &mut self,
        specs: &[ServerSpec],
        defaults: &ResolvedDefaults,
        now: OffsetDateTime,
    ) -> Result<Vec<SourceServerDef>, String> {
        let now = truncate_to_micros(now);
        let mut defs = Vec::with_capacity(specs.len());
        let mut seen = HashSet::new();
        for spec in specs {
            let def =
                fixture::resolve(spec, defaults).map_err(|e| format!("server {}: {e}", spec.id))?;
            if !seen.insert(def.id.clone()) {
                return Err(format!("server {}: duplicate server ID", def.id));
            }
            defs.push(def);
        }
        for def in &defs {
            match self.servers.get_mut(&def.id) {
                Some(entry) => {
                    let replication_changed = entry.def.replication_state != def.replication_state
                        || entry.def.replication_error != def.replication_error
                        || entry.def.down_since_minutes != def.down_since_minutes;
                    if replication_changed {
                        // The new definition's change (or its state, from now).
                        let fresh = Timeline::from_def(def, now);
                        let (from, segment) = match fresh.last_change() {
                            Some(change) => (change.from, change.clone()),
                            None => (now, fresh.at(now).clone()),
                        };
                        entry.timeline.set(from, &segment.state, segment.error);
                        entry.pre_outage = None;
                    }
                    entry.def = def.clone();
                }
                None => {
                    self.servers
                        .insert(def.id.clone(), ServerEntry::new(def.clone(), now, now));
                }
            }
        }
        Ok(defs)
    }

    pub fn server_defs(&self) -> Vec<SourceServerDef> {
        self.servers.values().map(|e| e.def.clone()).collect()
    }

    /// The IDs `selector` names; an unknown ID, or tags that match nothing, is an error.
    fn select(&self, selector: &ServerSelector) -> Result<Vec<String>, String> {
        match selector {
            ServerSelector::All => Ok(self.servers.keys().cloned().collect()),
            ServerSelector::Servers(ids) => {
                if ids.is_empty() {
                    return Err("servers is an empty list".to_owned());
                }
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if !self.servers.contains_key(id) {
                        return Err(format!("server {id} is not a known source server"));
                    }
                    if !out.contains(id) {
                        out.push(id.clone());
                    }
                }
                Ok(out)
            }
            ServerSelector::Tags(tags) => {
                if tags.is_empty() {
                    return Err("tags is empty".to_owned());
                }
                let out: Vec<String> = self
                    .servers
                    .values()
                    .filter(|e| tags.iter().all(|(k, v)| e.def.tags.get(k) == Some(v)))
                    .map(|e| e.def.id.clone())
                    .collect();
                if out.is_empty() {
                    return Err(format!("no source server has the tags {tags:?}"));
                }
                Ok(out)
            }
        }
    }

    /// A source-site outage: from `now` the selected servers are in `state` with
    /// AGENT_NOT_SEEN, take no snapshots, and their `lastSeenByServiceDateTime` stops.
    /// Returns the servers it applies to.
    pub fn start_outage(
        &mut self,
        selector: &ServerSelector,
        state: OutageState,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        let now = truncate_to_micros(now);
        let ids = self.select(selector)?;
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                let current = entry.timeline.at(now).clone();
                if entry.pre_outage.is_none() {
                    entry.pre_outage = Some((current.state.clone(), current.error.clone()));
                }
                if current.state != state.as_str()
                    || current.error.as_deref() != Some("AGENT_NOT_SEEN")
                {
                    entry
                        .timeline
                        .set(now, state.as_str(), Some("AGENT_NOT_SEEN".to_owned()));
                }
            }
        }
        Ok(ids)
    }

    /// Ends the outage of the selected servers: from `now` each is back in the state it had
    /// before the outage (CONTINUOUS if it was STALLED or DISCONNECTED already, as servers
    /// down from the fixture are), and takes snapshots again if that state does. Returns
    /// the servers whose state changed.
    pub fn end_outage(
        &mut self,
        selector: &ServerSelector,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        let now = truncate_to_micros(now);
        let ids = self.select(selector)?;
        let mut changed = Vec::new();
        for id in ids {
            let Some(entry) = self.servers.get_mut(&id) else {
                continue;
            };
            let current = entry.timeline.at(now).clone();
            let restored = match entry.pre_outage.take() {
                Some((state, error)) if !OUTAGE_STATES.contains(&state.as_str()) => (state, error),
                Some(_) => ("CONTINUOUS".to_owned(), None),
                None if OUTAGE_STATES.contains(&current.state.as_str()) => {
                    ("CONTINUOUS".to_owned(), None)
                }
                None => continue,
            };
            if (current.state.as_str(), current.error.as_deref())
                != (restored.0.as_str(), restored.1.as_deref())
            {
                entry.timeline.set(now, &restored.0, restored.1);
                changed.push(id);
            }
        }
        Ok(changed)
    }

    /// Sets (or clears) `failLaunch` and its reason on the selected servers, for launches
    /// from now on. Returns the servers.
    pub fn set_fail_launch(
        &mut self,
        selector: &ServerSelector,
        fail_launch: bool,
        fail_reason: Option<String>,
    ) -> Result<Vec<String>, String> {
        if fail_reason.is_some() && !fail_launch {
            return Err("failReason is set but failLaunch is false".to_owned());
        }
        if fail_reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err("failReason is empty".to_owned());
        }
        let ids = self.select(selector)?;
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.def.fail_launch = fail_launch;
                entry.def.fail_reason = fail_reason.clone();
            }
        }
        Ok(ids)
    }

    /// The snapshots of `server_id` as of `now`, oldest first (None: no such server).
    pub fn recovery_snapshots(
        &self,
        server_id: &str,
        now: OffsetDateTime,
    ) -> Option<Vec<RecoverySnapshot>> {
        let entry = self.servers.get(server_id)?;
        Some(replication::snapshots(
            &entry.def,
            &entry.timeline,
            self.sim_start,
            now,
            self.snapshot_salt,
        ))
    }

    /// Makes every snapshot the selected servers have taken by `now` `minutes` older, as far
    /// as retention goes: what an hour (or a day) of DRS's retention would delete is gone,
    /// without waiting for it. Snapshots taken later age normally. Returns the servers.
    pub fn age_snapshots(
        &mut self,
        selector: &ServerSelector,
        minutes: f64,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        if !minutes.is_finite() || !(0.0..=525_600.0).contains(&minutes) {
            return Err(format!(
                "minutes {minutes} is not between 0 and a year of minutes"
            ));
        }
        let now = truncate_to_micros(now);
        let ids = self.select(selector)?;
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.timeline.age_snapshots(now, seconds(minutes * 60.0));
            }
        }
        Ok(ids)
    }

    pub fn paging(&self) -> &Paging {
        &self.paging
    }

    pub fn set_paging(&mut self, paging: Paging) {
        self.paging = paging;
    }

    /// The size of a page for a Describe call with `max_results` (the model's minimum 1 is
    /// checked), within the paging knob.
    fn page_size(&self, max_results: Option<i64>) -> Result<usize, ApiError> {
        wire::page_size(max_results, self.default_page_size).map(|n| self.paging.clamp(n))
    }

    /// With `emptyFirstPage`, the answer to a listing's first call (no `nextToken`): no
    /// items, and a token that leads to the first item.
    fn empty_first_page(&self, token: Option<&str>, prefix: &str) -> Option<Value> {
        (self.paging.empty_first_page && token.is_none_or(str::is_empty))
            .then(|| json!({ "items": [], "nextToken": format!("{prefix}{FROM_THE_START}") }))
    }

    /// Schedules background jobs, each created `startAfterSeconds` (scaled) after `now`.
    /// All or nothing. Returns their job IDs.
    pub fn add_background_jobs(
        &mut self,
        specs: &[BackgroundJobSpec],
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        let mut kinds = Vec::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            let kind = spec
                .validate(&|id| self.servers.contains_key(id))
                .map_err(|e| format!("jobs[{index}]: {e}"))?;
            kinds.push(kind);
        }
        let now = truncate_to_micros(now);
        let scale = self.timings.time_scale;
        let mut ids = Vec::with_capacity(specs.len());
        for (spec, (job_type, initiated_by)) in specs.iter().zip(kinds) {
            let created = now + seconds(spec.start_after_seconds * scale);
            let (started, listed) = self.job_start(created);
            let end = (created + seconds(spec.duration_seconds * scale)).max(started);
            let sources: Vec<String> = match &spec.servers {
                BackgroundServers::Ids(ids) => ids.clone(),
                // Synthetic servers of someone else's: DescribeSourceServers does not list
                // them.
                BackgroundServers::Count(n) => (0..*n).map(|_| self.hex_id("s-")).collect(),
            };
            let servers = sources
                .into_iter()
                .map(|source_server_id| ScheduledServer {
                    source_server_id,
                    recovery_instance_id: None,
                    conversion_server_id: String::new(),
                    start: started,
                    end,
                    fails: false,
                    fail_reason: None,
                    snapshot: None,
                    snapshot_source: SnapshotSource::Take,
                    fail_stage: FailStage::Launch,
                    skipped: false,
                    post_launch: None,
                })
                .collect();
            let index = self.insert_job(
                JobKind::Background {
                    job_type,
                    initiated_by,
                },
                spec.tags.clone(),
                created,
                (started, listed),
                servers,
            );
            ids.push(self.jobs[index].id.clone());
        }
        Ok(ids)
    }

    /// When a job created at `created` leaves PENDING, and when it lists its servers: it
    /// stays PENDING at least until it lists them.
    fn job_start(&self, created: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        let scale = self.timings.time_scale;
        let listed = created + seconds(self.timings.participants_delay_seconds * scale);
        let started = (created + seconds(self.timings.pending_seconds * scale)).max(listed);
        (started, listed)
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// New timings apply to jobs created from now on.
    pub fn set_timings(&mut self, timings: Timings) {
        self.timings = timings;
    }

    /// Decides what the fault configuration does to one call of `operation`.
    pub fn decide_fault(&mut self, operation: &str) -> FaultDecision {
        let retry_after = self.faults.retry_after_seconds;
        let spec = match self.faults.per_operation.get_mut(operation) {
            Some(spec) => spec,
            None => &mut self.faults.all,
        };
        let error = if spec.access_denied {
            Some(ApiError::access_denied())
        } else if spec.uninitialized_account {
            Some(ApiError::uninitialized_account())
        } else if spec.throttle_next > 0 {
            spec.throttle_next -= 1;
            Some(ApiError::throttling(retry_after))
        } else if spec.error_next > 0 {
            spec.error_next -= 1;
            Some(ApiError::internal())
        } else if spec.throttle_fraction > 0.0 && self.fault_rng.random_bool(spec.throttle_fraction)
        {
            Some(ApiError::throttling(retry_after))
        } else if spec.error_fraction > 0.0 && self.fault_rng.random_bool(spec.error_fraction) {
            Some(ApiError::internal())
        } else {
            None
        };
        FaultDecision {
            latency_ms: spec.latency_ms,
            error,
        }
    }

    /// Decides whether a call that has just been carried out is answered after all: an
    /// `errorAfterCommit*` fault answers 500, a `dropAfterCommit*` fault closes the
    /// connection without an answer. Counted here.
    pub fn decide_after_commit(&mut self, operation: &str) -> Option<AfterCommit> {
        let spec = match self.faults.per_operation.get_mut(operation) {
            Some(spec) => spec,
            None => &mut self.faults.all,
        };
        let fault = if spec.error_after_commit_next > 0 {
            spec.error_after_commit_next -= 1;
            Some(AfterCommit::Error)
        } else if spec.drop_after_commit_next > 0 {
            spec.drop_after_commit_next -= 1;
            Some(AfterCommit::Drop)
        } else if spec.error_after_commit_fraction > 0.0
            && self.fault_rng.random_bool(spec.error_after_commit_fraction)
        {
            Some(AfterCommit::Error)
        } else if spec.drop_after_commit_fraction > 0.0
            && self.fault_rng.random_bool(spec.drop_after_commit_fraction)
        {
            Some(AfterCommit::Drop)
        } else {
            None
        };
        match fault {
            Some(AfterCommit::Error) => self.counters.record_error_after_commit(operation),
            Some(AfterCommit::Drop) => self.counters.record_drop_after_commit(operation),
            None => {}
        }
        fault
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
            "DescribeRecoverySnapshots" => self
                .describe_recovery_snapshots(&wire::parse_body(body)?, now)
                .map(|v| (200, v)),
            other => Err(ApiError::validation(
                "unknownOperation",
                format!("Unknown operation {other}"),
                &[],
            )),
        }
    }

    /// Source servers with more active jobs than allowed, and the active totals.
    fn active_load(&self, now: OffsetDateTime) -> (usize, usize, HashMap<&str, usize>) {
        let mut jobs = 0;
        let mut servers = 0;
        let mut per_server: HashMap<&str, usize> = HashMap::new();
        // `is_active` leaves out background jobs that are not created yet.
        for job in self.jobs.iter().filter(|j| j.is_active(now)) {
            jobs += 1;
            servers += job.servers.len();
            for s in &job.servers {
                *per_server.entry(s.source_server_id.as_str()).or_default() += 1;
            }
        }
        (jobs, servers, per_server)
    }

    /// Checks the per-server, concurrency and capacity limits for a new job over `ids`.
    fn check_limits(&self, ids: &[String], now: OffsetDateTime) -> Result<(), ApiError> {
        let (jobs, servers, per_server) = self.active_load(now);
        for id in ids {
            if per_server.get(id.as_str()).copied().unwrap_or(0)
                >= self.limits.max_active_jobs_per_server
            {
                return Err(ApiError::conflict(
                    format!("Source server {id} is already part of an active job"),
                    id,
                    "SOURCE_SERVER",
                ));
            }
        }
        if jobs >= self.limits.max_concurrent_jobs {
            return Err(ApiError::quota(
                format!(
                    "Cannot start job: {jobs} jobs are in progress (limit {})",
                    self.limits.max_concurrent_jobs
                ),
                "ConcurrentJobs",
                "JOB",
            ));
        }
        if servers + ids.len() > self.limits.max_servers_in_active_jobs {
            return Err(ApiError::quota(
                format!(
                    "Cannot start job: {servers} source servers are in active jobs and {} more \
                     would exceed the limit of {}",
                    ids.len(),
                    self.limits.max_servers_in_active_jobs
                ),
                "SourceServersInActiveJobs",
                "SOURCE_SERVER",
            ));
        }
        Ok(())
    }

    fn start_recovery(
        &mut self,
        req: &wire::StartRecoveryRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        // The model's check has held sourceServers to 1..=200 well-formed IDs.
        let mut ids = Vec::with_capacity(req.source_servers.len());
        let mut seen = HashSet::new();
        for s in &req.source_servers {
            let id = &s.source_server_id;
            if !seen.insert(id.clone()) {
                return Err(ApiError::field(
                    "sourceServers",
                    format!("Source server {id} is listed more than once"),
                ));
            }
            if !self.servers.contains_key(id) {
                return Err(ApiError::field(
                    "sourceServers",
                    format!("Source server {id} does not exist"),
                ));
            }
            ids.push(id.clone());
        }
        // Each server's snapshot: the one named in recoverySnapshotID (it must be one of
        // that server's), else the latest one.
        let mut chosen = Vec::with_capacity(ids.len());
        for s in &req.source_servers {
            let id = &s.source_server_id;
            let snapshots = self.recovery_snapshots(id, now).unwrap_or_default();
            let pick = match s.recovery_snapshot_id.as_deref() {
                None => snapshots.last().map(|snap| UsedSnapshot {
                    snapshot_id: snap.snapshot_id.clone(),
                    timestamp: snap.timestamp,
                    requested: false,
                }),
                Some(pit) => {
                    let entry = &self.servers[id];
                    let deleted = || {
                        replication::taken(
                            &entry.def,
                            &entry.timeline,
                            self.sim_start,
                            now,
                            self.snapshot_salt,
                        )
                        .into_iter()
                        .find(|snap| snap.snapshot_id == pit)
                    };
                    let found = snapshots.iter().find(|snap| snap.snapshot_id == pit);
                    if let (None, Some(gone)) = (found, deleted()) {
                        // A snapshot of this server that DRS has deleted since. StartRecovery's
                        // error list (the model) holds no ValidationException, and its log
                        // events include USING_PREVIOUS_SNAPSHOT_FAILED: the job is made and
                        // this server fails in it (see the README).
                        chosen.push((
                            Some(UsedSnapshot {
                                snapshot_id: gone.snapshot_id,
                                timestamp: gone.timestamp,
                                requested: true,
                            }),
                            true,
                        ));
                        continue;
                    }
                    let Some(snap) = found else {
                        return Err(ApiError::field(
                            "sourceServers",
                            format!(
                                "Recovery snapshot {pit} is not a snapshot of source server {id}"
                            ),
                        ));
                    };
                    Some(UsedSnapshot {
                        snapshot_id: snap.snapshot_id.clone(),
                        timestamp: snap.timestamp,
                        requested: true,
                    })
                }
            };
            chosen.push((pick, false));
        }
        let tags = req.tags.clone().unwrap_or_default();
        check_tags(&tags)?;
        if ids.len() > self.limits.max_servers_per_job {
            return Err(ApiError::quota(
                format!(
                    "Cannot start a job of {} source servers (limit {} per job)",
                    ids.len(),
                    self.limits.max_servers_per_job
                ),
                "SourceServersPerJob",
                "SOURCE_SERVER",
            ));
        }
        self.check_limits(&ids, now)?;

        let kind = JobKind::Launch {
            is_drill: req.is_drill.unwrap_or(false),
        };
        let scale = self.timings.time_scale;
        let created = truncate_to_micros(now);
        let (started, listed) = self.job_start(created);
        let mut servers = Vec::with_capacity(ids.len());
        for (id, (snapshot, deleted)) in ids.iter().zip(chosen) {
            let replicating = self.servers[id].timeline.at(now).takes_snapshots();
            // Without recoverySnapshotID a replicating server launches from an on-demand
            // snapshot taken when its launch starts (instances.rs).
            let snapshot = match snapshot {
                Some(named) if named.requested => Some(named),
                _ if replicating => Some(self.on_demand_snapshot(started)),
                latest => latest,
            };
            let entry = &self.servers[id];
            let def = &entry.def;
            let launch = def.launch_seconds;
            let stage = if def.fail_launch {
                def.fail_stage
            } else {
                FailStage::Launch
            };
            let (source, fails, fail_reason, end) = match &snapshot {
                // The job skips it before it looks for its data (SERVER_SKIPPED).
                _ if def.skip_launch => (
                    SnapshotSource::Previous,
                    true,
                    Some(
                        def.skip_reason
                            .clone()
                            .unwrap_or_else(|| GENERIC_SKIP_REASON.to_owned()),
                    ),
                    started,
                ),
                Some(snap) if deleted => (
                    SnapshotSource::Missing,
                    true,
                    Some(format!(
                        "Failed to launch recovery instance: recovery snapshot {} of source \
                         server {id} no longer exists (deleted by its retention, or when \
                         replication stopped)",
                        snap.snapshot_id
                    )),
                    started + seconds(launch * scale * SNAPSHOT_SHARE),
                ),
                // Nothing to launch from: it fails as soon as it looks for a snapshot.
                None => (
                    SnapshotSource::Missing,
                    true,
                    Some(format!(
                        "Failed to launch recovery instance: source server {id} has no \
                         point-in-time recovery snapshot (dataReplicationState {})",
                        entry.timeline.at(now).state
                    )),
                    started + seconds(launch * scale * SNAPSHOT_SHARE),
                ),
                Some(snap) => (
                    if snap.requested || !replicating {
                        SnapshotSource::Previous
                    } else {
                        SnapshotSource::Take
                    },
                    def.fail_launch,
                    def.fail_launch.then(|| match def.fail_reason.as_deref() {
                        None => stage.default_reason().to_owned(),
                        reason => fixture::fail_raw_error(reason, &self.region, &self.account_id),
                    }),
                    started + seconds(launch * scale * stage.share()),
                ),
            };
            let skipped = def.skip_launch;
            let actions = def.post_launch_actions.clone();
            let instance = (!fails).then(|| self.hex_id("i-"));
            // Post-launch actions run on a launched instance only.
            let post_launch = if fails {
                None
            } else {
                PostLaunch::schedule(&actions, end, launch * scale, scale, &mut self.id_rng)
            };
            servers.push(ScheduledServer {
                source_server_id: id.clone(),
                recovery_instance_id: instance,
                conversion_server_id: self.hex_id("i-"),
                start: started,
                end,
                fails,
                fail_reason,
                // A skipped server never reads its snapshot.
                snapshot: snapshot.filter(|_| !skipped),
                snapshot_source: source,
                fail_stage: stage,
                skipped,
                post_launch,
            });
        }
        let index = self.insert_job(kind, tags, created, (started, listed), servers);
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.last_launch_job = Some(index);
            }
        }
        Ok(json!({ "job": self.job_json(&self.jobs[index], now) }))
    }

    fn insert_job(
        &mut self,
        kind: JobKind,
        tags: BTreeMap<String, String>,
        created: OffsetDateTime,
        (started, participants_listed): (OffsetDateTime, OffsetDateTime),
        servers: Vec<ScheduledServer>,
    ) -> usize {
        let id = loop {
            let id = self.hex_id("drsjob-");
            if !self.job_index.contains_key(&id) {
                break id;
            }
        };
        let index = self.jobs.len();
        // Someone else's job is listed from its creation; ours after the listing delay.
        let listed = if kind.is_background() {
            created
        } else {
            created + seconds(self.timings.job_listing_delay_seconds * self.timings.time_scale)
        };
        self.jobs.push(Job {
            listed,
            seq: index as u64 + 1,
            arn: self.arn("job", &id),
            id: id.clone(),
            kind,
            tags,
            created,
            started,
            participants_listed,
            servers,
        });
        self.job_index.insert(id, index);
        index
    }

    fn job_json(&self, job: &Job, now: OffsetDateTime) -> Value {
        let status = job.status(now);
        // A job may list its servers only some time after it was created.
        let listed = if now >= job.participants_listed {
            job.servers.as_slice()
        } else {
            &[]
        };
        let servers: Vec<Value> = listed
            .iter()
            .map(|s| {
                let mut v = json!({
                    "sourceServerID": s.source_server_id,
                    "launchStatus": s.status(job.kind, now).as_str(),
                });
                if let Some(instance) = s.visible_instance(job.kind, now)
                    && self.names_recovery_instance(&s.source_server_id)
                {
                    v["recoveryInstanceID"] = Value::from(instance);
                }
                if let Some(actions) = s
                    .post_launch
                    .as_ref()
                    .and_then(|p| p.status_json(now, |t| self.date(t)))
                {
                    v["launchActionsStatus"] = actions;
                }
                v
            })
            .collect();
        let mut v = json!({
            "jobID": job.id,
            "arn": job.arn,
            "type": job.kind.job_type(),
            "initiatedBy": job.kind.initiated_by(),
            "creationDateTime": self.date(job.created),
            "status": status.as_str(),
            "tags": job.tags,
            "participatingServers": servers,
        });
        if status == JobStatus::Completed {
            v["endDateTime"] = Value::from(self.date(job.end()));
        }
        v
    }

    fn describe_jobs(
        &self,
        req: &wire::DescribeJobsRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        let filters = req.filters.as_ref();
        let ids: HashSet<&str> = filters
            .map(|f| f.job_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let parse = |field: &str, value: &Option<String>| -> Result<_, ApiError> {
            match value {
                None => Ok(None),
                Some(s) => wire::parse_date(s).map(Some).ok_or_else(|| {
                    ApiError::field(field, format!("{field} {s:?} is not an ISO-8601 date"))
                }),
            }
        };
        let from = parse("fromDate", &filters.and_then(|f| f.from_date.clone()))?;
        let to = parse("toDate", &filters.and_then(|f| f.to_date.clone()))?;
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "job:") {
            return Ok(empty);
        }
        // Newest first; the token is the position (creation time, sequence number) of the
        // last job returned, so jobs created between pages never shift what the next page
        // holds (a job appears only once its creation time has come).
        let after = decode_token(req.next_token.as_deref(), "job:")?
            .map(|t| {
                t.split_once(':')
                    .and_then(|(at, seq)| {
                        Some((at.parse::<i128>().ok()?, seq.parse::<u64>().ok()?))
                    })
                    .ok_or_else(|| ApiError::field("nextToken", "Invalid nextToken"))
            })
            .transpose()?;
        // A job made less than `jobListingDelaySeconds` ago is not listed yet, even by its ID.
        let matching = self.jobs_newest_first(now).into_iter().filter(|j| {
            j.listed <= now
                && (ids.is_empty() || ids.contains(j.id.as_str()))
                && from.is_none_or(|f| j.created >= f)
                && to.is_none_or(|t| j.created <= t)
                && after.is_none_or(|a| job_position(j) < a)
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| {
            page.last().map(|j| {
                let (at, seq) = job_position(j);
                format!("job:{at}:{seq}")
            })
        });
        let items: Vec<Value> = page.iter().map(|j| self.job_json(j, now)).collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }

    fn describe_job_log_items(
        &self,
        req: &wire::DescribeJobLogItemsRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        let Some(job_id) = req.job_id.as_deref() else {
            return Err(ApiError::field("jobID", "jobID is required"));
        };
        let Some(&index) = self
            .job_index
            .get(job_id)
            .filter(|&&i| self.jobs[i].exists(now))
        else {
            return Err(ApiError::field(
                "jobID",
                format!("Job {job_id} does not exist"),
            ));
        };
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "log:") {
            return Ok(empty);
        }
        let start = decode_token(req.next_token.as_deref(), "log:")?
            .map(|t| {
                t.parse::<usize>()
                    .map_err(|_| ApiError::field("nextToken", "Invalid nextToken"))
            })
            .transpose()?
            .unwrap_or(0);
        let log = self.jobs[index].log_at(now);
        let end = (start + size).min(log.len());
        let items: Vec<Value> = log
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|i| {
                let mut data = serde_json::Map::new();
                let mut put = |k: &str, v: &Option<String>| {
                    if let Some(v) = v {
                        data.insert(k.to_owned(), Value::from(v.clone()));
                    }
                };
                put("sourceServerID", &i.source_server_id);
                put("conversionServerID", &i.conversion_server_id);
                put("targetInstanceID", &i.target_instance_id);
                put("rawError", &i.raw_error);
                json!({
                    "logDateTime": self.date(i.at),
                    "event": i.event,
                    "eventData": data,
                })
            })
            .collect();
        let next = (end < log.len()).then(|| format!("log:{end}"));
        Ok(with_token(json!({ "items": items }), next))
    }

    fn describe_source_servers(
        &self,
        req: &wire::DescribeSourceServersRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        let filters = req.filters.as_ref();
        // The DRS API reference, DescribeSourceServersRequestFilters: `sourceServerIDs` is
        // "an array of Source Servers IDs that should be returned. An empty array means all
        // Source Servers", of at most 200 items (the model's check). An ID the account does
        // not have is simply absent from the answer (the reference names no error for it).
        let ids: HashSet<&str> = filters
            .map(|f| f.source_server_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let hardware = filters.and_then(|f| f.hardware_id.as_deref());
        let staging = filters.map(|f| f.staging_account_ids.as_slice());
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "ss:") {
            return Ok(empty);
        }
        let after = decode_token(req.next_token.as_deref(), "ss:")?;
        let instances = self.instances(now);
        let matching = self.servers.values().filter(|e| {
            (ids.is_empty() || ids.contains(e.def.id.as_str()))
                // Simulated servers have no hardware ID and live in this account.
                && hardware.is_none()
                && staging.is_none_or(|s| s.is_empty() || s.contains(&self.account_id))
                && after.as_deref().is_none_or(|a| e.def.id.as_str() > a)
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| page.last().map(|e| format!("ss:{}", e.def.id)));
        let items: Vec<Value> = page
            .iter()
            .map(|e| self.source_server_json(e, &instances, now))
            .collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }

    fn source_server_json(
        &self,
        entry: &ServerEntry,
        instances: &BTreeMap<String, InstanceRecord>,
        now: OffsetDateTime,
    ) -> Value {
        let def = &entry.def;
        let replication = entry.timeline.at(now);
        let mut life_cycle = json!({
            "addedToServiceDateTime": self.date(entry.added),
            "firstByteDateTime": self.date(entry.added),
            // Moves with time while the agent is seen, stops when it is not.
            "lastSeenByServiceDateTime": self.date(entry.timeline.last_seen(now).min(now)),
        });
        let mut last_result = "NOT_STARTED";
        if let Some(job) = entry.last_launch_job.map(|i| &self.jobs[i]) {
            let status = job
                .servers
                .iter()
                .find(|s| s.source_server_id == def.id)
                .map_or(LaunchStatus::Pending, |s| s.status(job.kind, now));
            last_result = match status {
                LaunchStatus::Launched => "SUCCEEDED",
                LaunchStatus::Failed => "FAILED",
                _ => "PENDING",
            };
            life_cycle["lastLaunch"] = json!({
                "initiated": {
                    "apiCallDateTime": self.date(job.created),
                    "jobID": job.id,
                    "type": if job.kind.is_drill() == Some(true) { "DRILL" } else { "RECOVERY" },
                },
                "status": status.as_str(),
            });
        }
        let mut v = json!({
            "sourceServerID": def.id,
            "arn": self.arn("source-server", &def.id),
            "tags": def.tags,
            "lastLaunchResult": last_result,
            "replicationDirection": "FAILOVER",
            "dataReplicationInfo": {
                "dataReplicationState": replication.state,
                "lagDuration": replication::iso_duration(
                    entry.timeline.not_replicating_since(now).map_or(time::Duration::ZERO, |t| now - t),
                ),
                "replicatedDisks": [],
            },
            "lifeCycle": life_cycle,
            "sourceProperties": {
                "identificationHints": { "hostname": def.hostname, "fqdn": def.hostname },
                "lastUpdatedDateTime": self.date(entry.added),
            },
        });
        if let Some(error) = &replication.error {
            v["dataReplicationInfo"]["dataReplicationError"] = json!({
                "error": error,
                "rawError": replication_raw_error(error, entry.timeline.last_seen(now), self.date_style),
            });
        }
        if let Some((id, _)) = instances
            .iter()
            .find(|(_, r)| r.source_server_id == def.id && r.terminated.is_none())
        {
            v["recoveryInstanceId"] = Value::from(id.clone());
        }
        v
    }

    /// Every recovery instance ever launched, with when it was terminated, as of `now`.
    ///
    /// Launches and terminations are replayed in time order: a launch replaces the source
    /// server's previous instance (DRS keeps one recovery instance per source server), and a
    /// TERMINATE job's server removes its instance when it reaches TERMINATED.
    fn instances(&self, now: OffsetDateTime) -> BTreeMap<String, InstanceRecord> {
        enum Event<'a> {
            Launch(usize, &'a ScheduledServer),
            Terminate(&'a str),
        }
        let mut events: Vec<(OffsetDateTime, Event)> = Vec::new();
        for (index, job) in self.jobs.iter().enumerate() {
            for s in job.servers.iter().filter(|s| s.end <= now) {
                match (job.kind, s.recovery_instance_id.as_deref()) {
                    (JobKind::Launch { .. }, Some(_)) if !s.fails => {
                        events.push((s.end, Event::Launch(index, s)));
                    }
                    (JobKind::Terminate, Some(id)) => events.push((s.end, Event::Terminate(id))),
                    _ => {}
                }
            }
        }
        events.sort_by_key(|(t, _)| *t);
        let mut out: BTreeMap<String, InstanceRecord> = BTreeMap::new();
        let mut current: HashMap<&str, String> = HashMap::new();
        for (at, event) in events {
            match event {
                Event::Launch(job, s) => {
                    let Some(id) = s.recovery_instance_id.clone() else {
                        continue;
                    };
                    if let Some(previous) = current.insert(&s.source_server_id, id.clone())
                        && let Some(r) = out.get_mut(&previous)
                    {
                        r.terminated.get_or_insert(at);
                    }
                    out.insert(
                        id,
                        InstanceRecord {
                            source_server_id: s.source_server_id.clone(),
                            job,
                            launched: at,
                            terminated: None,
                        },
                    );
                }
                Event::Terminate(id) => {
                    if let Some(r) = out.get_mut(id) {
                        r.terminated.get_or_insert(at);
                    }
                }
            }
        }
        out
    }

    fn describe_recovery_instances(
        &self,
        req: &wire::DescribeRecoveryInstancesRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        let filters = req.filters.as_ref();
        let ids: HashSet<&str> = filters
            .map(|f| f.recovery_instance_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let sources: HashSet<&str> = filters
            .map(|f| f.source_server_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "ri:") {
            return Ok(empty);
        }
        let after = decode_token(req.next_token.as_deref(), "ri:")?;
        let instances = self.instances(now);
        let terminating = self.terminating(now);
        let matching = instances.iter().filter(|(id, r)| {
            r.terminated.is_none()
                && (ids.is_empty() || ids.contains(id.as_str()))
                && (sources.is_empty() || sources.contains(r.source_server_id.as_str()))
                && after.as_deref().is_none_or(|a| id.as_str() > a)
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| page.last().map(|(id, _)| format!("ri:{id}")));
        let items: Vec<Value> = page
            .iter()
            .map(|(id, r)| {
                let job = &self.jobs[r.job];
                let server = self.servers.get(&r.source_server_id);
                let hostname = server.map_or(r.source_server_id.as_str(), |s| &s.def.hostname);
                let tags = server.map(|s| s.def.tags.clone()).unwrap_or_default();
                json!({
                    "recoveryInstanceID": id,
                    "ec2InstanceID": id,
                    "ec2InstanceState": if terminating.contains(id.as_str()) { "SHUTTING-DOWN" } else { "RUNNING" },
                    "jobID": job.id,
                    "sourceServerID": r.source_server_id,
                    "arn": self.arn("recovery-instance", id),
                    "tags": tags,
                    "isDrill": job.kind.is_drill().unwrap_or(false),
                    "originEnvironment": "ON_PREMISES",
                    "pointInTimeSnapshotDateTime": self.date(
                        instance_point_in_time(job, &r.source_server_id),
                    ),
                    "recoveryInstanceProperties": {
                        "identificationHints": { "hostname": hostname },
                        "lastUpdatedDateTime": self.date(r.launched),
                    },
                })
            })
            .collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }

    fn describe_recovery_snapshots(
        &self,
        req: &wire::DescribeRecoverySnapshotsRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        // The model: maxResults has a minimum of 1 (checked) and no maximum.
        let size = self
            .paging
            .clamp(req.max_results.map_or(self.default_page_size, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }));
        let Some(id) = req.source_server_id.as_deref() else {
            return Err(ApiError::field(
                "sourceServerID",
                "sourceServerID is required",
            ));
        };
        // The model lists no ResourceNotFoundException for this operation: an unknown
        // server is a ValidationException, as for the simulator's other unknown IDs.
        let Some(all) = self.recovery_snapshots(id, now) else {
            return Err(ApiError::field(
                "sourceServerID",
                format!("Source server {id} does not exist"),
            ));
        };
        let filters = req.filters.as_ref();
        let parse = |field: &str, value: Option<&String>| -> Result<_, ApiError> {
            match value {
                None => Ok(None),
                Some(s) => wire::parse_date(s).map(Some).ok_or_else(|| {
                    ApiError::field(field, format!("{field} {s:?} is not an ISO-8601 date"))
                }),
            }
        };
        let from = parse(
            "fromDateTime",
            filters.and_then(|f| f.from_date_time.as_ref()),
        )?;
        let to = parse("toDateTime", filters.and_then(|f| f.to_date_time.as_ref()))?;
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "pit:") {
            return Ok(empty);
        }
        // The model's RecoverySnapshotsOrder (checked): ASC, the default, or DESC.
        let descending = req.order.as_deref() == Some("DESC");
        // The token is the timestamp (microseconds) of the last item returned.
        let after = decode_token(req.next_token.as_deref(), "pit:")?
            .map(|t| {
                t.parse::<i128>()
                    .map_err(|_| ApiError::field("nextToken", "Invalid nextToken"))
            })
            .transpose()?;
        let key = |snap: &RecoverySnapshot| snap.timestamp.unix_timestamp_nanos() / 1000;
        let mut matching: Vec<&RecoverySnapshot> = all
            .iter()
            .filter(|snap| {
                from.is_none_or(|f| snap.timestamp >= f) && to.is_none_or(|t| snap.timestamp <= t)
            })
            .collect();
        if descending {
            matching.reverse();
        }
        let matching = matching.into_iter().filter(|snap| {
            after.is_none_or(|a| {
                if descending {
                    key(snap) < a
                } else {
                    key(snap) > a
                }
            })
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| page.last().map(|snap| format!("pit:{}", key(snap))));
        // The model's RecoverySnapshot timestamps have the pattern ...Z.
        let zulu = |t| wire::format_date(t, DateStyle::Zulu);
        let items: Vec<Value> = page
            .iter()
            .map(|snap| {
                json!({
                    "snapshotID": snap.snapshot_id,
                    "sourceServerID": snap.source_server_id,
                    "expectedTimestamp": zulu(snap.expected_timestamp),
                    "timestamp": zulu(snap.timestamp),
                    "ebsSnapshots": snap.ebs_snapshots,
                })
            })
            .collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }

    /// Instances that an active TERMINATE job is removing.
    fn terminating(&self, now: OffsetDateTime) -> HashSet<&str> {
        self.jobs
            .iter()
            .filter(|j| j.kind == JobKind::Terminate)
            .flat_map(|j| j.servers.iter())
            .filter(|s| s.end > now)
            .filter_map(|s| s.recovery_instance_id.as_deref())
            .collect()
    }

    fn terminate_recovery_instances(
        &mut self,
        req: &wire::TerminateRecoveryInstancesRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        // The model's check has held recoveryInstanceIDs to 1..=200 items.
        let instances = self.instances(now);
        let mut targets = Vec::new();
        let mut seen = HashSet::new();
        for id in &req.recovery_instance_ids {
            if !seen.insert(id.as_str()) {
                return Err(ApiError::field(
                    "recoveryInstanceIDs",
                    format!("Recovery instance {id} is listed more than once"),
                ));
            }
            match instances.get(id) {
                Some(r) if r.terminated.is_none() => {
                    targets.push((id.clone(), r.source_server_id.clone()));
                }
                _ => {
                    return Err(ApiError::field(
                        "recoveryInstanceIDs",
                        format!("Recovery instance {id} does not exist"),
                    ));
                }
            }
        }
        if targets.len() > self.limits.max_servers_per_job {
            return Err(ApiError::quota(
                format!(
                    "Cannot terminate {} recovery instances in one job (limit {})",
                    targets.len(),
                    self.limits.max_servers_per_job
                ),
                "SourceServersPerJob",
                "SOURCE_SERVER",
            ));
        }
        let sources: Vec<String> = targets.iter().map(|(_, s)| s.clone()).collect();
        self.check_limits(&sources, now)?;
        let scale = self.timings.time_scale;
        let created = truncate_to_micros(now);
        let (started, listed) = self.job_start(created);
        let end = started + seconds(self.timings.terminate_seconds * scale);
        let mut servers = Vec::with_capacity(targets.len());
        for (instance, source) in targets {
            servers.push(ScheduledServer {
                source_server_id: source,
                recovery_instance_id: Some(instance),
                conversion_server_id: self.hex_id("i-"),
                start: started,
                end,
                fails: false,
                fail_reason: None,
                snapshot: None,
                snapshot_source: SnapshotSource::Take,
                fail_stage: FailStage::Launch,
                skipped: false,
                post_launch: None,
            });
        }
        let index = self.insert_job(
            JobKind::Terminate,
            BTreeMap::new(),
            created,
            (started, listed),
            servers,
        );
        Ok(json!({ "job": self.job_json(&self.jobs[index], now) }))
    }

    /// Jobs that exist at `now`, newest first (by creation time, then creation order).
    fn jobs_newest_first(&self, now: OffsetDateTime) -> Vec<&Job> {
        let mut jobs: Vec<&Job> = self.jobs.iter().filter(|j| j.exists(now)).collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(job_position(j)));
        jobs
    }

    /// Every job that exists at `now`, oldest first, with its servers' schedules.
    pub fn job_snapshots(&self, now: OffsetDateTime) -> Vec<JobSnapshot> {
        let mut jobs = self.jobs_newest_first(now);
        jobs.reverse();
        jobs.into_iter()
            .map(|job| {
                let status = job.status(now);
                JobSnapshot {
                    job_id: job.id.clone(),
                    arn: job.arn.clone(),
                    job_type: job.kind.job_type().to_owned(),
                    initiated_by: job.kind.initiated_by().to_owned(),
                    is_drill: job.kind.is_drill(),
                    status,
                    tags: job.tags.clone(),
                    creation_date_time: job.created,
                    start_date_time: job.started,
                    end_date_time: (status == JobStatus::Completed).then(|| job.end()),
                    scheduled_end_date_time: job.end(),
                    participants_listed_date_time: job.participants_listed,
                    listed_date_time: job.listed,
                    background: job.kind.is_background(),
                    servers: job
                        .servers
                        .iter()
                        .map(|s| JobServerSnapshot {
                            source_server_id: s.source_server_id.clone(),
                            launch_status: s.status(job.kind, now),
                            recovery_instance_id: s
                                .visible_instance(job.kind, now)
                                .map(str::to_owned),
                            planned_recovery_instance_id: s.recovery_instance_id.clone(),
                            launch_start_date_time: s.start,
                            launch_end_date_time: s.end,
                            fail_launch: s.fails,
                            fail_reason: s.fails.then(|| {
                                s.fail_reason
                                    .clone()
                                    .unwrap_or_else(|| LAUNCH_FAILED_RAW_ERROR.to_owned())
                            }),
                            recovery_snapshot_id: s
                                .snapshot
                                .as_ref()
                                .map(|snap| snap.snapshot_id.clone()),
                            recovery_snapshot_timestamp: s
                                .snapshot
                                .as_ref()
                                .map(|snap| snap.timestamp),
                            recovery_snapshot_requested: s
                                .snapshot
                                .as_ref()
                                .is_some_and(|snap| snap.requested),
                            skipped: s.skipped,
                            fail_stage: s.fail_stage,
                            launch_action_runs: s
                                .post_launch
                                .iter()
                                .flat_map(|p| p.runs.iter())
                                .map(|r| LaunchActionRunSnapshot {
                                    name: r.action.name.clone(),
                                    action_code: r.action.action_code.clone(),
                                    optional: r.action.optional,
                                    order: r.action.order,
                                    run_id: r.run_id.clone(),
                                    status: r.status(now),
                                    failure_reason: r.action.failure_reason.clone(),
                                    start_date_time: r.start,
                                    end_date_time: r.end,
                                })
                                .collect(),
                            on_demand_snapshot: s.snapshot_source == SnapshotSource::Take,
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Every recovery instance launched so far, terminated ones included.
    pub fn instance_snapshots(&self, now: OffsetDateTime) -> Vec<InstanceSnapshot> {
        self.instances(now)
            .into_iter()
            .map(|(id, r)| {
                let job = &self.jobs[r.job];
                let point_in_time = instance_point_in_time(job, &r.source_server_id);
                InstanceSnapshot {
                    recovery_instance_id: id,
                    source_server_id: r.source_server_id,
                    job_id: job.id.clone(),
                    is_drill: job.kind.is_drill().unwrap_or(false),
                    launched_date_time: r.launched,
                    terminated_date_time: r.terminated,
                    point_in_time_snapshot_date_time: Some(point_in_time),
                }
            })
            .collect()
    }
}

/// The time of the snapshot a launch job's server launched from (the model's
/// `RecoveryInstance.pointInTimeSnapshotDateTime`).
fn instance_point_in_time(job: &Job, source_server_id: &str) -> OffsetDateTime {
    job.servers
        .iter()
        .find(|s| s.source_server_id == source_server_id)
        .and_then(|s| s.snapshot.as_ref())
        .map_or(job.started, |snap| snap.timestamp)
}

/// A job's place in time order: creation time (microseconds), then creation order.
fn job_position(job: &Job) -> (i128, u64) {
    (job.created.unix_timestamp_nanos() / 1000, job.seq)
}

/// The `rawError` of a replication error, as the DRS console shows them.
fn replication_raw_error(error: &str, last_seen: OffsetDateTime, style: DateStyle) -> String {
    match error {
        "AGENT_NOT_SEEN" => format!(
            "The AWS Replication Agent on the source server has not been seen by the service \
             since {}",
            wire::format_date(last_seen, style)
        ),
        "SNAPSHOTS_FAILURE" => "Failed to take EBS snapshots of the staging disks".to_owned(),
        "NOT_CONVERGING" => {
            "Replication is not converging: the source server writes faster than it \
             replicates"
                .to_owned()
        }
        "UNSTABLE_NETWORK" => {
            "The network between the source server and the replication server is unstable"
                .to_owned()
        }
        other => format!("Replication failed: {other}"),
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::field("tags", "At most 50 tags are allowed"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(ApiError::field("tags", format!("Invalid tag {k:?}")));
        }
    }
    Ok(())
}

/// The position of an `emptyFirstPage` token: before the first item.
const FROM_THE_START: &str = "start";

fn decode_token(token: Option<&str>, prefix: &str) -> Result<Option<String>, ApiError> {
    match token {
        None | Some("") => Ok(None),
        Some(t) if t.strip_prefix(prefix) == Some(FROM_THE_START) => Ok(None),
        Some(t) => t
            .strip_prefix(prefix)
            .map(|rest| Some(rest.to_owned()))
            .ok_or_else(|| ApiError::field("nextToken", "Invalid nextToken")),
    }
}

/// The first `size` items, and whether more follow.
fn take_page<T>(mut items: impl Iterator<Item = T>, size: usize) -> (Vec<T>, bool) {
    let page: Vec<T> = items.by_ref().take(size).collect();
    let more = items.next().is_some();
    (page, more)
}

fn with_token(mut v: Value, token: Option<String>) -> Value {
    if let Some(t) = token {
        v["nextToken"] = Value::from(t);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

    fn state(limits: Limits) -> SimState {
        let mut config = SimConfig::with_servers(vec![
            ServerSpec::new("s-00000000000000001", 0.3),
            ServerSpec::new("s-00000000000000002", 0.5).failing(),
            ServerSpec::new("s-00000000000000003", 0.2),
        ]);
        config.limits = limits;
        config.seed = Some(7);
        let fixture = config.fixture.load_all().expect("fixture");
        SimState::new(&config, fixture, T0)
    }

    fn start(s: &mut SimState, ids: &[&str], now: OffsetDateTime) -> Result<String, ApiError> {
        let body = json!({
            "sourceServers": ids.iter().map(|id| json!({"sourceServerID": id})).collect::<Vec<_>>(),
            "isDrill": true,
        });
        let (status, v) = s.call("StartRecovery", body.to_string().as_bytes(), now)?;
        assert_eq!(status, 202);
        Ok(v["job"]["jobID"].as_str().unwrap_or_default().to_owned())
    }

    #[test]
    fn one_active_job_per_server_then_free_again() {
        let mut s = state(Limits::default());
        start(&mut s, &["s-00000000000000001"], T0).expect("first");
        let e = start(
            &mut s,
            &["s-00000000000000001"],
            T0 + Duration::milliseconds(100),
        )
        .expect_err("conflict");
        assert_eq!((e.status, e.code), (409, "ConflictException"));
        // Once the job completed the server may launch again.
        start(&mut s, &["s-00000000000000001"], T0 + Duration::seconds(1)).expect("again");
    }

    #[test]
    fn quotas_answer_402() {
        let mut s = state(Limits {
            max_servers_per_job: 2,
            max_concurrent_jobs: 1,
            ..Limits::default()
        });
        let all = [
            "s-00000000000000001",
            "s-00000000000000002",
            "s-00000000000000003",
        ];
        let e = start(&mut s, &all, T0).expect_err("per job");
        assert_eq!(e.status, 402);
        assert_eq!(e.members["quotaCode"], "SourceServersPerJob");
        start(&mut s, &all[..1], T0).expect("first");
        let e = start(&mut s, &all[1..2], T0).expect_err("concurrent");
        assert_eq!(e.members["quotaCode"], "ConcurrentJobs");
    }

    #[test]
    fn launch_replaces_previous_instance_and_terminate_removes_it() {
        let mut s = state(Limits::default());
        let id = "s-00000000000000003";
        start(&mut s, &[id], T0).expect("first");
        let t1 = T0 + Duration::seconds(1);
        let first: Vec<_> = s.instance_snapshots(t1);
        assert_eq!(first.len(), 1);
        start(&mut s, &[id], t1).expect("second");
        let t2 = t1 + Duration::seconds(1);
        let all = s.instance_snapshots(t2);
        assert_eq!(all.len(), 2);
        let live: Vec<_> = all
            .iter()
            .filter(|i| i.terminated_date_time.is_none())
            .collect();
        assert_eq!(live.len(), 1);
        assert_ne!(live[0].recovery_instance_id, first[0].recovery_instance_id);
        let body = json!({"recoveryInstanceIDs": [live[0].recovery_instance_id]});
        let (_, v) = s
            .call(
                "TerminateRecoveryInstances",
                body.to_string().as_bytes(),
                t2,
            )
            .expect("terminate");
        assert_eq!(v["job"]["type"], "TERMINATE");
        let t3 = t2 + Duration::seconds(1);
        assert!(
            s.instance_snapshots(t3)
                .iter()
                .all(|i| i.terminated_date_time.is_some())
        );
    }

    #[test]
    fn seeded_ids_repeat() {
        let mut a = state(Limits::default());
        let mut b = state(Limits::default());
        assert_eq!(
            start(&mut a, &["s-00000000000000001"], T0).expect("a"),
            start(&mut b, &["s-00000000000000001"], T0).expect("b")
        );
    }

    fn describe_jobs(
        s: &mut SimState,
        page: i64,
        token: Option<&str>,
        now: OffsetDateTime,
    ) -> Value {
        let mut body = json!({ "maxResults": page });
        if let Some(t) = token {
            body["nextToken"] = Value::from(t);
        }
        s.call("DescribeJobs", body.to_string().as_bytes(), now)
            .expect("DescribeJobs")
            .1
    }

    #[test]
    fn after_commit_faults_count_only_calls_that_changed_something() {
        let mut s = state(Limits::default());
        s.faults.all.error_after_commit_next = 1;
        s.faults.all.drop_after_commit_next = 1;
        assert_eq!(
            s.decide_after_commit("StartRecovery"),
            Some(AfterCommit::Error)
        );
        assert_eq!(
            s.decide_after_commit("StartRecovery"),
            Some(AfterCommit::Drop)
        );
        assert_eq!(s.decide_after_commit("StartRecovery"), None);
        assert_eq!(s.counters.errors_after_commit("StartRecovery"), 1);
        assert_eq!(s.counters.drops_after_commit("StartRecovery"), 1);
        // A dropped call has no status but counts as a call.
        assert_eq!(s.counters.calls("StartRecovery"), 1);
        assert!(s.counters.by_status.is_empty());
        s.faults.all.drop_after_commit_fraction = 1.0;
        assert_eq!(
            s.decide_after_commit("DescribeJobs"),
            Some(AfterCommit::Drop)
        );
    }

    #[test]
    fn scheduled_background_jobs_appear_in_time_and_pages_stay_stable() {
        let mut s = state(Limits::default());
        let later = BackgroundJobSpec::launch(3, 10.0).starting_after(2.0);
        let ids = s.add_background_jobs(&[later], T0).expect("scheduled");
        assert!(s.job_snapshots(T0).is_empty());
        let (jobs, servers, _) = s.active_load(T0 + Duration::seconds(1));
        assert_eq!((jobs, servers), (0, 0), "not created yet: holds nothing");
        start(&mut s, &["s-00000000000000001"], T0 + Duration::seconds(1)).expect("a");
        let page = describe_jobs(&mut s, 1, None, T0 + Duration::seconds(1));
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
        // Once created it is newest (by creation time), though it was inserted first.
        let t3 = T0 + Duration::seconds(3);
        start(
            &mut s,
            &["s-00000000000000003"],
            T0 + Duration::milliseconds(1500),
        )
        .expect("b");
        let first = describe_jobs(&mut s, 1, None, t3);
        assert_eq!(first["items"][0]["jobID"], ids[0].as_str());
        assert_eq!(first["items"][0]["initiatedBy"], "START_DRILL");
        assert_eq!(
            first["items"][0]["participatingServers"]
                .as_array()
                .map(Vec::len),
            Some(3)
        );
        let token = first["nextToken"].as_str().expect("more").to_owned();
        let rest = describe_jobs(&mut s, 10, Some(&token), t3);
        assert_eq!(rest["items"].as_array().map(Vec::len), Some(2));
        let (jobs, servers, _) = s.active_load(t3);
        assert_eq!(
            (jobs, servers),
            (1, 3),
            "only the background job is still running"
        );
        let snaps = s.job_snapshots(t3);
        assert!(
            snaps
                .windows(2)
                .all(|w| w[0].creation_date_time <= w[1].creation_date_time)
        );
        assert!(snaps[2].background && !snaps[0].background);
        // Reset schedules the fixture's background jobs again and forgets the others.
        s.reset(None, t3);
        assert!(s.job_snapshots(t3 + Duration::seconds(60)).is_empty());
    }

    #[test]
    fn ending_an_outage_restores_the_state_before_it() {
        let mut s = state(Limits::default());
        let id = "s-00000000000000001";
        let one = ServerSelector::Servers(vec![id.to_owned()]);
        s.upsert_servers(
            &[ServerSpec::new(id, 0.3).with_replication_state("BACKLOG")],
            &ResolvedDefaults::default(),
            T0,
        )
        .expect("replace");
        let t1 = T0 + Duration::minutes(1);
        s.start_outage(&one, OutageState::Stalled, t1)
            .expect("down");
        // A second outage call changes the state but remembers what was before.
        s.start_outage(&one, OutageState::Disconnected, t1 + Duration::seconds(1))
            .expect("worse");
        assert_eq!(
            s.servers[id].timeline.at(t1 + Duration::seconds(2)).state,
            "DISCONNECTED"
        );
        // Mending failLaunch by replacing the server keeps the outage.
        s.upsert_servers(
            &[ServerSpec::new(id, 0.3).with_replication_state("BACKLOG")],
            &ResolvedDefaults::default(),
            t1 + Duration::seconds(2),
        )
        .expect("mend");
        assert_eq!(
            s.servers[id].timeline.at(t1 + Duration::seconds(3)).state,
            "DISCONNECTED"
        );
        let t2 = T0 + Duration::minutes(2);
        assert_eq!(s.end_outage(&one, t2).expect("up"), [id]);
        assert_eq!(s.servers[id].timeline.at(t2).state, "BACKLOG");
        // Nothing to end: unchanged, not listed.
        assert!(
            s.end_outage(&one, t2 + Duration::seconds(1))
                .expect("noop")
                .is_empty()
        );
        assert!(s.end_outage(&ServerSelector::Servers(vec![]), t2).is_err());
        assert!(
            s.start_outage(
                &ServerSelector::Tags(BTreeMap::new()),
                OutageState::Stalled,
                t2
            )
            .is_err()
        );
    }

    #[test]
    fn replacing_a_server_with_another_replication_state_starts_it_now() {
        let mut s = state(Limits::default());
        let id = "s-00000000000000003";
        let t1 = T0 + Duration::minutes(30);
        s.upsert_servers(
            &[ServerSpec::new(id, 0.2).with_replication_state("STALLED")],
            &ResolvedDefaults::default(),
            t1,
        )
        .expect("replace");
        let snaps = s
            .recovery_snapshots(id, t1 + Duration::minutes(30))
            .expect("known");
        let last = snaps.last().expect("snapshots before");
        assert!(last.timestamp <= t1 && last.timestamp > t1 - Duration::minutes(11));
    }

    #[test]
    fn throttle_next_counts_down() {
        let mut s = state(Limits::default());
        s.faults.all.throttle_next = 2;
        assert!(s.decide_fault("DescribeJobs").error.is_some());
        assert!(s.decide_fault("StartRecovery").error.is_some());
        assert!(s.decide_fault("DescribeJobs").error.is_none());
    }
}
