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

/// Every event of an execution's Step Functions history.
async fn sfn_events(dep: &Deployment, execution: &str) -> Result<Vec<HistoryEvent>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = dep
            .sfn
            .get_execution_history()
            .execution_arn(execution)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .context("GetExecutionHistory")?;
        events.extend(page.events().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(events)
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

// ---------------------------------------------------------------------------------------------
// 1-2. StartRecovery's answer lost after the job was made
// ---------------------------------------------------------------------------------------------

/// Two waves of two servers; each wave's StartRecovery is carried out and then answered
/// `fault`: the worker finds each job by its tags in the same attempt, sends StartRecovery
/// once per chunk, and the drill succeeds with every server launched once.
async fn lost_start_recovery_answer(test: &str, prefix: &str, fault: FaultSpec) -> Result<()> {
    let ids = server_ids(prefix, 4);
    let config = SimConfig {
        faults: per_operation("StartRecovery", fault),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new(test, config).await?;
    let yaml = plan(
        "lost-start",
        &[
            Wave::new("first", &ids[..2]),
            Wave::new("second", &ids[2..]),
        ],
        10,
        false,
    );
    let machine = dep.deploy_plan("lost-start.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs())
            .await?;
    let counters = dep.sim.counters();
    let lost = counters.errors_after_commit("StartRecovery")
        + counters.drops_after_commit("StartRecovery");
    ensure!(lost == 2, "both waves' answers were lost: {counters:?}");
    ensure!(
        jobs.len() == 2 && counters.calls("StartRecovery") == 2,
        "StartRecovery is sent once per chunk, never retried: {} calls, {} jobs",
        counters.calls("StartRecovery"),
        jobs.len()
    );
    Ok(())
}

/// 1. StartRecovery answered 500 after DRS made the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_start_recovery_answered_500_after_the_job_was_made() -> Result<()> {
    lost_start_recovery_answer(
        "chaos-start-500",
        "ca01",
        FaultSpec {
            error_after_commit_next: 2,
            ..FaultSpec::default()
        },
    )
    .await
}

/// 2. StartRecovery's connection closed without an answer after DRS made the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_start_recovery_connection_closed_after_the_job_was_made() -> Result<()> {
    lost_start_recovery_answer(
        "chaos-start-drop",
        "ca02",
        FaultSpec {
            drop_after_commit_next: 2,
            ..FaultSpec::default()
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// 3-4. TerminateRecoveryInstances' answer lost after the job was made
// ---------------------------------------------------------------------------------------------

/// A drill of four servers that terminates its instances, two per TERMINATE job; the first
/// TerminateRecoveryInstances is carried out and answered `fault`: the drill succeeds, every
/// instance is terminated by exactly one job, every TERMINATE job is recorded.
async fn lost_terminate_answer(test: &str, prefix: &str, fault: FaultSpec) -> Result<()> {
    let ids = server_ids(prefix, 4);
    let config = SimConfig {
        faults: per_operation("TerminateRecoveryInstances", fault),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new(test, config).await?;
    let yaml = plan(
        "lost-terminate",
        &[
            Wave::new("first", &ids[..2]),
            Wave::new("second", &ids[2..]),
        ],
        10,
        true,
    );
    let machine = dep.deploy_plan("lost-terminate.plan.yaml", &yaml).await?;
    // Two instances per TERMINATE job: the lost answer is the first of two.
    dep.start_worker(&[("DRS_WAVES_MAX_SERVERS_PER_JOB", "2")])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs()).await?;
    let terminate_jobs = assert_terminated_once(&dep, &execution, &ended).await?;
    let counters = dep.sim.counters();
    let op = "TerminateRecoveryInstances";
    ensure!(
        counters.errors_after_commit(op) + counters.drops_after_commit(op) == 1,
        "one answer was lost: {counters:?}"
    );
    ensure!(
        terminate_jobs.len() == 2 && counters.calls(op) == 2,
        "TerminateRecoveryInstances is sent once per job: {} calls, {} jobs",
        counters.calls(op),
        terminate_jobs.len()
    );
    Ok(())
}

/// 3. TerminateRecoveryInstances answered 500 after DRS made the TERMINATE job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_terminate_answered_500_after_the_job_was_made() -> Result<()> {
    lost_terminate_answer(
        "chaos-terminate-500",
        "ca03",
        FaultSpec {
            error_after_commit_next: 1,
            ..FaultSpec::default()
        },
    )
    .await
}

/// 4. TerminateRecoveryInstances' connection closed after DRS made the TERMINATE job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_terminate_connection_closed_after_the_job_was_made() -> Result<()> {
    lost_terminate_answer(
        "chaos-terminate-drop",
        "ca04",
        FaultSpec {
            drop_after_commit_next: 1,
            ..FaultSpec::default()
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// 5-6. A wave of 250 servers in three chunks
// ---------------------------------------------------------------------------------------------

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

/// 5. A wave of 250 servers (chunks of 100, 100, 50) whose second chunk is refused by the
/// servers-in-active-jobs quota: other jobs (150 servers, started after preflight, while a
/// first one-server wave launched) fill it. The start task waits with backoff; once the quota
/// is raised the second and third chunks launch, once each, and the drill succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_quota_refuses_the_second_chunk_until_it_clears() -> Result<()> {
    let warmup = server_ids("cb05w", 1);
    let big = server_ids("cb05b", 250);
    let mut servers = fleet(&warmup, 1.0);
    servers.extend(fleet(&big, 1.0));
    let config = SimConfig {
        limits: big_wave_limits(),
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("chaos-quota-chunk", config).await?;
    let yaml = plan(
        "quota-chunk",
        &[Wave::new("warmup", &warmup), Wave::new("big", &big)],
        10,
        false,
    );
    let machine = dep.deploy_plan("quota-chunk.plan.yaml", &yaml).await?;
    let active = BIG_WAVE_ACTIVE_SERVERS.to_string();
    dep.start_worker(&[("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str())])?;
    let execution = dep.start_execution(&machine, &drill()).await?;

    // Preflight is over once the warmup wave has its job: now another team's jobs take 150 of
    // the 300 servers (so 100 + 100 of the big wave do not fit).
    let sim = &dep.sim;
    eventually("the warmup wave's job", DRILL_TIMEOUT, POLL, || {
        let found = launch_jobs_of(&sim.jobs(), &execution)
            .iter()
            .any(|j| wave_of(j) == "warmup");
        async move { found.then_some(()) }
    })
    .await?;
    sim.add_background_jobs(&[BackgroundJobSpec::launch(150, 600.0)])
        .map_err(sim_error)?;
    eventually(
        "the big wave's second chunk refused by the quota",
        DRILL_TIMEOUT,
        POLL,
        || {
            let refused = sim.counters().count("StartRecovery", 402);
            async move { (refused > 0).then_some(()) }
        },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    let refused_at = OffsetDateTime::now_utc();
    ensure!(
        chunks_in_sim(&sim.jobs(), "big")
            .keys()
            .copied()
            .collect::<Vec<_>>()
            == vec![1],
        "only chunk 1 is launched when chunk 2 is refused: {:?}",
        chunks_in_sim(&sim.jobs(), "big").keys()
    );
    // The quota clears (raised, as after a quota increase).
    sim.set_limits(Limits {
        max_servers_in_active_jobs: 1000,
        ..big_wave_limits()
    })
    .map_err(sim_error)?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let mut all = warmup.clone();
    all.extend(big.iter().cloned());
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &all, &dep.worker_logs())
            .await?;
    let chunks = chunks_in_sim(&jobs, "big");
    let sizes: Vec<(u32, usize)> = chunks.iter().map(|(n, j)| (*n, j.servers.len())).collect();
    ensure!(
        sizes == vec![(1, 100), (2, 100), (3, 50)],
        "chunks of 100, 100, 50: {sizes:?}"
    );
    ensure!(
        chunks[&1].creation_date_time < refused_at && chunks[&2].creation_date_time > refused_at,
        "chunk 1 launched before the quota refused chunk 2 ({refused_at}), chunk 2 after: {} / {}",
        chunks[&1].creation_date_time,
        chunks[&2].creation_date_time
    );
    let counters = dep.sim.counters();
    ensure!(
        counters.calls("StartRecovery") == counters.count("StartRecovery", 402) + 4,
        "one call per job, plus the refused ones: {counters:?}"
    );
    Ok(())
}

/// 5b. The other way out of scenario 5: the quota never clears. A wave of 200 servers (two
/// chunks) whose second chunk is refused, other jobs holding 150 of the 300 servers in active
/// jobs for ten minutes and chunk 1's launches taking a minute: the start task waits with backoff within the wave's 12 s launch
/// timeout, then fails the execution with DrsWaves.QuotaExceeded naming the quota and the job
/// already made for chunk 1, which the history keeps (chunk 2 planned, without a job).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_quota_that_never_clears_fails_naming_the_quota_and_the_jobs_made() -> Result<()> {
    let warmup = server_ids("cb05x", 1);
    let big = server_ids("cb05y", 200);
    let mut servers = fleet(&warmup, 1.0);
    // Chunk 1's launches outlast the wave's launch timeout: its job keeps its servers in the
    // quota, so nothing frees room for chunk 2.
    servers.extend(fleet(&big, 60.0));
    let config = SimConfig {
        limits: big_wave_limits(),
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("chaos-quota-stuck", config).await?;
    let big_wave = Wave {
        launch_timeout_seconds: 12,
        ..Wave::new("big", &big)
    };
    let yaml = plan(
        "quota-stuck",
        &[Wave::new("warmup", &warmup), big_wave],
        10,
        false,
    );
    let machine = dep.deploy_plan("quota-stuck.plan.yaml", &yaml).await?;
    let active = BIG_WAVE_ACTIVE_SERVERS.to_string();
    dep.start_worker(&[("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str())])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let sim = &dep.sim;
    eventually("the warmup wave's job", DRILL_TIMEOUT, POLL, || {
        let found = launch_jobs_of(&sim.jobs(), &execution)
            .iter()
            .any(|j| wave_of(j) == "warmup");
        async move { found.then_some(()) }
    })
    .await?;
    sim.add_background_jobs(&[BackgroundJobSpec::launch(150, 600.0)])
        .map_err(sim_error)?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.status == ExecutionStatus::Failed
            && ended.error.as_deref() == Some("DrsWaves.QuotaExceeded"),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let jobs = launch_jobs_of(&dep.sim.jobs(), &execution);
    let chunks = chunks_in_sim(&jobs, "big");
    ensure!(
        chunks.keys().copied().collect::<Vec<_>>() == vec![1],
        "only chunk 1 launched: {:?}",
        chunks.keys()
    );
    let chunk1 = &chunks[&1];
    let mut launched = warmup.clone();
    launched.extend(big[..100].iter().cloned());
    assert_each_launched_once(&dep, &execution, &launched)?;
    assert_no_conflicts(&dep)?;
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains("ServiceQuotaExceeded")
            && cause.contains("active jobs")
            && cause.contains("(quota SourceServersInActiveJobs)")
            && cause.contains(&chunk1.job_id),
        "the cause names the quota (its quotaCode) and the job already made: {cause}"
    );
    ensure!(
        dep.sim.counters().count("StartRecovery", 402) >= 2,
        "the refused chunk was tried again before giving up: {:?}",
        dep.sim.counters()
    );
    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(
        record["executionStatus"] == "FAILED" && record["error"] == "DrsWaves.QuotaExceeded",
        "{record}"
    );
    let wave = history.wave(2)?;
    ensure!(
        wave["chunks"]["1"]["jobId"] == chunk1.job_id.as_str()
            && wave["chunks"]["2"]["jobId"].is_null()
            && strings(&wave["jobIds"]) == vec![chunk1.job_id.clone()],
        "chunk 1's job recorded, chunk 2 planned without one: {wave}"
    );
    Ok(())
}

/// 6. The same 250-server wave, with the worker killed between two chunks (after chunk 1's job
/// is recorded, before chunk 2 is sent): a new worker takes the task over after its heartbeat
/// timeout and launches chunks 2 and 3 only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_killed_between_two_chunks_of_a_wave() -> Result<()> {
    let big = server_ids("cb06b", 250);
    let config = SimConfig {
        limits: big_wave_limits(),
        ..SimConfig::with_servers(fleet(&big, 1.0))
    };
    let mut dep = Deployment::new("chaos-between-chunks", config).await?;
    let yaml = plan(
        "between-chunks",
        &[Wave::new("big", &big)],
        KILL_HEARTBEAT_SECONDS,
        false,
    );
    let machine = dep.deploy_plan("between-chunks.plan.yaml", &yaml).await?;
    let active = BIG_WAVE_ACTIVE_SERVERS.to_string();
    let fault = "exit-between-chunks";
    dep.start_worker(&[
        ("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str()),
        ("DRS_WAVES_TEST_FAULT", fault),
    ])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    wait_for_fault_exit(dep.worker().context("worker")?, fault).await?;
    dep.discard_worker();
    let before = chunks_in_sim(&dep.sim.jobs(), "big");
    ensure!(
        before.keys().copied().collect::<Vec<_>>() == vec![1],
        "the worker died after chunk 1: {:?}",
        before.keys()
    );
    let history = dep.history(&execution).await?;
    let recorded = &history.wave(1)?["chunks"];
    ensure!(
        recorded["1"]["jobId"] == before[&1].job_id.as_str()
            && recorded["2"]["jobId"].is_null()
            && recorded["3"]["jobId"].is_null(),
        "chunk 1's job is recorded, chunks 2 and 3 are planned without one: {recorded}"
    );

    dep.start_worker(&[("DRS_WAVES_MAX_ACTIVE_SERVERS", active.as_str())])?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &big, &dep.worker_logs())
            .await?;
    let chunks = chunks_in_sim(&jobs, "big");
    let sizes: Vec<(u32, usize)> = chunks.iter().map(|(n, j)| (*n, j.servers.len())).collect();
    ensure!(
        sizes == vec![(1, 100), (2, 100), (3, 50)],
        "chunks of 100, 100, 50: {sizes:?}"
    );
    ensure!(
        chunks[&1].job_id == before[&1].job_id,
        "chunk 1 is the dead worker's job"
    );
    ensure!(
        dep.sim.counters().calls("StartRecovery") == 3,
        "three StartRecovery calls in all: {:?}",
        dep.sim.counters()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7. The concurrent-jobs quota full when a wave starts
// ---------------------------------------------------------------------------------------------

/// 7. Twenty jobs of another team fill the concurrent-jobs quota for 20 s just as the second
/// wave starts (they begin while the first wave launches, after preflight): the wave waits
/// with backoff, then launches once they have ended, and the drill succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_concurrent_jobs_quota_full_when_a_wave_starts() -> Result<()> {
    let warmup = server_ids("cc07w", 1);
    let second = server_ids("cc07s", 2);
    let mut servers = fleet(&warmup, 1.0);
    servers.extend(fleet(&second, 1.0));
    let mut dep =
        Deployment::new("chaos-concurrent-jobs", SimConfig::with_servers(servers)).await?;
    let yaml = plan(
        "concurrent-jobs",
        &[Wave::new("warmup", &warmup), Wave::new("second", &second)],
        10,
        false,
    );
    let machine = dep.deploy_plan("concurrent-jobs.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let sim = &dep.sim;
    eventually("the warmup wave's job", DRILL_TIMEOUT, POLL, || {
        let found = launch_jobs_of(&sim.jobs(), &execution)
            .iter()
            .any(|j| wave_of(j) == "warmup");
        async move { found.then_some(()) }
    })
    .await?;
    let max_jobs = Limits::default().max_concurrent_jobs;
    let background: Vec<BackgroundJobSpec> = (0..max_jobs)
        .map(|_| BackgroundJobSpec::launch(1, 20.0))
        .collect();
    let background_ids = sim.add_background_jobs(&background).map_err(sim_error)?;

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let mut all = warmup.clone();
    all.extend(second.iter().cloned());
    let jobs =
        assert_launched_once_and_succeeded(&dep, &execution, &ended, &all, &dep.worker_logs())
            .await?;
    let counters = dep.sim.counters();
    ensure!(
        counters.count("StartRecovery", 402) > 0,
        "the second wave met the full quota: {counters:?}"
    );
    let background_end = dep
        .sim
        .jobs()
        .iter()
        .filter(|j| background_ids.contains(&j.job_id))
        .filter_map(|j| j.end_date_time)
        .max()
        .context("the background jobs ended")?;
    let second_job = jobs
        .iter()
        .find(|j| wave_of(j) == "second")
        .context("the second wave's job")?;
    ensure!(
        second_job.creation_date_time >= background_end,
        "the second wave launched at {} while the quota was full (until {background_end})",
        second_job.creation_date_time
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 8. A retried start finds its job PENDING with no participants yet
// ---------------------------------------------------------------------------------------------

/// 8. DRS lists a new job's servers only after 40 s. The worker dies right after
/// StartRecovery returned (before recording the job); a second worker retries the start task
/// while the job is still PENDING with no participatingServers, adopts it by its tags, and the
/// checks wait for it: no second job, and the drill succeeds.
///
/// The retry comes after the heartbeat timeout (6 s) and the Retry interval (2 s); LocalStack
/// may first hand it to the dead worker's open long poll (one: it polls with one poller),
/// which costs another timeout and interval (6 s + 4 s): about 18 s, hence the 40 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_retried_start_finds_its_job_pending_without_participants() -> Result<()> {
    let ids = server_ids("cd08", 2);
    let config = SimConfig {
        timings: Timings {
            participants_delay_seconds: 40.0,
            ..Timings::default()
        },
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new("chaos-no-participants", config).await?;
    let yaml = plan(
        "no-participants",
        &[Wave::new("only", &ids)],
        KILL_HEARTBEAT_SECONDS,
        false,
    );
    let machine = dep.deploy_plan("no-participants.plan.yaml", &yaml).await?;
    let fault = "exit-after-start-recovery";
    dep.start_worker(&[
        ("DRS_WAVES_TEST_FAULT", fault),
        ("DRS_WAVES_POLLERS_PER_ACTIVITY", "1"),
    ])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    wait_for_fault_exit(dep.worker().context("worker")?, fault).await?;
    dep.discard_worker();
    let jobs = launch_jobs_of(&dep.sim.jobs(), &execution);
    ensure!(jobs.len() == 1, "one job before the retry: {jobs:?}");
    let job = jobs[0].clone();

    dep.start_worker(&[])?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs()).await?;
    ensure!(
        dep.sim.counters().calls("StartRecovery") == 1,
        "the retry sent no StartRecovery: {:?}",
        dep.sim.counters()
    );
    // The retried start answered while the job still listed no servers.
    let events = sfn_events(&dep, &execution).await?;
    let start_answered = events
        .iter()
        .filter(|e| e.r#type() == &HistoryEventType::ActivitySucceeded)
        .find(|e| {
            e.activity_succeeded_event_details()
                .and_then(|d| d.output())
                .is_some_and(|o| o.contains(&job.job_id))
        })
        .context("the start task's ActivitySucceeded")?;
    let answered_at = event_time(start_answered)?;
    ensure!(
        answered_at < job.participants_listed_date_time,
        "the retried start answered at {answered_at}, after the job listed its servers at {}: \
         the scenario needs a longer participants delay",
        job.participants_listed_date_time
    );
    ensure!(
        events
            .iter()
            .any(|e| e.r#type() == &HistoryEventType::ActivityTimedOut),
        "the dead worker's start task timed out and was retried"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 9-10. Several workers, one of them SIGKILLed
// ---------------------------------------------------------------------------------------------

/// 9. Two workers poll the same activities. StartRecovery takes 3 s (latency); the worker that
/// holds the first start task is SIGKILLed once the wave's chunks are planned (so at or just
/// before StartRecovery). The other takes the task over after the heartbeat timeout; the same
/// execution succeeds, nothing launched twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_sigkilled_while_holding_a_start_task() -> Result<()> {
    let ids = server_ids("ce09", 4);
    let config = SimConfig {
        faults: per_operation(
            "StartRecovery",
            FaultSpec {
                latency_ms: 3000,
                ..FaultSpec::default()
            },
        ),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let dep = Deployment::new("chaos-sigkill-start", config).await?;
    let yaml = plan(
        "sigkill-start",
        &[
            Wave::new("first", &ids[..2]),
            Wave::new("second", &ids[2..]),
        ],
        KILL_HEARTBEAT_SECONDS,
        false,
    );
    let machine = dep.deploy_plan("sigkill-start.plan.yaml", &yaml).await?;
    let mut workers = vec![Worker::start(&dep, 1, &[])?, Worker::start(&dep, 2, &[])?];
    let execution = dep.start_execution(&machine, &drill()).await?;

    let workers_ref = &workers;
    let holder = eventually(
        "a worker to start the first start task",
        DRILL_TIMEOUT,
        POLL,
        || {
            let holder = workers_ref
                .iter()
                .position(|w| w.started_task(Activity::StartWave));
            async move { holder }
        },
    )
    .await?;
    // The chunks are planned in the history just before StartRecovery is sent.
    let dep_ref = &dep;
    let execution_ref = &execution;
    eventually(
        "the first wave's chunks planned",
        DRILL_TIMEOUT,
        POLL,
        || async move {
            let history = dep_ref.history(execution_ref).await.ok()?;
            history
                .wave_if_any(1)
                .is_some_and(|w| w["chunks"].is_object())
                .then_some(())
        },
    )
    .await?;
    let status = workers[holder].guard.kill();
    ensure!(
        status.is_some_and(|s| !s.success()),
        "worker {} was SIGKILLed: {status:?}",
        holder + 1
    );

    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let logs = logs_of(&workers);
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &logs).await?;
    ensure!(
        workers[1 - holder].started_task(Activity::StartWave),
        "the other worker ran the start task\n{logs}"
    );
    let events = sfn_events(&dep, &execution).await?;
    ensure!(
        events
            .iter()
            .any(|e| e.r#type() == &HistoryEventType::ActivityTimedOut),
        "the killed worker's task timed out and was retried by the other\n{logs}"
    );
    for w in &mut workers {
        w.guard.kill();
    }
    Ok(())
}

/// 10. Ten plans, one execution each, spread over three workers; one worker is SIGKILLed
/// halfway (when half of the launches exist). Every execution succeeds, every server launched
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_ten_executions_on_three_workers_one_killed_halfway() -> Result<()> {
    const PLANS: usize = 10;
    let fleets: Vec<Vec<String>> = (1..=PLANS)
        .map(|p| server_ids(&format!("cf10p{p:02}"), 2))
        .collect();
    let servers: Vec<ServerSpec> = fleets.iter().flat_map(|f| fleet(f, 1.5)).collect();
    let dep = Deployment::new("chaos-ten-on-three", SimConfig::with_servers(servers)).await?;
    let mut machines = Vec::new();
    for (p, ids) in fleets.iter().enumerate() {
        let name = format!("fleet-{:02}", p + 1);
        let yaml = plan(
            &name,
            &[
                Wave::new("first", &ids[..1]),
                Wave::new("second", &ids[1..]),
            ],
            KILL_HEARTBEAT_SECONDS,
            false,
        );
        machines.push(dep.deploy_plan(&format!("{name}.plan.yaml"), &yaml).await?);
    }
    let mut workers = Vec::new();
    for n in 1..=3 {
        workers.push(Worker::start(&dep, n, &[])?);
    }
    let mut executions = Vec::new();
    for machine in &machines {
        executions.push(dep.start_execution(machine, &drill()).await?);
    }
    let total_launches = PLANS * 2;
    let sim = &dep.sim;
    eventually("half of the launches", DRILL_TIMEOUT, POLL, || {
        let launched = sim.jobs().iter().filter(|j| j.job_type == "LAUNCH").count();
        async move { (launched * 2 >= total_launches).then_some(()) }
    })
    .await?;
    // Which worker Step Functions hands a task to is its choice, not ours: kill one that has
    // taken part (the busiest), so the kill always lands on work in flight.
    let busiest = (0..workers.len())
        .max_by_key(|&w| workers[w].tasks_started())
        .expect("three workers");
    ensure!(
        workers[busiest].tasks_started() > 0,
        "some worker had taken part by the time half of the launches existed\n{}",
        logs_of(&workers)
    );
    let status = workers[busiest].guard.kill();
    ensure!(status.is_some(), "worker {} was running", busiest + 1);

    let mut ended = Vec::new();
    for execution in &executions {
        ended.push(dep.wait_for_end(execution, DRILL_TIMEOUT).await?);
    }
    let logs = logs_of(&workers);
    for ((execution, ended), ids) in executions.iter().zip(&ended).zip(&fleets) {
        assert_launched_once_and_succeeded(&dep, execution, ended, ids, &logs).await?;
    }
    for w in &mut workers {
        w.guard.kill();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 11. A DRS that throttles, fails and lags
// ---------------------------------------------------------------------------------------------

/// 11. Every DRS call takes 200 ms more; 30% are throttled, 2.5% answered 500 before and 2.5%
/// after they were carried out. A five-wave drill succeeds with every server launched once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_five_waves_through_throttling_errors_and_latency() -> Result<()> {
    let ids = server_ids("cg11", 10);
    let config = SimConfig {
        faults: FaultConfig {
            all: FaultSpec {
                throttle_fraction: 0.3,
                error_fraction: 0.025,
                error_after_commit_fraction: 0.025,
                latency_ms: 200,
                ..FaultSpec::default()
            },
            ..FaultConfig::default()
        },
        seed: Some(11),
        ..SimConfig::with_servers(fleet(&ids, 1.0))
    };
    let mut dep = Deployment::new("chaos-weather", config).await?;
    let names = ["one", "two", "three", "four", "five"];
    let waves: Vec<Wave<'_>> = names
        .iter()
        .zip(ids.chunks(2))
        .map(|(name, servers)| Wave::new(name, servers))
        .collect();
    let yaml = plan("weather", &waves, 10, false);
    let machine = dep.deploy_plan("weather.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    assert_launched_once_and_succeeded(&dep, &execution, &ended, &ids, &dep.worker_logs()).await?;
    let counters = dep.sim.counters();
    let throttled: u64 = counters
        .operations
        .values()
        .map(|o| o.by_status.get(&429).copied().unwrap_or(0))
        .sum();
    let failed: u64 = counters
        .operations
        .values()
        .map(|o| o.by_status.get(&500).copied().unwrap_or(0))
        .sum();
    ensure!(
        throttled > 0 && failed > 0,
        "the weather was bad: {throttled} throttled, {failed} 500s: {counters:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 12. A 250-server drill cleaned up while its last wave still launches
// ---------------------------------------------------------------------------------------------

/// 12. A drill of 250 servers in three waves (100, 100, 50) that terminates its instances.
/// The last wave has an optional server whose launch takes far longer than the wave's launch
/// timeout: the wave succeeds without it and finish starts while its launch job still runs.
/// The clean-up waits for that job, then terminates every instance (the slow one too) in jobs
/// of at most 100 within DRS's default quotas; the first TerminateRecoveryInstances is answered
/// 500 after DRS made the job. No ConflictException, no instance left, none terminated twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_big_drill_cleaned_up_while_its_last_wave_still_launches() -> Result<()> {
    let ids = server_ids("ch12", 250);
    let slow = vec![ids[249].clone()];
    let mut servers = fleet(&ids[..249], 1.0);
    servers.push(ServerSpec::new(slow[0].as_str(), 30.0));
    let config = SimConfig {
        faults: per_operation(
            "TerminateRecoveryInstances",
            FaultSpec {
                error_after_commit_next: 1,
                ..FaultSpec::default()
            },
        ),
        ..SimConfig::with_servers(servers)
    };
    let mut dep = Deployment::new("chaos-big-cleanup", config).await?;
    let last = Wave {
        optional: &slow,
        launch_timeout_seconds: 8,
        ..Wave::new("last", &ids[200..])
    };
    let yaml = plan(
        "big-cleanup",
        &[
            Wave::new("first", &ids[..100]),
            Wave::new("second", &ids[100..200]),
            last,
        ],
        10,
        true,
    );
    let machine = dep.deploy_plan("big-cleanup.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    let logs = dep.worker_logs();
    ensure!(
        ended.succeeded(),
        "{execution} did not succeed: {}\n{logs}",
        describe(&ended)
    );
    let jobs = assert_each_launched_once(&dep, &execution, &ids)?;
    assert_jobs_recorded(&dep, &execution, &ended).await?;
    assert_no_conflicts(&dep)?;

    // Finish started while the slow server still launched.
    let slow_launch = jobs
        .iter()
        .flat_map(|j| &j.servers)
        .find(|s| s.source_server_id == slow[0])
        .context("the slow server's launch")?
        .clone();
    ensure!(
        slow_launch.launch_status == LaunchStatus::Launched,
        "the slow server launched in the end: {slow_launch:?}"
    );
    let events = sfn_events(&dep, &execution).await?;
    let finish_entered = events
        .iter()
        .filter(|e| e.r#type() == &HistoryEventType::TaskStateEntered)
        .find(|e| {
            e.state_entered_event_details()
                .is_some_and(|d| d.name().to_lowercase().contains("finish"))
        })
        .context("the Finish state")?;
    let finish_at = event_time(finish_entered)?;
    ensure!(
        finish_at < slow_launch.launch_end_date_time,
        "finish ({finish_at}) must start while the slow server launches (until {})",
        slow_launch.launch_end_date_time
    );

    let terminate_jobs = assert_terminated_once(&dep, &execution, &ended).await?;
    let instances = dep.sim.recovery_instances();
    ensure!(
        instances.len() == 250 && instances.iter().all(|i| i.terminated_date_time.is_some()),
        "250 instances, all terminated"
    );
    let first_terminate = terminate_jobs
        .iter()
        .map(|j| j.creation_date_time)
        .min()
        .context("TERMINATE jobs")?;
    ensure!(
        first_terminate >= slow_launch.launch_end_date_time,
        "the clean-up waited for the launch job: first TERMINATE at {first_terminate}, launch ended {}",
        slow_launch.launch_end_date_time
    );
    // Within the quotas at every moment: servers in active jobs, concurrent jobs.
    let limits = Limits::default();
    let all_jobs = dep.sim.jobs();
    for job in &all_jobs {
        let at = job.creation_date_time;
        let active: Vec<&JobSnapshot> = all_jobs
            .iter()
            .filter(|j| j.creation_date_time <= at && j.end_date_time.is_none_or(|end| end > at))
            .collect();
        let servers: usize = active.iter().map(|j| j.servers.len()).sum();
        ensure!(
            servers <= limits.max_servers_in_active_jobs
                && active.len() <= limits.max_concurrent_jobs,
            "over the quotas when job {} started: {servers} servers in {} active jobs",
            job.job_id,
            active.len()
        );
    }
    let counters = dep.sim.counters();
    let op = "TerminateRecoveryInstances";
    ensure!(
        counters.errors_after_commit(op) == 1,
        "the first TERMINATE answer was lost: {counters:?}"
    );
    ensure!(
        counters.count(op, 200) + counters.errors_after_commit(op)
            == u64::try_from(terminate_jobs.len())?,
        "each TERMINATE job from one call: {counters:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 13. A required server's launch fails, with DRS's reason
// ---------------------------------------------------------------------------------------------

/// 13. A required server fails to launch for lack of EC2 capacity: the execution fails, and its
/// cause names the server and the reason from the job log, as the history does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_required_server_launch_fails_with_the_job_log_reason() -> Result<()> {
    let ids = server_ids("ci13", 2);
    let failing = ids[1].clone();
    let servers = vec![
        ServerSpec::new(ids[0].as_str(), 1.0),
        ServerSpec::new(failing.as_str(), 1.0).failing_with("capacity"),
    ];
    let mut dep = Deployment::new("chaos-launch-fails", SimConfig::with_servers(servers)).await?;
    let yaml = plan("launch-fails", &[Wave::new("only", &ids)], 10, false);
    let machine = dep.deploy_plan("launch-fails.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.status == ExecutionStatus::Failed,
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    ensure!(
        ended.error.as_deref() == Some("DrsWaves.WaveFailed"),
        "{}",
        describe(&ended)
    );
    let reason = "InsufficientInstanceCapacity";
    let cause = ended.cause.clone().unwrap_or_default();
    ensure!(
        cause.contains(&failing) && cause.contains(reason) && !cause.contains(&ids[0]),
        "the cause names the failed server and DRS's reason: {cause}"
    );
    assert_each_launched_once(&dep, &execution, &ids)?;
    assert_jobs_recorded(&dep, &execution, &ended).await?;
    assert_no_conflicts(&dep)?;

    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(record["executionStatus"] == "FAILED", "{record}");
    let recorded_cause = record["cause"].as_str().unwrap_or_default();
    ensure!(
        recorded_cause.contains(&failing) && recorded_cause.contains(reason),
        "{record}"
    );
    let job_items: Vec<&Value> = history.jobs_of_wave(1).map(|(_, item)| item).collect();
    ensure!(job_items.len() == 1, "one JOB item: {job_items:?}");
    let server = &job_items[0]["servers"][failing.as_str()];
    ensure!(
        server["launchStatus"] == "FAILED"
            && server["failureReason"]
                .as_str()
                .is_some_and(|r| r.contains(reason)),
        "the JOB item keeps the failed server's reason: {server}"
    );
    let ok = &job_items[0]["servers"][ids[0].as_str()];
    ensure!(
        ok["launchStatus"] == "LAUNCHED" && ok["failureReason"].is_null(),
        "{ok}"
    );
    Ok(())
}

/// The worker dies right after StartRecovery returned (`exit-after-start-recovery`), or right
/// after it recorded the job in the history (`exit-after-history-write`), before it answered
/// anything; a new worker picks the retried task up and finds the job instead of launching a
/// second one. (Scenario 5 of the end-to-end suite; one test per fault point, so that the two
/// heartbeat timeouts they wait for run side by side.)
async fn worker_exits_at_a_fault_point_and_the_retry_finds_its_job(fault: &str) -> Result<()> {
    let mut dep =
        Deployment::new(fault, SimConfig::with_servers(billing_servers(&[], 1.0))).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[("DRS_WAVES_TEST_FAULT", fault)])?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    wait_for_fault_exit(dep.worker().context("worker")?, fault).await?;
    dep.discard_worker();
    assert_eq!(
        dep.sim.jobs().len(),
        1,
        "{fault}: exactly one job before the restart"
    );

    dep.start_worker(&[])?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT * 2).await?;
    ensure!(
        ended.succeeded(),
        "{fault}: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    for (wave, jobs) in launch_jobs_by_wave(&dep.sim.jobs()) {
        assert_eq!(
            jobs.len(),
            1,
            "{fault}: wave {wave} has {} jobs",
            jobs.len()
        );
    }
    let output = ended.output.context("output")?;
    assert_eq!(
        job_ids_in_output(&output, "w1"),
        vec![dep.sim.jobs()[0].job_id.clone()]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_exits_after_start_recovery_and_the_retry_finds_its_job() -> Result<()> {
    worker_exits_at_a_fault_point_and_the_retry_finds_its_job("exit-after-start-recovery").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_worker_exits_after_the_history_write_and_the_retry_finds_its_job() -> Result<()> {
    worker_exits_at_a_fault_point_and_the_retry_finds_its_job("exit-after-history-write").await
}
