//! Disaster day (issue #11): the source site is down, and the plans still run.
//!
//! - A RECOVERY launches every server from its latest recovery snapshot whatever its
//!   replication state; a DRILL stays strict and refuses unhealthy replication by name.
//! - A `pointInTime` sends every launch back to the latest snapshot at or before it; one with no
//!   such snapshot, a future one or a malformed one launches nothing.
//! - An outage that begins between two waves of a DRILL stops it before the next wave.
//! - A RECOVERY preempts a running DRILL of the same plan; no server is ever in two jobs.
//! - A drill stopped from outside is tidied up by the worker's janitor.
//!
//! Every test asserts from drs-sim's own records (jobs, the snapshot each launch used,
//! instances), not only from the execution's status.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use aws_sdk_sfn::types::ExecutionStatus;
use drs_e2e::{Deployment, ExecutionHistory};
use drs_sim::{
    JobSnapshot, OutageState, RecoverySnapshot, ServerSelector, ServerSpec, SimConfig, SnapshotSpec,
};
use drs_test_harness::eventually;
use drs_waves_contract::job_tags;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{DRILL_TIMEOUT, describe, launch_jobs_by_wave, run_to_end, run_to_success};

mod interrupted_drills;
mod point_in_time;

/// How often the tests look at drs-sim while they wait for a moment of an execution.
const POLL: Duration = Duration::from_millis(100);

fn sim_error(e: drs_sim::SimError) -> anyhow::Error {
    anyhow!("drs-sim: {e}")
}

/// A server of a site that went down `down_minutes` ago: not replicating (`state`, with
/// AGENT_NOT_SEEN), its snapshots every 10 minutes for 24 h up to then.
fn down_server(id: &str, tier: &str, state: &str, launch_seconds: f64) -> ServerSpec {
    ServerSpec::new(id, launch_seconds)
        .with_tag("App", "billing")
        .with_tag("Tier", tier)
        .with_replication_state(state)
        .down_since_minutes(20.0)
        .with_snapshots(SnapshotSpec::every(10.0, 24.0))
}

/// A healthy server (CONTINUOUS, snapshots every 10 minutes for the last 24 h and on).
fn healthy_server(id: &str, launch_seconds: f64) -> ServerSpec {
    ServerSpec::new(id, launch_seconds).with_snapshots(SnapshotSpec::every(10.0, 24.0))
}

/// The LAUNCH jobs an execution made (by the worker's execution tag), oldest first.
fn launch_jobs_of(jobs: &[JobSnapshot], execution: &str) -> Vec<JobSnapshot> {
    jobs.iter()
        .filter(|j| j.job_type == "LAUNCH" && !j.background)
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .cloned()
        .collect()
}

/// Every launch of a source server in `jobs`: server ID -> (job ID, snapshot ID used).
fn launches_by_server(jobs: &[JobSnapshot]) -> BTreeMap<String, Vec<(String, Option<String>)>> {
    let mut out: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.job_type == "LAUNCH") {
        for s in &job.servers {
            out.entry(s.source_server_id.clone())
                .or_default()
                .push((job.job_id.clone(), s.recovery_snapshot_id.clone()));
        }
    }
    out
}

/// The latest of `snapshots` taken at or before `at` (or the latest of all).
fn latest_at_or_before(
    snapshots: &[RecoverySnapshot],
    at: Option<OffsetDateTime>,
) -> Option<&RecoverySnapshot> {
    snapshots
        .iter()
        .filter(|s| at.is_none_or(|t| s.timestamp <= t))
        .max_by_key(|s| s.timestamp)
}

/// The per-server launch points of a wave's `SERVERS` history item.
fn servers_item(history: &ExecutionHistory, wave: u32) -> Result<&serde_json::Map<String, Value>> {
    history
        .servers(wave)?
        .get("servers")
        .and_then(Value::as_object)
        .with_context(|| format!("wave {wave}'s SERVERS item has no servers"))
}

fn rfc3339(t: OffsetDateTime) -> Result<String> {
    Ok(t.format(&Rfc3339)?)
}

/// Now, to the whole second (a point in time as an operator types it).
fn now_to_the_second() -> Result<OffsetDateTime> {
    Ok(OffsetDateTime::now_utc().replace_nanosecond(0)?)
}

/// 1. The source site is down: every server DISCONNECTED or STALLED since 20 minutes (from the
/// simulator's start, as a fixture has it), snapshots every 10 minutes for 24 h. A RECOVERY
/// succeeds, launching each server exactly once from its latest snapshot, and the history
/// holds each server's snapshot and recovery point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_recovery_launches_a_site_that_is_down_from_its_latest_snapshots() -> Result<()> {
    let servers = vec![
        down_server(super::DB1, "db", "DISCONNECTED", 1.0),
        down_server(super::DB2, "db", "DISCONNECTED", 1.0),
        down_server(super::APP1, "app", "STALLED", 1.0),
        down_server(super::APP2_OPTIONAL, "app", "DISCONNECTED", 1.0),
        down_server(super::WEB1, "web", "STALLED", 1.0),
        down_server(super::WEB2, "web", "STALLED", 1.0),
    ];
    let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
    let mut dep = Deployment::new("disaster-site-down", SimConfig::with_servers(servers)).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_success(
        &dep,
        &machine,
        json!({"mode": "RECOVERY", "confirm": "billing"}),
    )
    .await?;
    let output = ended.output.clone().context("output")?;
    let warnings = output["run"]["warnings"]
        .as_array()
        .context("$.run.warnings")?;
    ensure!(
        ids.iter().all(|id| warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains(id.as_str())))),
        "every server that is down is a warning: {warnings:?}"
    );

    let jobs = launch_jobs_of(&dep.sim.jobs(), &execution);
    ensure!(
        jobs.iter()
            .all(|j| j.is_drill == Some(false) && j.initiated_by == "START_RECOVERY"),
        "recovery jobs only: {jobs:?}"
    );
    let launches = launches_by_server(&jobs);
    let mut used = BTreeMap::new();
    for id in &ids {
        let of_server = launches.get(id).map(Vec::as_slice).unwrap_or_default();
        ensure!(
            of_server.len() == 1,
            "{id} launched {} times: {of_server:?}",
            of_server.len()
        );
        let snapshots = dep.sim.recovery_snapshots(id).map_err(sim_error)?;
        let latest = latest_at_or_before(&snapshots, None)
            .with_context(|| format!("{id} has snapshots in the fixture"))?;
        let (job, snapshot) = &of_server[0];
        ensure!(
            snapshot.as_deref() == Some(latest.snapshot_id.as_str()),
            "{id} (job {job}) launched from {snapshot:?}, not its latest snapshot {} taken {}",
            latest.snapshot_id,
            latest.timestamp
        );
        used.insert(id.clone(), latest.clone());
    }
    let all_launched = jobs
        .iter()
        .flat_map(|j| &j.servers)
        .all(|s| s.launch_status == drs_sim::LaunchStatus::Launched);
    ensure!(all_launched, "every server LAUNCHED: {jobs:?}");

    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    assert_eq!(record["executionStatus"], "SUCCEEDED", "{record}");
    assert_eq!(record["mode"], "RECOVERY", "{record}");
    ensure!(
        record["worstRpoSeconds"]
            .as_u64()
            .is_some_and(|s| s >= 20 * 60),
        "the site is down since 20 minutes: {record}"
    );
    ensure!(
        record["warnings"].as_array().is_some_and(|w| !w.is_empty()),
        "warnings recorded: {record}"
    );
    let mut in_history = 0;
    for wave in 1..=3 {
        for (id, point) in servers_item(&history, wave)? {
            let snapshot = &used[id];
            assert_eq!(
                point["snapshotID"], snapshot.snapshot_id,
                "wave {wave} {id}: {point}"
            );
            let rpo = point["rpoSeconds"]
                .as_u64()
                .with_context(|| format!("wave {wave} {id} has no rpoSeconds: {point}"))?;
            // Down 20 minutes ago, the last snapshot at most 10 minutes (and 20 s) before.
            ensure!(
                (20 * 60..=45 * 60).contains(&rpo),
                "wave {wave} {id}: RPO {rpo} s for a snapshot taken {}",
                snapshot.timestamp
            );
            let replication = point["replication"].as_str().unwrap_or_default();
            ensure!(
                replication.contains("DISCONNECTED") || replication.contains("STALLED"),
                "wave {wave} {id}: {point}"
            );
            in_history += 1;
        }
    }
    assert_eq!(in_history, ids.len(), "one launch point per server");
    Ok(())
}

/// 2. A DRILL is a readiness test: a required server that is STALLED fails preflight by name,
/// and nothing is launched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_drill_refuses_a_stalled_required_server_by_name() -> Result<()> {
    let servers: Vec<ServerSpec> = super::billing_servers(&[], 1.0)
        .into_iter()
        .map(|s| {
            if s.id == super::APP1 {
                s.with_replication_state("STALLED").down_since_minutes(5.0)
            } else {
                s
            }
        })
        .collect();
    let mut dep =
        Deployment::new("disaster-drill-stalled", SimConfig::with_servers(servers)).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(&dep, &machine, super::drill()).await?;
    assert_eq!(
        ended.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&ended)
    );
    assert_eq!(ended.error.as_deref(), Some("DrsWaves.PreflightFailed"));
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains(super::APP1) && cause.contains("STALLED"),
        "the cause names the stalled server and its state: {cause}"
    );
    for healthy in [super::DB1, super::DB2, super::WEB1, super::WEB2] {
        ensure!(
            !cause.contains(healthy),
            "the cause names only the stalled server, not {healthy}: {cause}"
        );
    }
    ensure!(dep.sim.jobs().is_empty(), "no job: {:?}", dep.sim.jobs());
    assert_eq!(dep.sim.counters().calls("StartRecovery"), 0);
    let history = dep.history(&execution).await?;
    assert_eq!(history.execution()?["executionStatus"], "FAILED");
    ensure!(
        dep.lock("billing").await?.is_none(),
        "a refused drill holds no lock"
    );
    Ok(())
}
