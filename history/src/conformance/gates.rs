//! Conformance cases: the gate and the cancel: a gate answered once, a cancel that never
//! misses it.

use std::collections::BTreeMap;

use drs_waves_contract::{ExecutionStatus, GateKind, Mode, OperatorAction, OperatorActionKind};

use super::{action, exec_arn, gate, record};
use crate::prelude::*;
use crate::{CancelOutcome, ExecutionClose};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:sts::123456789012:assumed-role/dr-operator/bob";

/// A gate is recorded with its token, answered once (by the token it was opened with), and
/// every answer is kept as an operator action; a cancel is recorded once, only while RUNNING,
/// and a gate opened after a cancel is refused (so the gate task sees the cancel); closing the
/// execution clears a gate left open (a timeout).
pub async fn a_gate_is_answered_once_and_a_cancel_never_misses_it(
    history: &impl History,
    prefix: &str,
) {
    let id = exec_arn(prefix, "gates");
    let approve = a_gate_needs_a_record_and_is_answered_once(history, prefix, &id).await;
    a_reopened_gate_replaces_the_first(history, &id, &approve).await;
    let cancel = a_cancel_is_recorded_once_and_refuses_later_gates(history, &id, &approve).await;
    closing_clears_the_gate_and_keeps_the_cancel(history, prefix, &id, approve, cancel).await;
    an_ended_execution_is_not_cancelled(history, prefix).await;
}

/// No gate and no cancel without a record; a gate answered by its token only, once.
async fn a_gate_needs_a_record_and_is_answered_once(
    history: &impl History,
    prefix: &str,
    id: &str,
) -> OperatorAction {
    let id = id.to_string();
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
                action(OperatorActionKind::Cancel, BOB, "2030-01-01T00:00:01Z")
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
    assert_eq!(r.pending_gates, vec![gate(GateKind::Approval, "tok-1")]);
    assert_eq!(
        r.started_by.as_deref(),
        Some("arn:aws:iam::123456789012:user/alice")
    );
    let approve = action(OperatorActionKind::Approve, ALICE, "2030-01-01T00:11:00Z");
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
    assert_eq!(r.pending_gates, vec![]);
    assert_eq!(r.operator_actions, vec![approve.clone()]);
    approve
}

/// A decision opened again by a retried task replaces the first (a new token).
async fn a_reopened_gate_replaces_the_first(
    history: &impl History,
    id: &str,
    approve: &OperatorAction,
) {
    assert!(
        history
            .open_gate(id, gate(GateKind::Decision, "tok-2"))
            .await
            .expect("open")
    );
    assert!(
        history
            .open_gate(id, gate(GateKind::Decision, "tok-3"))
            .await
            .expect("open")
    );
    assert!(
        !history
            .answer_gate(id, "tok-2", approve.clone())
            .await
            .expect("answer")
    );
}

/// A cancel is recorded once, keeps the pending gate for the canceller, and refuses a gate
/// opened after it.
async fn a_cancel_is_recorded_once_and_refuses_later_gates(
    history: &impl History,
    id: &str,
    approve: &OperatorAction,
) -> OperatorAction {
    let cancel = action(OperatorActionKind::Cancel, BOB, "2030-01-01T00:12:00Z");
    assert_eq!(
        history
            .request_cancel(id, cancel.clone())
            .await
            .expect("cancel"),
        CancelOutcome::Requested
    );
    assert_eq!(
        history
            .request_cancel(
                id,
                action(OperatorActionKind::Cancel, ALICE, "2030-01-01T00:13:00Z")
            )
            .await
            .expect("cancel"),
        CancelOutcome::AlreadyRequested(cancel.clone()),
        "the first cancel stands"
    );
    let r = history
        .get_execution(id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(r.cancel_requested, Some(cancel.clone()));
    assert_eq!(
        r.pending_gates
            .iter()
            .map(|g| g.token.as_str())
            .collect::<Vec<_>>(),
        vec!["tok-3"],
        "the pending gate stays for the canceller to answer"
    );
    assert_eq!(r.operator_actions, vec![approve.clone(), cancel.clone()]);
    assert!(
        !history
            .open_gate(id, gate(GateKind::Approval, "tok-4"))
            .await
            .expect("open"),
        "a gate opened after a cancel is refused: its task fails with the cancel"
    );
    cancel
}

/// Closing clears a gate left open and keeps the cancel and the operator actions.
async fn closing_clears_the_gate_and_keeps_the_cancel(
    history: &impl History,
    prefix: &str,
    id: &str,
    approve: OperatorAction,
    cancel: OperatorAction,
) {
    history
        .close_execution(ExecutionClose {
            execution_id: id.to_string(),
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
        .get_execution(id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(r.status, ExecutionStatus::Cancelled);
    assert_eq!(
        r.pending_gates,
        vec![],
        "an ended execution waits at no gate"
    );
    assert_eq!(r.operator_actions, vec![approve, cancel]);
    assert_eq!(
        history
            .request_cancel(
                id,
                action(OperatorActionKind::Cancel, ALICE, "2030-01-01T00:15:00Z")
            )
            .await
            .expect("cancel"),
        CancelOutcome::AlreadyRequested(action(
            OperatorActionKind::Cancel,
            BOB,
            "2030-01-01T00:12:00Z"
        )),
    );
}

/// An execution that is no longer RUNNING is not cancelled.
async fn an_ended_execution_is_not_cancelled(history: &impl History, prefix: &str) {
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
                action(OperatorActionKind::Cancel, ALICE, "2030-01-01T00:15:00Z")
            )
            .await
            .expect("cancel"),
        CancelOutcome::NotRunning(Some(ExecutionStatus::Succeeded)),
    );
}
