//! Drills interrupted on disaster day: an outage that begins between two waves stops the drill
//! before the next wave, a RECOVERY of the same plan preempts it (no server is ever in two
//! jobs), and a drill stopped from outside is tidied up by the worker's janitor.

use super::*;

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
    let execution = dep.start_execution(&machine, &crate::drill()).await?;
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
    let drill = dep.start_execution(&machine, &crate::drill()).await?;
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

    assert_drill_instances_terminated_before_the_recovery(
        &dep,
        &jobs,
        &drill_jobs,
        &recovery_jobs,
    )?;
    assert_no_server_in_two_jobs_at_once(&jobs)
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
        let (drill, instance) =
            stop_a_drill_waiting_after_its_launch(&dep, &machine, round).await?;
        assert_tidied_up_by_the_janitor(&dep, &drill, &instance, round).await?;
        // Round 2 proves the plan runs again: its preflight takes the released lock.
    }
    Ok(())
}

/// The preempted drill's instances (4: waves 1 and 2) were terminated by a TERMINATE job
/// made before the recovery's first launch.
fn assert_drill_instances_terminated_before_the_recovery(
    dep: &Deployment,
    jobs: &[JobSnapshot],
    drill_jobs: &[JobSnapshot],
    recovery_jobs: &[JobSnapshot],
) -> Result<()> {
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
    Ok(())
}

/// No source server in two active jobs at once: its LAUNCH jobs' [creation, end] ranges never
/// overlap.
fn assert_no_server_in_two_jobs_at_once(jobs: &[JobSnapshot]) -> Result<()> {
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

/// Round `round`: a drill of `machine` launches its instance and, waiting in its Wait state
/// with the plan's lock held, is stopped from outside (round 1 through the worker's own
/// adapter, round 2 with StopExecution) and ends ABORTED. Returns the drill and its instance.
async fn stop_a_drill_waiting_after_its_launch(
    dep: &Deployment,
    machine: &str,
    round: u32,
) -> Result<(String, String)> {
    let drill = dep.start_execution(machine, &crate::drill()).await?;
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
    Ok((drill, instance))
}

/// The janitor records the stopped `drill` ABORTED with its TERMINATE job within two of its
/// rounds, releases the plan's lock, and drs-sim terminated `instance` by that job.
async fn assert_tidied_up_by_the_janitor(
    dep: &Deployment,
    drill: &str,
    instance: &str,
    round: u32,
) -> Result<()> {
    // Two janitor rounds, and slack for a loaded machine and the local engine.
    let deadline = Duration::from_secs(2 * JANITOR_INTERVAL_SECONDS + 10);
    let started = std::time::Instant::now();
    let record = eventually(
        &format!("round {round}: the janitor to record the stopped drill"),
        deadline,
        POLL * 2,
        || async move {
            let history = dep.history(drill).await.ok()?;
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
        || async move { dep.lock("janitor").await.ok()?.is_none().then_some(()) },
    )
    .await?;
    let sim = &dep.sim;
    let terminated = eventually(
        &format!("round {round}: the drill's instance terminated in drs-sim"),
        Duration::from_secs(10),
        POLL,
        || async move {
            sim.recovery_instances()
                .into_iter()
                .find(|i| i.recovery_instance_id == instance)
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
            .any(|s| s.recovery_instance_id.as_deref() == Some(instance)),
        "round {round}: {terminate_job:?}"
    );
    ensure!(
        terminated >= terminate_job.creation_date_time,
        "round {round}: terminated at {terminated}"
    );
    Ok(())
}
