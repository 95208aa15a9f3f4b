//! Waves as a graph: Parallel states, their branches, and how a branch fails and ends.

use super::*;

/// db; then app and search side by side; then web after both.
fn diamond(app_on_failure: &str) -> Plan {
    plan(&format!(
        "name: shop\ntasks: {{heartbeatSeconds: 5}}\n\
         waves:\n\
         \x20 - name: db\n    servers: {{tags: {{Tier: db}}}}\n\
         \x20 - name: app\n    onFailure: {app_on_failure}\n    servers: {{tags: {{Tier: app}}}}\n\
         \x20 - name: search\n    dependsOn: [db]\n    servers: {{tags: {{Tier: search}}}}\n\
         \x20 - name: web\n    dependsOn: [app, search]\n    servers: {{tags: {{Tier: web}}}}\n"
    ))
}

fn parallel_of(machine: &StateMachine, name: &str) -> crate::asl::Parallel {
    match machine.states.get(name) {
        Some(State::Parallel(p)) => p.clone(),
        other => panic!("{name:?} is not a Parallel state: {other:?}"),
    }
}

#[test]
fn independent_waves_run_as_branches_of_a_parallel_state() {
    let m = generate(&diamond("stop"), &ActivityResources::Placeholders);
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    let db_done = state_json(&m, "Wave 1 db: done?");
    assert_eq!(db_done["Choices"][1]["Next"], "Waves 2, 3 side by side");
    let p = parallel_of(&m, "Waves 2, 3 side by side");
    let starts: Vec<&str> = p.branches.iter().map(|b| b.start_at.as_str()).collect();
    assert_eq!(starts, ["Wave 2 app: start", "Wave 3 search: start"]);
    let p = state_json(&m, "Waves 2, 3 side by side");
    assert_eq!(p["Next"], "Wave 4 web: start");
    assert_eq!(p["ResultPath"], "$.waves");
    assert_eq!(
        p["ResultSelector"],
        json!({"w1.$": "$[0].w1", "w2.$": "$[0].w2", "w3.$": "$[1].w3"}),
        "the waves before the Parallel state come back through the first branch"
    );
    assert_eq!(p["Catch"], catch_to_record_failure());
}

#[test]
fn a_branch_hands_on_its_waves_and_raises_its_failures_again() {
    let m = generate(&diamond("stop"), &ActivityResources::Placeholders);
    let p = parallel_of(&m, "Waves 2, 3 side by side");
    let first = &p.branches[0].states;
    let json_of = |name: &str| {
        serde_json::to_value(first.get(name).unwrap_or_else(|| panic!("no {name:?}")))
            .expect("present")
    };
    assert_eq!(
        json_of("Wave 2 app: done?")["Choices"][1]["Next"],
        "Branch of wave 2: done"
    );
    let done = json_of("Branch of wave 2: done");
    assert_eq!(done["Type"], "Pass");
    assert_eq!(done["End"], true);
    assert_eq!(
        done["Parameters"],
        json!({"w1.$": "$.waves.w1", "w2.$": "$.waves.w2"})
    );
    // Every caught failure ends the branch, never a state outside it.
    assert_eq!(
        json_of("Wave 2 app: start")["Catch"][0]["Next"],
        "Branch of wave 2: error has a cause?"
    );
    assert_eq!(
        json_of("Wave 2 app: failed")["Next"],
        "Branch of wave 2: error has a cause?"
    );
    assert_eq!(
        json_of("Branch of wave 2: failed")["ErrorPath"],
        "$.error.Error"
    );
    assert_eq!(
        json_of("Branch of wave 2: failed")["CausePath"],
        "$.error.Cause"
    );
    assert_eq!(
        json_of("Branch of wave 2: failed without a cause")["Type"],
        "Fail"
    );
    let second = serde_json::to_value(
        p.branches[1]
            .states
            .get("Branch of wave 3: done")
            .expect("present"),
    )
    .expect("present");
    assert_eq!(second["Parameters"], json!({"w3.$": "$.waves.w3"}));
}

#[test]
fn continue_and_skip_inside_a_branch_end_the_branch() {
    let m = generate(&diamond("continue"), &ActivityResources::Placeholders);
    let p = parallel_of(&m, "Waves 2, 3 side by side");
    let done = serde_json::to_value(
        p.branches[0]
            .states
            .get("Wave 2 app: done?")
            .expect("present"),
    )
    .expect("present");
    assert_eq!(
        done["Choices"][2]["Next"], "Branch of wave 2: done",
        "a failure goes on (onFailure: continue)"
    );
    let m = generate(&diamond("ask"), &ActivityResources::Placeholders);
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    let p = parallel_of(&m, "Waves 2, 3 side by side");
    let skipped = serde_json::to_value(
        p.branches[0]
            .states
            .get("Wave 2 app: skipped")
            .expect("present"),
    )
    .expect("present");
    assert_eq!(skipped["Next"], "Branch of wave 2: done");
}

#[test]
fn waves_that_start_at_once_follow_preflight_straight_into_a_parallel_state() {
    let m = generate(
        &plan(
            "name: shop\nwaves:\n  - name: db\n    servers: {tags: {Tier: db}}\n\
             \x20 - name: search\n    dependsOn: []\n    servers: {tags: {Tier: search}}\n",
        ),
        &ActivityResources::Placeholders,
    );
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    assert_eq!(state_json(&m, names::PREFLIGHT)["Next"], names::WHICH_WAY);
    assert_eq!(
        state_json(&m, names::WHICH_WAY)["Default"],
        "Waves 1, 2 side by side"
    );
    assert_eq!(
        state_json(&m, "Waves 1, 2 side by side")["Next"],
        names::FINISH
    );
}

#[test]
fn a_parallel_state_inside_a_branch_fails_into_its_branch() {
    // db alone; app -> (cache, queue side by side) -> api, beside it: everything after db.
    let m = generate(
        &plan(
            "name: shop\nwaves:\n  - name: db\n    dependsOn: []\n    servers: {tags: {Tier: db}}\n\
             \x20 - name: app\n    dependsOn: []\n    servers: {tags: {Tier: app}}\n\
             \x20 - name: cache\n    dependsOn: [app]\n    servers: {tags: {Tier: cache}}\n\
             \x20 - name: queue\n    dependsOn: [app]\n    servers: {tags: {Tier: queue}}\n\
             \x20 - name: api\n    dependsOn: [cache, queue]\n    servers: {tags: {Tier: api}}\n",
        ),
        &ActivityResources::Placeholders,
    );
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    let outer = parallel_of(&m, "Waves 1, 2, 3, 4, 5 side by side");
    let inner = serde_json::to_value(
        outer.branches[1]
            .states
            .get("Waves 3, 4 side by side")
            .expect("present"),
    )
    .expect("present");
    assert_eq!(
        inner["Catch"][0]["Next"],
        "Branch of waves 2, 3, 4, 5: error has a cause?"
    );
    assert_eq!(inner["Next"], "Wave 5 api: start");
}
