//! The drs-codegen binary: exit statuses, atomic output, and each subcommand's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use drs_codegen::artifacts;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_drs-codegen"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run drs-codegen")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn example(name: &str) -> String {
    artifacts::default_dir().join(name).display().to_string()
}

fn write_plan(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write plan");
    path
}

const BAD_PLAN: &str = "name: billing\nwaves:\n  - name: db\n    servers: {ids: [s-12]}\n";

#[test]
fn validate_accepts_the_examples() {
    let o = run(&[
        "validate",
        &example("billing.plan.yaml"),
        &example("storefront.plan.yaml"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("billing.plan.yaml: ok: plan \"billing\", 3 wave(s)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn validate_exits_2_on_a_bad_plan_and_checks_every_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = write_plan(tmp.path(), "bad.plan.yaml", BAD_PLAN);
    let o = run(&[
        "validate",
        bad.to_str().expect("utf8"),
        &example("billing.plan.yaml"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("wave 1 \"db\": servers.ids[0]: \"s-12\" is not a source server ID"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("billing.plan.yaml: ok"),
        "the second file was not checked: {}",
        stdout(&o)
    );
}

#[test]
fn validate_exits_1_when_a_file_cannot_be_read() {
    let o = run(&["validate", "/nonexistent/plan.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/plan.yaml: cannot read"));
}

#[test]
fn generate_prints_the_golden_machine() {
    let o = run(&["generate", &example("billing.plan.yaml")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let golden =
        std::fs::read_to_string(artifacts::default_dir().join("billing.asl.json")).expect("golden");
    assert_eq!(stdout(&o), golden);
}

#[test]
fn generate_writes_the_output_file_only_on_success() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("machine.json");
    let o = run(&[
        "generate",
        &example("billing.plan.yaml"),
        "-o",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    let first = std::fs::read_to_string(&out).expect("written");
    assert!(first.contains("\"StartAt\": \"Check input\""));

    let bad = write_plan(tmp.path(), "bad.plan.yaml", BAD_PLAN);
    let o = run(&[
        "generate",
        bad.to_str().expect("utf8"),
        "-o",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&out).expect("kept"),
        first,
        "a failed generate changed the output"
    );
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "temporary files left behind: {leftovers:?}"
    );

    let missing = tmp.path().join("no/such/dir/machine.json");
    let o = run(&[
        "generate",
        &example("billing.plan.yaml"),
        "-o",
        missing.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn generate_takes_every_activity_arn() {
    let names = [
        "preflight",
        "start-wave",
        "check-wave",
        "finish",
        "record-failure",
        "await-operator",
        "check-health",
        "start-network",
        "check-network",
    ];
    let args: Vec<String> = names
        .iter()
        .flat_map(|n| {
            [
                "--activity-arn".to_owned(),
                format!("{n}=arn:aws:states:us-east-1:000000000000:activity:drs-waves-{n}"),
            ]
        })
        .collect();
    let mut all = vec!["generate".to_owned(), example("storefront.plan.yaml")];
    all.extend(args.iter().cloned());
    let o = bin().args(&all).output().expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(
        "\"Resource\": \"arn:aws:states:us-east-1:000000000000:activity:drs-waves-check-wave\""
    ));
    assert!(!stdout(&o).contains("${"));

    let o = run(&[
        "generate",
        &example("billing.plan.yaml"),
        "--activity-arn",
        "launch=arn:aws:states:r:1:activity:x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown activity"), "{}", stderr(&o));
    let o = run(&[
        "generate",
        &example("billing.plan.yaml"),
        "--activity-arn",
        "finish=arn:aws:states:r:1:activity:x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing preflight, start-wave, check-wave, record-failure"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn schema_and_contract_print_the_checked_in_files() {
    let dir = artifacts::default_dir();
    for (args, file) in [
        (&["schema", "plan"][..], artifacts::PLAN_SCHEMA),
        (&["schema", "input"][..], artifacts::INPUT_SCHEMA),
        (&["contract"][..], artifacts::CONTRACT_JSON),
    ] {
        let o = run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            std::fs::read_to_string(dir.join(file)).expect("file"),
            "{args:?}"
        );
    }
    assert_eq!(run(&["schema", "plans"]).status.code(), Some(2));
}

#[test]
fn runbook_renders_markdown() {
    let o = run(&["runbook", &example("billing.plan.yaml")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("# Runbook: recovery plan `billing`"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "validate",
        "generate",
        "schema",
        "runbook",
        "contract",
        "regenerate",
    ] {
        let o = run(&[sub, "--help"]);
        assert!(o.status.success(), "{sub} --help failed");
        assert!(
            stdout(&o).contains("Usage: drs-codegen"),
            "{sub}: {}",
            stdout(&o)
        );
    }
    assert_eq!(run(&[]).status.code(), Some(2));
}

#[test]
fn regenerate_check_finds_stale_files_and_regenerate_fixes_them() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    for name in ["billing.plan.yaml", "storefront.plan.yaml"] {
        std::fs::copy(artifacts::default_dir().join(name), d.join(name)).expect("copy");
    }
    std::fs::write(d.join("old.asl.json"), "{}").expect("orphan");
    let dir = d.to_str().expect("utf8");
    let o = run(&["regenerate", "--dir", dir, "--check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("billing.asl.json is missing"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("old.asl.json has no plan"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("run: cargo run -p drs-codegen -- regenerate"));

    let o = run(&["regenerate", "--dir", dir]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.join("old.asl.json").exists());
    assert!(d.join("fleet.asl.json").exists());
    assert!(d.join("schemas/plan.schema.json").exists());
    let o = run(&["regenerate", "--dir", dir, "--check"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn regenerate_refuses_a_plan_named_unlike_its_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    write_plan(
        tmp.path(),
        "shop.plan.yaml",
        "name: store\nwaves:\n  - name: db\n    servers: {tags: {T: db}}\n",
    );
    let o = run(&["regenerate", "--dir", tmp.path().to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the plan is named \"store\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn validate_and_generate_warn_of_a_wave_that_will_wait_longer_than_it_must() {
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = write_plan(
        tmp.path(),
        "n.plan.yaml",
        "name: shop\nwaves:\n\
         \x20 - name: db\n    servers: {tags: {Tier: db}}\n\
         \x20 - name: cache\n    dependsOn: []\n    servers: {tags: {Tier: cache}}\n\
         \x20 - name: app\n    dependsOn: [db, cache]\n    servers: {tags: {Tier: app}}\n\
         \x20 - name: web\n    dependsOn: [cache]\n    servers: {tags: {Tier: web}}\n",
    );
    let path = plan.to_str().expect("utf8");
    for args in [vec!["validate", path], vec!["generate", path]] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!(
                "{path}: warning: wave 4 \"web\": dependsOn: will also wait for wave 1 \"db\""
            )),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}
