//! The behaviour of the [`History`] seam, written once. [`crate::MemoryHistory`] runs it in this
//! crate's tests and `DynamoHistory` over moto in the worker's `tests/against_services/`: a
//! fake that passes the same suite as the real adapter cannot quietly drift from it. Here: the
//! list of cases, how to run them, and the records they share; the cases live by role in
//! `locks`, `executions`, `waves`, `gates` and `janitor`; `large_waves` sizes the items of a
//! wave and a clean-up at DRS's scale ([`StoredItems`]).
//!
//! Each check takes a fresh history (an empty table) and a unique execution ARN prefix, and
//! panics with the rule it checks when the implementation breaks it.

use drs_waves_contract::{
    ExecutionStatus, GateKind, Mode, OperatorAction, OperatorActionKind, PendingGate, ServerCounts,
    WaveStatus,
};

use crate::{ExecutionRecord, History, HistoryError, WaveChunk, WaveRecord};

// The cases, one module per role; each is a `pub async fn` the macro below names by its path
// here.
mod executions;
mod gates;
mod health;
mod janitor;
mod large_waves;
mod locks;
mod many_gates;
mod network;
mod waves;

pub use executions::{
    close_is_an_upsert_that_keeps_what_was_recorded, execution_create_is_idempotent,
    recent_executions_of_a_plan_and_learned_timing,
    the_report_outcome_is_recorded_on_the_execution,
};
pub use gates::a_gate_is_answered_once_and_a_cancel_never_misses_it;
pub use health::wave_health_is_replaced_whole;
pub use janitor::{
    running_executions_and_the_janitor_lease, terminate_jobs_need_an_execution_record,
};
pub use large_waves::{
    a_drill_of_10000_instances_is_cleaned_up_in_items_under_100_kb,
    a_wave_of_1600_servers_is_stored_in_items_under_100_kb,
};
pub use locks::run_lock_rules;
pub use many_gates::several_gates_wait_at_once;
pub use network::a_network_recovery_is_recorded_per_action;
pub use waves::{
    a_retry_adds_the_next_attempts_chunks_to_a_failed_wave, a_wave_keeps_its_account,
    launch_points_are_replaced_whole, wave_check_keeps_the_first_start_time_and_records_jobs,
    wave_plan_is_kept_and_chunk_jobs_are_recorded_once,
};

/// The cases of the suite, by name, in the order [`run_all`] runs them.
pub const CASES: [&str; 18] = [
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
    "several_gates_wait_at_once",
    "a_wave_keeps_its_account",
    "wave_health_is_replaced_whole",
    "a_network_recovery_is_recorded_per_action",
    "a_wave_of_1600_servers_is_stored_in_items_under_100_kb",
    "a_drill_of_10000_instances_is_cleaned_up_in_items_under_100_kb",
];

/// Runs one case of the suite by its name (one of [`CASES`]).
pub async fn run_case(name: &str, history: &(impl History + StoredItems), prefix: &str) {
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
        "several_gates_wait_at_once" => several_gates_wait_at_once(history, prefix).await,
        "a_wave_keeps_its_account" => a_wave_keeps_its_account(history, prefix).await,
        "wave_health_is_replaced_whole" => wave_health_is_replaced_whole(history, prefix).await,
        "a_network_recovery_is_recorded_per_action" => {
            a_network_recovery_is_recorded_per_action(history, prefix).await
        }
        "a_wave_of_1600_servers_is_stored_in_items_under_100_kb" => {
            a_wave_of_1600_servers_is_stored_in_items_under_100_kb(history, prefix).await
        }
        "a_drill_of_10000_instances_is_cleaned_up_in_items_under_100_kb" => {
            a_drill_of_10000_instances_is_cleaned_up_in_items_under_100_kb(history, prefix).await
        }
        other => panic!("no conformance case named {other}"),
    }
}

/// What a history stores for an execution, item by item, for the cases that bound item sizes:
/// the DynamoDB adapter reads its items back, the fake builds the items the adapter would
/// write for what it holds (the crate's `items` module); both size them as DynamoDB does.
pub trait StoredItems {
    /// Every item of the execution's partition: its sort key and its size in bytes.
    fn stored_item_sizes(
        &self,
        execution_id: &str,
    ) -> impl std::future::Future<Output = Result<Vec<(String, usize)>, HistoryError>> + Send;
}

/// Runs every case on `history` (`prefix` keeps names unique in a shared table), each to its
/// end whatever the others do, and fails naming every case that failed: one broken rule does not
/// hide the rest. For an adapter whose service is costly to start once per case (DynamoDB over
/// moto); the fake runs one test per case ([`crate::history_conformance_tests`]).
pub async fn run_all(history: &(impl History + StoredItems), prefix: &str) {
    run_cases("history", &CASES, |name| run_case(name, history, prefix)).await;
}

/// Runs `run` for every case of `suite`, each to its end even when another panicked, and panics
/// naming every case that failed, with why. Every conformance suite runs its real adapter this
/// way (the worker's DRS and Step Functions suites too).
pub async fn run_cases<F, Fut>(suite: &str, cases: &'static [&'static str], mut run: F)
where
    F: FnMut(&'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    let mut failed = Vec::new();
    for &name in cases {
        let case = std::panic::AssertUnwindSafe(run(name));
        if let Err(panic) = case.catch_unwind().await {
            failed.push(format!("{name}: {}", panic_message(panic.as_ref())));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {suite} conformance cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// What a panic said (the message of `panic!`/`assert!`), or nothing when it carried no text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// One `#[tokio::test]` per case of the suite, each on the history `$make` gives (an async fn of
/// the case's name returning `(history, prefix)`).
#[macro_export]
macro_rules! history_conformance_tests {
    ($make:path) => {
        $crate::history_conformance_tests!(@cases $make; run_lock_rules, execution_create_is_idempotent, close_is_an_upsert_that_keeps_what_was_recorded, terminate_jobs_need_an_execution_record, wave_plan_is_kept_and_chunk_jobs_are_recorded_once, wave_check_keeps_the_first_start_time_and_records_jobs, launch_points_are_replaced_whole, running_executions_and_the_janitor_lease, recent_executions_of_a_plan_and_learned_timing, the_report_outcome_is_recorded_on_the_execution, a_gate_is_answered_once_and_a_cancel_never_misses_it, a_retry_adds_the_next_attempts_chunks_to_a_failed_wave, several_gates_wait_at_once, a_wave_keeps_its_account, wave_health_is_replaced_whole, a_network_recovery_is_recorded_per_action, a_wave_of_1600_servers_is_stored_in_items_under_100_kb, a_drill_of_10000_instances_is_cleaned_up_in_items_under_100_kb);
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
        action: None,
    }
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
        account: None,
        reason: String::new(),
        learned: None,
        completion_ms: None,
    }
}
