//! Health checks: the states after a launch, where their verdicts go under each `onFailure`,
//! and a retry after failed checks going back to the checks, not the launch.

use super::*;

fn with_health(on_failure: &str) -> Plan {
    plan(&format!(
        "name: shop\ntasks: {{heartbeatSeconds: 5}}\n\
         defaults: {{launchTimeoutSeconds: 60, polling: {{minWaitSeconds: 2, maxWaitSeconds: 10, expectedLaunchSeconds: 30}}}}\n\
         waves:\n\
         \x20 - name: db\n    onFailure: {on_failure}\n    servers: {{ids: [s-a1b2c3d4e5f600001]}}\n\
         \x20   health:\n\
         \x20     - http: {{url: \"http://{{privateIp}}:8080/health\", expect: 2xx}}\n\
         \x20       timeoutMinutes: 5\n        intervalSeconds: 10\n\
         \x20     - tcp: {{port: 5432}}\n\
         \x20 - name: web\n    servers: {{tags: {{Tier: web}}}}\n"
    ))
}

#[test]
fn a_launched_wave_goes_to_its_checks_and_a_healthy_one_to_the_next_wave() {
    let m = generate(&with_health("stop"), &ActivityResources::Placeholders);
    let done = state_json(&m, "Wave 1 db: done?");
    assert_eq!(
        done["Choices"][1],
        json!({"Variable": "$.waves.w1.status", "StringEquals": "SUCCEEDED", "Next": "Wave 1 db: health checks begin"})
    );
    let begin = state_json(&m, "Wave 1 db: health checks begin");
    assert_eq!(begin["ResultPath"], json!("$.waves.w1.health"));
    assert_eq!(
        begin["Parameters"],
        json!({"status": "CHECKING", "startedAt.$": "$$.State.EnteredTime", "rounds": 0, "passed": [],
               "nextWaitSeconds": 0, "healthyAt": ""})
    );
    assert_eq!(begin["Next"], json!("Wave 1 db: health check"));
    let check = state_json(&m, "Wave 1 db: health check");
    assert_eq!(check["Resource"], json!("${CheckHealthActivityArn}"));
    assert_eq!(check["ResultPath"], json!("$.waves.w1"));
    assert_eq!(check["Parameters"]["state.$"], json!("$.waves.w1"));
    assert_eq!(
        check["Parameters"]["wave"]["health"],
        json!([
            {"probe": {"http": {"url": "http://{privateIp}:8080/health", "expect": {"min": 200, "max": 299}}},
             "timeoutSeconds": 300, "intervalSeconds": 10},
            {"probe": {"tcp": {"port": 5432}}, "timeoutSeconds": 600, "intervalSeconds": 30}
        ])
    );
    assert_eq!(check["Retry"], retry());
    assert_eq!(check["Catch"], catch_to_record_failure());
    let healthy = state_json(&m, "Wave 1 db: healthy?");
    assert_eq!(
        healthy["Choices"],
        json!([
            {"Variable": "$.waves.w1.health.status", "StringEquals": "HEALTHY", "Next": "Wave 2 web: start"},
            {"Variable": "$.waves.w1.health.status", "StringEquals": "FAILED", "Next": "Wave 1 db: failed"}
        ])
    );
    assert_eq!(healthy["Default"], json!("Wave 1 db: health wait"));
    let wait = state_json(&m, "Wave 1 db: health wait");
    assert_eq!(
        wait["SecondsPath"],
        json!("$.waves.w1.health.nextWaitSeconds")
    );
    assert_eq!(wait["Next"], json!("Wave 1 db: health check"));
    assert!(
        m.states.get("Wave 2 web: health check").is_none(),
        "a wave without checks has none"
    );
}

#[test]
fn failed_checks_continue_past_the_wave_and_a_failed_launch_skips_them() {
    let m = generate(&with_health("continue"), &ActivityResources::Placeholders);
    let healthy = state_json(&m, "Wave 1 db: healthy?");
    assert_eq!(healthy["Choices"][1]["Next"], json!("Wave 2 web: start"));
    let done = state_json(&m, "Wave 1 db: done?");
    assert_eq!(
        done["Choices"][2],
        json!({"Variable": "$.waves.w1.status", "StringEquals": "FAILED", "Next": "Wave 2 web: start"})
    );
}

#[test]
fn with_ask_a_retry_after_failed_checks_runs_the_checks_again_and_launches_nothing() {
    let m = generate(&with_health("ask"), &ActivityResources::Placeholders);
    let healthy = state_json(&m, "Wave 1 db: healthy?");
    assert_eq!(healthy["Choices"][1]["Next"], json!("Wave 1 db: decide?"));
    let decision = state_json(&m, "Wave 1 db: decision");
    assert_eq!(
        decision["Choices"][0],
        json!({"And": [
            {"Variable": "$.operator.decide_w1.decision", "StringEquals": "retry"},
            {"Variable": "$.waves.w1.health", "IsPresent": true}
        ], "Next": "Wave 1 db: health checks begin"})
    );
    assert_eq!(decision["Choices"][1]["Next"], json!("Wave 1 db: start"));
    assert_eq!(decision["Choices"][2]["Next"], json!("Wave 1 db: skipped"));
    let skipped = state_json(&m, "Wave 1 db: skipped");
    assert_eq!(skipped["Next"], json!("Wave 2 web: start"));
}

#[test]
fn checks_count_in_the_execution_timeout_and_the_history_budget() {
    let without =
        plan("name: shop\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n");
    let with = plan(
        "name: shop\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001]}\n    health: [{tcp: {port: 22}, timeoutMinutes: 60}]\n",
    );
    assert!(
        with.execution_timeout_seconds >= without.execution_timeout_seconds + 3600,
        "{} vs {}",
        with.execution_timeout_seconds,
        without.execution_timeout_seconds
    );
    assert!(
        crate::budget::worst_case_history_events(&with.spec.waves)
            > crate::budget::worst_case_history_events(&without.spec.waves)
    );
}

#[test]
fn alarm_checks_are_read_by_step_functions_before_each_round() {
    let p = plan(
        "name: shop\nwaves:\n\
         \x20 - name: app\n    servers: {tags: {Tier: app}}\n    health:\n\
         \x20     - alarm: app-5xx\n      - tcp: {port: 8080}\n      - alarm: app-latency\n",
    );
    let m = generate(&p, &ActivityResources::Placeholders);
    assert!(m.validate().is_empty(), "{:?}", m.validate());
    let read = "Wave 1 app: health alarms";
    assert_eq!(
        state_json(&m, "Wave 1 app: health checks begin")["Next"],
        read
    );
    assert_eq!(
        state_json(&m, "Wave 1 app: health wait")["Next"],
        read,
        "every round reads them again"
    );
    let r = state_json(&m, read);
    assert_eq!(
        r["Resource"],
        "arn:aws:states:::aws-sdk:cloudwatch:describeAlarms"
    );
    assert_eq!(
        r["Parameters"],
        json!({"AlarmNames": ["app-5xx", "app-latency"], "AlarmTypes": ["MetricAlarm"]})
    );
    assert_eq!(
        r["ResultSelector"],
        json!({"MetricAlarms.$": "$.MetricAlarms"})
    );
    assert_eq!(r["ResultPath"], "$.alarms");
    assert_eq!(r["Next"], "Wave 1 app: health check");
    assert_eq!(
        r["Catch"],
        json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.alarms", "Next": "Wave 1 app: health check"}]),
        "an unreadable alarm is the round's answer, not the execution's end"
    );
    let check = state_json(&m, "Wave 1 app: health check");
    assert_eq!(check["Parameters"]["alarms.$"], "$.alarms");
    // Without alarm checks there is no read and the check takes no alarms.
    let m = generate(&with_health("stop"), &ActivityResources::Placeholders);
    assert!(m.states.get("Wave 1 db: health alarms").is_none());
    assert!(
        state_json(&m, "Wave 1 db: health check")["Parameters"]
            .get("alarms.$")
            .is_none()
    );
}
