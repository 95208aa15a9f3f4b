//! Recovery instances as DRS names them, and launches from an on-demand snapshot.
//!
//! - `recoveryInstanceID` left out: the DRS model's `ParticipatingServer` requires none of its
//!   members, `recoveryInstanceID` included, and real DRS does not always fill it in for a
//!   LAUNCHED server. A server with `omitRecoveryInstanceId` (fixture, `defaults`, or
//!   `POST /_sim/omit-recovery-instance-id`) never has it in DescribeJobs'
//!   `participatingServers` (nor in StartRecovery's or TerminateRecoveryInstances' job): a
//!   client finds the instance through DescribeRecoveryInstances (`sourceServerID`, `jobID`,
//!   `isDrill`), which always lists it.
//! - On-demand snapshot: `StartRecoveryRequestSourceServer.recoverySnapshotID` is "The ID of a
//!   Recovery Snapshot we want to recover from. Omit this field to launch from the latest data
//!   by taking an on-demand snapshot." (the model). A replicating server launched without it
//!   gets a new snapshot taken when its launch starts (SNAPSHOT_START in the job log), and its
//!   recovery instance's `pointInTimeSnapshotDateTime` is that snapshot's time.

use serde::Deserialize;
use time::OffsetDateTime;

use super::{ServerSelector, SimState};
use crate::lifecycle::UsedSnapshot;

/// `POST /_sim/omit-recovery-instance-id`: `{"servers": [...]}`, `{"tags": {...}}` or
/// `{"all": true}`, and `omit` (default true; false names the instances again).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OmitInstanceIdRequest {
    #[serde(default)]
    servers: Option<Vec<String>>,
    #[serde(default)]
    tags: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    all: Option<bool>,
    #[serde(default)]
    omit: Option<bool>,
}

impl OmitInstanceIdRequest {
    /// The servers it selects and whether their instance IDs are left out.
    pub fn parts(&self) -> Result<(ServerSelector, bool), String> {
        let selector = match (&self.servers, &self.tags, self.all) {
            (Some(ids), None, None) => ServerSelector::Servers(ids.clone()),
            (None, Some(tags), None) => ServerSelector::Tags(tags.clone()),
            (None, None, Some(true)) => ServerSelector::All,
            _ => {
                return Err(
                    "give exactly one of \"servers\": [...], \"tags\": {...}, \"all\": true"
                        .to_owned(),
                );
            }
        };
        Ok((selector, self.omit.unwrap_or(true)))
    }
}

impl SimState {
    /// Leaves `recoveryInstanceID` out of the selected servers' participatingServers (or
    /// names it again); returns their IDs.
    pub fn set_omit_recovery_instance_id(
        &mut self,
        selector: &ServerSelector,
        omit: bool,
    ) -> Result<Vec<String>, String> {
        let ids = self.select(selector)?;
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.def.omit_recovery_instance_id = omit;
            }
        }
        Ok(ids)
    }

    /// Whether DescribeJobs names this server's recovery instance in participatingServers.
    pub(super) fn names_recovery_instance(&self, source_server_id: &str) -> bool {
        self.servers
            .get(source_server_id)
            .is_none_or(|e| !e.def.omit_recovery_instance_id)
    }

    /// The snapshot DRS takes for a launch without `recoverySnapshotID`, when the launch
    /// starts (`taken`): a new `pit-` ID, not one of the server's scheduled snapshots.
    pub(super) fn on_demand_snapshot(&mut self, taken: OffsetDateTime) -> UsedSnapshot {
        UsedSnapshot {
            snapshot_id: self.hex_id("pit-"),
            timestamp: taken,
            requested: false,
        }
    }
}
