//! Recovery plans over the wire: the SDK (aws-sdk-drs 1.128) creates a plan, runs it as a
//! drill to COMPLETED and reads its steps' jobs; the router serves exactly the model's
//! recovery-plan operations. The behaviours are unit-tested in `src/state/recovery_plan_tests.rs`.

use aws_sdk_drs::Client;
use aws_sdk_drs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_drs::types::{
    RecoveryPlanExecutionMode, RecoveryPlanExecutionStatus, RecoveryPlanServer,
    RecoveryPlanServerImpactLevel, RecoveryPlanStepConfiguration, ServerStepConfiguration,
    WaitStepConfiguration,
};
use drs_sim::model::Model;
use drs_sim::wire::RECOVERY_PLAN_OPERATIONS;
use drs_sim::{ServerSpec, SimHandle};

use crate::common::{sid, start, wait_for};

fn client(sim: &SimHandle) -> Client {
    let config = aws_sdk_drs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(sim.endpoint())
        .build();
    Client::from_conf(config)
}

#[test]
fn the_router_serves_exactly_the_models_recovery_plan_operations() {
    let model = Model::drs();
    let mut in_model: Vec<&str> = (model.operations())
        .map(|op| op.name.as_str())
        .filter(|name| name.contains("RecoveryPlan"))
        .collect();
    in_model.sort_unstable();
    let mut served = RECOVERY_PLAN_OPERATIONS.to_vec();
    served.sort_unstable();
    assert_eq!(served, in_model);
    for name in RECOVERY_PLAN_OPERATIONS {
        let op = model.operation(name).expect("in the model");
        assert_eq!(
            (op.method.as_str(), op.request_uri.as_str()),
            ("POST", format!("/{name}").as_str())
        );
    }
}

#[tokio::test]
async fn the_sdk_runs_a_plan_as_a_drill_to_completed() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 5.0), ServerSpec::new(sid(2), 5.0)],
        |c| {
            c.timings.time_scale = 0.02;
        },
    )
    .await;
    let drs = client(&sim);
    let plan = drs
        .create_recovery_plan()
        .name("app tier")
        .send()
        .await
        .expect("plan");
    let plan_arn = plan
        .recovery_plan()
        .expect("plan")
        .recovery_plan_arn()
        .to_owned();
    let server = |n: u32, level| {
        RecoveryPlanServer::builder()
            .server_arn(format!(
                "arn:aws:drs:us-east-1:123456789012:source-server/{}",
                sid(n)
            ))
            .impact_level(level)
            .build()
            .expect("server")
    };
    let servers = ServerStepConfiguration::builder()
        .servers(server(1, RecoveryPlanServerImpactLevel::Critical))
        .servers(server(2, RecoveryPlanServerImpactLevel::Optional))
        .build()
        .expect("servers");
    let wait = WaitStepConfiguration::builder()
        .wait_duration_minutes(1)
        .build()
        .expect("wait");
    for (name, config) in [
        (
            "web",
            RecoveryPlanStepConfiguration::ServerStepConfiguration(servers),
        ),
        (
            "settle",
            RecoveryPlanStepConfiguration::WaitStepConfiguration(wait),
        ),
    ] {
        (drs.create_recovery_plan_step().recovery_plan_arn(&plan_arn))
            .step_name(name)
            .configuration(config)
            .send()
            .await
            .expect("step");
    }
    let started = (drs
        .start_recovery_plan_execution()
        .recovery_plan_arn(&plan_arn))
    .mode(RecoveryPlanExecutionMode::Drill)
    .send()
    .await
    .expect("start");
    let exec_arn = started
        .recovery_plan_execution()
        .expect("execution")
        .recovery_plan_execution_arn()
        .to_owned();
    let done = wait_for("the execution to complete", || {
        let drs = drs.clone();
        let exec_arn = exec_arn.clone();
        async move {
            let got = drs
                .get_recovery_plan_execution()
                .recovery_plan_execution_arn(exec_arn)
                .send()
                .await
                .ok()?;
            let e = got.recovery_plan_execution()?.clone();
            (*e.status() == RecoveryPlanExecutionStatus::Completed).then_some(e)
        }
    })
    .await;
    assert!(done.completed_at().is_some());
    let steps = (drs
        .list_recovery_plan_execution_steps()
        .recovery_plan_execution_arn(&exec_arn))
    .send()
    .await
    .expect("steps");
    let first = &steps.recovery_plan_execution_steps()[0];
    let config = first.configuration().expect("configuration");
    let servers = config
        .as_execution_server_step_configuration()
        .expect("a SERVER step")
        .servers();
    let job = servers[0].job_id().expect("jobID").to_owned();
    let jobs = drs
        .describe_jobs()
        .filters(
            aws_sdk_drs::types::DescribeJobsRequestFilters::builder()
                .job_ids(&job)
                .build(),
        )
        .send()
        .await
        .expect("jobs");
    assert_eq!(
        jobs.items()[0].initiated_by().map(|i| i.as_str()),
        Some("START_DRILL")
    );
}
