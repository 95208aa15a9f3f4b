//! Where a plan's servers launch from, read the way preflight reads it: a healthy server
//! without a point in time from DRS's on-demand snapshot (no look-up), any other from its
//! newest recovery snapshot at or before the point in time. Preflight, the start task and the
//! operator CLI's summary before a start all read it here.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{Mode, PlanSpec};
use time::OffsetDateTime;

use crate::{LaunchPoint, Readiness, hold_to_rpo, parse_time, resolve_plan};
use drs_waves_aws::AwsError;
use drs_waves_aws::drs::{Drs, RecoverySnapshot, ServerSelection, SourceServer};

/// Snapshot look-ups in flight at once: one DescribeRecoverySnapshots walk per server.
const SNAPSHOT_LOOKUPS_AT_ONCE: usize = 8;

/// Each of `ids`' newest recovery snapshot at or before `point_in_time` (or its newest), a few
/// look-ups at a time.
pub async fn snapshots_of<D: Drs>(
    drs: &D,
    ids: &[&String],
    point_in_time: Option<&str>,
) -> Result<BTreeMap<String, Option<RecoverySnapshot>>, AwsError> {
    let mut out = BTreeMap::new();
    for batch in ids.chunks(SNAPSHOT_LOOKUPS_AT_ONCE) {
        let found = futures::future::join_all(
            batch
                .iter()
                .map(|id| drs.latest_recovery_snapshot(id, point_in_time)),
        )
        .await;
        for (id, snapshot) in batch.iter().zip(found) {
            out.insert((*id).clone(), snapshot?);
        }
    }
    Ok(out)
}

/// The resolved servers that launch from a snapshot and so need a look-up: all but those that
/// launch from DRS's on-demand snapshot ([`SourceServer::launches_on_demand`]). A server DRS
/// does not list is looked up too, so that preflight names what it finds.
pub fn needing_snapshots<'a>(
    per_wave: &'a [Vec<String>],
    servers: &[SourceServer],
    point_in_time: Option<&str>,
) -> Vec<&'a String> {
    let on_demand: BTreeSet<&str> = servers
        .iter()
        .filter(|s| s.launches_on_demand(point_in_time))
        .map(|s| s.id.as_str())
        .collect();
    per_wave
        .iter()
        .flatten()
        .filter(|id| !on_demand.contains(id.as_str()))
        .collect()
}

/// What preflight will say of the plan's launch points against its recovery point objective:
/// a refusal for a DRILL, a warning for a RECOVERY, one line per required server whose snapshot
/// is further back than `rpo_seconds` ([`hold_to_rpo`]). For a summary before a start; the
/// servers are resolved as preflight resolves them, and one that does not resolve is left to
/// preflight to name.
pub async fn rpo_findings<D: Drs>(
    drs: &D,
    plan: &PlanSpec,
    mode: Mode,
    rpo_seconds: u32,
    point_in_time: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<String>, AwsError> {
    let servers = drs
        .select_source_servers(&ServerSelection::of_waves(&plan.waves))
        .await?;
    let (per_wave, _) = resolve_plan(plan, &servers);
    let ids = needing_snapshots(&per_wave, &servers, point_in_time);
    let mut snapshots = snapshots_of(drs, &ids, point_in_time).await?;
    let mut readiness = Readiness::default();
    for (wave, ids) in plan.waves.iter().zip(&per_wave) {
        for id in ids {
            readiness.points.push(LaunchPoint {
                wave_index: wave.index,
                server_id: id.clone(),
                required: !wave.optional.contains(id),
                snapshot: snapshots.remove(id).flatten(),
                age_seconds: None,
                replication: String::new(),
            });
        }
    }
    let wanted = point_in_time.and_then(parse_time);
    hold_to_rpo(&mut readiness, plan, mode, Some(rpo_seconds), wanted, now);
    Ok([readiness.problems, readiness.warnings].concat())
}
