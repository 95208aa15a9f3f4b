//! Operator control: approval and decision gates, cancels (by the CLI or by StopExecution),
//! retries of the servers that did not launch, and what finish shows of the operators' actions.

use super::*;

fn operator(kind: drs_waves_contract::OperatorActionKind) -> drs_waves_contract::OperatorAction {
    drs_waves_contract::OperatorAction {
        action: kind,
        wave_index: None,
        wave_name: None,
        by: "arn:aws:iam::123456789012:user/alice".into(),
        at: "2030-01-01T00:09:00Z".into(),
    }
}

#[tokio::test]
async fn an_approval_gate_records_its_token_notifies_and_answers_nothing() {
    use drs_waves_contract::{ApprovalGate, GateKind};
    let w = World::with_servers(1);
    w.record_preflight().await;
    let notifier = crate::testing::RecordingNotifier::new();
    let handlers = w.handlers().with_notifier(Arc::new(notifier.clone()));
    let mut spec = wave(2, "app", &[server_id(1)], &[]);
    spec.approval = Some(ApprovalGate {
        timeout_seconds: 3600,
        notify: Some("arn:aws:sns:us-east-1:123456789012:dr-team".into()),
    });
    let answer = handlers
        .handle(
            Activity::AwaitOperator,
            serde_json::to_string(&gate_input(GateKind::Approval, spec)).expect("json"),
            &crate::token::TaskToken::new("token-of-the-gate"),
        )
        .await
        .expect("gate");
    assert_eq!(
        answer,
        crate::runtime::TaskAnswer::Deferred,
        "the operator answers, not the worker"
    );
    let gate = w
        .history
        .execution(EXEC)
        .and_then(super::only_gate)
        .expect("a pending gate");
    assert_eq!(gate.token, "token-of-the-gate");
    assert_eq!(
        (gate.kind, gate.wave_index, gate.wave_name.as_str()),
        (GateKind::Approval, 2, "app")
    );
    assert_eq!(gate.since, "2030-01-01T00:10:00Z");
    assert_eq!(gate.timeout_at, "2030-01-01T01:10:00Z");
    let sent = notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "arn:aws:sns:us-east-1:123456789012:dr-team");
    assert!(
        sent[0].2.contains("drs-waves approve run-1 --wave 2"),
        "{}",
        sent[0].2
    );
    assert!(w.drs.start_calls().is_empty(), "nothing launches at a gate");

    // A notification that cannot be sent does not stop the gate from waiting.
    notifier.fail_next(AwsError::transient("SNS Publish", "503"));
    let mut spec = wave(3, "web", &[server_id(1)], &[]);
    spec.approval = Some(ApprovalGate {
        timeout_seconds: 60,
        notify: Some("arn:aws:sns:us-east-1:123456789012:dr-team".into()),
    });
    handlers
        .await_operator(
            gate_input(GateKind::Approval, spec),
            &crate::token::TaskToken::new("t-2"),
        )
        .await
        .expect("the gate waits anyway");
    // Wave 3's gate opens beside wave 2's (waves side by side): both wait, each its token.
    let tokens: Vec<(u32, String)> = w
        .history
        .execution(EXEC)
        .expect("record")
        .pending_gates
        .into_iter()
        .map(|g| (g.wave_index, g.token))
        .collect();
    assert_eq!(
        tokens,
        vec![(2, "token-of-the-gate".into()), (3, "t-2".into())]
    );
}

#[tokio::test]
async fn a_cancel_fails_the_next_gate_start_and_check_naming_who() {
    use drs_waves_contract::{GateKind, OperatorActionKind};
    use drs_waves_history::prelude::*;
    let w = World::with_servers(1);
    w.record_preflight().await;
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let started = launched(&w, &spec).await;
    w.history
        .request_cancel(EXEC, operator(OperatorActionKind::Cancel))
        .await
        .expect("cancel");
    let expect_cancelled = |r: Result<(), TaskError>, what: &str| match r {
        Err(TaskError::Cancelled(cause)) => {
            assert!(
                cause.contains("arn:aws:iam::123456789012:user/alice"),
                "{what}: {cause}"
            )
        }
        other => panic!("{what}: expected Cancelled, got {other:?}"),
    };
    let mut input = check_input(&w, spec.clone());
    input.state = started;
    let checks_before = w.drs.describe_jobs_calls().len();
    expect_cancelled(w.handlers().check_wave(input).await.map(|_| ()), "check");
    assert_eq!(
        w.drs.describe_jobs_calls().len(),
        checks_before,
        "a cancelled check asks DRS nothing"
    );
    let starts_before = w.drs.start_calls().len();
    expect_cancelled(
        w.handlers()
            .start_wave(start_input(
                Mode::Drill,
                None,
                wave(2, "app", &[server_id(1)], &[]),
            ))
            .await
            .map(|_| ()),
        "start",
    );
    assert_eq!(
        w.drs.start_calls().len(),
        starts_before,
        "a cancelled start launches nothing"
    );
    expect_cancelled(
        w.handlers()
            .await_operator(
                gate_input(GateKind::Approval, spec),
                &crate::token::TaskToken::new("t"),
            )
            .await,
        "gate",
    );
    assert_eq!(
        super::only_gate(w.history.execution(EXEC).expect("record")),
        None,
        "a gate opened after the cancel is not left waiting"
    );
    assert_eq!(
        ErrorName::Cancelled.as_str(),
        TaskError::Cancelled(String::new()).to_wire().0
    );
    assert!(!TaskError::Cancelled(String::new()).retryable());
}

#[tokio::test]
async fn a_cancelled_drill_is_recorded_cancelled_and_cleaned_up_even_if_its_plan_keeps_instances() {
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let state = launch_and_complete(&w, &spec, &[(&server_id(1), "i-drill")]).await;
    w.history.set_lock_holder(PLAN, EXEC);
    w.record_preflight().await;
    let mut run = run_ctx(Mode::Drill, None);
    run.terminate_drill_instances = false;
    let out = w
        .handlers()
        .record_failure(RecordFailureInput {
            execution: execution(),
            plan_name: PLAN.into(),
            state: json!({"run": run, "waves": {"w1": state},
                          "error": {"Error": "DrsWaves.Cancelled", "Cause": "Cancelled by alice"}}),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record");
    assert_eq!(out.cleanup, CleanupStatus::Done);
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-drill".to_string()]]);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Cancelled);
    assert_eq!(record.cause.as_deref(), Some("Cancelled by alice"));
    assert_eq!(w.history.lock_holder(PLAN), None, "the lock is released");
}

#[tokio::test]
async fn a_recovery_stopped_by_an_operator_keeps_its_instances() {
    use drs_waves_contract::OperatorActionKind;
    use drs_waves_history::prelude::*;
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let started = w
        .handlers()
        .start_wave(start_input(Mode::Recovery, Some(PLAN), spec.clone()))
        .await
        .expect("start");
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-prod"));
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    w.history.set_lock_holder(PLAN, EXEC);
    w.record_preflight().await;
    w.history
        .request_cancel(EXEC, operator(OperatorActionKind::Stop))
        .await
        .expect("recorded");
    let out = w
        .handlers()
        .record_failure(RecordFailureInput {
            execution: execution(),
            plan_name: PLAN.into(),
            state: json!({"run": run_ctx(Mode::Recovery, Some(PLAN)), "waves": {"w1": started},
                          "error": {"Error": "DrsWaves.StoppedByOperator", "Cause": "Stopped at the approval gate of wave 2"}}),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record");
    assert_eq!(out.cleanup, CleanupStatus::NotNeeded);
    assert!(
        w.drs.terminate_calls().is_empty(),
        "a recovery's instances are never terminated"
    );
    assert_eq!(
        w.history.execution(EXEC).expect("record").status,
        ExecutionStatus::Stopped
    );
    assert_eq!(
        out.operator_actions.len(),
        1,
        "the output shows what operators did"
    );
}

#[tokio::test]
async fn a_retry_launches_only_the_required_servers_that_did_not_launch_and_the_wave_succeeds() {
    let w = World::with_servers(4);
    w.record_preflight().await;
    // s1 launches, s2 (required) fails, s3 (optional) fails, s4 (required) fails.
    let mut spec = wave(
        1,
        "db",
        &[server_id(1), server_id(2), server_id(3), server_id(4)],
        &[],
    );
    spec.optional = vec![server_id(3)];
    spec.on_failure = OnFailure::Ask;
    spec.max_attempts = 2;
    let started = launched(&w, &spec).await;
    let first_job = started.job_ids[0].clone();
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    for s in [2, 3, 4] {
        w.drs
            .set_launch_status(&server_id(s), LaunchStatus::Failed, None);
    }
    w.drs.set_job_status(&first_job, JobStatus::Completed);
    let mut input = check_input(&w, spec.clone());
    input.state = started;
    let failed = w.handlers().check_wave(input.clone()).await.expect("check");
    assert_eq!(failed.status, WaveStatus::Failed);

    // The operator decided retry: the machine goes back to the wave's start.
    let retried = w
        .handlers_at(datetime!(2030-01-01 00:20:00 UTC))
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("retry");
    let starts = w.drs.start_calls();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        starts[1].source_server_ids,
        vec![server_id(2), server_id(4)],
        "only the required servers that did not launch"
    );
    assert_eq!(
        starts[1].tags.get(job_tags::CHUNK).map(String::as_str),
        Some("2"),
        "a new chunk, so tags never collide"
    );
    assert_eq!(
        retried.job_ids.len(),
        2,
        "the first launch's job is still watched"
    );
    assert_eq!(
        retried.started_at, "2030-01-01T00:20:00Z",
        "the retry's clock starts with it"
    );
    let recorded = w.history.wave(EXEC, 1).expect("wave");
    assert_eq!(recorded.attempt(), 2);
    assert_eq!(recorded.status, WaveStatus::Launching);

    // A start task retried by Step Functions finds the retry and launches nothing more.
    let again = w
        .handlers_at(datetime!(2030-01-01 00:20:05 UTC))
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("retried start task");
    assert_eq!(again.job_ids, retried.job_ids);
    assert_eq!(w.drs.start_calls().len(), 2);

    let second_job = retried.job_ids[1].clone();
    for s in [2, 4] {
        w.drs.set_launch_status_in(
            &second_job,
            &server_id(s),
            LaunchStatus::Launched,
            Some("i-again"),
        );
    }
    w.drs.set_job_status(&second_job, JobStatus::Completed);
    input.state = retried;
    let done = w
        .handlers_at(datetime!(2030-01-01 00:25:00 UTC))
        .check_wave(input)
        .await
        .expect("check");
    assert_eq!(done.status, WaveStatus::Succeeded, "{}", done.reason);
    assert_eq!(done.servers.launched, 3);
    assert_eq!(
        done.servers.failed, 1,
        "the optional server that failed, counted once"
    );
    assert_eq!(
        done.servers.total, 4,
        "each server once, from its latest launch"
    );
    assert_eq!(
        w.history.wave(EXEC, 1).expect("wave").completion_ms,
        None,
        "a retried wave is not a launch time to learn from"
    );

    // No launches are left: a further retry is refused and launches nothing.
    w.drs
        .set_launch_status_in(&second_job, &server_id(4), LaunchStatus::Failed, None);
    let mut failed_again = w.history.wave(EXEC, 1).expect("wave");
    failed_again.status = WaveStatus::Failed;
    {
        use drs_waves_history::prelude::*;
        w.history
            .record_wave_check(failed_again, Vec::new())
            .await
            .expect("check");
    }
    let refused = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, spec))
        .await
        .expect_err("no attempt left");
    assert!(refused.to_string().contains("maxAttempts"), "{refused}");
    assert_eq!(w.drs.start_calls().len(), 2);
}

#[tokio::test]
async fn finish_shows_the_operators_actions_and_a_skipped_wave() {
    use drs_waves_contract::OperatorActionKind;
    use drs_waves_history::prelude::*;
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let mut state = launch_and_complete(&w, &spec, &[(&server_id(1), "i-1")]).await;
    state.status = WaveStatus::Skipped;
    w.history.set_lock_holder(PLAN, EXEC);
    w.record_preflight().await;
    w.history
        .open_gate(
            EXEC,
            drs_waves_contract::PendingGate {
                kind: drs_waves_contract::GateKind::Decision,
                wave_index: 1,
                wave_name: "db".into(),
                token: "t".into(),
                since: "2030-01-01T00:08:00Z".into(),
                timeout_at: "2030-01-01T04:08:00Z".into(),
                attempts: 1,
                max_attempts: 1,
                reason: String::new(),
                heartbeat_seconds: None,
                reopened: 0,
                action: None,
            },
        )
        .await
        .expect("gate");
    let skip = operator(OperatorActionKind::Skip);
    assert!(
        w.history
            .answer_gate(EXEC, "t", skip.clone())
            .await
            .expect("answer")
    );
    let out = w
        .handlers()
        .finish(finish_input(state))
        .await
        .expect("finish");
    assert_eq!(out.outcome, Outcome::SucceededWithFailures);
    assert_eq!(out.operator_actions, vec![skip]);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.wave_statuses.get("db"), Some(&WaveStatus::Skipped));
    let wave = w.history.wave(EXEC, 1).expect("wave");
    assert_eq!(
        wave.status,
        WaveStatus::Skipped,
        "the wave's own record says so too"
    );
    assert!(wave.reason.contains("skipped"), "{}", wave.reason);
}

#[tokio::test]
async fn a_wave_launching_when_the_execution_is_cancelled_is_recorded_interrupted() {
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let started = launched(&w, &spec).await;
    // The job ended after the last check: the state still says LAUNCHING.
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    w.history.set_lock_holder(PLAN, EXEC);
    w.record_preflight().await;
    let out = w
        .handlers()
        .record_failure(RecordFailureInput {
            execution: execution(),
            plan_name: PLAN.into(),
            state: json!({"run": run_ctx(Mode::Drill, None), "waves": {"w1": started},
                          "error": {"Error": "DrsWaves.Cancelled", "Cause": "Cancelled by alice"}}),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record");
    assert_eq!(out.error, "DrsWaves.Cancelled");
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(
        record.wave_statuses.get("db"),
        Some(&WaveStatus::Interrupted)
    );
    let wave = w.history.wave(EXEC, 1).expect("wave");
    assert_eq!(wave.status, WaveStatus::Interrupted);
    assert_eq!(
        wave.reason,
        "wave 'db': the execution was cancelled while it was launching"
    );
    assert_eq!(wave.ended_at.as_deref(), Some("2030-01-01T00:10:00Z"));
}

#[tokio::test]
async fn a_cancel_carried_out_by_stop_execution_is_recorded_cancelled_by_the_janitor() {
    use drs_waves_contract::OperatorActionKind;
    use drs_waves_history::prelude::*;
    let w = World::with_servers(1);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let started = launched(&w, &all_tagged_wave()).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-gated"));
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    w.history
        .request_cancel(EXEC, operator(OperatorActionKind::Cancel))
        .await
        .expect("cancel");
    w.executions.set(EXEC, "ABORTED");
    let done = w
        .handlers()
        .tidy_ended_executions("w1")
        .await
        .expect("round");
    assert_eq!(done.len(), 1);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Cancelled);
    assert_eq!(record.error.as_deref(), Some("DrsWaves.Cancelled"));
    assert!(
        record
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("user/alice")),
        "{:?}",
        record.cause
    );
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-gated".to_string()]]);
    assert!(w.history.lock_holder(PLAN).is_none());
}
