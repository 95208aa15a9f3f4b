//! Start-up configuration: fixture, limits, faults and timings.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fixture::{Fixture, FixtureError, LoadedFixture, ServerSpec, SourceServerDef};
use crate::principal::Owner;

/// DRS quotas the simulator enforces. DRS's real values are account-specific; these defaults
/// are the commonly seen ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Limits {
    /// Source servers in one StartRecovery call (ServiceQuotaExceededException beyond it).
    pub max_servers_per_job: usize,
    /// Source servers in all jobs that have not COMPLETED.
    pub max_servers_in_active_jobs: usize,
    /// Jobs that have not COMPLETED.
    pub max_concurrent_jobs: usize,
    /// Jobs that have not COMPLETED per source server (ConflictException beyond it).
    pub max_active_jobs_per_server: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_servers_per_job: 100,
            max_servers_in_active_jobs: 200,
            max_concurrent_jobs: 20,
            max_active_jobs_per_server: 1,
        }
    }
}

/// What happens to matching DRS calls. Fractions are probabilities in 0..=1, drawn from the
/// simulator's seeded generator; the `*_next` counts hit the next N matching calls exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Share of calls answered 429 ThrottlingException.
    pub throttle_fraction: f64,
    /// Share of calls answered 500 InternalServerException.
    pub error_fraction: f64,
    /// Delay added before every matching call is answered.
    pub latency_ms: u64,
    /// The next N matching calls are answered 429.
    pub throttle_next: u32,
    /// The next N matching calls are answered 500 (after any `throttle_next`).
    pub error_next: u32,
    /// Every matching call is answered 403 AccessDeniedException.
    pub access_denied: bool,
    /// Every matching call is answered 400 UninitializedAccountException.
    pub uninitialized_account: bool,
    /// The next N matching calls that succeed are carried out (StartRecovery makes its job,
    /// TerminateRecoveryInstances its TERMINATE job) and then answered 500
    /// InternalServerException: the client cannot tell that the job exists.
    pub error_after_commit_next: u32,
    /// Share of matching calls that succeed and are then answered 500.
    pub error_after_commit_fraction: f64,
    /// The next N matching calls that succeed are carried out, then the connection is
    /// closed without any answer (after any `error_after_commit_next`).
    pub drop_after_commit_next: u32,
    /// Share of matching calls that succeed and then get no answer at all.
    pub drop_after_commit_fraction: f64,
}

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("throttleFraction", self.throttle_fraction),
            ("errorFraction", self.error_fraction),
            ("errorAfterCommitFraction", self.error_after_commit_fraction),
            ("dropAfterCommitFraction", self.drop_after_commit_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} {v} is not between 0 and 1"));
            }
        }
        if self.latency_ms > 600_000 {
            return Err(format!(
                "latencyMs {} is more than 10 minutes",
                self.latency_ms
            ));
        }
        Ok(())
    }
}

/// Fault injection: one spec for all DRS operations, and optional per-operation specs that
/// replace it for the operations they name (`StartRecovery`, `DescribeJobs`, ...).
///
/// Unknown keys are rejected by [`FaultConfig::from_json`] (serde cannot deny them through
/// `flatten`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    #[serde(flatten)]
    pub all: FaultSpec,
    pub per_operation: BTreeMap<String, FaultSpec>,
    /// The `Retry-After` header (seconds) of a throttled answer.
    pub retry_after_seconds: u32,
    /// Reseeds the fault generator when set (through the admin API: at the moment it is set).
    pub seed: Option<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            all: FaultSpec::default(),
            per_operation: BTreeMap::new(),
            retry_after_seconds: 1,
            seed: None,
        }
    }
}

impl FaultConfig {
    const KEYS: &'static [&'static str] = &[
        "throttleFraction",
        "errorFraction",
        "latencyMs",
        "throttleNext",
        "errorNext",
        "accessDenied",
        "uninitializedAccount",
        "errorAfterCommitNext",
        "errorAfterCommitFraction",
        "dropAfterCommitNext",
        "dropAfterCommitFraction",
        "perOperation",
        "retryAfterSeconds",
        "seed",
    ];

    /// Parses and validates a fault configuration, rejecting unknown keys.
    pub fn from_json(value: serde_json::Value) -> Result<Self, String> {
        let Some(map) = value.as_object() else {
            return Err("the fault configuration must be a JSON object".to_owned());
        };
        if let Some(key) = map.keys().find(|k| !Self::KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown key {key:?} (expected one of {})",
                Self::KEYS.join(", ")
            ));
        }
        let config: Self = serde_json::from_value(value).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.all.validate()?;
        for (op, spec) in &self.per_operation {
            if !crate::wire::OPERATIONS.contains(&op.as_str()) {
                return Err(format!(
                    "perOperation: {op:?} is not a simulated operation ({})",
                    crate::wire::OPERATIONS.join(", ")
                ));
            }
            spec.validate()
                .map_err(|e| format!("perOperation.{op}: {e}"))?;
        }
        Ok(())
    }

    pub fn spec_for(&self, operation: &str) -> &FaultSpec {
        self.per_operation.get(operation).unwrap_or(&self.all)
    }
}

/// How timestamps are written. The model's ISO8601DatetimeString (pattern `...Z`) is Zulu,
/// the default; Offset is outside the model, kept for clients that must survive it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateStyle {
    /// `2024-05-01T12:00:00.123456+00:00`: not the model's pattern.
    Offset,
    /// `2024-05-01T12:00:00.123456Z`: the model's ISO8601DatetimeString.
    #[default]
    Zulu,
}

/// How long each simulated step takes, before `time_scale` applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Timings {
    /// Multiplies every duration (0.1 makes everything ten times faster).
    pub time_scale: f64,
    /// How long a new job stays PENDING before it is STARTED.
    pub pending_seconds: f64,
    /// How long terminating a recovery instance takes.
    pub terminate_seconds: f64,
    /// How long a new job lists no participatingServers (it stays PENDING at least that
    /// long). 0: they are listed from the start.
    pub participants_delay_seconds: f64,
    /// How long after StartRecovery (or TerminateRecoveryInstances) made a job DescribeJobs
    /// starts listing it: DRS is eventually consistent, and a job can exist, hold its
    /// servers and be answered by StartRecovery before any listing shows it. 0: at once.
    pub job_listing_delay_seconds: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            pending_seconds: 0.05,
            terminate_seconds: 0.2,
            participants_delay_seconds: 0.0,
            job_listing_delay_seconds: 0.0,
        }
    }
}

impl Timings {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("timeScale", self.time_scale),
            ("pendingSeconds", self.pending_seconds),
            ("terminateSeconds", self.terminate_seconds),
            ("participantsDelaySeconds", self.participants_delay_seconds),
            ("jobListingDelaySeconds", self.job_listing_delay_seconds),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("{name} {v} is not a non-negative number"));
            }
        }
        Ok(())
    }
}

/// How the Describe* operations page, beyond what the client asks. The DRS model makes
/// `nextToken` the only promise of more items: a page may hold fewer items than
/// `maxResults`, or none at all, and still carry a `nextToken` (clients must follow it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Paging {
    /// At most this many items per page, whatever `maxResults` says (None: `maxResults`,
    /// up to 1000).
    pub page_size: Option<usize>,
    /// Every listing's first page (a call without `nextToken`) is empty and carries a
    /// `nextToken` that leads to the items.
    pub empty_first_page: bool,
}

impl Paging {
    pub fn validate(&self) -> Result<(), String> {
        match self.page_size {
            Some(n) if !(1..=1000).contains(&n) => {
                Err(format!("pageSize {n} is not between 1 and 1000"))
            }
            _ => Ok(()),
        }
    }

    /// The size of a page for a client that asked for `requested` items.
    pub fn clamp(&self, requested: usize) -> usize {
        self.page_size.map_or(requested, |n| requested.min(n))
    }
}

/// Where the source servers come from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum FixtureSource {
    /// No source servers (add them with `POST /_sim/servers`).
    #[default]
    Empty,
    /// A YAML or JSON file, re-read on `POST /_sim/reset` with `reloadFixture`.
    File(PathBuf),
    /// Servers given in code (boxed: a fixture with its servers, jobs and networks is large).
    Inline(Box<Fixture>),
}

impl FixtureSource {
    pub fn load(&self) -> Result<Vec<SourceServerDef>, FixtureError> {
        self.load_all().map(|f| f.servers)
    }

    /// The servers and the background jobs.
    pub fn load_all(&self) -> Result<LoadedFixture, FixtureError> {
        match self {
            FixtureSource::Empty => Ok(LoadedFixture::default()),
            FixtureSource::File(path) => Fixture::load_all(path),
            FixtureSource::Inline(f) => f.validate_all(std::path::Path::new("<inline fixture>")),
        }
    }
}

/// Everything a simulator starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Defaults to 127.0.0.1:0 (a free port on loopback).
    pub listen: SocketAddr,
    pub fixture: FixtureSource,
    pub limits: Limits,
    pub faults: FaultConfig,
    pub timings: Timings,
    /// Short and empty pages (a fixture's `paging` replaces it).
    pub paging: Paging,
    /// Seeds the generator of IDs and faults, so that runs repeat exactly.
    pub seed: Option<u64>,
    /// The region and account in ARNs (an [`Owner`] replaces them).
    pub region: String,
    pub account_id: String,
    /// The one account and region served: a request signed with another account's key or
    /// for another region is refused as AWS refuses it ([`crate::principal`]). None (the
    /// default): every caller is served.
    pub owner: Option<Owner>,
    pub date_style: DateStyle,
    /// Page size when a Describe call gives no maxResults (DRS allows up to 1000).
    pub default_page_size: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            fixture: FixtureSource::Empty,
            limits: Limits::default(),
            faults: FaultConfig::default(),
            timings: Timings::default(),
            paging: Paging::default(),
            seed: None,
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            owner: None,
            date_style: DateStyle::Zulu,
            default_page_size: 1000,
        }
    }
}

impl SimConfig {
    /// A loopback simulator with these servers and default everything else.
    pub fn with_servers(servers: Vec<ServerSpec>) -> Self {
        Self {
            fixture: FixtureSource::Inline(Box::new(Fixture {
                servers,
                ..Fixture::default()
            })),
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        self.faults.validate().map_err(|e| format!("faults: {e}"))?;
        self.timings.validate()?;
        self.paging.validate()?;
        if self.limits.max_servers_per_job == 0
            || self.limits.max_concurrent_jobs == 0
            || self.limits.max_servers_in_active_jobs == 0
            || self.limits.max_active_jobs_per_server == 0
        {
            return Err("limits must be at least 1".to_owned());
        }
        if let Some(owner) = &self.owner {
            owner.validate()?;
        }
        if !(1..=1000).contains(&self.default_page_size) {
            return Err("default page size must be between 1 and 1000".to_owned());
        }
        Ok(())
    }
}
