//! Failback: recovery instances replicating back to their origin (the model's
//! `RecoveryInstance.failback`), ReverseReplication, StartFailbackLaunch and StopFailback,
//! and the staging of a failback that errs or stalls (`POST /_sim/failback`).
//!
//! A recovery instance's failback state is derived from the time, like every job: from the
//! moment its replication back starts (ReverseReplication for an instance whose source is
//! in EC2; for an on-premises source the DRS Failback Client booted on the original machine,
//! which only the admin API can stage) it is FAILBACK_IN_PROGRESS for its sync time, then
//! FAILBACK_READY_FOR_LAUNCH (User Guide, "Performing a failback": the recovery instance
//! shows "Ready" once the failback replication has finished its initial sync). A staged
//! error makes it FAILBACK_ERROR with the model's FailbackReplicationError; a staged stall
//! keeps it FAILBACK_IN_PROGRESS with its replication STALLED. A failback launch job
//! (initiatedBy FAILBACK, type LAUNCH) moves it to FAILBACK_COMPLETED when the launch ends
//! LAUNCHED, or FAILBACK_ERROR when it ends FAILED; while the job runs it is
//! FAILBACK_IN_PROGRESS (the simulator's reading: the model's FailbackState has no launching
//! value). StopFailback forgets it all: FAILBACK_NOT_STARTED (the model's StopFailback:
//! "This changes the Failback State of the Recovery Instance back to FAILBACK_NOT_STARTED").

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::limits::check_tags;
use super::{ServerSelector, SimState};
use crate::job_events::FailStage;
use crate::lifecycle::truncate_to_micros;
use crate::lifecycle::{JobKind, LaunchStatus, ScheduledServer, SnapshotSource, seconds};
use crate::wire::ApiError;

/// The model's FailbackReplicationError values (`dataReplicationError.error` of a recovery
/// instance in failback).
pub const FAILBACK_REPLICATION_ERRORS: &[&str] = &[
    "AGENT_NOT_SEEN",
    "FAILBACK_CLIENT_NOT_SEEN",
    "NOT_CONVERGING",
    "UNSTABLE_NETWORK",
    "FAILED_TO_ESTABLISH_RECOVERY_INSTANCE_COMMUNICATION",
    "FAILED_TO_DOWNLOAD_REPLICATION_SOFTWARE_TO_FAILBACK_CLIENT",
    "FAILED_TO_CONFIGURE_REPLICATION_SOFTWARE",
    "FAILED_TO_PAIR_AGENT_WITH_REPLICATION_SOFTWARE",
    "FAILED_TO_ESTABLISH_AGENT_REPLICATOR_SOFTWARE_COMMUNICATION",
    "FAILED_GETTING_REPLICATION_STATE",
    "SNAPSHOTS_FAILURE",
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

/// How long replicating back takes before an instance is ready, when nobody says (before
/// the time scale): the simulator's choice.
pub const DEFAULT_SYNC_SECONDS: f64 = 1.0;

/// The disk a failback replicates back, in bytes (the simulator's own size: the model's
/// `replicatedDisks` carry byte counts, DRS documents no typical value).
const FAILBACK_DISK_BYTES: i64 = 8 * 1024 * 1024 * 1024;

/// How a staged failback replication goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum FailbackOutcome {
    /// It syncs and the instance is ready for launch.
    #[default]
    Ready,
    /// It never converges: FAILBACK_IN_PROGRESS for ever, replication STALLED.
    Stall,
    /// It fails with this FailbackReplicationError: FAILBACK_ERROR.
    Error(String),
}

/// One recovery instance's replication back, from its start.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FailbackReplication {
    pub started: OffsetDateTime,
    /// When it is in sync (ready for launch, unless it stalls or errs).
    pub synced: OffsetDateTime,
    pub outcome: FailbackOutcome,
    /// A failback launch of it ends FAILED.
    pub fail_launch: bool,
    /// ReverseReplication started it (an EC2 source); else the Failback Client.
    pub reversed: bool,
}

/// What `POST /_sim/failback` stages for each selected server's recovery instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailbackStaging {
    #[serde(default)]
    pub servers: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub all: Option<bool>,
    #[serde(default)]
    pub outcome: FailbackOutcome,
    /// Seconds until in sync (before the time scale); default [`DEFAULT_SYNC_SECONDS`].
    #[serde(default)]
    pub sync_seconds: Option<f64>,
    /// Its failback launch ends FAILED (LAUNCH_FAILED in the job's log).
    #[serde(default)]
    pub fail_launch: bool,
}

impl FailbackStaging {
    /// These servers' instances replicate back and are ready after `sync_seconds`.
    pub fn ready(servers: &[&str], sync_seconds: f64) -> Self {
        Self {
            servers: Some(servers.iter().map(|s| (*s).to_owned()).collect()),
            sync_seconds: Some(sync_seconds),
            ..Self::default()
        }
    }

    pub fn selector(&self) -> Result<ServerSelector, String> {
        match (&self.servers, &self.tags, self.all) {
            (Some(ids), None, None) => Ok(ServerSelector::Servers(ids.clone())),
            (None, Some(tags), None) => Ok(ServerSelector::Tags(tags.clone())),
            (None, None, Some(true)) => Ok(ServerSelector::All),
            _ => Err(
                "give exactly one of \"servers\": [...], \"tags\": {...}, \"all\": true".to_owned(),
            ),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceRequest {
    #[serde(rename = "recoveryInstanceID")]
    recovery_instance_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailbackLaunchRequest {
    #[serde(rename = "recoveryInstanceIDs", default)]
    recovery_instance_ids: Vec<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    crate::wire::parse_body(body)
}

/// A recovery instance's failback as DescribeRecoveryInstances shows it.
pub(super) struct FailbackView {
    pub state: &'static str,
    pub job_id: Option<String>,
    pub replication: Option<FailbackReplication>,
    /// The replication's progress, 0..=1.
    pub synced_share: f64,
}

impl SimState {
    /// Dispatches the failback operations (None: not one of them).
    pub(super) fn call_failback(
        &mut self,
        operation: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Option<Result<(u16, Value), ApiError>> {
        let result = match operation {
            "ReverseReplication" => parse(body).and_then(|r| self.reverse_replication(&r, now)),
            "StartFailbackLaunch" => parse(body).and_then(|r| self.start_failback_launch(&r, now)),
            "StopFailback" => parse(body).and_then(|r| self.stop_failback(&r, now)),
            _ => return None,
        };
        Some(result.map(|v| (200, v)))
    }

    /// The live (not terminated) recovery instance `id` and its source server.
    fn live_instance(&self, id: &str, now: OffsetDateTime) -> Option<String> {
        self.instances(now)
            .remove(id)
            .filter(|r| r.terminated.is_none())
            .map(|r| r.source_server_id)
    }

    fn not_found(id: &str) -> ApiError {
        ApiError::not_found(
            format!("Recovery instance {id} does not exist"),
            id,
            "RECOVERY_INSTANCE",
        )
    }

    /// ReverseReplication: an instance whose source is in EC2 replicates back. An
    /// on-premises source is a ValidationException (the model: "applies only to protected
    /// instances that originated in EC2"); one already replicating back a ConflictException.
    fn reverse_replication(
        &mut self,
        req: &InstanceRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let id = &req.recovery_instance_id;
        let source = self
            .live_instance(id, now)
            .ok_or_else(|| Self::not_found(id))?;
        let origin = self
            .servers
            .get(&source)
            .map_or("ON_PREMISES", |s| s.def.origin_environment.as_str());
        if origin != "AWS" {
            return Err(ApiError::field(
                "recoveryInstanceID",
                format!(
                    "Recovery instance {id} did not originate in EC2; fail back an on-premises \
                     server with the DRS Failback Client"
                ),
            ));
        }
        if self.failbacks.contains_key(id) {
            return Err(ApiError::conflict(
                format!("Recovery instance {id} is already replicating back"),
                id,
                "RECOVERY_INSTANCE",
            ));
        }
        let started = truncate_to_micros(now);
        let synced = started + seconds(DEFAULT_SYNC_SECONDS * self.timings.time_scale);
        self.failbacks.insert(
            id.clone(),
            FailbackReplication {
                started,
                synced,
                outcome: FailbackOutcome::Ready,
                fail_launch: false,
                reversed: true,
            },
        );
        // The model's ReverseReplicationResponse: the ARN of the source server created in
        // the origin region for the way back (drs-sim holds one region: its own).
        let arn = self.arn("source-server", &source);
        Ok(json!({ "reversedDirectionSourceServerArn": arn }))
    }

    /// StopFailback: the instance's failback is forgotten (FAILBACK_NOT_STARTED).
    fn stop_failback(
        &mut self,
        req: &InstanceRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let id = &req.recovery_instance_id;
        if self.live_instance(id, now).is_none() {
            return Err(Self::not_found(id));
        }
        self.failbacks.remove(id);
        Ok(json!({}))
    }

    /// StartFailbackLaunch: one job (initiatedBy FAILBACK) for instances that are each
    /// FAILBACK_READY_FOR_LAUNCH. Unknown or repeated IDs, or an instance not ready, are a
    /// ValidationException naming `recoveryInstanceIDs` (the simulator's reading: DRS
    /// documents no error for it); an instance already in an active job a ConflictException;
    /// the job quotas as for StartRecovery.
    fn start_failback_launch(
        &mut self,
        req: &FailbackLaunchRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        // The model's check has held recoveryInstanceIDs to 1..=200 items.
        let tags = req.tags.clone().unwrap_or_default();
        check_tags(&tags)?;
        let mut seen = HashSet::new();
        let mut targets = Vec::new();
        for id in &req.recovery_instance_ids {
            if !seen.insert(id.as_str()) {
                return Err(ApiError::field(
                    "recoveryInstanceIDs",
                    format!("Recovery instance {id} is listed more than once"),
                ));
            }
            let source = self.live_instance(id, now).ok_or_else(|| {
                ApiError::field(
                    "recoveryInstanceIDs",
                    format!("Recovery instance {id} does not exist"),
                )
            })?;
            let view = self.failback_view(id, now);
            if view.state != "FAILBACK_READY_FOR_LAUNCH" {
                return Err(ApiError::field(
                    "recoveryInstanceIDs",
                    format!(
                        "Recovery instance {id} is not ready for failback launch ({})",
                        view.state
                    ),
                ));
            }
            targets.push((id.clone(), source));
        }
        if targets.len() > self.limits.max_servers_per_job {
            return Err(ApiError::quota(
                format!(
                    "Cannot fail back {} recovery instances in one job (limit {})",
                    targets.len(),
                    self.limits.max_servers_per_job
                ),
                "SourceServersPerJob",
                "SOURCE_SERVER",
            ));
        }
        let sources: Vec<String> = targets.iter().map(|(_, s)| s.clone()).collect();
        self.check_limits(&sources, now)?;
        let created = truncate_to_micros(now);
        let (started, listed) = self.job_start(created);
        let scale = self.timings.time_scale;
        let mut servers = Vec::with_capacity(targets.len());
        for (instance, source) in targets {
            let launch = self
                .servers
                .get(&source)
                .map_or(1.0, |s| s.def.launch_seconds);
            let fails = self.failbacks.get(&instance).is_some_and(|f| f.fail_launch);
            servers.push(ScheduledServer {
                source_server_id: source,
                recovery_instance_id: Some(instance),
                conversion_server_id: self.hex_id("i-"),
                start: started,
                end: started + seconds(launch * scale),
                fails,
                fail_reason: None,
                snapshot: None,
                snapshot_source: SnapshotSource::Previous,
                fail_stage: FailStage::Launch,
                skipped: false,
                post_launch: None,
            });
        }
        let index = self.insert_job(JobKind::Failback, tags, created, (started, listed), servers);
        Ok(json!({ "job": self.job_json(&self.jobs[index], now) }))
    }

    /// The newest failback job's server for `instance` created since its replication back
    /// started, with the job's ID.
    fn failback_launch_of(
        &self,
        instance: &str,
        since: OffsetDateTime,
    ) -> Option<(&str, &ScheduledServer)> {
        self.jobs
            .iter()
            .rev()
            .filter(|j| j.kind == JobKind::Failback && j.created >= since)
            .find_map(|j| {
                j.servers
                    .iter()
                    .find(|s| s.recovery_instance_id.as_deref() == Some(instance))
                    .map(|s| (j.id.as_str(), s))
            })
    }

    /// A recovery instance's failback as of `now`.
    pub(super) fn failback_view(&self, instance: &str, now: OffsetDateTime) -> FailbackView {
        let Some(f) = self.failbacks.get(instance) else {
            return FailbackView {
                state: "FAILBACK_NOT_STARTED",
                job_id: None,
                replication: None,
                synced_share: 0.0,
            };
        };
        let span = (f.synced - f.started).as_seconds_f64();
        let share = if span <= 0.0 {
            1.0
        } else {
            ((now - f.started).as_seconds_f64() / span).clamp(0.0, 1.0)
        };
        let (state, job_id) = match self.failback_launch_of(instance, f.started) {
            Some((job, s)) => {
                let state = match s.status(JobKind::Failback, now) {
                    LaunchStatus::Launched => "FAILBACK_COMPLETED",
                    LaunchStatus::Failed => "FAILBACK_ERROR",
                    _ => "FAILBACK_IN_PROGRESS",
                };
                (state, Some(job.to_owned()))
            }
            None => {
                let state = match &f.outcome {
                    FailbackOutcome::Error(_) => "FAILBACK_ERROR",
                    FailbackOutcome::Stall => "FAILBACK_IN_PROGRESS",
                    FailbackOutcome::Ready if now < f.synced => "FAILBACK_IN_PROGRESS",
                    FailbackOutcome::Ready => "FAILBACK_READY_FOR_LAUNCH",
                };
                (state, None)
            }
        };
        FailbackView {
            state,
            job_id,
            replication: Some(f.clone()),
            synced_share: if f.outcome == FailbackOutcome::Stall {
                share.min(0.5)
            } else {
                share
            },
        }
    }

    /// The model's `RecoveryInstance.failback` and, while it replicates back,
    /// `dataReplicationInfo` (RecoveryInstanceDataReplicationInfo).
    pub(super) fn failback_json(
        &self,
        instance: &str,
        is_drill: bool,
        now: OffsetDateTime,
    ) -> (Value, Option<Value>) {
        let view = self.failback_view(instance, now);
        let mut failback = json!({
            "state": view.state,
            "failbackToOriginalServer": true,
            "failbackLaunchType": if is_drill { "DRILL" } else { "RECOVERY" },
        });
        let Some(f) = &view.replication else {
            return (failback, None);
        };
        failback["failbackInitiationTime"] = Value::from(self.date(f.started));
        failback["firstByteDateTime"] = Value::from(self.date(f.started));
        failback["agentLastSeenByServiceDateTime"] = Value::from(self.date(now));
        if !f.reversed {
            failback["failbackClientID"] = Value::from(format!("fbc-{instance}"));
            failback["failbackClientLastSeenByServiceDateTime"] = Value::from(self.date(now));
        }
        if let Some(job) = &view.job_id {
            failback["failbackJobID"] = Value::from(job.clone());
        }
        let replicated = (FAILBACK_DISK_BYTES as f64 * view.synced_share) as i64;
        let state = match &f.outcome {
            FailbackOutcome::Stall => "STALLED",
            FailbackOutcome::Error(_) => "STALLED",
            FailbackOutcome::Ready if view.synced_share < 1.0 => "INITIAL_SYNC",
            FailbackOutcome::Ready => "CONTINUOUS",
        };
        let mut info = json!({
            "dataReplicationState": state,
            "replicatedDisks": [{
                "deviceName": "/dev/xvda",
                "totalStorageBytes": FAILBACK_DISK_BYTES,
                "replicatedStorageBytes": replicated,
                "backloggedStorageBytes": FAILBACK_DISK_BYTES - replicated,
                "rescannedStorageBytes": 0,
            }],
        });
        if let FailbackOutcome::Error(e) = &f.outcome {
            info["dataReplicationError"] = json!({ "error": e, "rawError": e });
        }
        (failback, Some(info))
    }

    /// `POST /_sim/failback`: each selected server's live recovery instance starts
    /// replicating back now (an on-premises source: the Failback Client booted on the
    /// original machine), going as `outcome` says. Answers the instances.
    pub fn stage_failback(
        &mut self,
        staging: &FailbackStaging,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        if let FailbackOutcome::Error(e) = &staging.outcome
            && !FAILBACK_REPLICATION_ERRORS.contains(&e.as_str())
        {
            return Err(format!(
                "outcome.error {e:?} is not a FailbackReplicationError of the model"
            ));
        }
        let sync = staging.sync_seconds.unwrap_or(DEFAULT_SYNC_SECONDS);
        if !sync.is_finite() || sync < 0.0 {
            return Err(format!("syncSeconds {sync} is not a non-negative number"));
        }
        let ids = self.select(&staging.selector()?)?;
        let live: BTreeMap<String, String> = self
            .instances(now)
            .into_iter()
            .filter(|(_, r)| r.terminated.is_none())
            .map(|(id, r)| (r.source_server_id, id))
            .collect();
        let mut instances = Vec::with_capacity(ids.len());
        for id in &ids {
            let instance = live
                .get(id)
                .ok_or_else(|| format!("server {id} has no recovery instance"))?;
            instances.push(instance.clone());
        }
        let started = truncate_to_micros(now);
        let synced = started + seconds(sync * self.timings.time_scale);
        for instance in &instances {
            let reversed = self.failbacks.get(instance).is_some_and(|f| f.reversed);
            self.failbacks.insert(
                instance.clone(),
                FailbackReplication {
                    started,
                    synced,
                    outcome: staging.outcome.clone(),
                    fail_launch: staging.fail_launch,
                    reversed,
                },
            );
        }
        Ok(instances)
    }
}
