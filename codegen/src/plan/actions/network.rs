//! `recoverNetwork: {sourceNetworks: [ids]}`: DRS's StartSourceNetworkRecovery for in-AWS
//! sources, started and checked by the worker (start-network, then a Wait / check-network /
//! Choice loop). Valid only in `before:` (the network must exist before the servers that use
//! it launch; after a wave it would recover nothing that wave needs): 1 to 100 source networks
//! (the DRS model's StartSourceNetworkRecoveryRequestNetworkEntries), each `sn-` and 17
//! lowercase hex digits (SourceNetworkID, as DRS makes them), none twice.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Deserialize;

use super::super::fields::Scope;
use super::ActionKind;
use crate::budget;
use crate::contract::network::NETWORK_POLL_SECONDS;
use crate::contract::states::ActionPhase;

/// StartSourceNetworkRecovery takes 1 to 100 networks.
pub const MAX_SOURCE_NETWORKS: usize = 100;

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecoverNetworkAction {
    /// The source networks to recover (`sn-` and 17 hex digits), 1 to 100.
    pub source_networks: Vec<String>,
}

pub(super) fn resolve(
    scope: &mut Scope<'_>,
    prefix: &str,
    phase: ActionPhase,
    n: &RecoverNetworkAction,
) -> Option<ActionKind> {
    let before = scope.problems.len();
    if phase != ActionPhase::Before {
        scope.report(
            format!("{prefix}recoverNetwork"),
            "recoverNetwork runs only in before: (the network must exist before the wave's servers launch)",
        );
    }
    let field = format!("{prefix}recoverNetwork.sourceNetworks");
    if n.source_networks.is_empty() || n.source_networks.len() > MAX_SOURCE_NETWORKS {
        scope.report(
            field.clone(),
            format!(
                "{} source networks: list 1 to {MAX_SOURCE_NETWORKS} (DRS StartSourceNetworkRecovery)",
                n.source_networks.len()
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (k, id) in n.source_networks.iter().enumerate() {
        if !is_source_network_id(id) {
            scope.report(
                format!("{field}[{k}]"),
                format!("{id:?} is not a source network ID (sn- and 17 lowercase hex digits)"),
            );
        } else if !seen.insert(id.as_str()) {
            scope.report(
                format!("{field}[{k}]"),
                format!("{id} is listed more than once"),
            );
        }
    }
    (scope.problems.len() == before).then(|| ActionKind::RecoverNetwork {
        source_networks: n.source_networks.clone(),
    })
}

pub fn is_source_network_id(id: &str) -> bool {
    id.len() == 20
        && id.strip_prefix("sn-").is_some_and(|t| {
            t.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Beyond its timeout, a network recovery takes at most one more Wait and one more check.
pub fn network_seconds_beyond_timeout() -> u64 {
    u64::from(NETWORK_POLL_SECONDS)
        + budget::task_slack_seconds(crate::contract::Activity::CheckNetwork, 0)
}

/// Worst-case history events of the Wait / check / Choice rounds until the timeout.
pub fn network_events(timeout_seconds: u32) -> u64 {
    const ROUND: u64 = 2 + 8 + 2;
    u64::from(timeout_seconds.div_ceil(NETWORK_POLL_SECONDS) + 1) * ROUND
}
