//! [`RecoveryPlans`] over drs-sim through the real SDK: a plan pushed step by step, edited,
//! reordered, run as a drill whose CRITICAL server fails, retried, then skipped past.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_credential_types::Credentials;
use drs_sim::{ServerSelector, ServerSpec, SimConfig, Simulator};

use crate::drs::SdkDrs;
use crate::drs::native::{
    NativeExecution, NativePlan, NativeServer, NativeStep, NativeStepConfig, RecoveryPlans,
    StartPlanRequest,
};

fn sid(i: usize) -> String {
    format!("s-{i:017}")
}

fn server(i: usize, optional: bool) -> NativeServer {
    NativeServer {
        server_arn: format!(
            "arn:aws:drs:us-east-1:123456789012:source-server/{}",
            sid(i)
        ),
        optional,
        job_id: None,
    }
}

async fn drs_over(endpoint: &str) -> SdkDrs {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .load()
        .await;
    SdkDrs::new(aws_sdk_drs::Client::new(&sdk))
}

/// Polls the execution until `done` holds, for at most 20 s.
async fn until(
    drs: &SdkDrs,
    arn: &str,
    done: impl Fn(&NativeExecution) -> bool,
) -> NativeExecution {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let e = drs
            .get_recovery_plan_execution(arn)
            .await
            .expect("execution");
        if done(&e) {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution stuck at {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Pushes a plan of three steps (web, a 30-minute pause, database), checking each call;
/// returns the plan and the pause step.
async fn push(drs: &SdkDrs) -> (NativePlan, NativeStep) {
    let plan = drs
        .create_recovery_plan("orders", Some("from code"), BTreeMap::new())
        .await
        .expect("plan");
    let web = NativeStepConfig::Server(vec![server(1, false), server(2, true)]);
    let first = drs
        .create_recovery_plan_step(&plan.arn, "web", None, &web)
        .await
        .expect("web");
    // 30 minutes times 0.02: 36 s, long enough to cancel the run while it waits.
    let wait = NativeStepConfig::Wait { minutes: 30 };
    let pause = drs
        .create_recovery_plan_step(&plan.arn, "pause", Some(1), &wait)
        .await
        .expect("pause");
    assert_eq!((pause.order, first.name.as_str()), (1, "web"));
    let db = NativeStepConfig::Server(vec![server(3, false)]);
    let last = drs
        .create_recovery_plan_step(&plan.arn, "db", None, &db)
        .await
        .expect("db");
    let steps = drs
        .reorder_recovery_plan_steps(
            &plan.arn,
            vec![first.arn.clone(), pause.arn.clone(), last.arn.clone()],
        )
        .await
        .expect("reordered");
    assert_eq!(
        steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["web", "pause", "db"]
    );
    let renamed = drs
        .update_recovery_plan_step(&last.arn, "database", &db)
        .await
        .expect("updated");
    assert_eq!((renamed.name.as_str(), renamed.order), ("database", 3));
    let listed = drs
        .list_recovery_plan_steps(&plan.arn)
        .await
        .expect("steps");
    assert_eq!(listed[0].config, web);
    let plans = drs.list_recovery_plans().await.expect("plans");
    assert_eq!(
        plans.iter().map(|p| p.status.as_str()).collect::<Vec<_>>(),
        ["ACTIVE"]
    );

    (plan, pause)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_is_pushed_edited_and_run_with_a_retry_and_a_skip() {
    let mut config =
        SimConfig::with_servers((1..=3).map(|i| ServerSpec::new(sid(i), 2.0)).collect());
    config.timings.time_scale = 0.02;
    let sim = Simulator::start(config).await.expect("drs-sim starts");
    let drs = drs_over(&sim.endpoint()).await;

    let (plan, pause) = push(&drs).await;

    sim.set_fail_launch(&ServerSelector::Servers(vec![sid(1)]), true, None)
        .expect("staged");
    let request = StartPlanRequest {
        plan_arn: plan.arn.clone(),
        drill: true,
        ..StartPlanRequest::default()
    };
    let exec = drs
        .start_recovery_plan_execution(request)
        .await
        .expect("started");
    assert!(exec.drill);
    let failed = until(&drs, &exec.arn, |e| {
        e.status != "CREATED" && e.status != "IN_PROGRESS"
    })
    .await;
    assert_eq!(failed.status, "FAILED");
    let steps = drs
        .list_recovery_plan_execution_steps(&exec.arn)
        .await
        .expect("steps");
    assert_eq!(steps[0].status, "FAILED");
    let NativeStepConfig::Server(servers) = &steps[0].config else {
        panic!("a SERVER step")
    };
    assert!(servers.iter().all(|s| s.job_id.is_some()), "{servers:?}");

    let retried = drs
        .retry_recovery_plan_execution_step(&steps[0].arn)
        .await
        .expect("retried");
    assert_eq!(
        (retried.attempt, retried.status.as_str()),
        (Some(2), "EXECUTING")
    );
    until(&drs, &exec.arn, |e| e.status == "FAILED").await;
    let skipped = drs
        .skip_recovery_plan_execution_step(&steps[0].arn)
        .await
        .expect("skipped");
    assert_eq!(skipped.status, "SKIPPED");
    let exec_now = drs
        .get_recovery_plan_execution(&exec.arn)
        .await
        .expect("execution");
    assert_eq!(exec_now.status, "IN_PROGRESS");
    let cancelled = drs
        .cancel_recovery_plan_execution(&exec.arn)
        .await
        .expect("cancelled");
    assert_eq!(
        cancelled.status, "CANCELLED",
        "the WAIT step was running: nothing to wait for"
    );

    drs.delete_recovery_plan_step(&pause.arn)
        .await
        .expect("deleted");
    assert_eq!(
        drs.list_recovery_plan_steps(&plan.arn)
            .await
            .expect("steps")
            .len(),
        2
    );
    assert_eq!(
        drs.get_recovery_plan(&plan.arn)
            .await
            .expect("plan")
            .description
            .as_deref(),
        Some("from code")
    );
}
