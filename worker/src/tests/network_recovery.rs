//! The start-network and check-network tasks through the fakes: one job per execution and
//! action whatever is lost or retried, its ID in the history at once, the verdicts (launched,
//! failed, timed out), and the wave's account.

use drs_waves_aws::AwsError;
use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::{NetworkStatus, NetworkTaskInput, WaveAccount, job_tags};
use drs_waves_history::Waves as _;

use super::*;

const NET: &str = "sn-0123456789abcdef0";

fn input(wave_spec: WaveSpec) -> NetworkTaskInput {
    NetworkTaskInput {
        run: run_ctx(Mode::Drill, None),
        wave: wave_spec,
        phase: "before".into(),
        position: 1,
        source_networks: vec![NET.into()],
        timeout_seconds: 1800,
        state: None,
    }
}

fn world() -> World {
    let w = World::with_servers(1);
    w.drs.add_source_network(NET);
    w
}

fn transient() -> AwsError {
    AwsError::Transient {
        call: "DRS StartSourceNetworkRecovery".into(),
        detail: "connection reset".into(),
    }
}

#[tokio::test]
async fn a_network_recovery_is_started_once_tagged_and_recorded_then_checked_to_success() {
    let w = world();
    let h = w.handlers();
    let i = input(wave(1, "db", &[server_id(1)], &[]));
    let started = h.start_network(i.clone()).await.expect("start");
    assert_eq!(started.status, NetworkStatus::InProgress);
    let calls = w.drs.network_recovery_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].source_network_ids, [NET]);
    assert_eq!(
        calls[0].tags.get(job_tags::NETWORK_OF).map(String::as_str),
        Some(EXEC)
    );
    assert_eq!(
        calls[0].tags.get(job_tags::ACTION).map(String::as_str),
        Some("w1-before-1")
    );
    assert!(
        !calls[0].tags.contains_key(job_tags::EXECUTION),
        "launch look-ups must not see it"
    );
    let record = w
        .history
        .network(EXEC, 1, "before", 1)
        .await
        .expect("read")
        .expect("recorded before answering");
    assert_eq!(record.job_id, started.job_id);

    let check = NetworkTaskInput {
        state: Some(started.clone()),
        ..i.clone()
    };
    let looked = h.check_network(check.clone()).await.expect("check");
    assert_eq!(looked.status, NetworkStatus::InProgress);
    assert!(looked.next_wait_seconds > 0);
    w.drs.set_network_status(
        &started.job_id,
        JobStatus::Completed,
        LaunchStatus::Launched,
    );
    let done = h.check_network(check).await.expect("check");
    assert_eq!(done.status, NetworkStatus::Succeeded, "{}", done.reason);
    let record = w.history.network(EXEC, 1, "before", 1).await.expect("read");
    assert_eq!(record.map(|r| r.status), Some("SUCCEEDED".to_owned()));
}

#[tokio::test]
async fn a_lost_answer_is_found_by_its_tags_and_a_retry_after_success_by_the_history() {
    let w = world();
    let h = w.handlers();
    let i = input(wave(1, "db", &[server_id(1)], &[]));
    w.drs.lose_next_network_answer(transient());
    assert!(
        h.start_network(i.clone()).await.is_err(),
        "the answer was lost"
    );
    let found = h
        .start_network(i.clone())
        .await
        .expect("the retry finds the job");
    assert_eq!(w.drs.network_recovery_calls().len(), 1, "no second job");
    let again = h.start_network(i).await.expect("a later retry");
    assert_eq!(again.job_id, found.job_id);
    assert_eq!(
        w.drs.network_recovery_calls().len(),
        1,
        "still no second job"
    );
}

#[tokio::test]
async fn a_failed_network_fails_the_action_naming_the_network_and_its_status() {
    let w = world();
    let h = w.handlers();
    let i = input(wave(1, "db", &[server_id(1)], &[]));
    let started = h.start_network(i.clone()).await.expect("start");
    w.drs
        .set_network_status(&started.job_id, JobStatus::Completed, LaunchStatus::Failed);
    let failed = h
        .check_network(NetworkTaskInput {
            state: Some(started),
            ..i
        })
        .await
        .expect("check");
    assert_eq!(failed.status, NetworkStatus::Failed);
    assert!(
        failed.reason.contains(&format!("{NET} FAILED")),
        "{}",
        failed.reason
    );
    let record = w.history.network(EXEC, 1, "before", 1).await.expect("read");
    assert_eq!(record.map(|r| r.status), Some("FAILED".to_owned()));
}

#[tokio::test]
async fn an_operators_retry_after_a_failure_starts_a_new_job_found_again_by_its_tags() {
    let w = world();
    let h = w.handlers();
    let i = input(wave(1, "db", &[server_id(1)], &[]));
    let first = h.start_network(i.clone()).await.expect("start");
    w.drs
        .set_network_status(&first.job_id, JobStatus::Completed, LaunchStatus::Failed);
    let failed = h
        .check_network(NetworkTaskInput {
            state: Some(first.clone()),
            ..i.clone()
        })
        .await
        .expect("check");
    assert_eq!(failed.status, NetworkStatus::Failed);
    // The operator answers retry (`onFailure: ask`): the action's start runs again, and its
    // answer is lost once.
    w.drs.lose_next_network_answer(transient());
    assert!(
        h.start_network(i.clone()).await.is_err(),
        "the answer was lost"
    );
    let retried = h
        .start_network(i.clone())
        .await
        .expect("the retry finds its job");
    let calls = w.drs.network_recovery_calls();
    assert_eq!(
        calls.len(),
        2,
        "one new job for the retry, not one per lost answer"
    );
    assert_ne!(retried.job_id, first.job_id);
    assert_eq!(retried.status, NetworkStatus::InProgress);
    assert_eq!(
        calls[1].tags.get(job_tags::ACTION).map(String::as_str),
        Some(format!("w1-before-1#retry-of-{}", first.job_id).as_str())
    );
    let record = w.history.network(EXEC, 1, "before", 1).await.expect("read");
    assert_eq!(record.map(|r| r.job_id), Some(retried.job_id.clone()));
    // A Step Functions retry of that start finds the new job in the history.
    let again = h.start_network(i).await.expect("again");
    assert_eq!(
        (again.job_id, w.drs.network_recovery_calls().len()),
        (retried.job_id, 2)
    );
}

#[tokio::test]
async fn a_network_still_recovering_after_its_timeout_fails() {
    let w = world();
    let i = input(wave(1, "db", &[server_id(1)], &[]));
    let started = w.handlers().start_network(i.clone()).await.expect("start");
    let late = w.handlers_at(datetime!(2030-01-01 00:41:00 UTC));
    let timed_out = late
        .check_network(NetworkTaskInput {
            state: Some(started),
            ..i
        })
        .await
        .expect("check");
    assert_eq!(timed_out.status, NetworkStatus::Failed);
    assert!(
        timed_out.reason.contains("timed out"),
        "{}",
        timed_out.reason
    );
    assert!(timed_out.reason.contains(NET), "{}", timed_out.reason);
}

#[tokio::test]
async fn an_unknown_network_starts_nothing_and_is_named() {
    let w = World::with_servers(1);
    let err = w
        .handlers()
        .start_network(input(wave(1, "db", &[server_id(1)], &[])))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains(NET), "{err}");
    assert!(w.drs.network_recovery_calls().is_empty());
}

#[tokio::test]
async fn the_network_is_recovered_in_the_waves_account() {
    let w = World::with_servers(1);
    let account = WaveAccount {
        role_arn: Some("arn:aws:iam::210987654321:role/drs-waves".into()),
        region: Some("eu-west-1".into()),
        external_id: None,
    };
    let there = w.drs.in_account(&account);
    there.add_source_network(NET);
    let mut spec = wave(1, "db", &[server_id(1)], &[]);
    spec.account = Some(account);
    w.handlers()
        .start_network(input(spec))
        .await
        .expect("start");
    assert_eq!(there.network_recovery_calls().len(), 1);
    assert!(w.drs.network_recovery_calls().is_empty());
}
