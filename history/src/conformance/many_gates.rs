//! Conformance cases: several gates at once (waves that run side by side): one pending gate per
//! wave and kind, each answered by its own token, re-opened in its own place, all seen by a
//! cancel.

use drs_waves_contract::{GateKind, OperatorActionKind, PendingGate};

use super::{action, exec_arn, gate, record};
use crate::prelude::*;
use crate::{CancelOutcome, ExecutionRecord};

const CAROL: &str = "arn:aws:iam::123456789012:user/carol";

fn gate_at(kind: GateKind, wave_index: u32, token: &str) -> PendingGate {
    PendingGate {
        wave_index,
        wave_name: format!("wave-{wave_index}"),
        ..gate(kind, token)
    }
}

async fn read(history: &impl History, id: &str) -> ExecutionRecord {
    history
        .get_execution(id)
        .await
        .expect("get")
        .expect("record")
}

fn tokens(r: &ExecutionRecord) -> Vec<&str> {
    r.pending_gates.iter().map(|g| g.token.as_str()).collect()
}

async fn open(history: &impl History, id: &str, g: PendingGate) -> bool {
    history.open_gate(id, g).await.expect("open")
}

/// Two gates open at once are both kept; re-opening one replaces only its own token; answering
/// one leaves the other; a cancel keeps every open gate for the canceller and refuses new ones.
pub async fn several_gates_wait_at_once(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "many-gates");
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    // A decision after wave 4 opened before wave 3's approval: kept in wave order.
    assert!(open(history, &id, gate_at(GateKind::Decision, 4, "tok-d4")).await);
    assert!(open(history, &id, gate_at(GateKind::Approval, 3, "tok-a3")).await);
    let r = read(history, &id).await;
    assert_eq!(
        r.pending_gates,
        vec![
            gate_at(GateKind::Approval, 3, "tok-a3"),
            gate_at(GateKind::Decision, 4, "tok-d4"),
        ],
        "two gates open at once are both kept"
    );

    // Wave 3's approval is opened again (its token was lost): only its own entry changes.
    assert!(open(history, &id, gate_at(GateKind::Approval, 3, "tok-a3-again")).await);
    assert_eq!(
        tokens(&read(history, &id).await),
        vec!["tok-a3-again", "tok-d4"]
    );
    let approve = action(OperatorActionKind::Approve, CAROL, "2030-01-01T00:20:00Z");
    assert!(
        !history
            .answer_gate(&id, "tok-a3", approve.clone())
            .await
            .expect("answer"),
        "the replaced token answers nothing"
    );

    // Answering the decision leaves the approval.
    let skip = action(OperatorActionKind::Skip, CAROL, "2030-01-01T00:21:00Z");
    assert!(
        history
            .answer_gate(&id, "tok-d4", skip.clone())
            .await
            .expect("answer")
    );
    let r = read(history, &id).await;
    assert_eq!(
        tokens(&r),
        vec!["tok-a3-again"],
        "answering one leaves the other"
    );
    assert_eq!(r.operator_actions, vec![skip.clone()]);

    // An approval and a decision of the same wave are two gates.
    assert!(open(history, &id, gate_at(GateKind::Decision, 3, "tok-d3")).await);
    assert!(open(history, &id, gate_at(GateKind::Approval, 5, "tok-a5")).await);
    assert_eq!(
        tokens(&read(history, &id).await),
        vec!["tok-a3-again", "tok-d3", "tok-a5"]
    );

    // A cancel sees every open gate, and refuses a gate that opens after it.
    let cancel = action(OperatorActionKind::Cancel, CAROL, "2030-01-01T00:22:00Z");
    assert_eq!(
        history
            .request_cancel(&id, cancel.clone())
            .await
            .expect("cancel"),
        CancelOutcome::Requested
    );
    assert_eq!(
        tokens(&read(history, &id).await),
        vec!["tok-a3-again", "tok-d3", "tok-a5"],
        "every open gate stays for the canceller to answer"
    );
    assert!(
        !open(history, &id, gate_at(GateKind::Approval, 6, "tok-a6")).await,
        "a gate opened after a cancel is refused"
    );
    for token in ["tok-d3", "tok-a5", "tok-a3-again"] {
        assert!(
            history
                .answer_gate(&id, token, cancel.clone())
                .await
                .expect("answer"),
            "the canceller answers {token}"
        );
    }
    let r = read(history, &id).await;
    assert!(r.pending_gates.is_empty(), "{:?}", r.pending_gates);
    assert_eq!(
        r.operator_actions,
        vec![skip, cancel.clone(), cancel.clone(), cancel.clone(), cancel]
    );
}
