//! Source networks (DRS's protection of in-AWS VPCs): what DescribeSourceNetworks lists and
//! what StartSourceNetworkRecovery asks for. The recovery is a DRS job of its own; its networks
//! are the job's `participatingResources` ([`super::Job::networks`]).

use std::collections::BTreeMap;

use super::LaunchStatus;

/// One network of a network recovery job (the model's `ParticipatingResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobNetwork {
    pub source_network_id: String,
    pub launch_status: LaunchStatus,
}

/// A source network as DescribeSourceNetworks lists it (the model's `SourceNetwork`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceNetwork {
    pub id: String,
    pub source_vpc_id: Option<String>,
    /// STOPPED, IN_PROGRESS, PROTECTED or ERROR.
    pub replication_status: Option<String>,
    /// The stack of its last recovery, once recovered.
    pub cfn_stack_name: Option<String>,
    pub launched_vpc_id: Option<String>,
}

/// StartSourceNetworkRecovery: 1 to 100 networks, each recovered by its CloudFormation stack
/// (updated, unless `deploy_as_new`); the tags go on the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRecoveryRequest {
    pub source_network_ids: Vec<String>,
    pub deploy_as_new: bool,
    pub tags: BTreeMap<String, String>,
}

/// DescribeSourceNetworks takes at most this many IDs in `filters.sourceNetworkIDs` (the
/// model's DescribeSourceNetworksRequestFiltersIDs: max 100).
pub const MAX_SOURCE_NETWORK_IDS_PER_CALL: usize = 100;
