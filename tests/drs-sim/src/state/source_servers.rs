//! DescribeSourceServers: each server's replication, last launch and recovery instance.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::paging::{decode_token, take_page, with_token};
use super::{InstanceRecord, ServerEntry, SimState};
use crate::config::DateStyle;
use crate::lifecycle::LaunchStatus;
use crate::replication;
use crate::wire::{self, ApiError};

impl SimState {
    pub(super) fn describe_source_servers(
        &self,
        req: &wire::DescribeSourceServersRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        let filters = req.filters.as_ref();
        // The DRS API reference, DescribeSourceServersRequestFilters: `sourceServerIDs` is
        // "an array of Source Servers IDs that should be returned. An empty array means all
        // Source Servers", of at most 200 items (the model's check). An ID the account does
        // not have is simply absent from the answer (the reference names no error for it).
        let ids: HashSet<&str> = filters
            .map(|f| f.source_server_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let hardware = filters.and_then(|f| f.hardware_id.as_deref());
        let staging = filters.map(|f| f.staging_account_ids.as_slice());
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "ss:") {
            return Ok(empty);
        }
        let after = decode_token(req.next_token.as_deref(), "ss:")?;
        let instances = self.instances(now);
        let matching = self.servers.values().filter(|e| {
            (ids.is_empty() || ids.contains(e.def.id.as_str()))
                // Simulated servers have no hardware ID and live in this account.
                && hardware.is_none()
                && staging.is_none_or(|s| s.is_empty() || s.contains(&self.account_id))
                && after.as_deref().is_none_or(|a| e.def.id.as_str() > a)
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| page.last().map(|e| format!("ss:{}", e.def.id)));
        let items: Vec<Value> = page
            .iter()
            .map(|e| self.source_server_json(e, &instances, now))
            .collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }

    fn source_server_json(
        &self,
        entry: &ServerEntry,
        instances: &BTreeMap<String, InstanceRecord>,
        now: OffsetDateTime,
    ) -> Value {
        let def = &entry.def;
        let replication = entry.timeline.at(now);
        let mut life_cycle = json!({
            "addedToServiceDateTime": self.date(entry.added),
            "firstByteDateTime": self.date(entry.added),
            // Moves with time while the agent is seen, stops when it is not.
            "lastSeenByServiceDateTime": self.date(entry.timeline.last_seen(now).min(now)),
        });
        let mut last_result = "NOT_STARTED";
        if let Some(job) = entry.last_launch_job.map(|i| &self.jobs[i]) {
            let status = job
                .servers
                .iter()
                .find(|s| s.source_server_id == def.id)
                .map_or(LaunchStatus::Pending, |s| s.status(job.kind, now));
            last_result = match status {
                LaunchStatus::Launched => "SUCCEEDED",
                LaunchStatus::Failed => "FAILED",
                _ => "PENDING",
            };
            life_cycle["lastLaunch"] = json!({
                "initiated": {
                    "apiCallDateTime": self.date(job.created),
                    "jobID": job.id,
                    "type": if job.kind.is_drill() == Some(true) { "DRILL" } else { "RECOVERY" },
                },
                "status": status.as_str(),
            });
        }
        let mut v = json!({
            "sourceServerID": def.id,
            "arn": self.arn("source-server", &def.id),
            "tags": def.tags,
            "lastLaunchResult": last_result,
            "replicationDirection": "FAILOVER",
            "dataReplicationInfo": {
                "dataReplicationState": replication.state,
                "lagDuration": replication::iso_duration(
                    entry.timeline.not_replicating_since(now).map_or(time::Duration::ZERO, |t| now - t),
                ),
                "replicatedDisks": [],
            },
            "lifeCycle": life_cycle,
            "sourceProperties": {
                "identificationHints": { "hostname": def.hostname, "fqdn": def.hostname },
                "lastUpdatedDateTime": self.date(entry.added),
            },
        });
        if let Some(error) = &replication.error {
            v["dataReplicationInfo"]["dataReplicationError"] = json!({
                "error": error,
                "rawError": replication_raw_error(error, entry.timeline.last_seen(now), self.date_style),
            });
        }
        if let Some((id, _)) = instances
            .iter()
            .find(|(_, r)| r.source_server_id == def.id && r.terminated.is_none())
        {
            v["recoveryInstanceId"] = Value::from(id.clone());
        }
        v
    }
}

/// The `rawError` of a replication error, as the DRS console shows them.
fn replication_raw_error(error: &str, last_seen: OffsetDateTime, style: DateStyle) -> String {
    match error {
        "AGENT_NOT_SEEN" => format!(
            "The AWS Replication Agent on the source server has not been seen by the service \
             since {}",
            wire::format_date(last_seen, style)
        ),
        "SNAPSHOTS_FAILURE" => "Failed to take EBS snapshots of the staging disks".to_owned(),
        "NOT_CONVERGING" => {
            "Replication is not converging: the source server writes faster than it \
             replicates"
                .to_owned()
        }
        "UNSTABLE_NETWORK" => {
            "The network between the source server and the replication server is unstable"
                .to_owned()
        }
        other => format!("Replication failed: {other}"),
    }
}
