//! The behaviour of the [`History`] seam, written once. [`crate::MemoryHistory`] runs it in this
//! crate's tests and `DynamoHistory` over moto in the worker's `tests/against_services.rs`: a fake that passes the
//! same suite as the real adapter cannot quietly drift from it.
//!
//! Each check takes a fresh history (an empty table) and a unique execution ARN prefix, and
//! panics with the rule it checks when the implementation breaks it.

use std::collections::BTreeMap;

use drs_waves_contract::{
    CleanupStatus, ExecutionStatus, GateKind, Mode, OperatorAction, OperatorActionKind,
    PendingGate, ServerCounts, WaveStatus,
};

use crate::{
    CancelOutcome, ChunkWrite, ExecutionClose, ExecutionRecord, History, JanitorWork, JobRecord,
    LockOutcome, ServerLaunchPoint, ServerRecord, WaveChunk, WaveRecord,
};
use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::timing::LearnedTiming;

/// The cases of the suite, by name, in the order [`run_all`] runs them.
pub const CASES: [&str; 12] = [
    "run_lock_rules",
    "execution_create_is_idempotent",
    "close_is_an_upsert_that_keeps_what_was_recorded",
    "terminate_jobs_need_an_execution_record",
    "wave_plan_is_kept_and_chunk_jobs_are_recorded_once",
    "wave_check_keeps_the_first_start_time_and_records_jobs",
    "launch_points_are_replaced_whole",
    "running_executions_and_the_janitor_lease",
    "recent_executions_of_a_plan_and_learned_timing",
    "the_report_outcome_is_recorded_on_the_execution",
    "a_gate_is_answered_once_and_a_cancel_never_misses_it",
    "a_retry_adds_the_next_attempts_chunks_to_a_failed_wave",
];

/// Runs one case of the suite by its name (one of [`CASES`]).
pub async fn run_case(name: &str, history: &impl History, prefix: &str) {
    match name {
        "run_lock_rules" => run_lock_rules(history, prefix).await,
        "execution_create_is_idempotent" => execution_create_is_idempotent(history, prefix).await,
        "close_is_an_upsert_that_keeps_what_was_recorded" => {
            close_is_an_upsert_that_keeps_what_was_recorded(history, prefix).await
        }
        "terminate_jobs_need_an_execution_record" => {
            terminate_jobs_need_an_execution_record(history, prefix).await
        }
        "wave_plan_is_kept_and_chunk_jobs_are_recorded_once" => {
            wave_plan_is_kept_and_chunk_jobs_are_recorded_once(history, prefix).await
        }
        "wave_check_keeps_the_first_start_time_and_records_jobs" => {
            wave_check_keeps_the_first_start_time_and_records_jobs(history, prefix).await
        }
        "launch_points_are_replaced_whole" => {
            launch_points_are_replaced_whole(history, prefix).await
        }
        "running_executions_and_the_janitor_lease" => {
            running_executions_and_the_janitor_lease(history, prefix).await
        }
        "recent_executions_of_a_plan_and_learned_timing" => {
            recent_executions_of_a_plan_and_learned_timing(history, prefix).await
        }
        "the_report_outcome_is_recorded_on_the_execution" => {
            the_report_outcome_is_recorded_on_the_execution(history, prefix).await
        }
        "a_gate_is_answered_once_and_a_cancel_never_misses_it" => {
            a_gate_is_answered_once_and_a_cancel_never_misses_it(history, prefix).await
        }
        "a_retry_adds_the_next_attempts_chunks_to_a_failed_wave" => {
            a_retry_adds_the_next_attempts_chunks_to_a_failed_wave(history, prefix).await
        }
        other => panic!("no conformance case named {other}"),
    }
}

/// Runs every case on `history` (`prefix` keeps names unique in a shared table), each to its
/// end whatever the others do, and fails naming every case that failed: one broken rule does not
/// hide the rest. For an adapter whose service is costly to start once per case (DynamoDB over
/// moto); the fake runs one test per case ([`crate::history_conformance_tests`]).
pub async fn run_all(history: &impl History, prefix: &str) {
    use futures::FutureExt;
    let mut failed = Vec::new();
    for name in CASES {
        let case = std::panic::AssertUnwindSafe(run_case(name, history, prefix));
        if let Err(panic) = case.catch_unwind().await {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n")
    );
}

/// One `#[tokio::test]` per case of the suite, each on the history `$make` gives (an async fn of
/// the case's name returning `(history, prefix)`).
#[macro_export]
macro_rules! history_conformance_tests {
    ($make:path) => {
        $crate::history_conformance_tests!(@cases $make; run_lock_rules, execution_create_is_idempotent, close_is_an_upsert_that_keeps_what_was_recorded, terminate_jobs_need_an_execution_record, wave_plan_is_kept_and_chunk_jobs_are_recorded_once, wave_check_keeps_the_first_start_time_and_records_jobs, launch_points_are_replaced_whole, running_executions_and_the_janitor_lease, recent_executions_of_a_plan_and_learned_timing, the_report_outcome_is_recorded_on_the_execution, a_gate_is_answered_once_and_a_cancel_never_misses_it, a_retry_adds_the_next_attempts_chunks_to_a_failed_wave);
    };
    (@cases $make:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (history, prefix) = $make(stringify!($case)).await;
                $crate::conformance::$case(&history, &prefix).await;
            }
        )*
    };
}

fn action(kind: OperatorActionKind, by: &str, at: &str) -> OperatorAction {
    OperatorAction {
        action: kind,
        wave_index: Some(2),
        wave_name: Some("app".into()),
        by: by.into(),
        at: at.into(),
    }
}

fn gate(kind: GateKind, token: &str) -> PendingGate {
    PendingGate {
        kind,
        wave_index: 2,
        wave_name: "app".into(),
        token: token.into(),
        since: "2030-01-01T00:10:00Z".into(),
        timeout_at: "2030-01-01T04:10:00Z".into(),
        attempts: 1,
        max_attempts: 3,
        reason: "wave 'app': required server(s) failed to launch: s-2".into(),
        heartbeat_seconds: None,
        reopened: 0,
    }
}

/// A gate is recorded with its token, answered once (by the token it was opened with), and
/// every answer is kept as an operator action; a cancel is recorded once, only while RUNNING,
/// and a gate opened after a cancel is refused (so the gate task sees the cancel); closing the
/// execution clears a gate left open (a timeout).
pub async fn a_gate_is_answered_once_and_a_cancel_never_misses_it(
    history: &impl History,
    prefix: &str,
) {
    let alice = "arn:aws:iam::123456789012:user/alice";
    let bob = "arn:aws:sts::123456789012:assumed-role/dr-operator/bob";
    let id = exec_arn(prefix, "gates");
    assert!(
        history
            .open_gate(&id, gate(GateKind::Approval, "tok-1"))
            .await
            .is_err(),
        "no gate without an execution record"
    );
    assert_eq!(
        history
            .request_cancel(
                &id,
                action(OperatorActionKind::Cancel, bob, "2030-01-01T00:00:01Z")
            )
            .await
            .expect("cancel"),
        CancelOutcome::NotRunning(None),
        "nothing to cancel without a record"
    );
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    assert!(
        history
            .open_gate(&id, gate(GateKind::Approval, "tok-1"))
            .await
            .expect("open")
    );
    let r = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(r.pending_gate, Some(gate(GateKind::Approval, "tok-1")));
    assert_eq!(
        r.started_by.as_deref(),
        Some("arn:aws:iam::123456789012:user/alice")
    );
    let approve = action(OperatorActionKind::Approve, alice, "2030-01-01T00:11:00Z");
    assert!(
        !history
            .answer_gate(&id, "tok-other", approve.clone())
            .await
            .expect("answer"),
        "a token that is not the pending gate's answers nothing"
    );
    assert!(
        history
            .answer_gate(&id, "tok-1", approve.clone())
            .await
            .expect("answer")
    );
    assert!(
        !history
            .answer_gate(&id, "tok-1", approve.clone())
            .await
            .expect("answer"),
        "a gate is answered once"
    );
    let r = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(r.pending_gate, None);
    assert_eq!(r.operator_actions, vec![approve.clone()]);

    // A decision opened again by a retried task replaces the first (a new token).
    assert!(
        history
            .open_gate(&id, gate(GateKind::Decision, "tok-2"))
            .await
            .expect("open")
    );
    assert!(
        history
            .open_gate(&id, gate(GateKind::Decision, "tok-3"))
            .await
            .expect("open")
    );
    assert!(
        !history
            .answer_gate(&id, "tok-2", approve.clone())
            .await
            .expect("answer")
    );

    let cancel = action(OperatorActionKind::Cancel, bob, "2030-01-01T00:12:00Z");
    assert_eq!(
        history
            .request_cancel(&id, cancel.clone())
            .await
            .expect("cancel"),
        CancelOutcome::Requested
    );
    assert_eq!(
        history
            .request_cancel(
                &id,
                action(OperatorActionKind::Cancel, alice, "2030-01-01T00:13:00Z")
            )
            .await
            .expect("cancel"),
        CancelOutcome::AlreadyRequested(cancel.clone()),
        "the first cancel stands"
    );
    let r = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(r.cancel_requested, Some(cancel.clone()));
    assert_eq!(
        r.pending_gate.as_ref().map(|g| g.token.as_str()),
        Some("tok-3"),
        "the pending gate stays for the canceller to answer"
    );
    assert_eq!(r.operator_actions, vec![approve.clone(), cancel.clone()]);
    assert!(
        !history
            .open_gate(&id, gate(GateKind::Approval, "tok-4"))
            .await
            .expect("open"),
        "a gate opened after a cancel is refused: its task fails with the cancel"
    );
    history
        .close_execution(ExecutionClose {
            execution_id: id.clone(),
            execution_name: "gates".into(),
            plan_name: prefix.to_string(),
            mode: Some(Mode::Drill),
            started_at: "2030-01-01T00:00:00Z".into(),
            status: ExecutionStatus::Cancelled,
            ended_at: "2030-01-01T00:14:00Z".into(),
            error: Some("DrsWaves.Cancelled".into()),
            cause: Some("Cancelled by bob".into()),
            wave_statuses: BTreeMap::new(),
            preempted_by: None,
        })
        .await
        .expect("close");
    let r = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(r.status, ExecutionStatus::Cancelled);
    assert_eq!(r.pending_gate, None, "an ended execution waits at no gate");
    assert_eq!(r.operator_actions, vec![approve, cancel]);
    assert_eq!(
        history
            .request_cancel(
                &id,
                action(OperatorActionKind::Cancel, alice, "2030-01-01T00:15:00Z")
            )
            .await
            .expect("cancel"),
        CancelOutcome::AlreadyRequested(action(
            OperatorActionKind::Cancel,
            bob,
            "2030-01-01T00:12:00Z"
        )),
    );
    let other = exec_arn(prefix, "ended");
    history
        .create_execution(record(&other, prefix))
        .await
        .expect("create");
    history
        .close_execution(ExecutionClose {
            execution_id: other.clone(),
            execution_name: "ended".into(),
            plan_name: prefix.to_string(),
            mode: Some(Mode::Drill),
            started_at: "2030-01-01T00:00:00Z".into(),
            status: ExecutionStatus::Succeeded,
            ended_at: "2030-01-01T00:14:00Z".into(),
            error: None,
            cause: None,
            wave_statuses: BTreeMap::new(),
            preempted_by: None,
        })
        .await
        .expect("close");
    assert_eq!(
        history
            .request_cancel(
                &other,
                action(OperatorActionKind::Cancel, alice, "2030-01-01T00:15:00Z")
            )
            .await
            .expect("cancel"),
        CancelOutcome::NotRunning(Some(ExecutionStatus::Succeeded)),
    );
}

/// A retry is planned only on a FAILED wave and only once per attempt: its chunks carry the
/// next attempt and its start time, the wave is LAUNCHING again, and the first launch's chunks
/// and jobs are kept.
pub async fn a_retry_adds_the_next_attempts_chunks_to_a_failed_wave(
    history: &impl History,
    prefix: &str,
) {
    let id = exec_arn(prefix, "retry");
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    history
        .plan_wave(wave(&id, 1, "2030-01-01T00:01:00Z"))
        .await
        .expect("plan");
    for (chunk, job) in [(1, "drsjob-1"), (2, "drsjob-2")] {
        history
            .record_chunk_job(&id, 1, chunk, job)
            .await
            .expect("chunk job");
    }
    let retry = vec![WaveChunk {
        number: 3,
        servers: vec!["s-2".into()],
        job_id: None,
        attempt: 2,
        planned_at: Some("2030-01-01T00:20:00Z".into()),
    }];
    let still = history
        .plan_retry(&id, 1, retry.clone())
        .await
        .expect("retry of a launching wave");
    assert_eq!(
        still.chunks.len(),
        2,
        "a wave that has not failed is not retried"
    );
    assert_eq!(still.status, WaveStatus::Launching);
    let mut failed = wave(&id, 1, "2030-01-01T00:01:00Z");
    failed.status = WaveStatus::Failed;
    failed.job_ids = vec!["drsjob-1".into(), "drsjob-2".into()];
    failed.ended_at = Some("2030-01-01T00:15:00Z".into());
    failed.reason = "wave 'wave-1': required server(s) failed to launch: s-2".into();
    failed.checks = 4;
    history
        .record_wave_check(failed, Vec::new())
        .await
        .expect("check");
    let planned = history
        .plan_retry(&id, 1, retry.clone())
        .await
        .expect("retry");
    assert_eq!(planned.status, WaveStatus::Launching);
    assert_eq!(planned.reason, "");
    assert_eq!(planned.ended_at, None);
    assert_eq!(planned.attempt(), 2);
    assert_eq!(planned.attempt_started_at(), "2030-01-01T00:20:00Z");
    assert_eq!(
        planned.started_at, "2030-01-01T00:01:00Z",
        "the wave's own start is kept"
    );
    assert_eq!(
        planned
            .chunks
            .iter()
            .map(|c| (c.number, c.job_id.clone(), c.attempt))
            .collect::<Vec<_>>(),
        vec![
            (1, Some("drsjob-1".to_string()), 1),
            (2, Some("drsjob-2".to_string()), 1),
            (3, None, 2),
        ]
    );
    assert_eq!(
        planned.planned_servers(),
        vec!["s-1", "s-2", "s-3"],
        "each server once"
    );
    let again = history
        .plan_retry(&id, 1, retry)
        .await
        .expect("retried start task");
    assert_eq!(
        again, planned,
        "a retried start task finds the retry it planned"
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 3, "drsjob-3")
            .await
            .expect("chunk job"),
        ChunkWrite::Written
    );
    let stored = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(stored.job_ids, vec!["drsjob-1", "drsjob-2", "drsjob-3"]);

    // The end of the execution gives an open wave its final status; a wave never started has
    // no record to end.
    assert!(
        !history
            .end_wave(
                &id,
                9,
                WaveStatus::Interrupted,
                "never started",
                "2030-01-01T00:30:00Z"
            )
            .await
            .expect("end"),
    );
    assert!(
        history.get_wave(&id, 9).await.expect("get").is_none(),
        "no record is invented"
    );
    assert!(
        history
            .end_wave(
                &id,
                1,
                WaveStatus::Interrupted,
                "wave 'wave-1': the execution was cancelled while it was launching",
                "2030-01-01T00:30:00Z",
            )
            .await
            .expect("end")
    );
    let ended = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(ended.status, WaveStatus::Interrupted);
    assert_eq!(
        ended.reason,
        "wave 'wave-1': the execution was cancelled while it was launching"
    );
    assert_eq!(ended.ended_at.as_deref(), Some("2030-01-01T00:30:00Z"));
    assert_eq!(ended.chunks.len(), 3, "the plan and its jobs are kept");
}

/// Where the report went (or why it did not) is recorded on an existing execution only, and
/// the latest attempt wins.
pub async fn the_report_outcome_is_recorded_on_the_execution(history: &impl History, prefix: &str) {
    use crate::ReportOutcome;
    let id = exec_arn(prefix, "report");
    assert!(
        history
            .record_report(&id, ReportOutcome::Written("s3://b/p/x/".into()))
            .await
            .is_err(),
        "no record is invented for an unknown execution"
    );
    assert_eq!(history.report_outcome(&id).await.expect("read"), None);
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    assert_eq!(history.report_outcome(&id).await.expect("read"), None);
    let failed = ReportOutcome::Failed("S3 PutObject: access denied".into());
    history
        .record_report(&id, failed.clone())
        .await
        .expect("record");
    assert_eq!(
        history.report_outcome(&id).await.expect("read"),
        Some(failed)
    );
    let written = ReportOutcome::Written("s3://b/p/x/".into());
    history
        .record_report(&id, written.clone())
        .await
        .expect("record");
    assert_eq!(
        history.report_outcome(&id).await.expect("read"),
        Some(written),
        "the latest attempt wins"
    );
    assert!(
        history.get_execution(&id).await.expect("get").is_some(),
        "the execution record stays readable"
    );
}

/// The plan index lists a plan's executions newest first, whatever their status, and only that
/// plan's; a wave keeps what was learned when it was planned and records its completion time.
pub async fn recent_executions_of_a_plan_and_learned_timing(history: &impl History, prefix: &str) {
    let plan = format!("{prefix}-learn");
    for (name, day, status) in [
        ("learn-1", "01", ExecutionStatus::Succeeded),
        ("learn-2", "02", ExecutionStatus::Failed),
        ("learn-3", "03", ExecutionStatus::Aborted),
    ] {
        let mut r = record(&exec_arn(prefix, name), &plan);
        r.started_at = format!("2030-03-{day}T00:00:00Z");
        r.status = status;
        history.create_execution(r).await.expect("create");
    }
    let mut other = record(&exec_arn(prefix, "other-plan"), &format!("{prefix}-x"));
    other.status = ExecutionStatus::Succeeded;
    history.create_execution(other).await.expect("other plan");
    let names = |rs: Vec<ExecutionRecord>| -> Vec<String> {
        rs.into_iter().map(|r| r.execution_name).collect()
    };
    assert_eq!(
        names(history.recent_executions(&plan, 10).await.expect("all")),
        vec!["learn-3", "learn-2", "learn-1"],
        "newest first, every status, this plan only"
    );
    assert_eq!(
        names(history.recent_executions(&plan, 2).await.expect("two")),
        vec!["learn-3", "learn-2"]
    );
    assert!(
        history
            .recent_executions(&format!("{prefix}-none"), 10)
            .await
            .expect("none")
            .is_empty()
    );

    let id = exec_arn(prefix, "learn-3");
    let learned = LearnedTiming {
        samples: 4,
        p10_ms: 21_500,
        p50_ms: 24_000,
        p95_ms: 29_900,
        p90_ms: 28_000,
    };
    let planned = WaveRecord {
        learned: Some(learned),
        ..wave(&id, 1, "2030-03-03T00:00:10Z")
    };
    history.plan_wave(planned.clone()).await.expect("plan");
    assert_eq!(
        history
            .get_wave(&id, 1)
            .await
            .expect("get")
            .expect("wave")
            .learned,
        Some(learned)
    );
    let checked = |completion_ms| WaveRecord {
        status: WaveStatus::Launching,
        checks: 1,
        learned: None,
        completion_ms,
        ..planned.clone()
    };
    history
        .record_wave_check(checked(None), vec![])
        .await
        .expect("check");
    let got = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(
        got.learned,
        Some(learned),
        "a check leaves what was learned"
    );
    assert_eq!(got.completion_ms, None);
    history
        .record_wave_check(
            WaveRecord {
                status: WaveStatus::Succeeded,
                ..checked(Some(23_456))
            },
            vec![],
        )
        .await
        .expect("done");
    let got = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(got.completion_ms, Some(23_456));
    assert_eq!(got.learned, Some(learned));
    assert_eq!(
        history
            .get_wave(&exec_arn(prefix, "learn-1"), 1)
            .await
            .expect("none"),
        None
    );
}

/// A wave's launch points: none until written, then exactly the last write, by server ID.
pub async fn launch_points_are_replaced_whole(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "points");
    assert!(
        history
            .launch_points(&id, 1)
            .await
            .expect("none")
            .is_empty()
    );
    let point = |server: &str, snap: Option<&str>| ServerLaunchPoint {
        server_id: server.to_string(),
        required: server != "s-3",
        snapshot_id: snap.map(str::to_string),
        snapshot_taken_at: snap.map(|_| "2030-01-01T00:00:00Z".to_string()),
        rpo_seconds: snap.map(|_| 600),
        replication: "DISCONNECTED (AGENT_NOT_SEEN)".to_string(),
    };
    history
        .record_launch_points(
            &id,
            1,
            vec![point("s-2", Some("pit-2")), point("s-1", Some("pit-1"))],
        )
        .await
        .expect("write");
    history
        .record_launch_points(
            &id,
            1,
            vec![point("s-3", None), point("s-1", Some("pit-9"))],
        )
        .await
        .expect("replace");
    assert_eq!(
        history.launch_points(&id, 1).await.expect("read"),
        vec![point("s-1", Some("pit-9")), point("s-3", None)]
    );
    assert!(
        history
            .launch_points(&id, 2)
            .await
            .expect("other wave")
            .is_empty()
    );
}

/// RUNNING records are listed newest first; one janitor at a time holds an execution's lease,
/// until it expires; an execution that is no longer RUNNING cannot be claimed.
pub async fn running_executions_and_the_janitor_lease(history: &impl History, prefix: &str) {
    let older = exec_arn(prefix, "run-older");
    let newer = exec_arn(prefix, "run-newer");
    let mut r = record(&older, prefix);
    r.started_at = "2030-02-01T00:00:00Z".into();
    history.create_execution(r).await.expect("older");
    let mut r = record(&newer, prefix);
    r.started_at = "2030-02-02T00:00:00Z".into();
    history.create_execution(r).await.expect("newer");
    let ids: Vec<String> = history
        .running_executions(1000)
        .await
        .expect("running")
        .into_iter()
        .map(|r| r.execution_id)
        .filter(|id| id.contains(&format!(":{prefix}:run-")))
        .collect();
    assert_eq!(ids, vec![newer.clone(), older.clone()], "newest first");

    let (t0, t1, t2) = (
        "2030-02-03T00:00:00Z",
        "2030-02-03T00:05:00Z",
        "2030-02-03T00:06:00Z",
    );
    assert!(
        history
            .claim_for_janitor(&older, JanitorWork::EndedRun, "a", t0, t1)
            .await
            .expect("a")
    );
    assert!(
        !history
            .claim_for_janitor(&older, JanitorWork::EndedRun, "b", t0, t1)
            .await
            .expect("b"),
        "held"
    );
    assert!(
        history
            .claim_for_janitor(&older, JanitorWork::EndedRun, "a", t0, t1)
            .await
            .expect("a again"),
        "the holder renews"
    );
    assert!(
        history
            .claim_for_janitor(
                &older,
                JanitorWork::EndedRun,
                "b",
                t2,
                "2030-02-03T00:11:00Z"
            )
            .await
            .expect("expired")
    );
    history
        .close_execution(ExecutionClose {
            execution_id: newer.clone(),
            execution_name: "run-newer".into(),
            plan_name: prefix.to_string(),
            mode: Some(Mode::Drill),
            started_at: "2030-02-02T00:00:00Z".into(),
            status: ExecutionStatus::Aborted,
            ended_at: t0.into(),
            error: None,
            cause: None,
            wave_statuses: BTreeMap::new(),
            preempted_by: None,
        })
        .await
        .expect("close");
    assert!(
        !history
            .claim_for_janitor(&newer, JanitorWork::EndedRun, "a", t0, t1)
            .await
            .expect("ended"),
        "not RUNNING"
    );
    assert!(
        !history
            .running_executions(1000)
            .await
            .expect("running")
            .iter()
            .any(|r| r.execution_id == newer)
    );
}

fn exec_arn(prefix: &str, name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:{prefix}:{name}")
}

fn record(id: &str, plan: &str) -> ExecutionRecord {
    ExecutionRecord {
        mode: Some(Mode::Drill),
        wave_count: 2,
        server_count: 5,
        terminate_drill_instances: true,
        point_in_time: Some("2029-12-31T23:00:00Z".to_string()),
        worst_rpo_seconds: Some(3600),
        warnings: vec!["wave 'db': source server s-1 is DISCONNECTED".to_string()],
        started_by: Some("arn:aws:iam::123456789012:user/alice".to_string()),
        ..ExecutionRecord::new(
            id,
            id.rsplit(':').next().unwrap_or(id),
            plan,
            ExecutionStatus::Running,
            "2030-01-01T00:00:00Z",
        )
    }
}

/// A planned wave of two chunks (s-1, s-2 | s-3), no job yet.
fn wave(id: &str, index: u32, started_at: &str) -> WaveRecord {
    WaveRecord {
        execution_id: id.to_string(),
        index,
        name: format!("wave-{index}"),
        status: WaveStatus::Launching,
        job_ids: vec![],
        chunks: vec![
            WaveChunk {
                number: 1,
                servers: vec!["s-1".into(), "s-2".into()],
                job_id: None,
                attempt: 1,
                planned_at: None,
            },
            WaveChunk {
                number: 2,
                servers: vec!["s-3".into()],
                job_id: None,
                attempt: 1,
                planned_at: None,
            },
        ],
        started_at: started_at.to_string(),
        ended_at: None,
        checks: 0,
        servers: ServerCounts {
            total: 2,
            launching: 2,
            ..ServerCounts::default()
        },
        reason: String::new(),
        learned: None,
        completion_ms: None,
    }
}

/// Acquire, re-acquire by the holder, refuse another, take over only from the named holder,
/// release only by the holder.
pub async fn run_lock_rules(history: &impl History, prefix: &str) {
    let plan = format!("{prefix}-lock");
    let (a, b, c) = (
        exec_arn(prefix, "a"),
        exec_arn(prefix, "b"),
        exec_arn(prefix, "c"),
    );
    let now = "2030-01-01T00:00:00Z";
    assert_eq!(
        history
            .acquire_lock(&plan, &a, Mode::Drill, now)
            .await
            .expect("acquire"),
        LockOutcome::Acquired,
        "a free lock is taken"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &a, Mode::Drill, now)
            .await
            .expect("again"),
        LockOutcome::Acquired,
        "the holder may take its own lock again (a retried preflight)"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &b, Mode::Recovery, now)
            .await
            .expect("other"),
        LockOutcome::HeldBy {
            holder: a.clone(),
            mode: Mode::Drill
        },
        "another execution is told who holds it, and in which mode"
    );
    assert!(
        !history
            .take_over_lock(&plan, &b, Mode::Recovery, &c, now)
            .await
            .expect("wrong takeover"),
        "a takeover names the current holder or fails"
    );
    assert!(
        history
            .take_over_lock(&plan, &b, Mode::Recovery, &a, now)
            .await
            .expect("takeover"),
        "a takeover from the current holder succeeds"
    );
    assert!(
        !history
            .release_lock(&plan, &a)
            .await
            .expect("stale release"),
        "a former holder cannot release the lock"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &a, Mode::Drill, now)
            .await
            .expect("held"),
        LockOutcome::HeldBy {
            holder: b.clone(),
            mode: Mode::Recovery
        },
        "a takeover records the new holder's mode"
    );
    assert!(history.release_lock(&plan, &b).await.expect("release"));
    assert!(
        !history.release_lock(&plan, &b).await.expect("twice"),
        "releasing a free lock is a no-op"
    );
    assert_eq!(
        history
            .acquire_lock(&plan, &c, Mode::Drill, now)
            .await
            .expect("free"),
        LockOutcome::Acquired
    );
    assert!(history.release_lock(&plan, &c).await.expect("release"));
}

/// A retried preflight's create leaves the first record as it was.
pub async fn execution_create_is_idempotent(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "create");
    assert_eq!(history.get_execution(&id).await.expect("get"), None);
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    let mut second = record(&id, prefix);
    second.server_count = 99;
    second.started_at = "2031-01-01T00:00:00Z".into();
    history
        .create_execution(second)
        .await
        .expect("create again");
    assert_eq!(
        history.get_execution(&id).await.expect("get"),
        Some(record(&id, prefix)),
        "the first record stays"
    );
}

/// Closing keeps the start time and mode of the record; closing an execution preflight never
/// recorded creates a readable record without a mode.
pub async fn close_is_an_upsert_that_keeps_what_was_recorded(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "close");
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    let statuses = BTreeMap::from([("wave-1".to_string(), WaveStatus::Failed)]);
    history
        .close_execution(ExecutionClose {
            execution_id: id.clone(),
            execution_name: "other-name".into(),
            plan_name: prefix.to_string(),
            mode: Some(Mode::Recovery),
            started_at: "2040-01-01T00:00:00Z".into(),
            status: ExecutionStatus::Failed,
            ended_at: "2030-01-01T01:00:00Z".into(),
            error: Some("DrsWaves.WaveFailed".into()),
            cause: Some("why".into()),
            wave_statuses: statuses.clone(),
            preempted_by: Some("arn:recovery".into()),
        })
        .await
        .expect("close");
    let closed = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(closed.status, ExecutionStatus::Failed);
    assert_eq!(closed.started_at, "2030-01-01T00:00:00Z", "start time kept");
    assert_eq!(closed.mode, Some(Mode::Drill), "mode kept");
    assert_eq!(closed.execution_name, record(&id, prefix).execution_name);
    assert_eq!(closed.ended_at.as_deref(), Some("2030-01-01T01:00:00Z"));
    assert_eq!(closed.error.as_deref(), Some("DrsWaves.WaveFailed"));
    assert_eq!(closed.cause.as_deref(), Some("why"));
    assert_eq!(closed.wave_statuses, statuses);
    assert_eq!(closed.wave_count, 2, "counts kept");
    assert_eq!(closed.preempted_by.as_deref(), Some("arn:recovery"));
    assert_eq!(
        closed.warnings,
        record(&id, prefix).warnings,
        "warnings kept"
    );
    assert_eq!(closed.worst_rpo_seconds, Some(3600));

    let early = exec_arn(prefix, "early");
    history
        .close_execution(ExecutionClose {
            execution_id: early.clone(),
            execution_name: "early".into(),
            plan_name: prefix.to_string(),
            mode: None,
            started_at: "2030-01-01T00:00:00Z".into(),
            status: ExecutionStatus::Failed,
            ended_at: "2030-01-01T00:00:05Z".into(),
            error: Some("DrsWaves.InvalidInput".into()),
            cause: Some("bad input".into()),
            wave_statuses: BTreeMap::new(),
            preempted_by: None,
        })
        .await
        .expect("close before preflight");
    let r = history
        .get_execution(&early)
        .await
        .expect("a record closed before preflight decodes")
        .expect("record");
    assert_eq!(r.mode, None);
    assert_eq!((r.wave_count, r.server_count), (0, 0));
    assert_eq!(r.status, ExecutionStatus::Failed);
}

/// Clean-up progress is recorded on an existing record only, one TERMINATE job at a time; a
/// PENDING clean-up is listed until it is DONE.
pub async fn terminate_jobs_need_an_execution_record(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "terminate");
    assert!(
        history
            .record_terminate_job(&id, "drsjob-1", vec!["i-1".into()])
            .await
            .is_err(),
        "no record is invented for an unknown execution"
    );
    assert!(
        history
            .set_cleanup(&id, CleanupStatus::Pending, None)
            .await
            .is_err()
    );
    assert_eq!(history.get_execution(&id).await.expect("get"), None);
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    history
        .record_terminate_job(&id, "drsjob-1", vec!["i-1".into(), "i-2".into()])
        .await
        .expect("first");
    history
        .record_terminate_job(&id, "drsjob-2", vec!["i-3".into()])
        .await
        .expect("second");
    history
        .set_cleanup(
            &id,
            CleanupStatus::Pending,
            Some("launch jobs still run".into()),
        )
        .await
        .expect("pending");
    let r = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(
        r.terminate_job_ids,
        vec!["drsjob-1".to_string(), "drsjob-2".to_string()]
    );
    assert_eq!(r.terminating_instances, vec!["i-1", "i-2", "i-3"]);
    assert_eq!(r.cleanup, Some(CleanupStatus::Pending));
    assert_eq!(r.cleanup_error.as_deref(), Some("launch jobs still run"));
    assert!(
        history
            .pending_cleanups(1000)
            .await
            .expect("pending")
            .contains(&id),
        "a PENDING clean-up is listed"
    );
    assert!(
        history
            .claim_for_janitor(
                &id,
                JanitorWork::PendingCleanup,
                "j",
                "2030-01-01T00:00:00Z",
                "2030-01-01T00:05:00Z"
            )
            .await
            .expect("claim")
    );
    history
        .set_cleanup(&id, CleanupStatus::Done, None)
        .await
        .expect("done");
    assert!(
        !history
            .pending_cleanups(1000)
            .await
            .expect("pending")
            .contains(&id)
    );
    assert!(
        !history
            .claim_for_janitor(
                &id,
                JanitorWork::PendingCleanup,
                "k",
                "2030-01-01T00:10:00Z",
                "2030-01-01T00:15:00Z"
            )
            .await
            .expect("claim"),
        "a DONE clean-up is not claimed"
    );
}

pub async fn wave_plan_is_kept_and_chunk_jobs_are_recorded_once(
    history: &impl History,
    prefix: &str,
) {
    let id = exec_arn(prefix, "launch");
    assert_eq!(history.get_wave(&id, 1).await.expect("get"), None);
    let first = wave(&id, 1, "2030-01-01T00:00:00Z");
    let stored = history.plan_wave(first.clone()).await.expect("plan");
    assert_eq!(stored, first, "the plan as written");
    let mut other = wave(&id, 1, "2030-01-01T00:09:00Z");
    other.chunks.truncate(1);
    assert_eq!(
        history.plan_wave(other).await.expect("plan again"),
        first,
        "a retry gets the first plan"
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 2, "drsjob-b")
            .await
            .expect("chunk 2"),
        ChunkWrite::Written
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 1, "drsjob-a")
            .await
            .expect("chunk 1"),
        ChunkWrite::Written
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 1, "drsjob-a")
            .await
            .expect("again"),
        ChunkWrite::Written,
        "the same job again is accepted"
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 1, "drsjob-x")
            .await
            .expect("other"),
        ChunkWrite::Conflict {
            recorded: "drsjob-a".into()
        },
        "another job for a recorded chunk is refused, naming the recorded one"
    );
    assert!(
        history
            .record_chunk_job(&id, 1, 9, "drsjob-z")
            .await
            .is_err(),
        "a chunk that was never planned is an error"
    );
    let got = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(
        got.job_ids,
        vec!["drsjob-b".to_string(), "drsjob-a".to_string()]
    );
    assert_eq!(got.chunks[0].job_id.as_deref(), Some("drsjob-a"));
    assert_eq!(got.chunks[1].job_id.as_deref(), Some("drsjob-b"));
    assert_eq!(got.planned_servers(), vec!["s-1", "s-2", "s-3"]);
    assert_eq!(got.started_at, "2030-01-01T00:00:00Z");
}

/// A check keeps the wave's first start time, records its status, counts and reason, and the
/// per-server detail of each job.
pub async fn wave_check_keeps_the_first_start_time_and_records_jobs(
    history: &impl History,
    prefix: &str,
) {
    let id = exec_arn(prefix, "check");
    history
        .plan_wave(wave(&id, 2, "2030-01-01T00:00:00Z"))
        .await
        .expect("plan");
    history
        .record_chunk_job(&id, 2, 1, "drsjob-c")
        .await
        .expect("launch");
    let checked = WaveRecord {
        status: WaveStatus::Failed,
        started_at: "2030-01-01T00:30:00Z".into(),
        ended_at: Some("2030-01-01T00:31:00Z".into()),
        checks: 3,
        servers: ServerCounts {
            total: 2,
            launched: 1,
            failed: 1,
            launching: 0,
            optional_failed: 0,
        },
        reason: "s-2 FAILED".into(),
        job_ids: vec!["drsjob-c".into()],
        ..wave(&id, 2, "")
    };
    let job = JobRecord {
        execution_id: id.clone(),
        wave_index: 2,
        job_id: "drsjob-c".into(),
        job_status: JobStatus::Completed,
        servers: BTreeMap::from([
            (
                "s-1".to_string(),
                ServerRecord {
                    launch_status: LaunchStatus::Launched,
                    recovery_instance_id: Some("i-1".into()),
                    required: true,
                    failure_reason: None,
                    action_warnings: vec![
                        "optional post-launch action 'Install agent' FAILED: timed out".into(),
                    ],
                },
            ),
            (
                "s-2".to_string(),
                ServerRecord {
                    launch_status: LaunchStatus::Failed,
                    recovery_instance_id: None,
                    required: false,
                    failure_reason: Some("InsufficientInstanceCapacity: no capacity".into()),
                    action_warnings: Vec::new(),
                },
            ),
        ]),
        updated_at: "2030-01-01T00:31:00Z".into(),
    };
    history
        .record_wave_check(checked.clone(), vec![job.clone()])
        .await
        .expect("check");
    let got = history.get_wave(&id, 2).await.expect("get").expect("wave");
    assert_eq!(
        got,
        WaveRecord {
            started_at: "2030-01-01T00:00:00Z".into(),
            chunks: got.chunks.clone(),
            ..checked
        },
        "everything but the start time and the chunk plan is the check's"
    );
    assert_eq!(
        got.chunks[0].job_id.as_deref(),
        Some("drsjob-c"),
        "the plan stays"
    );
    assert_eq!(history.list_jobs(&id).await.expect("jobs"), vec![job]);
    assert!(
        history
            .list_jobs(&exec_arn(prefix, "none"))
            .await
            .expect("none")
            .is_empty()
    );
}
