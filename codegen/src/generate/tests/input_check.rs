//! The first Choice on the execution input.

use super::*;

#[test]
fn the_input_check_guards_every_comparison() {
    let m = generate(&two_waves("stop"), &ActivityResources::Placeholders);
    let check = without_comment(state_json(&m, "Check input"));
    assert_eq!(
        check,
        json!({
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.mode", "IsPresent": true}, "Next": "Input rejected"},
                {"Variable": "$.mode", "StringEquals": "DRILL", "Next": "Check point in time"},
                {"And": [{"Variable": "$.mode", "StringEquals": "RECOVERY"},
                         {"Not": {"Variable": "$.confirm", "IsPresent": true}}],
                 "Next": "Recovery not confirmed"},
                {"And": [{"Variable": "$.mode", "StringEquals": "RECOVERY"},
                         {"Variable": "$.confirm", "IsPresent": true},
                         {"Variable": "$.confirm", "StringEquals": "shop"}],
                 "Next": "Check point in time"},
                {"Variable": "$.mode", "StringEquals": "RECOVERY", "Next": "Recovery not confirmed"},
                {"And": [{"Variable": "$.mode", "StringEquals": "FAILBACK"},
                         {"Variable": "$.confirm", "IsPresent": true},
                         {"Variable": "$.confirm", "StringEquals": "shop"}],
                 "Next": "Preflight"},
                {"Variable": "$.mode", "StringEquals": "FAILBACK", "Next": "Recovery not confirmed"}
            ],
            "Default": "Input rejected"
        })
    );
    // An optional pointInTime is compared only once it is known to be present, and must be
    // in the form AWS's IsTimestamp takes (upper-case T and Z) on every engine.
    assert_eq!(
        without_comment(state_json(&m, "Check point in time")),
        json!({
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.pointInTime", "IsPresent": true}, "Next": "Preflight"},
                {"And": [{"Variable": "$.pointInTime", "IsTimestamp": true},
                         {"Variable": "$.pointInTime", "StringMatches": "*-*-*T*:*:*Z"}],
                 "Next": "Preflight"}
            ],
            "Default": "Point in time rejected"
        })
    );
    assert_eq!(
        state_json(&m, "Point in time rejected")["Result"]["Error"],
        json!("DrsWaves.InvalidInput")
    );
    let rejected = state_json(&m, "Recovery not confirmed");
    assert_eq!(
        rejected["Result"]["Error"],
        json!("DrsWaves.RecoveryNotConfirmed")
    );
    assert!(
        rejected["Result"]["Cause"]
            .as_str()
            .is_some_and(|c| c.contains(r#""confirm": "shop""#))
    );
    assert_eq!(rejected["ResultPath"], json!("$.error"));
    assert_eq!(rejected["Next"], json!("Record failure"));
    assert_eq!(
        state_json(&m, "Input rejected")["Result"]["Error"],
        json!("DrsWaves.InvalidInput")
    );
}
