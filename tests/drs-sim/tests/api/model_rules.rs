//! The model check's rules, one test each, on shapes of the vendored DRS model: what each
//! trait of a shape accepts and refuses.

use drs_sim::model::MODEL_JSON;
use drs_sim::{Direction, Model};
use serde_json::{Value, json};

/// The messages of the violations of `value` against `shape`, each with its path.
fn violations(shape: &str, value: Value, direction: Direction) -> Vec<String> {
    Model::drs()
        .validate(shape, &value, direction)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn request(shape: &str, value: Value) -> Vec<String> {
    violations(shape, value, Direction::Request)
}

fn response(shape: &str, value: Value) -> Vec<String> {
    violations(shape, value, Direction::Response)
}

fn job_id(n: u32) -> String {
    format!("drsjob-{n:017}")
}

fn servers(count: u32) -> Value {
    (0..count)
        .map(|n| json!({"sourceServerID": format!("s-{n:017}")}))
        .collect()
}

#[test]
fn the_vendored_model_parses_and_every_shape_it_names_exists() {
    let model = Model::parse(MODEL_JSON).expect("the vendored model parses");
    assert!(model.operation("StartRecovery").is_some());
    assert!(
        Model::parse(
            r#"{"shapes": {"A": {"type": "list", "member": {"shape": "Nope"}}}, "operations": {}}"#
        )
        .expect_err("a dangling shape name")
        .contains("Nope")
    );
}

#[test]
fn a_required_member_that_is_missing_or_null_is_refused() {
    assert_eq!(
        request("StartRecoveryRequest", json!({})),
        ["sourceServers: Member must not be null"]
    );
    assert_eq!(
        request("DescribeJobLogItemsRequest", json!({"jobID": null})),
        ["jobID: Member must not be null"]
    );
    assert!(request("DescribeJobLogItemsRequest", json!({"jobID": job_id(1)})).is_empty());
}

#[test]
fn members_the_model_does_not_define_are_refused_in_answers_and_ignored_in_requests() {
    let job = json!({"jobID": job_id(1), "status": "PENDING", "progress": 5});
    assert_eq!(
        response("Job", job.clone()),
        ["progress: Member is not a member of Job"]
    );
    assert!(request("Job", job).is_empty());
}

#[test]
fn a_list_longer_or_shorter_than_the_model_allows_is_refused() {
    assert!(
        request(
            "StartRecoveryRequest",
            json!({"sourceServers": servers(200)})
        )
        .is_empty()
    );
    assert_eq!(
        request(
            "StartRecoveryRequest",
            json!({"sourceServers": servers(201)})
        ),
        ["sourceServers: Member must have length less than or equal to 200"]
    );
    assert_eq!(
        request("StartRecoveryRequest", json!({"sourceServers": []})),
        ["sourceServers: Member must have length greater than or equal to 1"]
    );
    let ids: Vec<String> = (0..1001).map(job_id).collect();
    assert_eq!(
        request("DescribeJobsRequest", json!({"filters": {"jobIDs": ids}})),
        ["filters.jobIDs: Member must have length less than or equal to 1000"]
    );
}

#[test]
fn paths_name_the_list_item_and_the_member() {
    let mut list = servers(2);
    list[1]["sourceServerID"] = json!("s-short");
    let found = request("StartRecoveryRequest", json!({"sourceServers": list}));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .all(|v| v.starts_with("sourceServers[1].sourceServerID: "))
    );
}

#[test]
fn a_string_longer_or_shorter_than_the_model_allows_is_refused() {
    assert_eq!(
        request("TagKey", json!("k".repeat(257))),
        ["the body: Member must have length less than or equal to 256"]
    );
    // Length counts characters, not bytes.
    assert!(request("TagKey", json!("é".repeat(256))).is_empty());
    assert_eq!(
        request("ISO8601DurationString", json!("")),
        ["the body: Member must have length greater than or equal to 1"]
    );
}

#[test]
fn a_pattern_must_match_the_whole_value() {
    assert!(request("EC2InstanceID", json!("i-0123456789abcdef0")).is_empty());
    // Each of these holds a match of `i-[0-9a-fA-F]{8,}` but is not one.
    for bad in ["i-0123456789abcdefx", "xi-01234567", "i-0123"] {
        assert_eq!(
            request("EC2InstanceID", json!(bad)),
            ["the body: Member must satisfy regular expression pattern: i-[0-9a-fA-F]{8,}"],
            "{bad}"
        );
    }
    assert!(!request("RecoverySnapshotID", json!("pit-123")).is_empty());
    assert!(request("RecoverySnapshotID", json!("pit-0123456789abcdefg")).is_empty());
}

#[test]
fn dates_must_be_iso8601_datetime_strings_ending_in_z() {
    for good in [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00.123456Z",
        "2024-12-31T23:59:59.5Z",
    ] {
        assert!(
            request("ISO8601DatetimeString", json!(good)).is_empty(),
            "{good}"
        );
    }
    for bad in [
        "2024-05-01T12:00:00.123456+00:00",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01",
        "2024-05-01 12:00:00Z",
        "2024-13-01T12:00:00Z",
        "2024-05-01T24:00:00Z",
    ] {
        assert!(
            !request("ISO8601DatetimeString", json!(bad)).is_empty(),
            "{bad}"
        );
    }
}

#[test]
fn a_value_outside_the_enum_is_refused() {
    assert!(response("JobStatus", json!("COMPLETED")).is_empty());
    let found = response("JobStatus", json!("RUNNING"));
    assert_eq!(
        found,
        ["the body: Member must satisfy enum value set: [PENDING, STARTED, COMPLETED]"]
    );
    // States of other services' models, not DRS's LaunchStatus.
    for bad in ["PENDING_SNAPSHOT_SHIPPING", "SHIPPING_SNAPSHOT"] {
        assert!(!response("LaunchStatus", json!(bad)).is_empty(), "{bad}");
    }
}

#[test]
fn integers_and_longs_are_whole_numbers_within_the_range() {
    assert!(request("StrictlyPositiveInteger", json!(1)).is_empty());
    assert_eq!(
        request("StrictlyPositiveInteger", json!(0)),
        ["the body: Member must have value greater than or equal to 1"]
    );
    assert_eq!(
        request("JobEventAttemptCount", json!(10)),
        ["the body: Member must have value less than or equal to 9"]
    );
    assert!(request("PositiveInteger", json!(-1)).len() == 1);
    assert!(request("PositiveInteger", json!(1_000_000_000_000_i64)).is_empty());
    assert_eq!(
        request("StrictlyPositiveInteger", json!(1.5)),
        ["the body: Member must be a whole number (StrictlyPositiveInteger)"]
    );
}

#[test]
fn a_map_holds_its_entry_count_and_its_keys_and_values_are_checked() {
    assert!(request("TagsMap", json!({"Owner": "ops"})).is_empty());
    let long_key = "k".repeat(257);
    let found = request("TagsMap", json!({ long_key.clone(): "v" }));
    assert_eq!(
        found,
        [format!(
            "{{{long_key}}}: Member must have length less than or equal to 256"
        )]
    );
    let params: serde_json::Map<String, Value> = (0..21)
        .map(|n| (format!("p{n}"), json!({"value": "v", "type": "DYNAMIC"})))
        .collect();
    assert_eq!(
        request("LaunchActionParameters", Value::Object(params)),
        ["the body: Member must have length less than or equal to 20"]
    );
    assert!(!request("LaunchActionParameters", json!({"bad key": {"value": "v"}})).is_empty());
}

#[test]
fn a_union_has_exactly_one_member_set() {
    assert!(
        response(
            "ParticipatingResourceID",
            json!({"sourceNetworkID": "sn-0123456789abcdefg"})
        )
        .is_empty()
    );
    assert_eq!(
        response("ParticipatingResourceID", json!({})),
        [
            "the body: Member must have exactly one member of the union ParticipatingResourceID set, not 0"
        ]
    );
}

#[test]
fn a_value_of_the_wrong_json_type_is_refused() {
    assert_eq!(
        request(
            "StartRecoveryRequest",
            json!({"sourceServers": servers(1), "isDrill": "yes"})
        ),
        ["isDrill: Member must be a boolean (Boolean), not a string"]
    );
    assert_eq!(
        request("DescribeJobsRequest", json!({"filters": []})),
        ["filters: Member must be an object (DescribeJobsRequestFilters), not an array"]
    );
    assert!(!request("DescribeJobsRequest", json!("not an object")).is_empty());
}

#[test]
fn null_is_absent_in_requests_and_refused_in_answers() {
    assert!(request("DescribeJobsRequest", json!({"filters": null})).is_empty());
    assert_eq!(
        response("Job", json!({"jobID": job_id(1), "endDateTime": null})),
        ["endDateTime: Member must not be null (ISO8601DatetimeString)"]
    );
}

#[test]
fn members_bound_to_headers_are_not_body_members() {
    // ThrottlingException's retryAfterSeconds travels in the Retry-After header.
    assert!(
        !Model::drs()
            .members("ThrottlingException")
            .contains(&"retryAfterSeconds")
    );
    assert_eq!(
        response(
            "ThrottlingException",
            json!({"message": "Rate exceeded", "retryAfterSeconds": "1"})
        ),
        ["retryAfterSeconds: Member is not a member of ThrottlingException"]
    );
}

/// The recovery-plan shapes (the 20 RecoveryPlan operations): the rules above, on them.
mod recovery_plans {
    use super::*;

    const PLAN: &str = "arn:aws:drs:us-east-1:123456789012:recovery-plan/rp-0123456789abcdef0";

    fn server(n: u32) -> Value {
        json!({"serverArn": format!("arn:aws:drs:us-east-1:123456789012:source-server/s-{n:017}")})
    }

    fn step(configuration: Value) -> Value {
        json!({"recoveryPlanArn": PLAN, "stepName": "web", "configuration": configuration})
    }

    #[test]
    fn a_step_is_a_server_step_or_a_wait_step_never_both() {
        let both = json!({
            "serverStepConfiguration": {"servers": [server(1)]},
            "waitStepConfiguration": {"waitDurationMinutes": 5},
        });
        let wrong = request("CreateRecoveryPlanStepRequest", step(both));
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert!(wrong[0].contains("exactly one member"), "{wrong:?}");
        assert!(request("CreateRecoveryPlanStepRequest", step(json!({}))).len() == 1);
    }

    #[test]
    fn a_server_step_holds_1_to_100_servers_and_a_wait_1_to_120_minutes() {
        let servers = |n: u32| {
            step(
                json!({"serverStepConfiguration": {"servers": (0..n).map(server).collect::<Vec<_>>()}}),
            )
        };
        assert!(request("CreateRecoveryPlanStepRequest", servers(100)).is_empty());
        assert_eq!(
            request("CreateRecoveryPlanStepRequest", servers(101)).len(),
            1
        );
        assert_eq!(
            request("CreateRecoveryPlanStepRequest", servers(0)).len(),
            1
        );
        let wait = |m: i64| step(json!({"waitStepConfiguration": {"waitDurationMinutes": m}}));
        assert!(request("CreateRecoveryPlanStepRequest", wait(120)).is_empty());
        assert_eq!(request("CreateRecoveryPlanStepRequest", wait(121)).len(), 1);
        assert_eq!(request("CreateRecoveryPlanStepRequest", wait(0)).len(), 1);
    }

    #[test]
    fn plan_arns_names_and_step_orders_are_held_to_their_patterns_and_ranges() {
        let script =
            json!({"recoveryPlanArn": "arn:aws:drs:us-east-1:123456789012:recovery-plan/<script>"});
        assert_eq!(request("GetRecoveryPlanRequest", script).len(), 1);
        assert_eq!(
            request(
                "CreateRecoveryPlanRequest",
                json!({"name": "-starts-badly"})
            )
            .len(),
            1
        );
        assert!(request("CreateRecoveryPlanRequest", json!({"name": "app tier_1-a"})).is_empty());
        let mut ordered = step(json!({"waitStepConfiguration": {"waitDurationMinutes": 1}}));
        ordered["stepOrder"] = json!(21);
        assert_eq!(request("CreateRecoveryPlanStepRequest", ordered).len(), 1);
        let arns: Vec<Value> = (0..21).map(|_| json!(PLAN)).collect();
        let reorder = json!({"recoveryPlanArn": PLAN, "orderedStepArns": arns});
        assert_eq!(request("ReorderRecoveryPlanStepsRequest", reorder).len(), 1);
    }

    #[test]
    fn an_execution_names_at_most_200_snapshots_and_its_statuses_are_the_enums() {
        let sources: Vec<Value> = (0..201)
            .map(|n| json!({"sourceServerID": format!("s-{n:017}"), "recoverySnapshotID": format!("pit-{n:017}")}))
            .collect();
        let start = json!({"recoveryPlanArn": PLAN, "mode": "DRILL", "sourceServers": sources});
        assert_eq!(request("StartRecoveryPlanExecutionRequest", start).len(), 1);
        let skip = |status: &str| json!({"recoveryPlanExecutionStepArn": format!("{PLAN}/step/1"), "status": status});
        assert!(request("UpdateRecoveryPlanExecutionStepRequest", skip("SKIPPED")).is_empty());
        assert_eq!(
            request("UpdateRecoveryPlanExecutionStepRequest", skip("PAUSED")).len(),
            1
        );
    }
}
