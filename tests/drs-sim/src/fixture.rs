//! The fixture: which source servers exist and how each one's launch behaves.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{Paging, Timings};
use crate::job_events::FailStage;
use crate::launch_actions::{LaunchActionDef, LaunchActionSpec, in_run_order};
use crate::lifecycle::{InitiatedBy, JobType};

/// Data replication states DRS reports (`dataReplicationInfo.dataReplicationState`).
pub const REPLICATION_STATES: &[&str] = &[
    "STOPPED",
    "INITIATING",
    "INITIAL_SYNC",
    "BACKLOG",
    "CREATING_SNAPSHOT",
    "CONTINUOUS",
    "PAUSED",
    "RESCAN",
    "STALLED",
    "DISCONNECTED",
];

/// `dataReplicationInfo.dataReplicationError.error` values of the DRS model
/// (`DataReplicationErrorString` in aws-sdk-drs).
pub const REPLICATION_ERRORS: &[&str] = &[
    "AGENT_NOT_SEEN",
    "SNAPSHOTS_FAILURE",
    "NOT_CONVERGING",
    "UNSTABLE_NETWORK",
    "FAILED_TO_CREATE_SECURITY_GROUP",
    "FAILED_TO_LAUNCH_REPLICATION_SERVER",
    "FAILED_TO_BOOT_REPLICATION_SERVER",
    "FAILED_TO_AUTHENTICATE_WITH_SERVICE",
    "FAILED_TO_DOWNLOAD_REPLICATION_SOFTWARE",
    "FAILED_TO_CREATE_STAGING_DISKS",
    "FAILED_TO_ATTACH_STAGING_DISKS",
    "FAILED_TO_PAIR_REPLICATION_SERVER_WITH_AGENT",
    "FAILED_TO_CONNECT_AGENT_TO_REPLICATION_SERVER",
    "FAILED_TO_START_DATA_TRANSFER",
];

/// States of a server that has not finished its initial sync: DRS has taken no
/// point-in-time snapshot of it yet.
pub const PRE_SYNC_STATES: &[&str] = &["INITIATING", "INITIAL_SYNC"];

/// Launch time used when neither the server nor the fixture's `defaults` set one.
pub const DEFAULT_LAUNCH_SECONDS: f64 = 1.0;

/// Snapshot schedule used when neither the server nor the fixture's `defaults` set one:
/// every 10 minutes, going back 24 hours (DRS's default point-in-time policy keeps
/// 10-minute snapshots for the last hour and hourly ones for a day; one regular series is
/// simpler and gives a client at least as much to choose from).
pub const DEFAULT_SNAPSHOTS: SnapshotSpec = SnapshotSpec::Every {
    every_minutes: 10.0,
    for_hours: 24.0,
};

/// Most snapshots a periodic schedule may put in its history window (per server).
pub const MAX_HISTORY_SNAPSHOTS: f64 = 10_000.0;

/// A server's point-in-time snapshots (DescribeRecoverySnapshots).
///
/// In a fixture: `none`, `{everyMinutes: 10, forHours: 24}` (taken every N minutes, on the
/// wall clock, from H hours before the simulator started, and on as time passes while the
/// server replicates), or a list of RFC 3339 times (each one taken at that time; a time
/// still in the future appears when it comes, if the server is replicating then).
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotSpec {
    None,
    Every { every_minutes: f64, for_hours: f64 },
    At(Vec<String>),
}

impl SnapshotSpec {
    /// Snapshots at exactly these times.
    pub fn at(times: &[OffsetDateTime]) -> Self {
        SnapshotSpec::At(
            times
                .iter()
                .map(|t| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string()))
                .collect(),
        )
    }

    /// A snapshot every `every_minutes`, going back `for_hours` from the simulator's start.
    pub fn every(every_minutes: f64, for_hours: f64) -> Self {
        SnapshotSpec::Every {
            every_minutes,
            for_hours,
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            SnapshotSpec::None => Ok(()),
            SnapshotSpec::Every {
                every_minutes,
                for_hours,
            } => {
                if !every_minutes.is_finite() || *every_minutes < 0.01 {
                    return Err(format!(
                        "everyMinutes {every_minutes} is not a number of at least 0.01"
                    ));
                }
                if !for_hours.is_finite() || *for_hours < 0.0 || *for_hours > 24.0 * 366.0 {
                    return Err(format!(
                        "forHours {for_hours} is not between 0 and a year of hours"
                    ));
                }
                if for_hours * 60.0 / every_minutes > MAX_HISTORY_SNAPSHOTS {
                    return Err(format!(
                        "every {every_minutes} minutes for {for_hours} hours is more than \
                         {MAX_HISTORY_SNAPSHOTS} snapshots"
                    ));
                }
                Ok(())
            }
            SnapshotSpec::At(times) => {
                let mut seen = HashSet::new();
                for t in times {
                    let parsed = OffsetDateTime::parse(t, &Rfc3339)
                        .map_err(|_| format!("{t:?} is not an RFC 3339 time"))?;
                    if !seen.insert(parsed.unix_timestamp_nanos() / 1000) {
                        return Err(format!("{t:?} is listed twice"));
                    }
                }
                Ok(())
            }
        }
    }

    /// The explicit times, parsed (empty unless `At`).
    pub fn times(&self) -> Vec<OffsetDateTime> {
        match self {
            SnapshotSpec::At(times) => times
                .iter()
                .filter_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Serialize for SnapshotSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            SnapshotSpec::None => s.serialize_str("none"),
            SnapshotSpec::Every {
                every_minutes,
                for_hours,
            } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("everyMinutes", every_minutes)?;
                m.serialize_entry("forHours", for_hours)?;
                m.end()
            }
            SnapshotSpec::At(times) => times.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for SnapshotSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SnapshotSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("none, {everyMinutes, forHours} or a list of RFC 3339 times")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SnapshotSpec, E> {
                if v == "none" {
                    Ok(SnapshotSpec::None)
                } else {
                    Err(E::custom(format!(
                        "snapshots {v:?}: expected none, {{everyMinutes, forHours}} or a list \
                         of RFC 3339 times"
                    )))
                }
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<SnapshotSpec, E> {
                Ok(SnapshotSpec::None)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SnapshotSpec, A::Error> {
                let mut times = Vec::new();
                while let Some(t) = seq.next_element::<String>()? {
                    times.push(t);
                }
                Ok(SnapshotSpec::At(times))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SnapshotSpec, A::Error> {
                use serde::de::Error;
                let mut every = None;
                let mut hours = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "everyMinutes" => every = Some(map.next_value::<f64>()?),
                        "forHours" => hours = Some(map.next_value::<f64>()?),
                        other => {
                            return Err(A::Error::custom(format!(
                                "snapshots: unknown key {other:?} (expected everyMinutes, \
                                 forHours)"
                            )));
                        }
                    }
                }
                let every_minutes =
                    every.ok_or_else(|| A::Error::custom("snapshots: everyMinutes is missing"))?;
                Ok(SnapshotSpec::Every {
                    every_minutes,
                    // The default history: a day.
                    for_hours: hours.unwrap_or(24.0),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Named causes of a failed launch, each with the `rawError` DRS would log (EC2's own error
/// codes and messages, as the LAUNCH_FAILED log item carries them). `{region}` and
/// `{account}` are filled in with the simulator's.
pub const FAIL_CAUSES: &[(&str, &str)] = &[
    (
        "capacity",
        "InsufficientInstanceCapacity: We currently do not have sufficient m5.xlarge capacity \
         in the Availability Zone you requested ({region}a). Our system will be working on \
         provisioning additional capacity. You can currently get m5.xlarge capacity by not \
         specifying an Availability Zone in your request or choosing {region}b, {region}c.",
    ),
    (
        "iam",
        "UnauthorizedOperation: You are not authorized to perform this operation. User: \
         arn:aws:sts::{account}:assumed-role/AWSElasticDisasterRecoveryRecoveryInstanceRole/\
         drs-launch is not authorized to perform: ec2:RunInstances on resource: \
         arn:aws:ec2:{region}:{account}:instance/* because no identity-based policy allows \
         the ec2:RunInstances action",
    ),
    (
        "launchTemplate",
        "InvalidLaunchTemplate: The EC2 launch template lt-0a1b2c3d4e5f67890 (version 3) of \
         this source server is invalid: InvalidParameterValue: Value (sg-0123456789abcdef0) \
         for parameter securityGroupIds is invalid. The security group does not exist",
    ),
    (
        "quota",
        "VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU \
         limit of 64 allows for the instance bucket that the specified instance type belongs \
         to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an \
         adjustment to this limit.",
    ),
    (
        "kms",
        "Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state \
         (arn:aws:kms:{region}:{account}:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d is \
         pending deletion)",
    ),
];

/// `rawError` of a failed launch when the fixture names no cause: a recovery instance that
/// failed its EC2 status checks, the commonest generic failure.
pub const GENERIC_FAIL_REASON: &str = "Failed to launch recovery instance: the EC2 instance \
     did not pass its status checks (instance reachability check failed) within the launch \
     timeout";

/// The `rawError` for a failure reason: a named cause (see [`FAIL_CAUSES`], any case) is
/// expanded, any other text is used as it is, and none gives [`GENERIC_FAIL_REASON`].
pub fn fail_raw_error(reason: Option<&str>, region: &str, account_id: &str) -> String {
    let Some(reason) = reason else {
        return GENERIC_FAIL_REASON.to_owned();
    };
    match FAIL_CAUSES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(reason))
    {
        Some((_, text)) => text
            .replace("{region}", region)
            .replace("{account}", account_id),
        None => reason.to_owned(),
    }
}

/// One source server as a fixture (or `POST /_sim/servers`) describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerSpec {
    /// `s-` followed by 17 letters or digits.
    pub id: String,
    /// Reported as `sourceProperties.identificationHints.hostname`; defaults to the ID.
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `dataReplicationInfo.dataReplicationState`; CONTINUOUS when absent.
    #[serde(default)]
    pub replication_state: Option<String>,
    /// `dataReplicationInfo.dataReplicationError.error`; AGENT_NOT_SEEN by default for
    /// STALLED and DISCONNECTED, none otherwise.
    #[serde(default)]
    pub replication_error: Option<String>,
    /// For a server that is not replicating (STALLED, DISCONNECTED, PAUSED, STOPPED): how
    /// many minutes before the simulator started it stopped (no snapshots after that, and
    /// `lastSeenByServiceDateTime` stays there for AGENT_NOT_SEEN). Default 0.
    #[serde(default)]
    pub down_since_minutes: Option<f64>,
    /// Its point-in-time snapshots; `defaults.snapshots`, else every 10 minutes for 24 h.
    #[serde(default)]
    pub snapshots: Option<SnapshotSpec>,
    /// How long this server's launch takes, before the time scale applies.
    #[serde(default)]
    pub launch_seconds: Option<f64>,
    /// When true the server's launch ends FAILED (LAUNCH_FAILED log item, no instance).
    #[serde(default)]
    pub fail_launch: bool,
    /// The LAUNCH_FAILED `rawError`: a named cause (capacity, iam, launchTemplate, quota,
    /// kms) or the text itself. Only with `failLaunch: true`.
    #[serde(default)]
    pub fail_reason: Option<String>,
    /// Where a failing launch fails: `snapshot`, `conversion` or `launch` (default). Only
    /// with `failLaunch: true`.
    #[serde(default)]
    pub fail_stage: Option<String>,
    /// When true a launch job skips the server (SERVER_SKIPPED, then FAILED, no instance).
    #[serde(default)]
    pub skip_launch: bool,
    /// SERVER_SKIPPED's `rawError`. Only with `skipLaunch: true`.
    #[serde(default)]
    pub skip_reason: Option<String>,
    /// The server's post-launch actions (its own settings); `defaults.postLaunchActions`
    /// (those whose tags it carries) when absent.
    #[serde(default)]
    pub post_launch_actions: Option<Vec<LaunchActionSpec>>,
    /// DescribeJobs leaves `recoveryInstanceID` out of this server's `participatingServers`
    /// entries (the model's ParticipatingServer does not require it); `defaults`' when absent.
    #[serde(default)]
    pub omit_recovery_instance_id: Option<bool>,
    /// How many days DRS keeps its daily point-in-time snapshots (the DAY rule's retention,
    /// 1 to 365); `defaults.retentionDays`, else 7 (DRS User Guide, point-in-time).
    #[serde(default)]
    pub retention_days: Option<u32>,
}

impl ServerSpec {
    /// A server that launches successfully after `launch_seconds`.
    pub fn new(id: impl Into<String>, launch_seconds: f64) -> Self {
        Self {
            id: id.into(),
            hostname: None,
            tags: BTreeMap::new(),
            replication_state: None,
            replication_error: None,
            down_since_minutes: None,
            snapshots: None,
            retention_days: None,
            launch_seconds: Some(launch_seconds),
            fail_launch: false,
            fail_reason: None,
            fail_stage: None,
            skip_launch: false,
            skip_reason: None,
            post_launch_actions: None,
            omit_recovery_instance_id: None,
        }
    }

    /// A failing launch fails at this stage (`snapshot`, `conversion` or `launch`).
    pub fn failing_at(mut self, stage: impl Into<String>) -> Self {
        self.fail_launch = true;
        self.fail_stage = Some(stage.into());
        self
    }

    /// A launch job skips the server (SERVER_SKIPPED with this `rawError`).
    pub fn skipped(mut self, reason: impl Into<String>) -> Self {
        self.skip_launch = true;
        self.skip_reason = Some(reason.into());
        self
    }

    /// Adds a post-launch action to the server's own settings.
    pub fn with_post_launch_action(mut self, action: LaunchActionSpec) -> Self {
        self.post_launch_actions
            .get_or_insert_with(Vec::new)
            .push(action);
        self
    }

    /// DescribeJobs never names this server's recovery instance.
    pub fn omitting_recovery_instance_id(mut self) -> Self {
        self.omit_recovery_instance_id = Some(true);
        self
    }

    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    pub fn with_hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }

    /// The launch ends FAILED with the generic `rawError`.
    pub fn failing(mut self) -> Self {
        self.fail_launch = true;
        self
    }

    /// The launch ends FAILED with this cause (a name from [`FAIL_CAUSES`] or the text).
    pub fn failing_with(mut self, reason: impl Into<String>) -> Self {
        self.fail_launch = true;
        self.fail_reason = Some(reason.into());
        self
    }

    /// Any `dataReplicationState` of the DRS model.
    pub fn with_replication_state(mut self, state: impl Into<String>) -> Self {
        self.replication_state = Some(state.into());
        self
    }

    /// Any `dataReplicationError.error` of the DRS model.
    pub fn with_replication_error(mut self, error: impl Into<String>) -> Self {
        self.replication_error = Some(error.into());
        self
    }

    /// For a server that is not replicating: it stopped this many minutes before the start.
    pub fn down_since_minutes(mut self, minutes: f64) -> Self {
        self.down_since_minutes = Some(minutes);
        self
    }

    pub fn with_snapshots(mut self, snapshots: SnapshotSpec) -> Self {
        self.snapshots = Some(snapshots);
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureDefaults {
    #[serde(default)]
    pub launch_seconds: Option<f64>,
    #[serde(default)]
    pub snapshots: Option<SnapshotSpec>,
    /// The default post-launch actions: each applies to the servers carrying all of its
    /// `tags` (every server without tags) that have no `postLaunchActions` of their own.
    #[serde(default)]
    pub post_launch_actions: Option<Vec<LaunchActionSpec>>,
    /// Every server's `omitRecoveryInstanceId` unless it sets its own (default false).
    #[serde(default)]
    pub omit_recovery_instance_id: bool,
    /// The DAY rule's retention of every server that does not set its own (default 7).
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// The whole fixture file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub defaults: FixtureDefaults,
    #[serde(default)]
    pub servers: Vec<ServerSpec>,
    /// Jobs of others that occupy the account's quotas (see [`BackgroundJobSpec`]).
    #[serde(default)]
    pub background_jobs: Vec<BackgroundJobSpec>,
    /// Replaces the simulator's timings (`jobListingDelaySeconds`, `participantsDelaySeconds`,
    /// ...) while this fixture is loaded.
    #[serde(default)]
    pub timings: Option<Timings>,
    /// Replaces the simulator's paging (`pageSize`, `emptyFirstPage`).
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// A fixture after validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedFixture {
    pub servers: Vec<SourceServerDef>,
    pub background_jobs: Vec<BackgroundJobSpec>,
    pub timings: Option<Timings>,
    pub paging: Option<Paging>,
}

/// Which source servers a background job occupies: that many synthetic ones (IDs that
/// DescribeSourceServers does not list) or these listed servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BackgroundServers {
    Count(usize),
    Ids(Vec<String>),
}

/// Background load: a job that someone else started, which counts against
/// `maxConcurrentJobs` and `maxServersInActiveJobs` (and, on listed servers, against
/// `maxActiveJobsPerServer`) while it runs. It creates no recovery instance and does not
/// change its servers' `lifeCycle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackgroundJobSpec {
    /// LAUNCH, TERMINATE, CREATE_CONVERTED_SNAPSHOT (the DRS model's job types) or
    /// DIAGNOSTIC (a LAUNCH job initiated by DIAGNOSTIC).
    #[serde(rename = "type", default = "default_background_type")]
    pub job_type: String,
    /// Any `initiatedBy` of the DRS model; the default follows the type (LAUNCH:
    /// START_DRILL, TERMINATE: TERMINATE_RECOVERY_INSTANCES, CREATE_CONVERTED_SNAPSHOT and
    /// DIAGNOSTIC: DIAGNOSTIC).
    #[serde(default)]
    pub initiated_by: Option<String>,
    pub servers: BackgroundServers,
    /// When it is created, counted from the simulator's start (fixture) or the call
    /// (admin API, library). Scaled by the time scale.
    #[serde(default)]
    pub start_after_seconds: f64,
    /// How long it runs from its creation to COMPLETED. Scaled by the time scale.
    #[serde(default = "default_background_duration")]
    pub duration_seconds: f64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_background_type() -> String {
    "LAUNCH".to_owned()
}

fn default_background_duration() -> f64 {
    60.0
}

impl BackgroundJobSpec {
    /// A job of `job_type` over `servers`, created now and running `duration_seconds`.
    pub fn new(
        job_type: impl Into<String>,
        servers: BackgroundServers,
        duration_seconds: f64,
    ) -> Self {
        Self {
            job_type: job_type.into(),
            initiated_by: None,
            servers,
            start_after_seconds: 0.0,
            duration_seconds,
            tags: BTreeMap::new(),
        }
    }

    /// A drill launch of `count` synthetic servers.
    pub fn launch(count: usize, duration_seconds: f64) -> Self {
        Self::new("LAUNCH", BackgroundServers::Count(count), duration_seconds)
    }

    pub fn starting_after(mut self, seconds: f64) -> Self {
        self.start_after_seconds = seconds;
        self
    }

    pub fn initiated_by(mut self, initiated_by: impl Into<String>) -> Self {
        self.initiated_by = Some(initiated_by.into());
        self
    }

    /// Checks the spec against the known servers; `Ok` gives the job type and initiatedBy.
    pub fn validate(&self, known: &dyn Fn(&str) -> bool) -> Result<(JobType, InitiatedBy), String> {
        let (job_type, default_by) = match self.job_type.as_str() {
            "LAUNCH" => (JobType::Launch, InitiatedBy::StartDrill),
            "TERMINATE" => (JobType::Terminate, InitiatedBy::TerminateRecoveryInstances),
            "CREATE_CONVERTED_SNAPSHOT" => {
                (JobType::CreateConvertedSnapshot, InitiatedBy::Diagnostic)
            }
            "DIAGNOSTIC" => (JobType::Launch, InitiatedBy::Diagnostic),
            other => {
                return Err(format!(
                    "type {other:?} is not one of LAUNCH, TERMINATE, CREATE_CONVERTED_SNAPSHOT, \
                     DIAGNOSTIC"
                ));
            }
        };
        let initiated_by = match &self.initiated_by {
            None => default_by,
            Some(s) => InitiatedBy::parse(s).ok_or_else(|| {
                format!(
                    "initiatedBy {s:?} is not one of {}",
                    InitiatedBy::ALL
                        .iter()
                        .map(|i| i.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        };
        match &self.servers {
            BackgroundServers::Count(n) if !(1..=1000).contains(n) => {
                return Err(format!("servers {n} is not between 1 and 1000"));
            }
            BackgroundServers::Count(_) => {}
            BackgroundServers::Ids(ids) => {
                if ids.is_empty() {
                    return Err("servers is an empty list".to_owned());
                }
                let mut seen = HashSet::new();
                for id in ids {
                    if !known(id) {
                        return Err(format!("server {id} is not a known source server"));
                    }
                    if !seen.insert(id) {
                        return Err(format!("server {id} is listed twice"));
                    }
                }
            }
        }
        check_seconds(self.start_after_seconds).map_err(|r| format!("startAfterSeconds: {r}"))?;
        check_seconds(self.duration_seconds).map_err(|r| format!("durationSeconds: {r}"))?;
        Ok((job_type, initiated_by))
    }
}

/// A source server after validation, with every default applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceServerDef {
    pub id: String,
    pub hostname: String,
    pub tags: BTreeMap<String, String>,
    /// The replication state the fixture gives (an outage at run time does not change it:
    /// DescribeSourceServers shows the current one).
    pub replication_state: String,
    pub replication_error: Option<String>,
    pub down_since_minutes: f64,
    pub snapshots: SnapshotSpec,
    pub launch_seconds: f64,
    pub fail_launch: bool,
    pub fail_reason: Option<String>,
    pub fail_stage: FailStage,
    pub skip_launch: bool,
    pub skip_reason: Option<String>,
    /// In the order DRS runs them.
    pub post_launch_actions: Vec<LaunchActionDef>,
    /// DescribeJobs leaves `recoveryInstanceID` out of this server's participatingServers.
    #[serde(default)]
    pub omit_recovery_instance_id: bool,
    /// The DAY rule's retention of its point-in-time snapshots, in days.
    pub retention_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    // The I/O error is part of the message, not a `source`, so that a report prints it once.
    #[error("cannot read fixture {file}: {error}")]
    Read {
        file: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot parse fixture {file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("fixture {file}: server {server}: {reason}")]
    InvalidServer {
        file: PathBuf,
        server: String,
        reason: String,
    },
    #[error("fixture {file}: defaults.{field}: {reason}")]
    InvalidDefaults {
        file: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("fixture {file}: {field}: {reason}")]
    InvalidSetting {
        file: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("fixture {file}: backgroundJobs[{index}]: {reason}")]
    InvalidBackgroundJob {
        file: PathBuf,
        index: usize,
        reason: String,
    },
}

/// Defaults after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedDefaults {
    pub launch_seconds: f64,
    pub snapshots: SnapshotSpec,
    /// Checked against the model; resolved per server.
    pub post_launch_actions: Vec<LaunchActionSpec>,
    pub omit_recovery_instance_id: bool,
    pub retention_days: u32,
}

/// The DAY rule's default retention (DRS User Guide, point-in-time: 7 days).
pub const DEFAULT_RETENTION_DAYS: u32 = 7;

impl Default for ResolvedDefaults {
    fn default() -> Self {
        Self {
            launch_seconds: DEFAULT_LAUNCH_SECONDS,
            snapshots: DEFAULT_SNAPSHOTS,
            post_launch_actions: Vec::new(),
            omit_recovery_instance_id: false,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

impl FixtureDefaults {
    /// Validates the defaults; the error names the field.
    pub fn resolve(&self) -> Result<ResolvedDefaults, (&'static str, String)> {
        let launch_seconds = match self.launch_seconds {
            None => DEFAULT_LAUNCH_SECONDS,
            Some(s) => {
                check_seconds(s).map_err(|r| ("launchSeconds", r))?;
                s
            }
        };
        let snapshots = match &self.snapshots {
            None => DEFAULT_SNAPSHOTS,
            Some(s) => {
                s.validate().map_err(|r| ("snapshots", r))?;
                s.clone()
            }
        };
        let post_launch_actions = self.post_launch_actions.clone().unwrap_or_default();
        for (index, action) in post_launch_actions.iter().enumerate() {
            action.resolve(index, "defaults").map_err(|r| {
                (
                    "postLaunchActions",
                    format!("[{index}] {}: {r}", action.name),
                )
            })?;
        }
        let retention_days = self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        check_retention_days(retention_days).map_err(|r| ("retentionDays", r))?;
        Ok(ResolvedDefaults {
            launch_seconds,
            snapshots,
            post_launch_actions,
            omit_recovery_instance_id: self.omit_recovery_instance_id,
            retention_days,
        })
    }
}

/// True for a well-formed source server ID (`s-` + 17 letters or digits), as the DRS model's
/// pattern says.
pub fn is_source_server_id(id: &str) -> bool {
    id.strip_prefix("s-")
        .is_some_and(|rest| rest.len() == 17 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Fixture {
    /// Reads a YAML or JSON fixture (`.json` is parsed as JSON, anything else as YAML, which
    /// also accepts JSON) and validates it.
    pub fn load(path: &Path) -> Result<Vec<SourceServerDef>, FixtureError> {
        Self::load_all(path).map(|f| f.servers)
    }

    /// Like [`Fixture::load`], with the background jobs too.
    pub fn load_all(path: &Path) -> Result<LoadedFixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|error| FixtureError::Read {
            file: path.to_path_buf(),
            error,
        })?;
        let fixture = Self::parse(&text, path)?;
        fixture.validate_all(path)
    }

    /// Parses fixture text; `origin` only names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, FixtureError> {
        let is_json = origin
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed: Result<Self, String> = if is_json {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else if text.trim().is_empty() {
            Ok(Self::default())
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
        };
        parsed.map_err(|message| FixtureError::Parse {
            file: origin.to_path_buf(),
            message,
        })
    }

    /// Applies defaults and checks IDs, duplicates, timings and replication states.
    pub fn validate(&self, origin: &Path) -> Result<Vec<SourceServerDef>, FixtureError> {
        self.validate_all(origin).map(|f| f.servers)
    }

    /// Like [`Fixture::validate`], checking the background jobs too.
    pub fn validate_all(&self, origin: &Path) -> Result<LoadedFixture, FixtureError> {
        let defaults =
            self.defaults
                .resolve()
                .map_err(|(field, reason)| FixtureError::InvalidDefaults {
                    file: origin.to_path_buf(),
                    field,
                    reason,
                })?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(self.servers.len());
        for (index, spec) in self.servers.iter().enumerate() {
            let label = if spec.id.is_empty() {
                format!("#{} (servers[{index}])", index + 1)
            } else {
                format!("{} (servers[{index}])", spec.id)
            };
            let invalid = |reason: String| FixtureError::InvalidServer {
                file: origin.to_path_buf(),
                server: label.clone(),
                reason,
            };
            let def = resolve(spec, &defaults).map_err(invalid)?;
            if !seen.insert(def.id.clone()) {
                return Err(invalid("duplicate server ID".to_owned()));
            }
            out.push(def);
        }
        for (index, job) in self.background_jobs.iter().enumerate() {
            job.validate(&|id| seen.contains(id)).map_err(|reason| {
                FixtureError::InvalidBackgroundJob {
                    file: origin.to_path_buf(),
                    index,
                    reason,
                }
            })?;
        }
        let invalid_setting = |field: &'static str| {
            move |reason: String| FixtureError::InvalidSetting {
                file: origin.to_path_buf(),
                field,
                reason,
            }
        };
        if let Some(t) = &self.timings {
            t.validate().map_err(invalid_setting("timings"))?;
        }
        if let Some(p) = &self.paging {
            p.validate().map_err(invalid_setting("paging"))?;
        }
        Ok(LoadedFixture {
            servers: out,
            background_jobs: self.background_jobs.clone(),
            timings: self.timings.clone(),
            paging: self.paging.clone(),
        })
    }
}

/// Validates one server spec and applies defaults. Used for fixtures and for servers added
/// at run time.
pub fn resolve(spec: &ServerSpec, defaults: &ResolvedDefaults) -> Result<SourceServerDef, String> {
    if !is_source_server_id(&spec.id) {
        return Err(format!(
            "id {:?} is not a source server ID (expected s- followed by 17 letters or digits)",
            spec.id
        ));
    }
    let replication_state = spec
        .replication_state
        .clone()
        .unwrap_or_else(|| "CONTINUOUS".to_owned());
    if !REPLICATION_STATES.contains(&replication_state.as_str()) {
        return Err(format!(
            "replicationState {replication_state:?} is not one of {}",
            REPLICATION_STATES.join(", ")
        ));
    }
    if let Some(error) = &spec.replication_error
        && !REPLICATION_ERRORS.contains(&error.as_str())
    {
        return Err(format!(
            "replicationError {error:?} is not one of {}",
            REPLICATION_ERRORS.join(", ")
        ));
    }
    // A source site that is down: the agent is not seen, unless the fixture says otherwise.
    let replication_error = spec.replication_error.clone().or_else(|| {
        matches!(replication_state.as_str(), "STALLED" | "DISCONNECTED")
            .then(|| "AGENT_NOT_SEEN".to_owned())
    });
    let down_since_minutes = spec.down_since_minutes.unwrap_or(0.0);
    if !down_since_minutes.is_finite() || !(0.0..=525_600.0).contains(&down_since_minutes) {
        return Err(format!(
            "downSinceMinutes {down_since_minutes} is not between 0 and a year of minutes"
        ));
    }
    let pre_sync = PRE_SYNC_STATES.contains(&replication_state.as_str());
    let snapshots = match &spec.snapshots {
        // DRS takes point-in-time snapshots only once the initial sync has finished.
        None if pre_sync => SnapshotSpec::None,
        None => defaults.snapshots.clone(),
        Some(s) => {
            s.validate().map_err(|r| format!("snapshots: {r}"))?;
            if pre_sync && *s != SnapshotSpec::None {
                return Err(format!(
                    "snapshots: a server in {replication_state} has not finished its initial \
                     sync, so it has no snapshots (use none or leave snapshots out)"
                ));
            }
            s.clone()
        }
    };
    let launch_seconds = spec.launch_seconds.unwrap_or(defaults.launch_seconds);
    check_seconds(launch_seconds).map_err(|r| format!("launchSeconds: {r}"))?;
    if let Some(hostname) = &spec.hostname
        && hostname.trim().is_empty()
    {
        return Err("hostname is empty".to_owned());
    }
    for key in spec.tags.keys() {
        if key.is_empty() {
            return Err("a tag key is empty".to_owned());
        }
    }
    if let Some(reason) = &spec.fail_reason {
        if !spec.fail_launch {
            return Err("failReason is set but failLaunch is not true".to_owned());
        }
        if reason.trim().is_empty() {
            return Err("failReason is empty".to_owned());
        }
    }
    let fail_stage = match &spec.fail_stage {
        None => FailStage::default(),
        Some(_) if !spec.fail_launch => {
            return Err("failStage is set but failLaunch is not true".to_owned());
        }
        Some(stage) => FailStage::parse(stage).ok_or_else(|| {
            format!("failStage {stage:?} is not one of snapshot, conversion, launch")
        })?,
    };
    if let Some(reason) = &spec.skip_reason {
        if !spec.skip_launch {
            return Err("skipReason is set but skipLaunch is not true".to_owned());
        }
        if reason.trim().is_empty() {
            return Err("skipReason is empty".to_owned());
        }
    }
    let post_launch_actions = resolve_actions(spec, defaults)?;
    let retention_days = spec.retention_days.unwrap_or(defaults.retention_days);
    check_retention_days(retention_days).map_err(|r| format!("retentionDays: {r}"))?;
    Ok(SourceServerDef {
        retention_days,
        id: spec.id.clone(),
        hostname: spec.hostname.clone().unwrap_or_else(|| spec.id.clone()),
        tags: spec.tags.clone(),
        replication_state,
        replication_error,
        down_since_minutes,
        snapshots,
        launch_seconds,
        fail_launch: spec.fail_launch,
        fail_reason: spec.fail_reason.clone(),
        fail_stage,
        skip_launch: spec.skip_launch,
        skip_reason: spec.skip_reason.clone(),
        post_launch_actions,
        omit_recovery_instance_id: spec
            .omit_recovery_instance_id
            .unwrap_or(defaults.omit_recovery_instance_id),
    })
}

/// A server's post-launch actions: its own, else the defaults whose tags it carries (as DRS
/// creates each server's settings from the default post-launch actions), in run order.
fn resolve_actions(
    spec: &ServerSpec,
    defaults: &ResolvedDefaults,
) -> Result<Vec<LaunchActionDef>, String> {
    let chosen: Vec<&LaunchActionSpec> = match &spec.post_launch_actions {
        Some(own) => {
            if let Some(tagged) = own.iter().find(|a| !a.tags.is_empty()) {
                return Err(format!(
                    "postLaunchActions: {}: tags select servers in defaults.postLaunchActions \
                     only",
                    tagged.name
                ));
            }
            own.iter().collect()
        }
        None => defaults
            .post_launch_actions
            .iter()
            .filter(|a| a.tags.iter().all(|(k, v)| spec.tags.get(k) == Some(v)))
            .collect(),
    };
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(chosen.len());
    for (index, action) in chosen.into_iter().enumerate() {
        if !names.insert(action.name.as_str()) {
            return Err(format!(
                "postLaunchActions: {} is listed twice",
                action.name
            ));
        }
        out.push(
            action
                .resolve(index, &spec.id)
                .map_err(|r| format!("postLaunchActions[{index}] {}: {r}", action.name))?,
        );
    }
    Ok(in_run_order(out))
}

/// The DAY rule's retention: 1 to 365 days (DRS User Guide, point-in-time: "the retention
/// period for daily snapshots" is configurable, 7 days by default).
fn check_retention_days(days: u32) -> Result<(), String> {
    if (1..=365).contains(&days) {
        Ok(())
    } else {
        Err(format!("{days} is not between 1 and 365 days"))
    }
}

fn check_seconds(s: f64) -> Result<(), String> {
    if !s.is_finite() || s < 0.0 {
        return Err(format!("{s} is not a non-negative number of seconds"));
    }
    if s > 86_400.0 {
        return Err(format!("{s} is more than a day"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SourceServerDef>, FixtureError> {
        let origin = Path::new("f.yaml");
        Fixture::parse(text, origin)?.validate(origin)
    }

    #[test]
    fn defaults_apply() {
        let servers = parse(
            "defaults: {launchSeconds: 0.5}\nservers:\n  - id: s-00000000000000001\n    tags: {App: x}\n",
        )
        .expect("valid");
        assert_eq!(servers[0].launch_seconds, 0.5);
        assert_eq!(servers[0].replication_state, "CONTINUOUS");
        assert_eq!(servers[0].hostname, "s-00000000000000001");
        assert!(!servers[0].fail_launch);
    }

    #[test]
    fn bad_id_names_file_and_server() {
        let err = parse("servers:\n  - id: s-123\n").expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("f.yaml") && text.contains("s-123"), "{text}");
    }

    #[test]
    fn duplicates_are_rejected() {
        let err = parse("servers:\n  - id: s-00000000000000001\n  - id: s-00000000000000001\n")
            .expect_err("dup");
        assert!(err.to_string().contains("duplicate"), "{err}");
    }

    #[test]
    fn negative_launch_and_unknown_state_are_rejected() {
        assert!(parse("servers:\n  - id: s-00000000000000001\n    launchSeconds: -1\n").is_err());
        assert!(
            parse("servers:\n  - id: s-00000000000000001\n    replicationState: HAPPY\n").is_err()
        );
        assert!(parse("servers:\n  - id: s-00000000000000001\n    colour: red\n").is_err());
    }

    #[test]
    fn json_fixture_parses() {
        let origin = Path::new("f.json");
        let fixture = Fixture::parse(
            r#"{"servers":[{"id":"s-0000000000000000a","failLaunch":true}]}"#,
            origin,
        )
        .expect("json");
        let servers = fixture.validate(origin).expect("valid");
        assert!(servers[0].fail_launch);
    }

    #[test]
    fn shipped_examples_fixture_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/examples.yaml");
        let servers = Fixture::load(&path).expect("examples fixture");
        assert_eq!(servers.len(), 12);
        assert!(
            servers
                .iter()
                .all(|s| (2.0..=5.0).contains(&s.launch_seconds))
        );
        // Healthy, with the default snapshots.
        assert!(servers.iter().all(|s| s.replication_state == "CONTINUOUS"
            && s.replication_error.is_none()
            && s.snapshots == DEFAULT_SNAPSHOTS
            && !s.fail_launch));
    }

    #[test]
    fn shipped_disaster_fixture_is_valid_and_has_the_examples_servers() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let disaster = Fixture::load_all(&dir.join("disaster-day.yaml")).expect("disaster");
        let examples = Fixture::load(&dir.join("examples.yaml")).expect("examples");
        let ids = |v: &[SourceServerDef]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&disaster.servers), ids(&examples));
        assert_eq!(disaster.background_jobs.len(), 2);
        let app2 = &disaster.servers[3];
        assert_eq!(app2.snapshots, SnapshotSpec::None);
        assert!(disaster.servers[11].fail_reason.is_some());
    }

    #[test]
    fn snapshots_parse_in_their_three_forms() {
        let servers = parse(
            "defaults: {snapshots: {everyMinutes: 5}}\nservers:\n\
             - id: s-00000000000000001\n\
             - id: s-00000000000000002\n  snapshots: none\n\
             - id: s-00000000000000003\n  snapshots: ['2024-05-01T10:00:00Z', '2024-05-01T12:00:00+01:00']\n\
             - id: s-00000000000000004\n  snapshots: {everyMinutes: 60, forHours: 2}\n\
             - id: s-00000000000000005\n  replicationState: INITIAL_SYNC\n",
        )
        .expect("valid");
        assert_eq!(servers[0].snapshots, SnapshotSpec::every(5.0, 24.0));
        assert_eq!(servers[1].snapshots, SnapshotSpec::None);
        assert_eq!(servers[2].snapshots.times().len(), 2);
        assert_eq!(servers[3].snapshots, SnapshotSpec::every(60.0, 2.0));
        // Still in its initial sync: none, whatever the defaults say.
        assert_eq!(servers[4].snapshots, SnapshotSpec::None);
        // JSON, through the admin API's servers.
        let spec: ServerSpec = serde_json::from_str(
            r#"{"id":"s-00000000000000001","snapshots":{"everyMinutes":10,"forHours":1}}"#,
        )
        .expect("json");
        assert_eq!(spec.snapshots, Some(SnapshotSpec::every(10.0, 1.0)));
        let back = serde_json::to_value(&spec.snapshots).expect("serialize");
        assert_eq!(back["everyMinutes"], 10.0);
    }

    #[test]
    fn bad_snapshots_states_errors_and_reasons_name_the_server() {
        for (text, needle) in [
            ("snapshots: sometimes", "sometimes"),
            ("snapshots: ['yesterday']", "yesterday"),
            ("snapshots: {everyMinutes: 0}", "everyMinutes"),
            ("snapshots: {everyMinutes: 0.01, forHours: 24}", "more than"),
            ("snapshots: {every: 10}", "every"),
            (
                "replicationState: INITIAL_SYNC\n    snapshots: {everyMinutes: 10}",
                "initial sync",
            ),
            ("replicationError: AGENT_ON_HOLIDAY", "AGENT_ON_HOLIDAY"),
            ("failReason: capacity", "failReason"),
            (
                "replicationState: STALLED\n    downSinceMinutes: -5",
                "downSinceMinutes",
            ),
        ] {
            let fixture = format!("servers:\n  - id: s-00000000000000009\n    {text}\n");
            let err = parse(&fixture).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
            if !err.contains("cannot parse") {
                assert!(err.contains("s-00000000000000009"), "{text}: {err}");
            }
        }
    }

    #[test]
    fn stalled_and_disconnected_default_to_agent_not_seen() {
        let servers = parse(
            "servers:\n\
             - id: s-00000000000000001\n  replicationState: STALLED\n\
             - id: s-00000000000000002\n  replicationState: DISCONNECTED\n\
             - id: s-00000000000000003\n  replicationState: STALLED\n  replicationError: UNSTABLE_NETWORK\n\
             - id: s-00000000000000004\n  replicationState: PAUSED\n",
        )
        .expect("valid");
        let errors: Vec<Option<&str>> = servers
            .iter()
            .map(|s| s.replication_error.as_deref())
            .collect();
        assert_eq!(
            errors,
            [
                Some("AGENT_NOT_SEEN"),
                Some("AGENT_NOT_SEEN"),
                Some("UNSTABLE_NETWORK"),
                None
            ]
        );
    }

    #[test]
    fn background_jobs_are_checked_with_their_index() {
        let err = parse(
            "servers:\n  - id: s-00000000000000001\nbackgroundJobs:\n\
             - {servers: 3}\n\
             - {type: LAUNCH, servers: [s-00000000000000002]}\n",
        )
        .expect_err("unknown server")
        .to_string();
        assert!(
            err.contains("backgroundJobs[1]") && err.contains("s-00000000000000002"),
            "{err}"
        );
        let origin = Path::new("f.yaml");
        let ok = Fixture::parse(
            "servers:\n  - id: s-00000000000000001\nbackgroundJobs:\n\
             - {type: TERMINATE, servers: [s-00000000000000001], startAfterSeconds: 5}\n",
            origin,
        )
        .and_then(|f| f.validate_all(origin))
        .expect("valid");
        assert_eq!(ok.background_jobs[0].duration_seconds, 60.0);
    }

    #[test]
    fn named_fail_causes_expand_and_text_stays() {
        let capacity = fail_raw_error(Some("Capacity"), "eu-west-1", "111122223333");
        assert!(
            capacity.starts_with("InsufficientInstanceCapacity") && capacity.contains("eu-west-1a")
        );
        let iam = fail_raw_error(Some("iam"), "eu-west-1", "111122223333");
        assert!(
            iam.contains("arn:aws:ec2:eu-west-1:111122223333:instance/*"),
            "{iam}"
        );
        assert_eq!(fail_raw_error(Some("boom"), "r", "a"), "boom");
        assert_eq!(fail_raw_error(None, "r", "a"), GENERIC_FAIL_REASON);
        assert!(FAIL_CAUSES.iter().all(|(_, text)| !text.contains("  ")));
    }
}
