//! The real adapters pass the seams' conformance suites, every case in one test (the services
//! are costly to start once per case), a failure naming every case that failed.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_history_passes_the_history_conformance_suite() {
    let moto = Moto::start()
        .await
        .expect("moto starts (run scripts/bootstrap.sh if the venv is missing)");
    let ddb = dynamodb_client(&moto.endpoint()).await;
    let table = unique_name("conformance");
    create_table(&ddb, &table).await.expect("create table");
    drs_waves_history::conformance::run_all(&DynamoHistory::new(ddb, table), "dynamo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_drs_over_drs_sim_passes_the_drs_conformance_suite() {
    use drs_worker::conformance::drs as suite;
    let specs: Vec<ServerSpec> = suite::fixture()
        .into_iter()
        .map(|s| {
            let mut spec = ServerSpec::new(&s.id, 0.2)
                .with_hostname(&s.hostname)
                .with_replication_state(&s.replication_state)
                .with_snapshots(if s.snapshots.is_empty() {
                    drs_sim::SnapshotSpec::None
                } else {
                    drs_sim::SnapshotSpec::at(&s.snapshots)
                });
            for (k, v) in &s.tags {
                spec = spec.with_tag(k, v);
            }
            spec
        })
        .collect();
    let sim = Simulator::start(SimConfig::with_servers(specs))
        .await
        .expect("drs-sim starts");
    let drs = SdkDrs::new(drs_client(&sim.endpoint()).await);
    suite::run_all(&drs).await;
}

/// moto does not run a state machine's definition: an execution stays RUNNING outside any
/// activity task until it is stopped, as one waiting in a Wait state does on AWS and LocalStack
/// (the end-to-end tests run the same suite there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_sfn_over_moto_passes_the_step_functions_conformance_suite() {
    let moto = Moto::start()
        .await
        .expect("moto starts (run scripts/bootstrap.sh if the venv is missing)");
    let client = sfn_client(&moto.endpoint()).await;
    let machine = client
        .create_state_machine()
        .name(unique_name("conformance"))
        .definition(
            r#"{"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":3600,"End":true}}}"#,
        )
        .role_arn("arn:aws:iam::123456789012:role/drs-waves-conformance")
        .send()
        .await
        .expect("create state machine");
    let running = client
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name("running")
        .send()
        .await
        .expect("start execution")
        .execution_arn()
        .to_string();
    drs_worker::conformance::sfn::run_all(
        &drs_worker::sfn::SdkSfn::new(client),
        &running,
        &format!("{running}-never-started"),
        "moto",
    )
    .await;
}
