//! [`FakeDrs`]'s recovery instances as drs-sim lists them: DescribeRecoveryInstances by source
//! server with `jobID`, `isDrill` and `pointInTimeSnapshotDateTime`; the knob that leaves
//! `recoveryInstanceID` out of the jobs' participatingServers (drs-sim's
//! `omitRecoveryInstanceId`: the model's ParticipatingServer requires none of its members); and
//! the launch point of a StartRecovery without `recoverySnapshotID` (an on-demand snapshot
//! taken when the job starts, here the job's creation time) for a replicating server.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{DrsState, FakeDrs, lock};
use drs_waves_aws::drs::{Job, RecoveryInstance, StartRecoveryRequest};
use drs_waves_rules::format_time;

/// What the fake knows of recovery instances beyond its jobs.
#[derive(Default)]
pub(super) struct InstanceState {
    /// Whether each launch job StartRecovery made is a drill (jobs added by a test have none).
    drill_jobs: HashMap<String, bool>,
    /// Per launch job and server, the time of the snapshot it launched from.
    points: HashMap<String, BTreeMap<String, String>>,
    /// Servers whose jobs do not name their recovery instance.
    omitted: HashSet<String>,
    omit_all: bool,
    /// Each DescribeRecoveryInstances by source servers, in order.
    calls: Vec<Vec<String>>,
    /// The private IP address each server's recovery instance has (none: it lists none).
    addresses: HashMap<String, String>,
}

impl FakeDrs {
    /// DescribeJobs (and StartRecovery's answer) leaves `recoveryInstanceID` out for these
    /// servers' entries; the instances still exist and are listed by
    /// [`drs_waves_aws::drs::Drs::recovery_instances_of`].
    pub fn omit_recovery_instance_ids_of(&self, servers: &[&str]) {
        let mut state = lock(&self.state);
        state
            .instances
            .omitted
            .extend(servers.iter().map(|s| s.to_string()));
    }

    /// As [`FakeDrs::omit_recovery_instance_ids_of`], for every server.
    pub fn omit_all_recovery_instance_ids(&self) {
        lock(&self.state).instances.omit_all = true;
    }

    /// The private IP address a server's recovery instances list (none unless set).
    pub fn set_private_ip(&self, server: &str, ip: &str) {
        lock(&self.state)
            .instances
            .addresses
            .insert(server.to_string(), ip.to_string());
    }

    /// The source servers of each DescribeRecoveryInstances-by-server call, in order.
    pub fn recovery_instance_calls(&self) -> Vec<Vec<String>> {
        lock(&self.state).instances.calls.clone()
    }

    /// A launch job's mode as StartRecovery made it, for tests that make jobs of their own.
    pub fn set_job_drill(&self, job_id: &str, is_drill: bool) {
        lock(&self.state)
            .instances
            .drill_jobs
            .insert(job_id.to_string(), is_drill);
    }

    /// A job as DescribeJobs shows it: without the recovery instance IDs the knob leaves out.
    pub(super) fn as_listed(state: &DrsState, mut job: Job) -> Job {
        let i = &state.instances;
        for s in &mut job.servers {
            if i.omit_all || i.omitted.contains(&s.source_server_id) {
                s.recovery_instance_id = None;
            }
        }
        job
    }

    /// Remembers a new launch job's mode and each server's launch point: the snapshot named,
    /// else an on-demand one taken now for a replicating server, else its latest.
    pub(super) fn record_launch(state: &mut DrsState, job: &Job, request: &StartRecoveryRequest) {
        let now = state.now.unwrap_or_else(time::OffsetDateTime::now_utc);
        let mut points = BTreeMap::new();
        for id in &request.source_server_ids {
            let snapshots = state.snapshots.get(id);
            let replicating = state.servers.iter().any(|s| &s.id == id && s.replicating());
            let point = match request.snapshot_ids.get(id) {
                Some(named) => snapshots
                    .and_then(|l| l.iter().find(|s| &s.id == named))
                    .map(|s| s.taken_at.clone()),
                None if replicating => Some(format_time(now)),
                None => snapshots.and_then(|l| l.last()).map(|s| s.taken_at.clone()),
            };
            if let Some(point) = point {
                points.insert(id.clone(), point);
            }
        }
        let i = &mut state.instances;
        i.drill_jobs.insert(job.id.clone(), request.is_drill);
        i.points.insert(job.id.clone(), points);
    }

    /// DescribeRecoveryInstances by source servers: each existing instance of a launch job.
    pub(super) fn instances_of(
        state: &mut DrsState,
        source_server_ids: Vec<String>,
    ) -> Vec<RecoveryInstance> {
        let existing = Self::existing(state);
        let wanted: HashSet<&str> = source_server_ids.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        for job in state
            .jobs
            .iter()
            .filter(|j| j.job_type.as_deref() != Some("TERMINATE"))
            .filter(|j| !state.failback.is_failback_job(&j.id))
        {
            for s in &job.servers {
                let Some(id) = s.recovery_instance_id.as_deref() else {
                    continue;
                };
                if !existing.contains(id) || !wanted.contains(s.source_server_id.as_str()) {
                    continue;
                }
                out.push(RecoveryInstance {
                    id: id.to_string(),
                    source_server_id: s.source_server_id.clone(),
                    job_id: Some(job.id.clone()),
                    is_drill: state.instances.drill_jobs.get(&job.id).copied(),
                    point_in_time: state
                        .instances
                        .points
                        .get(&job.id)
                        .and_then(|p| p.get(&s.source_server_id))
                        .cloned(),
                    ec2_instance_id: Some(id.to_string()),
                    private_ips: state
                        .instances
                        .addresses
                        .get(&s.source_server_id)
                        .cloned()
                        .into_iter()
                        .collect(),
                    hostname: Some(format!("host-{}", s.source_server_id)),
                    failback: Some(state.failback.of(id)),
                });
            }
        }
        state.instances.calls.push(source_server_ids);
        out
    }
}
