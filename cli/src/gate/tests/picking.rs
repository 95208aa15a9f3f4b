//! Which gate an answer picks when waves side by side wait at several, and the refusals.

use super::*;

fn at(kind: GateKind, index: u32, name: &str) -> PendingGate {
    PendingGate {
        wave_index: index,
        wave_name: name.into(),
        token: format!("tok-{}", drs_waves_contract::gate_key(kind, index)),
        ..gate(kind, 1, 3)
    }
}

fn picked(
    gates: &[PendingGate],
    answer: Answer,
    wave: Option<&str>,
) -> Result<Option<String>, String> {
    pick(gates, answer, wave, "drill-1").map(|g| g.map(|g| g.key()))
}

#[test]
fn one_gate_of_the_asked_kind_is_answered_as_before_without_wave() {
    let gates = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Decision, 4, "batch"),
    ];
    assert_eq!(
        picked(&gates, Answer::Approve, None),
        Ok(Some("approve_w3".into()))
    );
    assert_eq!(
        picked(&gates, Answer::Retry, None),
        Ok(Some("decide_w4".into()))
    );
    assert_eq!(
        picked(&gates, Answer::Skip, None),
        Ok(Some("decide_w4".into()))
    );
    // The one gate, named all the same: allowed.
    assert_eq!(
        picked(&gates, Answer::Approve, Some("web")),
        Ok(Some("approve_w3".into()))
    );
}

#[test]
fn no_gate_of_the_asked_kind_is_none_for_the_caller_to_explain() {
    let gates = [at(GateKind::Decision, 4, "batch")];
    assert_eq!(picked(&gates, Answer::Approve, None), Ok(None));
    assert_eq!(picked(&gates, Answer::Approve, Some("4")), Ok(None));
    assert_eq!(picked(&[], Answer::Stop, None), Ok(None));
}

#[test]
fn several_gates_need_wave_and_the_refusal_names_them_by_wave_and_kind() {
    let gates = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Approval, 5, "db"),
    ];
    let refusal = picked(&gates, Answer::Approve, None).expect_err("refused");
    assert_eq!(
        refusal,
        "drill-1 waits at 2 approval gates: the approval gate of wave 3 'web', the approval gate of wave 5 'db'. \
         Say which with --wave <name or index>, e.g. drs-waves approve drill-1 --wave 3"
    );
    // A stop could answer an approval or a decision: both are listed.
    let mixed = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Decision, 4, "batch"),
    ];
    let refusal = picked(&mixed, Answer::Stop, None).expect_err("refused");
    assert!(
        refusal.contains("waits at 2 gates or decisions")
            && refusal.contains("the approval gate of wave 3 'web'")
            && refusal.contains("the decision after wave 4 'batch' failed")
            && refusal.contains("drs-waves stop drill-1 --wave 3"),
        "{refusal}"
    );
}

#[test]
fn wave_picks_by_name_or_index() {
    let gates = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Approval, 5, "db"),
    ];
    assert_eq!(
        picked(&gates, Answer::Approve, Some("db")),
        Ok(Some("approve_w5".into()))
    );
    assert_eq!(
        picked(&gates, Answer::Approve, Some("3")),
        Ok(Some("approve_w3".into()))
    );
    assert_eq!(
        picked(&gates, Answer::Approve, Some(" 5 ")),
        Ok(Some("approve_w5".into()))
    );
    let mixed = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Decision, 4, "batch"),
    ];
    assert_eq!(
        picked(&mixed, Answer::Stop, Some("batch")),
        Ok(Some("decide_w4".into()))
    );
}

#[test]
fn a_wave_with_no_open_gate_of_the_kind_is_refused_naming_the_open_ones() {
    let gates = [
        at(GateKind::Decision, 4, "batch"),
        at(GateKind::Decision, 6, "jobs"),
    ];
    let refusal = picked(&gates, Answer::Retry, Some("web")).expect_err("refused");
    assert_eq!(
        refusal,
        "drill-1 has none of its open decisions at wave 'web': open are the decision after wave 4 'batch' failed, \
         the decision after wave 6 'jobs' failed. Say one of them with --wave <name or index>, \
         e.g. drs-waves decide drill-1 retry --wave 4"
    );
    // The one gate of the kind, but --wave names another wave: refused, not guessed.
    let one = [at(GateKind::Approval, 3, "web")];
    let refusal = picked(&one, Answer::Approve, Some("7")).expect_err("refused");
    assert!(
        refusal.contains("open is the approval gate of wave 3 'web'"),
        "{refusal}"
    );
}

#[test]
fn a_stop_naming_a_wave_with_both_a_gate_and_a_decision_is_refused() {
    let gates = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Decision, 3, "web"),
    ];
    let refusal = picked(&gates, Answer::Stop, Some("web")).expect_err("refused");
    assert!(
        refusal.starts_with("--wave 'web' names 2 open gates"),
        "{refusal}"
    );
    assert_eq!(
        picked(&gates, Answer::Approve, Some("web")),
        Ok(Some("approve_w3".into()))
    );
}

#[test]
fn doing_lists_every_open_gate_with_its_wave() {
    let gates = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Decision, 4, "batch"),
    ];
    let text = doing(&SfnStatus::Running, None, None, &gates, "drill-1");
    assert_eq!(
        text,
        "it waits at 2 gates: the approval gate of wave 3 'web' (drs-waves approve|stop drill-1 --wave 3); \
         the decision after wave 4 'batch' failed (drs-waves decide drill-1 retry|skip|stop --wave 4)"
    );
}

#[test]
fn a_cancel_names_every_gate_it_answered() {
    let what = "the drill's instances are terminated; it ends CANCELLED";
    assert_eq!(
        cancelled_text("drill-1", &[], what),
        format!("Cancel of drill-1 requested: its next task takes the cancel path; {what}")
    );
    assert_eq!(
        cancelled_text("drill-1", &[at(GateKind::Approval, 3, "web")], what),
        format!("Cancelled drill-1 at the approval gate of wave 3 'web': {what}")
    );
    let gates = [
        at(GateKind::Approval, 3, "web"),
        at(GateKind::Decision, 4, "batch"),
    ];
    assert_eq!(
        cancelled_text("drill-1", &gates, what),
        format!(
            "Cancelled drill-1 at 2 gates (the approval gate of wave 3 'web', the decision after wave 4 'batch' failed): {what}"
        )
    );
    assert_eq!(cancel_wave(&gates), (None, None));
    assert_eq!(cancel_wave(&gates[..1]), (Some(3), Some("web".into())));
}
