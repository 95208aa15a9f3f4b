//! Source networks (DRS's "source network protection" for in-AWS sources) and the schedule of
//! one network's recovery in a StartSourceNetworkRecovery job.
//!
//! What the simulator does, and where each behaviour comes from:
//! - A source network (model: `SourceNetwork`) is a protected VPC: `sourceNetworkID`
//!   (`SourceNetworkID`: `sn-[0-9a-zA-Z]{17}`), `sourceVpcID`, `sourceAccountID`,
//!   `sourceRegion`, `replicationStatus` (`ReplicationStatus`: STOPPED, IN_PROGRESS, PROTECTED,
//!   ERROR), `cfnStackName` and `launchedVpcID` once recovered, `lastRecovery`
//!   (`RecoveryLifeCycle`: the job and its `RecoveryResult`).
//! - StartSourceNetworkRecovery ("Deploy VPC for the specified Source Network ... using a
//!   dedicated CloudFormation stack", the model's documentation of the operation) makes a DRS
//!   job whose `participatingResources` (model: `ParticipatingResource`, its
//!   `participatingResourceID.sourceNetworkID` and `launchStatus`) go PENDING -> IN_PROGRESS ->
//!   LAUNCHED or FAILED. The model's `JobType` has no network value; drs-sim says LAUNCH (the job
//!   creates resources) and `initiatedBy` CREATE_NETWORK_RECOVERY for a network without a stack
//!   (or `deployAsNew`), UPDATE_NETWORK_RECOVERY for one whose stack exists (model:
//!   `InitiatedBy`, `deployAsNew`: "Don't update existing CloudFormation Stack").
//! - The job's log (model: `JobLogEvent`) has JOB_START, DEPLOY_NETWORK_CONFIGURATION_START and
//!   _END (or UPDATE_NETWORK_CONFIGURATION_*), or on failure ..._FAILED and
//!   NETWORK_RECOVERY_FAIL with `rawError`, then JOB_END.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::lifecycle::{LaunchStatus, LogItem};

/// The message a failed network recovery logs when the network names no reason.
pub const NETWORK_FAILED_RAW_ERROR: &str =
    "CloudFormation stack creation failed: the stack rolled back";

/// A source network as a fixture or a test stages it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceNetworkSpec {
    /// `sn-` and 17 hex digits.
    #[serde(rename = "sourceNetworkID")]
    pub id: String,
    /// The protected VPC (`vpc-` and 8 or more hex digits); default: derived from the ID.
    #[serde(default, rename = "sourceVpcID")]
    pub source_vpc_id: Option<String>,
    /// Default: the simulator's account.
    #[serde(default, rename = "sourceAccountID")]
    pub source_account_id: Option<String>,
    /// Default: the simulator's region.
    #[serde(default)]
    pub source_region: Option<String>,
    /// STOPPED, IN_PROGRESS, PROTECTED (default) or ERROR.
    #[serde(default = "protected")]
    pub replication_status: String,
    #[serde(default)]
    pub replication_status_details: Option<String>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// How long its recovery takes (seconds, scaled by `timeScale`); default 2.
    #[serde(default = "two")]
    pub recovery_seconds: f64,
    /// A fault: its recovery ends FAILED.
    #[serde(default)]
    pub fail_recovery: bool,
    /// The `rawError` of a failed recovery.
    #[serde(default)]
    pub fail_reason: Option<String>,
}

fn protected() -> String {
    "PROTECTED".to_owned()
}

fn two() -> f64 {
    2.0
}

pub const REPLICATION_STATUSES: [&str; 4] = ["STOPPED", "IN_PROGRESS", "PROTECTED", "ERROR"];

impl SourceNetworkSpec {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            source_vpc_id: None,
            source_account_id: None,
            source_region: None,
            replication_status: protected(),
            replication_status_details: None,
            tags: Default::default(),
            recovery_seconds: two(),
            fail_recovery: false,
            fail_reason: None,
        }
    }

    pub fn with_recovery_seconds(mut self, seconds: f64) -> Self {
        self.recovery_seconds = seconds;
        self
    }

    pub fn failing(mut self, reason: Option<&str>) -> Self {
        self.fail_recovery = true;
        self.fail_reason = reason.map(str::to_owned);
        self
    }

    /// What the model's SourceNetwork shape allows, and a sane schedule.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = self.id.len() == 20
            && self
                .id
                .strip_prefix("sn-")
                .is_some_and(|t| t.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !id_ok {
            return Err(format!(
                "sourceNetworkID {:?} must be sn- and 17 letters or digits (model: SourceNetworkID)",
                self.id
            ));
        }
        if let Some(vpc) = &self.source_vpc_id {
            let ok = (12..=21).contains(&vpc.len())
                && vpc
                    .strip_prefix("vpc-")
                    .is_some_and(|t| t.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok {
                return Err(format!(
                    "sourceVpcID {vpc:?} must be vpc- and 8 to 17 hex digits (model: VpcID)"
                ));
            }
        }
        if !REPLICATION_STATUSES.contains(&self.replication_status.as_str()) {
            return Err(format!(
                "replicationStatus {:?} must be one of {REPLICATION_STATUSES:?} (model: ReplicationStatus)",
                self.replication_status
            ));
        }
        if !self.recovery_seconds.is_finite() || self.recovery_seconds < 0.0 {
            return Err("recoverySeconds must be a number of seconds, 0 or more".to_owned());
        }
        Ok(())
    }

    /// The protected VPC: the spec's, else one derived from the network's ID.
    pub fn vpc(&self) -> String {
        self.source_vpc_id
            .clone()
            .unwrap_or_else(|| format!("vpc-{}", hexify(&self.id[3..])))
    }
}

/// Hex digits standing for an ID's letters and digits (the VPC IDs drs-sim makes up).
fn hexify(s: &str) -> String {
    s.bytes()
        .map(|b| char::from(b"0123456789abcdef"[usize::from(b % 16)]))
        .collect()
}

/// What a network recovery's log event says of its network (model: SourceNetworkData, under
/// JobLogEventData's `eventResourceData`).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkEventData {
    pub source_network_id: String,
    pub source_vpc: String,
    /// The recovered VPC, once it exists.
    pub target_vpc: Option<String>,
    pub stack_name: String,
}

/// One network's recovery in a job.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledNetwork {
    pub source_network_id: String,
    /// The protected VPC, and the one its recovery makes.
    pub source_vpc: String,
    pub target_vpc: String,
    /// The stack it deploys (`cfnStackName`).
    pub cfn_stack_name: String,
    /// Whether the stack existed (UPDATE_...) or is new (DEPLOY_...).
    pub update: bool,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub fails: bool,
    pub fail_reason: Option<String>,
}

impl ScheduledNetwork {
    pub fn status(&self, now: OffsetDateTime) -> LaunchStatus {
        if now < self.start {
            LaunchStatus::Pending
        } else if now < self.end {
            LaunchStatus::InProgress
        } else if self.fails {
            LaunchStatus::Failed
        } else {
            LaunchStatus::Launched
        }
    }

    pub fn raw_error(&self) -> Option<String> {
        self.fails.then(|| {
            self.fail_reason
                .clone()
                .unwrap_or_else(|| NETWORK_FAILED_RAW_ERROR.to_owned())
        })
    }

    fn event_data(&self, ended: bool) -> NetworkEventData {
        NetworkEventData {
            source_network_id: self.source_network_id.clone(),
            source_vpc: self.source_vpc.clone(),
            target_vpc: (ended && !self.fails).then(|| self.target_vpc.clone()),
            stack_name: self.cfn_stack_name.clone(),
        }
    }

    /// Its log items (model: JobLogEvent), each naming the network in
    /// `eventResourceData.sourceNetworkData`; a failure's `rawError` names it too.
    pub fn log(&self, items: &mut Vec<LogItem>) {
        let at = |t: OffsetDateTime, event: &'static str, ended: bool| LogItem {
            network: Some(self.event_data(ended)),
            ..LogItem::job(t, event)
        };
        let (start, end, failed) = if self.update {
            (
                "UPDATE_NETWORK_CONFIGURATION_START",
                "UPDATE_NETWORK_CONFIGURATION_END",
                "UPDATE_NETWORK_CONFIGURATION_FAILED",
            )
        } else {
            (
                "DEPLOY_NETWORK_CONFIGURATION_START",
                "DEPLOY_NETWORK_CONFIGURATION_END",
                "DEPLOY_NETWORK_CONFIGURATION_FAILED",
            )
        };
        items.push(at(self.start, start, false));
        if self.fails {
            let raw = self
                .raw_error()
                .map(|r| format!("{}: {r}", self.source_network_id));
            items.push(LogItem {
                raw_error: raw.clone(),
                ..at(self.end, failed, true)
            });
            items.push(LogItem {
                raw_error: raw,
                ..at(self.end, "NETWORK_RECOVERY_FAIL", true)
            });
        } else {
            items.push(at(self.end, end, true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_network_recovery_goes_pending_in_progress_then_launched_or_failed() {
        let t0 = datetime!(2024-05-01 12:00:00 UTC);
        let mut n = ScheduledNetwork {
            source_network_id: "sn-0123456789abcdef0".into(),
            source_vpc: "vpc-01234567".into(),
            target_vpc: "vpc-89abcdef".into(),
            cfn_stack_name: "drs-sn".into(),
            update: false,
            start: t0 + time::Duration::seconds(1),
            end: t0 + time::Duration::seconds(3),
            fails: false,
            fail_reason: None,
        };
        assert_eq!(n.status(t0), LaunchStatus::Pending);
        assert_eq!(
            n.status(t0 + time::Duration::seconds(2)),
            LaunchStatus::InProgress
        );
        assert_eq!(
            n.status(t0 + time::Duration::seconds(3)),
            LaunchStatus::Launched
        );
        n.fails = true;
        assert_eq!(
            n.status(t0 + time::Duration::seconds(3)),
            LaunchStatus::Failed
        );
        let mut log = Vec::new();
        n.log(&mut log);
        let events: Vec<&str> = log.iter().map(|i| i.event).collect();
        assert_eq!(
            events,
            [
                "DEPLOY_NETWORK_CONFIGURATION_START",
                "DEPLOY_NETWORK_CONFIGURATION_FAILED",
                "NETWORK_RECOVERY_FAIL"
            ]
        );
        assert!(
            log[2]
                .raw_error
                .as_deref()
                .is_some_and(|r| r.starts_with("sn-0123456789abcdef0: "))
        );
    }

    #[test]
    fn a_spec_is_held_to_the_model() {
        assert!(
            SourceNetworkSpec::new("sn-0123456789abcdef0")
                .validate()
                .is_ok()
        );
        assert!(SourceNetworkSpec::new("sn-short").validate().is_err());
        let mut s = SourceNetworkSpec::new("sn-0123456789abcdef0");
        s.replication_status = "BROKEN".into();
        assert!(s.validate().is_err());
        assert_eq!(
            SourceNetworkSpec::new("sn-0123456789abcdef0").vpc().len(),
            21
        );
    }
}
