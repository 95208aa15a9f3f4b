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

/// A SERVERS item and a HEALTH item as the previous release wrote them (one item each, no page
/// count) read as they did; the next write, of a wave large enough for pages, replaces them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_points_and_health_written_before_pages_are_read() {
    use drs_waves_history::{HealthCheckRecord, ServerLaunchPoint, WaveHealthRecord};

    let moto = Moto::start()
        .await
        .expect("moto starts (run scripts/bootstrap.sh if the venv is missing)");
    let ddb = dynamodb_client(&moto.endpoint()).await;
    let table = unique_name("legacy-pages");
    create_table(&ddb, &table).await.expect("create table");
    let h = DynamoHistory::new(ddb.clone(), table.clone());
    let id = "arn:aws:states:us-east-1:123456789012:execution:billing:before-pages";
    let s = |v: &str| AttributeValue::S(v.to_string());
    let point = |i: usize| ServerLaunchPoint {
        server_id: format!("s-{i:017x}"),
        required: true,
        snapshot_id: Some(format!("pit-{i:017x}")),
        snapshot_taken_at: Some("2030-01-01T00:00:00Z".into()),
        rpo_seconds: Some(600),
        replication: "CONTINUOUS".into(),
    };
    let old_point = AttributeValue::M(
        [
            ("required".to_string(), AttributeValue::Bool(true)),
            ("replication".to_string(), s("CONTINUOUS")),
            ("snapshotID".to_string(), s(&format!("pit-{:017x}", 1))),
            ("snapshotTakenAt".to_string(), s("2030-01-01T00:00:00Z")),
            ("rpoSeconds".to_string(), AttributeValue::N("600".into())),
        ]
        .into(),
    );
    ddb.put_item()
        .table_name(&table)
        .item(history::PARTITION_KEY, s(&history::execution_pk(id)))
        .item(history::SORT_KEY, s(&history::servers_sk(1)))
        .item("itemType", s("SERVERS"))
        .item("executionId", s(id))
        .item("waveIndex", AttributeValue::N("1".into()))
        .item(
            "servers",
            AttributeValue::M([(format!("s-{:017x}", 1), old_point)].into()),
        )
        .send()
        .await
        .expect("the previous release's SERVERS item");
    assert_eq!(h.launch_points(id, 1).await.expect("read"), vec![point(1)]);

    let health = WaveHealthRecord {
        execution_id: id.into(),
        wave_index: 1,
        status: drs_waves_contract::HealthStatus::Checking,
        started_at: "2030-01-01T00:10:00Z".into(),
        healthy_at: None,
        rounds: 1,
        checks: vec![HealthCheckRecord {
            what: "tcp {privateIp}:5432".into(),
            passed_at: None,
            probes: 1,
            last: Vec::new(),
        }],
    };
    ddb.put_item()
        .table_name(&table)
        .item(history::PARTITION_KEY, s(&history::execution_pk(id)))
        .item(history::SORT_KEY, s(&history::health_sk(1)))
        .item("itemType", s("HEALTH"))
        .item("executionId", s(id))
        .item("waveIndex", AttributeValue::N("1".into()))
        .item("healthStatus", s("CHECKING"))
        .item("health", s(&serde_json::to_string(&health).expect("json")))
        .send()
        .await
        .expect("the previous release's HEALTH item");
    assert_eq!(h.wave_health(id, 1).await.expect("read"), Some(health));

    let many: Vec<ServerLaunchPoint> = (0..2_000).map(point).collect();
    h.record_launch_points(id, 1, many.clone())
        .await
        .expect("write in pages");
    assert_eq!(h.launch_points(id, 1).await.expect("read pages"), many);
}

/// An EXECUTION item of the previous layout kept its TERMINATE jobs' instances inline
/// (`terminatingInstances`): they still read, and a job recorded since adds its own after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_instances_written_on_the_execution_item_are_read() {
    use drs_waves_history::ExecutionRecord;

    let moto = Moto::start()
        .await
        .expect("moto starts (run scripts/bootstrap.sh if the venv is missing)");
    let ddb = dynamodb_client(&moto.endpoint()).await;
    let table = unique_name("legacy-terminate");
    create_table(&ddb, &table).await.expect("create table");
    let h = DynamoHistory::new(ddb.clone(), table.clone());
    let id = "arn:aws:states:us-east-1:123456789012:execution:billing:inline-instances";
    h.create_execution(ExecutionRecord::new(
        id,
        "inline-instances",
        "billing",
        drs_waves_contract::ExecutionStatus::Running,
        "2030-01-01T00:00:00Z",
    ))
    .await
    .expect("create");
    let list = |v: &[&str]| {
        AttributeValue::L(v.iter().map(|x| AttributeValue::S(x.to_string())).collect())
    };
    ddb.update_item()
        .table_name(&table)
        .key(
            history::PARTITION_KEY,
            AttributeValue::S(history::execution_pk(id)),
        )
        .key(
            history::SORT_KEY,
            AttributeValue::S(history::EXECUTION_SK.into()),
        )
        .update_expression("SET terminateJobIds = :jobs, terminatingInstances = :instances")
        .expression_attribute_values(":jobs", list(&["drsjob-old"]))
        .expression_attribute_values(":instances", list(&["i-1", "i-2"]))
        .send()
        .await
        .expect("the previous release's terminate job");
    h.record_terminate_job(id, "drsjob-new", vec!["i-3".into()])
        .await
        .expect("a job since");
    let r = h.get_execution(id).await.expect("get").expect("record");
    assert_eq!(r.terminate_job_ids, vec!["drsjob-old", "drsjob-new"]);
    assert_eq!(r.terminating_instances, vec!["i-1", "i-2", "i-3"]);
}

const LEGACY_EXEC: &str = "arn:aws:states:us-east-1:123456789012:execution:billing:legacy";

fn legacy_test_gate(
    kind: drs_waves_contract::GateKind,
    wave_index: u32,
    token: &str,
) -> drs_waves_contract::PendingGate {
    drs_waves_contract::PendingGate {
        kind,
        wave_index,
        wave_name: format!("wave-{wave_index}"),
        token: token.into(),
        since: "2030-01-01T00:10:00Z".into(),
        timeout_at: "2030-01-01T04:10:00Z".into(),
        attempts: 0,
        max_attempts: 1,
        reason: String::new(),
        heartbeat_seconds: Some(300),
        reopened: 0,
        action: None,
    }
}

/// Writes `gate` as the previous release did: `pendingGate` (JSON) and `pendingGateToken`.
async fn write_legacy_gate(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    gate: &drs_waves_contract::PendingGate,
) {
    ddb.update_item()
        .table_name(table)
        .key(
            history::PARTITION_KEY,
            AttributeValue::S(history::execution_pk(LEGACY_EXEC)),
        )
        .key(
            history::SORT_KEY,
            AttributeValue::S(history::EXECUTION_SK.into()),
        )
        .update_expression("SET pendingGate = :g, pendingGateToken = :t")
        .expression_attribute_values(
            ":g",
            AttributeValue::S(serde_json::to_string(gate).expect("json")),
        )
        .expression_attribute_values(":t", AttributeValue::S(gate.token.clone()))
        .send()
        .await
        .expect("write the previous release's gate");
}

async fn legacy_pending(h: &DynamoHistory) -> Vec<drs_waves_contract::PendingGate> {
    h.get_execution(LEGACY_EXEC)
        .await
        .expect("get")
        .expect("record")
        .pending_gates
}

/// An EXECUTION item the previous release wrote holds its one gate as `pendingGate` (JSON) and
/// `pendingGateToken`: it still reads as a pending gate, a new gate of another wave opens beside
/// it, each is answered by its own token, and a re-opened gate of the same wave and kind
/// replaces it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_the_previous_release_recorded_is_read_and_answered() {
    use drs_waves_contract::{GateKind, OperatorAction, OperatorActionKind};
    use drs_waves_history::ExecutionRecord;

    let moto = Moto::start()
        .await
        .expect("moto starts (run scripts/bootstrap.sh if the venv is missing)");
    let ddb = dynamodb_client(&moto.endpoint()).await;
    let table = unique_name("legacy-gate");
    create_table(&ddb, &table).await.expect("create table");
    let h = DynamoHistory::new(ddb.clone(), table.clone());
    let id = LEGACY_EXEC;
    h.create_execution(ExecutionRecord::new(
        id,
        "legacy",
        "billing",
        drs_waves_contract::ExecutionStatus::Running,
        "2030-01-01T00:00:00Z",
    ))
    .await
    .expect("create");
    let old = legacy_test_gate(GateKind::Approval, 2, "tok-old");
    write_legacy_gate(&ddb, &table, &old).await;
    assert_eq!(
        legacy_pending(&h).await,
        vec![old.clone()],
        "the old gate reads as one pending gate"
    );

    let new = legacy_test_gate(GateKind::Decision, 3, "tok-new");
    assert!(h.open_gate(id, new.clone()).await.expect("open"));
    assert_eq!(legacy_pending(&h).await, vec![old, new.clone()]);

    let approve = OperatorAction {
        action: OperatorActionKind::Approve,
        wave_index: Some(2),
        wave_name: Some("wave-2".into()),
        by: "arn:aws:iam::123456789012:user/alice".into(),
        at: "2030-01-01T00:20:00Z".into(),
    };
    let answer = |token: &'static str| h.answer_gate(id, token, approve.clone());
    assert!(answer("tok-old").await.expect("answer"));
    assert!(!answer("tok-old").await.expect("answer"), "answered once");
    assert_eq!(
        legacy_pending(&h).await,
        vec![new],
        "the old gate is cleared, the new one stays"
    );
    assert!(answer("tok-new").await.expect("answer"));
    assert!(legacy_pending(&h).await.is_empty());

    // A re-opened gate of the same wave and kind as an old one replaces it.
    write_legacy_gate(
        &ddb,
        &table,
        &legacy_test_gate(GateKind::Approval, 4, "tok-old-4"),
    )
    .await;
    let reopened = legacy_test_gate(GateKind::Approval, 4, "tok-fresh-4");
    assert!(h.open_gate(id, reopened.clone()).await.expect("open"));
    assert_eq!(
        legacy_pending(&h).await,
        vec![reopened],
        "the fresh token replaces the old one"
    );
    assert!(!answer("tok-old-4").await.expect("answer"));
    assert!(answer("tok-fresh-4").await.expect("answer"));
    assert!(
        legacy_pending(&h).await.is_empty(),
        "the old token does not show again once answered"
    );
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
    sim.add_source_networks(&[drs_sim::SourceNetworkSpec::new(suite::NETWORK)])
        .expect("the suite's network");
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
