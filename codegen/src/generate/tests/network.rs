//! A `recoverNetwork` action: start-network, wait, check-network and the Choice, with the
//! failure going where the other kinds' go.

use super::*;

const NET: &str = "sn-0123456789abcdef0";

fn with_db(db: &str) -> Plan {
    let mut text = String::from(
        "name: shop\ntasks: {heartbeatSeconds: 5}\nwaves:\n  - name: db\n    servers: {tags: {Tier: db}}\n",
    );
    for line in db.lines().filter(|l| !l.is_empty()) {
        text.push_str(&format!("    {line}\n"));
    }
    text.push_str("  - name: app\n    servers: {tags: {Tier: app}}\n");
    plan(&text)
}

fn machine(p: &Plan) -> StateMachine {
    let m = generate(p, &ActivityResources::Placeholders);
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    m
}

fn state(m: &StateMachine, name: &str) -> Value {
    serde_json::to_value(
        m.states
            .get(name)
            .unwrap_or_else(|| panic!("no state {name:?}")),
    )
    .expect("json")
}

#[test]
fn a_network_recovery_is_started_waited_for_and_checked_before_the_first_wave() {
    let m = machine(&with_db(&format!(
        "before:\n  - recoverNetwork: {{sourceNetworks: [{NET}]}}\n    timeoutMinutes: 20\n"
    )));
    let run = "Wave 1 db: before 1";
    let start = state(&m, run);
    assert_eq!(start["Resource"], json!("${StartNetworkActivityArn}"));
    assert_eq!(start["ResultPath"], json!("$.action"));
    assert_eq!(start["Parameters"]["sourceNetworks"], json!([NET]));
    assert_eq!(start["Parameters"]["timeoutSeconds"], json!(1200));
    assert_eq!(start["Parameters"]["phase"], json!("before"));
    assert_eq!(start["Next"], json!(format!("{run} / wait")));
    assert_eq!(start["Catch"][0]["Next"], json!(format!("{run} / failed")));
    let wait = state(&m, &format!("{run} / wait"));
    assert_eq!(wait["SecondsPath"], json!("$.action.nextWaitSeconds"));
    let check = state(&m, &format!("{run} / poll"));
    assert_eq!(check["Resource"], json!("${CheckNetworkActivityArn}"));
    assert_eq!(check["Parameters"]["state.$"], json!("$.action"));
    let choice = state(&m, &format!("{run} / status?"));
    assert_eq!(choice["Choices"][0]["StringEquals"], json!("SUCCEEDED"));
    assert_eq!(choice["Choices"][1]["StringEquals"], json!("FAILED"));
    assert_eq!(
        choice["Choices"][1]["Next"],
        json!(format!("{run} / failed"))
    );
    assert_eq!(choice["Default"], json!(format!("{run} / wait")));
    // Done: the wave starts (its entry follows the network).
    let wave_entry = choice["Choices"][0]["Next"]
        .as_str()
        .expect("next")
        .to_owned();
    assert!(wave_entry.starts_with("Wave 1 db: "), "{wave_entry}");
    let failed = state(&m, &format!("{run} / failed"));
    assert_eq!(
        failed["Parameters"]["Error"],
        json!("DrsWaves.ActionFailed")
    );
    assert!(
        failed["Parameters"]["Cause.$"]
            .as_str()
            .is_some_and(|c| c.contains(NET)),
        "{failed}"
    );
    assert_eq!(failed["Next"], json!("Record failure"));
    assert!(
        m.states
            .names()
            .filter(|n| n.contains("before 1"))
            .all(names::is_action_state),
        "every state of the action is an action state"
    );
}

#[test]
fn a_network_recovery_that_may_fail_goes_on_and_counts_in_the_budget() {
    let p = with_db(&format!(
        "before:\n  - recoverNetwork: {{sourceNetworks: [{NET}]}}\n    onFailure: continue\n"
    ));
    let m = machine(&p);
    let choice = state(&m, "Wave 1 db: before 1 / status?");
    assert_eq!(choice["Choices"][1]["Next"], choice["Choices"][0]["Next"]);
    assert!(m.states.get("Wave 1 db: before 1 / failed").is_none());
    let a = &p.actions[0].before[0];
    assert!(
        crate::plan::actions::action_seconds(a) > u64::from(a.timeout_seconds),
        "the last wait and check count beyond the timeout"
    );
    assert!(
        crate::plan::actions::action_events(a) > 3600 / 15,
        "every round's events count"
    );
}

#[test]
fn a_network_recovery_that_asks_goes_to_the_operators_decision_whose_retry_starts_it_again() {
    let m = machine(&with_db(&format!(
        "before:\n  - recoverNetwork: {{sourceNetworks: [{NET}]}}\n    onFailure: ask\n"
    )));
    let run = "Wave 1 db: before 1";
    let s = |step: &str| format!("{run} / {step}");
    assert_eq!(state(&m, &s("status?"))["Choices"][1]["Next"], s("failed"));
    assert_eq!(state(&m, &s("failed"))["Next"], s("decide?"));
    assert_eq!(
        state(&m, &s("decide?"))["Parameters"]["action"]["name"],
        run
    );
    let answer = state(&m, &s("answer?"));
    assert_eq!(
        answer["Choices"][0]["Next"], run,
        "a retry starts the recovery again"
    );
    assert_eq!(answer["Choices"][1]["Next"], "Wave 1 db: start");
}
