//! Actions before and after a wave: each kind's service integration, the mode's Choice, the
//! failure policies, the SSM Automation loop, and actions inside a Parallel state's branch.

use super::*;

const SM: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:failover";
const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:drills";

/// db, then app with `app` YAML lines (the app wave's own fields).
fn with_app(app: &str) -> Plan {
    let mut text = String::from(
        "name: shop\ntasks: {heartbeatSeconds: 5}\nwaves:\n  - name: db\n    servers: {tags: {Tier: db}}\n  - name: app\n    servers: {tags: {Tier: app}}\n",
    );
    for line in app.lines().filter(|l| !l.is_empty()) {
        text.push_str(&format!("    {line}\n"));
    }
    plan(&text)
}

fn machine(p: &Plan) -> StateMachine {
    let m = generate(p, &ActivityResources::Placeholders);
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    m
}

fn context(phase: &str, action: &str) -> Value {
    let mut c = json!({
        "plan": "shop", "mode.$": "$.run.mode", "execution.$": "$$.Execution.Id",
        "wave": {"index": 2, "name": "app"}, "phase": phase, "action": action,
    });
    if phase == "after" {
        c["waveState.$"] = json!("$.waves.w2");
        c["servers.$"] = json!("$.waves.w2.recovered");
    }
    c
}

#[test]
fn a_child_machine_runs_before_the_wave_and_the_wave_starts_after_it() {
    let m = machine(&with_app(&format!(
        "before:\n  - name: fail over database\n    stateMachine: {{arn: \"{SM}\", input: {{db: primary}}}}\n    timeoutMinutes: 10\n"
    )));
    let name = "Wave 2 app: before 1 (fail over database)";
    assert_eq!(
        state_json(&m, "Wave 1 db: done?")["Choices"][1]["Next"],
        name
    );
    assert_eq!(
        without_comment(state_json(&m, name)),
        json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": SM, "Input": {
                "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                "drsWaves": context("before", name),
                "input": {"db": "primary"},
            }},
            "ResultSelector": {"status.$": "$.Status", "executionArn.$": "$.ExecutionArn"},
            "ResultPath": "$.action",
            "TimeoutSeconds": 600,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.action", "Next": format!("{name} / failed")}],
            "Next": "Wave 2 app: start",
        })
    );
    let failed = state_json(&m, &format!("{name} / failed"));
    assert_eq!(failed["Next"], "Record failure");
    assert_eq!(failed["ResultPath"], "$.error");
    assert_eq!(failed["Parameters"]["Error"], "DrsWaves.ActionFailed");
    assert_eq!(
        failed["Parameters"]["Cause.$"],
        format!(
            "States.Format('{name} (state machine {SM}) failed: {{}}', States.JsonToString($.action))"
        )
    );
}

#[test]
fn after_actions_run_on_success_only_and_get_the_wave_state() {
    let m = machine(&with_app(&format!(
        "onFailure: continue\nafter:\n  - notify: {{topic: \"{TOPIC}\", message: app is up}}\n  - lambda: {{function: warm-cache, payload: {{size: 3}}}}\n    onFailure: continue\n"
    )));
    let (notify, lambda) = ("Wave 2 app: after 1", "Wave 2 app: after 2");
    let done = state_json(&m, "Wave 2 app: done?");
    assert_eq!(
        done["Choices"][1]["Next"], notify,
        "success runs the after-actions"
    );
    assert_eq!(
        done["Choices"][2]["Next"], "Finish",
        "a failure that continues does not"
    );
    let n = state_json(&m, notify);
    assert_eq!(n["Resource"], "arn:aws:states:::sns:publish");
    assert_eq!(n["Parameters"]["TopicArn"], TOPIC);
    assert_eq!(n["Parameters"]["Message"], "app is up");
    assert_eq!(
        n["Parameters"]["MessageAttributes"]["mode"],
        json!({"DataType": "String", "StringValue.$": "$.run.mode"})
    );
    assert_eq!(
        n["Parameters"]["MessageAttributes"]["wave"],
        json!({"DataType": "String", "StringValue": "2 app"})
    );
    assert_eq!(n["TimeoutSeconds"], 60);
    assert_eq!(n["Next"], lambda);
    let l = state_json(&m, lambda);
    assert_eq!(l["Resource"], "arn:aws:states:::lambda:invoke");
    assert_eq!(
        l["Parameters"],
        json!({"FunctionName": "warm-cache", "Payload": {"drsWaves": context("after", lambda), "payload": {"size": 3}}})
    );
    assert_eq!(l["TimeoutSeconds"], 900);
    assert_eq!(l["Retry"][0]["ErrorEquals"][0], "Lambda.ServiceException");
    assert_eq!(
        l["Catch"][0]["Next"], "Finish",
        "onFailure: continue goes on"
    );
    assert_eq!(l["Next"], "Finish");
    assert!(m.states.get(&format!("{lambda} / failed")).is_none());
}

#[test]
fn an_ssm_automation_is_looked_at_until_it_ends_or_its_time_is_up() {
    let m = machine(&with_app(
        "before:\n  - name: configure\n    ssmAutomation: {document: AWS-RestartEC2Instance, parameters: {InstanceId: i-1, Tags: [a, b]}}\n    timeoutMinutes: 5\n",
    ));
    let run = "Wave 2 app: before 1 (configure)";
    let s = |step: &str| format!("{run} / {step}");
    let start = state_json(&m, run);
    assert_eq!(
        start["Resource"],
        "arn:aws:states:::aws-sdk:ssm:startAutomationExecution"
    );
    assert_eq!(
        start["Parameters"],
        json!({"DocumentName": "AWS-RestartEC2Instance", "Parameters": {"InstanceId": ["i-1"], "Tags": ["a", "b"]}})
    );
    assert_eq!(
        start["ResultSelector"],
        json!({"id.$": "$.AutomationExecutionId", "polls": 0})
    );
    assert_eq!(start["Next"], s("wait"));
    assert_eq!(state_json(&m, &s("wait"))["Seconds"], 30);
    let poll = state_json(&m, &s("poll"));
    assert_eq!(
        poll["Resource"],
        "arn:aws:states:::aws-sdk:ssm:getAutomationExecution"
    );
    assert_eq!(
        poll["Parameters"],
        json!({"AutomationExecutionId.$": "$.action.id"})
    );
    assert_eq!(poll["ResultPath"], "$.action.last");
    let status = state_json(&m, &s("status?"));
    let rules = status["Choices"].as_array().expect("choices");
    assert_eq!(
        rules[0],
        json!({"Variable": "$.action.last.status", "StringEquals": "Success", "Next": "Wave 2 app: start"})
    );
    for (k, st) in ["Failed", "TimedOut", "Cancelled", "CompletedWithFailure"]
        .iter()
        .enumerate()
    {
        assert_eq!(rules[k + 1]["StringEquals"], *st);
        assert_eq!(rules[k + 1]["Next"], s("failed"));
    }
    assert_eq!(
        rules[5],
        json!({"Variable": "$.action.polls", "NumericGreaterThanEquals": 10, "Next": s("failed")}),
        "5 minutes are 10 looks of 30 s"
    );
    assert_eq!(status["Default"], s("count"));
    let count = state_json(&m, &s("count"));
    assert_eq!(
        count["Parameters"]["polls.$"],
        "States.MathAdd($.action.polls, 1)"
    );
    assert_eq!(count["Next"], s("wait"));
}

#[test]
fn an_action_for_one_mode_is_skipped_in_the_other() {
    let m = machine(&with_app(&format!(
        "before:\n  - notify: {{topic: \"{TOPIC}\", message: recovery begins}}\n    modes: [RECOVERY]\n"
    )));
    let choice = state_json(&m, "Wave 2 app: before 1 / mode?");
    assert_eq!(
        without_comment(choice),
        json!({"Type": "Choice", "Choices": [{"Variable": "$.run.mode", "StringEquals": "RECOVERY", "Next": "Wave 2 app: before 1"}],
               "Default": "Wave 2 app: start"})
    );
    assert_eq!(
        state_json(&m, "Wave 1 db: done?")["Choices"][1]["Next"],
        "Wave 2 app: before 1 / mode?"
    );
}

#[test]
fn defaults_apply_to_every_wave_and_a_wave_list_replaces_them() {
    let p = plan(&format!(
        "name: shop\ndefaults:\n  before:\n    - notify: {{topic: \"{TOPIC}\", message: next wave}}\nwaves:\n\
         \x20 - name: db\n    servers: {{tags: {{Tier: db}}}}\n\
         \x20 - name: app\n    servers: {{tags: {{Tier: app}}}}\n    before: []\n"
    ));
    let m = machine(&p);
    assert_eq!(m.states.get("Wave 1 db: before 1").map(|_| ()), Some(()));
    assert!(m.states.get("Wave 2 app: before 1").is_none());
    assert_eq!(state_json(&m, "Preflight")["Next"], "Which way?");
    assert_eq!(
        state_json(&m, "Which way?")["Default"],
        "Wave 1 db: before 1"
    );
}

#[test]
fn an_action_with_an_approval_gate_runs_before_the_gate() {
    let m = machine(&with_app(&format!(
        "approval: {{before: true}}\nbefore:\n  - notify: {{topic: \"{TOPIC}\", message: approve wave 2}}\n"
    )));
    assert_eq!(
        state_json(&m, "Wave 2 app: before 1")["Next"],
        "Wave 2 app: approve?"
    );
    let decision_retry_target = state_json(&m, "Wave 2 app: approve?")["Next"].clone();
    assert_eq!(decision_retry_target, "Wave 2 app: start");
}

#[test]
fn inside_a_branch_a_failed_action_fails_the_branch_not_record_failure() {
    let p = plan(&format!(
        "name: shop\nwaves:\n\
         \x20 - name: db\n    servers: {{tags: {{Tier: db}}}}\n\
         \x20 - name: app\n    dependsOn: [db]\n    servers: {{tags: {{Tier: app}}}}\n\
         \x20   after:\n      - stateMachine: {{arn: \"{SM}\"}}\n\
         \x20 - name: search\n    dependsOn: [db]\n    servers: {{tags: {{Tier: search}}}}\n"
    ));
    let m = machine(&p);
    let Some(State::Parallel(par)) = m.states.get("Waves 2, 3 side by side") else {
        panic!("no Parallel state");
    };
    let branch = &par.branches[0];
    let done =
        serde_json::to_value(branch.states.get("Wave 2 app: done?").expect("done?")).expect("json");
    assert_eq!(done["Choices"][1]["Next"], "Wave 2 app: after 1");
    let failed = serde_json::to_value(
        branch
            .states
            .get("Wave 2 app: after 1 / failed")
            .expect("failed"),
    )
    .expect("json");
    assert_eq!(failed["Next"], "Branch of wave 2: error has a cause?");
    let after = serde_json::to_value(branch.states.get("Wave 2 app: after 1").expect("action"))
        .expect("json");
    assert_eq!(after["Next"], "Branch of wave 2: done");
}

#[test]
fn a_wave_with_after_actions_lists_its_recovered_servers_for_them() {
    let p = with_app(&format!(
        "after:\n  - notify: {{topic: \"{TOPIC}\", message: up}}\n"
    ));
    let lists: Vec<bool> = p.spec.waves.iter().map(|w| w.lists_recovered).collect();
    assert_eq!(lists, [false, true], "only the wave with after-actions");
    let m = machine(&p);
    let check = state_json(&m, "Wave 2 app: check");
    assert_eq!(check["Parameters"]["wave"]["listsRecovered"], true);
    let db_check = state_json(&m, "Wave 1 db: check");
    assert!(
        db_check["Parameters"]["wave"]
            .get("listsRecovered")
            .is_none()
    );
    let before_only = with_app(&format!(
        "before:\n  - notify: {{topic: \"{TOPIC}\", message: up}}\n"
    ));
    assert!(before_only.spec.waves.iter().all(|w| !w.lists_recovered));
}

#[test]
fn a_failed_action_with_ask_waits_for_an_operator_who_may_retry_skip_or_stop() {
    let m = machine(&with_app(&format!(
        "decision: {{timeoutMinutes: 30}}\nbefore:\n  - name: fail over database\n    stateMachine: {{arn: \"{SM}\"}}\n    onFailure: ask\n"
    )));
    let run = "Wave 2 app: before 1 (fail over database)";
    let s = |step: &str| format!("{run} / {step}");
    assert_eq!(state_json(&m, run)["Catch"][0]["Next"], s("failed"));
    let failed = state_json(&m, &s("failed"));
    assert_eq!(failed["ResultPath"], "$.error");
    assert_eq!(
        failed["Next"],
        s("decide?"),
        "the failure is named, then asked about"
    );
    let decide = state_json(&m, &s("decide?"));
    assert_eq!(
        decide["Resource"],
        format!(
            "${{{}}}",
            crate::contract::Activity::AwaitOperator.placeholder()
        )
    );
    assert_eq!(
        decide["TimeoutSeconds"], 1800,
        "the wave's decision timeout"
    );
    assert_eq!(decide["Parameters"]["gate"], "DECISION");
    assert_eq!(
        decide["Parameters"]["action"],
        json!({"name": run, "failure.$": "$.error"})
    );
    assert!(
        decide["Parameters"].get("state.$").is_none(),
        "an action's decision reads no wave state"
    );
    assert_eq!(decide["Next"], s("answer?"));
    assert_eq!(decide["Catch"][0]["Next"], s("expired"));
    let expired = state_json(&m, &s("expired"));
    assert_eq!(expired["Result"]["Error"], "DrsWaves.GateTimedOut");
    assert!(
        expired["Result"]["Cause"].as_str().is_some_and(
            |c| c.starts_with(&format!("The decision on {run:?} waited 1800 s (30 min)"))
        ),
        "{expired}"
    );
    let answer = state_json(&m, &s("answer?"));
    assert_eq!(answer["Choices"][0]["StringEquals"], "retry");
    assert_eq!(
        answer["Choices"][0]["Next"], run,
        "a retry runs the action again"
    );
    assert_eq!(answer["Choices"][1]["StringEquals"], "skip");
    assert_eq!(
        answer["Choices"][1]["Next"], "Wave 2 app: start",
        "a skip goes on to the wave"
    );
    assert_eq!(
        answer["Default"], "Record failure",
        "stop fails with the action's failure"
    );
    assert!(
        names::is_gate(&s("decide?")),
        "follow and the CLI see it as a gate"
    );
}

#[test]
fn every_action_state_is_spelled_by_the_contract() {
    let m = machine(&with_app(&format!(
        "before:\n  - ssmAutomation: {{document: Configure}}\n    modes: [DRILL]\nafter:\n  - notify: {{topic: \"{TOPIC}\", message: up}}\n"
    )));
    let actions: Vec<&str> = m
        .states
        .names()
        .filter(|n| names::is_action_state(n))
        .collect();
    assert_eq!(actions.len(), 9, "{actions:?}");
    for n in actions {
        assert_eq!(names::parse_wave(n), None, "{n}");
    }
}

#[test]
fn plans_without_actions_have_no_action_states() {
    let m = machine(&two_waves("stop"));
    assert!(!m.states.names().any(names::is_action_state));
    assert!(
        !serde_json::to_string(&m)
            .expect("json")
            .contains("ResultSelector")
    );
}
