//! StartRecovery: the servers and snapshots a launch job is for, and each server's launch
//! schedule (when it launches, whether and where it fails, its post-launch actions).

use std::collections::HashSet;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::SimState;
use super::limits::check_tags;
use crate::fixture;
use crate::job_events::{FailStage, GENERIC_SKIP_REASON};
use crate::launch_actions::PostLaunch;
use crate::lifecycle::{
    JobKind, SNAPSHOT_SHARE, ScheduledServer, SnapshotSource, UsedSnapshot, seconds,
    truncate_to_micros,
};
use crate::replication;
use crate::wire::{self, ApiError};

/// The snapshot a server launches from, and whether DRS has deleted it since it was named.
pub(super) struct ChosenSnapshot {
    snapshot: Option<UsedSnapshot>,
    deleted: bool,
}

impl SimState {
    pub(super) fn start_recovery(
        &mut self,
        req: &wire::StartRecoveryRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let ids = self.requested_servers(req)?;
        // Each server's snapshot: the one named in recoverySnapshotID (it must be one of
        // that server's), else the latest one.
        let chosen = req
            .source_servers
            .iter()
            .map(|s| self.choose_snapshot(s, now))
            .collect::<Result<Vec<_>, _>>()?;
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
        let created = truncate_to_micros(now);
        let (started, listed) = self.job_start(created);
        let mut servers = Vec::with_capacity(ids.len());
        for (id, chosen) in ids.iter().zip(chosen) {
            servers.push(self.schedule_launch(id, chosen, started, now));
        }
        let index = self.insert_job(kind, tags, created, (started, listed), servers);
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.last_launch_job = Some(index);
            }
        }
        Ok(json!({ "job": self.job_json(&self.jobs[index], now) }))
    }

    /// The request's source server IDs, each listed once and each a known server.
    fn requested_servers(&self, req: &wire::StartRecoveryRequest) -> Result<Vec<String>, ApiError> {
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
        Ok(ids)
    }

    /// The snapshot one server launches from: the one its `recoverySnapshotID` names, else
    /// its latest (None: it has none).
    pub(super) fn choose_snapshot(
        &self,
        s: &wire::StartRecoverySourceServer,
        now: OffsetDateTime,
    ) -> Result<ChosenSnapshot, ApiError> {
        let id = &s.source_server_id;
        let snapshots = self.recovery_snapshots(id, now).unwrap_or_default();
        let Some(pit) = s.recovery_snapshot_id.as_deref() else {
            let latest = snapshots.last().map(|snap| UsedSnapshot {
                snapshot_id: snap.snapshot_id.clone(),
                timestamp: snap.timestamp,
                requested: false,
            });
            return Ok(ChosenSnapshot {
                snapshot: latest,
                deleted: false,
            });
        };
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
            return Ok(ChosenSnapshot {
                snapshot: Some(UsedSnapshot {
                    snapshot_id: gone.snapshot_id,
                    timestamp: gone.timestamp,
                    requested: true,
                }),
                deleted: true,
            });
        }
        let Some(snap) = found else {
            return Err(ApiError::field(
                "sourceServers",
                format!("Recovery snapshot {pit} is not a snapshot of source server {id}"),
            ));
        };
        Ok(ChosenSnapshot {
            snapshot: Some(UsedSnapshot {
                snapshot_id: snap.snapshot_id.clone(),
                timestamp: snap.timestamp,
                requested: true,
            }),
            deleted: false,
        })
    }

    /// One server's part in a launch job that leaves PENDING at `started`: the snapshot it
    /// launches from, whether (and where) it fails or is skipped, its instance and its
    /// post-launch actions.
    pub(super) fn schedule_launch(
        &mut self,
        id: &str,
        chosen: ChosenSnapshot,
        started: OffsetDateTime,
        now: OffsetDateTime,
    ) -> ScheduledServer {
        let scale = self.timings.time_scale;
        let replicating = self.servers[id].timeline.at(now).takes_snapshots();
        // Without recoverySnapshotID a replicating server launches from an on-demand
        // snapshot taken when its launch starts (instances.rs).
        let snapshot = match chosen.snapshot {
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
            Some(snap) if chosen.deleted => (
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
        ScheduledServer {
            source_server_id: id.to_owned(),
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
        }
    }
}
