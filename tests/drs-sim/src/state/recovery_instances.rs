//! Recovery instances over time (launches replace, TERMINATE jobs remove),
//! DescribeRecoveryInstances and TerminateRecoveryInstances.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::paging::{decode_token, take_page, with_token};
use super::{InstanceRecord, SimState};
use crate::job_events::FailStage;
use crate::lifecycle::{
    Job, JobKind, ScheduledServer, SnapshotSource, seconds, truncate_to_micros,
};
use crate::wire::{self, ApiError};

impl SimState {
    /// Every recovery instance ever launched, with when it was terminated, as of `now`.
    ///
    /// Launches and terminations are replayed in time order: a launch replaces the source
    /// server's previous instance (DRS keeps one recovery instance per source server), and a
    /// TERMINATE job's server removes its instance when it reaches TERMINATED.
    pub(super) fn instances(&self, now: OffsetDateTime) -> BTreeMap<String, InstanceRecord> {
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

    pub(super) fn describe_recovery_instances(
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
                let is_drill = job.kind.is_drill().unwrap_or(false);
                let (failback, replication) = self.failback_json(id, is_drill, now);
                let origin = server.map_or("ON_PREMISES", |s| s.def.origin_environment.as_str());
                let mut item = json!({
                    "recoveryInstanceID": id,
                    "ec2InstanceID": id,
                    "ec2InstanceState": if terminating.contains(id.as_str()) { "SHUTTING-DOWN" } else { "RUNNING" },
                    "jobID": job.id,
                    "sourceServerID": r.source_server_id,
                    "arn": self.arn("recovery-instance", id),
                    "tags": tags,
                    "isDrill": is_drill,
                    "originEnvironment": origin,
                    "failback": failback,
                    "pointInTimeSnapshotDateTime": self.date(
                        instance_point_in_time(job, &r.source_server_id),
                    ),
                    "recoveryInstanceProperties": {
                        "identificationHints": { "hostname": hostname },
                        "networkInterfaces": server.map(|s| vec![json!({
                            "ips": [s.def.recovered_ip],
                            "isPrimary": true,
                        })]).unwrap_or_default(),
                        "lastUpdatedDateTime": self.date(r.launched),
                    },
                });
                if let Some(info) = replication {
                    item["dataReplicationInfo"] = info;
                }
                item
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

    pub(super) fn terminate_recovery_instances(
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
}

/// The time of the snapshot a launch job's server launched from (the model's
/// `RecoveryInstance.pointInTimeSnapshotDateTime`).
pub(super) fn instance_point_in_time(job: &Job, source_server_id: &str) -> OffsetDateTime {
    job.servers
        .iter()
        .find(|s| s.source_server_id == source_server_id)
        .and_then(|s| s.snapshot.as_ref())
        .map_or(job.started, |snap| snap.timestamp)
}
