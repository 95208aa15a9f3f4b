//! A wave with after-actions: the check that finds it launched lists its recovered servers in
//! the state (what the actions get), and a listing DRS has not caught up with is transient,
//! with nothing recorded.

use drs_waves_aws::AwsError;
use drs_waves_contract::RecoveredServer;
use drs_waves_history::Waves as _;

use super::*;

fn listing_wave(w: &World) -> WaveSpec {
    w.drs.set_private_ip(&server_id(1), "10.0.3.7");
    let mut spec = wave(1, "app", &[server_id(1)], &[]);
    spec.lists_recovered = true;
    spec
}

#[tokio::test]
async fn a_launched_wave_with_after_actions_lists_its_recovered_servers() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let spec = listing_wave(&w);
    let state = launch_and_complete(&w, &spec, &[(&server_id(1), "i-00000000000000001")]).await;
    assert_eq!(state.status, WaveStatus::Succeeded, "{}", state.reason);
    assert_eq!(
        state.recovered,
        Some(vec![RecoveredServer {
            source_server_id: server_id(1),
            hostname: format!("host-{}", server_id(1)),
            recovery_instance_id: "i-00000000000000001".into(),
            ec2_instance_id: "i-00000000000000001".into(),
            private_ips: vec!["10.0.3.7".into()],
        }])
    );
}

#[tokio::test]
async fn a_wave_without_after_actions_lists_nothing() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let spec = wave(1, "app", &[server_id(1)], &[]);
    let state = launch_and_complete(&w, &spec, &[(&server_id(1), "i-00000000000000001")]).await;
    assert_eq!(state.status, WaveStatus::Succeeded, "{}", state.reason);
    assert_eq!(state.recovered, None, "the state stays small");
}

#[tokio::test]
async fn an_unreadable_listing_is_transient_and_records_no_verdict() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let spec = listing_wave(&w);
    let started = launched(&w, &spec).await;
    w.drs.set_launch_status(
        &server_id(1),
        LaunchStatus::Launched,
        Some("i-00000000000000001"),
    );
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    w.drs.fail_next(
        "recovery_instances_of",
        AwsError::Transient {
            call: "drs:DescribeRecoveryInstances".into(),
            detail: "connection reset".into(),
        },
    );
    let mut input = check_input(&w, spec.clone());
    input.state = started.clone();
    let err = w
        .handlers()
        .check_wave(input.clone())
        .await
        .expect_err("transient");
    assert!(matches!(err, TaskError::Transient { .. }), "{err:?}");
    let recorded = w
        .history
        .get_wave(EXEC, 1)
        .await
        .expect("read")
        .expect("wave");
    assert_eq!(
        recorded.status,
        WaveStatus::Launching,
        "nothing half-written: the verdict waits for the retry"
    );
    // Step Functions retries the check: now DRS answers, and the verdict stands.
    let state = w.handlers().check_wave(input).await.expect("retried check");
    assert_eq!(state.status, WaveStatus::Succeeded);
    assert_eq!(state.recovered.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn a_launched_server_drs_does_not_list_yet_is_transient() {
    let w = World::with_servers(1);
    w.record_preflight().await;
    let spec = listing_wave(&w);
    let started = launched(&w, &spec).await;
    // LAUNCHED in the job, but no recovery instance named yet: DescribeRecoveryInstances
    // has nothing of it.
    w.drs
        .set_launch_status(&server_id(1), LaunchStatus::Launched, None);
    w.drs
        .set_job_status(&started.job_ids[0], JobStatus::Completed);
    let mut input = check_input(&w, spec);
    input.state = started;
    let err = w.handlers().check_wave(input).await.expect_err("transient");
    assert!(
        err.to_string()
            .contains("DRS lists 0 recovery instances of the 1 servers launched"),
        "{err}"
    );
}
