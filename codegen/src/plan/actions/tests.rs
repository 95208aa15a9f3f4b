//! Actions as a plan's author meets them: what is accepted, and each rejection as the CLI
//! prints it (file, wave, field).

use super::*;
use crate::plan::{PlanError, load_str};

const FILE: &str = "plans/shop.plan.yaml";
const SM: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:failover";
const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:drills";

/// One wave `app` with these YAML lines under `before:`.
fn with_before(actions: &str) -> String {
    let mut text = String::from(
        "name: shop\nwaves:\n  - name: app\n    servers: {tags: {Tier: app}}\n    before:\n",
    );
    for line in actions.lines().filter(|l| !l.is_empty()) {
        text.push_str(&format!("      {line}\n"));
    }
    text
}

fn rejection(text: &str) -> Vec<String> {
    match load_str(FILE, text) {
        Ok(_) => panic!("plan was accepted:\n{text}"),
        Err(e @ PlanError::Invalid { .. }) => e.to_string().lines().map(str::to_owned).collect(),
        Err(e) => panic!("not a validation error: {e}"),
    }
}

fn rejected_with(actions: &str, expected: &str) {
    let lines = rejection(&with_before(actions));
    assert_eq!(
        lines,
        [format!("{FILE}: wave 1 \"app\": {expected}")],
        "{actions}"
    );
}

#[test]
fn every_kind_is_accepted_with_its_defaults() {
    let plan = load_str(
        FILE,
        &with_before(&format!(
            "- stateMachine: {{arn: \"{SM}\"}}\n\
             - lambda: {{function: \"arn:aws:lambda:us-east-1:000000000000:function:warm:live\"}}\n  onFailure: continue\n\
             - ssmAutomation: {{document: AWS-RestartEC2Instance, parameters: {{InstanceId: i-1}}}}\n  modes: [DRILL]\n\
             - notify: {{topic: \"{TOPIC}\", message: hello}}\n  name: tell ops\n  modes: [DRILL, RECOVERY]\n"
        )),
    )
    .expect("valid plan");
    let before = &plan.actions[0].before;
    let timeouts: Vec<u32> = before.iter().map(|a| a.timeout_seconds).collect();
    assert_eq!(timeouts, [3600, 900, 3600, 60]);
    assert_eq!(before[1].on_failure, OnFailure::Continue);
    assert_eq!(before[2].only_mode(Way::Out), Some(Mode::Drill));
    assert_eq!(before[3].only_mode(Way::Out), None);
    assert!(before.iter().all(|a| !a.runs_on(Way::Home)));
    assert_eq!(before[3].name.as_deref(), Some("tell ops"));
    assert_eq!(before[3].position, 4);
    assert!(plan.actions[0].after.is_empty());
}

#[test]
fn actions_raise_the_derived_execution_timeout() {
    let without = load_str(
        FILE,
        "name: shop\nwaves:\n  - name: app\n    servers: {tags: {Tier: app}}\n",
    )
    .expect("plan");
    let with = load_str(
        FILE,
        &with_before(&format!(
            "- stateMachine: {{arn: \"{SM}\"}}\n  timeoutMinutes: 120\n"
        )),
    )
    .expect("plan");
    let added = with.execution_timeout_seconds - without.execution_timeout_seconds;
    assert!(added >= 7200, "{added}");
}

#[test]
fn an_ssm_action_that_could_look_too_often_breaks_the_history_budget() {
    let actions: String = (0..20)
        .map(|_| "- ssmAutomation: {document: Long}\n  timeoutMinutes: 1440\n".to_owned())
        .collect();
    let lines = rejection(&with_before(&actions));
    assert!(
        lines.iter().any(|l| l.contains("history events")),
        "{lines:?}"
    );
}

#[test]
fn malformed_targets_are_named_by_field() {
    rejected_with(
        "- stateMachine: {arn: \"arn:aws:states:us-east-1:000000000000:activity:x\"}",
        "before[0].stateMachine.arn: \"arn:aws:states:us-east-1:000000000000:activity:x\" is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)",
    );
    rejected_with(
        "- lambda: {function: \"warm cache\"}",
        "before[0].lambda.function: \"warm cache\" is not a Lambda function name or ARN (1 to 64 letters, digits, '-' or '_', an optional :version or :alias, or arn:aws:lambda:<region>:<account>:function:<name>)",
    );
    rejected_with(
        "- lambda: {function: \"arn:aws:lambda:us-east-1:12:function:x\"}",
        "before[0].lambda.function: \"arn:aws:lambda:us-east-1:12:function:x\" is not a Lambda function name or ARN (1 to 64 letters, digits, '-' or '_', an optional :version or :alias, or arn:aws:lambda:<region>:<account>:function:<name>)",
    );
    rejected_with(
        "- notify: {topic: \"arn:aws:sqs:us-east-1:000000000000:q\", message: hi}",
        "before[0].notify.topic: \"arn:aws:sqs:us-east-1:000000000000:q\" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
    );
    rejected_with(
        "- ssmAutomation: {document: \"a b\"}",
        "before[0].ssmAutomation.document: \"a b\" is not an SSM document name (3 to 128 letters, digits, '-', '_' or '.') or ARN",
    );
    rejected_with(
        "- ssmAutomation: {document: Doc, parameters: {Count: 3}}",
        "before[0].ssmAutomation.parameters.Count: give a string or a list of strings, under a name that does not end in '.$'",
    );
    rejected_with(
        "- notify: {topic: \"arn:aws:sns:us-east-1:000000000000:t\", message: \" \"}",
        "before[0].notify.message: give a message of 1 to 100,000 bytes",
    );
}

#[test]
fn an_action_needs_exactly_one_kind_and_unknown_kinds_are_refused() {
    rejected_with(
        &format!(
            "- name: two\n  notify: {{topic: \"{TOPIC}\", message: hi}}\n  lambda: {{function: f}}"
        ),
        "before[0]: an action has exactly one kind (stateMachine, lambda, ssmAutomation, notify or recoverNetwork); this one has 2",
    );
    rejected_with(
        "- name: none",
        "before[0]: an action has exactly one kind (stateMachine, lambda, ssmAutomation, notify or recoverNetwork); this one has 0",
    );
    match load_str(FILE, &with_before("- webhook: {url: x}")) {
        Err(e @ PlanError::Syntax { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("webhook") && text.contains("before"),
                "{text}"
            );
        }
        other => panic!("an unknown kind was not refused: {other:?}"),
    }
}

#[test]
fn recover_network_is_accepted_before_a_wave() {
    let plan = load_str(
        FILE,
        &with_before("- recoverNetwork: {sourceNetworks: [sn-0123456789abcdef0, sn-00000000000000001]}\n  timeoutMinutes: 30\n"),
    )
    .expect("valid plan");
    let a = &plan.actions[0].before[0];
    assert_eq!(
        a.kind,
        ActionKind::RecoverNetwork {
            source_networks: vec!["sn-0123456789abcdef0".into(), "sn-00000000000000001".into()]
        }
    );
    assert_eq!(a.timeout_seconds, 1800);
    assert_eq!(a.on_failure, OnFailure::Stop);
}

#[test]
fn recover_network_ids_are_checked_one_by_one() {
    rejected_with(
        "- recoverNetwork: {sourceNetworks: [sn-1]}",
        "before[0].recoverNetwork.sourceNetworks[0]: \"sn-1\" is not a source network ID (sn- and 17 lowercase hex digits)",
    );
    rejected_with(
        "- recoverNetwork: {sourceNetworks: [sn-0123456789ABCDEF0]}",
        "before[0].recoverNetwork.sourceNetworks[0]: \"sn-0123456789ABCDEF0\" is not a source network ID (sn- and 17 lowercase hex digits)",
    );
    rejected_with(
        "- recoverNetwork: {sourceNetworks: [sn-0123456789abcdef0, sn-0123456789abcdef0]}",
        "before[0].recoverNetwork.sourceNetworks[1]: sn-0123456789abcdef0 is listed more than once",
    );
    rejected_with(
        "- recoverNetwork: {sourceNetworks: []}",
        "before[0].recoverNetwork.sourceNetworks: 0 source networks: list 1 to 100 (DRS StartSourceNetworkRecovery)",
    );
    let many: Vec<String> = (0..101).map(|k| format!("sn-{k:017x}")).collect();
    rejected_with(
        &format!(
            "- recoverNetwork: {{sourceNetworks: [{}]}}",
            many.join(", ")
        ),
        "before[0].recoverNetwork.sourceNetworks: 101 source networks: list 1 to 100 (DRS StartSourceNetworkRecovery)",
    );
}

#[test]
fn recover_network_is_refused_after_a_wave_and_beside_another_kind() {
    let text = "name: shop\nwaves:\n  - name: app\n    servers: {tags: {Tier: app}}\n    after:\n      - recoverNetwork: {sourceNetworks: [sn-0123456789abcdef0]}\n";
    assert_eq!(
        rejection(text),
        [format!(
            "{FILE}: wave 1 \"app\": after[0].recoverNetwork: recoverNetwork runs only in before: (the network must exist before the wave's servers launch)"
        )]
    );
    rejected_with(
        &format!(
            "- recoverNetwork: {{sourceNetworks: [sn-0123456789abcdef0]}}\n  notify: {{topic: \"{TOPIC}\", message: hi}}"
        ),
        "before[0]: an action has exactly one kind (stateMachine, lambda, ssmAutomation, notify or recoverNetwork); this one has 2",
    );
}

#[test]
fn impossible_timeouts_are_refused() {
    rejected_with(
        "- lambda: {function: f}\n  timeoutMinutes: 16",
        "before[0].timeoutMinutes: 16 minutes: a Lambda function runs at most 15 minutes",
    );
    rejected_with(
        &format!("- stateMachine: {{arn: \"{SM}\"}}\n  timeoutMinutes: 0"),
        "before[0].timeoutMinutes: 0 must be a positive number of minutes (at least 1 s)",
    );
    rejected_with(
        &format!("- stateMachine: {{arn: \"{SM}\"}}\n  timeoutMinutes: 1441"),
        "before[0].timeoutMinutes: 1441 minutes is longer than an action may take (1440 minutes)",
    );
    rejected_with(
        "- ssmAutomation: {document: Doc}\n  timeoutMinutes: 0.25",
        "before[0].timeoutMinutes: 0.25 minutes is shorter than one look at the SSM Automation run (30 s)",
    );
}

#[test]
fn names_modes_policies_and_path_keys_are_checked() {
    rejected_with(
        &format!("- notify: {{topic: \"{TOPIC}\", message: hi}}\n  name: \"a (b)\""),
        "before[0].name: \"a (b)\": give 1 to 40 characters, without parentheses or control characters",
    );
    rejected_with(
        &format!("- notify: {{topic: \"{TOPIC}\", message: hi}}\n  modes: []"),
        "before[0].modes: an empty list would never run the action: list DRILL, RECOVERY, FAILBACK or some of them, or leave modes out",
    );
    rejected_with(
        &format!("- notify: {{topic: \"{TOPIC}\", message: hi}}\n  modes: [DRILL, DRILL]"),
        "before[0].modes: list each of DRILL, RECOVERY and FAILBACK at most once",
    );
    rejected_with(
        "- recoverNetwork: {sourceNetworks: [sn-0123456789abcdef0]}\n  modes: [RECOVERY, FAILBACK]",
        "before[0].modes: recoverNetwork recovers a source network into the recovery region: it has no FAILBACK",
    );
    rejected_with(
        &format!("- stateMachine: {{arn: \"{SM}\", input: {{nested: {{\"x.$\": \"$.run\"}}}}}}"),
        "before[0].stateMachine.input.nested.x.$: a key ending in '.$' would be read by Step Functions as a path: rename it",
    );
}

#[test]
fn too_many_actions_are_refused() {
    let actions: String = (0..21)
        .map(|_| format!("- notify: {{topic: \"{TOPIC}\", message: hi}}\n"))
        .collect();
    let lines = rejection(&with_before(&actions));
    assert_eq!(
        lines[0],
        format!(
            "{FILE}: wave 1 \"app\": before: 21 actions: at most 20 may run before or after a wave"
        )
    );
}

#[test]
fn a_bad_default_action_is_named_under_defaults() {
    let text = "name: shop\ndefaults:\n  after:\n    - lambda: {function: \"x y\"}\nwaves:\n  - name: app\n    servers: {tags: {Tier: app}}\n";
    let lines = rejection(text);
    assert!(
        lines[0].starts_with(&format!(
            "{FILE}: wave 1 \"app\": defaults.after[0].lambda.function: "
        )),
        "{lines:?}"
    );
}

#[test]
fn the_runbook_lists_each_action_with_its_state_limit_and_policy() {
    let plan = load_str(
        FILE,
        &with_before(&format!(
            "- name: fail over database\n  stateMachine: {{arn: \"{SM}\"}}\n  timeoutMinutes: 10\n  modes: [RECOVERY]\n"
        )),
    )
    .expect("valid plan");
    let text = crate::runbook::render(&plan).expect("runbook");
    assert!(
        text.contains(&format!(
            "- Before the wave, in order:\n  1. **Wave 1 app: before 1 (fail over database)**: runs the state machine `{SM}` to its end; \
             at most 10 min; a failure stops the execution (DrsWaves.ActionFailed names the action); only in a RECOVERY execution.\n"
        )),
        "{text}"
    );
}

#[test]
fn an_action_that_asks_takes_the_waves_decision_settings_and_budgets_its_wait() {
    let asks =
        format!("- stateMachine: {{arn: \"{SM}\"}}\n  onFailure: ask\n  timeoutMinutes: 10\n");
    let plan = load_str(
        FILE,
        &format!(
            "{}    decision: {{timeoutMinutes: 30, notify: \"{TOPIC}\"}}\n",
            with_before(&asks)
        ),
    )
    .expect("a decision with an action that asks is valid");
    let wave = &plan.spec.waves[0];
    assert_eq!(plan.actions[0].before[0].on_failure, OnFailure::Ask);
    assert_eq!(
        wave.on_failure,
        OnFailure::Stop,
        "the wave's own policy is unchanged"
    );
    assert_eq!(wave.decision_timeout_seconds, Some(1800));
    assert_eq!(wave.decision_notify.as_deref(), Some(TOPIC));
    let (seconds, _) = wave_action_budget(&plan.actions[0], 1800);
    let once = action_seconds(&plan.actions[0].before[0]);
    assert_eq!(
        seconds,
        2 * once + 1800,
        "a failure, the decision's wait, a retry"
    );
    // Without an action or a wave that asks, a decision is refused.
    let no_ask = format!(
        "{}    decision: {{timeoutMinutes: 30}}\n",
        with_before(&format!("- stateMachine: {{arn: \"{SM}\"}}\n"))
    );
    assert_eq!(
        rejection(&no_ask),
        [format!(
            "{FILE}: wave 1 \"app\": decision: a decision is asked only with onFailure: ask, of the wave or of one of its actions (it is stop)"
        )]
    );
}

#[test]
fn after_actions_of_waves_listing_too_many_servers_are_refused_for_the_state_size() {
    let ids: Vec<String> = (0..1000).map(|k| format!("s-{k:017x}")).collect();
    let text = format!(
        "name: shop\nwaves:\n  - name: app\n    servers: {{ids: [{}]}}\n    after:\n      - notify: {{topic: \"{TOPIC}\", message: up}}\n",
        ids.join(", ")
    );
    let lines = rejection(&text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "{FILE}: after: the after-actions of waves 1 \"app\" get their recovered servers, about 260000 bytes"
        )),
        "{lines:?}"
    );
}
