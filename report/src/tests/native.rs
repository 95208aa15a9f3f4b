//! The report of a DRS recovery plan's execution: SERVER steps as waves (WAIT steps left out),
//! servers from their jobs, targets from the command line or the plan's tags.

use drs_waves_aws::drs::native::{
    NativeExecution, NativeExecutionStep, NativePlan, NativeServer, NativeStepConfig,
};
use drs_waves_aws::drs::{Job, JobStatus, LaunchStatus};
use time::macros::datetime;

use crate::build::{DrsEvidence, InstanceFacts, build};
use crate::model::VerdictKind;
use crate::native::{NativeRun, RPO_TAG, RTO_TAG, sources, targets_of};

fn plan(tags: &[(&str, &str)]) -> NativePlan {
    NativePlan {
        arn: "arn:aws:drs:us-east-1:1:recovery-plan/rp-1".into(),
        name: "shop".into(),
        description: None,
        status: "ACTIVE".into(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn server(id: &str, optional: bool, job: &str) -> NativeServer {
    NativeServer {
        server_arn: format!("arn:aws:drs:us-east-1:1:source-server/{id}"),
        optional,
        job_id: Some(job.into()),
    }
}

fn step(index: u32, name: &str, status: &str, config: NativeStepConfig) -> NativeExecutionStep {
    NativeExecutionStep {
        arn: format!("arn:step/{index}"),
        index,
        name: name.into(),
        status: status.into(),
        config,
        attempt: Some(1),
        error: None,
    }
}

fn job(id: &str, created: &str, ended: &str, servers: &[(&str, LaunchStatus)]) -> Job {
    Job {
        created_at: Some(created.into()),
        ended_at: Some(ended.into()),
        ..Job::launch_for_test(id, JobStatus::Completed, servers)
    }
}

fn run() -> NativeRun {
    NativeRun {
        plan: plan(&[(RTO_TAG, "10"), (RPO_TAG, "5")]),
        execution: NativeExecution {
            arn: "arn:aws:drs:us-east-1:1:recovery-plan-execution/rpe-1".into(),
            plan_arn: "arn:aws:drs:us-east-1:1:recovery-plan/rp-1".into(),
            drill: true,
            status: "COMPLETED".into(),
            started_at: "2026-12-07T10:00:00Z".into(),
            completed_at: Some("2026-12-07T10:08:00Z".into()),
            error: None,
        },
        steps: vec![
            step(
                1,
                "db",
                "COMPLETED",
                NativeStepConfig::Server(vec![server("s-1", false, "j1")]),
            ),
            step(
                2,
                "breathe",
                "COMPLETED",
                NativeStepConfig::Wait { minutes: 2 },
            ),
            step(
                3,
                "web",
                "COMPLETED",
                NativeStepConfig::Server(vec![
                    server("s-2", false, "j2"),
                    server("s-3", true, "j2"),
                ]),
            ),
        ],
        jobs: vec![
            job(
                "j1",
                "2026-12-07T10:00:00Z",
                "2026-12-07T10:03:00Z",
                &[("s-1", LaunchStatus::Launched)],
            ),
            job(
                "j2",
                "2026-12-07T10:05:00Z",
                "2026-12-07T10:08:00Z",
                &[
                    ("s-2", LaunchStatus::Launched),
                    ("s-3", LaunchStatus::Failed),
                ],
            ),
        ],
    }
}

#[test]
fn targets_come_from_the_command_line_before_the_plan_tags() {
    let (t, note) = targets_of(&plan(&[(RTO_TAG, "10"), (RPO_TAG, "5")]), Some(30), None);
    assert_eq!((t.rto_seconds, t.rpo_seconds), (Some(1800), Some(300)));
    assert!(note.contains("RTO 30 min, RPO 5 min"), "{note}");
    let (t, _) = targets_of(&plan(&[(RTO_TAG, "soon")]), None, None);
    assert_eq!((t.rto_seconds, t.rpo_seconds), (None, None));
}

#[test]
fn server_steps_are_the_waves_and_the_verdicts_come_from_the_jobs_and_instances() {
    let run = run();
    let mut evidence = DrsEvidence::default();
    for (job, id, taken) in [
        ("j1", "s-1", "2026-12-07T09:58:00Z"),
        ("j2", "s-2", "2026-12-07T09:59:00Z"),
    ] {
        let facts = InstanceFacts {
            recovery_instance_id: format!("i-{id}"),
            source_server_id: id.into(),
            job_id: Some(job.into()),
            is_drill: Some(true),
            point_in_time: Some(taken.into()),
            ..InstanceFacts::default()
        };
        evidence.instances.insert((job.into(), id.into()), facts);
    }
    let (targets, _) = targets_of(&run.plan, None, None);
    let report = build(&sources(
        &run,
        targets,
        evidence,
        datetime!(2026-12-07 11:00 UTC),
    ));
    let waves: Vec<(u32, &str, &str)> = (report.waves.iter())
        .map(|w| (w.index, w.name.as_str(), w.status.as_str()))
        .collect();
    assert_eq!(waves, [(1, "db", "SUCCEEDED"), (2, "web", "SUCCEEDED")]);
    assert_eq!(report.execution.status, "SUCCEEDED");
    assert_eq!(report.execution.mode.as_deref(), Some("DRILL"));
    // Recovered when web's job ended: 8 min, within the plan tag's 10.
    assert_eq!(
        (report.rto.achieved_seconds, report.rto.verdict),
        (Some(480), VerdictKind::Pass)
    );
    // The worst recovery point: web's snapshot, 6 min before its job started: over 5.
    assert_eq!(
        (report.rpo.achieved_seconds, report.rpo.verdict),
        (Some(360), VerdictKind::Fail)
    );
    let s3 = report
        .servers
        .iter()
        .find(|s| s.source_server_id == "s-3")
        .expect("s-3");
    assert_eq!((s3.launch_status.as_str(), s3.required), ("FAILED", false));
    assert_eq!(report.servers.len(), 3);
}
