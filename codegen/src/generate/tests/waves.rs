//! A wave's loop: start, wait, check, the verdict, and where a finished wave goes.

use super::*;

#[test]
fn a_wave_start_writes_its_state_and_goes_to_wait() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: start")),
        json!({
            "Type": "Task",
            "Resource": "${StartWaveActivityArn}",
            "Parameters": {"run.$": "$.run", "wave": db_wave(), "heartbeatSeconds": 5, "retryCount.$": "$$.State.RetryCount"},
            "ResultPath": "$.waves.w1",
            "TimeoutSeconds": 600,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": catch_to_record_failure(),
            "Next": "Wave 1 db: wait"
        })
    );
}

#[test]
fn a_wave_waits_as_long_as_the_last_check_asked() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: wait")),
        json!({"Type": "Wait", "SecondsPath": "$.waves.w1.nextWaitSeconds", "Next": "Wave 1 db: check"})
    );
}

#[test]
fn a_wave_check_reads_and_rewrites_the_wave_state() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: check")),
        json!({
            "Type": "Task",
            "Resource": "${CheckWaveActivityArn}",
            "Parameters": {"run.$": "$.run", "wave": db_wave(), "state.$": "$.waves.w1", "heartbeatSeconds": 5, "retryCount.$": "$$.State.RetryCount"},
            "ResultPath": "$.waves.w1",
            "TimeoutSeconds": 300,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": catch_to_record_failure(),
            "Next": "Wave 1 db: done?"
        })
    );
}

#[test]
fn a_stopping_wave_that_fails_goes_to_its_failure_state() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: done?")),
        json!({
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.waves.w1.status", "StringEquals": "LAUNCHING", "Next": "Wave 1 db: wait"},
                {"Variable": "$.waves.w1.status", "StringEquals": "SUCCEEDED", "Next": "Wave 2 web: start"},
                {"Variable": "$.waves.w1.status", "StringEquals": "FAILED", "Next": "Wave 1 db: failed"}
            ],
            "Default": "Wave 1 db: failed"
        })
    );
    assert_eq!(
        without_comment(state_json(&m, "Wave 1 db: failed")),
        json!({
            "Type": "Pass",
            "Parameters": {"Error": "DrsWaves.WaveFailed", "Cause.$": "$.waves.w1.reason"},
            "ResultPath": "$.error",
            "Next": "Record failure"
        })
    );
}

#[test]
fn a_continuing_wave_that_fails_goes_on_to_the_next_wave() {
    let m = generate(&two_waves("continue"), &ActivityResources::Placeholders);
    let done = state_json(&m, "Wave 1 db: done?");
    assert_eq!(
        done["Choices"][2],
        json!({"Variable": "$.waves.w1.status", "StringEquals": "FAILED", "Next": "Wave 2 web: start"})
    );
    // An unknown status is never taken for success.
    assert_eq!(done["Default"], json!("Wave 1 db: failed"));
}

#[test]
fn the_last_wave_goes_on_to_finish() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    let done = state_json(&m, "Wave 2 web: done?");
    assert_eq!(done["Choices"][1]["Next"], json!("Finish"));
    assert_eq!(
        without_comment(state_json(&m, "Finish")),
        json!({
            "Type": "Task",
            "Resource": "${FinishActivityArn}",
            "Parameters": {"run.$": "$.run", "waves.$": "$.waves", "heartbeatSeconds": 5, "retryCount.$": "$$.State.RetryCount"},
            "ResultPath": "$.result",
            "TimeoutSeconds": 600,
            "HeartbeatSeconds": 5,
            "Retry": retry(),
            "Catch": catch_to_record_failure(),
            "Next": "Succeeded"
        })
    );
}

#[test]
fn every_state_name_of_a_maximal_wave_fits() {
    let name = "w".repeat(crate::plan::MAX_NAME_CHARS);
    let longest = names::wave(9999, &name, WaveStep::Failed);
    assert!(
        longest.chars().count() <= crate::asl::MAX_STATE_NAME_CHARS,
        "{longest}"
    );
}
