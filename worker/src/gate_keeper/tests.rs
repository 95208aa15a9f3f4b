//! The gate keeper against the fakes: it heartbeats recorded gate tokens, fails a gate past its
//! deadline as timed out, and reports a token Step Functions no longer knows.

use std::time::Duration;

use drs_waves_contract::{ErrorName, ExecutionStatus, GateKind, PendingGate};
use time::macros::datetime;

use super::{GateKept, keep_gates, next_round_in};
use crate::testing::{Answer, FakeActivityService, MemoryHistory};
use drs_waves_history::{ExecutionRecord, prelude::*};

const EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:billing:run-1";

fn gate(token: &str, heartbeat: Option<u32>) -> PendingGate {
    PendingGate {
        kind: GateKind::Approval,
        wave_index: 2,
        wave_name: "app".into(),
        token: token.into(),
        since: "2030-01-01T00:00:00Z".into(),
        timeout_at: "2030-01-01T01:00:00Z".into(),
        attempts: 0,
        max_attempts: 1,
        reason: String::new(),
        heartbeat_seconds: heartbeat,
        reopened: 0,
        action: None,
    }
}

async fn waiting_at(history: &MemoryHistory, gate: PendingGate) {
    history
        .create_execution(ExecutionRecord::new(
            EXEC,
            "run-1",
            "billing",
            ExecutionStatus::Running,
            "2030-01-01T00:00:00Z",
        ))
        .await
        .expect("record");
    assert!(history.open_gate(EXEC, gate).await.expect("open"));
}

#[tokio::test]
async fn a_recorded_gate_is_heartbeated_while_it_waits() {
    let (history, sfn) = (MemoryHistory::new(), FakeActivityService::new());
    waiting_at(&history, gate("tok-1", Some(30))).await;
    let (kept, smallest) = keep_gates(&history, &sfn, datetime!(2030-01-01 00:30:00 UTC))
        .await
        .expect("round");
    assert_eq!(
        kept,
        vec![GateKept::Alive {
            execution_id: EXEC.into(),
            gate: "approve_w2".into()
        }]
    );
    assert_eq!(sfn.heartbeats("tok-1"), 1);
    assert_eq!(smallest, Some(30));
    assert!(
        sfn.answers().is_empty(),
        "a live gate is never answered by the keeper"
    );
}

#[tokio::test]
async fn a_gate_past_its_deadline_is_failed_as_timed_out_naming_the_gate() {
    let (history, sfn) = (MemoryHistory::new(), FakeActivityService::new());
    waiting_at(&history, gate("tok-1", Some(30))).await;
    let (kept, _) = keep_gates(&history, &sfn, datetime!(2030-01-01 01:00:01 UTC))
        .await
        .expect("round");
    assert_eq!(
        kept,
        vec![GateKept::TimedOut {
            execution_id: EXEC.into(),
            gate: "approve_w2".into()
        }]
    );
    match sfn.answers().as_slice() {
        [
            Answer::Failure {
                token,
                error,
                cause,
            },
        ] => {
            assert_eq!(token, "tok-1");
            assert_eq!(error, ErrorName::GateTimedOut.as_str());
            assert_eq!(
                cause,
                "The approval gate before wave 2 'app' waited 3600 s (1 h) with no answer; no later wave started."
            );
        }
        other => panic!("expected one GateTimedOut failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_step_functions_no_longer_knows_is_reported_gone() {
    let (history, sfn) = (MemoryHistory::new(), FakeActivityService::new());
    waiting_at(&history, gate("tok-lost", Some(30))).await;
    sfn.expire_task("tok-lost");
    let (kept, _) = keep_gates(&history, &sfn, datetime!(2030-01-01 00:30:00 UTC))
        .await
        .expect("round");
    assert_eq!(
        kept,
        vec![GateKept::Gone {
            execution_id: EXEC.into(),
            gate: "approve_w2".into(),
            reason: "TaskTimedOut".into()
        }]
    );
}

#[tokio::test]
async fn a_gate_without_a_heartbeat_of_its_own_is_left_alone() {
    let (history, sfn) = (MemoryHistory::new(), FakeActivityService::new());
    waiting_at(&history, gate("tok-old", None)).await;
    let (kept, smallest) = keep_gates(&history, &sfn, datetime!(2030-01-01 01:30:00 UTC))
        .await
        .expect("round");
    assert!(kept.is_empty());
    assert_eq!(smallest, None);
    assert_eq!(sfn.heartbeats("tok-old"), 0);
    assert!(sfn.answers().is_empty());
}

/// Waves side by side: an approval before wave 3 and a decision after wave 4 wait at once;
/// the keeper heartbeats both tokens, and a token that is gone does not stop the other's.
#[tokio::test]
async fn every_pending_gate_of_an_execution_is_heartbeated() {
    let (history, sfn) = (MemoryHistory::new(), FakeActivityService::new());
    let approve_w3 = PendingGate {
        wave_index: 3,
        wave_name: "web".into(),
        ..gate("tok-a3", Some(60))
    };
    let decide_w4 = PendingGate {
        kind: GateKind::Decision,
        wave_index: 4,
        wave_name: "batch".into(),
        ..gate("tok-d4", Some(30))
    };
    waiting_at(&history, approve_w3).await;
    assert!(history.open_gate(EXEC, decide_w4).await.expect("open"));
    let (kept, smallest) = keep_gates(&history, &sfn, datetime!(2030-01-01 00:30:00 UTC))
        .await
        .expect("round");
    let alive = |gate: &str| GateKept::Alive {
        execution_id: EXEC.into(),
        gate: gate.into(),
    };
    assert_eq!(kept, vec![alive("approve_w3"), alive("decide_w4")]);
    assert_eq!((sfn.heartbeats("tok-a3"), sfn.heartbeats("tok-d4")), (1, 1));
    assert_eq!(smallest, Some(30), "the smaller heartbeat of the two");

    sfn.expire_task("tok-a3");
    let (kept, _) = keep_gates(&history, &sfn, datetime!(2030-01-01 00:31:00 UTC))
        .await
        .expect("round");
    assert_eq!(
        kept,
        vec![
            GateKept::Gone {
                execution_id: EXEC.into(),
                gate: "approve_w3".into(),
                reason: "TaskTimedOut".into()
            },
            alive("decide_w4")
        ]
    );
    assert_eq!(sfn.heartbeats("tok-d4"), 2);
    assert!(sfn.answers().is_empty());
}

#[test]
fn the_next_round_comes_within_a_third_of_the_smallest_gate_heartbeat() {
    let interval = Duration::from_secs(20);
    assert_eq!(next_round_in(interval, None), interval);
    assert_eq!(next_round_in(interval, Some(300)), interval);
    assert_eq!(next_round_in(interval, Some(30)), Duration::from_secs(10));
    assert_eq!(next_round_in(interval, Some(1)), Duration::from_secs(1));
}
