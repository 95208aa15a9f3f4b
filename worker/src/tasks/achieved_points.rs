//! The point in time a launch from an on-demand snapshot achieved, read back after it.
//!
//! A healthy server launched without `recoverySnapshotID` gets a snapshot DRS takes when its
//! launch starts ("Omit this field to launch from the latest data by taking an on-demand
//! snapshot", the model's StartRecoveryRequestSourceServer), so no launch point is known before
//! the launch. Its recovery instance says it: `pointInTimeSnapshotDateTime` ("The date and time
//! of the Point in Time (PIT) snapshot that this Recovery Instance was launched from", the
//! model's RecoveryInstance). When the wave ends, that time is written to the wave's launch
//! points, which the report's RPO and server table read. The recovery point (RPO) of such a
//! server is how much older than the launch request (the job's `creationDateTime`) its data
//! is: 0 when DRS took the snapshot after the request.

use std::collections::BTreeMap;

use drs_waves_contract::{Mode, RunContext, WaveSpec};
use tracing::{info, warn};

use super::Handlers;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, Job, LaunchStatus};
use drs_waves_history::History;
use drs_waves_rules::{parse_time, seconds_between};

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Records the point in time of each server of the wave that LAUNCHED without a named
    /// snapshot and has none recorded yet, from its recovery instance: one made by the
    /// server's job in `jobs` (each server's latest launch) in the execution's mode. A server
    /// whose instance DRS does not list (yet) keeps an unknown point; the report says so.
    pub(super) async fn record_achieved_points(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        jobs: &[Job],
    ) -> Result<(), TaskError> {
        let mut points = self
            .history
            .launch_points(&run.execution_id, wave.index)
            .await?;
        let unknown: Vec<&str> = points
            .iter()
            .filter(|p| p.snapshot_id.is_none() && p.snapshot_taken_at.is_none())
            .map(|p| p.server_id.as_str())
            .collect();
        // Server -> the job it LAUNCHED in.
        let launched: BTreeMap<String, &Job> = jobs
            .iter()
            .flat_map(|j| j.servers.iter().map(move |s| (j, s)))
            .filter(|(_, s)| {
                s.launch_status == LaunchStatus::Launched
                    && unknown.contains(&s.source_server_id.as_str())
            })
            .map(|(j, s)| (s.source_server_id.clone(), j))
            .collect();
        if launched.is_empty() {
            return Ok(());
        }
        let is_drill = run.mode == Mode::Drill;
        let mut achieved: BTreeMap<String, (String, Option<u64>)> = BTreeMap::new();
        for instance in self
            .drs_of(wave.account.as_ref())
            .await
            .recovery_instances_of(launched.keys().cloned().collect())
            .await?
        {
            let Some(job) = launched.get(&instance.source_server_id) else {
                continue;
            };
            let ours = instance.job_id.as_deref() == Some(job.id.as_str())
                && instance.is_drill == Some(is_drill);
            let Some(at) = instance.point_in_time.filter(|_| ours) else {
                continue;
            };
            let rpo = match (
                parse_time(&at),
                job.created_at.as_deref().and_then(parse_time),
            ) {
                (Some(point), Some(requested)) => Some(seconds_between(point, requested)),
                _ => None,
            };
            achieved.insert(instance.source_server_id, (at, rpo));
        }
        for server in launched.keys().filter(|s| !achieved.contains_key(*s)) {
            warn!(wave = %wave.name, server = %server, "DRS lists no recovery instance of this launch with its point in time: the launch point stays unknown");
        }
        if achieved.is_empty() {
            return Ok(());
        }
        for p in &mut points {
            if let Some((at, rpo)) = achieved.get(&p.server_id) {
                info!(wave = %wave.name, server = %p.server_id, point_in_time = %at, rpo_seconds = ?rpo,
                      "launched from an on-demand snapshot: the point in time achieved");
                p.snapshot_taken_at = Some(at.clone());
                p.rpo_seconds = *rpo;
            }
        }
        self.history
            .record_launch_points(&run.execution_id, wave.index, points)
            .await
            .map_err(TaskError::from)
    }
}
