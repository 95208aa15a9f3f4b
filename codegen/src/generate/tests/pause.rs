//! A pause before a wave (`pauseBeforeMinutes`): a Wait state between the waves it waits for
//! and its own first state, counted in the execution's time budget.

use super::*;

fn paused(pause: &str) -> Plan {
    plan(&format!(
        "name: shop\ntasks: {{heartbeatSeconds: 5}}\n\
         defaults: {{launchTimeoutSeconds: 60, polling: {{minWaitSeconds: 2, maxWaitSeconds: 10, expectedLaunchSeconds: 30}}}}\n\
         waves:\n\
         \x20 - name: db\n    servers: {{ids: [s-a1b2c3d4e5f600001]}}\n\
         \x20 - name: web\n    {pause}\n    approval: {{before: true, timeoutMinutes: 5}}\n    servers: {{ids: [s-a1b2c3d4e5f600002]}}\n"
    ))
}

#[test]
fn the_wave_before_a_paused_wave_goes_to_the_pause_which_goes_to_its_gate() {
    let m = generate(
        &paused("pauseBeforeMinutes: 10"),
        &ActivityResources::Placeholders,
    );
    assert_eq!(
        without_comment(state_json(&m, "Wave 2 web: pause")),
        json!({"Type": "Wait", "Seconds": 600, "Next": "Wave 2 web: approve?"})
    );
    let done = state_json(&m, "Wave 1 db: done?");
    assert_eq!(
        done["Choices"][1]["Next"],
        json!("Wave 2 web: pause"),
        "{done}"
    );
    assert_eq!(m.validate(), Vec::new(), "the machine is valid");
}

#[test]
fn a_plan_without_a_pause_has_no_pause_state() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert!(!m.states.0.iter().any(|(n, _)| n.ends_with(": pause")));
}

#[test]
fn the_pause_is_counted_in_the_derived_execution_timeout() {
    let without =
        plan("name: shop\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n");
    let with = plan(
        "name: shop\nwaves:\n  - name: db\n    pauseBeforeSeconds: 900\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n",
    );
    assert_eq!(
        with.execution_timeout_seconds - without.execution_timeout_seconds,
        900
    );
}

#[test]
fn a_pause_given_twice_or_not_positive_is_refused_naming_the_field() {
    for (pause, field) in [
        (
            "pauseBeforeMinutes: 1\n    pauseBeforeSeconds: 60",
            "pauseBeforeMinutes, pauseBeforeSeconds",
        ),
        ("pauseBeforeMinutes: 0", "pauseBeforeMinutes"),
        ("pauseBeforeSeconds: -5", "pauseBeforeSeconds"),
        ("pauseBeforeMinutes: 0.01", "pauseBeforeMinutes"),
    ] {
        let yaml = format!(
            "name: shop\nwaves:\n  - name: db\n    {pause}\n    servers: {{ids: [s-a1b2c3d4e5f600001]}}\n"
        );
        let err = load_str("test.plan.yaml", &yaml)
            .err()
            .unwrap_or_else(|| panic!("{pause} was accepted"))
            .to_string();
        assert!(err.contains("test.plan.yaml"), "{err}");
        assert!(err.contains(field), "{pause}: {err}");
    }
}
