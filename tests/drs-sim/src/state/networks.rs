//! Source networks: DescribeSourceNetworks, StartSourceNetworkRecovery (a job of its own, see
//! [`crate::network`]) and their staging (networks added, recoveries made to fail or slow).

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::SimState;
use super::limits::check_tags;
use super::paging::{decode_token, take_page, with_token};
use crate::lifecycle::{JobKind, seconds, truncate_to_micros};
use crate::network::{ScheduledNetwork, SourceNetworkSpec};
use crate::wire::{self, ApiError};

/// A source network and what its recoveries left.
pub(super) struct NetworkEntry {
    pub(super) spec: SourceNetworkSpec,
    /// The stack its first recovery deployed (then `cfnStackName`, `launchedVpcID`).
    stack: Option<(String, String)>,
    /// Its last recovery: when it was asked for, and the job.
    last: Option<(OffsetDateTime, usize)>,
}

impl NetworkEntry {
    pub(super) fn new(spec: SourceNetworkSpec) -> Self {
        Self {
            spec,
            stack: None,
            last: None,
        }
    }
}

/// Model: DescribeSourceNetworksRequest.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeSourceNetworksRequest {
    #[serde(default)]
    filters: Option<DescribeSourceNetworksFilters>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

/// Model: DescribeSourceNetworksRequestFilters ("An empty array means all Source Networks").
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeSourceNetworksFilters {
    #[serde(default, rename = "sourceNetworkIDs")]
    source_network_ids: Vec<String>,
    #[serde(default, rename = "originAccountID")]
    origin_account_id: Option<String>,
    #[serde(default)]
    origin_region: Option<String>,
}

/// Model: StartSourceNetworkRecoveryRequest.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartSourceNetworkRecoveryRequest {
    source_networks: Vec<NetworkEntryRequest>,
    #[serde(default)]
    deploy_as_new: Option<bool>,
    #[serde(default)]
    tags: Option<std::collections::BTreeMap<String, String>>,
}

/// Model: StartSourceNetworkRecoveryRequestNetworkEntry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkEntryRequest {
    #[serde(rename = "sourceNetworkID")]
    source_network_id: String,
    #[serde(default)]
    cfn_stack_name: Option<String>,
}

impl SimState {
    /// Adds source networks (or replaces those with the same ID). All or nothing.
    pub fn upsert_networks(&mut self, specs: &[SourceNetworkSpec]) -> Result<(), String> {
        for s in specs {
            s.validate()?;
        }
        for s in specs {
            self.networks
                .insert(s.id.clone(), NetworkEntry::new(s.clone()));
        }
        Ok(())
    }

    /// Stages the recoveries of a network from now on: failing (with a `rawError`) or not,
    /// and how long they take (None: as it was).
    pub fn set_network_recovery(
        &mut self,
        id: &str,
        fails: bool,
        reason: Option<String>,
        recovery_seconds: Option<f64>,
    ) -> Result<(), String> {
        let entry = self
            .networks
            .get_mut(id)
            .ok_or_else(|| format!("{id} is not a known source network"))?;
        entry.spec.fail_recovery = fails;
        entry.spec.fail_reason = reason;
        if let Some(s) = recovery_seconds {
            if !s.is_finite() || s < 0.0 {
                return Err("recoverySeconds must be 0 or more".to_owned());
            }
            entry.spec.recovery_seconds = s;
        }
        Ok(())
    }

    pub fn network_specs(&self) -> Vec<SourceNetworkSpec> {
        self.networks.values().map(|n| n.spec.clone()).collect()
    }

    fn network_json(&self, n: &NetworkEntry, now: OffsetDateTime) -> Value {
        let s = &n.spec;
        let mut v = json!({
            "sourceNetworkID": s.id,
            "sourceVpcID": s.vpc(),
            "arn": self.arn("source-network", &s.id),
            "tags": s.tags,
            "replicationStatus": s.replication_status,
            "sourceAccountID": s.source_account_id.clone().unwrap_or_else(|| self.account_id.clone()),
            "sourceRegion": s.source_region.clone().unwrap_or_else(|| self.region.clone()),
        });
        if let Some(d) = &s.replication_status_details {
            v["replicationStatusDetails"] = Value::from(d.clone());
        }
        if let Some((at, index)) = n.last {
            let job = &self.jobs[index];
            let network = job.networks.iter().find(|x| x.source_network_id == s.id);
            // Model: RecoveryResult.
            let result = match network.map(|x| x.status(now)) {
                Some(crate::lifecycle::LaunchStatus::Launched) => "SUCCESS",
                Some(crate::lifecycle::LaunchStatus::Failed) => "FAIL",
                _ => "IN_PROGRESS",
            };
            v["lastRecovery"] = json!({
                "apiCallDateTime": self.date(at),
                "jobID": job.id,
                "lastRecoveryResult": result,
            });
            if result == "SUCCESS"
                && let Some((stack, vpc)) = &n.stack
            {
                v["cfnStackName"] = Value::from(stack.clone());
                v["launchedVpcID"] = Value::from(vpc.clone());
            }
        }
        v
    }

    pub(super) fn describe_source_networks(
        &self,
        req: &DescribeSourceNetworksRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "sn:") {
            return Ok(empty);
        }
        let after = decode_token(req.next_token.as_deref(), "sn:")?;
        let f = req.filters.as_ref();
        let ids: HashSet<&str> = f
            .map(|f| f.source_network_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let account = f.and_then(|f| f.origin_account_id.as_deref());
        let region = f.and_then(|f| f.origin_region.as_deref());
        let matching = self.networks.iter().filter(|(id, n)| {
            (ids.is_empty() || ids.contains(id.as_str()))
                && account.is_none_or(|a| {
                    n.spec
                        .source_account_id
                        .as_deref()
                        .unwrap_or(&self.account_id)
                        == a
                })
                && region
                    .is_none_or(|r| n.spec.source_region.as_deref().unwrap_or(&self.region) == r)
                && after.as_deref().is_none_or(|a| id.as_str() > a)
        });
        let (page, more) = take_page(matching, size);
        let next = more
            .then(|| page.last().map(|(id, _)| format!("sn:{id}")))
            .flatten();
        let items: Vec<Value> = page
            .iter()
            .map(|(_, n)| self.network_json(n, now))
            .collect();
        Ok(with_token(json!({ "items": items }), next))
    }

    pub(super) fn start_source_network_recovery(
        &mut self,
        req: &StartSourceNetworkRecoveryRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        // The model's check has held sourceNetworks to 1..=100 well-formed IDs and each
        // cfnStackName to its pattern.
        let mut seen = HashSet::new();
        for n in &req.source_networks {
            let id = &n.source_network_id;
            if !seen.insert(id.as_str()) {
                return Err(ApiError::field(
                    "sourceNetworks",
                    format!("Source network {id} is listed more than once"),
                ));
            }
            if !self.networks.contains_key(id) {
                return Err(ApiError::field(
                    "sourceNetworks",
                    format!("Source network {id} does not exist"),
                ));
            }
            // One recovery of a network at a time (model: ConflictException).
            if let Some((_, job)) = self.networks[id].last
                && self.jobs[job].is_active(now)
            {
                return Err(ApiError::conflict(
                    format!("Source network {id} is already in an active recovery job"),
                    id,
                    "SOURCE_NETWORK",
                ));
            }
        }
        let tags = req.tags.clone().unwrap_or_default();
        check_tags(&tags)?;
        let deploy_as_new = req.deploy_as_new.unwrap_or(false);
        let created = truncate_to_micros(now);
        let (started, listed) = self.job_start(created);
        let scale = self.timings.time_scale;
        let mut networks = Vec::with_capacity(req.source_networks.len());
        for r in &req.source_networks {
            let target_vpc = self.hex_id("vpc-");
            let n = &self.networks[&r.source_network_id];
            let update = n.stack.is_some() && !deploy_as_new;
            let stack = r
                .cfn_stack_name
                .clone()
                .or_else(|| n.stack.as_ref().map(|s| s.0.clone()).filter(|_| update))
                .unwrap_or_else(|| format!("drs-{}", r.source_network_id));
            networks.push(ScheduledNetwork {
                source_network_id: r.source_network_id.clone(),
                source_vpc: n.spec.vpc(),
                target_vpc,
                cfn_stack_name: stack,
                update,
                start: started,
                end: started + seconds(n.spec.recovery_seconds * scale),
                fails: n.spec.fail_recovery,
                fail_reason: n.spec.fail_reason.clone(),
            });
        }
        let update = networks.iter().all(|n| n.update);
        let index = self.insert_job(
            JobKind::NetworkRecovery { update },
            tags,
            created,
            (started, listed),
            Vec::new(),
        );
        for n in &networks {
            if let Some(entry) = self.networks.get_mut(&n.source_network_id) {
                entry.last = Some((created, index));
                if !n.fails {
                    entry.stack = Some((n.cfn_stack_name.clone(), n.target_vpc.clone()));
                }
            }
        }
        self.jobs[index].networks = networks;
        Ok(json!({ "job": self.job_json(&self.jobs[index], now) }))
    }
}

pub(super) fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    wire::parse_body(body)
}
