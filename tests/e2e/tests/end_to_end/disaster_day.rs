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

use super::{DRILL_TIMEOUT, describe, launch_jobs_by_wave, run_to_end};

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
    let (execution, ended) = run_to_end(
        &dep,
        &machine,
        json!({"mode": "RECOVERY", "confirm": "billing"}),
    )
    .await?;
    ensure!(
        ended.succeeded(),
        "the recovery did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
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

const PIT_A1: &str = "s-c1b2c3d4e5f600001";
const PIT_A2: &str = "s-c1b2c3d4e5f600002";
const PIT_A3: &str = "s-c1b2c3d4e5f600003";
const PIT_B1: &str = "s-c1b2c3d4e5f600004";
const PIT_B2_RECENT: &str = "s-c1b2c3d4e5f600005";

/// 3. Back to a moment two hours ago (the ransomware case): every launch uses the latest
/// snapshot at or before it. A server with no snapshot that old fails preflight by name; a
/// future point in time and a malformed one are refused; none of those launches anything.
/// The four executions run at once (two plans; the refused ones never take the lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_recovery_to_a_point_in_time_uses_the_snapshots_of_that_moment() -> Result<()> {
    let now = now_to_the_second()?;
    let recent = [
        now - time::Duration::minutes(30),
        now - time::Duration::minutes(5),
    ];
    let servers = vec![
        healthy_server(PIT_A1, 1.0),
        healthy_server(PIT_A2, 1.0),
        healthy_server(PIT_A3, 1.0),
        healthy_server(PIT_B1, 1.0),
        ServerSpec::new(PIT_B2_RECENT, 1.0).with_snapshots(SnapshotSpec::at(&recent)),
    ];
    let mut dep = Deployment::new("disaster-pit", SimConfig::with_servers(servers)).await?;
    let app_plan = format!(
        r#"
name: pit-app
defaults:
  launchTimeoutSeconds: 60
  polling: {{minWaitSeconds: 1, maxWaitSeconds: 5, expectedLaunchSeconds: 2}}
tasks: {{heartbeatSeconds: 10}}
waves:
  - name: data
    servers: {{ids: [{PIT_A1}, {PIT_A2}]}}
  - name: front
    servers: {{ids: [{PIT_A3}]}}
"#
    );
    let fresh_plan = format!(
        r#"
name: pit-fresh
defaults:
  launchTimeoutSeconds: 60
  polling: {{minWaitSeconds: 1, maxWaitSeconds: 5, expectedLaunchSeconds: 2}}
tasks: {{heartbeatSeconds: 10}}
waves:
  - name: all
    servers: {{ids: [{PIT_B1}, {PIT_B2_RECENT}]}}
"#
    );
    let app = dep.deploy_plan("pit-app.plan.yaml", &app_plan).await?;
    let fresh = dep.deploy_plan("pit-fresh.plan.yaml", &fresh_plan).await?;
    dep.start_worker(&[])?;

    let point_in_time = now - time::Duration::hours(2);
    let pit = rfc3339(point_in_time)?;
    let future = rfc3339(now + time::Duration::hours(1))?;
    let recovery =
        |plan: &str, pit: &str| json!({"mode": "RECOVERY", "confirm": plan, "pointInTime": pit});
    let back = dep
        .start_execution(&app, &recovery("pit-app", &pit))
        .await?;
    let too_old = dep
        .start_execution(&fresh, &recovery("pit-fresh", &pit))
        .await?;
    let in_future = dep
        .start_execution(&app, &recovery("pit-app", &future))
        .await?;
    let malformed = dep
        .start_execution(&app, &recovery("pit-app", "yesterday"))
        .await?;
    // RFC 3339 allows a lower-case t and z, AWS's IsTimestamp does not: the machine refuses it
    // on every engine, saying which form it takes.
    let lower_case = dep
        .start_execution(&app, &recovery("pit-app", &pit.to_lowercase()))
        .await?;

    // The refusals.
    let ended = dep.wait_for_end(&too_old, DRILL_TIMEOUT).await?;
    assert_eq!(
        ended.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&ended)
    );
    assert_eq!(ended.error.as_deref(), Some("DrsWaves.PreflightFailed"));
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains(PIT_B2_RECENT) && cause.contains("no recovery snapshot"),
        "the cause names the server with no snapshot that old: {cause}"
    );
    ensure!(
        !cause.contains(PIT_B1),
        "{PIT_B1} has a snapshot that old and is not a problem: {cause}"
    );
    for (what, execution) in [
        ("future", &in_future),
        ("malformed", &malformed),
        ("lower-case", &lower_case),
    ] {
        let ended = dep.wait_for_end(execution, DRILL_TIMEOUT).await?;
        assert_eq!(
            ended.status,
            ExecutionStatus::Failed,
            "{what}: {}",
            describe(&ended)
        );
        assert_eq!(
            ended.error.as_deref(),
            Some("DrsWaves.InvalidInput"),
            "{what}: {}",
            describe(&ended)
        );
    }
    for refused in [&malformed, &lower_case] {
        let history = dep
            .sfn
            .get_execution_history()
            .execution_arn(refused)
            .max_results(1000)
            .send()
            .await?;
        ensure!(
            !history.events().iter().any(|e| {
                e.state_entered_event_details()
                    .is_some_and(|d| d.name() == "Preflight")
            }),
            "a malformed pointInTime is refused by the machine before preflight"
        );
    }
    let lower_cause = dep
        .wait_for_end(&lower_case, DRILL_TIMEOUT)
        .await?
        .cause
        .unwrap_or_default();
    ensure!(
        lower_cause.contains("\"2026-11-27T03:00:00Z\" (upper-case T and Z"),
        "the refusal shows the accepted form: {lower_cause}"
    );

    // The recovery two hours back.
    let ended = dep.wait_for_end(&back, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let all_jobs = dep.sim.jobs();
    for (what, execution) in [
        ("too old", &too_old),
        ("future", &in_future),
        ("malformed", &malformed),
    ] {
        let launched = launch_jobs_of(&all_jobs, execution);
        ensure!(launched.is_empty(), "{what}: launched {launched:?}");
    }
    let launches = launches_by_server(&all_jobs);
    for id in [PIT_B1, PIT_B2_RECENT] {
        ensure!(
            !launches.contains_key(id),
            "{id} was launched: {:?}",
            launches[id]
        );
    }
    let jobs = launch_jobs_of(&all_jobs, &back);
    let history = dep.history(&back).await?;
    assert_eq!(
        history.execution()?["pointInTime"]
            .as_str()
            .map(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
        Some(Some(point_in_time))
    );
    let mut points = servers_item(&history, 1)?.clone();
    points.extend(servers_item(&history, 2)?.clone());
    for id in [PIT_A1, PIT_A2, PIT_A3] {
        let snapshots = dep.sim.recovery_snapshots(id).map_err(sim_error)?;
        let expected = latest_at_or_before(&snapshots, Some(point_in_time))
            .with_context(|| format!("{id} has snapshots 24 h back"))?;
        ensure!(
            latest_at_or_before(&snapshots, None)
                .is_some_and(|latest| latest.timestamp > expected.timestamp),
            "{id}: the test needs snapshots newer than the point in time"
        );
        let used: Vec<_> = jobs
            .iter()
            .flat_map(|j| &j.servers)
            .filter(|s| s.source_server_id == id)
            .collect();
        ensure!(used.len() == 1, "{id} launched {} times", used.len());
        let used = used[0];
        ensure!(
            used.recovery_snapshot_id.as_deref() == Some(expected.snapshot_id.as_str())
                && used.recovery_snapshot_requested,
            "{id} launched from {:?} ({:?}); the latest at or before {pit} is {} ({})",
            used.recovery_snapshot_id,
            used.recovery_snapshot_timestamp,
            expected.snapshot_id,
            expected.timestamp
        );
        ensure!(
            used.launch_status == drs_sim::LaunchStatus::Launched,
            "{id}: {used:?}"
        );
        assert_eq!(
            points[id]["snapshotID"], expected.snapshot_id,
            "{id}: {}",
            points[id]
        );
        ensure!(
            points[id]["rpoSeconds"]
                .as_u64()
                .is_some_and(|s| s >= 2 * 3600),
            "{id}: two hours back at least: {}",
            points[id]
        );
    }
    Ok(())
}

const OUT_FRONT: &str = "s-f1b2c3d4e5f600001";
const OUT_BACK1: &str = "s-f1b2c3d4e5f600002";
const OUT_BACK2: &str = "s-f1b2c3d4e5f600003";

/// 4. The source site goes down while wave 1 of a DRILL launches: wave 2 is not launched, and
/// the drill fails with DrsWaves.ReplicationLost naming wave 2's servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_outage_between_two_waves_of_a_drill_stops_it_before_the_next_wave() -> Result<()>
{
    let servers = vec![
        healthy_server(OUT_FRONT, 4.0),
        healthy_server(OUT_BACK1, 1.0),
        healthy_server(OUT_BACK2, 1.0),
    ];
    let mut dep = Deployment::new("disaster-outage", SimConfig::with_servers(servers)).await?;
    let plan = format!(
        r#"
name: outage
defaults:
  launchTimeoutSeconds: 60
  polling: {{minWaitSeconds: 1, maxWaitSeconds: 5, expectedLaunchSeconds: 4}}
tasks: {{heartbeatSeconds: 10}}
waves:
  - name: front
    servers: {{ids: [{OUT_FRONT}]}}
  - name: back
    servers: {{ids: [{OUT_BACK1}, {OUT_BACK2}]}}
"#
    );
    let machine = dep.deploy_plan("outage.plan.yaml", &plan).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &super::drill()).await?;
    let sim = &dep.sim;
    let front_job = eventually("wave 1's job", DRILL_TIMEOUT, POLL, || {
        let job = sim.jobs().into_iter().find(|j| j.job_type == "LAUNCH");
        async move { job }
    })
    .await?;
    let outage_at = OffsetDateTime::now_utc();
    let down = sim
        .start_outage(&ServerSelector::All, OutageState::Disconnected)
        .map_err(sim_error)?;
    assert_eq!(down.len(), 3, "{down:?}");
    let launched_at = front_job
        .servers
        .iter()
        .map(|s| s.launch_end_date_time)
        .max()
        .context("wave 1's server")?;
    ensure!(
        outage_at < launched_at,
        "the outage must begin while wave 1 launches (at {outage_at}, wave 1 launched at {launched_at})"
    );

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_eq!(
        ended.status,
        ExecutionStatus::Failed,
        "{}",
        describe(&ended)
    );
    assert_eq!(
        ended.error.as_deref(),
        Some("DrsWaves.ReplicationLost"),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains(OUT_BACK1) && cause.contains(OUT_BACK2) && cause.contains("RECOVERY"),
        "the cause names wave 2's servers and says to start a RECOVERY: {cause}"
    );
    let by_wave = launch_jobs_by_wave(&dep.sim.jobs());
    ensure!(
        !by_wave.contains_key("back"),
        "wave 2 must have no job: {:?}",
        by_wave.get("back")
    );
    assert_eq!(by_wave.get("front").map(Vec::len), Some(1));
    let launches = launches_by_server(&dep.sim.jobs());
    ensure!(
        !launches.contains_key(OUT_BACK1) && !launches.contains_key(OUT_BACK2),
        "{launches:?}"
    );
    let history = dep.history(&execution).await?;
    assert_eq!(history.execution()?["executionStatus"], "FAILED");
    assert_eq!(history.execution()?["error"], "DrsWaves.ReplicationLost");
    Ok(())
}

const PRE_W1: [&str; 2] = ["s-91b2c3d4e5f600001", "s-91b2c3d4e5f600002"];
const PRE_W2: [&str; 2] = ["s-91b2c3d4e5f600003", "s-91b2c3d4e5f600004"];
const PRE_W3: &str = "s-91b2c3d4e5f600005";

/// 5. A RECOVERY while a DRILL of the same plan is in wave 2: the drill is stopped (ABORTED in
/// Step Functions, PREEMPTED in the history, preemptedBy the recovery), its instances are
/// terminated, the recovery succeeds, and no source server is ever in two active jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_recovery_preempts_a_drill_in_wave_two() -> Result<()> {
    let mut servers: Vec<ServerSpec> = PRE_W1.iter().map(|id| healthy_server(id, 1.0)).collect();
    servers.extend(PRE_W2.iter().map(|id| healthy_server(id, 6.0)));
    servers.push(healthy_server(PRE_W3, 1.0));
    let mut dep = Deployment::new("disaster-preempt", SimConfig::with_servers(servers)).await?;
    let plan = format!(
        r#"
name: preempt
defaults:
  launchTimeoutSeconds: 60
  polling: {{minWaitSeconds: 1, maxWaitSeconds: 5, expectedLaunchSeconds: 2}}
tasks: {{heartbeatSeconds: 10}}
waves:
  - name: one
    servers: {{ids: [{}, {}]}}
  - name: two
    servers: {{ids: [{}, {}]}}
    polling: {{minWaitSeconds: 10, maxWaitSeconds: 10, expectedLaunchSeconds: 6}}
  - name: three
    servers: {{ids: [{PRE_W3}]}}
"#,
        PRE_W1[0], PRE_W1[1], PRE_W2[0], PRE_W2[1]
    );
    let machine = dep.deploy_plan("preempt.plan.yaml", &plan).await?;
    dep.start_worker(&[])?;
    let drill = dep.start_execution(&machine, &super::drill()).await?;
    // The drill launched wave 2 and waits 10 s before its first check: the RECOVERY's
    // preflight stops it within that Wait (see `Deployment::wait_until_waiting_in`).
    dep.wait_until_waiting_in(&drill, "Wave 2 two: wait", DRILL_TIMEOUT)
        .await?;
    ensure!(
        dep.sim
            .jobs()
            .iter()
            .any(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some("two")),
        "the drill launched wave 2"
    );
    let recovery = dep
        .start_execution(&machine, &json!({"mode": "RECOVERY", "confirm": "preempt"}))
        .await?;

    let drill_ended = dep.wait_for_end(&drill, DRILL_TIMEOUT).await?;
    assert_eq!(
        drill_ended.status,
        ExecutionStatus::Aborted,
        "{} (FAILED with States.Timeout is LocalStack's end for a stop that missed the drill's \
         10 s Wait and came while a task was scheduled)\n{}",
        describe(&drill_ended),
        dep.worker_logs()
    );
    let ended = dep.wait_for_end(&recovery, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "the recovery did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );

    let history = dep.history(&drill).await?;
    let record = history.execution()?;
    assert_eq!(record["executionStatus"], "PREEMPTED", "{record}");
    assert_eq!(record["preemptedBy"], recovery.as_str(), "{record}");
    assert_eq!(
        dep.history(&recovery).await?.execution()?["executionStatus"],
        "SUCCEEDED"
    );

    let jobs = dep.sim.jobs();
    let drill_jobs = launch_jobs_of(&jobs, &drill);
    ensure!(
        drill_jobs
            .iter()
            .all(|j| j.tags.get(job_tags::WAVE).map(String::as_str) != Some("three")),
        "the preempted drill never reached wave 3: {drill_jobs:?}"
    );
    ensure!(
        drill_jobs.iter().all(|j| j.is_drill == Some(true)),
        "{drill_jobs:?}"
    );
    let recovery_jobs = launch_jobs_of(&jobs, &recovery);
    let recovered = launches_by_server(&recovery_jobs);
    for id in PRE_W1.iter().chain(&PRE_W2).chain([&PRE_W3]) {
        ensure!(
            recovered.get(*id).map(Vec::len) == Some(1),
            "the recovery launched {id} once: {recovered:?}"
        );
    }

    // The drill's instances: terminated by a TERMINATE job, before the recovery launched.
    let instances = dep.sim.recovery_instances();
    let drill_instances: Vec<_> = instances
        .iter()
        .filter(|i| drill_jobs.iter().any(|j| j.job_id == i.job_id))
        .collect();
    ensure!(
        drill_instances.len() == 4,
        "waves 1 and 2 of the drill launched 4 instances: {drill_instances:?}"
    );
    let terminate_jobs: Vec<&JobSnapshot> =
        jobs.iter().filter(|j| j.job_type == "TERMINATE").collect();
    let first_recovery_launch = recovery_jobs
        .iter()
        .map(|j| j.creation_date_time)
        .min()
        .context("recovery jobs")?;
    for instance in &drill_instances {
        let terminated_by = terminate_jobs.iter().find(|t| {
            t.servers.iter().any(|s| {
                s.recovery_instance_id.as_deref() == Some(instance.recovery_instance_id.as_str())
            })
        });
        let terminated_by = terminated_by.with_context(|| {
            format!(
                "drill instance {} of {} was never terminated: {terminate_jobs:?}",
                instance.recovery_instance_id, instance.source_server_id
            )
        })?;
        ensure!(
            terminated_by.creation_date_time <= first_recovery_launch,
            "drill instance {} terminated at {}, after the recovery launched at {first_recovery_launch}",
            instance.recovery_instance_id,
            terminated_by.creation_date_time
        );
        ensure!(
            instance.terminated_date_time.is_some(),
            "drs-sim: {instance:?}"
        );
    }

    // No source server in two active jobs at once: its LAUNCH jobs' [creation, end] ranges
    // never overlap.
    let mut ranges: BTreeMap<&str, Vec<(OffsetDateTime, OffsetDateTime, &str)>> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.job_type == "LAUNCH") {
        let end = job.end_date_time.unwrap_or(job.scheduled_end_date_time);
        for s in &job.servers {
            ranges
                .entry(s.source_server_id.as_str())
                .or_default()
                .push((job.creation_date_time, end, job.job_id.as_str()));
        }
    }
    for (server, mut spans) in ranges {
        spans.sort();
        for pair in spans.windows(2) {
            ensure!(
                pair[0].1 < pair[1].0,
                "{server} was in jobs {} ({} .. {}) and {} ({} .. {}) at once",
                pair[0].2,
                pair[0].0,
                pair[0].1,
                pair[1].2,
                pair[1].0,
                pair[1].1
            );
        }
    }
    Ok(())
}

const JANITOR_SERVER: &str = "s-a9b2c3d4e5f600001";
const JANITOR_INTERVAL_SECONDS: u64 = 2;

/// 6. An operator stops a running drill (StopExecution): nothing inside the machine runs after
/// that, so the worker's janitor records the run ABORTED, releases the plan's lock and, as the
/// plan says, terminates the drill's instances, within two janitor rounds (and slack for the
/// local engine). The plan then runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disaster_drill_stopped_from_outside_is_tidied_up_by_the_janitor() -> Result<()> {
    let servers = vec![healthy_server(JANITOR_SERVER, 1.0)];
    let mut dep = Deployment::new("disaster-janitor", SimConfig::with_servers(servers)).await?;
    // A long wait after the launch: the drill sits in a Wait state when it is stopped, which
    // LocalStack aborts at once (during an activity task it waits for the worker's answer).
    let plan = format!(
        r#"
name: janitor
terminateDrillInstances: true
defaults:
  launchTimeoutSeconds: 120
  polling: {{minWaitSeconds: 60, maxWaitSeconds: 60, expectedLaunchSeconds: 60}}
tasks: {{heartbeatSeconds: 10}}
waves:
  - name: only
    servers: {{ids: [{JANITOR_SERVER}]}}
"#
    );
    let machine = dep.deploy_plan("janitor.plan.yaml", &plan).await?;
    let interval = JANITOR_INTERVAL_SECONDS.to_string();
    dep.start_worker(&[("DRS_WAVES_JANITOR_INTERVAL_SECONDS", interval.as_str())])?;

    for round in 1..=2 {
        let drill = dep.start_execution(&machine, &super::drill()).await?;
        // The drill launched its instance and waits.
        let sim = &dep.sim;
        let instance = eventually(
            &format!("round {round}: the drill's instance"),
            DRILL_TIMEOUT,
            POLL,
            || {
                let jobs = launch_jobs_of(&sim.jobs(), &drill);
                let launched = jobs
                    .iter()
                    .filter(|j| j.end_date_time.is_some())
                    .flat_map(|j| &j.servers)
                    .find_map(|s| s.recovery_instance_id.clone());
                async move { launched }
            },
        )
        .await?;
        dep.wait_until_waiting_in(&drill, "Wave 1 only: wait", DRILL_TIMEOUT)
            .await?;
        ensure!(
            dep.lock("janitor")
                .await?
                .is_some_and(|l| l["holder"] == drill.as_str()),
            "round {round}: the running drill holds the lock"
        );
        if round == 1 {
            // Stopped through the worker's own adapter, by the conformance suite of the
            // executions seam (the same one the fake passes): the drill, in a Wait, ends at once.
            drs_worker::conformance::sfn::stop_ends_a_running_execution_at_once(
                &drs_worker::sfn::SdkSfn::new(dep.sfn.clone()),
                &drill,
                &format!("{drill}-never-started"),
                "LocalStack",
            )
            .await;
        } else {
            dep.stop_execution(&drill, "the operator stopped the drill")
                .await?;
        }
        let ended = dep.wait_for_end(&drill, DRILL_TIMEOUT).await?;
        assert_eq!(
            ended.status,
            ExecutionStatus::Aborted,
            "{}",
            describe(&ended)
        );

        // Two janitor rounds, and slack for a loaded machine and the local engine.
        let deadline = Duration::from_secs(2 * JANITOR_INTERVAL_SECONDS + 10);
        let started = std::time::Instant::now();
        let dep_ref = &dep;
        let drill_ref = &drill;
        let record = eventually(
            &format!("round {round}: the janitor to record the stopped drill"),
            deadline,
            POLL * 2,
            || async move {
                let history = dep_ref.history(drill_ref).await.ok()?;
                let record = history.execution_if_any()?.clone();
                (record["executionStatus"] == "ABORTED").then_some(record)
            },
        )
        .await
        .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))?;
        ensure!(
            record["endedAt"].as_str().is_some_and(|t| !t.is_empty()),
            "{record}"
        );
        let terminate_jobs = record["terminateJobIds"]
            .as_array()
            .filter(|ids| !ids.is_empty())
            .with_context(|| format!("round {round}: no terminateJobIds: {record}"))?
            .clone();
        let remaining = deadline.saturating_sub(started.elapsed()) + Duration::from_secs(1);
        eventually(
            &format!("round {round}: the lock released"),
            remaining,
            POLL,
            || async move { dep_ref.lock("janitor").await.ok()?.is_none().then_some(()) },
        )
        .await?;
        let sim = &dep.sim;
        let instance_ref = &instance;
        let terminated = eventually(
            &format!("round {round}: the drill's instance terminated in drs-sim"),
            Duration::from_secs(10),
            POLL,
            || async move {
                sim.recovery_instances()
                    .into_iter()
                    .find(|i| &i.recovery_instance_id == instance_ref)
                    .and_then(|i| i.terminated_date_time)
            },
        )
        .await?;
        let terminate_job = dep
            .sim
            .jobs()
            .into_iter()
            .find(|j| j.job_type == "TERMINATE" && terminate_jobs[0] == j.job_id.as_str())
            .with_context(|| {
                format!(
                    "round {round}: no TERMINATE job {:?} in drs-sim",
                    terminate_jobs
                )
            })?;
        ensure!(
            terminate_job
                .servers
                .iter()
                .any(|s| s.recovery_instance_id.as_deref() == Some(instance.as_str())),
            "round {round}: {terminate_job:?}"
        );
        ensure!(
            terminated >= terminate_job.creation_date_time,
            "round {round}: terminated at {terminated}"
        );
        // Round 2 proves the plan runs again: its preflight takes the released lock.
    }
    Ok(())
}
