//! Tests of `gate`.

use super::*;

mod picking;

fn gate(kind: GateKind, attempts: u32, max: u32) -> PendingGate {
    PendingGate {
        kind,
        wave_index: 2,
        wave_name: "app".into(),
        token: "tok".into(),
        since: "2026-11-28T10:00:00Z".into(),
        timeout_at: "2026-11-28T14:00:00Z".into(),
        attempts,
        max_attempts: max,
        reason: "s-1 FAILED".into(),
        heartbeat_seconds: None,
        reopened: 0,
        action: None,
    }
}

#[test]
fn a_stop_cause_names_the_gate_the_wave_who_and_when() {
    assert_eq!(
        stop_cause(
            &gate(GateKind::Approval, 0, 1),
            "arn:aws:iam::1:user/alice",
            "2026-11-28T10:05:00Z"
        ),
        "Stopped at the approval gate of wave 2 'app' by arn:aws:iam::1:user/alice at 2026-11-28T10:05:00Z."
    );
    assert!(
        stop_cause(&gate(GateKind::Decision, 1, 2), "me", "t")
            .starts_with("Stopped at the decision after wave 2 'app' failed by me")
    );
}

#[test]
fn a_retry_past_max_attempts_is_refused_before_anything_is_sent() {
    assert_eq!(
        retry_refusal(&gate(GateKind::Decision, 2, 2), "x-1").as_deref(),
        Some(
            "wave 2 app has had its 2 launches (maxAttempts): skip or stop (drs-waves decide x-1 skip|stop)"
        )
    );
    assert_eq!(retry_refusal(&gate(GateKind::Decision, 1, 2), "x-1"), None);
}

#[test]
fn a_retry_with_nothing_to_launch_again_says_why() {
    let g = gate(GateKind::Decision, 1, 2);
    let launching = RetryPlan {
        relaunch: vec![],
        still_launching: vec!["s-1".into(), "s-2".into()],
    };
    assert_eq!(
        relaunch_refusal(&g, &launching, "x-1"),
        "wave 2 app has nothing to launch again yet: 2 required server(s) still launching (s-1, s-2). Wait for them (drs-waves follow x-1) and decide again, or skip|stop"
    );
    assert_eq!(
        relaunch_refusal(&g, &RetryPlan::default(), "x-1"),
        "wave 2 app has nothing to launch again: every required server launched. Skip or stop (drs-waves decide x-1 skip|stop)"
    );
}

#[test]
fn a_gate_past_its_timeout_is_not_answered_nor_recorded() {
    let g = gate(GateKind::Approval, 0, 1);
    assert_eq!(
        timed_out(
            &g,
            time::macros::datetime!(2026-11-28 13:59:59 UTC),
            Answer::Approve
        ),
        None
    );
    let why = timed_out(
        &g,
        time::macros::datetime!(2026-11-28 14:00:00 UTC),
        Answer::Approve,
    )
    .expect("timed out");
    assert!(
        why.contains("timed out at 2026-11-28T14:00:00Z") && why.contains("was not recorded"),
        "{why}"
    );
}

#[test]
fn answers_match_their_gate_kinds() {
    assert!(Answer::Approve.answers(GateKind::Approval));
    assert!(!Answer::Approve.answers(GateKind::Decision));
    assert!(!Answer::Retry.answers(GateKind::Approval));
    assert!(Answer::Stop.answers(GateKind::Approval) && Answer::Stop.answers(GateKind::Decision));
}

#[test]
fn a_gate_that_is_not_waiting_says_what_the_execution_does() {
    assert_eq!(
        doing(
            &SfnStatus::Running,
            Some("Wave 1 db: wait"),
            None,
            &[],
            "x-1"
        ),
        "it is RUNNING in state 'Wave 1 db: wait'"
    );
    assert_eq!(
        doing(&SfnStatus::Succeeded, None, None, &[], "x-1"),
        "it has ended: SUCCEEDED"
    );
    let waiting = doing(
        &SfnStatus::Running,
        Some("Wave 2 app: decide?"),
        None,
        &[gate(GateKind::Decision, 1, 2)],
        "x-1",
    );
    assert!(
        waiting.contains("drs-waves decide x-1 retry|skip|stop"),
        "{waiting}"
    );
}

#[test]
fn a_refused_token_before_the_deadline_is_a_reopening_gate_after_it_a_timed_out_one() {
    let g = gate(GateKind::Approval, 0, 1);
    let before =
        drs_waves_rules::parse_time(&g.timeout_at).expect("deadline") - time::Duration::seconds(60);
    let reopening = gone_token_text(&g, Answer::Approve, before);
    assert!(
        reopening.contains("is re-opening") && reopening.contains("Answer again"),
        "{reopening}"
    );
    let late = gone_token_text(&g, Answer::Approve, before + time::Duration::seconds(120));
    assert!(late.contains("had already timed out"), "{late}");
}

#[test]
fn a_gate_state_without_a_recorded_token_is_said_to_be_reopening() {
    let reopening = doing(
        &SfnStatus::Running,
        Some("Wave 2 app: approve?"),
        None,
        &[],
        "x-1",
    );
    assert!(
        reopening.contains("re-opening because its token was lost")
            && reopening.contains("drs-waves follow x-1"),
        "{reopening}"
    );
    assert!(gate_states::is_gate("Wave 3 web: decide?"));
    assert!(!gate_states::is_gate("Wave 3 web: done?"));
}

#[test]
fn the_cancel_cause_is_the_workers() {
    let a = OperatorAction {
        action: OperatorActionKind::Cancel,
        wave_index: None,
        wave_name: None,
        by: "arn:aws:iam::1:user/alice".into(),
        at: "2026-11-28T10:00:00Z".into(),
    };
    assert_eq!(
        cancel_cause(&a),
        "Cancelled by arn:aws:iam::1:user/alice at 2026-11-28T10:00:00Z: a drill's recovery instances are terminated; a recovery's are kept."
    );
}

#[test]
fn a_retry_of_a_failed_action_launches_nothing_and_says_so() {
    let gate = PendingGate {
        action: Some("Wave 2 app: before 1 (fail over database)".into()),
        ..gate(GateKind::Decision, 0, 1)
    };
    assert_eq!(
        answered_text(Answer::Retry, &gate, "x-1"),
        "Retry of Wave 2 app: before 1 (fail over database) of x-1: the action runs again."
    );
    assert_eq!(
        answered_text(Answer::Skip, &gate, "x-1"),
        "Skipped Wave 2 app: before 1 (fail over database) of x-1: the execution goes on without it."
    );
}
