//! A gate whose token was lost opens again (the machine's Retry after its heartbeat timed out):
//! the worker records the fresh token with the deadline the gate first opened with, says it
//! re-opened, does not notify the operator twice, and fails a re-opened gate that is already
//! past its deadline with DrsWaves.GateTimedOut. The test-only fault point drops the first
//! token unrecorded.

use super::*;
use crate::token::TaskToken;

fn reopened_gate(opened_at: &str, reopened: u32, timeout_seconds: u32) -> AwaitOperatorInput {
    let mut spec = wave(2, "app", &[server_id(1)], &[]);
    spec.approval = Some(drs_waves_contract::ApprovalGate {
        timeout_seconds,
        notify: Some("arn:aws:sns:us-east-1:123456789012:dr-team".into()),
    });
    AwaitOperatorInput {
        timeout_seconds,
        opened_at: Some(opened_at.into()),
        reopened,
        gate_heartbeat_seconds: Some(300),
        ..gate_input(GateKind::Approval, spec)
    }
}

#[tokio::test]
async fn a_reopened_gate_keeps_its_first_deadline_and_notifies_once() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let notifier = crate::testing::RecordingNotifier::new();
    let handlers = w.handlers().with_notifier(Arc::new(notifier.clone()));
    // First opened at 00:05 (the handlers' clock says 00:10), with a one-hour timeout.
    handlers
        .await_operator(
            reopened_gate("2030-01-01T00:05:00.123Z", 1, 3600),
            &TaskToken::new("fresh-token"),
        )
        .await
        .expect("the gate waits again");
    let gate = w
        .history
        .execution(EXEC)
        .and_then(super::only_gate)
        .expect("the re-opened gate");
    assert_eq!(gate.token, "fresh-token");
    assert_eq!(gate.since, "2030-01-01T00:05:00Z");
    assert_eq!(gate.timeout_at, "2030-01-01T01:05:00Z");
    assert_eq!((gate.reopened, gate.heartbeat_seconds), (1, Some(300)));
    assert!(
        notifier.sent().is_empty(),
        "the operator was told when it first opened"
    );
}

#[tokio::test]
async fn a_reopened_gate_past_its_deadline_fails_as_timed_out() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    // Opened at 00:00 with a 5-minute timeout; re-opened at 00:10.
    let result = w
        .handlers()
        .await_operator(
            reopened_gate("2030-01-01T00:00:00Z", 2, 300),
            &TaskToken::new("late-token"),
        )
        .await;
    match result {
        Err(TaskError::GateTimedOut(cause)) => assert_eq!(
            cause,
            "The approval gate before wave 2 'app' waited 300 s (5 min) with no answer; no later wave started."
        ),
        other => panic!("expected GateTimedOut, got {other:?}"),
    }
    let record = w.history.execution(EXEC).expect("record");
    assert!(
        super::only_gate(record).is_none(),
        "nothing recorded for a gate past its deadline"
    );
}

#[tokio::test]
async fn the_fault_point_drops_only_the_first_token_of_a_gate() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let handlers = w.handlers_with(Faults::armed(
        FaultPoint::DropFirstGateToken,
        FaultAction::Exit,
    ));
    handlers
        .await_operator(
            reopened_gate("2030-01-01T00:09:00Z", 0, 3600),
            &TaskToken::new("lost-token"),
        )
        .await
        .expect("dropped quietly");
    assert!(
        w.history
            .execution(EXEC)
            .and_then(super::only_gate)
            .is_none(),
        "the first token is never recorded"
    );
    handlers
        .await_operator(
            reopened_gate("2030-01-01T00:09:00Z", 1, 3600),
            &TaskToken::new("second-token"),
        )
        .await
        .expect("the re-opened gate waits");
    assert_eq!(
        w.history
            .execution(EXEC)
            .and_then(super::only_gate)
            .map(|g| g.token),
        Some("second-token".into())
    );
}
