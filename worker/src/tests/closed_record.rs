//! A task of an execution whose history record is closed does nothing. A drill that a RECOVERY
//! preempts launches no server once its record says PREEMPTED, even from a task a worker still
//! holds (on AWS StopExecution ends the execution at once and the worker learns it only at its
//! next heartbeat: the linked fakes behave so). A console Redrive of an ended execution
//! launches, opens and records nothing.

use super::*;
use crate::sfn::ActivityService as _;
use drs_waves_aws::AwsError;
use drs_waves_history::{ExecutionClose, ExecutionRecord, prelude::*};

const DRILL: &str = "arn:aws:states:us-east-1:123456789012:execution:billing:drill-1";

async fn record_running(w: &World, id: &str, mode: Mode) {
    w.history
        .create_execution(ExecutionRecord {
            mode: Some(mode),
            wave_count: 1,
            server_count: 2,
            terminate_drill_instances: true,
            ..ExecutionRecord::new(
                id,
                id.rsplit(':').next().unwrap_or(id),
                PLAN,
                ExecutionStatus::Running,
                "2030-01-01T00:00:00.000Z",
            )
        })
        .await
        .expect("execution record");
}

async fn close(w: &World, id: &str, status: ExecutionStatus, preempted_by: Option<&str>) {
    w.history
        .close_execution(ExecutionClose {
            execution_id: id.into(),
            execution_name: id.rsplit(':').next().unwrap_or(id).into(),
            plan_name: PLAN.into(),
            mode: Some(Mode::Drill),
            started_at: "2030-01-01T00:00:00.000Z".into(),
            status,
            ended_at: "2030-01-01T00:08:00Z".into(),
            error: None,
            cause: None,
            wave_statuses: BTreeMap::new(),
            preempted_by: preempted_by.map(str::to_string),
        })
        .await
        .expect("close");
}

fn drill_start() -> StartWaveInput {
    let mut input = start_input(Mode::Drill, None, all_tagged_wave());
    input.run.execution_id = DRILL.into();
    input.run.execution_name = "drill-1".into();
    input
}

/// Two servers, one per job: the wave is sent as two StartRecovery calls.
fn one_server_per_job(w: &World) -> TestHandlers {
    Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: 1,
            ..Limits::default()
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)))
}

fn assert_closed(result: Result<impl std::fmt::Debug, TaskError>, status: &str) {
    match result {
        Err(TaskError::ExecutionClosed(cause)) => {
            assert!(cause.contains(status), "{cause}");
            assert!(cause.contains("start a new execution"), "{cause}");
        }
        other => panic!("expected ExecutionClosed ({status}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_drill_preempted_between_two_chunks_sends_no_further_start_recovery() {
    let w = World::with_servers(2);
    record_running(&w, DRILL, Mode::Drill).await;
    // The first attempt sends chunk 1 and is cut off before chunk 2 (its worker died).
    let first = one_server_per_job(&w)
        .with_faults(Faults::armed(
            FaultPoint::ExitBetweenChunks,
            FaultAction::Fail,
        ))
        .start_wave(drill_start())
        .await;
    assert!(first.is_err(), "{first:?}");
    assert_eq!(w.drs.start_calls().len(), 1);
    // The retry finds chunk 2 refused for a quota and backs off; meanwhile a RECOVERY records
    // the drill PREEMPTED.
    w.drs.fail_next(
        "start_recovery",
        AwsError::QuotaExceeded {
            call: "DRS StartRecovery".into(),
            detail: "ServiceQuotaExceededException: quotaCode ConcurrentJobs".into(),
        },
    );
    let looked = w.drs.describe_jobs_calls().len();
    let handlers =
        one_server_per_job(&w).with_quota_wait(Duration::from_secs(30), Duration::from_millis(200));
    let retry = tokio::spawn(async move { handlers.start_wave(drill_start()).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // Past the task's first record check: it is looking for chunk 2's tagged job.
    while w.drs.describe_jobs_calls().len() == looked {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retry never looked for its jobs"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    close(&w, DRILL, ExecutionStatus::Preempted, Some(EXEC)).await;
    let result = retry.await.expect("task");
    assert_closed(result, "PREEMPTED");
    assert_eq!(w.drs.start_calls().len(), 1, "chunk 2 was never sent");
}

#[tokio::test(start_paused = true)]
async fn a_preempting_recovery_records_the_drill_then_stops_it_and_waits_out_its_heartbeat() {
    let activities = FakeActivityService::new();
    let w = World {
        executions: FakeExecutions::linked_to(&activities),
        ..World::with_servers(2)
    };
    record_running(&w, DRILL, Mode::Drill).await;
    w.history.set_lock(PLAN, DRILL, Mode::Drill);
    w.executions.set(DRILL, "RUNNING");
    // A worker holds the drill's start task.
    let start_arn = arn(Activity::StartWave);
    activities.push_task_of(DRILL, &start_arn, "drill-start-token", "{}");
    let held = activities
        .poll(&start_arn, "worker-a")
        .await
        .expect("poll")
        .expect("the drill's task");
    let before = tokio::time::Instant::now();
    let heartbeat = 60;
    let mut input = preflight_input(recovery_input(None), vec![all_tagged_wave()]);
    input.heartbeat_seconds = heartbeat;
    w.handlers()
        .with_preempt_wait(Duration::from_secs(300), Duration::from_millis(10))
        .preflight(input)
        .await
        .expect("the recovery preempts the drill");
    assert!(
        before.elapsed() >= Duration::from_secs(u64::from(heartbeat)),
        "the first look at the drill's jobs came {:?} after the stop, before its heartbeat window",
        before.elapsed()
    );
    let drill = w.history.execution(DRILL).expect("drill record");
    assert_eq!(drill.status, ExecutionStatus::Preempted);
    // AWS: the stopped execution's task is gone; the worker learns it at its next heartbeat.
    assert_eq!(
        activities.heartbeat(&held.token).await.expect("heartbeat"),
        crate::sfn::Delivery::TaskGone("TaskTimedOut".into())
    );
    // And if its work gets to StartRecovery before that heartbeat, the record stops it.
    assert_closed(w.handlers().start_wave(drill_start()).await, "PREEMPTED");
    assert!(
        w.drs.start_calls().iter().all(|c| !c.is_drill),
        "no drill job"
    );
}

#[tokio::test]
async fn a_redriven_execution_launches_checks_opens_and_records_nothing() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let launched = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("launch");
    // The execution failed; the janitor (or record-failure) closed its record and released
    // the lock, which another execution now holds.
    close(&w, EXEC, ExecutionStatus::Aborted, None).await;
    w.history
        .set_lock(PLAN, "arn:...:execution:billing:next", Mode::Drill);
    let before = w.history.execution(EXEC).expect("record");
    let calls = w.drs.start_calls().len();

    // Redrive: the machine resumes at the failed state with the old state.
    assert_closed(
        w.handlers()
            .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
            .await,
        "ABORTED",
    );
    assert_eq!(w.drs.start_calls().len(), calls, "nothing launched");
    assert_closed(
        w.handlers()
            .check_wave(CheckWaveInput {
                run: run_ctx(Mode::Drill, None),
                wave: all_tagged_wave(),
                state: launched.clone(),
                heartbeat_seconds: 60,
            })
            .await,
        "ABORTED",
    );
    let gate = AwaitOperatorInput {
        run: run_ctx(Mode::Drill, None),
        gate: GateKind::Approval,
        wave: all_tagged_wave(),
        state: None,
        timeout_seconds: 600,
        heartbeat_seconds: 60,
        opened_at: None,
        reopened: 0,
        gate_heartbeat_seconds: None,
        action: None,
    };
    assert_closed(
        w.handlers()
            .await_operator(gate, &crate::token::TaskToken::new("redriven-gate"))
            .await,
        "ABORTED",
    );
    assert_closed(
        w.handlers()
            .finish(FinishInput {
                run: run_ctx(Mode::Drill, None),
                waves: BTreeMap::from([("w1".to_string(), launched)]),
                heartbeat_seconds: 60,
            })
            .await,
        "ABORTED",
    );
    // Record-failure, reached by the refusal's Catch, leaves the record and the lock alone.
    let out = w
        .handlers()
        .record_failure(RecordFailureInput {
            execution: execution(),
            plan_name: PLAN.into(),
            state: json!({
                "run": run_ctx(Mode::Drill, None),
                "error": {"Error": ErrorName::ExecutionClosed.as_str(), "Cause": "closed"},
            }),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record-failure");
    assert_eq!(out.error, ErrorName::ExecutionClosed.as_str());
    assert_eq!(w.history.execution(EXEC).expect("record"), before);
    assert_eq!(
        w.history.lock_holder(PLAN).as_deref(),
        Some("arn:...:execution:billing:next")
    );
    assert!(
        w.drs.terminate_calls().is_empty(),
        "no clean-up of another run's instances"
    );
}

#[tokio::test]
async fn a_finish_retried_after_it_closed_the_record_closes_it_again() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let mut launched = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("launch");
    launched.status = WaveStatus::Succeeded;
    // Nothing to clean up: the test is about the record, not the drill's instances.
    let run = RunContext {
        recovery_execution_id: None,
        stop_and_terminate: false,
        terminate_drill_instances: false,
        ..run_ctx(Mode::Drill, None)
    };
    let finish = || FinishInput {
        run: run.clone(),
        waves: BTreeMap::from([("w1".to_string(), launched.clone())]),
        heartbeat_seconds: 60,
    };
    w.handlers().finish(finish()).await.expect("finish");
    let again = w
        .handlers()
        .finish(finish())
        .await
        .expect("a retried finish");
    assert_eq!(again.outcome, Outcome::Succeeded);
}
