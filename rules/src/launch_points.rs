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

/// Snapshot look-ups in flight at once in one account: DescribeRecoverySnapshots takes one
/// server, so a plan needs a call per server that launches from a snapshot; DRS's rate limits
/// are per account and region, so each account's look-ups run side by side with the others'.
pub const SNAPSHOT_LOOKUPS_AT_ONCE: usize = 8;

/// Look-ups under this many are not worth a progress report before their end.
const REPORTED_FROM: usize = 200;

/// Each of `ids`' newest recovery snapshot at or before `point_in_time` (or its newest), a few
/// look-ups at a time.
pub async fn snapshots_of<D: Drs>(
    drs: &D,
    ids: &[&String],
    point_in_time: Option<&str>,
) -> Result<BTreeMap<String, Option<RecoverySnapshot>>, AwsError> {
    snapshots_with_progress(drs, ids, point_in_time, |_, _| {}).await
}

/// [`snapshots_of`], calling `progress(done, total)` after each look-up.
pub async fn snapshots_with_progress<D: Drs>(
    drs: &D,
    ids: &[&String],
    point_in_time: Option<&str>,
    progress: impl FnMut(usize, usize),
) -> Result<BTreeMap<String, Option<RecoverySnapshot>>, AwsError> {
    look_up_each(
        ids,
        SNAPSHOT_LOOKUPS_AT_ONCE,
        |id| drs.latest_recovery_snapshot(id, point_in_time),
        progress,
    )
    .await
}

/// `lookup` of each of `ids`, `at_once` in flight: a new one starts as soon as any ends (not
/// in batches that each wait for their slowest, so the whole takes about the calls' total time
/// over `at_once`). The first failure ends it. `progress(done, total)` after each.
pub async fn look_up_each<'a, T, E, F, Fut>(
    ids: &[&'a String],
    at_once: usize,
    lookup: F,
    mut progress: impl FnMut(usize, usize),
) -> Result<BTreeMap<String, T>, E>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    use futures::StreamExt;
    let total = ids.len();
    // Futures do nothing until polled: building them all first starts none of them (and keeps
    // a closure out of the stream's type, which a Send task future could not name).
    let calls: Vec<_> = ids
        .iter()
        .map(|&id| {
            let call = lookup(id.as_str());
            async move { (id, call.await) }
        })
        .collect();
    let mut ended = futures::stream::iter(calls).buffer_unordered(at_once.max(1));
    let mut out = BTreeMap::new();
    while let Some((id, found)) = ended.next().await {
        out.insert(id.clone(), found?);
        progress(out.len(), total);
    }
    Ok(out)
}

/// Whether `done` look-ups of `total` are worth a progress report: each tenth of a long run of
/// look-ups (a 10,000-server plan's take minutes), none of a short one.
pub fn worth_reporting(done: usize, total: usize) -> bool {
    total >= REPORTED_FROM && done > 0 && done * 10 / total > (done - 1) * 10 / total
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s-{i:017x}")).collect()
    }

    /// A look-up that ends only once `after` others have ended would never end if look-ups ran
    /// in batches that wait for their slowest: here the others go on around it.
    #[tokio::test]
    async fn a_slow_look_up_does_not_hold_back_the_ones_after_it() {
        let all = ids(40);
        let refs: Vec<&String> = all.iter().collect();
        let ended = Cell::new(0usize);
        let in_flight = Cell::new(0usize);
        let most_in_flight = Cell::new(0usize);
        let slow = all[0].clone();
        let found = look_up_each(
            &refs,
            SNAPSHOT_LOOKUPS_AT_ONCE,
            |id| {
                let wait_for = if id == slow { 30 } else { 0 };
                let (ended, in_flight, most) = (&ended, &in_flight, &most_in_flight);
                let id = id.to_string();
                async move {
                    in_flight.set(in_flight.get() + 1);
                    most.set(most.get().max(in_flight.get()));
                    while ended.get() < wait_for {
                        tokio::task::yield_now().await;
                    }
                    tokio::task::yield_now().await;
                    in_flight.set(in_flight.get() - 1);
                    ended.set(ended.get() + 1);
                    Ok::<_, AwsError>(id)
                }
            },
            |_, _| {},
        )
        .await
        .expect("every look-up ends");
        assert_eq!(found.len(), 40);
        assert_eq!(found[&slow], slow);
        assert_eq!(most_in_flight.get(), SNAPSHOT_LOOKUPS_AT_ONCE);
    }

    #[tokio::test]
    async fn progress_is_told_after_each_look_up_and_the_first_failure_ends_them() {
        let all = ids(5);
        let refs: Vec<&String> = all.iter().collect();
        let mut told = Vec::new();
        let found = look_up_each(
            &refs,
            2,
            |id| std::future::ready(Ok::<_, AwsError>(id.len())),
            |done, total| told.push((done, total)),
        )
        .await
        .expect("look-ups");
        assert_eq!(found.len(), 5);
        assert_eq!(told, (1..=5).map(|d| (d, 5)).collect::<Vec<_>>());

        let failed = look_up_each(
            &refs,
            2,
            |id| {
                let bad = id == all[3];
                std::future::ready(if bad {
                    Err(AwsError::Failed("no such server".into()))
                } else {
                    Ok(())
                })
            },
            |_, _| {},
        )
        .await;
        assert_eq!(failed, Err(AwsError::Failed("no such server".into())));
    }

    #[test]
    fn a_long_run_of_look_ups_is_reported_each_tenth_a_short_one_never() {
        let reported: Vec<usize> = (1..=10_000)
            .filter(|d| worth_reporting(*d, 10_000))
            .collect();
        assert_eq!(
            reported,
            (1..=10).map(|tenth| tenth * 1_000).collect::<Vec<_>>()
        );
        assert!(!(1..=50).any(|d| worth_reporting(d, 50)));
    }
}
