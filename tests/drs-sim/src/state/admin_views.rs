//! Jobs and recovery instances as the admin API shows them (`/_sim/jobs`,
//! `/_sim/recovery-instances`): what DRS shows plus the schedule behind it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::recovery_instances::instance_point_in_time;
use super::{SimState, rfc3339};
use crate::job_events::FailStage;
use crate::launch_actions::RunStatus;
use crate::lifecycle::{JobStatus, LAUNCH_FAILED_RAW_ERROR, LaunchStatus, SnapshotSource};

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
    /// A network recovery's networks (StartSourceNetworkRecovery); empty for other jobs.
    #[serde(default)]
    pub networks: Vec<JobNetworkSnapshot>,
}

/// One network of a network recovery job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobNetworkSnapshot {
    #[serde(rename = "sourceNetworkID")]
    pub source_network_id: String,
    pub launch_status: LaunchStatus,
    pub cfn_stack_name: String,
    #[serde(with = "rfc3339")]
    pub end_date_time: OffsetDateTime,
    pub fail_reason: Option<String>,
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
    /// DescribeRecoveryInstances' `failback.state` now (FAILBACK_NOT_STARTED, ...).
    #[serde(default)]
    pub failback_state: Option<String>,
    /// The failback launch job of its current failback, if one was made.
    #[serde(rename = "failbackJobID", default)]
    pub failback_job_id: Option<String>,
}

impl SimState {
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
                    networks: job
                        .networks
                        .iter()
                        .map(|n| JobNetworkSnapshot {
                            source_network_id: n.source_network_id.clone(),
                            launch_status: n.status(now),
                            cfn_stack_name: n.cfn_stack_name.clone(),
                            end_date_time: n.end,
                            fail_reason: n.raw_error(),
                        })
                        .collect(),
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
                let failback = self.failback_view(&id, now);
                InstanceSnapshot {
                    failback_state: Some(failback.state.to_owned()),
                    failback_job_id: failback.job_id,
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
