//! Unit tests of the tasks and the runtime through the fakes: the rules of DESIGN.md ("Rules
//! the worker must keep"), each with a test that fails if the rule is broken.

use drs_waves_aws::AwsError;
use drs_waves_history::HistoryError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drs_waves_contract::{
    Activity, AwaitOperatorInput, CheckWaveInput, CleanupStatus, ErrorName, ExecutionRef,
    ExecutionStatus, FinishInput, GateKind, Mode, OnFailure, Outcome, PlanSpec, PollingBounds,
    PreflightInput, RecordFailureInput, RunContext, StartWaveInput, WaveSpec, WaveState,
    WaveStatus, job_tags,
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

mod closed_record;
mod gate_reopening;
mod launch_actions;
mod lost_answer_conflict;
mod on_demand_launch;
mod per_job_quota;
mod queued_chunk_job;
mod recovery_instances;
mod retry_launch_points;
mod retry_outlook;
mod rpo_target;
mod snapshot_paging;
mod throttled_writes;

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:billing:run-1";
const PLAN: &str = "billing";

fn server_id(i: usize) -> String {
    format!("s-{i:017}")
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

fn wave(index: u32, name: &str, ids: &[String], tags: &[(&str, &str)]) -> WaveSpec {
    WaveSpec {
        index,
        name: name.to_string(),
        server_ids: ids.to_vec(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        optional: vec![],
        launch_timeout_seconds: 3600,
        on_failure: OnFailure::Stop,
        polling: PollingBounds {
            min_wait_seconds: 15,
            max_wait_seconds: 300,
            expected_launch_seconds: 1200,
        },
        approval: None,
        max_attempts: 1,
        decision_timeout_seconds: None,
        decision_notify: None,
    }
}

fn execution() -> ExecutionRef {
    ExecutionRef {
        id: EXEC.to_string(),
        name: "run-1".to_string(),
        start_time: "2030-01-01T00:00:00.000Z".to_string(),
    }
}

fn plan(waves: Vec<WaveSpec>) -> PlanSpec {
    PlanSpec {
        name: PLAN.to_string(),
        terminate_drill_instances: true,
        waves,
    }
}

fn preflight_input(input: serde_json::Value, waves: Vec<WaveSpec>) -> PreflightInput {
    PreflightInput {
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

// ---------------------------------------------------------------- preflight

#[tokio::test]
async fn recovery_without_confirmation_fails_before_anything_else() {
    let w = World::with_servers(2);
    // If preflight looked at DRS first, this error would come out instead.
    w.drs.fail_next(
        "describe_source_servers",
        AwsError::Failed("DRS was called".into()),
    );
    for input in [
        json!({"mode": "RECOVERY"}),
        json!({"mode": "RECOVERY", "confirm": "storefront"}),
    ] {
        let err = w
            .handlers()
            .preflight(preflight_input(input, vec![all_tagged_wave()]))
            .await
            .expect_err("refused");
        assert_eq!(err.name(), ErrorName::RecoveryNotConfirmed, "{err}");
        assert!(
            err.to_string().contains("\"confirm\": \"billing\""),
            "says what to type: {err}"
        );
    }
    assert!(w.history.lock_holder(PLAN).is_none());
    assert!(w.history.execution(EXEC).is_none());
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn malformed_execution_input_is_invalid_input_naming_the_problem() {
    let w = World::with_servers(1);
    for (input, needle) in [
        (json!({"mode": "drill"}), "drill"),
        (
            json!({"mode": "DRILL", "confirmation": "x"}),
            "confirmation",
        ),
        (json!("DRILL"), "expected"),
    ] {
        let err = w
            .handlers()
            .preflight(preflight_input(input, vec![all_tagged_wave()]))
            .await
            .expect_err("bad input");
        assert_eq!(err.name(), ErrorName::InvalidInput, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[tokio::test]
async fn preflight_names_every_problem_at_once_and_writes_nothing() {
    let w = World::new();
    w.drs.add_server(&server_id(1), &[("App", PLAN)]);
    w.drs.add_server_in_state(&server_id(2), &[], "STALLED");
    w.drs.add_server(&server_id(3), &[]);
    w.drs.add_job(Job {
        id: "drsjob-active".into(),
        status: JobStatus::Started,
        job_type: Some("LAUNCH".into()),
        tags: BTreeMap::new(),
        created_at: None,
        ended_at: None,
        servers: vec![JobServer {
            source_server_id: server_id(3),
            recovery_instance_id: None,
            launch_status: LaunchStatus::InProgress,
            launch_actions: Vec::new(),
        }],
    });
    let waves = vec![
        wave(
            1,
            "db",
            &[
                server_id(1),
                server_id(2),
                server_id(3),
                "s-99999999999999999".into(),
            ],
            &[],
        ),
        wave(2, "app", &[server_id(1)], &[]),
        wave(3, "web", &[], &[("App", "nothing-has-this")]),
    ];
    let err = w
        .handlers()
        .preflight(preflight_input(json!({"mode": "DRILL"}), waves))
        .await
        .expect_err("problems");
    assert_eq!(err.name(), ErrorName::PreflightFailed);
    let cause = err.to_string();
    for needle in [
        "s-99999999999999999 is not known",
        "is not ready for a drill: replication STALLED",
        "already in DRS job drsjob-active",
        "wave 'web' selects no source server",
        "selected by wave 'db' and by wave 'app'",
    ] {
        assert!(cause.contains(needle), "missing {needle:?} in {cause}");
    }
    assert!(w.history.lock_holder(PLAN).is_none(), "no lock on failure");
    assert!(w.history.execution(EXEC).is_none(), "no record on failure");
}

#[tokio::test]
async fn preflight_checks_the_quotas_it_is_configured_with() {
    let w = World::with_servers(250);
    let limits = Limits {
        max_servers_per_job: 10,
        max_active_servers: 200,
        max_concurrent_jobs: 20,
    };
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        limits,
    );
    let err = h
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("quota");
    let cause = err.to_string();
    assert!(cause.contains("250 servers, more than the 200"), "{cause}");
    assert!(cause.contains("needs 25 DRS jobs"), "{cause}");
}

#[tokio::test]
async fn preflight_takes_the_lock_creates_the_record_and_is_idempotent() {
    let w = World::with_servers(3);
    let input = preflight_input(json!({"mode": "DRILL"}), vec![all_tagged_wave()]);
    let run = w
        .handlers()
        .preflight(input.clone())
        .await
        .expect("preflight");
    assert_eq!(run.mode, Mode::Drill);
    assert_eq!(run.server_count, 3);
    assert_eq!(w.history.lock_holder(PLAN).as_deref(), Some(EXEC));
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Running);
    assert_eq!(record.plan_name, PLAN);
    let again = w
        .handlers()
        .preflight(input)
        .await
        .expect("a retried preflight passes");
    assert_eq!(again, run);
}

#[tokio::test]
async fn a_second_execution_of_a_running_plan_is_refused() {
    let w = World::with_servers(1);
    let other = "arn:aws:states:us-east-1:123456789012:execution:billing:run-0";
    w.history.set_lock_holder(PLAN, other);
    w.executions.set(other, "RUNNING");
    let err = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("refused");
    assert_eq!(err.name(), ErrorName::PlanAlreadyRunning);
    assert!(err.to_string().contains(other), "names the holder: {err}");
    assert_eq!(w.history.lock_holder(PLAN).as_deref(), Some(other));
}

#[tokio::test]
async fn a_running_plan_is_named_as_such_even_though_its_servers_are_busy() {
    // While the first execution runs, its servers are in active DRS jobs: the refusal must say
    // the plan is running (what the operator acts on), not list the busy servers.
    let w = World::with_servers(1);
    let other = "arn:aws:states:us-east-1:123456789012:execution:billing:run-0";
    w.history.set_lock_holder(PLAN, other);
    w.executions.set(other, "RUNNING");
    w.drs.add_job(Job {
        id: "drsjob-of-the-running-execution".into(),
        status: JobStatus::Started,
        job_type: Some("LAUNCH".into()),
        tags: BTreeMap::new(),
        created_at: None,
        ended_at: None,
        servers: vec![JobServer {
            source_server_id: server_id(1),
            recovery_instance_id: None,
            launch_status: LaunchStatus::InProgress,
            launch_actions: Vec::new(),
        }],
    });
    let err = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("refused");
    assert_eq!(err.name(), ErrorName::PlanAlreadyRunning, "{err}");
}

#[tokio::test]
async fn a_lock_left_by_an_execution_that_ended_is_taken_over() {
    for status in [Some("ABORTED"), Some("FAILED"), Some("TIMED_OUT"), None] {
        let w = World::with_servers(1);
        let other = "arn:aws:states:us-east-1:123456789012:execution:billing:run-0";
        w.history.set_lock_holder(PLAN, other);
        if let Some(s) = status {
            w.executions.set(other, s);
        }
        w.handlers()
            .preflight(preflight_input(
                json!({"mode": "DRILL"}),
                vec![all_tagged_wave()],
            ))
            .await
            .expect("stale lock taken over");
        assert_eq!(
            w.history.lock_holder(PLAN).as_deref(),
            Some(EXEC),
            "{status:?}"
        );
    }
}

// ---------------------------------------------------------------- start-wave

#[tokio::test]
async fn a_drill_launches_drill_jobs_split_by_the_per_job_limit_and_tagged() {
    let w = World::with_servers(250);
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    let calls = w.drs.start_calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| c.source_server_ids.len())
            .collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
    assert!(
        calls.iter().all(|c| c.is_drill),
        "a drill never launches a recovery"
    );
    let launched: BTreeSet<String> = calls
        .iter()
        .flat_map(|c| c.source_server_ids.clone())
        .collect();
    assert_eq!(launched.len(), 250);
    for (i, c) in calls.iter().enumerate() {
        assert_eq!(
            c.tags.get(job_tags::EXECUTION).map(String::as_str),
            Some(EXEC)
        );
        assert_eq!(c.tags.get(job_tags::WAVE).map(String::as_str), Some("db"));
        assert_eq!(c.tags.get(job_tags::CHUNK), Some(&(i + 1).to_string()));
    }
    assert_eq!(state.status, WaveStatus::Launching);
    assert_eq!(state.job_ids.len(), 3);
    assert_eq!(state.servers.total, 250);
    assert!(state.next_wait_seconds >= 15 && state.next_wait_seconds <= 300);
    let record = w.history.wave(EXEC, 1).expect("recorded");
    assert_eq!(record.status, WaveStatus::Launching);
    assert_eq!(record.job_ids, state.job_ids);
}

#[tokio::test]
async fn a_recovery_without_confirmation_never_launches() {
    let w = World::with_servers(2);
    for confirm in [None, Some("storefront")] {
        let err = w
            .handlers()
            .start_wave(start_input(Mode::Recovery, confirm, all_tagged_wave()))
            .await
            .expect_err("no");
        assert_eq!(err.name(), ErrorName::RecoveryNotConfirmed);
    }
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn a_confirmed_recovery_launches_recovery_jobs() {
    let w = World::with_servers(2);
    w.handlers()
        .start_wave(start_input(Mode::Recovery, Some(PLAN), all_tagged_wave()))
        .await
        .expect("start");
    let calls = w.drs.start_calls();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].is_drill);
}

#[tokio::test]
async fn a_retried_start_returns_the_recorded_jobs_without_launching() {
    let w = World::with_servers(3);
    let first = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("first");
    let second = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    assert_eq!(second.job_ids, first.job_ids);
    assert_eq!(w.drs.start_calls().len(), 1, "StartRecovery once");
}

#[tokio::test]
async fn a_retried_start_whose_history_write_was_lost_finds_the_jobs_by_tag() {
    let w = World::with_servers(3);
    let faulty = w.handlers_with(Faults::armed(
        FaultPoint::ExitAfterStartRecovery,
        FaultAction::Fail,
    ));
    let err = faulty
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("fault");
    assert!(err.retryable());
    assert!(
        w.history
            .wave(EXEC, 1)
            .is_some_and(|wave| wave.chunks.iter().all(|c| c.job_id.is_none())),
        "the chunk was planned, its job never recorded"
    );
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    assert_eq!(w.drs.start_calls().len(), 1, "StartRecovery once");
    assert_eq!(state.job_ids, vec![w.drs.jobs()[0].id.clone()]);
    assert_eq!(
        w.history.wave(EXEC, 1).expect("recorded").job_ids,
        state.job_ids
    );
}

#[tokio::test]
async fn a_retry_of_a_split_wave_launches_only_the_chunks_not_yet_launched() {
    let w = World::with_servers(250);
    let faulty = w.handlers_with(Faults::armed(
        FaultPoint::ExitAfterStartRecovery,
        FaultAction::Fail,
    ));
    faulty
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("dies after chunk 1");
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    let calls = w.drs.start_calls();
    assert_eq!(calls.len(), 3);
    let mut seen = BTreeSet::new();
    for c in &calls {
        for id in &c.source_server_ids {
            assert!(seen.insert(id.clone()), "{id} launched twice");
        }
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(state.job_ids.len(), 3);
    let chunks: Vec<String> = calls
        .iter()
        .map(|c| c.tags[job_tags::CHUNK].clone())
        .collect();
    assert_eq!(chunks, vec!["1", "2", "3"]);
}

#[tokio::test]
async fn jobs_of_another_execution_or_wave_are_not_taken_for_ours() {
    let w = World::with_servers(2);
    let mut other_run = start_input(Mode::Drill, None, all_tagged_wave());
    other_run.run.execution_id =
        "arn:aws:states:us-east-1:123456789012:execution:billing:run-0".into();
    let other = w
        .handlers()
        .start_wave(other_run)
        .await
        .expect("other execution");
    // Its job ended: DRS would refuse servers still in an active job.
    w.drs
        .set_job_status(&other.job_ids[0], JobStatus::Completed);
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("ours");
    assert_eq!(w.drs.start_calls().len(), 2);
    assert_eq!(state.job_ids, vec![w.drs.jobs()[1].id.clone()]);
}

#[tokio::test]
async fn a_start_recovery_answer_without_a_job_id_is_resolved_by_the_jobs_tags() {
    let w = World::with_servers(1);
    w.drs.blank_job_ids();
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("the job DRS made is found by its tags");
    assert_eq!(w.drs.start_calls().len(), 1, "not launched twice");
    assert_eq!(state.job_ids, vec![w.drs.jobs()[0].id.clone()]);
    assert_eq!(
        w.history.wave(EXEC, 1).expect("recorded").job_ids,
        state.job_ids
    );
}

#[tokio::test]
async fn a_lost_start_recovery_answer_is_resolved_by_the_jobs_tags_in_the_same_attempt() {
    let w = World::with_servers(2);
    w.drs
        .lose_next_start_answer(AwsError::transient("DRS StartRecovery", "HTTP 500"));
    let state = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("tracked");
    assert_eq!(w.drs.start_calls().len(), 1);
    assert_eq!(state.job_ids, vec![w.drs.jobs()[0].id.clone()]);
}

#[tokio::test]
async fn a_quota_answer_is_retried_with_backoff_then_fails_naming_the_quota() {
    let w = World::with_servers(1);
    let quota = || AwsError::QuotaExceeded {
        call: "DRS StartRecovery".into(),
        detail: "ServiceQuotaExceededException: quotaCode ConcurrentJobs".into(),
    };
    w.drs.fail_next("start_recovery", quota());
    w.drs.fail_next("start_recovery", quota());
    let state = w
        .handlers()
        .with_quota_wait(Duration::from_secs(5), Duration::from_millis(1))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("launched once the quota cleared");
    assert_eq!(state.job_ids.len(), 1);

    let w = World::with_servers(1);
    for _ in 0..100 {
        w.drs.fail_next("start_recovery", quota());
    }
    let err = w
        .handlers()
        .with_quota_wait(Duration::from_millis(20), Duration::from_millis(5))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("the quota never cleared");
    assert_eq!(err.name(), ErrorName::QuotaExceeded);
    assert!(err.to_string().contains("ConcurrentJobs"), "{err}");
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn a_later_chunks_failure_names_the_jobs_already_recorded() {
    let w = World::with_servers(3);
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: 2,
            ..Limits::default()
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)))
    .with_quota_wait(Duration::ZERO, Duration::from_millis(1));
    w.drs.fail_next(
        "start_recovery",
        AwsError::Failed("DRS StartRecovery failed: ValidationException".into()),
    );
    // The first call fails: nothing recorded, nothing named.
    let err = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("chunk 1");
    assert!(
        err.to_string().contains("no job of wave 'db' was started"),
        "{err}"
    );
    // Chunk 1 goes through, chunk 2 hits a quota that does not clear.
    w.drs.succeed_then_fail_next(
        "start_recovery",
        AwsError::QuotaExceeded {
            call: "DRS StartRecovery".into(),
            detail: "quotaCode SourceServersInActiveJobs".into(),
        },
    );
    let err = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("chunk 2");
    let first = w.drs.jobs()[0].id.clone();
    assert!(
        err.to_string().contains(&first),
        "the error names chunk 1's job: {err}"
    );
    let recorded = w.history.wave(EXEC, 1).expect("wave");
    assert_eq!(
        recorded.chunks[0].job_id.as_ref(),
        Some(&first),
        "in the history"
    );
    assert_eq!(recorded.chunks[1].job_id, None);
    // A retry launches only chunk 2.
    let state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("retry");
    assert_eq!(state.job_ids.len(), 2);
    assert_eq!(state.job_ids[0], first);
    let calls = w.drs.start_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].source_server_ids, vec![server_id(3)]);
}

/// A throttle the task outlasts is waited out (tests/throttled_writes.rs); one that lasts past
/// the task's wait fails it by its own name, and the machine's retry launches.
#[tokio::test(start_paused = true)]
async fn drs_errors_at_launch_keep_their_names() {
    let w = World::with_servers(1);
    for _ in 0..20 {
        w.drs.fail_next(
            "start_recovery",
            AwsError::Throttled {
                call: "DRS StartRecovery".into(),
                detail: "slow down".into(),
            },
        );
    }
    let err = w
        .handlers()
        .with_quota_wait(Duration::from_secs(20), Duration::from_secs(5))
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("throttled past the wait");
    assert_eq!(err.name(), ErrorName::Throttled, "{err}");
    assert!(err.to_string().contains("gave up"), "{err}");
    for _ in 0..10 {
        if !w.drs.start_calls().is_empty() {
            break;
        }
        let result = w
            .handlers()
            .with_quota_wait(Duration::from_secs(20), Duration::from_secs(5))
            .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
            .await;
        if let Err(e) = result {
            assert_eq!(e.name(), ErrorName::Throttled, "{e}");
        }
    }
    assert_eq!(
        w.drs.start_calls().len(),
        1,
        "launched once, when DRS accepted"
    );
    assert_eq!(w.drs.jobs().len(), 1);
}

// ---------------------------------------------------------------- runtime + tasks

fn fast_runtime(pollers: usize, max_tasks: usize) -> RuntimeConfig {
    RuntimeConfig {
        pollers_per_activity: pollers,
        max_tasks_in_flight: max_tasks,
        shutdown_grace: Duration::from_secs(100),
        worker_name: "test".into(),
        default_heartbeat_seconds: 60,
        poll_error_backoff: Duration::from_millis(100),
        ..RuntimeConfig::default()
    }
}

fn arn(a: Activity) -> String {
    format!(
        "arn:aws:states:us-east-1:123456789012:activity:drs-waves-{}",
        a.name()
    )
}

#[tokio::test(start_paused = true)]
async fn job_ids_are_in_the_history_before_success_is_sent() {
    let w = World::with_servers(3);
    let sfn = FakeActivityService::new();
    let seen_at_answer: Arc<Mutex<Option<Option<WaveRecord>>>> = Arc::default();
    {
        let history = w.history.clone();
        let seen = seen_at_answer.clone();
        sfn.on_answer(move |_| {
            *seen.lock().expect("lock") = Some(history.wave(EXEC, 1));
        });
    }
    let input =
        serde_json::to_string(&start_input(Mode::Drill, None, all_tagged_wave())).expect("json");
    sfn.push_task(&arn(Activity::StartWave), "token-1", input);
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(w.handlers()),
        vec![(Activity::StartWave, arn(Activity::StartWave))],
        fast_runtime(1, 4),
        shutdown.clone(),
    ));
    let answers = sfn.wait_for_answers(1).await;
    let Answer::Success { output, .. } = &answers[0] else {
        panic!("expected success: {answers:?}")
    };
    let state: WaveState = serde_json::from_str(output).expect("WaveState");
    let recorded = seen_at_answer
        .lock()
        .expect("lock")
        .clone()
        .flatten()
        .expect("recorded when answered");
    assert_eq!(recorded.job_ids, state.job_ids);
    assert_eq!(recorded.status, WaveStatus::Launching);
    shutdown.cancel();
    worker.await.expect("worker");
}

#[tokio::test(start_paused = true)]
async fn a_failed_history_write_is_never_answered_with_success() {
    let w = World::with_servers(1);
    w.history.fail_next(
        "record_chunk_job",
        HistoryError::conflict("DynamoDB UpdateItem", "HTTP 500"),
    );
    let sfn = FakeActivityService::new();
    let input =
        serde_json::to_string(&start_input(Mode::Drill, None, all_tagged_wave())).expect("json");
    sfn.push_task(&arn(Activity::StartWave), "token-1", input);
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(w.handlers()),
        vec![(Activity::StartWave, arn(Activity::StartWave))],
        fast_runtime(1, 4),
        shutdown.clone(),
    ));
    let answers = sfn.wait_for_answers(1).await;
    match &answers[0] {
        Answer::Failure { error, cause, .. } => {
            assert_eq!(error, "DrsWaves.Transient");
            assert!(cause.contains("DynamoDB"), "{cause}");
        }
        other => panic!("expected a failure: {other:?}"),
    }
    shutdown.cancel();
    worker.await.expect("worker");
}

#[tokio::test(start_paused = true)]
async fn malformed_task_input_fails_the_task_as_invalid_input() {
    let w = World::new();
    let sfn = FakeActivityService::new();
    sfn.push_task(&arn(Activity::CheckWave), "token-1", r#"{"run": 3}"#);
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(w.handlers()),
        vec![(Activity::CheckWave, arn(Activity::CheckWave))],
        fast_runtime(1, 4),
        shutdown.clone(),
    ));
    let answers = sfn.wait_for_answers(1).await;
    assert!(
        matches!(&answers[0], Answer::Failure { error, cause, .. } if error == "DrsWaves.InvalidInput" && cause.contains("check-wave")),
        "{answers:?}"
    );
    shutdown.cancel();
    worker.await.expect("worker");
}

// ---------------------------------------------------------------- check-wave

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
            },
            vec![],
        )
        .await
        .expect("past check");
}

#[tokio::test]
async fn learned_timing_places_the_checks_and_the_completion_is_recorded() {
    let w = World::with_servers(2);
    w.record_preflight().await;
    let spec = all_tagged_wave();
    let ids = [server_id(1), server_id(2)];
    // Two samples: not enough, the plan's expected launch time rules the first wait.
    past_wave(
        &w,
        "old-1",
        1,
        "db",
        &ids,
        WaveStatus::Succeeded,
        Some(250_000),
    )
    .await;
    past_wave(
        &w,
        "old-2",
        2,
        "db",
        &ids,
        WaveStatus::Succeeded,
        Some(200_000),
    )
    .await;
    // Not samples: another set of servers, a failed wave, another wave name.
    past_wave(
        &w,
        "old-3",
        3,
        "db",
        &ids[..1],
        WaveStatus::Succeeded,
        Some(5_000),
    )
    .await;
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
    past_wave(
        &w,
        "old-1",
        1,
        "db",
        &ids,
        WaveStatus::Succeeded,
        Some(250_000),
    )
    .await;
    past_wave(
        &w,
        "old-2",
        2,
        "db",
        &ids,
        WaveStatus::Succeeded,
        Some(200_000),
    )
    .await;
    past_wave(
        &w,
        "old-6",
        6,
        "db",
        &ids,
        WaveStatus::Succeeded,
        Some(220_000),
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

// ---------------------------------------------------------------- finish / record-failure

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

#[tokio::test]
async fn finish_cleans_up_only_this_drills_instances_once_and_releases_the_lock() {
    let w = World::with_servers(2);
    // Another execution's launch: its instance must survive.
    let mut other = start_input(Mode::Drill, None, wave(1, "db", &[server_id(2)], &[]));
    other.run.execution_id = "arn:aws:states:us-east-1:123456789012:execution:billing:other".into();
    w.handlers().start_wave(other).await.expect("other");
    w.drs
        .set_launch_status(&server_id(2), LaunchStatus::Launched, Some("i-other"));

    let spec = wave(1, "db", &[server_id(1)], &[]);
    let mut done = launch_and_complete(&w, &spec, &[(&server_id(1), "i-ours")]).await;
    // Launched ten minutes before the check that ended it.
    done.started_at = "2030-01-01T00:00:00Z".into();
    w.history.set_lock_holder(PLAN, EXEC);
    w.record_preflight().await;
    let input = FinishInput {
        run: run_ctx(Mode::Drill, None),
        waves: BTreeMap::from([("w1".to_string(), done)]),
        heartbeat_seconds: 60,
    };
    let out = w.handlers().finish(input.clone()).await.expect("finish");
    assert_eq!(out.outcome, Outcome::Succeeded);
    assert_eq!(out.waves.len(), 1);
    assert_eq!(out.waves[0].duration_seconds, 600);
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-ours".to_string()]]);
    assert_eq!(out.terminate_job_ids.len(), 1);
    assert!(w.history.lock_holder(PLAN).is_none(), "lock released");
    assert_eq!(
        w.history.execution(EXEC).expect("record").status,
        ExecutionStatus::Succeeded
    );

    let again = w.handlers().finish(input).await.expect("retried finish");
    assert_eq!(again.terminate_job_ids, out.terminate_job_ids);
    assert_eq!(w.drs.terminate_calls().len(), 1, "terminated once");
}

#[tokio::test]
async fn finish_of_a_recovery_terminates_nothing() {
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let started = w
        .handlers()
        .start_wave(start_input(Mode::Recovery, Some(PLAN), spec.clone()))
        .await
        .expect("start");
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-prod"));
    let mut done = started;
    done.status = WaveStatus::Succeeded;
    let out = w
        .handlers()
        .finish(FinishInput {
            run: run_ctx(Mode::Recovery, Some(PLAN)),
            waves: BTreeMap::from([("w1".to_string(), done)]),
            heartbeat_seconds: 60,
        })
        .await
        .expect("finish");
    assert!(out.terminate_job_ids.is_empty());
    assert!(w.drs.terminate_calls().is_empty());
}

#[tokio::test]
async fn finish_with_a_continued_failed_wave_is_succeeded_with_failures() {
    let w = World::with_servers(1);
    let mut failed = launched(&w, &all_tagged_wave()).await;
    failed.status = WaveStatus::Failed;
    let mut run = run_ctx(Mode::Drill, None);
    run.terminate_drill_instances = false;
    let out = w
        .handlers()
        .finish(FinishInput {
            run,
            waves: BTreeMap::from([("w1".to_string(), failed)]),
            heartbeat_seconds: 60,
        })
        .await
        .expect("finish");
    assert_eq!(out.outcome, Outcome::SucceededWithFailures);
    assert_eq!(
        w.history.execution(EXEC).expect("record").status,
        ExecutionStatus::SucceededWithFailures
    );
}

#[tokio::test]
async fn record_failure_works_when_preflight_never_ran() {
    let w = World::new();
    let other = "arn:aws:states:us-east-1:123456789012:execution:billing:holder";
    w.history.set_lock_holder(PLAN, other);
    let input = RecordFailureInput {
        execution: execution(),
        plan_name: PLAN.into(),
        state: json!({"mode": "RECOVERY", "error": {"Error": "DrsWaves.RecoveryNotConfirmed", "Cause": "name the plan"}}),
        heartbeat_seconds: 60,
    };
    let out = w
        .handlers()
        .record_failure(input)
        .await
        .expect("record failure");
    assert_eq!(out.error, "DrsWaves.RecoveryNotConfirmed");
    assert_eq!(out.cause, "name the plan");
    let record = w.history.execution(EXEC).expect("record created");
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert_eq!(
        record.error.as_deref(),
        Some("DrsWaves.RecoveryNotConfirmed")
    );
    assert_eq!(record.started_at, "2030-01-01T00:00:00.000Z");
    assert_eq!(
        w.history.lock_holder(PLAN).as_deref(),
        Some(other),
        "someone else's lock stays"
    );
    assert!(w.drs.terminate_calls().is_empty());
}

#[tokio::test]
async fn record_failure_of_a_failed_drill_wave_records_cleans_up_and_releases() {
    let w = World::with_servers(1);
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let mut state = launch_and_complete(&w, &spec, &[(&server_id(1), "i-ours")]).await;
    state.status = WaveStatus::Failed;
    state.reason = "wave 'db': required server(s) failed to launch: s-2".into();
    w.history.set_lock_holder(PLAN, EXEC);
    let input = RecordFailureInput {
        execution: execution(),
        plan_name: PLAN.into(),
        state: json!({"mode": "DRILL", "run": run_ctx(Mode::Drill, None), "waves": {"w1": state}}),
        heartbeat_seconds: 60,
    };
    let out = w
        .handlers()
        .record_failure(input)
        .await
        .expect("record failure");
    assert_eq!(out.error, "DrsWaves.WaveFailed");
    assert!(out.cause.contains("failed to launch"));
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-ours".to_string()]]);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert_eq!(
        record.wave_statuses.get("db").copied(),
        Some(WaveStatus::Failed)
    );
    assert!(w.history.lock_holder(PLAN).is_none());
}

// ---------------------------------------------------------------- runtime

/// A handler that holds each task until released, and notes when its work was dropped.
#[derive(Default)]
struct Gate {
    started: Mutex<usize>,
    started_tx: Mutex<Option<watch::Sender<usize>>>,
    release: Notify,
    dropped: AtomicUsize,
    dropped_signal: Notify,
}

struct DropMark<'a>(&'a Gate, bool);

impl Drop for DropMark<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.dropped.fetch_add(1, Ordering::SeqCst);
            self.0.dropped_signal.notify_waiters();
        }
    }
}

impl Gate {
    fn new() -> (Arc<Gate>, watch::Receiver<usize>) {
        let (tx, rx) = watch::channel(0);
        let gate = Gate {
            started_tx: Mutex::new(Some(tx)),
            ..Default::default()
        };
        (Arc::new(gate), rx)
    }
}

struct GateHandler(Arc<Gate>);

impl TaskHandler for GateHandler {
    async fn handle(
        &self,
        _activity: Activity,
        _input: String,
        _token: &crate::token::TaskToken,
    ) -> Result<crate::runtime::TaskAnswer, TaskError> {
        let gate = &self.0;
        let mut mark = DropMark(gate, false);
        {
            let mut n = gate.started.lock().expect("lock");
            *n += 1;
            if let Some(tx) = gate.started_tx.lock().expect("lock").as_ref() {
                let _ = tx.send(*n);
            }
        }
        gate.release.notified().await;
        mark.1 = true;
        Ok(crate::runtime::TaskAnswer::Output(
            "{\"done\":true}".to_string(),
        ))
    }
}

fn spawn_gate_worker(
    sfn: &FakeActivityService,
    gate: &Arc<Gate>,
    config: RuntimeConfig,
) -> (CancellationToken, tokio::task::JoinHandle<RunReport>) {
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(run(
        Arc::new(sfn.clone()),
        Arc::new(GateHandler(gate.clone())),
        vec![(Activity::CheckWave, arn(Activity::CheckWave))],
        config,
        shutdown.clone(),
    ));
    (shutdown, handle)
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_answered_task_timed_out_cancels_the_work_and_sends_nothing() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(
        &arn(Activity::CheckWave),
        "tok-lost",
        r#"{"heartbeatSeconds": 3}"#,
    );
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(1, 4));
    started.wait_for(|n| *n == 1).await.expect("started");
    sfn.expire_task("tok-lost");
    let dropped = gate.dropped_signal.notified();
    tokio::pin!(dropped);
    dropped.as_mut().enable();
    if gate.dropped.load(Ordering::SeqCst) == 0 {
        dropped.await;
    }
    assert_eq!(gate.dropped.load(Ordering::SeqCst), 1, "work dropped");
    assert!(sfn.heartbeats("tok-lost") >= 1);
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert!(
        sfn.answers().is_empty(),
        "no answer for a task that is gone: {:?}",
        sfn.answers()
    );
    assert_eq!(report.tasks_cancelled, 1);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_come_at_about_a_third_of_the_heartbeat_timeout() {
    assert_eq!(heartbeat_interval(30), Duration::from_secs(10));
    assert_eq!(
        heartbeat_interval(1),
        Duration::from_secs(1),
        "at least a second apart"
    );
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(
        &arn(Activity::CheckWave),
        "tok-hb",
        r#"{"heartbeatSeconds": 30}"#,
    );
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(1, 4));
    started.wait_for(|n| *n == 1).await.expect("started");
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(sfn.heartbeats("tok-hb"), 3);
    gate.release.notify_one();
    sfn.wait_for_answers(1).await;
    shutdown.cancel();
    worker.await.expect("worker");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_polling_and_finishes_the_task_in_hand() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(&arn(Activity::CheckWave), "tok-held", "{}");
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(2, 4));
    started.wait_for(|n| *n == 1).await.expect("started");
    shutdown.cancel();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let polls_at_shutdown = sfn.polls_started();
    // Polls in flight come back by themselves (60 s); the held task keeps the worker alive.
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert!(
        !worker.is_finished(),
        "the worker waits for the task in hand"
    );
    assert_eq!(
        sfn.polls_started(),
        polls_at_shutdown,
        "no poll started after the signal"
    );
    assert_eq!(sfn.polls_in_flight(), 0);
    gate.release.notify_one();
    let report = worker.await.expect("worker");
    assert!(report.drained);
    assert_eq!(report.tasks_succeeded, 1);
    assert!(matches!(&sfn.answers()[..], [Answer::Success { token, .. }] if token == "tok-held"));
}

#[tokio::test(start_paused = true)]
async fn a_task_still_held_when_the_grace_period_ends_is_failed_as_transient() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(&arn(Activity::CheckWave), "tok-slow", "{}");
    let mut config = fast_runtime(1, 4);
    config.shutdown_grace = Duration::from_secs(5);
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, config);
    started.wait_for(|n| *n == 1).await.expect("started");
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert!(!report.drained);
    let answers = sfn.answers();
    assert!(
        matches!(&answers[..], [Answer::Failure { error, .. }] if error == "DrsWaves.Transient"),
        "{answers:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_poll_in_flight_at_shutdown_is_not_cancelled_and_its_task_is_run() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(1, 4));
    sfn.wait_until(|s| s.polls_in_flight() == 1).await;
    shutdown.cancel();
    tokio::time::sleep(Duration::from_secs(1)).await;
    sfn.push_task(&arn(Activity::CheckWave), "tok-late", "{}");
    started
        .wait_for(|n| *n == 1)
        .await
        .expect("the task delivered to the poll in flight runs");
    gate.release.notify_one();
    let report = worker.await.expect("worker");
    assert!(report.drained);
    assert!(matches!(&sfn.answers()[..], [Answer::Success { token, .. }] if token == "tok-late"));
}

#[tokio::test(start_paused = true)]
async fn open_polls_hold_no_permit_and_a_task_without_room_waits_heartbeated_with_no_new_poll() {
    let sfn = FakeActivityService::new();
    let (gate, mut started) = Gate::new();
    sfn.push_task(&arn(Activity::CheckWave), "tok-1", "{}");
    let (shutdown, worker) = spawn_gate_worker(&sfn, &gate, fast_runtime(3, 1));
    started.wait_for(|n| *n == 1).await.expect("started");
    // The one permit is taken, yet every poller keeps a poll open (AWS: many open polls per
    // activity, so one dropped token does not block the activity).
    sfn.wait_until(|s| s.polls_in_flight() == 3).await;

    // A second task arrives with no room: it waits for the permit, heartbeated, and no poller
    // starts a new poll meanwhile.
    sfn.push_task(&arn(Activity::CheckWave), "tok-2", "{}");
    sfn.wait_until(|s| s.polls_in_flight() == 2).await;
    let polls = sfn.polls_started();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(*started.borrow(), 1, "the second task waits for room");
    assert!(
        sfn.heartbeats("tok-2") >= 3,
        "a waiting task is heartbeated"
    );
    assert_eq!(
        sfn.polls_started(),
        polls,
        "no poll starts while a task waits for room"
    );
    assert_eq!(
        sfn.polls_in_flight(),
        0,
        "the open polls ended (60 s) and none followed"
    );

    gate.release.notify_one();
    started
        .wait_for(|n| *n == 2)
        .await
        .expect("the second task ran");
    gate.release.notify_one();
    sfn.wait_for_answers(2).await;
    sfn.wait_until(|s| s.polls_in_flight() == 3).await;
    shutdown.cancel();
    worker.await.expect("worker");
}

// ---------------------------------------------------------------- disaster day

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

#[tokio::test]
async fn a_recovery_with_the_source_site_down_passes_preflight_with_warnings_and_records_rpo() {
    let w = world_with_site_down(&["DISCONNECTED", "STALLED", "CONTINUOUS"]);
    let run = w
        .handlers()
        .preflight(preflight_input(
            recovery_input(None),
            vec![all_tagged_wave()],
        ))
        .await
        .expect("a recovery does not need the source site");
    assert_eq!(run.mode, Mode::Recovery);
    assert_eq!(run.warnings.len(), 2, "{:?}", run.warnings);
    assert!(
        run.warnings[0].contains(&server_id(1))
            && run.warnings[0].contains("DISCONNECTED (AGENT_NOT_SEEN")
    );
    assert!(run.warnings[1].contains(&server_id(2)) && run.warnings[1].contains("STALLED"));
    // The snapshot was taken at 00:00, preflight runs at 00:10.
    assert_eq!(run.worst_rpo_seconds, Some(600));
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(points.len(), 3);
    for p in &points[..2] {
        assert!(
            p.snapshot_id
                .as_deref()
                .is_some_and(|s| s.starts_with("pit-")),
            "{p:?}"
        );
        assert_eq!(p.rpo_seconds, Some(600));
    }
    // The healthy server launches from an on-demand snapshot: none named, its point in time
    // known only after the launch.
    assert_eq!(points[2].snapshot_id, None, "{:?}", points[2]);
    assert_eq!(points[2].rpo_seconds, None);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.warnings.len(), 2);
    assert_eq!(record.worst_rpo_seconds, Some(600));
}

#[tokio::test]
async fn a_drill_refuses_required_servers_whose_replication_is_not_healthy_naming_each() {
    let w = world_with_site_down(&["STALLED", "BACKLOG", "DISCONNECTED"]);
    let err = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("a drill is a readiness test");
    assert_eq!(err.name(), ErrorName::PreflightFailed);
    let cause = err.to_string();
    assert!(
        cause.contains(&format!(
            "{} (host-{}) is not ready for a drill: replication STALLED (AGENT_NOT_SEEN",
            server_id(1),
            server_id(1)
        )),
        "{cause}"
    );
    assert!(
        cause.contains(&format!(
            "{} (host-{}) is not ready for a drill: replication DISCONNECTED",
            server_id(3),
            server_id(3)
        )),
        "{cause}"
    );
    assert!(
        !cause.contains(&server_id(2)),
        "BACKLOG is healthy: {cause}"
    );
    assert!(w.drs.start_calls().is_empty());
    assert!(w.history.lock_holder(PLAN).is_none());
}

#[tokio::test]
async fn a_required_server_without_a_snapshot_is_refused_by_name_an_optional_one_warned_of() {
    let w = world_with_site_down(&["DISCONNECTED", "INITIAL_SYNC", "INITIAL_SYNC"]);
    w.drs.clear_snapshots(&server_id(2));
    w.drs.clear_snapshots(&server_id(3));
    let mut spec = all_tagged_wave();
    spec.optional = vec![server_id(3)];
    let err = w
        .handlers()
        .preflight(preflight_input(recovery_input(None), vec![spec.clone()]))
        .await
        .expect_err("no snapshot, no recovery");
    let cause = err.to_string();
    assert!(
        cause.contains(&format!(
            "{} (host-{}) has no recovery snapshot",
            server_id(2),
            server_id(2)
        )),
        "{cause}"
    );
    assert!(
        !cause.contains(&format!("{} (host-{}) has no", server_id(3), server_id(3))),
        "optional: {cause}"
    );

    w.drs.add_snapshot(&server_id(2), "2030-01-01T00:05:00Z");
    let run = w
        .handlers()
        .preflight(preflight_input(recovery_input(None), vec![spec]))
        .await
        .expect("every required server has a snapshot");
    assert!(
        run.warnings
            .iter()
            .any(|x| x.contains(&server_id(3)) && x.contains("optional")),
        "{:?}",
        run.warnings
    );
}

#[tokio::test]
async fn a_point_in_time_picks_each_servers_latest_snapshot_at_or_before_it() {
    let w = world_with_site_down(&["DISCONNECTED", "DISCONNECTED"]);
    // Snapshots at 23:00 (the day before) and 23:30; the default one is at 00:00.
    let early = w.drs.add_snapshot(&server_id(1), "2029-12-31T23:00:00Z");
    let mid = w.drs.add_snapshot(&server_id(1), "2029-12-31T23:30:00Z");
    let only = w.drs.add_snapshot(&server_id(2), "2029-12-31T23:10:00Z");
    let run = w
        .handlers()
        .preflight(preflight_input(
            recovery_input(Some("2029-12-31T23:45:00Z")),
            vec![all_tagged_wave()],
        ))
        .await
        .expect("preflight");
    assert_eq!(run.point_in_time.as_deref(), Some("2029-12-31T23:45:00Z"));
    let started = w
        .handlers()
        .start_wave(StartWaveInput {
            run,
            wave: all_tagged_wave(),
            heartbeat_seconds: 60,
        })
        .await
        .expect("start");
    assert_eq!(started.job_ids.len(), 1);
    let call = &w.drs.start_calls()[0];
    assert_eq!(call.snapshot_ids.get(&server_id(1)), Some(&mid));
    assert_eq!(call.snapshot_ids.get(&server_id(2)), Some(&only));
    assert_ne!(call.snapshot_ids.get(&server_id(1)), Some(&early));
    let used = w.history.launch_points_of(EXEC, 1);
    assert_eq!(used[0].snapshot_id.as_ref(), Some(&mid));
    // 23:30 is 40 minutes before the start at 00:10.
    assert_eq!(used[0].rpo_seconds, Some(2400));

    // Too far back for server 2: refused by name, nothing launched.
    let w = world_with_site_down(&["DISCONNECTED", "DISCONNECTED"]);
    w.drs.add_snapshot(&server_id(1), "2029-12-31T22:00:00Z");
    let err = w
        .handlers()
        .preflight(preflight_input(
            recovery_input(Some("2029-12-31T22:30:00Z")),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("server 2 has nothing that old");
    let cause = err.to_string();
    assert!(
        cause.contains(&format!(
            "{} (host-{}) has no recovery snapshot at or before 2029-12-31T22:30:00Z",
            server_id(2),
            server_id(2)
        )),
        "{cause}"
    );
    assert!(
        !cause.contains(&format!("{} (host-{}) has no", server_id(1), server_id(1))),
        "{cause}"
    );
}

#[tokio::test]
async fn a_future_or_malformed_point_in_time_is_rejected_before_anything_launches() {
    let w = World::with_servers(1);
    for (t, needle) in [
        ("2030-01-01T01:00:00Z", "in the future"),
        ("yesterday", "not an RFC 3339 timestamp"),
        ("2030-01-01 00:00:00", "not an RFC 3339 timestamp"),
    ] {
        let err = w
            .handlers()
            .preflight(preflight_input(
                recovery_input(Some(t)),
                vec![all_tagged_wave()],
            ))
            .await
            .expect_err(t);
        assert_eq!(err.name(), ErrorName::InvalidInput, "{t}");
        assert!(err.to_string().contains(needle), "{t}: {err}");
    }
    assert!(w.history.lock_holder(PLAN).is_none());
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn a_drill_whose_source_went_down_after_preflight_stops_at_the_next_wave_by_name() {
    let w = world_with_site_down(&["DISCONNECTED"]);
    let err = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("replication lost");
    assert_eq!(err.name(), ErrorName::ReplicationLost);
    let cause = err.to_string();
    assert!(
        cause.contains(&server_id(1))
            && cause.contains("DISCONNECTED")
            && cause.contains("start a RECOVERY"),
        "{cause}"
    );
    assert!(w.drs.start_calls().is_empty());
}

#[tokio::test]
async fn preflight_counts_the_accounts_active_jobs_against_the_quotas() {
    let w = World::with_servers(3);
    for i in 0..19 {
        w.drs.add_job(Job {
            id: format!("drsjob-other{i:012}"),
            status: JobStatus::Started,
            job_type: Some("LAUNCH".into()),
            tags: BTreeMap::new(),
            created_at: Some("2030-01-01T00:01:00Z".into()),
            ended_at: None,
            servers: vec![],
        });
    }
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: 2,
            max_active_servers: 200,
            max_concurrent_jobs: 20,
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)));
    let err = h
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![all_tagged_wave()],
        ))
        .await
        .expect_err("19 active + 2 needed > 20");
    assert!(
        err.to_string().contains("19 jobs are already active"),
        "{err}"
    );
    let filter = w
        .drs
        .describe_jobs_calls()
        .last()
        .cloned()
        .expect("a DescribeJobs");
    assert!(
        filter.from_date.is_some(),
        "bounded by fromDate, never the whole history"
    );
}

#[tokio::test]
async fn a_recovery_preempts_a_running_drill_of_the_plan() {
    let w = World::with_servers(2);
    let drill = "arn:aws:states:us-east-1:123456789012:execution:billing:drill-1";
    // The drill launched wave 1; its jobs ended with both servers LAUNCHED.
    let mut drill_start = start_input(Mode::Drill, None, all_tagged_wave());
    drill_start.run.execution_id = drill.into();
    let launched = w
        .handlers()
        .start_wave(drill_start)
        .await
        .expect("drill launch");
    for (i, instance) in [(1, "i-drill1"), (2, "i-drill2")] {
        w.drs
            .set_launch_status(&server_id(i), LaunchStatus::Launched, Some(instance));
    }
    w.drs
        .set_job_status(&launched.job_ids[0], JobStatus::Completed);
    w.history.set_lock(PLAN, drill, Mode::Drill);
    w.executions.set(drill, "RUNNING");

    let run = w
        .handlers()
        .with_preempt_wait(Duration::from_secs(5), Duration::from_millis(10))
        .preflight(preflight_input(
            recovery_input(None),
            vec![all_tagged_wave()],
        ))
        .await
        .expect("the recovery preempts the drill");
    assert_eq!(run.mode, Mode::Recovery);
    assert_eq!(w.history.lock_holder(PLAN).as_deref(), Some(EXEC));
    let stops = w.executions.stops();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].0, drill);
    assert_eq!(stops[0].1, ErrorName::Preempted.as_str());
    let record = w.history.execution(drill).expect("drill record");
    assert_eq!(record.status, ExecutionStatus::Preempted);
    assert_eq!(record.preempted_by.as_deref(), Some(EXEC));
    let mut terminated = w.drs.terminate_calls().concat();
    terminated.sort();
    assert_eq!(
        terminated,
        vec!["i-drill1".to_string(), "i-drill2".to_string()]
    );
}

#[tokio::test]
async fn a_recovery_never_preempts_a_recovery_and_a_drill_never_preempts() {
    for (holder_mode, input) in [
        (Mode::Recovery, recovery_input(None)),
        (Mode::Drill, json!({"mode": "DRILL"})),
        (Mode::Recovery, json!({"mode": "DRILL"})),
    ] {
        let w = World::with_servers(1);
        let other = "arn:aws:states:us-east-1:123456789012:execution:billing:other";
        w.history.set_lock(PLAN, other, holder_mode);
        w.executions.set(other, "RUNNING");
        let err = w
            .handlers()
            .preflight(preflight_input(input.clone(), vec![all_tagged_wave()]))
            .await
            .expect_err("refused");
        assert_eq!(err.name(), ErrorName::PlanAlreadyRunning, "{input}");
        assert!(w.executions.stops().is_empty());
    }
}

#[tokio::test]
async fn the_janitor_records_a_stopped_drill_releases_its_lock_and_terminates_its_instances() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let started = launched(&w, &all_tagged_wave()).await;
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-stopped"));
    w.executions.set(EXEC, "RUNNING");
    // Still running: nothing happens.
    assert!(
        w.handlers()
            .tidy_ended_executions("w1")
            .await
            .expect("round")
            .is_empty()
    );
    w.executions.set(EXEC, "ABORTED");
    // Its launch job still runs: clean-up waits for the next round.
    assert!(
        w.handlers()
            .tidy_ended_executions("w1")
            .await
            .expect("round")
            .is_empty()
    );
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    let done = w
        .handlers()
        .tidy_ended_executions("w1")
        .await
        .expect("round");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, ExecutionStatus::Aborted);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Aborted);
    assert_eq!(record.ended_at.as_deref(), Some("2030-01-01T00:20:00Z"));
    assert!(w.history.lock_holder(PLAN).is_none());
    assert_eq!(w.drs.terminate_calls(), vec![vec!["i-stopped".to_string()]]);
    assert!(
        w.handlers()
            .tidy_ended_executions("w2")
            .await
            .expect("round")
            .is_empty(),
        "done once"
    );
}

#[tokio::test]
async fn only_one_janitor_at_a_time_tidies_an_execution() {
    use drs_waves_history::prelude::*;
    let w = World::with_servers(1);
    w.record_preflight().await;
    let now = "2030-01-01T00:10:00Z";
    assert!(
        w.history
            .claim_for_janitor(
                EXEC,
                JanitorWork::EndedRun,
                "a",
                now,
                "2030-01-01T00:15:00Z"
            )
            .await
            .expect("a")
    );
    assert!(
        !w.history
            .claim_for_janitor(
                EXEC,
                JanitorWork::EndedRun,
                "b",
                now,
                "2030-01-01T00:15:00Z"
            )
            .await
            .expect("b")
    );
    assert!(
        w.history
            .claim_for_janitor(
                EXEC,
                JanitorWork::EndedRun,
                "b",
                "2030-01-01T00:16:00Z",
                "2030-01-01T00:21:00Z"
            )
            .await
            .expect("expired")
    );
}

#[tokio::test]
async fn fake_drs_passes_the_drs_conformance_suite() {
    let drs = FakeDrs::new();
    for s in crate::conformance::drs::fixture() {
        let tags: Vec<(&str, &str)> = s
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        drs.add_server_in_state(&s.id, &tags, &s.replication_state);
        drs.set_hostname(&s.id, &s.hostname);
        drs.clear_snapshots(&s.id);
        for t in &s.snapshots {
            drs.add_snapshot(&s.id, &drs_waves_rules::format_time(*t));
        }
    }
    crate::conformance::drs::run_all(&drs).await;
}

// ---------------------------------------------------------------- clean-up at scale

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

#[tokio::test]
async fn clean_up_terminates_in_jobs_within_the_per_job_limit_each_recorded() {
    let w = World::with_servers(250);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    let mut state = launched_drill_of(&w, &h, 250).await;
    state.status = WaveStatus::Succeeded;
    let out = h.finish(finish_input(state)).await.expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done);
    let calls = w.drs.terminate_calls();
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.len() <= 100),
        "{:?}",
        calls.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(calls.concat().len(), 250);
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.terminate_job_ids.len(), 3);
    assert_eq!(out.terminate_job_ids, record.terminate_job_ids);
    assert_eq!(record.terminating_instances.len(), 250);
}

#[tokio::test]
async fn a_clean_up_that_cannot_finish_leaves_a_succeeded_drill_pending_and_the_janitor_retries() {
    let w = World::with_servers(2);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let mut state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, Some("i-1"));
    // The launch job still runs (server 2 launching): nothing can be terminated yet.
    state.status = WaveStatus::Succeeded;
    let out = h
        .finish(finish_input(state.clone()))
        .await
        .expect("finish succeeds");
    assert_eq!(out.outcome, Outcome::Succeeded);
    assert_eq!(out.cleanup, CleanupStatus::Pending);
    assert!(
        out.cleanup_error.contains("still run"),
        "{}",
        out.cleanup_error
    );
    assert!(
        w.history.lock_holder(PLAN).is_none(),
        "the lock is released all the same"
    );
    let record = w.history.execution(EXEC).expect("record");
    assert_eq!(record.status, ExecutionStatus::Succeeded);
    assert_eq!(record.cleanup, Some(CleanupStatus::Pending));
    assert!(w.drs.terminate_calls().is_empty());

    // The launch ends; the janitor's next round cleans up.
    w.drs
        .set_launch_status(&server_id(2), LaunchStatus::Launched, Some("i-2"));
    w.drs
        .set_job_status(&state.job_ids[0], JobStatus::Completed);
    let done = h.tidy_ended_executions("janitor").await.expect("round");
    assert_eq!(done.len(), 1);
    assert_eq!(
        w.history.execution(EXEC).expect("record").cleanup,
        Some(CleanupStatus::Done)
    );
    let mut terminated = w.drs.terminate_calls().concat();
    terminated.sort();
    assert_eq!(terminated, vec!["i-1".to_string(), "i-2".to_string()]);
    assert!(
        h.tidy_ended_executions("janitor")
            .await
            .expect("round")
            .is_empty(),
        "once"
    );
}

#[tokio::test]
async fn a_lost_terminate_answer_is_recorded_from_what_drs_did_and_never_sent_twice() {
    let w = World::with_servers(2);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    let mut state = launched_drill_of(&w, &h, 2).await;
    state.status = WaveStatus::Succeeded;
    // DRS makes the TERMINATE job at the handlers' time.
    w.drs.set_now(datetime!(2030-01-01 00:10:00 UTC));
    w.drs.lose_next_terminate_answer(AwsError::transient(
        "DRS TerminateRecoveryInstances",
        "HTTP 500",
    ));
    let out = h.finish(finish_input(state.clone())).await.expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done, "{}", out.cleanup_error);
    assert_eq!(w.drs.terminate_calls().len(), 1);
    assert_eq!(
        out.terminate_job_ids.len(),
        1,
        "the terminate job DRS made is recorded"
    );
    // A retried finish terminates nothing again.
    let again = h.finish(finish_input(state)).await.expect("retried finish");
    assert_eq!(again.cleanup, CleanupStatus::Done);
    assert_eq!(w.drs.terminate_calls().len(), 1, "no second terminate");
}

#[tokio::test]
async fn record_failure_releases_the_lock_even_when_the_clean_up_cannot_finish() {
    let w = World::with_servers(1);
    let h = handlers_with_limits(&w, 100, 500);
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let state = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    let out = h
        .record_failure(RecordFailureInput {
            execution: execution(),
            plan_name: PLAN.to_string(),
            state: json!({"mode": "DRILL", "run": run_ctx(Mode::Drill, None), "waves": {"w1": state},
                          "error": {"Error": "DrsWaves.WaveFailed", "Cause": "s-1 failed"}}),
            heartbeat_seconds: 60,
        })
        .await
        .expect("record failure");
    assert_eq!(out.cleanup, CleanupStatus::Pending);
    assert!(w.history.lock_holder(PLAN).is_none());
    assert_eq!(
        w.history.execution(EXEC).expect("record").status,
        ExecutionStatus::Failed
    );
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

// ---------------------------------------------------------------- operator control

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
    }
}

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
        .expect("record")
        .pending_gate
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
        sent[0].2.contains("drs-waves approve run-1"),
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
    assert_eq!(
        w.history
            .execution(EXEC)
            .expect("record")
            .pending_gate
            .expect("gate")
            .token,
        "t-2"
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
        w.history.execution(EXEC).expect("record").pending_gate,
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
