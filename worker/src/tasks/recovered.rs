//! The wave's recovered servers in this execution, as DRS lists them (DescribeRecoveryInstances
//! of the wave's planned servers, kept to the instances its launch jobs made in the run's
//! mode): what the health checks probe and what a wave's after-actions get.

use std::collections::BTreeSet;

use drs_waves_aws::drs::instances::{RecoveryInstance, of_execution};
use drs_waves_aws::drs::{Drs as _, DrsAccounts};
use drs_waves_contract::{RecoveredServer, WaveSpec};
use drs_waves_history::History;

use super::Handlers;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// The instances the wave's launch jobs (every attempt, as the history holds them) made in
    /// the mode `is_drill`, one per source server (DRS's newest listed first wins), by source
    /// server ID.
    pub(super) async fn wave_instances(
        &self,
        wave: &WaveSpec,
        execution_id: &str,
        is_drill: bool,
    ) -> Result<Vec<RecoveryInstance>, TaskError> {
        let recorded = self.history.get_wave(execution_id, wave.index).await?;
        let Some(recorded) = recorded else {
            return Ok(Vec::new());
        };
        let jobs: BTreeSet<String> = recorded
            .chunks
            .iter()
            .filter_map(|c| c.job_id.clone())
            .chain(recorded.job_ids.iter().cloned())
            .collect();
        let listed = self
            .drs_of(wave.account.as_ref())
            .await
            .recovery_instances_of(recorded.planned_servers())
            .await?;
        let mut out = of_execution(listed, &jobs, is_drill);
        out.sort_by(|a, b| a.source_server_id.cmp(&b.source_server_id));
        out.dedup_by(|a, b| a.source_server_id == b.source_server_id);
        Ok(out)
    }

    /// The wave's recovered servers for its after-actions, once it launched `launched` servers.
    /// DRS is eventually consistent (tests/drs-sim/README.md, "late listings"): fewer listed
    /// than launched is transient, and the check is tried again rather than handing the actions
    /// a partial list.
    pub(super) async fn recovered_for_actions(
        &self,
        wave: &WaveSpec,
        execution_id: &str,
        is_drill: bool,
        launched: u32,
    ) -> Result<Vec<RecoveredServer>, TaskError> {
        let listed = self.wave_instances(wave, execution_id, is_drill).await?;
        if listed.len() < launched as usize {
            return Err(TaskError::transient(
                "drs:DescribeRecoveryInstances",
                format!(
                    "wave '{}': DRS lists {} recovery instances of the {launched} servers launched; asking again",
                    wave.name,
                    listed.len()
                ),
            ));
        }
        Ok(listed.into_iter().map(recovered_server).collect())
    }
}

fn recovered_server(i: RecoveryInstance) -> RecoveredServer {
    RecoveredServer {
        source_server_id: i.source_server_id,
        hostname: i.hostname.unwrap_or_default(),
        recovery_instance_id: i.id,
        ec2_instance_id: i.ec2_instance_id.unwrap_or_default(),
        private_ips: i.private_ips,
    }
}
