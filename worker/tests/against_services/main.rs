//! The worker against real wire protocols: drs-sim (in-process, the real aws-sdk-drs client)
//! and moto's DynamoDB server (a real process on a free port, stopped by PID). Step Functions
//! is the in-memory fake where a test needs the runtime, and moto's for the executions seam's
//! conformance suite. One test binary (each links the AWS SDK), its tests by topic in the
//! modules below.
//!
//! Needs the project's venv (`scripts/bootstrap.sh`): without it these tests fail, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use drs_sim::{FaultConfig, FaultSpec, ServerSpec, SimConfig, SimHandle, Simulator};
use drs_test_harness::{Moto, drs_client, dynamodb_client, eventually, sfn_client, unique_name};
use drs_waves_aws::drs::{Drs, LaunchStatus, SdkDrs, SdkDrsAccounts};
use drs_waves_contract::{
    Activity, CheckWaveInput, ExecutionRef, FinishInput, Mode, Outcome, PlanSpec, PreflightInput,
    RecordFailureInput, RunContext, StartWaveInput, WaveSpec, WaveState, WaveStatus, history,
    job_tags,
};
use drs_waves_history::{DynamoHistory, create_table, prelude::*};
use drs_waves_rules::Limits;
use drs_worker::TaskError;
use drs_worker::faults::{FaultAction, FaultPoint, Faults};
use drs_worker::runtime::{RuntimeConfig, run};
use drs_worker::tasks::Handlers;
use drs_worker::testing::{Answer, FakeActivityService, FakeExecutions};
use serde_json::json;
use tokio_util::sync::CancellationToken;

mod conformance;
mod drs_client;
mod failback;
mod launch;
mod recovery_instances;
mod run_lock;
mod runtime;

const PLAN: &str = "billing";
const WAIT: Duration = Duration::from_secs(30);

fn sid(i: usize) -> String {
    drs_test_builders::server_id("a1b2c3d4e5f6", i)
}

type RealHandlers = Handlers<Arc<SdkDrsAccounts>, DynamoHistory, FakeExecutions>;

/// drs-sim + moto + a fresh table.
struct Stack {
    sim: SimHandle,
    _moto: Moto,
    /// The worker's own account (drs-sim); these plans name no other.
    accounts: Arc<SdkDrsAccounts>,
    history: DynamoHistory,
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    executions: FakeExecutions,
    execution: ExecutionRef,
}

impl Stack {
    async fn start(servers: Vec<ServerSpec>, faults: FaultConfig) -> Stack {
        let mut config = SimConfig::with_servers(servers);
        config.faults = faults;
        config.seed = Some(7);
        let sim = Simulator::start(config).await.expect("drs-sim starts");
        let moto = Moto::start()
            .await
            .expect("moto starts (run scripts/bootstrap.sh if the venv is missing)");
        let ddb = dynamodb_client(&moto.endpoint()).await;
        let table = unique_name("history");
        assert!(create_table(&ddb, &table).await.expect("create table"));
        assert!(
            !create_table(&ddb, &table)
                .await
                .expect("create table again"),
            "idempotent"
        );
        let now = time::OffsetDateTime::now_utc();
        let name = unique_name("run");
        let drs = SdkDrs::new(drs_client(&sim.endpoint()).await);
        Stack {
            accounts: Arc::new(SdkDrsAccounts::new(
                drs_test_harness::sdk_config(&sim.endpoint()).await,
                drs,
                drs_waves_aws::clients::drs_retry_config(),
            )),
            history: DynamoHistory::new(ddb.clone(), table.clone()),
            sim,
            _moto: moto,
            ddb,
            table,
            executions: FakeExecutions::new(),
            execution: ExecutionRef {
                id: format!("arn:aws:states:us-east-1:123456789012:execution:{PLAN}:{name}"),
                name,
                start_time: drs_waves_rules::format_time(now - time::Duration::seconds(5)),
            },
        }
    }

    fn handlers(&self) -> RealHandlers {
        self.handlers_with(Faults::none())
    }

    fn handlers_with(&self, faults: Faults) -> RealHandlers {
        Handlers::new(
            self.accounts.clone(),
            self.history.clone(),
            self.executions.clone(),
            Limits::default(),
        )
        .with_faults(faults)
    }

    fn run_ctx(&self) -> RunContext {
        RunContext {
            recovery_execution_id: None,
            stop_and_terminate: false,
            execution_id: self.execution.id.clone(),
            execution_name: self.execution.name.clone(),
            plan_name: PLAN.into(),
            mode: Mode::Drill,
            confirm: None,
            started_at: self.execution.start_time.clone(),
            terminate_drill_instances: true,
            wave_count: 1,
            server_count: 0,
            point_in_time: None,
            worst_rpo_seconds: None,
            warnings: vec![],
        }
    }

    fn start_input(&self, wave: WaveSpec) -> StartWaveInput {
        StartWaveInput {
            run: self.run_ctx(),
            wave,
            heartbeat_seconds: 60,
        }
    }

    fn start_recovery_calls(&self) -> u64 {
        self.sim.counters().count("StartRecovery", 202)
    }

    /// Checks the wave until it is no longer LAUNCHING (the state machine's loop, minus the wait).
    async fn check_until_done(&self, wave: &WaveSpec, mut state: WaveState) -> WaveState {
        let handlers = self.handlers();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            state = retried(|| {
                handlers.check_wave(CheckWaveInput {
                    run: self.run_ctx(),
                    wave: wave.clone(),
                    state: state.clone(),
                    heartbeat_seconds: 60,
                })
            })
            .await
            .expect("check");
            if state.status != WaveStatus::Launching {
                return state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "wave still launching after {WAIT:?}: {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What the generated Retry does for Throttled/Transient: try again.
async fn retried<T, F, Fut>(mut task: F) -> Result<T, TaskError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TaskError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match task().await {
            Err(e) if e.retryable() && attempt < 6 => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => return other,
        }
    }
}

/// A wave with the plan defaults, but a minute's launch timeout and polling in seconds: the
/// launches here take seconds.
fn wave(index: u32, name: &str, ids: &[String], tags: &[(&str, &str)]) -> WaveSpec {
    WaveSpec {
        launch_timeout_seconds: 60,
        polling: drs_test_builders::polling(1, 5, 2),
        ..drs_test_builders::wave(index, name, ids, tags)
    }
}

fn servers(n: usize, launch_seconds: f64) -> Vec<ServerSpec> {
    (1..=n)
        .map(|i| ServerSpec::new(sid(i), launch_seconds).with_tag("App", PLAN))
        .collect()
}
