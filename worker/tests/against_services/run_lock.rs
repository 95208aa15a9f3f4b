//! The run lock in DynamoDB: a running holder refuses a second execution of the plan, one that
//! ended is taken over.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_lock_refuses_a_running_holder_and_takes_over_an_ended_one() {
    let stack = Stack::start(servers(1, 0.2), FaultConfig::default()).await;
    let plan = PlanSpec {
        name: PLAN.into(),
        terminate_drill_instances: false,
        waves: vec![wave(1, "db", &[sid(1)], &[])],
    };
    let preflight = |execution: ExecutionRef| PreflightInput {
        failback: None,
        execution,
        input: json!({"mode": "DRILL"}),
        plan: plan.clone(),
        heartbeat_seconds: 60,
        targets: None,
    };
    stack
        .handlers()
        .preflight(preflight(stack.execution.clone()))
        .await
        .expect("first holds the lock");
    stack
        .handlers()
        .preflight(preflight(stack.execution.clone()))
        .await
        .expect("a retried preflight passes");
    let second = ExecutionRef {
        id: format!("{}-second", stack.execution.id),
        ..stack.execution.clone()
    };
    stack.executions.set(&stack.execution.id, "RUNNING");
    let err = stack
        .handlers()
        .preflight(preflight(second.clone()))
        .await
        .expect_err("refused");
    assert_eq!(
        err.name(),
        drs_waves_contract::ErrorName::PlanAlreadyRunning
    );
    assert!(err.to_string().contains(&stack.execution.id));
    stack.executions.set(&stack.execution.id, "ABORTED");
    stack
        .handlers()
        .preflight(preflight(second.clone()))
        .await
        .expect("stale lock taken over");

    // A failure recorded before preflight ever ran (the first state refused the input).
    let third = ExecutionRef {
        id: format!("{}-third", stack.execution.id),
        ..stack.execution.clone()
    };
    let out = stack
        .handlers()
        .record_failure(RecordFailureInput {
            execution: third.clone(),
            plan_name: PLAN.into(),
            state: json!({"mode": "RECOVERY", "error": {"Error": "DrsWaves.RecoveryNotConfirmed", "Cause": "name the plan"}}),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record failure");
    assert_eq!(out.error, "DrsWaves.RecoveryNotConfirmed");
    let record = stack
        .history
        .get_execution(&third.id)
        .await
        .expect("get")
        .expect("created");
    assert_eq!(record.status, drs_waves_contract::ExecutionStatus::Failed);
    assert_eq!(record.plan_name, PLAN);
    assert_eq!(record.cause.as_deref(), Some("name the plan"));
    // The lock still belongs to the second execution.
    assert!(
        !stack
            .history
            .release_lock(PLAN, &third.id)
            .await
            .expect("release")
    );
    assert!(
        stack
            .history
            .release_lock(PLAN, &second.id)
            .await
            .expect("release")
    );
}
