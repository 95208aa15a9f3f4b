//! An operator's retry resolves its launch points again, at the retry's time.
//!
//! Why: DRS keeps the 10-minute point-in-time snapshots for 60 minutes and the hourly ones
//! for 24 hours ("The snapshot frequency intervals and retention durations for the MINUTE rule
//! (interval=10, retentionDuration=60) and HOUR rule (interval=1, retentionDuration=24) are
//! fixed", DRS User Guide, point-in-time). A retry decided an hour after the first attempt
//! would name snapshots that no longer exist (`StartRecoveryRequestSourceServer.
//! recoverySnapshotID`), so each server it relaunches gets its newest snapshot now (at or
//! before the execution's `pointInTime`, or the latest), and the wave's SERVERS item records
//! it: the launch and the report read the same point.

use std::collections::BTreeSet;

use drs_waves_contract::{RunContext, WaveSpec};
use time::OffsetDateTime;
use tracing::info;

use super::Handlers;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, ServerSelection};
use drs_waves_history::History;

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Looks up the launch points of `relaunch` (the retry's servers, all required) now and
    /// records them in place of the earlier attempt's; the other servers' points are kept. A
    /// server without a snapshot now fails the retry (PreflightFailed), and a DRILL whose
    /// servers no longer replicate healthily fails with ReplicationLost, as a first launch
    /// does. Recorded before the retry's chunks, so a start task that dies in between
    /// resolves them again, and one that finds the chunks launches from what is recorded.
    pub(super) async fn resolve_retry_points(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        relaunch: &[String],
        now: OffsetDateTime,
    ) -> Result<(), TaskError> {
        let selection = ServerSelection {
            ids: relaunch.iter().cloned().collect(),
            tag_sets: Vec::new(),
        };
        let servers = self
            .drs_of(wave.account.as_ref())
            .await
            .select_source_servers(&selection)
            .await?;
        let (_, fresh) = self
            .launch_sources(run, wave, &servers, relaunch, now)
            .await?;
        let replaced: BTreeSet<&str> = fresh.iter().map(|p| p.server_id.as_str()).collect();
        let mut points: Vec<_> = self
            .history
            .launch_points(&run.execution_id, wave.index)
            .await?
            .into_iter()
            .filter(|p| !replaced.contains(p.server_id.as_str()))
            .collect();
        for p in &fresh {
            info!(wave = %wave.name, server = %p.server_id, snapshot = ?p.snapshot_id, taken_at = ?p.snapshot_taken_at,
                  "the retry's launch point, resolved now");
        }
        points.extend(fresh);
        points.sort_by(|a, b| a.server_id.cmp(&b.server_id));
        self.history
            .record_launch_points(&run.execution_id, wave.index, points)
            .await
            .map_err(TaskError::from)
    }
}
