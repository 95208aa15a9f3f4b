//! Issue #21, item 4 and the job log: a wave succeeds only when its required servers are
//! LAUNCHED and their post-launch actions that are not optional SUCCEEDED; a failed required
//! action fails the server naming the action and DRS's `failureReason`; a failed optional one
//! is a warning in the history; a server DRS skipped (SERVER_SKIPPED) fails with DRS's reason.

use super::*;
use drs_waves_aws::drs::job_log::{is_server_failure, server_failure};
use drs_waves_aws::drs::{LaunchActionRun, RunStatus};
use drs_waves_rules::{Known, judge};

fn run(name: &str, optional: bool, status: RunStatus, reason: Option<&str>) -> LaunchActionRun {
    LaunchActionRun::for_test(name, optional, status, reason)
}

fn job_with_runs(status: JobStatus, runs: Vec<LaunchActionRun>) -> Job {
    let mut job = Job::launch_for_test("drsjob-1", status, &[("s-1", LaunchStatus::Launched)]);
    job.servers[0].launch_actions = runs;
    job
}

fn judge_one(job: Job, elapsed: u64) -> drs_waves_rules::Verdict {
    judge(&wave(1, "app", &[], &[]), &[job], elapsed, &Known::none())
}

#[test]
fn a_launched_server_waits_while_its_job_runs_its_actions() {
    // A run in progress.
    let v = judge_one(
        job_with_runs(
            JobStatus::Started,
            vec![run("Check health", false, RunStatus::InProgress, None)],
        ),
        100,
    );
    assert_eq!(v.status, WaveStatus::Launching, "{}", v.reason);
    assert_eq!(v.counts.launched, 1);
    // None listed yet (DRS lists a run once it starts), the job still running.
    let v = judge_one(job_with_runs(JobStatus::Started, Vec::new()), 100);
    assert_eq!(v.status, WaveStatus::Launching, "{}", v.reason);
    // Every run ended, the job COMPLETED.
    let v = judge_one(
        job_with_runs(
            JobStatus::Completed,
            vec![run("Check health", false, RunStatus::Succeeded, None)],
        ),
        100,
    );
    assert_eq!(v.status, WaveStatus::Succeeded, "{}", v.reason);
}

#[test]
fn a_failed_required_action_fails_the_server_at_once_naming_it_and_drs_reason() {
    let v = judge_one(
        job_with_runs(
            JobStatus::Started,
            vec![
                run("Install agent", true, RunStatus::Succeeded, None),
                run(
                    "Check health",
                    false,
                    RunStatus::Failed,
                    Some("HTTP check on port 443 failed"),
                ),
                run("Warm cache", false, RunStatus::InProgress, None),
            ],
        ),
        100,
    );
    assert_eq!(v.status, WaveStatus::Failed);
    assert_eq!(v.counts.failed, 1);
    assert_eq!(v.counts.launched, 0);
    assert!(
        v.reason.contains(
            "s-1 (job drsjob-1, post-launch action 'Check health' (AWS-RunShellScript) FAILED: \
             HTTP check on port 443 failed)"
        ),
        "{}",
        v.reason
    );
}

#[test]
fn a_failed_optional_action_does_not_fail_the_wave() {
    let v = judge_one(
        job_with_runs(
            JobStatus::Completed,
            vec![run(
                "Install agent",
                true,
                RunStatus::Failed,
                Some("timed out"),
            )],
        ),
        100,
    );
    assert_eq!(v.status, WaveStatus::Succeeded, "{}", v.reason);
    assert_eq!(v.counts.failed, 0);
    // A required action of a server the wave marks optional fails only that server.
    let mut spec = wave(1, "app", &[], &[]);
    spec.optional = vec!["s-1".into()];
    let v = judge(
        &spec,
        &[job_with_runs(
            JobStatus::Completed,
            vec![run("Check", false, RunStatus::Failed, Some("no"))],
        )],
        100,
        &Known::none(),
    );
    assert_eq!(v.status, WaveStatus::Succeeded, "{}", v.reason);
    assert_eq!(v.counts.optional_failed, 1);
}

#[test]
fn past_the_timeout_a_run_in_progress_fails_the_wave_and_a_quiet_launched_server_does_not() {
    let v = judge_one(
        job_with_runs(
            JobStatus::Started,
            vec![run("Check health", false, RunStatus::InProgress, None)],
        ),
        3601,
    );
    assert_eq!(v.status, WaveStatus::Failed);
    assert!(
        v.reason.contains("timed out")
            && v.reason.contains(
                "s-1 (post-launch action 'Check health' (AWS-RunShellScript) still IN_PROGRESS)"
            ),
        "{}",
        v.reason
    );
    // The job runs on for an optional server still launching; nothing of s-1 is in progress.
    let mut job = job_with_runs(
        JobStatus::Started,
        vec![run("Check health", false, RunStatus::Succeeded, None)],
    );
    job.servers.push(JobServer {
        source_server_id: "s-2".into(),
        recovery_instance_id: None,
        launch_status: LaunchStatus::InProgress,
        launch_actions: Vec::new(),
    });
    let mut spec = wave(1, "app", &[], &[]);
    spec.optional = vec!["s-2".into()];
    let before = judge(&spec, std::slice::from_ref(&job), 3600, &Known::none());
    assert_eq!(before.status, WaveStatus::Launching);
    let after = judge(&spec, &[job], 3601, &Known::none());
    assert_eq!(after.status, WaveStatus::Succeeded, "{}", after.reason);
}

#[test]
fn job_log_events_are_read_by_name() {
    use aws_sdk_drs::types::JobLogEvent;
    let failures: Vec<&str> = JobLogEvent::values()
        .iter()
        .copied()
        .filter(|e| is_server_failure(&JobLogEvent::from(*e)))
        .collect();
    assert_eq!(
        failures,
        [
            "CLEANUP_FAIL",
            "CONVERSION_FAIL",
            "LAUNCH_FAILED",
            "SERVER_SKIPPED",
            "SNAPSHOT_FAIL",
            "USING_PREVIOUS_SNAPSHOT_FAILED",
        ]
    );
    // Named like a failure but not one of a server: the job's own, the network's.
    for event in [
        "JOB_CANCEL",
        "NETWORK_RECOVERY_FAIL",
        "UPDATE_LAUNCH_TEMPLATE_FAILED",
        "LAUNCH_START",
    ] {
        assert!(server_failure(event, "s-1", Some("x")).is_none(), "{event}");
    }
    let skipped =
        server_failure("SERVER_SKIPPED", "s-1", Some("not replicating")).expect("a failure");
    assert_eq!(
        skipped.reason,
        "skipped by DRS (SERVER_SKIPPED): not replicating"
    );
    let launch =
        server_failure("LAUNCH_FAILED", "s-1", Some("VcpuLimitExceeded: ...")).expect("failure");
    assert_eq!(launch.reason, "VcpuLimitExceeded: ...");
    let conversion = server_failure("CONVERSION_FAIL", "s-1", None).expect("failure");
    assert_eq!(conversion.reason, "CONVERSION_FAIL");
    assert!(
        server_failure("LAUNCH_FAILED", "", Some("x")).is_none(),
        "no server named"
    );
}

async fn checked(w: &World, spec: &WaveSpec, started: &WaveState) -> WaveState {
    let mut input = check_input(w, spec.clone());
    input.state = started.clone();
    w.handlers_at(datetime!(2030-01-01 00:20:00 UTC))
        .check_wave(input)
        .await
        .expect("check")
}

#[tokio::test]
async fn a_failed_required_action_is_the_waves_cause_and_the_servers_history() {
    let w = World::with_servers(2);
    let spec = all_tagged_wave();
    let started = launched(&w, &spec).await;
    for (i, instance) in [(1, "i-1"), (2, "i-2")] {
        w.drs
            .set_launch_status(&server_id(i), LaunchStatus::Launched, Some(instance));
    }
    w.drs.set_launch_actions(
        &server_id(2),
        vec![run("Check health", false, RunStatus::InProgress, None)],
    );
    let waiting = checked(&w, &spec, &started).await;
    assert_eq!(waiting.status, WaveStatus::Launching, "{}", waiting.reason);

    w.drs.set_launch_actions(
        &server_id(2),
        vec![run(
            "Check health",
            false,
            RunStatus::Failed,
            Some("HTTP check on port 443 failed"),
        )],
    );
    let failed = checked(&w, &spec, &started).await;
    assert_eq!(failed.status, WaveStatus::Failed);
    assert!(
        failed.reason.contains(&server_id(2))
            && failed.reason.contains("'Check health'")
            && failed.reason.contains("HTTP check on port 443 failed"),
        "{}",
        failed.reason
    );
    let record = &w.history.job_records(EXEC)[0].servers[&server_id(2)];
    assert_eq!(
        record.failure_reason.as_deref(),
        Some(
            "post-launch action 'Check health' (AWS-RunShellScript) FAILED: HTTP check on port \
             443 failed"
        )
    );
    assert!(record.action_warnings.is_empty());
    assert_eq!(
        w.history.wave(EXEC, 1).expect("wave").reason,
        failed.reason,
        "the history holds the cause"
    );
}

#[tokio::test]
async fn a_failed_optional_action_is_a_warning_in_the_history() {
    let w = World::with_servers(1);
    let spec = all_tagged_wave();
    let started = launched(&w, &spec).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs.set_launch_actions(
        &server_id(1),
        vec![run(
            "Install agent",
            true,
            RunStatus::Failed,
            Some("SSM document timed out"),
        )],
    );
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    let done = checked(&w, &spec, &started).await;
    assert_eq!(done.status, WaveStatus::Succeeded, "{}", done.reason);
    let record = &w.history.job_records(EXEC)[0].servers[&server_id(1)];
    assert_eq!(record.failure_reason, None);
    assert_eq!(
        record.action_warnings,
        [
            "optional post-launch action 'Install agent' (AWS-RunShellScript) FAILED: SSM document \
          timed out"
        ]
    );
}

#[tokio::test]
async fn a_server_drs_skipped_fails_with_drs_reason() {
    let w = World::with_servers(2);
    let spec = all_tagged_wave();
    let started = launched(&w, &spec).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs
        .skip_server(&server_id(2), "Source server is not in a replicating state");
    let failed = checked(&w, &spec, &started).await;
    assert_eq!(failed.status, WaveStatus::Failed);
    assert!(
        failed.reason.contains(
            "FAILED: skipped by DRS (SERVER_SKIPPED): Source server is not in a replicating state"
        ),
        "{}",
        failed.reason
    );
    let record = &w.history.job_records(EXEC)[0].servers[&server_id(2)];
    assert_eq!(
        record.failure_reason.as_deref(),
        Some("skipped by DRS (SERVER_SKIPPED): Source server is not in a replicating state")
    );
}

#[test]
fn describe_jobs_runs_are_read_from_the_sdk_shapes() {
    use aws_sdk_drs::types::{
        LaunchAction, LaunchActionRun as SdkRun, LaunchActionRunStatus, LaunchActionsStatus,
        ParticipatingServer,
    };
    let sdk_run = |action: LaunchAction, status: Option<LaunchActionRunStatus>, reason: &str| {
        SdkRun::builder()
            .action(action)
            .set_status(status)
            .failure_reason(reason)
            .build()
    };
    let server = ParticipatingServer::builder()
        .source_server_id("s-1")
        .launch_actions_status(
            LaunchActionsStatus::builder()
                .ssm_agent_discovery_datetime("2030-01-01T00:10:00Z")
                .runs(sdk_run(
                    LaunchAction::builder()
                        .name("Install agent")
                        .action_code("AWS-ConfigureAWSPackage")
                        .optional(true)
                        .build(),
                    Some(LaunchActionRunStatus::Failed),
                    "timed out",
                ))
                // No name, no `optional`, no status: named by its code, required, running.
                .runs(sdk_run(
                    LaunchAction::builder()
                        .action_code("Billing-CheckHealth")
                        .build(),
                    None,
                    "",
                ))
                .build(),
        )
        .build();
    let runs = drs_waves_aws::drs::launch_actions::runs_of(&server);
    assert_eq!(
        runs,
        [
            LaunchActionRun {
                name: "Install agent".into(),
                action_code: Some("AWS-ConfigureAWSPackage".into()),
                optional: true,
                status: RunStatus::Failed,
                failure_reason: Some("timed out".into()),
            },
            LaunchActionRun {
                name: "Billing-CheckHealth".into(),
                action_code: Some("Billing-CheckHealth".into()),
                optional: false,
                status: RunStatus::InProgress,
                failure_reason: None,
            },
        ]
    );
    assert_eq!(runs[1].label(), "'Billing-CheckHealth'");
    // Without launchActionsStatus: no runs.
    let bare = ParticipatingServer::builder()
        .source_server_id("s-2")
        .build();
    assert!(drs_waves_aws::drs::launch_actions::runs_of(&bare).is_empty());
}
