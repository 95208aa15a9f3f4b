//! Requests the DRS model refuses are answered as DRS answers them (400 ValidationException
//! with `reason` and `fieldList`), before the operation runs: a refused call changes nothing.

use std::time::Duration;

use crate::common::{Answer, call, call_raw, error_violations, sid, start};
use aws_sdk_drs::Client;
use aws_sdk_drs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_drs::operation::describe_jobs::DescribeJobsError;
use aws_sdk_drs::types::{DescribeJobsRequestFilters, ValidationExceptionReason};
use drs_sim::{ServerSpec, SimHandle};
use serde_json::{Value, json};

async fn sim() -> SimHandle {
    start(
        (1..=3).map(|n| ServerSpec::new(sid(n), 0.1)).collect(),
        |_| {},
    )
    .await
}

/// Asserts a model refusal: 400, ValidationException in the header and `__type`, reason
/// fieldValidationFailed, `fieldList` naming exactly `fields` (a field that breaks two
/// constraints is listed twice in a row, named once here), each with a message, and a body
/// that is the model's ValidationException.
fn assert_refused(answer: &Answer, fields: &[&str]) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.error_type.as_deref(), Some("ValidationException"));
    assert_eq!(
        answer.body["reason"], "fieldValidationFailed",
        "{}",
        answer.body
    );
    let mut names: Vec<&str> = answer.body["fieldList"]
        .as_array()
        .expect("fieldList")
        .iter()
        .map(|f| {
            assert!(
                f["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Member must")),
                "{f}"
            );
            f["name"].as_str().expect("name")
        })
        .collect();
    names.dedup();
    assert_eq!(names, fields, "{}", answer.body);
    let message = answer.body["message"].as_str().expect("message");
    assert!(message.contains("validation error"), "{message}");
    let wrong = error_violations(answer);
    assert!(wrong.is_empty(), "the refusal breaks the model: {wrong:?}");
}

fn server_list(ids: impl Iterator<Item = String>) -> Value {
    ids.map(|id| json!({ "sourceServerID": id })).collect()
}

#[tokio::test]
async fn start_recovery_of_more_than_200_servers_is_refused_and_starts_nothing() {
    // Every server exists, so the refusal is the model's list size alone.
    let sim = start(
        (1..=201).map(|n| ServerSpec::new(sid(n), 0.1)).collect(),
        |_| {},
    )
    .await;
    let answer = call(
        &sim.endpoint(),
        "StartRecovery",
        &json!({"sourceServers": server_list((1..=201).map(sid)), "isDrill": true}),
    )
    .await;
    assert_refused(&answer, &["sourceServers"]);
    assert!(
        answer.body["fieldList"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("less than or equal to 200"))
    );
    assert!(sim.jobs().is_empty(), "a refused StartRecovery made a job");
    assert_eq!(sim.counters().count("StartRecovery", 400), 1);
    // Two hundred pass the model, and meet the per-job quota (100 by default).
    let answer = call(
        &sim.endpoint(),
        "StartRecovery",
        &json!({"sourceServers": server_list((1..=200).map(sid))}),
    )
    .await;
    assert_eq!(
        answer.error_type.as_deref(),
        Some("ServiceQuotaExceededException"),
        "{}",
        answer.body
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn start_recovery_with_no_servers_or_a_malformed_id_is_refused() {
    let sim = sim().await;
    let e = sim.endpoint();
    assert_refused(
        &call(&e, "StartRecovery", &json!({"sourceServers": []})).await,
        &["sourceServers"],
    );
    assert_refused(
        &call(&e, "StartRecovery", &json!({})).await,
        &["sourceServers"],
    );
    let answer = call(
        &e,
        "StartRecovery",
        &json!({"sourceServers": [
            {"sourceServerID": sid(1)},
            {"sourceServerID": sid(2), "recoverySnapshotID": "pit-1"},
        ]}),
    )
    .await;
    // RecoverySnapshotID: length 21 and pit- + 17: two constraints, both listed.
    assert_refused(&answer, &["sourceServers[1].recoverySnapshotID"]);
    assert_eq!(answer.body["fieldList"].as_array().map(Vec::len), Some(2));
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("2 validation errors detected: "))
    );
    assert!(sim.jobs().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn start_recovery_tags_longer_than_the_model_allows_are_refused() {
    let sim = sim().await;
    let long = "v".repeat(257);
    let answer = call(
        &sim.endpoint(),
        "StartRecovery",
        &json!({"sourceServers": server_list([sid(1)].into_iter()), "tags": {"Owner": long}}),
    )
    .await;
    assert_refused(&answer, &["tags{Owner}"]);
    assert!(sim.jobs().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn describe_jobs_with_more_than_1000_job_ids_is_refused() {
    let sim = sim().await;
    let ids: Vec<String> = (0..1001).map(|n| format!("drsjob-{n:017}")).collect();
    let answer = call(
        &sim.endpoint(),
        "DescribeJobs",
        &json!({"filters": {"jobIDs": ids}}),
    )
    .await;
    assert_refused(&answer, &["filters.jobIDs"]);
    let ok = call(
        &sim.endpoint(),
        "DescribeJobs",
        &json!({"filters": {"jobIDs": ids[..1000]}}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn dates_that_do_not_end_in_z_are_refused() {
    let sim = sim().await;
    let e = sim.endpoint();
    for date in [
        "2024-05-01",
        "2024-05-01T00:00:00+00:00",
        "2024-05-01T00:00:00.5+02:00",
    ] {
        assert_refused(
            &call(&e, "DescribeJobs", &json!({"filters": {"fromDate": date}})).await,
            &["filters.fromDate"],
        );
        assert_refused(
            &call(
                &e,
                "DescribeRecoverySnapshots",
                &json!({"sourceServerID": sid(1), "filters": {"toDateTime": date}}),
            )
            .await,
            &["filters.toDateTime"],
        );
    }
    let ok = call(
        &e,
        "DescribeJobs",
        &json!({"filters": {"fromDate": "2024-05-01T00:00:00Z", "toDate": "2099-01-01T00:00:00.123456Z"}}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_order_outside_the_enum_is_refused() {
    let sim = sim().await;
    let answer = call(
        &sim.endpoint(),
        "DescribeRecoverySnapshots",
        &json!({"sourceServerID": sid(1), "order": "NEWEST"}),
    )
    .await;
    assert_refused(&answer, &["order"]);
    assert!(
        answer.body["fieldList"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("[ASC, DESC]"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn max_results_below_one_is_refused_and_above_1000_is_a_capped_page() {
    let sim = sim().await;
    let e = sim.endpoint();
    for op in [
        "DescribeJobs",
        "DescribeSourceServers",
        "DescribeRecoveryInstances",
    ] {
        assert_refused(
            &call(&e, op, &json!({"maxResults": 0})).await,
            &["maxResults"],
        );
        // StrictlyPositiveInteger has no maximum in the model.
        let big = call(&e, op, &json!({"maxResults": 5000})).await;
        assert_eq!(big.status, 200, "{op}: {}", big.body);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn required_members_that_are_missing_are_refused() {
    let sim = sim().await;
    let e = sim.endpoint();
    assert_refused(
        &call(&e, "DescribeJobLogItems", &json!({})).await,
        &["jobID"],
    );
    assert_refused(
        &call(&e, "DescribeRecoverySnapshots", &json!({"order": "ASC"})).await,
        &["sourceServerID"],
    );
    assert_refused(
        &call(&e, "TerminateRecoveryInstances", &json!({})).await,
        &["recoveryInstanceIDs"],
    );
    let ids: Vec<String> = (0..201).map(|n| format!("i-{n:017x}")).collect();
    assert_refused(
        &call(
            &e,
            "TerminateRecoveryInstances",
            &json!({"recoveryInstanceIDs": ids}),
        )
        .await,
        &["recoveryInstanceIDs"],
    );
    assert!(sim.jobs().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn values_of_the_wrong_json_type_are_refused() {
    let sim = sim().await;
    let answer = call(
        &sim.endpoint(),
        "StartRecovery",
        &json!({"sourceServers": server_list([sid(1)].into_iter()), "isDrill": "yes"}),
    )
    .await;
    assert_refused(&answer, &["isDrill"]);
    assert!(sim.jobs().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_not_json_cannot_be_parsed() {
    let sim = sim().await;
    let (status, error_type, body) =
        call_raw(&sim.endpoint(), "DescribeJobs", "{\"filters\": ").await;
    assert_eq!(status, 400);
    assert_eq!(error_type.as_deref(), Some("ValidationException"));
    let body: Value = serde_json::from_str(&body).expect("JSON error body");
    assert_eq!(body["reason"], "cannotParse");
    sim.shutdown().await;
}

#[tokio::test]
async fn members_the_model_does_not_define_are_ignored_in_requests() {
    let sim = sim().await;
    let answer = call(
        &sim.endpoint(),
        "StartRecovery",
        &json!({"sourceServers": server_list([sid(1)].into_iter()), "clientToken": "abc"}),
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(sim.jobs().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_sdk_reads_a_model_refusal_as_its_validation_exception() {
    let sim = sim().await;
    let client = Client::from_conf(
        aws_sdk_drs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(sim.endpoint())
            .timeout_config(
                aws_sdk_drs::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            )
            .build(),
    );
    let err = client
        .describe_jobs()
        .filters(
            DescribeJobsRequestFilters::builder()
                .from_date("2024-05-01T00:00:00+00:00")
                .build(),
        )
        .send()
        .await
        .expect_err("a date that does not end in Z")
        .into_service_error();
    let DescribeJobsError::ValidationException(e) = &err else {
        panic!("expected ValidationException, got {err:?}");
    };
    assert_eq!(
        e.reason(),
        Some(&ValidationExceptionReason::FieldValidationFailed)
    );
    assert_eq!(e.field_list()[0].name(), Some("filters.fromDate"));
    sim.shutdown().await;
}

#[tokio::test]
async fn start_source_network_recovery_is_held_to_the_model_and_starts_nothing_when_refused() {
    let sim = sim().await;
    sim.add_source_networks(&[drs_sim::SourceNetworkSpec::new("sn-00000000000000001")])
        .expect("network");
    let networks = |ids: Vec<String>| -> Value {
        ids.into_iter()
            .map(|id| json!({ "sourceNetworkID": id }))
            .collect()
    };
    // StartSourceNetworkRecoveryRequestNetworkEntries: 1 to 100.
    let too_many = networks((1..=101).map(|n| format!("sn-{n:017}")).collect());
    let answer = call(
        &sim.endpoint(),
        "StartSourceNetworkRecovery",
        &json!({ "sourceNetworks": too_many }),
    )
    .await;
    assert_refused(&answer, &["sourceNetworks"]);
    let answer = call(
        &sim.endpoint(),
        "StartSourceNetworkRecovery",
        &json!({ "sourceNetworks": [] }),
    )
    .await;
    assert_refused(&answer, &["sourceNetworks"]);
    // SourceNetworkID's pattern, and CfnStackName's.
    let answer = call(
        &sim.endpoint(),
        "StartSourceNetworkRecovery",
        &json!({ "sourceNetworks": [{"sourceNetworkID": "sn-1"}] }),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    let answer = call(
        &sim.endpoint(),
        "StartSourceNetworkRecovery",
        &json!({ "sourceNetworks": [{"sourceNetworkID": "sn-00000000000000001", "cfnStackName": "1-starts-with-a-digit"}] }),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        sim.jobs().is_empty(),
        "a refused network recovery made a job"
    );
    // An unknown network passes the model and is refused by the operation.
    let answer = call(
        &sim.endpoint(),
        "StartSourceNetworkRecovery",
        &json!({ "sourceNetworks": [{"sourceNetworkID": "sn-0000000000000000f"}] }),
    )
    .await;
    assert_eq!(
        answer.error_type.as_deref(),
        Some("ValidationException"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.to_string().contains("does not exist"),
        "{}",
        answer.body
    );
    assert!(sim.jobs().is_empty());
    sim.shutdown().await;
}
