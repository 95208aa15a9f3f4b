//! Waves as a graph (issue #23): waves with nothing between them launch at the same time
//! (branches of a Parallel state), a wave that depends on several starts once all of them have
//! ended, and a failure in one branch stops the other, cleaned up like a cancel. Every test
//! asserts from drs-sim's own records (when each job was created, when each server launched,
//! which instances were terminated) and from the history. Every test's name contains `graph`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use drs_e2e::Deployment;
use drs_sim::{JobSnapshot, ServerSpec, SimConfig};
use drs_test_harness::eventually;
use drs_waves_contract::job_tags;
use time::OffsetDateTime;

use super::{describe, drill, drill_to_success, run_to_end};

const POLL: Duration = Duration::from_millis(200);

/// `count` servers tagged `Tier=<tier>`, each launching in `seconds`.
fn tier(tier: &str, first: u32, count: u32, seconds: f64) -> Vec<ServerSpec> {
    (first..first + count)
        .map(|n| {
            ServerSpec::new(format!("s-9a{n:015}"), seconds)
                .with_tag("App", "graph")
                .with_tag("Tier", tier)
        })
        .collect()
}

fn plan(name: &str, waves: &str) -> String {
    format!(
        "name: {name}\nterminateDrillInstances: true\n\
         defaults:\n  launchTimeoutSeconds: 120\n  polling: {{minWaitSeconds: 1, maxWaitSeconds: 2, expectedLaunchSeconds: 2}}\n\
         tasks: {{heartbeatSeconds: 10}}\nwaves:\n{waves}"
    )
}

fn wave(name: &str, extra: &str) -> String {
    format!("  - name: {name}\n    servers: {{tags: {{App: graph, Tier: {name}}}}}\n{extra}")
}

/// The LAUNCH jobs of one wave of an execution, by the worker's tags.
fn wave_jobs(dep: &Deployment, execution: &str, wave: &str) -> Vec<JobSnapshot> {
    dep.sim
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == "LAUNCH" && !j.background)
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some(wave))
        .collect()
}

/// When a wave's first job was created, and when its last server ended its launch.
fn span(jobs: &[JobSnapshot]) -> Result<(OffsetDateTime, OffsetDateTime)> {
    let created = jobs
        .iter()
        .map(|j| j.creation_date_time)
        .min()
        .context("no job")?;
    let ended = jobs
        .iter()
        .flat_map(|j| &j.servers)
        .map(|s| s.launch_end_date_time)
        .max()
        .context("no server")?;
    Ok((created, ended))
}

/// db and search side by side, app after both: deployed with `servers` and a worker; returns
/// the deployment and the machine.
async fn deploy_db_search_app(
    test: &str,
    servers: Vec<ServerSpec>,
) -> Result<(Deployment, String)> {
    let mut dep = Deployment::new(test, SimConfig::with_servers(servers)).await?;
    let waves = [
        wave("db", ""),
        wave("search", "    dependsOn: []\n"),
        wave("app", "    dependsOn: [db, search]\n"),
    ]
    .concat();
    let machine = dep
        .deploy_plan(&format!("{test}.plan.yaml"), &plan(test, &waves))
        .await?;
    dep.start_worker(&[])?;
    Ok((dep, machine))
}

/// Polls until `count` drill instances of `waves` were launched and every one is terminated
/// (a launch still running when the run ended is cleaned up after it, by the clean-up or the
/// janitor).
async fn all_terminated(
    dep: &Deployment,
    execution: &str,
    waves: &[&str],
    count: usize,
) -> Result<()> {
    let sim = &dep.sim;
    eventually(
        &format!("the {count} drill instances of {waves:?} terminated"),
        Duration::from_secs(150),
        POLL,
        || async move {
            let launched: Vec<String> = waves
                .iter()
                .flat_map(|w| wave_jobs(dep, execution, w))
                .flat_map(|j| j.servers)
                .filter_map(|s| s.recovery_instance_id)
                .collect();
            let instances = sim.recovery_instances();
            let gone = launched.iter().all(|id| {
                instances
                    .iter()
                    .any(|i| &i.recovery_instance_id == id && i.terminated_date_time.is_some())
            });
            (launched.len() == count && gone).then_some(())
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", dep.worker_logs()))
}

/// db and search have nothing to wait for from each other: they launch at the same time. app
/// waits for both, and starts only once both have launched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_independent_waves_overlap_and_a_joining_wave_waits_for_both() -> Result<()> {
    let mut servers = tier("db", 1, 2, 8.0);
    servers.extend(tier("search", 3, 1, 8.0));
    servers.extend(tier("app", 4, 1, 1.0));
    let (dep, machine) = deploy_db_search_app("graph-overlap", servers).await?;
    let (execution, ended) = drill_to_success(&dep, &machine).await?;

    let (db_created, db_ended) = span(&wave_jobs(&dep, &execution, "db"))?;
    let (search_created, search_ended) = span(&wave_jobs(&dep, &execution, "search"))?;
    let (app_created, _) = span(&wave_jobs(&dep, &execution, "app"))?;
    ensure!(
        db_created < search_ended && search_created < db_ended,
        "db ({db_created}..{db_ended}) and search ({search_created}..{search_ended}) did not overlap"
    );
    ensure!(
        app_created >= db_ended && app_created >= search_ended,
        "app's job was created at {app_created}, before db ({db_ended}) or search ({search_ended}) had launched"
    );
    // The Parallel state put every wave's state back together: the output and the history
    // hold each wave's jobs.
    let output = ended.output.clone().context("output")?;
    let history = dep.history(&execution).await?;
    for (index, key) in [(1, "w1"), (2, "w2"), (3, "w3")] {
        ensure!(
            output["waves"][key]["status"] == "SUCCEEDED",
            "{key}: {output}"
        );
        ensure!(
            history.wave(index)?["waveStatus"] == "SUCCEEDED",
            "wave {index}"
        );
    }
    ensure!(output["result"]["outcome"] == "SUCCEEDED", "{output}");
    Ok(())
}

/// db fails with `onFailure: stop` while search, in the other branch, is still launching: the
/// run fails naming db, search is stopped and recorded INTERRUPTED (not left LAUNCHING), app
/// never launches, and every drill instance of both branches is terminated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_a_failed_branch_stops_the_other_and_both_are_cleaned_up() -> Result<()> {
    let mut servers = tier("db", 1, 1, 2.0);
    servers[0] = servers[0].clone().failing();
    servers.extend(tier("db", 2, 1, 2.0));
    servers.extend(tier("search", 3, 2, 15.0));
    servers.extend(tier("app", 5, 1, 1.0));
    let (dep, machine) = deploy_db_search_app("graph-stop", servers).await?;
    let (execution, ended) = run_to_end(&dep, &machine, drill()).await?;
    ensure!(
        !ended.succeeded(),
        "the drill succeeded: {}",
        describe(&ended)
    );
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.WaveFailed")
            && ended.cause.as_deref().is_some_and(|c| c.contains("db")),
        "the failure names db: {}",
        describe(&ended)
    );
    ensure!(
        wave_jobs(&dep, &execution, "app").is_empty(),
        "app launched"
    );
    let search_jobs = wave_jobs(&dep, &execution, "search");
    ensure!(
        !search_jobs.is_empty(),
        "search was launched before db failed"
    );

    let history = dep.history(&execution).await?;
    ensure!(
        history.wave(1)?["waveStatus"] == "FAILED",
        "db: {}",
        history.wave(1)?
    );
    let search = history.wave(2)?;
    ensure!(
        search["waveStatus"] == "INTERRUPTED",
        "search must be ended by the failure, not left launching: {search}"
    );
    ensure!(history.execution()?["executionStatus"] == "FAILED");

    // Every instance either branch launched ends up terminated: db's good server and both
    // search servers.
    all_terminated(&dep, &execution, &["db", "search"], 3).await?;
    Ok(())
}

/// Branches share DRS's quotas: with room for 3 servers in active jobs (and the worker told so,
/// as a deployment is told its account's quotas: its terminate jobs must fit too), two
/// side-by-side waves of 2 servers cannot launch at once. The second to ask waits its turn
/// instead of failing, and launches once the first wave's job has completed; the drill
/// succeeds and its clean-up fits the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_branches_share_the_quota_and_one_waits_its_turn() -> Result<()> {
    let mut servers = tier("db", 1, 2, 6.0);
    servers.extend(tier("search", 3, 2, 6.0));
    let config = SimConfig {
        limits: drs_sim::Limits {
            max_servers_in_active_jobs: 3,
            ..drs_sim::Limits::default()
        },
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("graph-quota", config).await?;
    let waves = [wave("db", ""), wave("search", "    dependsOn: []\n")].concat();
    let machine = dep
        .deploy_plan("graph-quota.plan.yaml", &plan("graph-quota", &waves))
        .await?;
    dep.start_worker(&[("DRS_WAVES_MAX_ACTIVE_SERVERS", "3")])?;
    let (execution, _) = drill_to_success(&dep, &machine).await?;
    let db = wave_jobs(&dep, &execution, "db");
    let search = wave_jobs(&dep, &execution, "search");
    ensure!(
        db.len() == 1 && search.len() == 1,
        "one job each: {db:?} {search:?}"
    );
    let (first, second) = if db[0].creation_date_time <= search[0].creation_date_time {
        (&db[0], &search[0])
    } else {
        (&search[0], &db[0])
    };
    let first_end = first.end_date_time.context("the first job ended")?;
    ensure!(
        second.creation_date_time >= first_end,
        "the second wave's job ({}) was created before the first's completed ({first_end})",
        second.creation_date_time
    );
    Ok(())
}

/// An operator cancels a drill while two branches launch side by side: the execution ends
/// CANCELLED, both branches' waves are recorded INTERRUPTED, the joining wave never launches,
/// and every drill instance of both branches ends up terminated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_a_cancel_while_two_branches_launch_ends_both() -> Result<()> {
    let mut servers = tier("db", 1, 1, 20.0);
    servers.extend(tier("search", 2, 1, 20.0));
    servers.extend(tier("app", 3, 1, 1.0));
    let (dep, machine) = deploy_db_search_app("graph-cancel", servers).await?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let (dep_ref, exec) = (&dep, execution.as_str());
    eventually(
        "both branches launching",
        Duration::from_secs(120),
        POLL,
        || async move {
            let both = !wave_jobs(dep_ref, exec, "db").is_empty()
                && !wave_jobs(dep_ref, exec, "search").is_empty();
            both.then_some(())
        },
    )
    .await?;
    let out = dep
        .cli_command()?
        .args(["cancel", &execution])
        .stdin(std::process::Stdio::null())
        .output()
        .context("drs-waves cancel")?;
    ensure!(
        out.status.success(),
        "drs-waves cancel: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ended = dep.wait_for_end(&execution, super::DRILL_TIMEOUT).await?;
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.Cancelled"),
        "the run ends cancelled: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let history = dep.history(&execution).await?;
    ensure!(
        history.execution()?["executionStatus"] == "CANCELLED",
        "{}",
        history.execution()?
    );
    for index in [1, 2] {
        let w = history.wave(index)?;
        ensure!(w["waveStatus"] == "INTERRUPTED", "wave {index}: {w}");
    }
    ensure!(
        wave_jobs(&dep, &execution, "app").is_empty(),
        "app launched after the cancel"
    );
    all_terminated(&dep, &execution, &["db", "search"], 2).await?;
    Ok(())
}
