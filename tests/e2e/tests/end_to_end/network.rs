//! `recoverNetwork` actions (issue #24): DRS's StartSourceNetworkRecovery before the first
//! wave, started and checked by the worker. Asserted from drs-sim's own records (the network
//! job, its networks, the launch jobs' creation times) and the history table. Every test's
//! name contains `network`.

use anyhow::{Context, Result, ensure};
use drs_e2e::Deployment;
use drs_sim::{JobSnapshot, LaunchStatus, ServerSpec, SimConfig, SourceNetworkSpec};
use drs_waves_contract::history::network_sk;
use drs_waves_contract::job_tags;

use super::{describe, drill, run_to_end, run_to_success};

const NET: &str = "sn-0123456789abcdef0";

fn servers() -> Vec<ServerSpec> {
    ["db", "app"]
        .into_iter()
        .enumerate()
        .map(|(n, tier)| {
            ServerSpec::new(format!("s-7b{:015}", n + 1), 1.0)
                .with_tag("App", "network")
                .with_tag("Tier", tier)
        })
        .collect()
}

/// db (the network recovered before it), then app.
fn plan(name: &str, on_failure: &str) -> String {
    format!(
        "name: {name}\nterminateDrillInstances: true\n\
         defaults:\n  launchTimeoutSeconds: 120\n  polling: {{minWaitSeconds: 1, maxWaitSeconds: 2, expectedLaunchSeconds: 2}}\n\
         tasks: {{heartbeatSeconds: 10}}\nwaves:\n\
         \x20 - name: db\n    servers: {{tags: {{App: network, Tier: db}}}}\n\
         \x20   before:\n      - name: recover the VPC\n        recoverNetwork: {{sourceNetworks: [{NET}]}}\n        timeoutMinutes: 2\n        onFailure: {on_failure}\n\
         \x20 - name: app\n    servers: {{tags: {{App: network, Tier: app}}}}\n"
    )
}

fn network_jobs(dep: &Deployment, execution: &str) -> Vec<JobSnapshot> {
    dep.sim
        .jobs()
        .into_iter()
        .filter(|j| !j.networks.is_empty())
        .filter(|j| j.tags.get(job_tags::NETWORK_OF).map(String::as_str) == Some(execution))
        .collect()
}

fn launch_jobs(dep: &Deployment, execution: &str, wave: &str) -> Vec<JobSnapshot> {
    dep.sim
        .jobs()
        .into_iter()
        .filter(|j| j.networks.is_empty() && j.job_type == "LAUNCH" && !j.background)
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some(wave))
        .collect()
}

async fn deployment(name: &str) -> Result<Deployment> {
    let dep = Deployment::new(name, SimConfig::with_servers(servers())).await?;
    dep.sim
        .add_source_networks(&[SourceNetworkSpec::new(NET).with_recovery_seconds(3.0)])
        .context("staging the source network")?;
    Ok(dep)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_recovered_before_the_first_wave_launches() -> Result<()> {
    let mut dep = deployment("network-ok").await?;
    let machine = dep
        .deploy_plan("network.plan.yaml", &plan("network", "stop"))
        .await?;
    dep.start_worker(&[])?;
    let (execution, _) = run_to_success(&dep, &machine, drill()).await?;
    let jobs = network_jobs(&dep, &execution);
    ensure!(jobs.len() == 1, "network jobs: {jobs:?}");
    let job = &jobs[0];
    ensure!(
        job.networks.len() == 1
            && job.networks[0].source_network_id == NET
            && job.networks[0].launch_status == LaunchStatus::Launched,
        "{job:?}"
    );
    ensure!(
        job.initiated_by == "CREATE_NETWORK_RECOVERY",
        "initiatedBy: {}",
        job.initiated_by
    );
    let history = dep.history(&execution).await?.into_items();
    let item = history
        .get(&network_sk(1, "before", 1))
        .with_context(|| format!("no NETWORK item: {:?}", history.keys()))?;
    ensure!(item["jobId"] == job.job_id.as_str(), "{item}");
    ensure!(item["networkStatus"] == "SUCCEEDED", "{item}");
    let network_end = job.end_date_time.context("the network job never ended")?;
    let db = launch_jobs(&dep, &execution, "db");
    let db_created = db
        .iter()
        .map(|j| j.creation_date_time)
        .min()
        .context("db launched nothing")?;
    ensure!(
        network_end <= db_created,
        "wave 1's launch ({db_created}) was created before the network job ended ({network_end})"
    );
    ensure!(
        !launch_jobs(&dep, &execution, "app").is_empty(),
        "app launched nothing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_recovery_that_fails_stops_the_drill_before_wave_1() -> Result<()> {
    let mut dep = deployment("network-fail").await?;
    dep.sim
        .set_network_recovery(NET, true, Some("VpcLimitExceeded"), Some(1.0))
        .context("staging the failure")?;
    let machine = dep
        .deploy_plan("network-fail.plan.yaml", &plan("network-fail", "stop"))
        .await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(&dep, &machine, drill()).await?;
    ensure!(!ended.succeeded(), "the drill succeeded");
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.ActionFailed"),
        "error: {}",
        describe(&ended)
    );
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains("Wave 1 db: before 1 (recover the VPC)")
            && cause.contains(NET)
            && cause.contains("FAILED"),
        "the cause names the action, the network and its status: {cause}"
    );
    let jobs = network_jobs(&dep, &execution);
    ensure!(
        jobs.len() == 1 && jobs[0].networks[0].launch_status == LaunchStatus::Failed,
        "{jobs:?}"
    );
    ensure!(
        launch_jobs(&dep, &execution, "db").is_empty()
            && launch_jobs(&dep, &execution, "app").is_empty(),
        "a wave launched after the network failed"
    );
    let history = dep.history(&execution).await?;
    ensure!(
        history.execution()?["executionStatus"] == "FAILED",
        "{}",
        history.execution()?
    );
    let items = history.into_items();
    let item = items
        .get(&network_sk(1, "before", 1))
        .context("no NETWORK item")?;
    ensure!(
        item["jobId"] == jobs[0].job_id.as_str() && item["networkStatus"] == "FAILED",
        "{item}"
    );
    Ok(())
}
