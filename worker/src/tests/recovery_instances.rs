//! Issue #21, item 7: recovery instances are found as DRS lists them. A job's
//! participatingServers need not name their instance (the model requires no member of
//! ParticipatingServer); the clean-up and the report list instances by source server and keep
//! only those the execution's launch jobs made in its mode.

use super::*;
use drs_waves_aws::AwsError;
use drs_waves_aws::drs::{Drs as _, RecoveryInstance};
use drs_waves_report::build::InstanceFacts;
use drs_waves_report::gather::FakeEvidenceApis;

/// Another execution (named by `instance`) launched `server` earlier, in `mode`, leaving
/// `instance` running.
async fn other_execution_left(w: &World, server: &str, mode: Mode, instance: &str) -> String {
    let confirm = (mode == Mode::Recovery).then_some(PLAN);
    let mut other = start_input(mode, confirm, wave(1, "db", &[server.to_string()], &[]));
    other.run.execution_id =
        format!("arn:aws:states:us-east-1:123456789012:execution:billing:{instance}");
    let job = w.handlers().start_wave(other).await.expect("other").job_ids[0].clone();
    w.drs
        .set_launch_status_in(&job, server, LaunchStatus::Launched, Some(instance));
    w.drs.set_job_status(&job, JobStatus::Completed);
    job
}

/// This drill's wave of servers 1 and 2, launched (instances `i-ours-1`, `i-ours-2`) and
/// checked SUCCEEDED.
async fn our_drill_launched(w: &World) -> WaveState {
    let spec = wave(1, "db", &[server_id(1), server_id(2)], &[]);
    let started = launched(w, &spec).await;
    let job = started.job_ids[0].clone();
    for i in 1..=2 {
        w.drs.set_launch_status_in(
            &job,
            &server_id(i),
            LaunchStatus::Launched,
            Some(&format!("i-ours-{i}")),
        );
    }
    w.drs.set_job_status(&job, JobStatus::Completed);
    let mut input = check_input(w, spec);
    input.state = started;
    let done = w.handlers().check_wave(input).await.expect("check");
    assert_eq!(done.status, WaveStatus::Succeeded);
    done
}

#[tokio::test]
async fn a_drill_whose_jobs_never_name_their_instances_terminates_them_and_nothing_else() {
    let w = World::with_servers(2);
    w.drs.omit_all_recovery_instance_ids();
    // Earlier executions left instances of the same servers: a drill's and a recovery's.
    other_execution_left(&w, &server_id(1), Mode::Drill, "i-other-drill").await;
    other_execution_left(&w, &server_id(2), Mode::Recovery, "i-production").await;
    w.record_preflight().await;
    let done = our_drill_launched(&w).await;
    // The history's JOB item cannot name them either: DRS did not.
    let records = w.history.job_records(EXEC);
    assert!(
        records
            .iter()
            .flat_map(|r| r.servers.values())
            .all(|s| s.recovery_instance_id.is_none()),
        "{records:?}"
    );
    w.history.set_lock_holder(PLAN, EXEC);

    let out = w
        .handlers()
        .finish(finish_input(done))
        .await
        .expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done);
    let terminated: BTreeSet<String> = w.drs.terminate_calls().concat().into_iter().collect();
    assert_eq!(
        terminated,
        BTreeSet::from(["i-ours-1".to_string(), "i-ours-2".to_string()]),
        "this drill's instances, found by DescribeRecoveryInstances, and no other"
    );
    let asked = w.drs.recovery_instance_calls();
    assert!(
        asked
            .iter()
            .any(|servers| servers.contains(&server_id(1)) && servers.contains(&server_id(2))),
        "{asked:?}"
    );
    let left: BTreeSet<String> = w
        .drs
        .recovery_instances_of(vec![server_id(1), server_id(2)])
        .await
        .expect("listed")
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        left,
        BTreeSet::from(["i-other-drill".to_string(), "i-production".to_string()])
    );
}

#[tokio::test]
async fn a_clean_up_terminates_no_instance_that_names_no_job_or_another_mode() {
    let ours = BTreeSet::from(["drsjob-ours".to_string()]);
    let instance = |job: Option<&str>, drill: Option<bool>| RecoveryInstance {
        id: "i-1".into(),
        source_server_id: server_id(1),
        job_id: job.map(str::to_string),
        is_drill: drill,
        point_in_time: None,
        ec2_instance_id: None,
        private_ips: Vec::new(),
        hostname: None,
        failback: None,
    };
    assert!(instance(Some("drsjob-ours"), Some(true)).made_by(&ours, true));
    assert!(!instance(Some("drsjob-ours"), Some(false)).made_by(&ours, true));
    assert!(!instance(Some("drsjob-ours"), None).made_by(&ours, true));
    assert!(!instance(None, Some(true)).made_by(&ours, true));
    assert!(!instance(Some("drsjob-other"), Some(true)).made_by(&ours, true));
    let kept = drs_waves_aws::drs::instances::of_execution(
        vec![
            instance(Some("drsjob-ours"), Some(true)),
            instance(Some("drsjob-other"), Some(true)),
        ],
        &ours,
        true,
    );
    assert_eq!(kept.len(), 1);
}

#[tokio::test]
async fn the_report_shows_only_the_instances_this_executions_jobs_made() {
    let w = World::with_servers(2);
    w.drs.omit_all_recovery_instance_ids();
    let other_job = other_execution_left(&w, &server_id(1), Mode::Drill, "i-other").await;
    w.record_preflight().await;
    let done = our_drill_launched(&w).await;
    let our_job = done.job_ids[0].clone();
    let facts = |id: &str, server: usize, job: &str, drill: bool| InstanceFacts {
        recovery_instance_id: id.into(),
        ec2_instance_id: Some(format!("ec2-{id}")),
        source_server_id: server_id(server),
        job_id: Some(job.into()),
        is_drill: Some(drill),
        point_in_time: Some("2030-01-01T00:05:00Z".into()),
        ..InstanceFacts::default()
    };
    let apis = FakeEvidenceApis::default();
    *apis.instances.lock().expect("lock") = Some(vec![
        // DRS lists every instance of the servers, whoever made it.
        facts("i-other", 1, &other_job, true),
        facts("i-ours-1", 1, &our_job, true),
        // The same job as a recovery's: not this drill's mode (never so in DRS, held anyway).
        facts("i-not-a-drill", 2, &our_job, false),
    ]);
    let sources = drs_waves_report::gather::gather(
        &w.history,
        "t",
        &apis,
        EXEC,
        datetime!(2030-01-01 00:20:00 UTC),
    )
    .await
    .expect("sources");
    assert_eq!(
        sources.instances.keys().cloned().collect::<Vec<_>>(),
        vec![(our_job.clone(), server_id(1))]
    );
    let report = drs_waves_report::build::build(&sources);
    let row = |i: usize| {
        report
            .servers
            .iter()
            .find(|s| s.source_server_id == server_id(i))
            .expect("server row")
            .clone()
    };
    assert_eq!(row(1).recovery_instance_id.as_deref(), Some("i-ours-1"));
    assert_eq!(row(1).ec2_instance_id.as_deref(), Some("ec2-i-ours-1"));
    assert_eq!(row(2).recovery_instance_id, None, "not another mode's");
    assert_eq!(row(2).ec2_instance_id, None);
}

#[tokio::test]
async fn a_lost_terminate_answer_is_recorded_by_source_server_when_drs_names_no_instance() {
    let w = World::with_servers(2);
    w.drs.omit_all_recovery_instance_ids();
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    let mut state = launched_drill_of(&w, &h, 2).await;
    state.status = WaveStatus::Succeeded;
    w.drs.set_now(datetime!(2030-01-01 00:10:00 UTC));
    w.drs.lose_next_terminate_answer(AwsError::transient(
        "DRS TerminateRecoveryInstances",
        "HTTP 500",
    ));
    let out = h.finish(finish_input(state)).await.expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done, "{}", out.cleanup_error);
    assert_eq!(w.drs.terminate_calls().len(), 1);
    // The TERMINATE job names no instance either: its servers say which it holds.
    assert_eq!(
        out.terminate_job_ids.len(),
        1,
        "the job DRS made is recorded"
    );
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.terminating_instances.len(), 2);
}
