//! `native start` and `native follow`, pure parts: the start request (snapshots for a point
//! in time, at most 200) and a step shown as a wave line.

use std::collections::BTreeMap;

use drs_waves_aws::drs::native::{NativeExecutionStep, NativeServer, NativeStepConfig};
use drs_waves_aws::drs::{Job, JobStatus, LaunchStatus};

use super::run::{MAX_SNAPSHOT_SERVERS, STARTED_BY_TAG, exit_status, start_request, step_view};
use crate::render::wave_line;
use crate::view::Phase;

fn sid(i: usize) -> String {
    format!("s-{i:017}")
}

#[test]
fn a_drill_without_a_point_in_time_names_no_snapshot_and_says_who_started_it() {
    let r = start_request("arn:plan", true, &[sid(1)], None, "arn:aws:iam::1:user/ops")
        .expect("request");
    assert!(r.drill && r.snapshot_ids.is_empty());
    assert_eq!(r.tags[STARTED_BY_TAG], "arn:aws:iam::1:user/ops");
}

#[test]
fn a_point_in_time_names_each_server_snapshot_and_refuses_a_server_without_one() {
    let servers = [sid(1), sid(2)];
    let mut found = BTreeMap::from([
        (sid(1), Some("pit-1".to_owned())),
        (sid(2), Some("pit-2".to_owned())),
    ]);
    let r = start_request("arn:plan", false, &servers, Some(&found), "me").expect("request");
    assert_eq!(r.snapshot_ids.len(), 2);
    assert!(!r.drill);
    found.insert(sid(2), None);
    let e = start_request("arn:plan", false, &servers, Some(&found), "me").expect_err("refused");
    assert!(
        e.to_string().contains(&sid(2)) && e.to_string().contains("nothing started"),
        "{e}"
    );
}

#[test]
fn a_point_in_time_for_more_servers_than_drs_takes_is_refused_with_the_count() {
    let servers: Vec<String> = (1..=MAX_SNAPSHOT_SERVERS + 1).map(sid).collect();
    let found = servers
        .iter()
        .map(|s| (s.clone(), Some("pit".to_owned())))
        .collect();
    let e = start_request("arn:plan", true, &servers, Some(&found), "me").expect_err("refused");
    assert!(e.to_string().contains("the plan has 201"), "{e}");
}

#[test]
fn a_step_is_a_wave_line_counted_from_its_job() {
    let server = |i: usize, optional| NativeServer {
        server_arn: format!("arn:aws:drs:us-east-1:1:source-server/{}", sid(i)),
        optional,
        job_id: Some("drsjob-1".into()),
    };
    let step = NativeExecutionStep {
        arn: "arn:step/1".into(),
        index: 1,
        name: "db".into(),
        status: "FAILED".into(),
        config: NativeStepConfig::Server(vec![server(1, false), server(2, false), server(3, true)]),
        attempt: Some(1),
        error: Some("LAUNCH_FAILED: staged".into()),
    };
    let job = Job::launch_for_test(
        "drsjob-1",
        JobStatus::Completed,
        &[
            (&sid(1), LaunchStatus::Launched),
            (&sid(2), LaunchStatus::Failed),
            (&sid(3), LaunchStatus::InProgress),
        ],
    );
    let jobs = BTreeMap::from([("drsjob-1".to_owned(), job)]);
    let view = step_view(&step, &jobs);
    assert_eq!(view.phase, Phase::AwaitingDecision);
    assert_eq!(
        (
            view.counts.launched,
            view.counts.failed,
            view.counts.launching
        ),
        (1, 1, 1)
    );
    let line = wave_line(&view, 2, time::OffsetDateTime::now_utc()).to_string();
    assert!(line.contains("1/3 launched, 1 failed"), "{line}");
    assert!(
        line.contains("LAUNCH_FAILED: staged") && line.contains("drsjob-1"),
        "{line}"
    );
    assert_eq!(
        (
            exit_status("COMPLETED"),
            exit_status("FAILED"),
            exit_status("CANCELLED")
        ),
        (Some(0), Some(1), Some(3))
    );
    assert_eq!(exit_status("IN_PROGRESS"), None);
}

#[test]
fn an_execution_is_a_follow_view_whose_summary_names_each_step() {
    let exec = drs_waves_aws::drs::native::NativeExecution {
        arn: "arn:aws:drs:us-east-1:1:recovery-plan-execution/rpe-1".into(),
        plan_arn: "arn:aws:drs:us-east-1:1:recovery-plan/rp-1".into(),
        drill: true,
        status: "COMPLETED".into(),
        started_at: "2026-12-07T10:00:00Z".into(),
        completed_at: Some("2026-12-07T10:05:00Z".into()),
        error: None,
    };
    let step = |index: u32, name: &str, status: &str, config| NativeExecutionStep {
        arn: format!("arn:step/{index}"),
        index,
        name: name.into(),
        status: status.into(),
        config,
        attempt: None,
        error: None,
    };
    let steps = [
        step(1, "db", "SKIPPED", NativeStepConfig::Server(Vec::new())),
        step(
            2,
            "breathe",
            "COMPLETED",
            NativeStepConfig::Wait { minutes: 3 },
        ),
    ];
    let view = super::run::native_view(&exec, "shop", &steps, &BTreeMap::new());
    assert_eq!(view.final_status(), "SUCCEEDED_WITH_FAILURES");
    assert_eq!(view.name, "rpe-1");
    let summary = crate::render::summary(&view);
    assert!(
        summary[0].starts_with("DRILL rpe-1 of plan shop: SUCCEEDED_WITH_FAILURES in"),
        "{summary:?}"
    );
    assert!(
        summary
            .iter()
            .any(|l| l.contains("wave 1 db") && l.contains("SKIPPED")),
        "{summary:?}"
    );
    assert!(
        summary
            .iter()
            .any(|l| l.contains("wave 2 breathe") && l.contains("SUCCEEDED")),
        "{summary:?}"
    );
}
