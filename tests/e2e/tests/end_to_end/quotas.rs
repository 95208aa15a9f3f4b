//! Issue #26: the scheduled launch strategy keeps a plan within DRS's quotas. Asserted from
//! drs-sim's own records: no StartRecovery answered 402, and at no instant did the account
//! hold more jobs or servers in active jobs than its quotas. Every test's name contains
//! `quotas`.

use anyhow::{Result, ensure};
use drs_e2e::Deployment;
use drs_sim::{JobSnapshot, ServerSpec, SimConfig};

use super::drill_to_success;

/// `count` servers tagged `Tier=<tier>`, each launching in `seconds`.
fn tier(tier: &str, first: u32, count: u32, seconds: f64) -> Vec<ServerSpec> {
    (first..first + count)
        .map(|n| {
            ServerSpec::new(format!("s-9b{n:015}"), seconds)
                .with_tag("App", "quotas")
                .with_tag("Tier", tier)
        })
        .collect()
}

fn wave(name: &str, extra: &str) -> String {
    format!("  - name: {name}\n    servers: {{tags: {{App: quotas, Tier: {name}}}}}\n{extra}")
}

/// The most jobs, and servers in them, active at once among `jobs` (each active from its
/// creation to its end, as drs-sim counts its quotas).
fn peak(jobs: &[JobSnapshot]) -> (usize, usize) {
    let mut peak = (0, 0);
    for at in jobs.iter().map(|j| j.creation_date_time) {
        let active: Vec<&JobSnapshot> = jobs
            .iter()
            .filter(|j| j.creation_date_time <= at && j.scheduled_end_date_time > at)
            .collect();
        let servers = active.iter().map(|j| j.servers.len()).sum();
        peak = (peak.0.max(active.len()), peak.1.max(servers));
    }
    peak
}

/// Two waves side by side in one account (5 and 3 servers), then one of 4, with room for 4
/// servers in active jobs, 3 jobs and 2 servers a job: a wave of 5 is larger than the account
/// can hold at once (the eager strategy's preflight refuses it), and the side-by-side waves
/// compete for the same room. The scheduled worker, told the quotas, recovers every server
/// and DRS refuses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_known_are_kept_and_drs_refuses_no_launch() -> Result<()> {
    let mut servers = tier("db", 1, 5, 2.0);
    servers.extend(tier("search", 10, 3, 1.5));
    servers.extend(tier("app", 20, 4, 1.0));
    let limits = drs_sim::Limits {
        max_servers_per_job: 2,
        max_servers_in_active_jobs: 4,
        max_concurrent_jobs: 3,
        ..drs_sim::Limits::default()
    };
    let config = SimConfig {
        limits: limits.clone(),
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("quotas-known", config).await?;
    let waves = [
        wave("db", ""),
        wave("search", "    dependsOn: []\n"),
        wave("app", "    dependsOn: [db, search]\n"),
    ]
    .concat();
    let plan = format!(
        "name: quotas-known\nterminateDrillInstances: true\n\
         defaults:\n  launchTimeoutSeconds: 180\n  polling: {{minWaitSeconds: 1, maxWaitSeconds: 2, expectedLaunchSeconds: 2}}\n\
         tasks: {{heartbeatSeconds: 10}}\nwaves:\n{waves}"
    );
    let machine = dep.deploy_plan("quotas-known.plan.yaml", &plan).await?;
    dep.start_worker(&[
        ("DRS_WAVES_LAUNCH_STRATEGY", "scheduled"),
        ("DRS_WAVES_MAX_SERVERS_PER_JOB", "2"),
        ("DRS_WAVES_MAX_ACTIVE_SERVERS", "4"),
        ("DRS_WAVES_MAX_CONCURRENT_JOBS", "3"),
    ])?;
    let (execution, _) = drill_to_success(&dep, &machine).await?;
    let counters = dep.sim.counters();
    ensure!(
        counters.count("StartRecovery", 402) == 0,
        "DRS refused {} launches for a quota\n{}",
        counters.count("StartRecovery", 402),
        dep.worker_logs()
    );
    let ours: Vec<JobSnapshot> = dep
        .sim
        .jobs()
        .into_iter()
        .filter(|j| !j.background)
        .collect();
    let launched: usize = ours
        .iter()
        .filter(|j| j.job_type == "LAUNCH")
        .filter(|j| {
            j.tags
                .get(drs_waves_contract::job_tags::EXECUTION)
                .map(String::as_str)
                == Some(execution.as_str())
        })
        .flat_map(|j| &j.servers)
        .filter(|s| s.launch_status == drs_sim::LaunchStatus::Launched)
        .count();
    ensure!(launched == 12, "{launched} of 12 servers launched");
    let (jobs, servers) = peak(&ours);
    ensure!(
        jobs <= limits.max_concurrent_jobs && servers <= limits.max_servers_in_active_jobs,
        "the account held {jobs} jobs and {servers} servers in active jobs at once"
    );
    Ok(())
}
