//! The checked-in files under statemachines/: current, golden, valid ASL, valid against the
//! schemas, and within Step Functions' limits.

use std::path::{Path, PathBuf};
use std::process::Command;

use drs_codegen::artifacts::{self, REGENERATE_COMMAND};
use drs_codegen::generate::ActivityResources;
use drs_codegen::{budget, compile_file};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    artifacts::default_dir()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn checked_in_machines() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("statemachines/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(artifacts::ASL_SUFFIX))
        .collect();
    out.sort();
    out
}

#[test]
fn checked_in_files_are_current() {
    let stale = artifacts::stale(&dir()).expect("render");
    assert!(
        stale.is_empty(),
        "generated files are stale:\n  {}\nrun: {REGENERATE_COMMAND}",
        stale.join("\n  ")
    );
}

/// The golden files: each example's machine, compared line by line for a readable failure.
#[test]
fn examples_generate_their_golden_machines() {
    for name in ["billing", "storefront", "fleet"] {
        let plan = dir().join(format!("{name}{}", artifacts::PLAN_SUFFIX));
        let golden = read(&dir().join(format!("{name}{}", artifacts::ASL_SUFFIX)));
        let compiled =
            compile_file(&plan, &ActivityResources::Placeholders).expect("example compiles");
        if let Some((i, (got, want))) = compiled
            .definition
            .lines()
            .zip(golden.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
        {
            panic!(
                "{name}: line {}: generated {got:?}, golden {want:?}\nrun: {REGENERATE_COMMAND}",
                i + 1
            );
        }
        assert_eq!(
            compiled.definition, golden,
            "{name}: length differs; run: {REGENERATE_COMMAND}"
        );
    }
}

#[test]
fn asl_validator_accepts_every_checked_in_machine() {
    let validator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/node_modules/.bin/asl-validator");
    assert!(
        validator.exists(),
        "{} is not installed; run: npm ci --prefix tools",
        validator.display()
    );
    let machines = checked_in_machines();
    assert!(
        machines.len() >= 3,
        "expected the example machines, found {machines:?}"
    );
    let mut cmd = Command::new(&validator);
    for m in &machines {
        cmd.arg("--json-path").arg(m);
    }
    let out = cmd.output().expect("run asl-validator");
    assert!(
        out.status.success(),
        "asl-validator rejected a machine:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn asl_validator_rejects_a_broken_machine() {
    // Guards the test above against a validator that accepts anything.
    let validator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/node_modules/.bin/asl-validator");
    assert!(validator.exists(), "run: npm ci --prefix tools");
    let mut machine: Value =
        serde_json::from_str(&read(&dir().join("billing.asl.json"))).expect("json");
    machine["States"]["Finish"]["Next"] = json!("Nowhere");
    let tmp = tempfile::Builder::new()
        .suffix(".asl.json")
        .tempfile()
        .expect("temp");
    std::fs::write(tmp.path(), machine.to_string()).expect("write");
    let out = Command::new(&validator)
        .arg("--json-path")
        .arg(tmp.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
}

/// statelint (PyPI `statelint`, pinned in requirements.txt) from the project's venv
/// (`$DRS_WAVES_VENV`, default `<repo>/.venv`, made by scripts/bootstrap.sh). It applies
/// the rules AWS applies when a definition is created that asl-validator does not, such as
/// Reference Paths: `$.operator.approve-w2` passes asl-validator and fails the deploy.
fn statelint() -> PathBuf {
    let venv = std::env::var_os("DRS_WAVES_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"),
        PathBuf::from,
    );
    let statelint = venv.join("bin").join("statelint");
    assert!(
        statelint.exists(),
        "{} is not installed; run: scripts/bootstrap.sh (or point DRS_WAVES_VENV at a venv with requirements.txt)",
        statelint.display()
    );
    statelint
}

/// A checked-in machine as CDK deploys it: each `${...ActivityArn}` placeholder replaced by an
/// activity ARN (definitionSubstitutions), since statelint wants a URI in every Resource.
fn with_activity_arns(definition: &str) -> String {
    drs_codegen::contract::Activity::ALL.into_iter().fold(
        definition.to_owned(),
        |text, activity| {
            text.replace(
                &format!("${{{}}}", activity.placeholder()),
                &format!(
                    "arn:aws:states:us-east-1:123456789012:activity:{}",
                    activity.deployed_name("drs-waves")
                ),
            )
        },
    )
}

/// Runs statelint on each definition (written to a temporary file); its exit status and output.
fn run_statelint(definitions: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(statelint());
    for (i, definition) in definitions.iter().enumerate() {
        let file = dir.path().join(format!("machine-{i}.asl.json"));
        std::fs::write(&file, definition).expect("write");
        cmd.arg(file);
    }
    let out = cmd.output().expect("run statelint");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn statelint_accepts_every_checked_in_machine() {
    let machines = checked_in_machines();
    assert!(
        machines.len() >= 3,
        "expected the example machines, found {machines:?}"
    );
    let definitions: Vec<String> = machines
        .iter()
        .map(|m| with_activity_arns(&read(m)))
        .collect();
    assert!(
        definitions.iter().all(|d| !d.contains("${")),
        "a placeholder was left unreplaced"
    );
    let (ok, output) = run_statelint(&definitions);
    assert!(
        ok,
        "statelint rejected a machine ({machines:?} in order):\n{output}"
    );
}

#[test]
fn statelint_rejects_a_path_aws_would_refuse() {
    // Guards the test above against a linter that accepts anything: the machine that passes,
    // with one hyphenated ResultPath, as the approval gates had before.
    let mut machine: Value =
        serde_json::from_str(&with_activity_arns(&read(&dir().join("billing.asl.json"))))
            .expect("json");
    let (ok, output) = run_statelint(&[machine.to_string()]);
    assert!(ok, "the unchanged machine must pass: {output}");
    machine["States"]["Preflight"]["ResultPath"] = json!("$.approve-w1");
    let (ok, output) = run_statelint(&[machine.to_string()]);
    assert!(!ok, "statelint accepted $.approve-w1");
    assert!(
        output.contains("Preflight.ResultPath") && output.contains("Reference Path"),
        "refused for another reason: {output}"
    );
}

fn compiled_schema(file: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&read(&dir().join(file))).expect("schema json");
    jsonschema::validator_for(&schema).expect("valid schema")
}

#[test]
fn example_plans_match_the_plan_schema() {
    let schema = compiled_schema(artifacts::PLAN_SCHEMA);
    for entry in std::fs::read_dir(dir()).expect("dir") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().ends_with(artifacts::PLAN_SUFFIX) {
            continue;
        }
        let plan: Value = serde_yaml_ng::from_str(&read(&path)).expect("yaml");
        let errors: Vec<String> = schema.iter_errors(&plan).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    let bad =
        json!({"name": "x y", "waves": [{"name": "db", "servers": {"ids": ["s-1"]}, "extra": 1}]});
    assert!(!schema.is_valid(&bad));
}

#[test]
fn the_input_schema_accepts_drills_and_confirmed_recoveries_only() {
    let schema = compiled_schema(artifacts::INPUT_SCHEMA);
    assert!(schema.is_valid(&json!({"mode": "DRILL"})));
    assert!(schema.is_valid(&json!({"mode": "RECOVERY", "confirm": "billing"})));
    assert!(!schema.is_valid(&json!({"mode": "drill"})));
    assert!(!schema.is_valid(&json!({"mode": "DRILL", "confirmation": "billing"})));
    assert!(!schema.is_valid(&json!({})));
}

#[test]
fn contract_json_carries_what_the_cdk_app_reads() {
    let contract: Value =
        serde_json::from_str(&read(&dir().join(artifacts::CONTRACT_JSON))).expect("json");
    assert_eq!(
        contract["contractVersion"],
        json!(drs_codegen::contract::CONTRACT_VERSION)
    );
    assert_eq!(contract["activityPrefix"], json!("drs-waves"));
    assert_eq!(
        contract["activities"][1],
        json!({"name": "start-wave", "placeholder": "StartWaveActivityArn"})
    );
    assert_eq!(
        contract["activities"].as_array().map(Vec::len),
        Some(drs_codegen::contract::Activity::ALL.len())
    );
    assert!(
        contract["errors"]
            .as_array()
            .expect("errors")
            .contains(&json!({"name": "DrsWaves.Transient", "retryable": true}))
    );
    assert_eq!(contract["historyTable"]["partitionKey"], json!("pk"));
    assert_eq!(
        contract["historyTable"]["indexes"][0]["name"],
        json!("status-index")
    );
    assert_eq!(
        contract["jobTags"]["execution"],
        json!("drs-waves:execution")
    );
}

#[test]
fn the_fleet_plan_has_1000_servers_and_fits_the_limits() {
    let compiled = compile_file(
        &dir().join(artifacts::FLEET_PLAN),
        &ActivityResources::Placeholders,
    )
    .expect("fleet");
    let spec = &compiled.plan.spec;
    assert_eq!(spec.waves.len(), 20);
    assert!(spec.waves.iter().all(|w| w.server_ids.len() == 50));
    assert_eq!(spec.waves[0].server_ids[0], "s-c0001000000000001");
    assert_eq!(spec.waves[19].server_ids[49], "s-c0020000000001000");
    let size = drs_codegen::worst_case_definition_bytes(&compiled.machine, &compiled.definition);
    assert!(size < budget::DEFINITION_LIMIT_BYTES, "{size}");
    assert!(budget::worst_case_history_events(&spec.waves) < budget::HISTORY_EVENT_LIMIT);
}

#[test]
fn the_billing_example_is_what_the_end_to_end_tests_expect() {
    let compiled = compile_file(
        &dir().join("billing.plan.yaml"),
        &ActivityResources::Placeholders,
    )
    .expect("billing");
    let spec = &compiled.plan.spec;
    let names: Vec<&str> = spec.waves.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["databases", "app-servers", "web"]);
    assert_eq!(
        spec.waves[0].server_ids,
        ["s-a1b2c3d4e5f600001", "s-a1b2c3d4e5f600002"]
    );
    assert_eq!(spec.waves[1].optional, ["s-a1b2c3d4e5f600004"]);
    assert_eq!(
        spec.waves[2].tags.get("Tier").map(String::as_str),
        Some("web")
    );
    assert_eq!(compiled.plan.heartbeat_seconds, 10);
    assert!(
        spec.waves
            .iter()
            .all(|w| w.polling.min_wait_seconds == 1 && w.launch_timeout_seconds == 120)
    );
}
