//! Waves in other accounts and regions: each wave's servers are resolved, launched, checked and
//! cleaned up through its own account's DRS (a fake per account), its record and its jobs say
//! where; a role the worker cannot assume fails preflight naming the wave and the role, before
//! any DRS is read.

use drs_waves_contract::WaveAccount;
use drs_waves_history::prelude::*;

use super::*;

const ROLE_A: &str = "arn:aws:iam::111111111111:role/drs-waves-recovery";

fn account_a() -> WaveAccount {
    WaveAccount {
        role_arn: Some(ROLE_A.into()),
        region: Some("eu-west-1".into()),
        external_id: Some("drill-a".into()),
    }
}

fn in_account(mut wave: WaveSpec, account: WaveAccount) -> WaveSpec {
    wave.account = Some(account);
    wave
}

/// The worker's own account holds server 1, account A servers 2 and 3, all tagged alike: a
/// wave resolved in the wrong account would select the wrong servers.
fn two_accounts() -> (World, FakeDrs) {
    let w = World::with_servers(1);
    let a = w.drs.in_account(&account_a());
    a.set_now(datetime!(2030-01-01 00:05:00 UTC));
    for i in 2..=3 {
        a.add_server(&server_id(i), &[("App", PLAN)]);
    }
    (w, a)
}

#[tokio::test]
async fn preflight_resolves_each_wave_through_its_own_account() {
    let (w, a) = two_accounts();
    let run = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![
                wave(1, "db", &[], &[("App", PLAN)]),
                in_account(wave(2, "app", &[], &[("App", PLAN)]), account_a()),
            ],
        ))
        .await
        .expect("preflight passes");
    assert_eq!(run.server_count, 3, "1 in the own account, 2 in account A");
    assert_eq!(w.drs.checked_roles(), vec![ROLE_A.to_string()]);
    assert_eq!(w.drs.source_server_selections().len(), 1);
    assert_eq!(a.source_server_selections().len(), 1);
    let points = w.history.launch_points_of(EXEC, 2);
    let ids: BTreeSet<String> = points.into_iter().map(|p| p.server_id).collect();
    assert_eq!(ids, BTreeSet::from([server_id(2), server_id(3)]));
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_fails_preflight_by_name_before_any_drs_read() {
    let (w, a) = two_accounts();
    w.drs.refuse_role(
        ROLE_A,
        AwsError::AccessDenied {
            call: "STS AssumeRole".into(),
            detail: format!(
                "AccessDenied: User: arn:aws:iam::123456789012:user/test is not authorized to perform: sts:AssumeRole on resource: {ROLE_A}"
            ),
        },
    );
    let err = w
        .handlers()
        .preflight(preflight_input(
            json!({"mode": "DRILL"}),
            vec![
                wave(1, "db", &[], &[("App", PLAN)]),
                in_account(wave(2, "app", &[], &[("App", PLAN)]), account_a()),
            ],
        ))
        .await
        .expect_err("the role cannot be assumed");
    assert_eq!(err.name(), ErrorName::PreflightFailed, "{err}");
    let text = err.to_string();
    for part in [
        "wave 'app'",
        ROLE_A,
        "111111111111 eu-west-1",
        "AccessDenied",
        "trust the worker's role",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(w.drs.source_server_selections().is_empty(), "no DRS read");
    assert!(a.source_server_selections().is_empty(), "no DRS read");
    assert!(w.drs.start_calls().is_empty() && a.start_calls().is_empty());
    assert!(
        w.history.lock_holder(PLAN).is_none(),
        "the lock is released"
    );
}

#[tokio::test]
async fn a_wave_in_another_account_launches_checks_and_cleans_up_there() {
    let (w, a) = two_accounts();
    w.record_preflight().await;
    w.history.set_lock_holder(PLAN, EXEC);
    let spec = in_account(wave(1, "app", &[], &[("App", PLAN)]), account_a());
    let started = w
        .handlers()
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("start");
    assert!(
        w.drs.start_calls().is_empty(),
        "nothing launched in the own account"
    );
    let calls = a.start_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].source_server_ids, vec![server_id(2), server_id(3)]);
    assert_eq!(calls[0].tags[job_tags::ACCOUNT], "111111111111");
    assert_eq!(calls[0].tags[job_tags::REGION], "eu-west-1");
    let record = w
        .history
        .get_wave(EXEC, 1)
        .await
        .expect("get")
        .expect("a wave");
    assert_eq!(
        record.account,
        Some(account_a()),
        "the record keeps the account"
    );
    for (i, instance) in [(2, "i-2"), (3, "i-3")] {
        a.set_launch_status(&server_id(i), LaunchStatus::Launched, Some(instance));
    }
    a.set_job_status(&started.job_ids[0], JobStatus::Completed);
    let mut input = check_input(&w, spec);
    input.state = started;
    let checked = w.handlers().check_wave(input).await.expect("check");
    assert_eq!(checked.status, WaveStatus::Succeeded, "{}", checked.reason);
    let out = w
        .handlers()
        .finish(finish_input(checked))
        .await
        .expect("finish");
    assert_eq!(out.cleanup, CleanupStatus::Done, "{}", out.cleanup_error);
    assert!(
        w.drs.terminate_calls().is_empty(),
        "nothing terminated in the own account"
    );
    let terminated: BTreeSet<String> = a.terminate_calls().concat().into_iter().collect();
    assert_eq!(
        terminated,
        BTreeSet::from(["i-2".to_string(), "i-3".to_string()])
    );
}
