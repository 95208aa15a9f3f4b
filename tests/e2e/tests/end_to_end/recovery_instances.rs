//! Recovery instances as DRS really names them, and launches from DRS's on-demand snapshot
//! (issue #21, items 6 and 7).
//!
//! drs-sim's `omitRecoveryInstanceId` leaves `recoveryInstanceID` out of every job's
//! participatingServers (the model's ParticipatingServer requires none of its members): a drill
//! whose jobs never name their instances still leaves none running (its clean-up lists them
//! with DescribeRecoveryInstances), and its report shows its own instances only, not another
//! launch's instance of the same source server. Its healthy servers launch without
//! `recoverySnapshotID` (drs-sim takes an on-demand snapshot), and the history and the report
//! hold the point in time drs-sim's instances say they launched from.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use drs_e2e::Deployment;
use drs_sim::{InstanceSnapshot, ServerSpec, SimConfig};
use drs_test_harness::eventually;
use drs_waves_aws::drs::{Drs as _, SdkDrs, StartRecoveryRequest};
use drs_waves_contract::job_tags;
use serde_json::Value;
use time::OffsetDateTime;

const A: &str = "s-c1b2c3d4e5f600001";
const B: &str = "s-c1b2c3d4e5f600002";
const C: &str = "s-c1b2c3d4e5f600003";

/// A plan of two waves (A, B; then C) whose drills end with their instances terminated or not.
fn plan(name: &str, terminate: bool) -> String {
    format!(
        r#"
name: {name}
terminateDrillInstances: {terminate}
rpoMinutes: 60
defaults:
  launchTimeoutMinutes: 2
  polling: {{minWaitSeconds: 1, maxWaitSeconds: 5, expectedLaunchSeconds: 2}}
tasks: {{heartbeatSeconds: 10}}
waves:
  - name: first
    servers: {{ids: [{A}, {B}]}}
  - name: second
    servers: {{ids: [{C}]}}
"#
    )
}

/// Healthy servers whose jobs never name their recovery instance.
fn unnamed_servers() -> Vec<ServerSpec> {
    [A, B, C]
        .iter()
        .map(|id| ServerSpec::new(*id, 1.0).omitting_recovery_instance_id())
        .collect()
}

fn parse(t: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("{t:?} is not RFC 3339"))
}

/// The execution's instances in drs-sim (terminated ones too), by source server.
fn instances_of(dep: &Deployment, execution: &str) -> BTreeMap<String, InstanceSnapshot> {
    let jobs: Vec<String> = dep
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .map(|j| j.job_id)
        .collect();
    dep.sim
        .recovery_instances()
        .into_iter()
        .filter(|i| jobs.contains(&i.job_id))
        .map(|i| (i.source_server_id.clone(), i))
        .collect()
}

/// The healthy drill's launches named no snapshot: drs-sim took one on demand for each; the
/// history's launch points hold the point in time each instance says it launched from.
async fn assert_on_demand_points(
    dep: &Deployment,
    execution: &str,
    instances: &BTreeMap<String, InstanceSnapshot>,
) -> Result<()> {
    for job in dep
        .sim
        .jobs()
        .iter()
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
    {
        ensure!(
            job.job_type == "LAUNCH" || job.job_type == "TERMINATE",
            "{job:?}"
        );
        for s in job.servers.iter().filter(|_| job.job_type == "LAUNCH") {
            ensure!(
                !s.recovery_snapshot_requested && s.on_demand_snapshot,
                "{}: the launch named a snapshot or took none: {s:?}",
                s.source_server_id
            );
        }
    }
    let history = dep.history(execution).await?;
    for (wave, ids) in [(1, vec![A, B]), (2, vec![C])] {
        let servers = history
            .servers(wave)?
            .get("servers")
            .and_then(Value::as_object)
            .with_context(|| format!("wave {wave}'s SERVERS item has no servers"))?;
        for id in ids {
            let point = &servers[id];
            ensure!(point.get("snapshotID").is_none(), "{id}: {point}");
            let recorded = parse(point["snapshotTakenAt"].as_str().unwrap_or_default())
                .with_context(|| format!("{id}'s point in time in the history: {point}"))?;
            let instance = instances.get(id).context("an instance")?;
            ensure!(
                Some(recorded) == instance.point_in_time_snapshot_date_time,
                "{id}: the history says {recorded}, drs-sim's instance {:?}",
                instance.point_in_time_snapshot_date_time
            );
            ensure!(
                point["rpoSeconds"] == 0,
                "{id}: taken after the request: {point}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_whose_jobs_never_name_their_recovery_instances_leaves_none_running() -> Result<()>
{
    let mut dep = Deployment::new(
        "unnamed-instances",
        SimConfig::with_servers(unnamed_servers()),
    )
    .await?;
    let machine = dep
        .deploy_plan("unnamed.plan.yaml", &plan("unnamed", true))
        .await?;
    dep.start_worker(&[])?;
    let (execution, ended) = super::drill_to_success(&dep, &machine).await?;
    // drs-sim's jobs never named an instance: the history's JOB items have none.
    let history = dep.history(&execution).await?;
    for (sk, item) in history.jobs() {
        let servers = item["servers"].as_object().context("servers")?;
        ensure!(
            servers
                .values()
                .all(|s| s.get("recoveryInstanceID").is_none()),
            "{sk}: {item}"
        );
    }
    // Every instance the drill launched is terminated, once, the clean-up DONE.
    super::chaos::assert_terminated_once(&dep, &execution, &ended).await?;
    let instances = instances_of(&dep, &execution);
    ensure!(instances.len() == 3, "{instances:?}");
    ensure!(
        dep.sim
            .recovery_instances()
            .iter()
            .all(|i| i.terminated_date_time.is_some()),
        "an instance is left running: {:?}",
        dep.sim.recovery_instances()
    );
    assert_on_demand_points(&dep, &execution, &instances).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_only_the_instances_of_its_own_launches() -> Result<()> {
    let mut dep =
        Deployment::new("own-instances", SimConfig::with_servers(unnamed_servers())).await?;
    let machine = dep
        .deploy_plan("kept.plan.yaml", &plan("kept", false))
        .await?;
    dep.start_worker(&[])?;
    let (execution, _) = super::drill_to_success(&dep, &machine).await?;
    let ours = instances_of(&dep, &execution);
    ensure!(ours.len() == 3, "{ours:?}");
    assert_on_demand_points(&dep, &execution, &ours).await?;

    // Another launch of A, not of this execution (a RECOVERY someone started in the console):
    // DRS replaces A's drill instance with it.
    let drs = SdkDrs::new(drs_test_harness::drs_client(&dep.sim.endpoint()).await);
    let foreign = drs
        .start_recovery(StartRecoveryRequest {
            source_server_ids: vec![A.to_owned()],
            snapshot_ids: BTreeMap::new(),
            is_drill: false,
            tags: BTreeMap::new(),
        })
        .await?
        .id;
    let sim = &dep.sim;
    let foreign_instance = eventually(
        "the other launch's instance of A",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let found = sim
                .recovery_instances()
                .into_iter()
                .find(|i| i.job_id == foreign && i.terminated_date_time.is_none());
            async move { found }
        },
    )
    .await?;

    let report = dep.report(&execution).await?;
    let row = |id: &str| {
        report
            .servers
            .iter()
            .find(|s| s.source_server_id == id)
            .with_context(|| format!("{id} in the report"))
    };
    let a = row(A)?;
    ensure!(
        a.recovery_instance_id.as_deref() != Some(&foreign_instance.recovery_instance_id)
            && a.ec2_instance_id.as_deref() != Some(&foreign_instance.recovery_instance_id),
        "the report shows the other launch's instance for A: {a:?}"
    );
    for id in [B, C] {
        let s = row(id)?;
        let instance = &ours[id];
        ensure!(
            s.recovery_instance_id.as_deref() == Some(&instance.recovery_instance_id),
            "{id}: the report shows {:?}, drs-sim's instance of this drill is {}",
            s.recovery_instance_id,
            instance.recovery_instance_id
        );
    }
    for id in [A, B, C] {
        let s = row(id)?;
        let shown = s
            .snapshot_taken_at
            .as_deref()
            .map(parse)
            .transpose()?
            .with_context(|| format!("{id}: no point in time in the report: {s:?}"))?;
        ensure!(
            Some(shown) == ours[id].point_in_time_snapshot_date_time,
            "{id}: the report says {shown}, drs-sim's instance {:?}",
            ours[id].point_in_time_snapshot_date_time
        );
        ensure!(s.snapshot_id.is_none(), "{id}: {s:?}");
    }
    ensure!(
        report.rpo.achieved_seconds == Some(0),
        "RPO: {:?}",
        report.rpo
    );
    Ok(())
}
