//! Check-wave: the verdict on a launching wave (success, a failed required server, a launch
//! timeout, a required server in none of its jobs), the per-server detail and DRS's reasons it
//! records, and the learned timing that places the checks.

use super::*;

#[tokio::test]
async fn check_judges_success_and_records_per_server_detail() {
    let w = World::with_servers(2);
    let spec = all_tagged_wave();
    let started = launched(&w, &spec).await;
    let mut input = check_input(&w, spec);
    input.state = started.clone();
    let state = w.handlers().check_wave(input.clone()).await.expect("check");
    assert_eq!(state.status, WaveStatus::Launching);
    assert_eq!(state.checks, 1);
    assert_eq!(
        w.drs.describe_jobs_calls().last().expect("call").job_ids,
        started.job_ids,
        "one call with the IDs"
    );

    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-0001"));
    w.drs
        .set_launch_status(&server_id(2), LaunchStatus::Launched, Some("i-0002"));
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    input.state = state;
    let state = w.handlers().check_wave(input).await.expect("check");
    assert_eq!(state.status, WaveStatus::Succeeded);
    assert_eq!(state.servers.launched, 2);
    assert_eq!(state.checks, 2);
    assert!(!state.ended_at.is_empty());
    let jobs = w.history.job_records(EXEC);
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].servers[&server_id(1)]
            .recovery_instance_id
            .as_deref(),
        Some("i-0001")
    );
    assert_eq!(
        jobs[0].servers[&server_id(1)].launch_status,
        LaunchStatus::Launched
    );
    assert_eq!(
        w.history.wave(EXEC, 1).expect("wave").status,
        WaveStatus::Succeeded
    );
}

#[tokio::test]
async fn check_judges_a_completed_job_with_a_failed_required_server_as_failed() {
    let w = World::with_servers(2);
    let spec = all_tagged_wave();
    let started = launched(&w, &spec).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs
        .set_launch_status(&server_id(2), LaunchStatus::Failed, None);
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    let mut input = check_input(&w, spec.clone());
    input.state = started.clone();
    let state = w.handlers().check_wave(input.clone()).await.expect("check");
    assert_eq!(state.status, WaveStatus::Failed);
    assert!(state.reason.contains(&server_id(2)), "{}", state.reason);

    let mut optional = spec;
    optional.optional = vec![server_id(2)];
    input.wave = optional;
    let state = w.handlers().check_wave(input).await.expect("check");
    assert_eq!(
        state.status,
        WaveStatus::Succeeded,
        "only an optional server failed"
    );
}

#[tokio::test]
async fn check_fails_a_wave_past_its_launch_timeout() {
    let w = World::with_servers(1);
    let mut spec = all_tagged_wave();
    spec.launch_timeout_seconds = 600;
    let started = launched(&w, &spec).await;
    let mut input = check_input(&w, spec);
    input.state = WaveState {
        started_at: "2030-01-01T00:00:00Z".into(),
        ..started
    };
    let before = w
        .handlers_at(datetime!(2030-01-01 00:09:59 UTC))
        .check_wave(input.clone())
        .await
        .expect("check");
    assert_eq!(before.status, WaveStatus::Launching);
    assert!(
        before.next_wait_seconds <= 2,
        "never waits past the deadline: {}",
        before.next_wait_seconds
    );
    let after = w
        .handlers_at(datetime!(2030-01-01 00:10:01 UTC))
        .check_wave(input)
        .await
        .expect("check");
    assert_eq!(after.status, WaveStatus::Failed);
    assert!(
        after.reason.contains("timed out") && after.reason.contains(&server_id(1)),
        "{}",
        after.reason
    );
}

/// A past execution of the plan whose wave 1 (`name`, `servers`) ended `status`, completing
/// `completion_ms` after its start.
async fn past_wave(
    w: &World,
    run: &str,
    day: u32,
    name: &str,
    servers: &[String],
    status: WaveStatus,
    completion_ms: Option<u64>,
) {
    use drs_waves_history::{ExecutionRecord, WaveChunk, prelude::*};
    let id = format!("arn:aws:states:us-east-1:123456789012:execution:billing:{run}");
    w.history
        .create_execution(ExecutionRecord {
            execution_id: id.clone(),
            execution_name: run.to_string(),
            started_at: format!("2029-12-{day:02}T00:00:00Z"),
            status: ExecutionStatus::Succeeded,
            ..w.history.execution(EXEC).expect("this execution's record")
        })
        .await
        .expect("past execution");
    w.history
        .plan_wave(WaveRecord {
            execution_id: id.clone(),
            index: 1,
            name: name.to_string(),
            status: WaveStatus::Launching,
            job_ids: vec![],
            started_at: format!("2029-12-{day:02}T00:01:00Z"),
            ended_at: None,
            checks: 0,
            servers: Default::default(),
            reason: String::new(),
            chunks: vec![WaveChunk {
                number: 1,
                servers: servers.to_vec(),
                job_id: Some("drsjob-old".into()),
                attempt: 1,
                planned_at: None,
            }],
            learned: None,
            completion_ms: None,
            account: None,
        })
        .await
        .expect("past wave");
    w.history
        .record_wave_check(
            WaveRecord {
                execution_id: id,
                index: 1,
                name: name.to_string(),
                status,
                job_ids: vec!["drsjob-old".into()],
                started_at: String::new(),
                ended_at: Some(format!("2029-12-{day:02}T00:05:00Z")),
                checks: 3,
                servers: Default::default(),
                reason: String::new(),
                chunks: vec![],
                learned: None,
                completion_ms,
                account: None,
            },
            vec![],
        )
        .await
        .expect("past check");
}

/// Past succeeded runs of wave "db" on `servers`, one per `(run, day, completion_ms)`.
async fn succeeded_samples(w: &World, servers: &[String], samples: &[(&str, u32, u64)]) {
    for &(run, day, completion_ms) in samples {
        past_wave(
            w,
            run,
            day,
            "db",
            servers,
            WaveStatus::Succeeded,
            Some(completion_ms),
        )
        .await;
    }
}

#[tokio::test]
async fn learned_timing_places_the_checks_and_the_completion_is_recorded() {
    let w = World::with_servers(2);
    w.record_preflight().await;
    let spec = all_tagged_wave();
    let ids = [server_id(1), server_id(2)];
    // Two samples: not enough, the plan's expected launch time rules the first wait.
    succeeded_samples(&w, &ids, &[("old-1", 1, 250_000), ("old-2", 2, 200_000)]).await;
    // Not samples: another set of servers, a failed wave, another wave name.
    succeeded_samples(&w, &ids[..1], &[("old-3", 3, 5_000)]).await;
    past_wave(&w, "old-4", 4, "db", &ids, WaveStatus::Failed, Some(6_000)).await;
    past_wave(
        &w,
        "old-5",
        5,
        "web",
        &ids,
        WaveStatus::Succeeded,
        Some(7_000),
    )
    .await;
    let state = launched(&w, &spec).await;
    let learned = w
        .history
        .wave(EXEC, 1)
        .expect("wave")
        .learned
        .expect("learned");
    assert_eq!(
        (learned.samples, learned.p10_ms, learned.p95_ms),
        (2, 200_000, 250_000)
    );
    assert_eq!(
        state.next_wait_seconds,
        drs_waves_rules::next_wait_seconds(0, &spec.polling, spec.launch_timeout_seconds),
        "fewer than 3 samples: the expected launch time"
    );

    // A third sample: the first check lands at p10.
    let w = World::with_servers(2);
    w.record_preflight().await;
    succeeded_samples(
        &w,
        &ids,
        &[
            ("old-1", 1, 250_000),
            ("old-2", 2, 200_000),
            ("old-6", 6, 220_000),
        ],
    )
    .await;
    let started = launched(&w, &spec).await;
    let learned = w
        .history
        .wave(EXEC, 1)
        .expect("wave")
        .learned
        .expect("learned");
    assert_eq!(
        (
            learned.samples,
            learned.p10_ms,
            learned.p50_ms,
            learned.p95_ms
        ),
        (3, 200_000, 220_000, 250_000)
    );
    assert_eq!(started.next_wait_seconds, 200, "the first check at p10");
    assert_eq!(started.started_at, "2030-01-01T00:10:00Z");

    let mut input = check_input(&w, spec.clone());
    input.state = started.clone();
    let at_p10 = w
        .handlers_at(datetime!(2030-01-01 00:13:20 UTC))
        .check_wave(input.clone())
        .await
        .expect("check");
    assert_eq!(at_p10.status, WaveStatus::Launching);
    assert_eq!(at_p10.next_wait_seconds, 15, "minWaitSeconds until p95");
    let past_p95 = w
        .handlers_at(datetime!(2030-01-01 00:15:10 UTC))
        .check_wave(input.clone())
        .await
        .expect("check");
    assert_eq!(past_p95.next_wait_seconds, 60, "backing off past p95");

    // The job ended at 00:13:27.5: the completion is recorded from its end, not the check's time.
    for id in &ids {
        w.drs
            .set_launch_status(id, LaunchStatus::Launched, Some("i-1"));
    }
    w.drs
        .end_job(&started.job_ids[0], "2030-01-01T00:13:27.500Z");
    input.state = at_p10;
    let done = w
        .handlers_at(datetime!(2030-01-01 00:13:35 UTC))
        .check_wave(input)
        .await
        .expect("check");
    assert_eq!(done.status, WaveStatus::Succeeded);
    let wave = w.history.wave(EXEC, 1).expect("wave");
    assert_eq!(wave.completion_ms, Some(207_500));
    assert_eq!(wave.learned, Some(learned), "what was learned stays");
}

#[tokio::test]
async fn without_a_job_end_time_the_completion_is_the_check_less_half_the_wait() {
    let w = World::with_servers(2);
    let mut spec = all_tagged_wave();
    spec.optional = vec![server_id(2)];
    spec.launch_timeout_seconds = 100;
    let started = launched(&w, &spec).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    let mut input = check_input(&w, spec);
    input.state = WaveState {
        next_wait_seconds: 20,
        ..started
    };
    let done = w
        .handlers_at(datetime!(2030-01-01 00:11:50 UTC))
        .check_wave(input)
        .await
        .expect("check");
    assert_eq!(
        done.status,
        WaveStatus::Succeeded,
        "only an optional server still launching"
    );
    assert_eq!(
        w.history.wave(EXEC, 1).expect("wave").completion_ms,
        Some(100_000)
    );
}

#[tokio::test]
async fn check_with_a_job_missing_from_describe_jobs_is_transient() {
    let w = World::with_servers(1);
    let spec = all_tagged_wave();
    let mut input = check_input(&w, spec);
    input.state.job_ids = vec!["drsjob-nosuchjob000000".into()];
    let err = w.handlers().check_wave(input).await.expect_err("missing");
    assert_eq!(err.name(), ErrorName::Transient);
}

#[tokio::test]
async fn a_failed_servers_job_log_reason_reaches_the_waves_cause_and_the_history() {
    let w = World::with_servers(2);
    w.drs.set_failure_reason(
        &server_id(2),
        "InsufficientInstanceCapacity: no capacity for c5.xlarge in eu-west-1a",
    );
    let spec = all_tagged_wave();
    let started = launched(&w, &spec).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs
        .set_launch_status(&server_id(2), LaunchStatus::Failed, None);
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    let mut input = check_input(&w, spec);
    input.state = started;
    let checked = w.handlers().check_wave(input).await.expect("check");
    assert_eq!(checked.status, WaveStatus::Failed);
    assert!(checked.reason.contains(&server_id(2)), "{}", checked.reason);
    assert!(
        checked.reason.contains("InsufficientInstanceCapacity"),
        "{}",
        checked.reason
    );
    let jobs = w.history.job_records(EXEC);
    assert_eq!(
        jobs[0].servers[&server_id(2)].failure_reason.as_deref(),
        Some("InsufficientInstanceCapacity: no capacity for c5.xlarge in eu-west-1a")
    );
}

#[tokio::test]
async fn a_required_server_in_none_of_the_waves_jobs_fails_the_wave_by_name() {
    let w = World::with_servers(2);
    let spec = all_tagged_wave();
    let started = launched(&w, &spec).await;
    // DRS's job lists only server 1 (server 2 never made it into the job).
    w.drs.drop_server_from_jobs(&server_id(2));
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    let mut input = check_input(&w, spec.clone());
    input.state = started.clone();
    let early = w.handlers().check_wave(input).await.expect("check");
    assert_eq!(
        early.status,
        WaveStatus::Launching,
        "a grace for late participants"
    );
    let mut input = check_input(&w, spec);
    input.state = started;
    input.state.started_at = "2030-01-01T00:00:00Z".into();
    let late = w.handlers().check_wave(input).await.expect("check");
    assert_eq!(late.status, WaveStatus::Failed);
    assert!(
        late.reason
            .contains(&format!("{} (in none of the wave's jobs", server_id(2))),
        "{}",
        late.reason
    );
}
