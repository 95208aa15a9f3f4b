//! Which recovery instances a report shows: those DescribeRecoveryInstances lists for the
//! execution's source servers whose `jobID` is one of the execution's launch jobs and whose
//! `isDrill` matches its mode (`drs/instances.rs` says why). Matching by source server alone
//! would show another execution's instance of the same server (an earlier drill's, or the
//! production instance of a recovery).

use std::collections::{BTreeMap, BTreeSet};

use crate::build::InstanceFacts;
use drs_waves_contract::Mode;

use drs_waves_aws::drs::RecoveryInstance;

/// The report's view of a listed instance.
pub fn facts_of(i: RecoveryInstance) -> InstanceFacts {
    InstanceFacts {
        recovery_instance_id: i.id,
        ec2_instance_id: i.ec2_instance_id,
        source_server_id: i.source_server_id,
        job_id: i.job_id,
        is_drill: i.is_drill,
        point_in_time: i.point_in_time,
        failback_job_id: i.failback.as_ref().and_then(|f| f.job_id.clone()),
        replicated_back_bytes: (i.failback.as_ref())
            .and_then(|f| u64::try_from(f.replicated_bytes).ok()),
    }
}

/// The execution's own instances of `listed`, by (launch job ID, source server ID). With the
/// mode unknown (an execution that failed before its history had one) only the job decides.
/// A FAILBACK launches no instance: its instances are the recovery instances its failback jobs
/// brought home, by (failback job ID, source server ID).
pub fn of_execution(
    listed: Vec<InstanceFacts>,
    launch_jobs: &BTreeSet<String>,
    mode: Option<Mode>,
) -> BTreeMap<(String, String), InstanceFacts> {
    if mode == Some(Mode::Failback) {
        return (listed.into_iter())
            .filter_map(|i| {
                let job = i
                    .failback_job_id
                    .clone()
                    .filter(|j| launch_jobs.contains(j))?;
                Some(((job, i.source_server_id.clone()), i))
            })
            .collect();
    }
    let wanted_drill = mode.map(|m| m == Mode::Drill);
    listed
        .into_iter()
        .filter(|i| wanted_drill.is_none_or(|d| i.is_drill == Some(d)))
        .filter_map(|i| {
            let job = i.job_id.clone().filter(|j| launch_jobs.contains(j))?;
            Some(((job, i.source_server_id.clone()), i))
        })
        .collect()
}
