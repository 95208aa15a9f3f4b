//! DRS as it really is (issue #21): the worker against drs-sim's unkind knobs.
//!
//! - A RECOVERY at a point in time while every Describe* answers one item a page after an
//!   empty first page picks the right snapshot for every server.
//! - A StartRecovery whose answer is lost, with new jobs listed only after 90 s: one job per
//!   server, the wave SUCCEEDED.
//! - A job that lists its servers only after 95 s still SUCCEEDS.
//! - An operator's retry after the first attempt's snapshots expired launches from snapshots
//!   that still exist.
//!
//! Every test asserts from drs-sim's records (jobs, the snapshot each launch used, counters).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use drs_e2e::Deployment;
use drs_sim::{
    FaultConfig, FaultSpec, JobSnapshot, LaunchStatus, Paging, RecoverySnapshot, ServerSelector,
    ServerSpec, SimConfig, SnapshotSpec, Timings,
};
use drs_waves_contract::job_tags;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::operator::{Act, operate, wait_for_gate};
use super::{describe, run_to_success};

/// The listing delay the issue names: DRS lists a new job a minute and a half late.
const LISTING_DELAY_SECONDS: f64 = 90.0;

/// Long enough for a 90 s listing delay and the state machine's retry before it.
const SLOW_LISTING_TIMEOUT: Duration = Duration::from_secs(300);

fn sim_error(e: drs_sim::SimError) -> anyhow::Error {
    anyhow!("drs-sim: {e}")
}

/// `n` source server IDs: `s-` + a 3-character `prefix` + 14 digits.
fn ids(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("s-{prefix}{i:014}")).collect()
}

/// A one- or two-wave plan with second-scale polling; `waves` is the YAML under `waves:`.
fn plan(name: &str, launch_timeout_seconds: u32, waves: &str) -> String {
    format!(
        "name: {name}\ndefaults:\n  launchTimeoutSeconds: {launch_timeout_seconds}\n  \
         polling: {{minWaitSeconds: 1, maxWaitSeconds: 5, expectedLaunchSeconds: 2}}\n\
         tasks: {{heartbeatSeconds: 10}}\nwaves:\n{waves}"
    )
}

fn wave(name: &str, servers: &[String]) -> String {
    format!(
        "  - name: {name}\n    servers: {{ids: [{}]}}\n",
        servers.join(", ")
    )
}

/// The LAUNCH jobs an execution made (by the worker's execution tag), oldest first.
fn launch_jobs_of(dep: &Deployment, execution: &str) -> Vec<JobSnapshot> {
    dep.sim
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == "LAUNCH" && !j.background)
        .filter(|j| j.tags.get(job_tags::EXECUTION).map(String::as_str) == Some(execution))
        .collect()
}

/// Each server's launches in `jobs`: server -> [(job, snapshot ID, status)].
fn launches(jobs: &[JobSnapshot]) -> BTreeMap<String, Vec<(String, Option<String>, LaunchStatus)>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for job in jobs {
        for s in &job.servers {
            out.entry(s.source_server_id.clone()).or_default().push((
                job.job_id.clone(),
                s.recovery_snapshot_id.clone(),
                s.launch_status,
            ));
        }
    }
    out
}

/// Every server of `servers` launched exactly once, LAUNCHED.
fn assert_each_launched_once(jobs: &[JobSnapshot], servers: &[String]) -> Result<()> {
    let by_server = launches(jobs);
    for id in servers {
        let of = by_server.get(id).map(Vec::as_slice).unwrap_or_default();
        ensure!(
            of.len() == 1 && of[0].2 == LaunchStatus::Launched,
            "{id} must be launched once and LAUNCHED: {of:?}"
        );
    }
    ensure!(
        by_server.len() == servers.len(),
        "only the plan's servers were launched: {:?}",
        by_server.keys()
    );
    Ok(())
}

fn latest_at_or_before(
    snapshots: &[RecoverySnapshot],
    at: OffsetDateTime,
) -> Option<&RecoverySnapshot> {
    snapshots
        .iter()
        .filter(|s| s.timestamp <= at)
        .max_by_key(|s| s.timestamp)
}

fn whole_second(t: OffsetDateTime) -> Result<OffsetDateTime> {
    Ok(t.replace_nanosecond(0)?)
}

/// a. A RECOVERY two hours back while every Describe* answers one item a page, its first page
/// empty with a `nextToken`: every server launches from its newest snapshot at or before the
/// point in time (drs-sim's list, read without paging), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_at_a_point_in_time_through_one_item_pages_picks_each_servers_snapshot()
-> Result<()> {
    let servers = ids("0f1", 4);
    let specs = servers
        .iter()
        .map(|id| ServerSpec::new(id.as_str(), 1.0).with_snapshots(SnapshotSpec::every(10.0, 24.0)))
        .collect();
    let config = SimConfig {
        paging: Paging {
            page_size: Some(1),
            empty_first_page: true,
        },
        ..SimConfig::with_servers(specs)
    };
    let mut dep = Deployment::new("realistic-pages", config).await?;
    let yaml = plan(
        "one-a-page",
        60,
        &(wave("first", &servers[..2]) + &wave("second", &servers[2..])),
    );
    let machine = dep.deploy_plan("one-a-page.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let point_in_time = whole_second(OffsetDateTime::now_utc() - time::Duration::hours(2))?;
    let (execution, _) = run_to_success(
        &dep,
        &machine,
        json!({"mode": "RECOVERY", "confirm": "one-a-page", "pointInTime": point_in_time.format(&Rfc3339)?}),
    ).await?;
    let jobs = launch_jobs_of(&dep, &execution);
    assert_each_launched_once(&jobs, &servers)?;
    let by_server = launches(&jobs);
    for id in &servers {
        let snapshots = dep.sim.recovery_snapshots(id).map_err(sim_error)?;
        let wanted = latest_at_or_before(&snapshots, point_in_time)
            .with_context(|| format!("{id} has a snapshot two hours old"))?;
        let used = &by_server[id][0].1;
        ensure!(
            used.as_deref() == Some(wanted.snapshot_id.as_str()),
            "{id} launched from {used:?}, not {} taken {} (the newest at or before {point_in_time})",
            wanted.snapshot_id,
            wanted.timestamp
        );
    }
    // The pages were one item each: many more calls than servers.
    let counters = dep.sim.counters();
    let snapshot_calls = counters.calls("DescribeRecoverySnapshots");
    ensure!(
        snapshot_calls >= 2 * servers.len() as u64,
        "each server's snapshots took several pages: {snapshot_calls} calls"
    );
    Ok(())
}

/// b. StartRecovery's connection is closed after DRS made the job, and DRS lists new jobs only
/// after 90 s, by when the job has ended and its servers are free again: the attempt whose
/// answer was lost looks for the chunk's job for its listing wait (set past the delay) instead
/// of sending again, finds it, never launches a server twice, and the wave SUCCEEDS. (A worker
/// that looked once and let the retry send again launched both servers twice here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_start_recovery_answer_with_jobs_listed_after_ninety_seconds_launches_once()
-> Result<()> {
    let servers = ids("0f2", 2);
    let config = SimConfig {
        faults: FaultConfig {
            per_operation: BTreeMap::from([(
                "StartRecovery".to_owned(),
                FaultSpec {
                    drop_after_commit_next: 1,
                    ..FaultSpec::default()
                },
            )]),
            ..FaultConfig::default()
        },
        timings: Timings {
            job_listing_delay_seconds: LISTING_DELAY_SECONDS,
            ..Timings::default()
        },
        // The job ends long before it is listed: its servers are free for a second launch.
        ..SimConfig::with_servers(
            servers
                .iter()
                .map(|id| ServerSpec::new(id.as_str(), 5.0))
                .collect(),
        )
    };
    let mut dep = Deployment::new("realistic-late-listing", config).await?;
    let yaml = plan("late-listing", 240, &wave("only", &servers));
    let machine = dep.deploy_plan("late-listing.plan.yaml", &yaml).await?;
    dep.start_worker(&[("DRS_WAVES_CONFLICT_LISTING_WAIT_SECONDS", "150")])?;
    let execution = dep.start_execution(&machine, &super::drill()).await?;
    let ended = dep.wait_for_end(&execution, SLOW_LISTING_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "the drill did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let jobs = launch_jobs_of(&dep, &execution);
    ensure!(jobs.len() == 1, "one job for the chunk: {jobs:?}");
    assert_each_launched_once(&jobs, &servers)?;
    let job = &jobs[0];
    ensure!(
        job.listed_date_time - job.creation_date_time
            >= time::Duration::seconds(LISTING_DELAY_SECONDS as i64),
        "the job was listed late: {job:?}"
    );
    let counters = dep.sim.counters();
    ensure!(
        counters.drops_after_commit("StartRecovery") == 1,
        "the answer was lost once: {counters:?}"
    );
    // The dropped call (counted under no status) made the job, and nothing was sent again.
    ensure!(
        counters.calls("StartRecovery") == 1,
        "StartRecovery was sent once: {counters:?}"
    );
    let history = dep.history(&execution).await?;
    assert_eq!(history.wave(1)?["waveStatus"], "SUCCEEDED");
    let recorded: Vec<String> = serde_json::from_value(history.wave(1)?["jobIds"].clone())?;
    assert_eq!(
        recorded,
        vec![job.job_id.clone()],
        "the history tracks the job"
    );
    Ok(())
}

/// c. A job that lists no participatingServers for 95 s (beyond a first check) stays PENDING,
/// then launches: the wave waits within its launch timeout and SUCCEEDS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_listing_its_servers_after_ninety_five_seconds_still_succeeds() -> Result<()> {
    const PARTICIPANTS_DELAY_SECONDS: f64 = 95.0;
    let servers = ids("0f3", 2);
    let config = SimConfig {
        timings: Timings {
            participants_delay_seconds: PARTICIPANTS_DELAY_SECONDS,
            ..Timings::default()
        },
        ..SimConfig::with_servers(
            servers
                .iter()
                .map(|id| ServerSpec::new(id.as_str(), 1.0))
                .collect(),
        )
    };
    let mut dep = Deployment::new("realistic-late-participants", config).await?;
    let yaml = plan("late-participants", 240, &wave("only", &servers));
    let machine = dep
        .deploy_plan("late-participants.plan.yaml", &yaml)
        .await?;
    dep.start_worker(&[])?;
    let execution = dep.start_execution(&machine, &super::drill()).await?;
    let ended = dep.wait_for_end(&execution, SLOW_LISTING_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "the drill did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let jobs = launch_jobs_of(&dep, &execution);
    ensure!(jobs.len() == 1, "one job, never relaunched: {jobs:?}");
    assert_each_launched_once(&jobs, &servers)?;
    let job = &jobs[0];
    ensure!(
        job.participants_listed_date_time - job.creation_date_time
            >= time::Duration::seconds(PARTICIPANTS_DELAY_SECONDS as i64),
        "{job:?}"
    );
    ensure!(
        dep.sim.counters().calls("StartRecovery") == 1,
        "StartRecovery was sent once"
    );
    Ok(())
}

/// d. A RECOVERY at a point in time; one server fails and the wave asks. Meanwhile an hour
/// passes for the snapshots (drs-sim ages them): the 10-minute snapshot the first attempt used
/// is deleted. The operator's retry launches the failed server from its newest snapshot that
/// still exists at or before the point in time (the hourly one), not the deleted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_retry_after_the_first_snapshots_expired_launches_from_live_ones() -> Result<()> {
    let servers = ids("0f4", 2);
    let (ok_server, bad_server) = (&servers[0], &servers[1]);
    // Two snapshots in one UTC hour: `hourly` at its start (the HOUR rule keeps it a day) and
    // `ten_minute` 20 minutes ago (the MINUTE rule keeps it an hour).
    let now = whole_second(OffsetDateTime::now_utc())?;
    let mut ten_minute = now - time::Duration::minutes(20);
    let hourly = ten_minute.replace_minute(0)?.replace_second(0)?;
    if ten_minute == hourly {
        ten_minute += time::Duration::seconds(1);
    }
    let times = [hourly, ten_minute];
    let specs = vec![
        ServerSpec::new(ok_server.as_str(), 1.0).with_snapshots(SnapshotSpec::at(&times)),
        ServerSpec::new(bad_server.as_str(), 1.0)
            .with_snapshots(SnapshotSpec::at(&times))
            .failing_with("capacity"),
    ];
    let mut dep =
        Deployment::new("realistic-expired-retry", SimConfig::with_servers(specs)).await?;
    let yaml = plan(
        "expired-retry",
        60,
        &format!(
            "{}    onFailure: ask\n    maxAttempts: 2\n    decision: {{timeoutMinutes: 10}}\n",
            wave("pair", &servers)
        ),
    );
    let machine = dep.deploy_plan("expired-retry.plan.yaml", &yaml).await?;
    dep.start_worker(&[])?;
    let point_in_time = now - time::Duration::minutes(10);
    let execution = dep
        .start_execution(
            &machine,
            &json!({"mode": "RECOVERY", "confirm": "expired-retry", "pointInTime": point_in_time.format(&Rfc3339)?}),
        )
        .await?;
    wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    let first = launch_jobs_of(&dep, &execution);
    let snapshot_id = |id: &str, at: OffsetDateTime| -> Result<String> {
        let snaps = dep.sim.recovery_snapshots(id).map_err(sim_error)?;
        snaps
            .iter()
            .find(|s| s.timestamp == at)
            .map(|s| s.snapshot_id.clone())
            .with_context(|| format!("{id} has a snapshot at {at}: {snaps:?}"))
    };
    let expiring = snapshot_id(bad_server, ten_minute)?;
    let live = snapshot_id(bad_server, hourly)?;
    let used_first = launches(&first)
        .get(bad_server.as_str())
        .and_then(|l| l.first().and_then(|(_, snap, _)| snap.clone()));
    ensure!(
        used_first.as_deref() == Some(expiring.as_str()),
        "the first attempt used the 10-minute snapshot {expiring}: {first:?}"
    );

    // An hour passes for the snapshots; the operator mends the server and retries.
    dep.sim
        .age_snapshots(&ServerSelector::All, 61.0)
        .map_err(sim_error)?;
    let left: Vec<String> = dep
        .sim
        .recovery_snapshots(bad_server)
        .map_err(sim_error)?
        .into_iter()
        .map(|s| s.snapshot_id)
        .collect();
    ensure!(
        left == vec![live.clone()],
        "only the hourly snapshot is left: {left:?}"
    );
    dep.sim
        .set_fail_launch(
            &ServerSelector::Servers(vec![bad_server.clone()]),
            false,
            None,
        )
        .map_err(sim_error)?;
    operate(&dep, &execution, Act::Decide("retry")).await?;
    let ended = dep.wait_for_end(&execution, super::DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "the retried recovery did not succeed: {}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let jobs = launch_jobs_of(&dep, &execution);
    ensure!(jobs.len() == 2, "the launch and the retry: {jobs:?}");
    let retry = &jobs[1];
    ensure!(
        retry.servers.len() == 1 && retry.servers[0].source_server_id == *bad_server,
        "the retry relaunches only the failed server: {retry:?}"
    );
    let relaunched = &retry.servers[0];
    ensure!(
        relaunched.recovery_snapshot_id.as_deref() == Some(live.as_str())
            && relaunched.launch_status == LaunchStatus::Launched,
        "the retry launched from the live hourly snapshot {live}, not the deleted {expiring}: {relaunched:?}"
    );
    let history = dep.history(&execution).await?;
    let point = &history.servers(1)?["servers"][bad_server.as_str()];
    ensure!(
        point["snapshotID"] == json!(live),
        "the history records the retry's launch point: {point}"
    );
    Ok(())
}
