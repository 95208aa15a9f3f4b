//! Post-launch actions and skipped servers (issue #21): drs-sim runs the SSM documents of a
//! launched server after it is LAUNCHED and reports them in DescribeJobs'
//! `launchActionsStatus`; the worker waits for them, fails the wave on a required action that
//! FAILED (naming it and DRS's `failureReason`), keeps a failed optional one as a warning in
//! the history and the report, and fails a server DRS skipped (SERVER_SKIPPED) with DRS's
//! reason. Every assertion is checked against drs-sim's own records.

use anyhow::{Context, Result};
use drs_sim::{JobServerSnapshot, LaunchActionSpec, RunStatus, ServerSpec, SimConfig};

use super::{
    APP1, DB1, Deployment, WEB1, billing_servers, describe, drill, launch_jobs_by_wave, run_to_end,
};

/// The billing example's servers, with `change` applied to server `id`.
fn billing_with(id: &str, change: impl Fn(ServerSpec) -> ServerSpec) -> Vec<ServerSpec> {
    billing_servers(&[], 1.5)
        .into_iter()
        .map(|s| if s.id == id { change(s) } else { s })
        .collect()
}

/// The server `id` of drs-sim's launch jobs (there is one launch of it in these drills).
fn sim_server(dep: &Deployment, id: &str) -> Result<JobServerSnapshot> {
    dep.sim
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == "LAUNCH")
        .flat_map(|j| j.servers)
        .find(|s| s.source_server_id == id)
        .with_context(|| format!("{id} in no launch job of drs-sim"))
}

const CHECK_REASON: &str = "HTTP check on port 8080 failed: connection refused";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_required_post_launch_action_fails_its_wave_naming_the_action() -> Result<()> {
    let servers = billing_with(APP1, |s| {
        s.with_post_launch_action(
            LaunchActionSpec::new("Check app health", 1.0)
                .with_action_code("Billing-CheckHealth")
                .failing_with(CHECK_REASON),
        )
    });
    let mut dep = Deployment::new("action-fails", SimConfig::with_servers(servers)).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(&dep, &machine, drill()).await?;
    assert_eq!(
        ended.status,
        aws_sdk_sfn::types::ExecutionStatus::Failed,
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    assert_eq!(ended.error.as_deref(), Some("DrsWaves.WaveFailed"));
    let cause = ended.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("wave 'app-servers'")
            && cause.contains(APP1)
            && cause.contains("'Check app health' (Billing-CheckHealth)")
            && cause.contains(CHECK_REASON),
        "the cause must name the wave, the server, the action and DRS's reason: {cause}"
    );

    // drs-sim launched the server and ran the action, which failed as staged.
    let app1 = sim_server(&dep, APP1)?;
    assert_eq!(app1.launch_status, drs_sim::LaunchStatus::Launched);
    let run = app1.launch_action_runs.first().context("the action ran")?;
    assert_eq!(run.status, Some(RunStatus::Failed));
    assert_eq!(run.failure_reason.as_deref(), Some(CHECK_REASON));
    // onFailure stop: the web wave never launched.
    let by_wave = launch_jobs_by_wave(&dep.sim.jobs());
    assert!(!by_wave.contains_key("web"), "{:?}", by_wave.keys());

    let history = dep.history(&execution).await?;
    assert_eq!(history.wave(2)?["waveStatus"], "FAILED");
    let reason: Vec<String> = history
        .jobs_of_wave(2)
        .filter_map(|(_, item)| item["servers"][APP1]["failureReason"].as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        reason,
        [format!(
            "post-launch action 'Check app health' (Billing-CheckHealth) FAILED: {CHECK_REASON}"
        )],
        "{history:?}"
    );
    assert!(
        history.execution()?["cause"]
            .as_str()
            .is_some_and(|c| c.contains(CHECK_REASON)),
        "{:?}",
        history.execution()?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_post_launch_action_that_fails_is_a_warning_in_the_report() -> Result<()> {
    let servers = billing_with(DB1, |s| {
        s.with_post_launch_action(
            LaunchActionSpec::new("Install monitoring agent", 1.0)
                .optional()
                .failing_with("SSM document timed out after 600 seconds"),
        )
        .with_post_launch_action(LaunchActionSpec::new("Mount data volume", 6.0))
    });
    let mut dep = Deployment::new("action-optional", SimConfig::with_servers(servers)).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, _) = super::drill_to_success(&dep, &machine).await?;

    // drs-sim ran both actions after the launch; the optional one failed.
    let db1 = sim_server(&dep, DB1)?;
    let runs = &db1.launch_action_runs;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].status, Some(RunStatus::Failed));
    assert_eq!(runs[1].status, Some(RunStatus::Succeeded));
    assert!(db1.launch_end_date_time <= runs[0].start_date_time);
    // The databases wave ended only after the last action had (the history writes whole
    // seconds; the last action ends about 7 s after the launch).
    let history = dep.history(&execution).await?;
    let wave_end = history.wave(1)?["waveEndedAt"]
        .as_str()
        .and_then(drs_waves_report::build::parse_time)
        .context("wave 1's end")?;
    let last_action_end = runs[1].end_date_time.replace_nanosecond(0)?;
    assert!(
        wave_end >= last_action_end,
        "wave 1 ended at {wave_end}, before DB1's last action ({})",
        runs[1].end_date_time
    );
    let warning = "optional post-launch action 'Install monitoring agent' (AWS-RunShellScript) \
                   FAILED: SSM document timed out after 600 seconds";
    let in_history: Vec<&str> = history
        .jobs_of_wave(1)
        .flat_map(|(_, item)| item["servers"][DB1]["actionWarnings"].as_array())
        .flatten()
        .filter_map(|w| w.as_str())
        .collect();
    assert_eq!(in_history, [warning], "{history:?}");

    let report = dep.report(&execution).await?;
    let server = report
        .servers
        .iter()
        .find(|s| s.source_server_id == DB1)
        .context("DB1 in the report")?;
    assert_eq!(server.launch_status, "LAUNCHED");
    assert_eq!(server.failure_reason, None);
    assert_eq!(server.warnings, [warning]);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains(DB1) && w.ends_with(warning)),
        "{:?}",
        report.warnings
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_drs_skipped_fails_its_wave_with_drs_reason() -> Result<()> {
    let skip_reason = "Source server is not ready for recovery: its launch template is missing";
    let servers = billing_with(WEB1, |s| s.skipped(skip_reason));
    let mut dep = Deployment::new("server-skipped", SimConfig::with_servers(servers)).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, ended) = run_to_end(&dep, &machine, drill()).await?;
    assert_eq!(
        ended.status,
        aws_sdk_sfn::types::ExecutionStatus::Failed,
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let cause = ended.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("wave 'web'")
            && cause.contains(WEB1)
            && cause.contains(&format!("skipped by DRS (SERVER_SKIPPED): {skip_reason}")),
        "the cause must name the server and DRS's reason: {cause}"
    );
    // drs-sim skipped it: FAILED, no instance.
    let web1 = sim_server(&dep, WEB1)?;
    assert!(web1.skipped);
    assert_eq!(web1.launch_status, drs_sim::LaunchStatus::Failed);
    assert!(web1.recovery_instance_id.is_none());
    assert!(
        !dep.sim
            .recovery_instances()
            .iter()
            .any(|i| i.source_server_id == WEB1),
        "a skipped server has no instance"
    );
    let history = dep.history(&execution).await?;
    let reasons: Vec<&str> = history
        .jobs_of_wave(3)
        .filter_map(|(_, item)| item["servers"][WEB1]["failureReason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [format!("skipped by DRS (SERVER_SKIPPED): {skip_reason}").as_str()]
    );
    Ok(())
}
