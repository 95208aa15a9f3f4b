//! `native push` and `native pull`: the calls a push makes (pure), the plan a pull writes
//! (pure), and the round trip through drs-sim: export, push, pull, and a second push that
//! changes nothing.

use std::collections::BTreeMap;

use drs_sim::ServerSpec;
use drs_waves_aws::drs::SdkDrs;
use drs_waves_aws::drs::native::{
    NativePlan, NativeServer, NativeStep, NativeStepConfig, RecoveryPlans,
};

use super::export::{Export, Target, export};
use super::pull::{pull, yaml};
use super::push::{Change, apply, changes, find_plan};
use super::test_sim::{sid, sim_drs};

fn target() -> Target {
    Target {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
    }
}

fn server(i: usize, optional: bool) -> NativeServer {
    NativeServer {
        server_arn: format!(
            "arn:aws:drs:us-east-1:123456789012:source-server/{}",
            sid(i)
        ),
        optional,
        job_id: None,
    }
}

fn ids(range: std::ops::RangeInclusive<usize>) -> String {
    range.map(sid).collect::<Vec<_>>().join(", ")
}

/// db (2 servers, one optional), app (150 servers, after a 10-minute pause, behind an
/// approval gate), web (3 servers, with a health check).
fn original() -> String {
    format!(
        "name: storefront\ndescription: three tiers\nwaves:\n\
         \x20 - name: db\n    servers: {{ids: [{}]}}\n    optional: [{}]\n\
         \x20 - name: app\n    pauseBeforeMinutes: 10\n    approval: {{before: true, timeoutMinutes: 30}}\n    servers: {{ids: [{}]}}\n\
         \x20 - name: web\n    servers: {{ids: [{}]}}\n    health:\n      - tcp: {{host: web.internal, port: 443}}\n",
        ids(1..=2),
        sid(2),
        ids(3..=152),
        ids(153..=155)
    )
}

fn exported(yaml_text: &str) -> Export {
    let plan = drs_codegen::plan::load_str("storefront.yaml", yaml_text).expect("plan");
    export(&plan, &target(), &BTreeMap::new()).expect("exported")
}

fn step(arn: &str, order: u32, name: &str, config: NativeStepConfig) -> NativeStep {
    NativeStep {
        arn: arn.into(),
        order,
        name: name.into(),
        config,
    }
}

#[test]
fn a_missing_plan_is_created_with_every_step_in_order() {
    let out = exported(&original());
    let calls = changes(None, &out);
    assert_eq!(
        calls[0],
        Change::CreatePlan {
            name: "storefront".into()
        }
    );
    let names: Vec<String> = (calls[1..].iter())
        .map(|c| match c {
            Change::CreateStep { step } => step.name.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "db",
            "app pause",
            "app part 1 of 2",
            "app part 2 of 2",
            "web"
        ]
    );
}

#[test]
fn a_plan_that_matches_gives_no_call_whatever_order_drs_lists_servers_in() {
    let want = Export {
        steps: vec![
            super::export::ExportStep {
                name: "db".into(),
                config: NativeStepConfig::Server(vec![server(1, false), server(2, true)]),
            },
            super::export::ExportStep {
                name: "db-wait".into(),
                config: NativeStepConfig::Wait { minutes: 5 },
            },
        ],
        ..exported(&original())
    };
    let have = [
        step(
            "a",
            1,
            "db",
            NativeStepConfig::Server(vec![server(2, true), server(1, false)]),
        ),
        step("b", 2, "db-wait", NativeStepConfig::Wait { minutes: 5 }),
    ];
    assert_eq!(changes(Some(&have), &want), []);
}

#[test]
fn changed_steps_are_updated_extra_ones_deleted_first_missing_ones_created_then_reordered() {
    let want = Export {
        steps: vec![
            super::export::ExportStep {
                name: "web".into(),
                config: NativeStepConfig::Server(vec![server(5, false)]),
            },
            super::export::ExportStep {
                name: "db".into(),
                config: NativeStepConfig::Server(vec![server(1, true)]),
            },
        ],
        ..exported(&original())
    };
    let have = [
        step(
            "a",
            1,
            "db",
            NativeStepConfig::Server(vec![server(1, false)]),
        ),
        step("b", 2, "old", NativeStepConfig::Wait { minutes: 5 }),
    ];
    let calls = changes(Some(&have), &want);
    let said: Vec<String> = calls.iter().map(Change::call).collect();
    assert_eq!(
        said,
        [
            "DeleteRecoveryPlanStep \"old\" (b)",
            "UpdateRecoveryPlanStep \"db\" (a): servers +0 -0, 1 impact level(s) changed",
            "CreateRecoveryPlanStep \"web\": SERVER, 1 server(s)",
            "ReorderRecoveryPlanSteps [web, db]",
        ]
    );
}

#[test]
fn a_pull_merges_a_split_wave_and_turns_waits_into_the_next_wave_pause() {
    let plan = NativePlan {
        arn: "arn:aws:drs:us-east-1:123456789012:recovery-plan/rp-1".into(),
        name: "console plan".into(),
        description: None,
        status: "ACTIVE".into(),
        tags: BTreeMap::new(),
    };
    let steps = [
        step(
            "1",
            1,
            "db tier",
            NativeStepConfig::Server(vec![server(1, false)]),
        ),
        step("2", 2, "breathe", NativeStepConfig::Wait { minutes: 30 }),
        step("3", 3, "more", NativeStepConfig::Wait { minutes: 15 }),
        step(
            "4",
            4,
            "app part 1 of 2",
            NativeStepConfig::Server(vec![server(2, false)]),
        ),
        step(
            "5",
            5,
            "app part 2 of 2",
            NativeStepConfig::Server(vec![server(3, true)]),
        ),
        step(
            "6",
            6,
            "db tier",
            NativeStepConfig::Server(vec![server(4, false)]),
        ),
        step("7", 7, "tail", NativeStepConfig::Wait { minutes: 5 }),
    ];
    let pulled = pull(&plan, &steps);
    let summary: Vec<(&str, usize, u32, usize)> = (pulled.waves.iter())
        .map(|w| {
            (
                w.name.as_str(),
                w.ids.len(),
                w.pause_minutes,
                w.optional.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("db-tier", 1, 0, 0),
            ("app", 2, 45, 1),
            ("db-tier-2", 1, 0, 0)
        ]
    );
    assert_eq!(pulled.name, "console-plan");
    assert_eq!(pulled.warnings.len(), 1, "{:?}", pulled.warnings);
    let text = yaml(&pulled, &plan, "2026-12-07T00:00:00Z");
    assert!(
        text.starts_with(
            "# Pulled by `drs-waves native pull` from the DRS recovery plan \"console plan\""
        ),
        "{text}"
    );
    let loaded = drs_codegen::plan::load_str("pulled.yaml", &text).expect("valid");
    assert_eq!(loaded.spec.waves[1].pause_before_seconds, Some(45 * 60));
    assert_eq!(loaded.spec.waves[1].optional, [sid(3)]);
}

/// Pushes `out` as `native push` does; returns the calls made.
async fn push(drs: &SdkDrs, out: &Export) -> Vec<Change> {
    let existing = find_plan(drs, &out.name).await.expect("listed");
    let steps = match &existing {
        Some(p) => Some(drs.list_recovery_plan_steps(&p.arn).await.expect("steps")),
        None => None,
    };
    let calls = changes(steps.as_deref(), out);
    apply(drs, existing.as_ref(), out, &calls, |_| {})
        .await
        .expect("pushed");
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_push_pull_round_trips_and_a_second_push_changes_nothing() {
    let (_sim, drs) = sim_drs((1..=160).map(|i| ServerSpec::new(sid(i), 0.1)).collect()).await;
    let text = original();
    let out = exported(&text);
    let first = push(&drs, &out).await;
    assert_eq!(first.len(), 6, "{first:?}");
    assert_eq!(push(&drs, &out).await, [], "a second push changes nothing");

    // An edit: web loses a server, db's optional server becomes critical.
    let edited = text.replace(&format!(", {}]}}\n    health", sid(155)), "]}\n    health");
    let edited = edited.replace(&format!("    optional: [{}]\n", sid(2)), "");
    let out2 = exported(&edited);
    let calls: Vec<String> = push(&drs, &out2).await.iter().map(Change::call).collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("UpdateRecoveryPlanStep")),
        "{calls:?}"
    );
    assert_eq!(push(&drs, &out2).await, []);

    // Back to the original, then pulled: the plan again, but for what the warnings listed.
    push(&drs, &out).await;
    let plan = find_plan(&drs, "storefront")
        .await
        .expect("listed")
        .expect("found");
    let plan = drs.get_recovery_plan(&plan.arn).await.expect("plan");
    let steps = drs
        .list_recovery_plan_steps(&plan.arn)
        .await
        .expect("steps");
    let pulled = pull(&plan, &steps);
    let back = drs_codegen::plan::load_str("pulled.yaml", &yaml(&pulled, &plan, "now"))
        .expect("the pulled plan is valid");
    let sent = drs_codegen::plan::load_str("storefront.yaml", &text).expect("plan");
    assert_eq!(back.spec.name, sent.spec.name);
    assert_eq!(back.description, sent.description);
    for (a, b) in back.spec.waves.iter().zip(&sent.spec.waves) {
        assert_eq!(
            (&a.name, &a.server_ids, &a.optional, a.pause_before_seconds),
            (&b.name, &b.server_ids, &b.optional, b.pause_before_seconds)
        );
    }
    assert_eq!(back.spec.waves.len(), 3);
    // What did not come back is what export named: the gate and the health check.
    let losses: Vec<String> = out.losses.iter().map(ToString::to_string).collect();
    assert!(
        losses
            .iter()
            .any(|l| l.starts_with("wave app: approval gate")),
        "{losses:#?}"
    );
    assert!(
        losses
            .iter()
            .any(|l| l.starts_with("wave web: 1 health check")),
        "{losses:#?}"
    );
    assert!(back.spec.waves[1].approval.is_none() && back.spec.waves[2].health.is_empty());
}
