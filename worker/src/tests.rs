//! Unit tests of the tasks and the runtime through the fakes: the rules of docs/DESIGN.md ("Rules
//! the worker must keep"), each with a test that fails if the rule is broken.

use drs_waves_aws::AwsError;
use drs_waves_history::HistoryError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drs_waves_contract::{
    Activity, AwaitOperatorInput, CheckWaveInput, CleanupStatus, ErrorName, ExecutionRef,
    ExecutionStatus, FinishInput, GateKind, Mode, OnFailure, Outcome, PlanSpec, PreflightInput,
    RecordFailureInput, RunContext, StartWaveInput, WaveSpec, WaveState, WaveStatus, job_tags,
};
use serde_json::json;
use time::macros::datetime;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::error::TaskError;
use crate::faults::{FaultAction, FaultPoint, Faults};
use crate::runtime::{RunReport, RuntimeConfig, TaskHandler, heartbeat_interval, run};
use crate::tasks::Handlers;
use crate::testing::{Answer, FakeActivityService, FakeDrs, FakeExecutions, MemoryHistory};
use drs_waves_aws::drs::{Job, JobServer, JobStatus, LaunchStatus};
use drs_waves_history::{JanitorWork, WaveRecord};
use drs_waves_rules::Limits;

/// The one gate a record waits at in these tests (each opens at most one at a time); more than
/// one is a bug the test names.
fn only_gate(r: drs_waves_history::ExecutionRecord) -> Option<drs_waves_contract::PendingGate> {
    assert!(
        r.pending_gates.len() <= 1,
        "expected at most one pending gate, got {:?}",
        r.pending_gates
    );
    r.pending_gates.into_iter().next()
}

mod accounts;
mod check_wave;
mod clean_up;
mod closed_record;
mod conformance;
mod finish;
mod gate_reopening;
mod health_checks;
mod launch_actions;
mod lost_answer_conflict;
mod network_recovery;
mod on_demand_launch;
mod operator_control;
mod per_job_quota;
mod preemption_and_janitor;
mod preflight;
mod queued_chunk_job;
mod recovered_servers;
mod recovery_instances;
mod retry_launch_points;
mod retry_outlook;
mod rpo_target;
mod runtime;
mod scheduled_launch;
mod site_down;
mod snapshot_paging;
mod start_wave;
mod throttled_writes;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:billing:run-1";
const PLAN: &str = "billing";

fn server_id(i: usize) -> String {
    drs_test_builders::server_id("", i)
}

type TestHandlers = Handlers<FakeDrs, MemoryHistory, FakeExecutions>;

struct World {
    drs: FakeDrs,
    history: MemoryHistory,
    executions: FakeExecutions,
}

impl World {
    fn new() -> Self {
        let drs = FakeDrs::new();
        // Between the execution's start (00:00) and the handlers' clock (00:10).
        drs.set_now(datetime!(2030-01-01 00:05:00 UTC));
        World {
            drs,
            history: MemoryHistory::new(),
            executions: FakeExecutions::new(),
        }
    }

    fn with_servers(n: usize) -> Self {
        let w = World::new();
        for i in 1..=n {
            w.drs.add_server(&server_id(i), &[("App", PLAN)]);
        }
        w
    }

    fn handlers(&self) -> TestHandlers {
        self.handlers_with(Faults::none())
    }

    fn handlers_with(&self, faults: Faults) -> TestHandlers {
        Handlers::new(
            self.drs.clone(),
            self.history.clone(),
            self.executions.clone(),
            Limits::default(),
        )
        .with_faults(faults)
        .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)))
    }

    fn handlers_at(&self, now: time::OffsetDateTime) -> TestHandlers {
        Handlers::new(
            self.drs.clone(),
            self.history.clone(),
            self.executions.clone(),
            Limits::default(),
        )
        .with_clock(Arc::new(move || now))
    }
}

/// A wave with the plan defaults (the shared test builder).
fn wave(index: u32, name: &str, ids: &[String], tags: &[(&str, &str)]) -> WaveSpec {
    drs_test_builders::wave(index, name, ids, tags)
}

fn execution() -> ExecutionRef {
    ExecutionRef {
        id: EXEC.to_string(),
        name: "run-1".to_string(),
        start_time: "2030-01-01T00:00:00.000Z".to_string(),
    }
}

fn plan(waves: Vec<WaveSpec>) -> PlanSpec {
    drs_test_builders::plan(PLAN, waves)
}

fn preflight_input(input: serde_json::Value, waves: Vec<WaveSpec>) -> PreflightInput {
    PreflightInput {
        failback: None,
        execution: execution(),
        input,
        plan: plan(waves),
        heartbeat_seconds: 60,
        targets: None,
    }
}

impl World {
    /// The execution record preflight would have created.
    async fn record_preflight(&self) {
        use drs_waves_history::{ExecutionRecord, prelude::*};
        self.history
            .create_execution(ExecutionRecord {
                mode: Some(Mode::Drill),
                wave_count: 1,
                server_count: 1,
                terminate_drill_instances: true,
                ..ExecutionRecord::new(
                    EXEC,
                    "run-1",
                    PLAN,
                    ExecutionStatus::Running,
                    "2030-01-01T00:00:00.000Z",
                )
            })
            .await
            .expect("execution record");
    }
}

fn run_ctx(mode: Mode, confirm: Option<&str>) -> RunContext {
    RunContext {
        recovery_execution_id: None,
        stop_and_terminate: false,
        execution_id: EXEC.to_string(),
        execution_name: "run-1".to_string(),
        plan_name: PLAN.to_string(),
        mode,
        confirm: confirm.map(str::to_string),
        started_at: "2030-01-01T00:00:00.000Z".to_string(),
        terminate_drill_instances: true,
        wave_count: 1,
        server_count: 1,
        point_in_time: None,
        worst_rpo_seconds: None,
        warnings: vec![],
    }
}

fn start_input(mode: Mode, confirm: Option<&str>, w: WaveSpec) -> StartWaveInput {
    StartWaveInput {
        run: run_ctx(mode, confirm),
        wave: w,
        heartbeat_seconds: 60,
    }
}

fn all_tagged_wave() -> WaveSpec {
    wave(1, "db", &[], &[("App", PLAN)])
}

// ---------------------------------------------------------------- shared by the topics

fn check_input(w: &World, wave_spec: WaveSpec) -> CheckWaveInput {
    let _ = w;
    CheckWaveInput {
        run: run_ctx(Mode::Drill, None),
        state: WaveState {
            wave: wave_spec.name.clone(),
            index: wave_spec.index,
            status: WaveStatus::Launching,
            job_ids: vec![],
            started_at: "2030-01-01T00:00:00Z".into(),
            ended_at: String::new(),
            checks: 0,
            next_wait_seconds: 60,
            servers: Default::default(),
            reason: String::new(),
            health: None,
            recovered: None,
        },
        wave: wave_spec,
        heartbeat_seconds: 60,
    }
}

async fn launched(w: &World, wave_spec: &WaveSpec) -> WaveState {
    w.handlers()
        .start_wave(start_input(Mode::Drill, None, wave_spec.clone()))
        .await
        .expect("start")
}

async fn launch_and_complete(w: &World, spec: &WaveSpec, instances: &[(&str, &str)]) -> WaveState {
    let started = launched(w, spec).await;
    for (server, instance) in instances {
        w.drs
            .set_launch_status(server, LaunchStatus::Launched, Some(instance));
    }
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    let mut input = check_input(w, spec.clone());
    input.state = started;
    w.handlers().check_wave(input).await.expect("check")
}

/// A RECOVERY input for the test plan, with a point in time when given.
fn recovery_input(point_in_time: Option<&str>) -> serde_json::Value {
    match point_in_time {
        Some(t) => json!({"mode": "RECOVERY", "confirm": PLAN, "pointInTime": t}),
        None => json!({"mode": "RECOVERY", "confirm": PLAN}),
    }
}

fn world_with_site_down(states: &[&str]) -> World {
    let w = World::new();
    for (i, state) in states.iter().enumerate() {
        w.drs
            .add_server_in_state(&server_id(i + 1), &[("App", PLAN)], state);
    }
    w
}

/// A drill wave of `n` servers, launched and completed with one instance each.
async fn launched_drill_of(w: &World, h: &TestHandlers, n: usize) -> WaveState {
    let started = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    for i in 1..=n {
        w.drs.set_launch_status(
            &server_id(i),
            LaunchStatus::Launched,
            Some(&format!("i-{i:017x}")),
        );
    }
    for job in &started.job_ids {
        w.drs.set_job_status(job, JobStatus::Completed);
    }
    started
}

fn handlers_with_limits(w: &World, per_job: usize, active: usize) -> TestHandlers {
    Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: per_job,
            max_active_servers: active,
            max_concurrent_jobs: 20,
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)))
    .with_cleanup_wait(Duration::from_millis(50))
    .with_preempt_wait(Duration::from_millis(50), Duration::from_millis(5))
}

fn finish_input(state: WaveState) -> FinishInput {
    FinishInput {
        run: run_ctx(Mode::Drill, None),
        waves: BTreeMap::from([("w1".to_string(), state)]),
        heartbeat_seconds: 60,
    }
}

fn gate_input(
    kind: drs_waves_contract::GateKind,
    spec: WaveSpec,
) -> drs_waves_contract::AwaitOperatorInput {
    drs_waves_contract::AwaitOperatorInput {
        run: run_ctx(Mode::Drill, None),
        gate: kind,
        wave: spec,
        timeout_seconds: 3600,
        state: None,
        heartbeat_seconds: 60,
        opened_at: None,
        reopened: 0,
        gate_heartbeat_seconds: None,
        action: None,
    }
}

/// The ARN of one of the test deployment's activities.
fn arn(a: Activity) -> String {
    format!(
        "arn:aws:states:us-east-1:123456789012:activity:drs-waves-{}",
        a.name()
    )
}
