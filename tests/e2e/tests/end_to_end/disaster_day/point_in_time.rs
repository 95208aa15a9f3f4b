//! A RECOVERY back to a point in time (the ransomware case): every launch uses the latest
//! snapshot at or before it; a point with no such snapshot, a future one or a malformed one
//! launches nothing.

use super::*;

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
    let (dep, app, fresh) = pit_deployment(now).await?;

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

    assert_refused(&dep, &too_old, &in_future, &malformed, &lower_case).await?;

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
    assert_launched_from_the_point_in_time(&dep, &back, point_in_time).await
}

/// A deployment with the two plans: `pit-app` (PIT_A1 and PIT_A2, then PIT_A3; every server
/// with snapshots every 10 minutes for 24 h) and `pit-fresh` (PIT_B1 likewise, PIT_B2_RECENT
/// with two snapshots of the last 30 minutes only); its worker started. Returns the machines.
async fn pit_deployment(now: OffsetDateTime) -> Result<(Deployment, String, String)> {
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
    Ok((dep, app, fresh))
}

/// The refusals: a point in time older than a server's snapshots fails preflight naming that
/// server only; a future, a malformed and a lower-case one are refused by the machine before
/// preflight, the lower-case one showing the accepted form.
async fn assert_refused(
    dep: &Deployment,
    too_old: &str,
    in_future: &str,
    malformed: &str,
    lower_case: &str,
) -> Result<()> {
    let ended = dep.wait_for_end(too_old, DRILL_TIMEOUT).await?;
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
        ("future", in_future),
        ("malformed", malformed),
        ("lower-case", lower_case),
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
    for refused in [malformed, lower_case] {
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
        .wait_for_end(lower_case, DRILL_TIMEOUT)
        .await?
        .cause
        .unwrap_or_default();
    ensure!(
        lower_cause.contains("\"2026-11-27T03:00:00Z\" (upper-case T and Z"),
        "the refusal shows the accepted form: {lower_cause}"
    );
    Ok(())
}

/// The recovery `back` launched each of PIT_A1, PIT_A2 and PIT_A3 once, from its latest
/// snapshot at or before `point_in_time` (each has newer ones), and the history records the
/// point in time and each server's snapshot and RPO.
async fn assert_launched_from_the_point_in_time(
    dep: &Deployment,
    back: &str,
    point_in_time: OffsetDateTime,
) -> Result<()> {
    let pit = rfc3339(point_in_time)?;
    let jobs = launch_jobs_of(&dep.sim.jobs(), back);
    let history = dep.history(back).await?;
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
