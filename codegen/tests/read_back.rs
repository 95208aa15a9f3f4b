//! What the worker and the CLI read back from a generated machine, through the contract's
//! readers: the plan and targets it carries (`contract::definition`), and which wave and step
//! each of its states is (`contract::states`).

use std::path::{Path, PathBuf};

use drs_codegen::compile_file;
use drs_codegen::contract::states::{self, WaveStateName, WaveStep};
use drs_codegen::contract::{DefinitionError, PreflightParameters, embedded_plan};
use drs_codegen::generate::ActivityResources;

fn statemachines() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../statemachines")
}

/// The example plans checked in beside their machines.
fn example_plans() -> Vec<PathBuf> {
    let mut plans: Vec<PathBuf> = std::fs::read_dir(statemachines())
        .expect("statemachines/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".plan.yaml"))
        .collect();
    plans.sort();
    assert!(plans.len() >= 3, "expected the example plans: {plans:?}");
    plans
}

#[test]
fn a_generated_machine_carries_its_plan_and_targets() {
    for path in example_plans() {
        let compiled = compile_file(&path, &ActivityResources::Placeholders).expect("compiles");
        let (spec, targets) = embedded_plan(&compiled.definition).expect("embedded plan");
        assert_eq!(spec, compiled.plan.spec, "{}", path.display());
        assert_eq!(targets, compiled.plan.targets, "{}", path.display());
    }
}

#[test]
fn the_checked_in_machines_are_read_as_the_report_reads_them() {
    let read = |f: &str| std::fs::read_to_string(statemachines().join(f)).expect("machine");
    let (plan, targets) = embedded_plan(&read("billing.asl.json")).expect("billing");
    assert_eq!(plan.waves.len(), 3);
    assert_eq!(targets.rto_seconds, Some(360));
    assert_eq!(targets.rpo_seconds, Some(3600));
    assert_eq!(targets.wave_rto_seconds(1), Some(120));
    assert_eq!(targets.wave_rto_seconds(3), None);
    let storefront = PreflightParameters::read(&read("storefront.asl.json")).expect("storefront");
    assert_eq!(storefront.targets(), Ok(Default::default()));
    assert!(matches!(
        embedded_plan("not json"),
        Err(DefinitionError::NotJson(_))
    ));
}

#[test]
fn every_state_of_a_generated_machine_is_named_by_the_contract() {
    for path in example_plans() {
        let compiled = compile_file(&path, &ActivityResources::Placeholders).expect("compiles");
        let waves = &compiled.plan.spec.waves;
        for name in every_state_name(&compiled.machine.states) {
            let name = name.as_str();
            if states::FIXED.contains(&name) || states::is_layout_state(name) {
                continue;
            }
            if let Some(home) = states::parse_failback_wave(name) {
                let wave = waves
                    .iter()
                    .find(|w| w.index == home.index)
                    .unwrap_or_else(|| panic!("{name:?}: no wave {}", home.index));
                assert_eq!(home.wave, wave.name, "{name:?}");
                assert_eq!(states::parse_wave(name), None, "{name:?}");
                continue;
            }
            if let Some(action) = states::parse_action(name) {
                let wave = waves
                    .iter()
                    .find(|w| w.index == action.index)
                    .unwrap_or_else(|| panic!("{name:?}: no wave {}", action.index));
                assert_eq!(action.wave, wave.name, "{name:?}");
                assert_eq!(states::parse_wave(name), None, "{name:?}");
                continue;
            }
            let parsed: WaveStateName<'_> = states::parse_wave(name)
                .unwrap_or_else(|| panic!("{}: {name:?} is no wave state", path.display()));
            let wave = waves
                .iter()
                .find(|w| w.index == parsed.index)
                .unwrap_or_else(|| panic!("{name:?}: no wave {}", parsed.index));
            assert_eq!(parsed.wave, wave.name, "{name:?}");
            assert_eq!(parsed.name(), name);
            assert_eq!(
                states::is_gate(name),
                matches!(parsed.step, WaveStep::Approve | WaveStep::Decide)
            );
        }
        assert_eq!(compiled.machine.start_at, states::CHECK_INPUT);
    }
}

/// Every state's name, those inside Parallel states' branches too.
fn every_state_name(states: &drs_codegen::asl::States) -> Vec<String> {
    let mut names = Vec::new();
    for (name, state) in &states.0 {
        names.push(name.clone());
        if let drs_codegen::asl::State::Parallel(p) = state {
            for branch in &p.branches {
                names.extend(every_state_name(&branch.states));
            }
        }
    }
    names
}

#[test]
fn the_graph_example_has_its_waves_inside_branches() {
    let path = statemachines().join("storefront-graph.plan.yaml");
    let compiled = compile_file(&path, &ActivityResources::Placeholders).expect("compiles");
    let names = every_state_name(&compiled.machine.states);
    assert!(names.iter().any(|n| n == "Wave 2 search: start"));
    assert!(
        !compiled
            .machine
            .states
            .names()
            .any(|n| n == "Wave 2 search: start")
    );
    assert!(names.iter().any(|n| states::is_layout_state(n)));
}
