//! The activity tasks: their input, resources, timeouts and retries, checked against the
//! contract's types.

use super::*;

#[test]
fn preflight_gets_the_execution_the_input_and_the_whole_plan() {
    let p = two_waves("stop");
    let m = generate(&p, &ActivityResources::Placeholders);
    let preflight = state_json(&m, "Preflight");
    assert_eq!(
        preflight["Parameters"]["plan"],
        serde_json::to_value(&p.spec).expect("spec")
    );
    assert_eq!(preflight["Parameters"]["input.$"], json!("$"));
    assert_eq!(preflight["ResultPath"], json!("$.run"));
    assert_eq!(preflight["Next"], json!("Which way?"));
    // A FAILBACK goes home, the last wave first; anything else runs the plan's order.
    let which = state_json(&m, "Which way?");
    assert_eq!(which["Default"], json!("Wave 1 db: start"));
    assert_eq!(which["Choices"][0]["Variable"], json!("$.run.mode"));
    assert_eq!(which["Choices"][0]["StringEquals"], json!("FAILBACK"));
    let last = p.spec.waves.last().expect("a wave");
    assert_eq!(
        which["Choices"][0]["Next"],
        json!(format!("Failback wave {} {}: start", last.index, last.name))
    );
}

#[test]
fn the_machine_timeout_is_derived_unless_the_plan_sets_it() {
    let p = two_waves("stop");
    let m = generate(&p, &ActivityResources::Placeholders);
    let derived = m.timeout_seconds.expect("timeout");
    assert!(
        derived >= 2 * 60 + 600,
        "{derived} does not cover both waves' launch timeouts and their tasks"
    );
    assert_eq!(derived % 60, 0);
    let set = plan(
        "name: shop\nexecutionTimeoutMinutes: 90\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n",
    );
    assert_eq!(
        generate(&set, &ActivityResources::Placeholders).timeout_seconds,
        Some(5400)
    );
}

#[test]
fn heartbeats_longer_than_a_task_base_timeout_stretch_the_timeout() {
    let p = plan(
        "name: slow\ntasks: {heartbeatSeconds: 200}\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n",
    );
    let m = generate(&p, &ActivityResources::Placeholders);
    let check = state_json(&m, "Wave 1 db: check");
    assert_eq!(check["HeartbeatSeconds"], json!(200));
    assert_eq!(check["TimeoutSeconds"], json!(600));
    assert_eq!(m.validate(), vec![]);
}

#[test]
fn concrete_arns_replace_the_placeholders() {
    let pairs: Vec<String> = Activity::ALL
        .iter()
        .map(|a| {
            format!(
                "{}=arn:aws:states:us-east-1:000000000000:activity:drs-waves-{}",
                a.name(),
                a.name()
            )
        })
        .collect();
    let resources = ActivityResources::from_pairs(&pairs).expect("all five");
    let m = generate(&two_waves("stop"), &resources);
    assert_eq!(
        state_json(&m, "Wave 2 web: check")["Resource"],
        json!("arn:aws:states:us-east-1:000000000000:activity:drs-waves-check-wave")
    );
    let rendered = serde_json::to_string(&m).expect("render");
    assert!(
        !rendered.contains("${"),
        "a placeholder is left: {rendered}"
    );
}

#[test]
fn activity_arn_arguments_are_checked() {
    let arn = |n: &str| format!("{n}=arn:aws:states:us-east-1:000000000000:activity:x");
    assert_eq!(
        ActivityResources::from_pairs::<String>(&[]),
        Ok(ActivityResources::Placeholders)
    );
    assert!(matches!(
        ActivityResources::from_pairs(&[arn("preflight")]),
        Err(ActivityArnError::Missing { missing }) if missing == "start-wave, check-wave, finish, record-failure, await-operator, check-health, start-network, check-network"
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&[arn("launch")]),
        Err(ActivityArnError::UnknownActivity { name, .. }) if name == "launch"
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&[arn("finish"), arn("finish")]),
        Err(ActivityArnError::Duplicate { name }) if name == "finish"
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&["finish"]),
        Err(ActivityArnError::Malformed(_))
    ));
    assert!(matches!(
        ActivityResources::from_pairs(&["finish=arn:aws:lambda:us-east-1:0:function:f"]),
        Err(ActivityArnError::NotAnActivityArn { .. })
    ));
}

/// Resolves the JSONPaths the generator uses (`$`, `$.a.b`, `$$.Execution.X`) against a state
/// and a context object, as Step Functions does for `.$` keys.
fn resolve_parameters(template: &Value, state: &Value, context: &Value) -> Value {
    fn lookup(path: &str, state: &Value, context: &Value) -> Value {
        let (root, rest) = match path.strip_prefix("$$") {
            Some(rest) => (context, rest),
            None => (state, path.strip_prefix('$').expect("a JSONPath")),
        };
        rest.split('.')
            .filter(|s| !s.is_empty())
            .fold(root.clone(), |v, key| {
                v.get(key)
                    .cloned()
                    .unwrap_or_else(|| panic!("{path} is missing"))
            })
    }
    match template {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(key) => (
                        key.to_owned(),
                        lookup(v.as_str().expect("path"), state, context),
                    ),
                    None => (k.clone(), resolve_parameters(v, state, context)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Given the state an execution has at each task, when its Parameters are resolved, then the
/// worker can read them as the contract's input types.
#[test]
fn every_task_input_deserializes_into_the_contract_types() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    let context = json!({"Execution": {"Id": "arn:aws:states:us-east-1:0:execution:shop:e1", "Name": "e1", "StartTime": "2025-01-01T00:00:00Z"}, "State": {"EnteredTime": "2025-01-01T00:00:01Z", "RetryCount": 0}});
    let run = json!({
        "executionId": "arn:aws:states:us-east-1:0:execution:shop:e1", "executionName": "e1", "planName": "shop",
        "mode": "DRILL", "startedAt": "2025-01-01T00:00:00Z", "terminateDrillInstances": false, "waveCount": 2, "serverCount": 1
    });
    let wave_state = json!({
        "wave": "db", "index": 1, "status": "LAUNCHING", "jobIds": ["drsjob-a1b2c3d4e5f600001"],
        "startedAt": "2025-01-01T00:00:01Z", "endedAt": "", "checks": 0, "nextWaitSeconds": 2,
        "servers": {"total": 1, "launched": 0, "failed": 0, "launching": 1, "optionalFailed": 0}, "reason": ""
    });
    let state = json!({"mode": "DRILL", "run": run, "waves": {"w1": wave_state}, "error": {"Error": "E", "Cause": "C"}});
    let params =
        |name: &str| resolve_parameters(&state_json(&m, name)["Parameters"], &state, &context);

    let preflight: PreflightInput =
        serde_json::from_value(params("Preflight")).expect("preflight input");
    assert_eq!(preflight.plan.name, "shop");
    assert_eq!(preflight.execution.name, "e1");
    let start: StartWaveInput =
        serde_json::from_value(params("Wave 1 db: start")).expect("start input");
    assert_eq!(start.wave.index, 1);
    let check: CheckWaveInput =
        serde_json::from_value(params("Wave 1 db: check")).expect("check input");
    assert_eq!(check.state.job_ids, vec!["drsjob-a1b2c3d4e5f600001"]);
    let finish: FinishInput = serde_json::from_value(params("Finish")).expect("finish input");
    assert!(finish.waves.contains_key("w1"));
    let record: RecordFailureInput =
        serde_json::from_value(params("Record failure")).expect("record input");
    assert_eq!(record.plan_name, "shop");
    assert_eq!(record.state["error"]["Error"], json!("E"));
}

/// Every task tells its worker how often it has been retried, so that a retryable failure's
/// cause says how many tries are left (and the last says it is the last).
#[test]
fn every_task_carries_its_retry_count() {
    let m = generate(&every_kind_of_state(), &ActivityResources::Placeholders);
    let machine = serde_json::to_value(&m).expect("render");
    let mut tasks = 0;
    for (name, state) in machine["States"].as_object().expect("states") {
        if state["Type"] == "Task" {
            tasks += 1;
            assert_eq!(
                state["Parameters"]["retryCount.$"],
                json!("$$.State.RetryCount"),
                "{name}"
            );
        }
    }
    assert!(tasks >= 6, "{tasks} tasks");
}

#[test]
fn a_failback_brings_the_waves_home_in_the_plans_failback_order() {
    let m = generate(
        &plan(
            "name: shop\nfailback: {order: [app, web, db]}\nwaves:\n\
             \x20 - name: db\n    servers: {tags: {Tier: db}}\n\
             \x20 - name: app\n    servers: {tags: {Tier: app}}\n\
             \x20 - name: web\n    servers: {tags: {Tier: web}}\n    onFailure: continue\n",
        ),
        &ActivityResources::Placeholders,
    );
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    let which = state_json(&m, "Which way?");
    assert_eq!(
        which["Choices"][0]["Next"],
        json!("Failback wave 2 app: start")
    );
    let done = |name: &str| state_json(&m, name)["Choices"].clone();
    assert_eq!(
        done("Failback wave 2 app: done?")[1]["Next"],
        json!("Failback wave 3 web: start")
    );
    // web continues on failure; the others stop.
    assert_eq!(
        done("Failback wave 3 web: done?")[2]["Next"],
        json!("Failback wave 1 db: start")
    );
    assert_eq!(
        done("Failback wave 1 db: done?")[1]["Next"],
        json!("Finish")
    );
    assert_eq!(
        done("Failback wave 1 db: done?")[2]["Next"],
        json!("Failback wave 1 db: failed")
    );
    let start = state_json(&m, "Failback wave 1 db: start");
    assert_eq!(start["Resource"], json!("${StartWaveActivityArn}"));
    assert_eq!(start["ResultPath"], json!("$.waves.w1"));
}

#[test]
fn stop_and_terminate_reaches_preflight_only_when_the_plan_asks() {
    let with = |failback: &str| {
        generate(
            &plan(&format!(
                "name: shop\n{failback}waves:\n  - name: db\n    servers: {{tags: {{Tier: db}}}}\n"
            )),
            &ActivityResources::Placeholders,
        )
    };
    let asks = with("failback: {stopAndTerminate: true}\n");
    assert_eq!(
        state_json(&asks, "Preflight")["Parameters"]["failback"],
        json!({"stopAndTerminate": true})
    );
    for quiet in [
        "",
        "failback: {stopAndTerminate: false}\n",
        "failback: {}\n",
    ] {
        let m = with(quiet);
        assert!(
            state_json(&m, "Preflight")["Parameters"]
                .get("failback")
                .is_none(),
            "{quiet:?}"
        );
    }
}
