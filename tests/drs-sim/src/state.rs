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

use crate::config::{DateStyle, FaultConfig, Limits, SimConfig, Timings};
use crate::fixture::{self, ServerSpec, SourceServerDef};
use crate::lifecycle::{
    Job, JobKind, JobStatus, LaunchStatus, ScheduledServer, seconds, truncate_to_micros,
};
use crate::wire::{self, ApiError};

/// Calls per operation and per HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub total: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub operations: BTreeMap<String, OperationCounters>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationCounters {
    pub total: u64,
    pub by_status: BTreeMap<u16, u64>,
}

impl Counters {
    pub fn record(&mut self, operation: &str, status: u16) {
        self.total += 1;
        *self.by_status.entry(status).or_default() += 1;
        let op = self.operations.entry(operation.to_owned()).or_default();
        op.total += 1;
        *op.by_status.entry(status).or_default() += 1;
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
}

/// Where a recovery instance came from and what became of it.
struct InstanceRecord {
    source_server_id: String,
    job: usize,
    launched: OffsetDateTime,
    terminated: Option<OffsetDateTime>,
}

/// A fault decision for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultDecision {
    pub latency_ms: u64,
    pub error: Option<ApiError>,
}

pub struct SimState {
    fixture_servers: Vec<SourceServerDef>,
    servers: BTreeMap<String, ServerEntry>,
    jobs: Vec<Job>,
    job_index: HashMap<String, usize>,
    pub(crate) counters: Counters,
    pub(crate) faults: FaultConfig,
    pub(crate) limits: Limits,
    timings: Timings,
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

impl SimState {
    pub fn new(config: &SimConfig, servers: Vec<SourceServerDef>, now: OffsetDateTime) -> Self {
        let mut state = Self {
            fixture_servers: servers,
            servers: BTreeMap::new(),
            jobs: Vec::new(),
            job_index: HashMap::new(),
            counters: Counters::default(),
            faults: config.faults.clone(),
            limits: config.limits.clone(),
            timings: config.timings.clone(),
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

    /// Forgets jobs, instances, counters and servers added at run time; `fixture` replaces
    /// the fixture's servers when given. Faults and limits stay as they are.
    pub fn reset(&mut self, fixture: Option<Vec<SourceServerDef>>, now: OffsetDateTime) {
        if let Some(servers) = fixture {
            self.fixture_servers = servers;
        }
        self.jobs.clear();
        self.job_index.clear();
        self.counters = Counters::default();
        self.id_rng = rng_from(self.seed, ID_SALT);
        self.fault_rng = rng_from(self.seed, FAULT_SALT);
        self.servers = self
            .fixture_servers
            .iter()
            .map(|def| {
                (
                    def.id.clone(),
                    ServerEntry {
                        def: def.clone(),
                        added: now,
                        last_launch_job: None,
                    },
                )
            })
            .collect();
    }

    pub fn set_faults(&mut self, faults: FaultConfig) {
        if let Some(seed) = faults.seed {
            self.fault_rng = StdRng::seed_from_u64(seed ^ FAULT_SALT);
        }
        self.faults = faults;
    }

    /// Adds source servers, or replaces those with the same ID. All or nothing.
    pub fn upsert_servers(
        &mut self,
        specs: &[ServerSpec],
        now: OffsetDateTime,
    ) -> Result<Vec<SourceServerDef>, String> {
        let mut defs = Vec::with_capacity(specs.len());
        let mut seen = HashSet::new();
        for spec in specs {
            let def = fixture::resolve(spec, fixture::DEFAULT_LAUNCH_SECONDS)
                .map_err(|e| format!("server {}: {e}", spec.id))?;
            if !seen.insert(def.id.clone()) {
                return Err(format!("server {}: duplicate server ID", def.id));
            }
            defs.push(def);
        }
        for def in &defs {
            match self.servers.get_mut(&def.id) {
                Some(entry) => entry.def = def.clone(),
                None => {
                    self.servers.insert(
                        def.id.clone(),
                        ServerEntry {
                            def: def.clone(),
                            added: now,
                            last_launch_job: None,
                        },
                    );
                }
            }
        }
        Ok(defs)
    }

    pub fn server_defs(&self) -> Vec<SourceServerDef> {
        self.servers.values().map(|e| e.def.clone()).collect()
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
        if req.source_servers.is_empty() {
            return Err(ApiError::field(
                "sourceServers",
                "sourceServers must name at least one source server",
            ));
        }
        let mut ids = Vec::with_capacity(req.source_servers.len());
        let mut seen = HashSet::new();
        for s in &req.source_servers {
            let id = &s.source_server_id;
            if !fixture::is_source_server_id(id) {
                return Err(ApiError::field(
                    "sourceServers",
                    format!("Invalid source server ID {id:?}"),
                ));
            }
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
        let started = created + seconds(self.timings.pending_seconds * scale);
        let mut servers = Vec::with_capacity(ids.len());
        for id in &ids {
            let def = &self.servers[id].def;
            let (fails, launch) = (def.fail_launch, def.launch_seconds);
            let instance = (!fails).then(|| self.hex_id("i-"));
            servers.push(ScheduledServer {
                source_server_id: id.clone(),
                recovery_instance_id: instance,
                conversion_server_id: self.hex_id("i-"),
                start: started,
                end: started + seconds(launch * scale),
                fails,
            });
        }
        let index = self.insert_job(kind, tags, created, started, servers);
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
        started: OffsetDateTime,
        servers: Vec<ScheduledServer>,
    ) -> usize {
        let id = loop {
            let id = self.hex_id("drsjob-");
            if !self.job_index.contains_key(&id) {
                break id;
            }
        };
        let index = self.jobs.len();
        self.jobs.push(Job {
            seq: index as u64 + 1,
            arn: self.arn("job", &id),
            id: id.clone(),
            kind,
            tags,
            created,
            started,
            servers,
        });
        self.job_index.insert(id, index);
        index
    }

    fn job_json(&self, job: &Job, now: OffsetDateTime) -> Value {
        let status = job.status(now);
        let servers: Vec<Value> = job
            .servers
            .iter()
            .map(|s| {
                let mut v = json!({
                    "sourceServerID": s.source_server_id,
                    "launchStatus": s.status(job.kind, now).as_str(),
                });
                if let Some(instance) = s.visible_instance(job.kind, now) {
                    v["recoveryInstanceID"] = Value::from(instance);
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
        let size = wire::page_size(req.max_results, self.default_page_size)?;
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
        // Newest first; the token is the sequence number of the last job returned, so jobs
        // created between pages never shift what the next page holds.
        let after = decode_token(req.next_token.as_deref(), "job:")?
            .map(|t| {
                t.parse::<u64>()
                    .map_err(|_| ApiError::field("nextToken", "Invalid nextToken"))
            })
            .transpose()?;
        let matching = self.jobs.iter().rev().filter(|j| {
            (ids.is_empty() || ids.contains(j.id.as_str()))
                && from.is_none_or(|f| j.created >= f)
                && to.is_none_or(|t| j.created <= t)
                && after.is_none_or(|a| j.seq < a)
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| page.last().map(|j| format!("job:{}", j.seq)));
        let items: Vec<Value> = page.iter().map(|j| self.job_json(j, now)).collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }

    fn describe_job_log_items(
        &self,
        req: &wire::DescribeJobLogItemsRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = wire::page_size(req.max_results, self.default_page_size)?;
        let Some(job_id) = req.job_id.as_deref() else {
            return Err(ApiError::field("jobID", "jobID is required"));
        };
        let Some(&index) = self.job_index.get(job_id) else {
            return Err(ApiError::field(
                "jobID",
                format!("Job {job_id} does not exist"),
            ));
        };
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
        let size = wire::page_size(req.max_results, self.default_page_size)?;
        let filters = req.filters.as_ref();
        let ids: HashSet<&str> = filters
            .map(|f| f.source_server_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let hardware = filters.and_then(|f| f.hardware_id.as_deref());
        let staging = filters.map(|f| f.staging_account_ids.as_slice());
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
        let mut life_cycle = json!({
            "addedToServiceDateTime": self.date(entry.added),
            "firstByteDateTime": self.date(entry.added),
            "lastSeenByServiceDateTime": self.date(now),
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
                "dataReplicationState": def.replication_state,
                "lagDuration": "PT0S",
                "replicatedDisks": [],
            },
            "lifeCycle": life_cycle,
            "sourceProperties": {
                "identificationHints": { "hostname": def.hostname, "fqdn": def.hostname },
                "lastUpdatedDateTime": self.date(entry.added),
            },
        });
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
        let size = wire::page_size(req.max_results, self.default_page_size)?;
        let filters = req.filters.as_ref();
        let ids: HashSet<&str> = filters
            .map(|f| f.recovery_instance_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let sources: HashSet<&str> = filters
            .map(|f| f.source_server_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
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
                    "pointInTimeSnapshotDateTime": self.date(job.started),
                    "recoveryInstanceProperties": {
                        "identificationHints": { "hostname": hostname },
                        "lastUpdatedDateTime": self.date(r.launched),
                    },
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
        if req.recovery_instance_ids.is_empty() {
            return Err(ApiError::field(
                "recoveryInstanceIDs",
                "recoveryInstanceIDs must name at least one recovery instance",
            ));
        }
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
        let started = created + seconds(self.timings.pending_seconds * scale);
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
            });
        }
        let index = self.insert_job(
            JobKind::Terminate,
            BTreeMap::new(),
            created,
            started,
            servers,
        );
        Ok(json!({ "job": self.job_json(&self.jobs[index], now) }))
    }

    /// Every job, oldest first, with its servers' schedules.
    pub fn job_snapshots(&self, now: OffsetDateTime) -> Vec<JobSnapshot> {
        self.jobs
            .iter()
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
                InstanceSnapshot {
                    recovery_instance_id: id,
                    source_server_id: r.source_server_id,
                    job_id: job.id.clone(),
                    is_drill: job.kind.is_drill().unwrap_or(false),
                    launched_date_time: r.launched,
                    terminated_date_time: r.terminated,
                }
            })
            .collect()
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

fn decode_token(token: Option<&str>, prefix: &str) -> Result<Option<String>, ApiError> {
    match token {
        None | Some("") => Ok(None),
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
        let servers = config.fixture.load().expect("fixture");
        SimState::new(&config, servers, T0)
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

    #[test]
    fn throttle_next_counts_down() {
        let mut s = state(Limits::default());
        s.faults.all.throttle_next = 2;
        assert!(s.decide_fault("DescribeJobs").error.is_some());
        assert!(s.decide_fault("StartRecovery").error.is_some());
        assert!(s.decide_fault("DescribeJobs").error.is_none());
    }
}
