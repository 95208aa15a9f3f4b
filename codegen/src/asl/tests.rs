//! The ASL model: what validate() refuses and how states render.

use serde_json::json;

use super::*;

fn task(next: Transition) -> Task {
    Task {
        comment: None,
        resource: "arn:aws:states:us-east-1:000000000000:activity:a".into(),
        parameters: None,
        result_selector: None,
        result_path: None,
        timeout_seconds: Some(60),
        heartbeat_seconds: Some(10),
        retry: vec![],
        catch: vec![],
        transition: next,
    }
}

fn succeed() -> Succeed {
    Succeed { comment: None }
}

/// Given a sound two-state machine, with `change` applied.
fn machine(change: impl FnOnce(&mut StateMachine)) -> StateMachine {
    let mut states = States::default();
    states.push("A", task(Transition::next("Done")));
    states.push("Done", succeed());
    let mut m = StateMachine {
        comment: None,
        start_at: "A".into(),
        timeout_seconds: Some(100),
        states,
    };
    change(&mut m);
    m
}

fn task_mut<'a>(m: &'a mut StateMachine, name: &str) -> &'a mut Task {
    match m.states.0.iter_mut().find(|(n, _)| n == name) {
        Some((_, State::Task(t))) => t,
        _ => panic!("no task {name}"),
    }
}

#[test]
fn a_sound_machine_has_no_errors() {
    assert_eq!(machine(|_| {}).validate(), vec![]);
}

#[test]
fn rejects_duplicate_state_names() {
    let m = machine(|m| m.states.push("Done", succeed()));
    assert_eq!(m.validate(), vec![AslError::DuplicateState("Done".into())]);
}

#[test]
fn rejects_a_next_that_names_no_state() {
    let m = machine(|m| task_mut(m, "A").transition = Transition::next("Nowhere"));
    let errors = m.validate();
    assert!(errors.contains(&AslError::DanglingTarget {
        state: "A".into(),
        field: "Next",
        target: "Nowhere".into()
    }));
    assert!(errors.contains(&AslError::Unreachable("Done".into())));
}

#[test]
fn rejects_a_dangling_catch_target() {
    let m = machine(|m| {
        task_mut(m, "A").catch = vec![Catcher {
            error_equals: vec![STATES_ALL.into()],
            result_path: None,
            next: "Gone".into(),
        }]
    });
    assert_eq!(
        m.validate(),
        vec![AslError::DanglingTarget {
            state: "A".into(),
            field: "Catch.Next",
            target: "Gone".into()
        }]
    );
}

#[test]
fn rejects_a_dangling_choice_default_and_rule() {
    let m = machine(|m| {
        task_mut(m, "A").transition = Transition::next("C");
        m.states.push(
            "C",
            Choice {
                comment: None,
                choices: vec![ChoiceRule::new(Condition::is_present("$.x"), "Done")],
                default: Some("Elsewhere".into()),
            },
        );
        m.states.push(
            "D",
            Choice {
                comment: None,
                choices: vec![ChoiceRule::new(Condition::is_present("$.x"), "Missing")],
                default: None,
            },
        );
    });
    let errors = m.validate();
    assert!(errors.contains(&AslError::DanglingTarget {
        state: "C".into(),
        field: "Default",
        target: "Elsewhere".into()
    }));
    assert!(errors.contains(&AslError::DanglingTarget {
        state: "D".into(),
        field: "Choices.Next",
        target: "Missing".into()
    }));
}

#[test]
fn rejects_an_unknown_start_at() {
    let m = machine(|m| m.start_at = "Z".into());
    let errors = m.validate();
    assert_eq!(errors[0], AslError::UnknownStartAt("Z".into()));
}

#[test]
fn rejects_unreachable_states() {
    let m = machine(|m| m.states.push("Orphan", succeed()));
    assert_eq!(m.validate(), vec![AslError::Unreachable("Orphan".into())]);
}

#[test]
fn a_state_reached_only_through_catch_is_reachable() {
    let m = machine(|m| {
        m.states.push(
            "Oops",
            Fail {
                comment: None,
                error: FailField::Error("E".into()),
                cause: FailCause::Cause("c".into()),
            },
        );
        task_mut(m, "A").catch = vec![Catcher {
            error_equals: vec![STATES_ALL.into()],
            result_path: None,
            next: "Oops".into(),
        }];
    });
    assert_eq!(m.validate(), vec![]);
}

#[test]
fn rejects_a_machine_with_no_terminal_state() {
    let m = machine(|m| {
        m.states.0.retain(|(n, _)| n != "Done");
        task_mut(m, "A").transition = Transition::next("W");
        m.states.push(
            "W",
            Wait {
                comment: None,
                duration: WaitDuration::Seconds(1),
                transition: Transition::next("A"),
            },
        );
    });
    assert_eq!(m.validate(), vec![AslError::NoTerminalState]);
}

#[test]
fn end_true_counts_as_terminal() {
    let m = machine(|m| {
        m.states.0.retain(|(n, _)| n != "Done");
        task_mut(m, "A").transition = Transition::End;
    });
    assert_eq!(m.validate(), vec![]);
}

#[test]
fn rejects_states_all_not_alone() {
    let m = machine(|m| {
        task_mut(m, "A").retry = vec![Retrier {
            error_equals: vec!["X".into(), STATES_ALL.into()],
            interval_seconds: None,
            max_attempts: None,
            backoff_rate: None,
        }]
    });
    assert_eq!(
        m.validate(),
        vec![AslError::StatesAllNotAloneAndLast {
            state: "A".into(),
            field: "Retry",
            index: 0
        }]
    );
}

#[test]
fn rejects_states_all_not_last() {
    let catcher = |e: &str| Catcher {
        error_equals: vec![e.into()],
        result_path: None,
        next: "Done".into(),
    };
    let m = machine(|m| task_mut(m, "A").catch = vec![catcher(STATES_ALL), catcher("X")]);
    assert_eq!(
        m.validate(),
        vec![AslError::StatesAllNotAloneAndLast {
            state: "A".into(),
            field: "Catch",
            index: 0
        }]
    );
}

#[test]
fn rejects_an_empty_error_equals() {
    let m = machine(|m| {
        task_mut(m, "A").catch = vec![Catcher {
            error_equals: vec![],
            result_path: None,
            next: "Done".into(),
        }]
    });
    assert_eq!(
        m.validate(),
        vec![AslError::EmptyErrorEquals {
            state: "A".into(),
            field: "Catch",
            index: 0
        }]
    );
}

#[test]
fn rejects_state_names_over_80_characters() {
    let long = "x".repeat(81);
    let m = machine(|m| {
        m.states.0[1].0 = long.clone();
        task_mut(m, "A").transition = Transition::next(long.clone());
    });
    assert_eq!(
        m.validate(),
        vec![AslError::NameTooLong {
            name: long,
            chars: 81
        }]
    );
    let just_fits = "y".repeat(80);
    let m = machine(|m| {
        m.states.0[1].0 = just_fits.clone();
        task_mut(m, "A").transition = Transition::next(just_fits.clone());
    });
    assert_eq!(m.validate(), vec![]);
}

#[test]
fn rejects_a_choice_without_rules() {
    let m = machine(|m| {
        task_mut(m, "A").transition = Transition::next("C");
        m.states.push(
            "C",
            Choice {
                comment: None,
                choices: vec![],
                default: Some("Done".into()),
            },
        );
    });
    assert_eq!(m.validate(), vec![AslError::EmptyChoice("C".into())]);
}

#[test]
fn rejects_a_heartbeat_not_below_the_timeout() {
    let m = machine(|m| task_mut(m, "A").heartbeat_seconds = Some(60));
    assert_eq!(
        m.validate(),
        vec![AslError::HeartbeatNotBelowTimeout {
            state: "A".into(),
            heartbeat: 60,
            timeout: 60
        }]
    );
}

#[test]
fn renders_keys_in_a_fixed_order_and_omits_empty_lists() {
    let m = machine(|m| {
        let t = task_mut(m, "A");
        t.comment = Some("c".into());
        t.parameters = Some(json!({"b": 1, "a.$": "$.a"}));
        t.result_path = Some("$.r".into());
    });
    let rendered = serde_json::to_string(&m).expect("render");
    assert_eq!(
        rendered,
        r#"{"StartAt":"A","TimeoutSeconds":100,"States":{"A":{"Type":"Task","Comment":"c","Resource":"arn:aws:states:us-east-1:000000000000:activity:a","Parameters":{"b":1,"a.$":"$.a"},"ResultPath":"$.r","TimeoutSeconds":60,"HeartbeatSeconds":10,"Next":"Done"},"Done":{"Type":"Succeed"}}}"#
    );
}

#[test]
fn renders_choice_rules_wait_and_fail() {
    let choice = Choice {
        comment: None,
        choices: vec![ChoiceRule::new(
            Condition::And(vec![
                Condition::negate(Condition::is_present("$.a")),
                Condition::string_equals("$.b", "X"),
                Condition::is_string("$.c"),
            ]),
            "N",
        )],
        default: Some("D".into()),
    };
    assert_eq!(
        serde_json::to_value(State::from(choice)).expect("render"),
        json!({"Type": "Choice", "Choices": [{"And": [
            {"Not": {"Variable": "$.a", "IsPresent": true}},
            {"Variable": "$.b", "StringEquals": "X"},
            {"Variable": "$.c", "IsString": true}], "Next": "N"}], "Default": "D"})
    );
    let wait = Wait {
        comment: None,
        duration: WaitDuration::SecondsPath("$.w".into()),
        transition: Transition::next("N"),
    };
    assert_eq!(
        serde_json::to_value(State::from(wait)).expect("render"),
        json!({"Type": "Wait", "SecondsPath": "$.w", "Next": "N"})
    );
    let fail = Fail {
        comment: None,
        error: FailField::ErrorPath("$.e.Error".into()),
        cause: FailCause::CausePath("$.e.Cause".into()),
    };
    assert_eq!(
        serde_json::to_value(State::from(fail)).expect("render"),
        json!({"Type": "Fail", "ErrorPath": "$.e.Error", "CausePath": "$.e.Cause"})
    );
}
