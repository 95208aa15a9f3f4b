//! The worker against real wire protocols: drs-sim (in-process, the real aws-sdk-drs client)
//! and moto's DynamoDB server (a real process on a free port, stopped by PID). Step Functions
//! is the in-memory fake where a test needs the runtime.
//!
//! Needs the project's venv (`scripts/bootstrap.sh`): without it these tests fail, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use drs_sim::{FaultConfig, FaultSpec, ServerSpec, SimConfig, SimHandle, Simulator};
use drs_test_harness::{Moto, drs_client, dynamodb_client, eventually, unique_name};
use drs_waves_aws::drs::{Drs, LaunchStatus, SdkDrs};
use drs_waves_contract::{
    Activity, CheckWaveInput, ExecutionRef, FinishInput, Mode, OnFailure, Outcome, PlanSpec,
    PollingBounds, PreflightInput, RecordFailureInput, RunContext, StartWaveInput, WaveSpec,
    WaveState, WaveStatus, history, job_tags,
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

const PLAN: &str = "billing";
const WAIT: Duration = Duration::from_secs(30);

fn sid(i: usize) -> String {
    format!("s-a1b2c3d4e5f6{i:05}")
}

type RealHandlers = Handlers<SdkDrs, DynamoHistory, FakeExecutions>;

/// drs-sim + moto + a fresh table.
struct Stack {
    sim: SimHandle,
    _moto: Moto,
    drs: SdkDrs,
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
        Stack {
            drs: SdkDrs::new(drs_client(&sim.endpoint()).await),
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
            self.drs.clone(),
            self.history.clone(),
            self.executions.clone(),
            Limits::default(),
        )
        .with_faults(faults)
    }

    fn run_ctx(&self) -> RunContext {
        RunContext {
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

fn wave(index: u32, name: &str, ids: &[String], tags: &[(&str, &str)]) -> WaveSpec {
    WaveSpec {
        index,
        name: name.into(),
        server_ids: ids.to_vec(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        optional: vec![],
        launch_timeout_seconds: 60,
        on_failure: OnFailure::Stop,
        polling: PollingBounds {
            min_wait_seconds: 1,
            max_wait_seconds: 5,
            expected_launch_seconds: 2,
        },
        approval: None,
        max_attempts: 1,
        decision_timeout_seconds: None,
        decision_notify: None,
    }
}

fn servers(n: usize, launch_seconds: f64) -> Vec<ServerSpec> {
    (1..=n)
        .map(|i| ServerSpec::new(sid(i), launch_seconds).with_tag("App", PLAN))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_wave_is_launched_checked_to_success_recorded_and_cleaned_up() {
    let stack = Stack::start(servers(3, 0.3), FaultConfig::default()).await;
    let spec = wave(1, "db", &[], &[("App", PLAN)]);
    let run = stack
        .handlers()
        .preflight(PreflightInput {
            execution: stack.execution.clone(),
            input: json!({"mode": "DRILL"}),
            plan: PlanSpec {
                name: PLAN.into(),
                terminate_drill_instances: true,
                waves: vec![spec.clone()],
            },
            heartbeat_seconds: 60,
            targets: None,
        })
        .await
        .expect("preflight");
    assert_eq!(run.server_count, 3);

    let started = stack
        .handlers()
        .start_wave(stack.start_input(spec.clone()))
        .await
        .expect("start");
    assert_eq!(started.status, WaveStatus::Launching);
    let jobs = stack.sim.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].is_drill, Some(true), "a drill launches a drill");
    assert_eq!(
        jobs[0].tags.get(job_tags::EXECUTION),
        Some(&stack.execution.id)
    );
    assert_eq!(started.job_ids, vec![jobs[0].job_id.clone()]);

    let done = stack.check_until_done(&spec, started).await;
    assert_eq!(done.status, WaveStatus::Succeeded, "{done:?}");
    assert_eq!(done.servers.launched, 3);
    assert_eq!(
        stack.sim.counters().calls("DescribeJobs") as usize,
        2 + done.checks as usize,
        "one DescribeJobs per check (and one each in preflight and start)"
    );

    let record = stack
        .history
        .get_wave(&stack.execution.id, 1)
        .await
        .expect("get")
        .expect("wave item");
    assert_eq!(record.status, WaveStatus::Succeeded);
    let job_records = stack
        .history
        .list_jobs(&stack.execution.id)
        .await
        .expect("jobs");
    assert_eq!(job_records.len(), 1);
    assert!(
        job_records[0]
            .servers
            .values()
            .all(|s| s.launch_status == LaunchStatus::Launched && s.recovery_instance_id.is_some())
    );

    let out = stack
        .handlers()
        .finish(FinishInput {
            run: run.clone(),
            waves: BTreeMap::from([("w1".to_string(), done)]),
            heartbeat_seconds: 60,
        })
        .await
        .expect("finish");
    assert_eq!(out.outcome, Outcome::Succeeded);
    assert_eq!(out.terminate_job_ids.len(), 1);
    assert!(
        stack
            .sim
            .jobs()
            .iter()
            .any(|j| j.job_type == "TERMINATE" && j.job_id == out.terminate_job_ids[0])
    );

    // The EXECUTION item is what the plan index finds; the lock is gone.
    let recent = stack
        .ddb
        .query()
        .table_name(&stack.table)
        .index_name(history::PLAN_INDEX)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", history::PLAN_INDEX_PARTITION_KEY)
        .expression_attribute_values(":p", AttributeValue::S(PLAN.into()))
        .send()
        .await
        .expect("query plan-index");
    assert_eq!(
        recent.items().len(),
        1,
        "only the EXECUTION item is indexed"
    );
    assert_eq!(
        recent.items()[0]
            .get("executionStatus")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str),
        Some("SUCCEEDED")
    );
    let lock = stack
        .ddb
        .get_item()
        .table_name(&stack.table)
        .key(
            history::PARTITION_KEY,
            AttributeValue::S(format!("LOCK#{PLAN}")),
        )
        .key(history::SORT_KEY, AttributeValue::S("LOCK".into()))
        .send()
        .await
        .expect("get lock");
    assert!(lock.item().is_none(), "lock released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_job_with_a_failed_required_server_fails_and_only_optional_failures_succeed() {
    let specs = vec![
        ServerSpec::new(sid(1), 0.2),
        ServerSpec::new(sid(2), 0.2).failing(),
    ];
    let stack = Stack::start(specs, FaultConfig::default()).await;

    let required = wave(1, "db", &[sid(1), sid(2)], &[]);
    let started = stack
        .handlers()
        .start_wave(stack.start_input(required.clone()))
        .await
        .expect("start");
    let done = stack.check_until_done(&required, started).await;
    assert_eq!(done.status, WaveStatus::Failed);
    assert!(
        done.reason.contains(&sid(2)) && done.reason.contains("'db'"),
        "{}",
        done.reason
    );
    let job = &stack.sim.jobs()[0];
    assert_eq!(
        job.status,
        drs_sim::JobStatus::Completed,
        "DRS says COMPLETED; the wave failed anyway"
    );

    let mut optional = wave(2, "db-again", &[sid(1), sid(2)], &[]);
    optional.optional = vec![sid(2)];
    let started = stack
        .handlers()
        .start_wave(stack.start_input(optional.clone()))
        .await
        .expect("start");
    let done = stack.check_until_done(&optional, started).await;
    assert_eq!(done.status, WaveStatus::Succeeded, "{done:?}");
    assert_eq!(done.servers.optional_failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_start_does_not_launch_twice_even_when_its_history_write_was_lost() {
    let stack = Stack::start(servers(3, 0.2), FaultConfig::default()).await;

    // An ordinary retry: the history answers.
    let w1 = wave(1, "one", &[sid(1)], &[]);
    let first = stack
        .handlers()
        .start_wave(stack.start_input(w1.clone()))
        .await
        .expect("start");
    let again = stack
        .handlers()
        .start_wave(stack.start_input(w1))
        .await
        .expect("retry");
    assert_eq!(again.job_ids, first.job_ids);
    assert_eq!(stack.start_recovery_calls(), 1);

    // The first attempt died between StartRecovery and the history write: DescribeJobs by tag.
    let w2 = wave(2, "two", &[sid(2)], &[]);
    let faulty = stack.handlers_with(Faults::armed(
        FaultPoint::ExitAfterStartRecovery,
        FaultAction::Fail,
    ));
    faulty
        .start_wave(stack.start_input(w2.clone()))
        .await
        .expect_err("dies after StartRecovery");
    assert_eq!(stack.start_recovery_calls(), 2);
    assert!(
        stack
            .history
            .get_wave(&stack.execution.id, 2)
            .await
            .expect("get")
            .is_some_and(|w| w.chunks.iter().all(|c| c.job_id.is_none())),
        "the chunk was planned, its job never recorded"
    );
    let found = stack
        .handlers()
        .start_wave(stack.start_input(w2.clone()))
        .await
        .expect("retry");
    assert_eq!(stack.start_recovery_calls(), 2, "not launched again");
    let wave_two_jobs: Vec<String> = stack
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some("two"))
        .map(|j| j.job_id)
        .collect();
    assert_eq!(found.job_ids, wave_two_jobs);
    assert_eq!(
        stack
            .history
            .get_wave(&stack.execution.id, 2)
            .await
            .expect("get")
            .expect("recorded")
            .job_ids,
        found.job_ids
    );

    // Died after the history write, before answering (a wave not launched yet, so the fault
    // point is reached): the job is recorded, and the retry returns it without launching.
    let w3 = wave(3, "three", &[sid(3)], &[]);
    let faulty = stack.handlers_with(Faults::armed(
        FaultPoint::ExitAfterHistoryWrite,
        FaultAction::Fail,
    ));
    let died = faulty.start_wave(stack.start_input(w3.clone())).await;
    assert!(
        matches!(&died, Err(e) if e.to_string().contains("exit-after-history-write")),
        "the fault point is reached after the write: {died:?}"
    );
    assert_eq!(stack.start_recovery_calls(), 3, "wave three launched once");
    let recorded = stack
        .history
        .get_wave(&stack.execution.id, 3)
        .await
        .expect("get")
        .expect("recorded before the fault point");
    let wave_three_jobs: Vec<String> = stack
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.tags.get(job_tags::WAVE).map(String::as_str) == Some("three"))
        .map(|j| j.job_id)
        .collect();
    assert_eq!(recorded.job_ids, wave_three_jobs);
    let retried = stack
        .handlers()
        .start_wave(stack.start_input(w3))
        .await
        .expect("retry after the fault");
    assert_eq!(
        retried.job_ids, wave_three_jobs,
        "the recorded job is returned"
    );
    assert_eq!(stack.start_recovery_calls(), 3, "not launched again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_history_passes_the_history_conformance_suite() {
    let moto = Moto::start()
        .await
        .expect("moto starts (run scripts/bootstrap.sh if the venv is missing)");
    let ddb = dynamodb_client(&moto.endpoint()).await;
    let table = unique_name("conformance");
    create_table(&ddb, &table).await.expect("create table");
    drs_waves_history::conformance::run_all(&DynamoHistory::new(ddb, table), "dynamo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_drs_over_drs_sim_passes_the_drs_conformance_suite() {
    use drs_worker::conformance::drs as suite;
    let specs: Vec<ServerSpec> = suite::fixture()
        .into_iter()
        .map(|s| {
            let mut spec = ServerSpec::new(&s.id, 0.2)
                .with_hostname(&s.hostname)
                .with_replication_state(&s.replication_state)
                .with_snapshots(if s.snapshots.is_empty() {
                    drs_sim::SnapshotSpec::None
                } else {
                    drs_sim::SnapshotSpec::at(&s.snapshots)
                });
            for (k, v) in &s.tags {
                spec = spec.with_tag(k, v);
            }
            spec
        })
        .collect();
    let sim = Simulator::start(SimConfig::with_servers(specs))
        .await
        .expect("drs-sim starts");
    let drs = SdkDrs::new(drs_client(&sim.endpoint()).await);
    suite::run_all(&drs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_drs_calls_still_get_the_wave_launched() {
    let faults = FaultConfig {
        all: FaultSpec {
            throttle_fraction: 0.4,
            ..Default::default()
        },
        retry_after_seconds: 0,
        ..Default::default()
    };
    let stack = Stack::start(servers(3, 0.3), faults).await;
    let spec = wave(1, "db", &[], &[("App", PLAN)]);
    let handlers = stack.handlers();
    let started = retried(|| handlers.start_wave(stack.start_input(spec.clone())))
        .await
        .expect("start despite throttling");
    let done = stack.check_until_done(&spec, started).await;
    assert_eq!(done.status, WaveStatus::Succeeded);
    let counters = stack.sim.counters();
    let throttled: u64 = ["DescribeSourceServers", "DescribeJobs", "StartRecovery"]
        .iter()
        .map(|op| counters.count(op, 429))
        .sum();
    assert!(throttled > 0, "the simulator throttled some calls");
    assert_eq!(stack.start_recovery_calls(), 1, "one job despite retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_lock_refuses_a_running_holder_and_takes_over_an_ended_one() {
    let stack = Stack::start(servers(1, 0.2), FaultConfig::default()).await;
    let plan = PlanSpec {
        name: PLAN.into(),
        terminate_drill_instances: false,
        waves: vec![wave(1, "db", &[sid(1)], &[])],
    };
    let preflight = |execution: ExecutionRef| PreflightInput {
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

fn slow(operation: &str, latency_ms: u64) -> FaultConfig {
    FaultConfig {
        per_operation: BTreeMap::from([(
            operation.to_string(),
            FaultSpec {
                latency_ms,
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

fn activity_arn() -> String {
    "arn:aws:states:us-east-1:123456789012:activity:drs-waves-start-wave".into()
}

fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        pollers_per_activity: 1,
        max_tasks_in_flight: 2,
        shutdown_grace: Duration::from_secs(20),
        worker_name: "against-services".into(),
        default_heartbeat_seconds: 60,
        poll_error_backoff: Duration::from_millis(100),
        ..RuntimeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_heartbeat_stops_the_work_before_anything_is_launched() {
    // DescribeJobs (looked at before StartRecovery) is slow: the heartbeat comes first.
    let stack = Stack::start(servers(1, 0.2), slow("DescribeJobs", 4000)).await;
    let sfn = FakeActivityService::with_poll_timeout(Duration::from_millis(200));
    let mut input = stack.start_input(wave(1, "db", &[sid(1)], &[]));
    input.heartbeat_seconds = 3;
    sfn.push_task(
        &activity_arn(),
        "tok-lost",
        serde_json::to_string(&input).expect("json"),
    );
    sfn.expire_task("tok-lost");
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(stack.handlers()),
        vec![(Activity::StartWave, activity_arn())],
        runtime_config(),
        shutdown.clone(),
    ));
    eventually("a heartbeat", WAIT, Duration::from_millis(50), || async {
        (sfn.heartbeats("tok-lost") > 0).then_some(())
    })
    .await
    .expect("heartbeat sent");
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert_eq!(report.tasks_cancelled, 1);
    assert!(
        sfn.answers().is_empty(),
        "nothing answered for a task that is gone"
    );
    assert_eq!(
        stack.start_recovery_calls(),
        0,
        "the work stopped before StartRecovery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_finishes_the_task_in_hand() {
    let stack = Stack::start(servers(2, 0.2), slow("DescribeJobs", 1000)).await;
    let sfn = FakeActivityService::with_poll_timeout(Duration::from_millis(200));
    let input = stack.start_input(wave(1, "db", &[], &[("App", PLAN)]));
    sfn.push_task(
        &activity_arn(),
        "tok-held",
        serde_json::to_string(&input).expect("json"),
    );
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(stack.handlers()),
        vec![(Activity::StartWave, activity_arn())],
        runtime_config(),
        shutdown.clone(),
    ));
    eventually(
        "the task is being worked on",
        WAIT,
        Duration::from_millis(20),
        || async { (stack.sim.counters().calls("DescribeSourceServers") > 0).then_some(()) },
    )
    .await
    .expect("task started");
    shutdown.cancel();
    let polls_at_signal = sfn.polls_started();
    let report = tokio::time::timeout(WAIT, worker)
        .await
        .expect("exits within the grace")
        .expect("worker");
    assert!(report.drained);
    assert!(
        sfn.polls_started() <= polls_at_signal + 1,
        "no polling after the signal (one may have been starting)"
    );
    let answers = sfn.answers();
    let [Answer::Success { output, .. }] = &answers[..] else {
        panic!("expected one success: {answers:?}")
    };
    let state: WaveState = serde_json::from_str(output).expect("WaveState");
    assert_eq!(stack.start_recovery_calls(), 1);
    let recorded = stack
        .history
        .get_wave(&stack.execution.id, 1)
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(recorded.job_ids, state.job_ids);
    let launched: BTreeSet<String> = stack.sim.jobs().into_iter().map(|j| j.job_id).collect();
    assert_eq!(launched, state.job_ids.into_iter().collect());
}

/// The weather of a large estate's preflight (issue #21 item 9): 30% of DRS calls throttled,
/// 5% answered 500. One call per server that fails past its retries fails the whole task, so
/// the worker's DRS client (`aws::drs_client`) must carry each call through: every one of 60
/// calls succeeds. The SDK's default (standard mode, 3 attempts) does not, with the same fault
/// sequence (a fixed seed, calls one at a time): the control shows the weather is bad enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_drs_client_carries_every_call_through_bad_weather() {
    const CALLS: usize = 60;
    let weather = || FaultConfig {
        all: FaultSpec {
            throttle_fraction: 0.3,
            error_fraction: 0.05,
            ..Default::default()
        },
        retry_after_seconds: 0,
        seed: Some(3),
        ..Default::default()
    };
    let calls = |drs: SdkDrs| async move {
        let mut failed = 0;
        for _ in 0..CALLS {
            if drs.describe_source_servers().await.is_err() {
                failed += 1;
            }
        }
        failed
    };
    let sim = Simulator::start(SimConfig {
        faults: weather(),
        ..SimConfig::with_servers(servers(2, 0.1))
    })
    .await
    .expect("drs-sim starts");
    let sdk = drs_test_harness::sdk_config(&sim.endpoint()).await;
    let began = std::time::Instant::now();
    let failed = calls(SdkDrs::new(drs_waves_aws::clients::drs_client(&sdk))).await;
    let counters = sim.counters();
    eprintln!("{CALLS} calls in {:?}: {counters:?}", began.elapsed());
    let op = "DescribeSourceServers";
    assert!(
        counters.count(op, 429) > 0 && counters.count(op, 500) > 0,
        "the weather was bad: {counters:?}"
    );
    assert_eq!(failed, 0, "every call of the worker's client got through");

    let control = Simulator::start(SimConfig {
        faults: weather(),
        ..SimConfig::with_servers(servers(2, 0.1))
    })
    .await
    .expect("drs-sim starts");
    let default_retries = aws_sdk_drs::config::Builder::from(
        &drs_test_harness::sdk_config(&control.endpoint()).await,
    )
    .retry_config(aws_config::retry::RetryConfig::standard())
    .build();
    let failed = calls(SdkDrs::new(aws_sdk_drs::Client::from_conf(default_retries))).await;
    eprintln!("control: {failed} failed: {:?}", control.counters());
    assert!(failed > 0, "the SDK's default retries let some calls fail");
}

/// Issue #21, items 6 and 7, over the wire: jobs that do not name their recovery instances
/// (drs-sim's `omitRecoveryInstanceId`), and launches without `recoverySnapshotID`. SdkDrs
/// lists each instance by source server with the job that made it, its mode and the on-demand
/// snapshot's time, as FakeDrs does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_instances_are_listed_with_their_job_mode_and_on_demand_point_in_time() {
    use drs_waves_aws::drs::{Drs, JobFilter, StartRecoveryRequest};
    let specs: Vec<ServerSpec> = (1..=3)
        .map(|i| ServerSpec::new(sid(i), 0.2).omitting_recovery_instance_id())
        .collect();
    let sim = Simulator::start(SimConfig::with_servers(specs))
        .await
        .expect("drs-sim starts");
    let drs = SdkDrs::new(drs_client(&sim.endpoint()).await);
    let launch = |ids: Vec<String>, is_drill: bool| StartRecoveryRequest {
        source_server_ids: ids,
        snapshot_ids: BTreeMap::new(),
        is_drill,
        tags: BTreeMap::new(),
    };
    let drill = drs
        .start_recovery(launch(vec![sid(1), sid(2)], true))
        .await
        .expect("drill");
    let recovery = drs
        .start_recovery(launch(vec![sid(3)], false))
        .await
        .expect("recovery");
    let jobs = eventually(
        "both jobs COMPLETED",
        WAIT,
        Duration::from_millis(50),
        || {
            let drs = drs.clone();
            let ids = vec![drill.id.clone(), recovery.id.clone()];
            async move {
                let jobs = drs
                    .describe_jobs(JobFilter {
                        job_ids: ids,
                        from_date: None,
                    })
                    .await
                    .ok()?;
                (jobs.len() == 2 && jobs.iter().all(|j| !j.status.is_active())).then_some(jobs)
            }
        },
    )
    .await
    .expect("jobs end");
    for s in jobs.iter().flat_map(|j| &j.servers) {
        assert_eq!(s.launch_status, LaunchStatus::Launched, "{s:?}");
        assert_eq!(
            s.recovery_instance_id, None,
            "the knob leaves it out: {s:?}"
        );
    }
    let listed = drs
        .recovery_instances_of(vec![sid(1), sid(2), sid(3)])
        .await
        .expect("listed");
    assert_eq!(listed.len(), 3, "{listed:?}");
    let admin = sim.recovery_instances();
    for i in &listed {
        let (job, drill_mode) = if i.source_server_id == sid(3) {
            (&recovery.id, false)
        } else {
            (&drill.id, true)
        };
        assert_eq!(i.job_id.as_ref(), Some(job), "{i:?}");
        assert_eq!(i.is_drill, Some(drill_mode), "{i:?}");
        let in_sim = admin
            .iter()
            .find(|a| a.recovery_instance_id == i.id)
            .expect("drs-sim's record");
        let point = i
            .point_in_time
            .as_deref()
            .and_then(drs_waves_rules::parse_time);
        assert_eq!(point, in_sim.point_in_time_snapshot_date_time, "{i:?}");
        let sim_job = sim
            .jobs()
            .into_iter()
            .find(|j| &j.job_id == job)
            .expect("job");
        assert!(
            point.is_some_and(|p| p >= sim_job.creation_date_time),
            "an on-demand snapshot is taken after the request: {i:?}"
        );
    }
    assert!(
        drs.recovery_instances_of(vec![])
            .await
            .expect("nothing")
            .is_empty()
    );
    sim.shutdown().await;
}

/// The SDK's retry quota (a token bucket shared by every call of a client) runs dry under
/// sustained throttling, after which throttled calls fail at their first attempt: a preflight
/// of a thousand servers failed that way. The worker's DRS client has a bucket of its own
/// without limit. A storm of 150 throttled answers first (fifteen calls give up after their ten
/// attempts), then the weather: every later call gets through. The same retry settings with
/// the SDK's default bucket let later calls fail. Backoff shortened so the test takes seconds;
/// calls one at a time and a seeded weather, so both clients meet the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_drs_client_keeps_retrying_after_a_storm() {
    use aws_sdk_drs::config::retry::RetryPartition;
    const CALLS: usize = 80;
    const STORM: u32 = 150;
    let fast = || {
        drs_waves_aws::clients::drs_retry_config()
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5))
    };
    let weather = || SimConfig {
        faults: FaultConfig {
            all: FaultSpec {
                throttle_next: STORM,
                throttle_fraction: 0.3,
                error_fraction: 0.05,
                ..Default::default()
            },
            retry_after_seconds: 0,
            seed: Some(3),
            ..Default::default()
        },
        ..SimConfig::with_servers(servers(1, 0.1))
    };
    let failures = |drs: SdkDrs| async move {
        let mut failed = Vec::new();
        for call in 0..CALLS {
            if drs.describe_source_servers().await.is_err() {
                failed.push(call);
            }
        }
        failed
    };

    let sim = Simulator::start(weather()).await.expect("drs-sim starts");
    let sdk = drs_test_harness::sdk_config(&sim.endpoint()).await;
    let failed = failures(SdkDrs::new(drs_waves_aws::clients::drs_client_with(
        &sdk,
        fast(),
    )))
    .await;
    let storm_calls = (STORM / drs_waves_aws::clients::DRS_CALL_ATTEMPTS) as usize;
    assert_eq!(
        failed,
        (0..storm_calls).collect::<Vec<_>>(),
        "only the calls inside the storm give up: {:?}",
        sim.counters()
    );

    let control = Simulator::start(weather()).await.expect("drs-sim starts");
    let shared_bucket = aws_sdk_drs::config::Builder::from(
        &drs_test_harness::sdk_config(&control.endpoint()).await,
    )
    .retry_config(fast())
    .retry_partition(RetryPartition::new("control"))
    .build();
    let failed = failures(SdkDrs::new(aws_sdk_drs::Client::from_conf(shared_bucket))).await;
    assert!(
        failed.iter().any(|&call| call >= storm_calls),
        "with the SDK's bucket, calls after the storm fail too: {failed:?}"
    );
}
