//! Recovery instances as DRS lists them: DescribeRecoveryInstances by source server, every
//! page, and the rule that keeps only one execution's instances.
//!
//! Why not the jobs' `participatingServers[].recoveryInstanceID`: the DRS API model requires
//! none of ParticipatingServer's members, and real DRS does not always fill that one in, even
//! for a LAUNCHED server. An instance found only there can be missed (a drill's instance left
//! running while its clean-up says DONE). DescribeRecoveryInstances lists every instance of a
//! source server, with `jobID` ("The ID of the Job that created the Recovery Instance"),
//! `isDrill` and `pointInTimeSnapshotDateTime` (the model's RecoveryInstance; all optional):
//! an instance is this execution's only when its `jobID` is one of the execution's launch jobs
//! and its `isDrill` matches the execution's mode. An instance without either is nobody's.

use std::collections::BTreeSet;

use aws_sdk_drs::types::DescribeRecoveryInstancesRequestFilters;

use super::SdkDrs;
use crate::AwsError;
use crate::failure::from_sdk;

/// DescribeRecoveryInstances accepts at most this many IDs in `filters.sourceServerIDs` (the
/// model's SourceServerIDs: "max": 200).
pub const MAX_SOURCE_SERVER_IDS_PER_CALL: usize = 200;

/// Instances asked for per page.
const INSTANCES_PER_PAGE: i32 = 200;

/// A recovery instance, as DescribeRecoveryInstances lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInstance {
    pub id: String,
    pub source_server_id: String,
    /// The launch job that created it (`jobID`).
    pub job_id: Option<String>,
    /// `isDrill`.
    pub is_drill: Option<bool>,
    /// `pointInTimeSnapshotDateTime`: the snapshot it launched from (an on-demand one too).
    pub point_in_time: Option<String>,
    pub ec2_instance_id: Option<String>,
    /// The private IPv4 addresses of its network interfaces
    /// (`recoveryInstanceProperties.networkInterfaces[].ips`), in DRS's order.
    pub private_ips: Vec<String>,
    /// The source's host name as DRS identified it
    /// (`recoveryInstanceProperties.identificationHints.hostname`).
    pub hostname: Option<String>,
    /// Its failback (`failback.state` and the data replicated back); None when DRS gave none.
    pub failback: Option<super::InstanceFailback>,
}

impl RecoveryInstance {
    /// Whether it was made by one of `launch_jobs` in the mode `is_drill`: an instance that
    /// names no job or no mode is not taken for anyone's.
    pub fn made_by(&self, launch_jobs: &BTreeSet<String>, is_drill: bool) -> bool {
        self.job_id
            .as_ref()
            .is_some_and(|j| launch_jobs.contains(j))
            && self.is_drill == Some(is_drill)
    }
}

/// The instances of `instances` that `launch_jobs` made in the mode `is_drill`.
pub fn of_execution(
    instances: Vec<RecoveryInstance>,
    launch_jobs: &BTreeSet<String>,
    is_drill: bool,
) -> Vec<RecoveryInstance> {
    instances
        .into_iter()
        .filter(|i| i.made_by(launch_jobs, is_drill))
        .collect()
}

fn instance_of(i: &aws_sdk_drs::types::RecoveryInstance) -> Option<RecoveryInstance> {
    let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    Some(RecoveryInstance {
        id: non_empty(i.recovery_instance_id())?,
        source_server_id: non_empty(i.source_server_id())?,
        job_id: non_empty(i.job_id()),
        is_drill: i.is_drill(),
        point_in_time: non_empty(i.point_in_time_snapshot_date_time()),
        ec2_instance_id: non_empty(i.ec2_instance_id()),
        private_ips: i
            .recovery_instance_properties()
            .map(|p| {
                p.network_interfaces()
                    .iter()
                    .flat_map(|n| n.ips().iter().cloned())
                    .filter(|ip| !ip.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        hostname: non_empty(
            i.recovery_instance_properties()
                .and_then(|p| p.identification_hints())
                .and_then(|h| h.hostname()),
        ),
        failback: super::failback::failback_of(i),
    })
}

impl SdkDrs {
    /// [`super::Drs::recovery_instances_of`]: batches of 200 source servers, every page through
    /// the SDK's paginator (on over short and empty pages while a `nextToken` comes back).
    pub(super) async fn list_recovery_instances(
        &self,
        source_server_ids: &[String],
    ) -> Result<Vec<RecoveryInstance>, AwsError> {
        let mut out = Vec::new();
        for batch in source_server_ids.chunks(MAX_SOURCE_SERVER_IDS_PER_CALL) {
            let mut pages = self
                .client
                .describe_recovery_instances()
                .filters(
                    DescribeRecoveryInstancesRequestFilters::builder()
                        .set_source_server_ids(Some(batch.to_vec()))
                        .build(),
                )
                .max_results(INSTANCES_PER_PAGE)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| from_sdk("DRS DescribeRecoveryInstances", &e))?;
                out.extend(page.items().iter().filter_map(instance_of));
            }
        }
        Ok(out)
    }
}
