//! The plan's RTO and RPO targets: validation, and where they reach the machine.

use drs_codegen::compile_str;
use drs_codegen::contract::{PREFLIGHT_TARGETS_KEY, Targets, WaveTarget};
use drs_codegen::generate::{ActivityResources, names};
use drs_codegen::plan::{self, PlanError};

const IDS: [&str; 2] = ["s-a1b2c3d4e5f600001", "s-a1b2c3d4e5f600002"];

fn yaml(plan_rto: &str, rpo: &str, wave1: &str, wave2: &str) -> String {
    format!(
        "name: p\n{plan_rto}{rpo}waves:\n  - name: a\n    {wave1}servers: {{ids: [{}]}}\n  - name: b\n    {wave2}servers: {{ids: [{}]}}\n",
        IDS[0], IDS[1]
    )
}

fn problems(text: &str) -> Vec<String> {
    match plan::load_str("p.yaml", text) {
        Err(PlanError::Invalid { problems, .. }) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn targets_are_resolved_to_seconds() {
    let text = yaml(
        "rtoMinutes: 30\n",
        "rpoMinutes: 0.5\n",
        "rtoMinutes: 10\n    ",
        "",
    );
    let plan = plan::load_str("p.yaml", &text).expect("valid");
    assert_eq!(
        plan.targets,
        Targets {
            rto_seconds: Some(1800),
            rpo_seconds: Some(30),
            waves: vec![WaveTarget {
                index: 1,
                name: "a".into(),
                rto_seconds: 600
            }],
        }
    );
}

#[test]
fn bad_targets_name_the_field() {
    let p = problems(&yaml("rtoMinutes: 0\n", "rpoMinutes: -1\n", "", ""));
    assert!(
        p.iter()
            .any(|m| m.contains("rtoMinutes: 0 must be a positive")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("rpoMinutes: -1 must be a positive")),
        "{p:?}"
    );
    let p = problems(&yaml("rtoMinutes: 10\n", "", "rtoMinutes: 20\n    ", ""));
    assert_eq!(
        p,
        vec![
            "wave 1 \"a\": rtoMinutes: 20 minutes is more than the plan's rtoMinutes (10): a wave's target counts from the execution's start, so it cannot be later than the whole plan's"
        ]
    );
    let p = problems(&yaml("", "", "rtoMinutes: 5\n    ", "rtoMinutes: 4\n    "));
    assert!(
        p[0].contains(
            "wave 2 \"b\": rtoMinutes: 4 minutes is less than wave 1 \"a\"'s rtoMinutes (5)"
        ),
        "{p:?}"
    );
    let p = problems(&yaml("rtoMinutes: 0.001\n", "", "", ""));
    assert!(
        p[0].contains("use a whole number of seconds") && !p[0].contains("rtoSeconds"),
        "{p:?}"
    );
    let err = plan::load_str("p.yaml", &yaml("rtoSeconds: 10\n", "", "", ""))
        .expect_err("rtoSeconds is not a field");
    assert!(
        err.to_string().contains("unknown field `rtoSeconds`"),
        "{err}"
    );
}

#[test]
fn targets_travel_in_the_preflight_parameters_only_when_set() {
    let preflight = |text: &str| {
        let compiled =
            compile_str("p.yaml", text, &ActivityResources::Placeholders).expect("compiles");
        let asl: serde_json::Value =
            serde_json::from_str(&compiled.definition).expect("ASL is JSON");
        asl["States"][names::PREFLIGHT]["Parameters"].clone()
    };
    let with = preflight(&yaml("rtoMinutes: 30\n", "", "", ""));
    assert_eq!(
        with[PREFLIGHT_TARGETS_KEY],
        serde_json::json!({"rtoSeconds": 1800})
    );
    let without = preflight(&yaml("", "", "", ""));
    assert!(without.get(PREFLIGHT_TARGETS_KEY).is_none(), "{without}");
}
