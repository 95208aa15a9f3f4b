//! dependsOn and account as a plan's author meets them: what is accepted, and each rejection
//! and warning as the CLI prints it.

use crate::contract::WaveAccount;
use crate::plan::{PlanError, load_str};

const FILE: &str = "plans/shop.plan.yaml";

/// A plan of waves `(name, extra YAML for the wave)`, each with one tagged server selector.
fn plan_text(waves: &[(&str, &str)]) -> String {
    let mut text = String::from("name: shop\nwaves:\n");
    for (name, extra) in waves {
        text.push_str(&format!(
            "  - name: {name}\n    servers: {{tags: {{Tier: {name}}}}}\n"
        ));
        for line in extra.lines().filter(|l| !l.is_empty()) {
            text.push_str(&format!("    {line}\n"));
        }
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

#[test]
fn depends_on_names_become_indexes_and_absent_stays_absent() {
    let plan = load_str(
        FILE,
        &plan_text(&[
            ("db", ""),
            ("search", "dependsOn: []"),
            ("app", "dependsOn: [search, db]"),
            ("web", ""),
        ]),
    )
    .expect("valid");
    let deps: Vec<Option<Vec<u32>>> = plan
        .spec
        .waves
        .iter()
        .map(|w| w.depends_on.clone())
        .collect();
    assert_eq!(deps, vec![None, Some(vec![]), Some(vec![1, 2]), None]);
    assert_eq!(
        plan.spec.dependencies(4),
        vec![3],
        "absent: the wave before"
    );
    assert!(plan.warnings.is_empty());
}

#[test]
fn unknown_self_and_twice_named_dependencies_are_named() {
    let lines = rejection(&plan_text(&[
        ("db", ""),
        ("app", "dependsOn: [db, db, cache, app]"),
    ]));
    assert_eq!(
        lines,
        vec![
            "plans/shop.plan.yaml: wave 2 \"app\": dependsOn[1]: \"db\" is named twice",
            "plans/shop.plan.yaml: wave 2 \"app\": dependsOn[2]: \"cache\" is not a wave of this plan (its waves: app, db)",
            "plans/shop.plan.yaml: wave 2 \"app\": dependsOn[3]: \"app\" is this wave: a wave cannot wait for itself",
        ]
    );
}

#[test]
fn a_cycle_is_printed_as_the_cycle_once() {
    // db waits for web, app for db (the wave before), web for app.
    let lines = rejection(&plan_text(&[
        ("db", "dependsOn: [web]"),
        ("app", ""),
        ("web", "dependsOn: [app]"),
    ]));
    assert_eq!(
        lines,
        vec![
            "plans/shop.plan.yaml: wave 1 \"db\": dependsOn: the waves wait for each other in a cycle \
             (db waits for web waits for app waits for db): none of them could ever start"
        ]
    );
}

#[test]
fn a_graph_parallel_states_cannot_express_is_accepted_with_a_warning() {
    let plan = load_str(
        FILE,
        &plan_text(&[
            ("db", "dependsOn: []"),
            ("cache", "dependsOn: []"),
            ("app", "dependsOn: [db, cache]"),
            ("web", "dependsOn: [cache]"),
        ]),
    )
    .expect("valid");
    let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("wave 4 \"web\": dependsOn: will also wait for wave 1 \"db\", which it does not depend on"),
        "{}",
        warnings[0]
    );
}

#[test]
fn a_wave_rto_is_checked_against_the_waves_it_waits_for_only() {
    // search runs beside db: a sooner target than db's is fine; app waits for db: it is not.
    let lines = rejection(&plan_text(&[
        ("db", "rtoMinutes: 30"),
        ("search", "dependsOn: []\nrtoMinutes: 10"),
        ("app", "dependsOn: [db]\nrtoMinutes: 20"),
    ]));
    assert_eq!(
        lines,
        vec![
            "plans/shop.plan.yaml: wave 3 \"app\": rtoMinutes: 20 minutes is less than wave 1 \"db\"'s rtoMinutes (30): \
             this wave waits for it, so it cannot be recovered sooner"
        ]
    );
}

#[test]
fn an_account_comes_from_defaults_unless_the_wave_names_its_own() {
    let text = "name: shop\ndefaults:\n  account: {roleArn: 'arn:aws:iam::111111111111:role/drs-waves-target', region: eu-west-1}\n\
                waves:\n  - name: db\n    servers: {tags: {Tier: db}}\n\
                \x20 - name: web\n    servers: {tags: {Tier: web}}\n    account: {region: eu-central-1}\n";
    let plan = load_str(FILE, text).expect("valid");
    assert_eq!(
        plan.spec.waves[0].account,
        Some(WaveAccount {
            role_arn: Some("arn:aws:iam::111111111111:role/drs-waves-target".into()),
            region: Some("eu-west-1".into()),
            external_id: None,
        })
    );
    assert_eq!(
        plan.spec.waves[1]
            .account
            .as_ref()
            .and_then(|a| a.region.as_deref()),
        Some("eu-central-1")
    );
    assert_eq!(
        plan.spec.waves[1]
            .account
            .as_ref()
            .and_then(|a| a.role_arn.as_deref()),
        None
    );
}

#[test]
fn a_bad_account_names_the_field() {
    let lines = rejection(&plan_text(&[
        (
            "db",
            "account: {roleArn: 'arn:aws:iam::1111:role/x', region: eu-west}",
        ),
        ("web", "account: {externalId: abc}"),
        ("app", "account: {}"),
    ]));
    assert_eq!(
        lines,
        vec![
            "plans/shop.plan.yaml: wave 1 \"db\": account.roleArn: \"arn:aws:iam::1111:role/x\" is not an IAM role ARN: the account \"1111\" must be 12 digits",
            "plans/shop.plan.yaml: wave 1 \"db\": account.region: \"eu-west\" is not an AWS region name (like eu-west-1 or us-gov-west-1)",
            "plans/shop.plan.yaml: wave 2 \"web\": account: names neither roleArn nor region: give the role to assume in the servers' account, their region, or both",
            "plans/shop.plan.yaml: wave 2 \"web\": account.externalId: an external ID is given to the role being assumed: it needs roleArn",
            "plans/shop.plan.yaml: wave 3 \"app\": account: names neither roleArn nor region: give the role to assume in the servers' account, their region, or both",
        ]
    );
}
