//! `native export` on plans written for the purpose: splitting, the step limit, and the
//! losses named wave by wave.

use std::collections::BTreeMap;

use drs_waves_aws::drs::native::NativeStepConfig;
use serde_json::{Value, json};

use super::export::{ExportError, Target, export, native_name};

fn target() -> Target {
    Target {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}

use super::test_sim::sid;

fn load(yaml: &str) -> drs_codegen::plan::Plan {
    drs_codegen::plan::load_str("test.plan.yaml", yaml).unwrap_or_else(|e| panic!("plan: {e}"))
}

fn wave(name: &str, ids: impl Iterator<Item = usize>) -> String {
    let ids: Vec<String> = ids.map(sid).collect();
    format!(
        "  - name: {name}\n    servers:\n      ids: [{}]\n",
        ids.join(", ")
    )
}

fn servers_of(step: &Value) -> &Vec<Value> {
    step["configuration"]["serverStepConfiguration"]["servers"]
        .as_array()
        .expect("a SERVER step")
}

#[test]
fn a_wave_of_250_servers_is_three_steps_of_at_most_100_with_optional_servers_optional() {
    let yaml = format!(
        "name: big\nwaves:\n{}    optional: [{}]\n{}",
        wave("fleet", 1..=250),
        sid(250),
        wave("tail", 251..=252)
    );
    let out = export(&load(&yaml), &target(), &BTreeMap::new()).expect("exported");
    let steps = out.step_requests();
    let sizes: Vec<usize> = steps.iter().map(|s| servers_of(s).len()).collect();
    assert_eq!(sizes, [100, 100, 50, 2]);
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s["stepName"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "fleet part 1 of 3",
            "fleet part 2 of 3",
            "fleet part 3 of 3",
            "tail"
        ]
    );
    let orders: Vec<i64> = steps
        .iter()
        .map(|s| s["stepOrder"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(orders, [1, 2, 3, 4]);
    let last = &servers_of(&steps[2])[49];
    assert_eq!(
        last["serverArn"],
        format!(
            "arn:aws:drs:eu-west-1:123456789012:source-server/{}",
            sid(250)
        )
    );
    assert_eq!(last["impactLevel"], "OPTIONAL");
    assert_eq!(servers_of(&steps[2])[0]["impactLevel"], "CRITICAL");
    assert_eq!(out.requests()["createRecoveryPlan"]["name"], "big");
}

#[test]
fn a_plan_of_25_waves_is_refused_naming_the_steps_it_needs() {
    let waves: String = (1..=25).map(|i| wave(&format!("w{i}"), i..=i)).collect();
    let plan = load(&format!("name: many\nwaves:\n{waves}"));
    let e = export(&plan, &target(), &BTreeMap::new()).expect_err("refused");
    assert_eq!(e, ExportError::TooManySteps { needed: 25 });
    assert!(e.to_string().contains("needs 25 steps"), "{e}");
    // 20 single-server waves fit exactly.
    let waves: String = (1..=20).map(|i| wave(&format!("w{i}"), i..=i)).collect();
    let plan = load(&format!("name: twenty\nwaves:\n{waves}"));
    assert_eq!(
        export(&plan, &target(), &BTreeMap::new())
            .expect("fits")
            .steps
            .len(),
        20
    );
}

const GATED: &str = r#"
name: storefront
terminateDrillInstances: true
rtoMinutes: 60
defaults:
  launchTimeoutMinutes: 20
waves:
  - name: db
    servers:
      ids: [s-00000000000000001]
  - name: app
    rtoMinutes: 30
    approval: {before: true, timeoutMinutes: 240}
    onFailure: ask
    maxAttempts: 3
    servers:
      ids: [s-00000000000000002]
    before:
      - name: fail over database
        stateMachine:
          arn: arn:aws:states:us-east-1:000000000000:stateMachine:failover
        timeoutMinutes: 15
    after:
      - name: warm the cache
        lambda: {function: warm-cache}
        timeoutMinutes: 5
    health:
      - alarm: app-5xx
        timeoutMinutes: 15
        intervalSeconds: 60
"#;

#[test]
fn gates_decisions_actions_health_timeouts_and_clean_up_are_each_named_as_losses() {
    let out = export(&load(GATED), &target(), &BTreeMap::new()).expect("exported");
    let steps = out.step_requests();
    let lines: Vec<String> = out.losses.iter().map(ToString::to_string).collect();
    let has = |wave: &str, words: &str| {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(wave) && l.contains(words)),
            "no loss {wave} ... {words} in {lines:#?}"
        );
    };
    has("plan:", "drill clean-up");
    has("plan:", "RTO target (3600 s)");
    has("wave db:", "launch timeout (1200 s)");
    has("wave app:", "approval gate");
    has(
        "wave app:",
        "decision on failure (onFailure: ask, maxAttempts 3",
    );
    has(
        "wave app:",
        "action 1 \"fail over database\" (stateMachine)",
    );
    has("wave app:", "action 1 \"warm the cache\" (lambda)");
    has("wave app:", "1 health check(s)");
    has("wave app:", "RTO target (1800 s)");
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("wave db:") && l.contains("gate")),
        "{lines:#?}"
    );
    assert_eq!(steps.len(), 2);
}

#[test]
fn tag_selectors_are_refused_offline_and_fixed_once_resolved() {
    let plan = load("name: tagged\nwaves:\n  - name: web\n    servers:\n      tags: {Tier: web}\n");
    let e = export(&plan, &target(), &BTreeMap::new()).expect_err("offline");
    assert!(e.to_string().contains("--resolve"), "{e}");
    let resolved = BTreeMap::from([(1, vec![sid(7), sid(8)])]);
    let out = export(&plan, &target(), &resolved).expect("resolved");
    let steps = out.step_requests();
    assert_eq!(servers_of(&steps[0]).len(), 2);
    assert!(
        out.losses
            .iter()
            .any(|l| l.to_string().contains("resolved once to 2 server(s)"))
    );
}

#[test]
fn names_are_made_valid_for_drs() {
    assert_eq!(native_name("web.tier/1"), "web-tier-1");
    assert_eq!(native_name("-x"), "w-x");
}

#[test]
fn the_exported_requests_are_what_the_drs_model_accepts() {
    use drs_sim::{Direction, Model};
    let yaml = format!("name: checked\nwaves:\n{}", wave("fleet", 1..=150));
    let out = export(&load(&yaml), &target(), &BTreeMap::new()).expect("exported");
    let steps = out.step_requests();
    let model = Model::drs();
    let wrong = model.validate("CreateRecoveryPlanRequest", &out.plan, Direction::Request);
    assert!(wrong.is_empty(), "{wrong:?}");
    for step in &steps {
        let mut request = step.clone();
        request["recoveryPlanArn"] =
            Value::from("arn:aws:drs:eu-west-1:123456789012:recovery-plan/rp-1");
        let wrong = model.validate(
            "CreateRecoveryPlanStepRequest",
            &request,
            Direction::Request,
        );
        assert!(wrong.is_empty(), "{wrong:?}");
    }
}

#[test]
fn branches_and_continue_on_failure_are_named_as_losses() {
    let yaml = format!(
        "name: graph\nwaves:\n{}{}    dependsOn: []\n{}    dependsOn: [db, search]\n    onFailure: continue\n",
        wave("db", 1..=1),
        wave("search", 2..=2),
        wave("app", 3..=3)
    );
    let out = export(&load(&yaml), &target(), &BTreeMap::new()).expect("exported");
    let steps = out.step_requests();
    let lines: Vec<String> = out.losses.iter().map(ToString::to_string).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("wave search: dependsOn []")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("wave app: dependsOn [db, search]")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("wave app: onFailure: continue")),
        "{lines:#?}"
    );
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s["stepName"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["db", "search", "app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_fixes_each_tag_selector_to_the_servers_drs_lists_now() {
    use drs_sim::ServerSpec;
    let tagged = |n: usize, tier: &str| {
        let mut spec = ServerSpec::new(sid(n), 0.1);
        spec.tags = BTreeMap::from([("Tier".to_owned(), tier.to_owned())]);
        spec
    };
    let servers = vec![tagged(1, "web"), tagged(2, "db"), tagged(3, "web")];
    let (_sim, drs) = super::test_sim::sim_drs(servers).await;
    let plan = load("name: tagged\nwaves:\n  - name: web\n    servers:\n      tags: {Tier: web}\n");
    let resolved = super::resolve_tags(&plan, &drs).await.expect("resolved");
    assert_eq!(resolved, BTreeMap::from([(1, vec![sid(1), sid(3)])]));
    let out = export(&plan, &target(), &resolved).expect("exported");
    let steps = out.step_requests();
    assert_eq!(servers_of(&steps[0]).len(), 2);
}

#[test]
fn a_pause_becomes_wait_steps_of_whole_minutes_before_its_wave() {
    let yaml = format!(
        "name: paused\nwaves:\n{}{}    pauseBeforeMinutes: 150\n{}    pauseBeforeSeconds: 90\n",
        wave("db", 1..=2),
        wave("app", 3..=4),
        wave("web", 5..=5)
    );
    let out = export(&load(&yaml), &target(), &BTreeMap::new()).expect("exported");
    let kinds: Vec<(String, Option<u32>)> = (out.steps.iter())
        .map(|s| {
            let minutes = match s.config {
                NativeStepConfig::Wait { minutes } => Some(minutes),
                NativeStepConfig::Server(_) => None,
            };
            (s.name.clone(), minutes)
        })
        .collect();
    let expected: Vec<(String, Option<u32>)> = [
        ("db", None),
        ("app pause part 1 of 2", Some(120)),
        ("app pause part 2 of 2", Some(30)),
        ("app", None),
        ("web pause", Some(2)),
        ("web", None),
    ]
    .into_iter()
    .map(|(n, m)| (n.to_owned(), m))
    .collect();
    assert_eq!(kinds, expected);
    let wait = &out.step_requests()[4];
    assert_eq!(
        wait["configuration"],
        json!({"waitStepConfiguration": {"waitDurationMinutes": 2}})
    );
    let lines: Vec<String> = out.losses.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(
            &"wave web: pause of 90 s rounded up to 2 min: a WAIT step counts whole minutes"
                .to_owned()
        ),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("wave app: pause")),
        "{lines:#?}"
    );
}

#[test]
fn wait_steps_count_toward_the_twenty() {
    // 19 waves and a pause fit; 20 waves and a pause need 21 steps.
    let mut waves: String = (1..=19).map(|i| wave(&format!("w{i}"), i..=i)).collect();
    waves.push_str("    pauseBeforeMinutes: 5\n");
    let fits = export(
        &load(&format!("name: many\nwaves:\n{waves}")),
        &target(),
        &BTreeMap::new(),
    );
    assert_eq!(fits.expect("fits").steps.len(), 20);
    waves.push_str(&wave("w20", 20..=20));
    let e = export(
        &load(&format!("name: many\nwaves:\n{waves}")),
        &target(),
        &BTreeMap::new(),
    )
    .expect_err("refused");
    assert_eq!(e, ExportError::TooManySteps { needed: 21 });
}
