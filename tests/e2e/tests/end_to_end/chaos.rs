//! Chaos (issue #12): no launch lost or doubled.
//!
//! Each test breaks one thing on the way of a launch or a clean-up and then proves, from
//! drs-sim's own records (its jobs, counters and recovery instances), that every source server
//! was launched by exactly one job of the execution, that every job is in the history and in
//! the execution's output, and how the execution ended:
//!
//! - an answer lost after DRS made the job (a 500, a closed connection), for StartRecovery and
//!   for TerminateRecoveryInstances;
//! - quotas: a wave's second chunk refused until the quota clears, a wave that waits for the
//!   account's other jobs to end;
//! - workers that die: right after StartRecovery or right after recording its job, between two
//!   chunks of a wave, after StartRecovery while the job lists no servers yet, SIGKILLed while holding a start task beside another worker, one of three
//!   workers running ten executions;
//! - a DRS that throttles, fails and lags on every call;
//! - a 250-server drill whose clean-up starts while its last wave still launches;
//! - a launch that fails, with the reason DRS logged.
//!
//! `cargo test -p drs-e2e --test end_to_end -- chaos` runs them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use drs_e2e::harness::ChildGuard;
use drs_e2e::{Deployment, Ended};
use drs_sim::{
    BackgroundJobSpec, FaultConfig, FaultSpec, JobSnapshot, LaunchStatus, Limits, ServerSpec,
    SimConfig, Timings,
};
use drs_test_harness::eventually;
use drs_waves_contract::{Activity, job_tags};
use serde_json::Value;
use time::OffsetDateTime;

use super::{
    DRILL_TIMEOUT, billing_servers, describe, drill, job_ids_in_output, launch_jobs_by_wave,
};

mod degraded_drs;
mod lost_answers;
mod quotas;
mod worker_kills;

/// How often the tests look at drs-sim, the history or a log while they wait for a moment.
const POLL: Duration = Duration::from_millis(100);

/// The heartbeat of the plans whose workers die: a dead worker's task is retried after it.
const KILL_HEARTBEAT_SECONDS: u32 = 6;

fn sim_error(e: drs_sim::SimError) -> anyhow::Error {
    anyhow!("drs-sim: {e}")
}

// ---------------------------------------------------------------------------------------------
// Fleets and plans
// ---------------------------------------------------------------------------------------------

/// `n` source server IDs `s-<prefix><number>` (17 characters after `s-`).
fn server_ids(prefix: &str, n: usize) -> Vec<String> {
    let width = 17 - prefix.len();
    (1..=n).map(|i| format!("s-{prefix}{i:0width$}")).collect()
}

fn fleet(ids: &[String], launch_seconds: f64) -> Vec<ServerSpec> {
    ids.iter()
        .map(|id| ServerSpec::new(id.as_str(), launch_seconds))
        .collect()
}

/// One wave of a test plan.
struct Wave<'a> {
    name: &'a str,
    servers: &'a [String],
    optional: &'a [String],
    launch_timeout_seconds: u32,
}

impl<'a> Wave<'a> {
    fn new(name: &'a str, servers: &'a [String]) -> Self {
        Wave {
            name,
            servers,
            optional: &[],
            launch_timeout_seconds: 120,
        }
    }
}

/// A plan with second-scale timings.
fn plan(name: &str, waves: &[Wave<'_>], heartbeat_seconds: u32, terminate: bool) -> String {
    let mut yaml = format!(
        "name: {name}\nterminateDrillInstances: {terminate}\n\
         defaults:\n  polling: {{minWaitSeconds: 1, maxWaitSeconds: 3, expectedLaunchSeconds: 2}}\n\
         tasks: {{heartbeatSeconds: {heartbeat_seconds}}}\nwaves:\n"
    );
    for wave in waves {
        yaml.push_str(&format!(
            "  - name: {}\n    launchTimeoutSeconds: {}\n    servers: {{ids: [{}]}}\n",
            wave.name,
            wave.launch_timeout_seconds,
            wave.servers.join(", ")
        ));
        if !wave.optional.is_empty() {
            yaml.push_str(&format!("    optional: [{}]\n", wave.optional.join(", ")));
        }
    }
    yaml
}

fn per_operation(op: &str, spec: FaultSpec) -> FaultConfig {
    FaultConfig {
        per_operation: BTreeMap::from([(op.to_owned(), spec)]),
        ..FaultConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Workers beside the deployment's own (several workers polling the same activities)
// ---------------------------------------------------------------------------------------------

/// A worker process of `dep` started by this module: the e2e library runs one worker per
/// deployment, these tests run several side by side, as a scaled service does.
struct Worker {
    guard: ChildGuard,
    log: PathBuf,
}

impl Worker {
    fn start(dep: &Deployment, number: usize, extra_env: &[(&str, &str)]) -> Result<Worker> {
        let stack = drs_e2e::shared_stack()?;
        let log = std::env::temp_dir()
            .join(&dep.prefix)
            .join(format!("chaos-worker-{number}.log"));
        std::fs::create_dir_all(log.parent().context("log dir")?)?;
        let arns = dep
            .activity_arns
            .iter()
            .map(|(a, arn)| format!("{}={arn}", a.name()))
            .collect::<Vec<_>>()
            .join(",");
        let mut cmd = Command::new(drs_e2e::worker_binary()?);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_REGION", drs_test_harness::TEST_REGION)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_SFN", &stack.sfn_endpoint)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &stack.dynamodb_endpoint)
            .env("AWS_ENDPOINT_URL_DRS", dep.sim.endpoint())
            .env("DRS_WAVES_TABLE", &dep.table)
            .env("DRS_WAVES_ACTIVITY_ARNS", arns)
            .env("DRS_WAVES_LOG_FORMAT", "json")
            .env("DRS_WAVES_SHUTDOWN_GRACE_SECONDS", "10")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let guard = ChildGuard::spawn_logged(&format!("drs-worker-{number}"), &mut cmd, &log)?;
        Ok(Worker { guard, log })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many tasks it has started (its `task started` log lines).
    fn tasks_started(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains("task started"))
            .count()
    }

    /// Whether it has started a task of `activity` (its `task started` log line).
    fn started_task(&self, activity: Activity) -> bool {
        let marker = format!("\"activity\":\"{}\"", activity.name());
        self.log_text()
            .lines()
            .any(|l| l.contains("task started") && l.contains(&marker))
    }
}

fn logs_of(workers: &[Worker]) -> String {
    let mut out = String::new();
    for w in workers {
        let text = w.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        out.push_str(&format!(
            "--- {} (last 30 lines)\n{tail}\n",
            w.log.display()
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// What drs-sim, the history and the output say
// ---------------------------------------------------------------------------------------------

/// The LAUNCH jobs an execution made (by the worker's execution tag), oldest first.
fn launch_jobs_of(jobs: &[JobSnapshot], execution: &str) -> Vec<JobSnapshot> {
    jobs.iter()
        .filter(|j| j.job_type == "LAUNCH" && !j.background)
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .cloned()
        .collect()
}

fn wave_of(job: &JobSnapshot) -> &str {
    job.tags
        .get(job_tags::WAVE)
        .map(String::as_str)
        .unwrap_or_default()
}

fn chunk_of(job: &JobSnapshot) -> Option<u32> {
    job.tags.get(job_tags::CHUNK).and_then(|c| c.parse().ok())
}

/// Every one of `servers` was launched by exactly one LAUNCH job of `execution`, no other
/// server was, and every job was a drill. Returns the execution's LAUNCH jobs.
fn assert_each_launched_once(
    dep: &Deployment,
    execution: &str,
    servers: &[String],
) -> Result<Vec<JobSnapshot>> {
    let jobs = launch_jobs_of(&dep.sim.jobs(), execution);
    let mut by_server: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for job in &jobs {
        ensure!(
            job.is_drill == Some(true) && job.initiated_by == "START_DRILL",
            "job {} is not a drill job",
            job.job_id
        );
        for s in &job.servers {
            by_server
                .entry(s.source_server_id.as_str())
                .or_default()
                .push(job.job_id.as_str());
        }
    }
    let twice: Vec<_> = by_server.iter().filter(|(_, j)| j.len() > 1).collect();
    ensure!(
        twice.is_empty(),
        "source servers launched more than once by {execution}: {twice:?}"
    );
    let expected: BTreeSet<&str> = servers.iter().map(String::as_str).collect();
    let launched: BTreeSet<&str> = by_server.keys().copied().collect();
    let never: Vec<_> = expected.difference(&launched).collect();
    let unexpected: Vec<_> = launched.difference(&expected).collect();
    ensure!(
        never.is_empty() && unexpected.is_empty(),
        "{execution}: never launched {never:?}, launched but not planned {unexpected:?}"
    );
    // One job per chunk of a wave: a chunk launched twice would show as two jobs with its tag.
    let mut chunks: BTreeMap<(&str, Option<u32>), Vec<&str>> = BTreeMap::new();
    for job in &jobs {
        chunks
            .entry((wave_of(job), chunk_of(job)))
            .or_default()
            .push(job.job_id.as_str());
    }
    ensure!(
        chunks.values().all(|j| j.len() == 1),
        "a chunk with several jobs: {chunks:?}"
    );
    Ok(jobs)
}

/// DRS never answered ConflictException: nothing asked to launch or terminate a server that
/// was in an active job already (the trace of a doubled StartRecovery).
fn assert_no_conflicts(dep: &Deployment) -> Result<()> {
    let counters = dep.sim.counters();
    for op in ["StartRecovery", "TerminateRecoveryInstances"] {
        ensure!(
            counters.count(op, 409) == 0,
            "{op} was refused with ConflictException {} times: {counters:?}",
            counters.count(op, 409)
        );
    }
    Ok(())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// drs-sim's LAUNCH jobs of an execution, its history and its output agree, wave by wave:
/// every job is in its WAVE item's `jobIds` and in exactly one of its `chunks` (the chunk its
/// tag names), and, when the execution succeeded, in `$.waves.w<n>.jobIds` and
/// `$.result.waves`; nothing else is there.
async fn assert_jobs_recorded(dep: &Deployment, execution: &str, ended: &Ended) -> Result<()> {
    let jobs = launch_jobs_of(&dep.sim.jobs(), execution);
    let mut in_sim: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for job in &jobs {
        in_sim
            .entry(wave_of(job).to_owned())
            .or_default()
            .insert(job.job_id.clone());
    }
    let history = dep.history(execution).await?;
    let mut in_history: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in history.waves() {
        let name = item["waveName"].as_str().unwrap_or_default().to_owned();
        let ids: BTreeSet<String> = strings(&item["jobIds"]).into_iter().collect();
        let chunks = item["chunks"]
            .as_object()
            .with_context(|| format!("wave {name} has no chunks in the history: {item}"))?;
        let mut chunk_jobs = BTreeMap::new();
        for (number, chunk) in chunks {
            let job = chunk["jobId"]
                .as_str()
                .with_context(|| format!("wave {name} chunk {number} has no job: {chunk}"))?;
            chunk_jobs.insert(number.parse::<u32>()?, job.to_owned());
        }
        ensure!(
            chunk_jobs.values().cloned().collect::<BTreeSet<_>>() == ids,
            "wave {name}: chunks {chunk_jobs:?} and jobIds {ids:?} disagree"
        );
        for job in jobs.iter().filter(|j| wave_of(j) == name) {
            let chunk = chunk_of(job).context("a job without its chunk tag")?;
            ensure!(
                chunk_jobs.get(&chunk) == Some(&job.job_id),
                "wave {name}: job {} (chunk {chunk}) is not that chunk's job in the history: {chunk_jobs:?}",
                job.job_id
            );
        }
        in_history.insert(name, ids);
    }
    ensure!(
        in_sim == in_history,
        "{execution}: drs-sim's jobs {in_sim:?}, the history's {in_history:?}"
    );
    if ended.succeeded() {
        let output = ended
            .output
            .as_ref()
            .context("a succeeded execution's output")?;
        let mut in_state: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for wave in output["waves"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, w)| w)
        {
            in_state
                .entry(wave["wave"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .extend(strings(&wave["jobIds"]));
        }
        ensure!(
            in_sim == in_state,
            "{execution}: drs-sim's jobs {in_sim:?}, $.waves {in_state:?}"
        );
        let mut in_result: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for wave in output["result"]["waves"].as_array().into_iter().flatten() {
            in_result
                .entry(wave["wave"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .extend(strings(&wave["jobIds"]));
        }
        ensure!(
            in_sim == in_result,
            "{execution}: drs-sim's jobs {in_sim:?}, $.result.waves {in_result:?}"
        );
    }
    Ok(())
}

/// The execution succeeded, every server launched once (and LAUNCHED), every job recorded,
/// nothing refused as a conflict.
async fn assert_launched_once_and_succeeded(
    dep: &Deployment,
    execution: &str,
    ended: &Ended,
    servers: &[String],
    logs: &str,
) -> Result<Vec<JobSnapshot>> {
    ensure!(
        ended.succeeded(),
        "{execution} did not succeed: {}\n{logs}",
        describe(ended)
    );
    let output = ended.output.as_ref().context("output")?;
    ensure!(
        output["result"]["outcome"] == "SUCCEEDED",
        "{execution}: {}",
        output["result"]
    );
    let jobs = assert_each_launched_once(dep, execution, servers)?;
    let not_launched: Vec<&str> = jobs
        .iter()
        .flat_map(|j| &j.servers)
        .filter(|s| s.launch_status != LaunchStatus::Launched)
        .map(|s| s.source_server_id.as_str())
        .collect();
    ensure!(
        not_launched.is_empty(),
        "{execution}: not LAUNCHED {not_launched:?}"
    );
    assert_jobs_recorded(dep, execution, ended).await?;
    assert_no_conflicts(dep)?;
    let history = dep.history(execution).await?;
    ensure!(
        history.execution()?["executionStatus"] == "SUCCEEDED",
        "{}",
        history.execution()?
    );
    Ok(jobs)
}

/// Every recovery instance the execution launched is terminated (drs-sim's
/// `terminatedDateTime`), each by exactly one TERMINATE job; those jobs are every TERMINATE
/// job drs-sim has, and they are the history's `terminateJobIds` and `$.result.terminateJobIds`;
/// the clean-up is DONE. Returns the TERMINATE jobs.
pub(super) async fn assert_terminated_once(
    dep: &Deployment,
    execution: &str,
    ended: &Ended,
) -> Result<Vec<JobSnapshot>> {
    let launch_jobs: BTreeSet<String> = launch_jobs_of(&dep.sim.jobs(), execution)
        .into_iter()
        .map(|j| j.job_id)
        .collect();
    let sim = &dep.sim;
    // TERMINATE jobs take a moment: wait for drs-sim to say every instance is gone.
    let instances = eventually(
        "every instance of the drill terminated in drs-sim",
        Duration::from_secs(30),
        POLL,
        || {
            let all: Vec<_> = sim
                .recovery_instances()
                .into_iter()
                .filter(|i| launch_jobs.contains(&i.job_id))
                .collect();
            let done = all.iter().all(|i| i.terminated_date_time.is_some());
            async move { done.then_some(all) }
        },
    )
    .await?;
    ensure!(!instances.is_empty(), "the drill launched no instance");
    let terminate_jobs: Vec<JobSnapshot> = dep
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == "TERMINATE" && !j.background)
        .collect();
    let mut by_instance: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for job in &terminate_jobs {
        ensure!(
            job.servers.len() <= 100,
            "TERMINATE job {} has {} servers, over the per-job limit",
            job.job_id,
            job.servers.len()
        );
        for s in &job.servers {
            let id = s
                .recovery_instance_id
                .as_deref()
                .context("a TERMINATE job's server without its instance")?;
            by_instance.entry(id).or_default().push(job.job_id.as_str());
        }
    }
    for instance in &instances {
        let jobs = by_instance
            .get(instance.recovery_instance_id.as_str())
            .cloned()
            .unwrap_or_default();
        ensure!(
            jobs.len() == 1,
            "instance {} of {} is in {} TERMINATE jobs: {jobs:?}",
            instance.recovery_instance_id,
            instance.source_server_id,
            jobs.len()
        );
    }
    ensure!(
        by_instance.len() == instances.len(),
        "TERMINATE jobs hold instances the drill did not launch"
    );
    let in_sim: BTreeSet<String> = terminate_jobs.iter().map(|j| j.job_id.clone()).collect();
    let history = dep.history(execution).await?;
    let record = history.execution()?;
    let in_history: BTreeSet<String> = strings(&record["terminateJobIds"]).into_iter().collect();
    ensure!(
        in_sim == in_history,
        "drs-sim's TERMINATE jobs {in_sim:?}, the history's terminateJobIds {in_history:?}"
    );
    ensure!(record["cleanup"] == "DONE", "history: {record}");
    let output = ended.output.as_ref().context("output")?;
    let in_output: BTreeSet<String> = strings(&output["result"]["terminateJobIds"])
        .into_iter()
        .collect();
    ensure!(
        in_sim == in_output,
        "drs-sim's TERMINATE jobs {in_sim:?}, $.result.terminateJobIds {in_output:?}"
    );
    ensure!(
        output["result"]["cleanup"] == "DONE",
        "$.result: {}",
        output["result"]
    );
    Ok(terminate_jobs)
}

/// Every event of an execution's Step Functions history, oldest first (the read the CLI uses).
async fn sfn_events(dep: &Deployment, execution: &str) -> Result<Vec<HistoryEvent>> {
    let every_event = drs_waves_aws::sfn::HistoryRead {
        newest_first: false,
        page_size: 1000,
        with_data: true,
        at_most: None,
    };
    drs_waves_aws::sfn::execution_history(&dep.sfn, execution, every_event, |_| false)
        .await
        .map_err(|f| anyhow::anyhow!("GetExecutionHistory: {f:?}"))
}

fn event_time(event: &HistoryEvent) -> Result<OffsetDateTime> {
    let t = event.timestamp();
    Ok(OffsetDateTime::from_unix_timestamp(t.secs())?
        + time::Duration::nanoseconds(i64::from(t.subsec_nanos())))
}

/// Waits for a worker to reach its fault point (it exits, code 86).
async fn wait_for_fault_exit(worker: &mut ChildGuard, fault: &str) -> Result<()> {
    let status = eventually(
        &format!("the worker to exit at {fault}"),
        DRILL_TIMEOUT,
        Duration::from_millis(200),
        || {
            let status = worker.try_wait();
            async move { status }
        },
    )
    .await?;
    ensure!(
        status.code() == Some(86),
        "{fault}: the fault point exits with 86, not {status:?}"
    );
    Ok(())
}

/// The big wave's quotas: 250 servers in active jobs must fit (DRS's default is 200).
const BIG_WAVE_ACTIVE_SERVERS: usize = 300;

fn big_wave_limits() -> Limits {
    Limits {
        max_servers_in_active_jobs: BIG_WAVE_ACTIVE_SERVERS,
        ..Limits::default()
    }
}

/// The chunks of a wave in drs-sim, by chunk number: (job, its servers).
fn chunks_in_sim(jobs: &[JobSnapshot], wave: &str) -> BTreeMap<u32, JobSnapshot> {
    jobs.iter()
        .filter(|j| wave_of(j) == wave)
        .filter_map(|j| Some((chunk_of(j)?, j.clone())))
        .collect()
}
