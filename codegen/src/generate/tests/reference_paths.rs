//! Every path a generated machine holds is one AWS accepts.

use super::*;

/// Every path a rendered machine holds, as `(where, path)`: each `*Path` field and `Variable`
/// at any depth of a state (Choice rules, Catch), and each `*.$` key of a payload template.
/// Static data (`Result`, plain Parameters values) is not a path. A field the walker does not
/// know fails, so that a new kind of field is classified here rather than skipped.
fn paths_of_machine(definition: &Value) -> Vec<(String, String)> {
    fn template(at: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let here = format!("{at}.{k}");
                    if k.ends_with(".$") {
                        let path = v.as_str().unwrap_or_else(|| panic!("{here}: not a string"));
                        out.push((here, path.to_owned()));
                    } else {
                        template(&here, v, out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    template(&format!("{at}[{i}]"), v, out);
                }
            }
            _ => {}
        }
    }
    fn fields(at: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let here = format!("{at}.{k}");
                    match k.as_str() {
                        "Parameters" | "ResultSelector" | "ItemSelector" => template(&here, v, out),
                        "Result" => {}
                        // A Parallel state's branches: machines of their own, walked as such.
                        "Branches" => {
                            for (b, branch) in v.as_array().expect("Branches").iter().enumerate() {
                                let states = branch["States"].as_object().expect("branch States");
                                for (name, state) in states {
                                    fields(&format!("{here}[{b}].{name}"), state, out);
                                }
                            }
                        }
                        "Choices" | "Catch" | "And" | "Or" | "Not" => fields(&here, v, out),
                        "Variable" => out.push((here, v.as_str().expect("Variable").to_owned())),
                        path_field if path_field.ends_with("Path") => {
                            // ResultPath, InputPath and OutputPath may be null (discard).
                            if let Some(path) = v.as_str() {
                                out.push((here, path.to_owned()));
                            }
                        }
                        "Type" | "Comment" | "Resource" | "TimeoutSeconds" | "HeartbeatSeconds"
                        | "Next" | "End" | "Default" | "Retry" | "Seconds" | "Error" | "Cause"
                        | "ErrorEquals" | "StartAt" => {}
                        comparison if v.is_string() || v.is_boolean() || v.is_number() => {
                            // A Choice rule's comparison value (StringEquals, IsPresent, ...).
                            assert!(
                                at.contains(".Choices")
                                    || at.contains(".Not")
                                    || at.contains(".And"),
                                "{here}: unknown field {comparison}: say whether it holds a path"
                            );
                        }
                        unknown => {
                            panic!("{here}: unknown field {unknown}: say whether it holds a path")
                        }
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    fields(&format!("{at}[{i}]"), v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let states = definition["States"].as_object().expect("States");
    for (name, state) in states {
        fields(name, state, &mut out);
    }
    out
}

/// The paths that break the rule AWS applies to Reference Paths (`$`/`$$`, then `.name` steps
/// of letters, digits and `_`), with where they are. A Parallel state's ResultSelector reads
/// its branches' outputs, an array: there a path may begin `$[k]` (a Path, which AWS allows
/// in ResultSelector), followed by the same plain steps.
fn bad_paths(definition: &Value) -> Vec<String> {
    let is_branch_output = |at: &str, path: &str| {
        at.contains(".ResultSelector.")
            && path
                .strip_prefix("$[")
                .and_then(|rest| rest.split_once(']'))
                .is_some_and(|(k, steps)| {
                    !k.is_empty()
                        && k.bytes().all(|b| b.is_ascii_digit())
                        && paths::is_reference_path(&format!("${steps}"))
                })
    };
    paths_of_machine(definition)
        .into_iter()
        .filter(|(at, path)| {
            !paths::is_reference_path(path)
                && !is_branch_output(at, path)
                && !is_intrinsic_of_reference_paths(path)
        })
        .map(|(at, path)| format!("{at}: {path:?}"))
        .collect()
}

/// An intrinsic function (`States.Format('...', $.a)`, an action's failure cause or count)
/// whose every path argument is a Reference Path: its quoted literals are skipped (with their
/// `\\` escapes), and each `$...` argument must pass the same rule.
fn is_intrinsic_of_reference_paths(value: &str) -> bool {
    if !value.starts_with("States.") {
        return false;
    }
    let mut bare = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in value.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '\'') => quoted = false,
            (true, false, _) => {}
            (false, _, '\'') => quoted = true,
            (false, _, c) => bare.push(c),
        }
    }
    !quoted
        && bare
            .split([',', '(', ')', ' '])
            .filter(|t| t.starts_with('$'))
            .all(paths::is_reference_path)
}

#[test]
fn intrinsic_functions_are_checked_argument_by_argument() {
    assert!(is_intrinsic_of_reference_paths(
        "States.MathAdd($.action.polls, 1)"
    ));
    assert!(is_intrinsic_of_reference_paths(
        "States.Format('a \\'(b)\\' $.x-y {}', States.JsonToString($.action))"
    ));
    assert!(!is_intrinsic_of_reference_paths(
        "States.MathAdd($.action.poll-count, 1)"
    ));
    assert!(!is_intrinsic_of_reference_paths("$.a"));
}

#[test]
fn every_path_in_a_generated_machine_is_a_plain_reference_path() {
    let mut machines = vec![(
        "every kind of state".to_owned(),
        generate(&every_kind_of_state(), &ActivityResources::Placeholders),
    )];
    for entry in std::fs::read_dir(crate::artifacts::default_dir()).expect("statemachines/") {
        let file = entry.expect("entry").path();
        if file
            .to_string_lossy()
            .ends_with(crate::artifacts::PLAN_SUFFIX)
        {
            let compiled = crate::compile_file(&file, &ActivityResources::Placeholders)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            machines.push((file.display().to_string(), compiled.machine));
        }
    }
    assert!(machines.len() >= 4, "the examples were not found");
    for (name, machine) in &machines {
        let definition = serde_json::to_value(machine).expect("render");
        let bad = bad_paths(&definition);
        assert!(
            bad.is_empty(),
            "{name}: not Reference Paths AWS accepts:\n{}",
            bad.join("\n")
        );
    }

    // The walker sees every kind of path field the generator writes, so the rule above is
    // checked on each of them (a walker that found nothing would pass anything).
    let definition = serde_json::to_value(&machines[0].1).expect("render");
    let found = paths_of_machine(&definition);
    for field in [
        ".ResultPath",
        ".Catch[0].ResultPath",
        ".Variable",
        ".Not.Variable",
        ".SecondsPath",
        ".ErrorPath",
        ".CausePath",
        ".$",
    ] {
        assert!(
            found.iter().any(|(at, _)| at.ends_with(field)),
            "no {field} path was found: {found:?}"
        );
    }
    assert!(
        found.iter().any(|(_, path)| path.starts_with("$$.")),
        "no context path was found: {found:?}"
    );
    for wanted in [
        paths::approval_answer(2),
        paths::decision_answer(1),
        paths::decision(1),
        paths::ERROR_CAUSE.to_owned(),
    ] {
        assert!(
            found.iter().any(|(_, p)| *p == wanted),
            "{wanted} not found"
        );
    }
}

#[test]
fn the_path_walker_reports_a_hyphenated_path_wherever_it_is() {
    let m = generate(&every_kind_of_state(), &ActivityResources::Placeholders);
    let mut definition = serde_json::to_value(&m).expect("render");
    let states = &mut definition["States"];
    states["Wave 2 web: approve?"]["ResultPath"] = json!("$.operator.approve-w2");
    states["Wave 1 db: decision"]["Choices"][0]["Variable"] =
        json!("$.operator.decide-w1.decision");
    states["Wave 1 db: check"]["Parameters"]["state.$"] = json!("$.waves['w1']");
    states["Wave 1 db: check"]["Catch"][0]["ResultPath"] = json!("$.error-1");
    states["Wave 1 db: wait"]["SecondsPath"] = json!("$.waves.w1.next wait");
    let mut bad = bad_paths(&definition);
    bad.sort();
    assert_eq!(
        bad,
        [
            r#"Wave 1 db: check.Catch[0].ResultPath: "$.error-1""#,
            r#"Wave 1 db: check.Parameters.state.$: "$.waves['w1']""#,
            r#"Wave 1 db: decision.Choices[0].Variable: "$.operator.decide-w1.decision""#,
            r#"Wave 1 db: wait.SecondsPath: "$.waves.w1.next wait""#,
            r#"Wave 2 web: approve?.ResultPath: "$.operator.approve-w2""#,
        ]
    );
}

#[test]
fn the_walker_reads_inside_branches_and_their_result_selector() {
    let text =
        std::fs::read_to_string(crate::artifacts::default_dir().join("storefront-graph.asl.json"))
            .expect("the graph example");
    let definition: Value = serde_json::from_str(&text).expect("json");
    let found = paths_of_machine(&definition);
    assert!(
        found
            .iter()
            .any(|(at, path)| at.contains(".Branches[1].Wave 2 search: start") && path == "$.run"),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(at, path)| at.contains(".ResultSelector.") && path == "$[1].w2")
    );
    assert!(
        bad_paths(&definition).is_empty(),
        "{:?}",
        bad_paths(&definition)
    );
    let mut broken = definition.clone();
    broken["States"]["Waves 1, 2 side by side"]["ResultSelector"]["w2.$"] = json!("$[x].w2");
    assert_eq!(
        bad_paths(&broken).len(),
        1,
        "a malformed branch index is refused"
    );
}
