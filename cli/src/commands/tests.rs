//! Tests of `commands`.

use super::*;
use time::macros::datetime;

#[test]
fn default_names_say_what_and_when() {
    let t = datetime!(2026-11-28 22:15:00.000012345 UTC);
    let name = default_name(Mode::Recovery, t);
    assert!(name.starts_with("recovery-20261128T221500Z-"), "{name}");
    assert!(default_name(Mode::Drill, t).starts_with("drill-"));
}

const NOW: OffsetDateTime = datetime!(2026-11-28 22:00:00 UTC);

fn normalized(typed: &str) -> String {
    normalize_point_in_time(typed, NOW)
        .unwrap_or_else(|e| panic!("{typed}: {e}"))
        .normalized
}

#[test]
fn a_point_in_time_in_the_accepted_form_is_sent_as_typed() {
    let t = normalize_point_in_time("2026-11-27T03:00:00Z", NOW).expect("valid");
    assert_eq!(t.normalized, "2026-11-27T03:00:00Z");
    assert_eq!(t.rewrite_note(), None, "nothing to tell");
}

#[test]
fn a_lower_case_t_and_z_or_a_space_for_the_t_are_sent_as_upper_case_t_and_z() {
    assert_eq!(normalized("2026-11-27t03:00:00z"), "2026-11-27T03:00:00Z");
    // RFC 3339 allows a space between date and time; IsTimestamp does not.
    assert_eq!(normalized("2026-11-27 03:00:00z"), "2026-11-27T03:00:00Z");
    assert_eq!(normalized("2026-11-27T03:00:00z"), "2026-11-27T03:00:00Z");
    assert_eq!(normalized(" 2026-11-27t03:00:00Z "), "2026-11-27T03:00:00Z");
}

#[test]
fn an_offset_is_sent_as_the_same_moment_in_utc() {
    assert_eq!(
        normalized("2026-11-27T05:00:00+02:00"),
        "2026-11-27T03:00:00Z"
    );
    assert_eq!(
        normalized("2026-11-26T22:30:00-04:30"),
        "2026-11-27T03:00:00Z"
    );
    assert_eq!(
        normalized("2026-11-27T03:00:00+00:00"),
        "2026-11-27T03:00:00Z"
    );
    assert_eq!(
        normalized("2026-11-27T03:00:00-00:00"),
        "2026-11-27T03:00:00Z"
    );
    let t = normalize_point_in_time("2026-11-27T05:00:00+02:00", NOW).expect("valid");
    assert_eq!(
        t.rewrite_note().as_deref(),
        Some(
            "--point-in-time 2026-11-27T05:00:00+02:00 is sent as 2026-11-27T03:00:00Z (UTC, the form Step Functions accepts)"
        )
    );
}

#[test]
fn fractional_seconds_are_cut_to_the_whole_second_never_rounded_up() {
    assert_eq!(
        normalized("2026-11-27T03:00:00.999Z"),
        "2026-11-27T03:00:00Z"
    );
    assert_eq!(
        normalized("2026-11-27t05:00:59.5+02:00"),
        "2026-11-27T03:00:59Z"
    );
    let t = normalize_point_in_time("2026-11-27T03:00:00.25Z", NOW).expect("valid");
    assert!(t.fraction_dropped);
    let note = t.rewrite_note().expect("a note");
    assert!(note.contains("sent as 2026-11-27T03:00:00Z"), "{note}");
    assert!(note.contains("fraction of a second is dropped"), "{note}");
    let whole = normalize_point_in_time("2026-11-27T03:00:00+01:00", NOW).expect("valid");
    assert!(!whole.fraction_dropped);
    // Just under a second ahead of now cuts to now: not in the future.
    assert_eq!(normalized("2026-11-28T22:00:00.9Z"), "2026-11-28T22:00:00Z");
}

#[test]
fn a_value_that_is_not_rfc3339_is_refused_naming_the_flag_and_the_form() {
    for garbage in [
        "yesterday",
        "",
        "2026-11-27",
        "2026-11-27T03:00:00",
        "27/11/2026 03:00",
        "2026-11-27T03:00Z",
        "2026-13-27T03:00:00Z",
        "2026-11-27X03:00:00Z",
        "2026-11-27_03:00:00Z",
        "1795748400",
    ] {
        let e = normalize_point_in_time(garbage, NOW).expect_err(garbage);
        let text = e.to_string();
        assert!(matches!(e, CliError::Usage(_)), "{garbage}: {e:?}");
        assert_ne!(e.exit_code(), 0);
        assert!(
            text.starts_with(&format!(
                "--point-in-time {garbage:?} is not an RFC 3339 time"
            )),
            "{text}"
        );
        assert!(text.contains(POINT_IN_TIME_FORM), "{text}");
        assert!(text.ends_with("nothing started"), "{text}");
    }
}

#[test]
fn a_point_in_time_in_the_future_is_refused() {
    let e = normalize_point_in_time("2026-11-29t03:00:00+02:00", NOW).expect_err("future");
    assert_eq!(
        e.to_string(),
        "--point-in-time 2026-11-29t03:00:00+02:00 (2026-11-29T01:00:00Z) is in the future (now is 2026-11-28T22:00:00Z): a recovery can only go back in time; nothing started"
    );
    assert!(normalize_point_in_time("2026-11-28T22:00:01Z", NOW).is_err());
    assert!(normalize_point_in_time("2026-11-28T22:00:00Z", NOW).is_ok());
}

#[test]
fn the_execution_input_carries_the_normalized_point_in_time() {
    let t = normalize_point_in_time("2026-11-27t05:00:00.5+02:00", NOW).expect("valid");
    let by = "arn:aws:iam::123456789012:user/oncall";
    let input = execution_input(Mode::Recovery, "billing", Some(&t), by);
    assert_eq!(
        serde_json::to_value(&input).expect("encode"),
        serde_json::json!({
            "mode": "RECOVERY",
            "confirm": "billing",
            "pointInTime": "2026-11-27T03:00:00Z",
            "startedBy": by,
        })
    );
    let drill = execution_input(Mode::Drill, "billing", None, by);
    assert_eq!(
        serde_json::to_value(&drill).expect("encode"),
        serde_json::json!({"mode": "DRILL", "startedBy": by})
    );
}

#[test]
fn a_wrong_confirmation_starts_nothing() {
    assert!(confirm_recovery("billing", Some("billing")).is_ok());
    let e = confirm_recovery("billing", Some("biling")).expect_err("wrong");
    assert_eq!(
        e.to_string(),
        "\"biling\" is not the plan's name \"billing\": the RECOVERY is not confirmed; nothing started"
    );
}

#[test]
fn a_failback_is_confirmed_like_a_recovery_and_takes_no_point_in_time() {
    use clap::Parser;
    let by = "arn:aws:iam::123456789012:user/ops";
    let input = execution_input(Mode::Failback, "billing", None, by);
    assert_eq!(
        serde_json::to_value(&input).expect("encode"),
        serde_json::json!({"mode": "FAILBACK", "confirm": "billing", "startedBy": by})
    );
    let e = confirm_mode("billing", Mode::Failback, Some("biling")).expect_err("wrong");
    assert!(
        e.to_string().contains("the FAILBACK is not confirmed"),
        "{e}"
    );
    assert!(
        default_name(Mode::Failback, datetime!(2026-11-28 22:15:00 UTC)).starts_with("failback-")
    );
    let parse = |args: &[&str]| crate::Cli::try_parse_from(args);
    assert!(parse(&["drs-waves", "start", "billing", "--failback"]).is_ok());
    for refused in [
        &["drs-waves", "start", "billing", "--failback", "--drill"][..],
        &["drs-waves", "start", "billing", "--failback", "--recovery"],
        &[
            "drs-waves",
            "start",
            "billing",
            "--failback",
            "--point-in-time",
            "2026-11-27T03:00:00Z",
        ],
        &["drs-waves", "start", "billing"],
        &[
            "drs-waves",
            "start",
            "billing",
            "--bring-home",
            "recovery-1",
        ],
    ] {
        assert!(parse(refused).is_err(), "{refused:?}");
    }
    let mut args = StartArgs {
        plan: "billing".into(),
        recovery: true,
        failback: false,
        bring_home: Some("r".into()),
        point_in_time: None,
        confirm: None,
        name: None,
        follow: false,
        quiet: false,
        plain: false,
    };
    let e = args.check().expect_err("a RECOVERY brings nothing home");
    assert!(e.to_string().contains("add --failback"), "{e}");
    (args.recovery, args.failback) = (false, true);
    assert!(args.check().is_ok());
    let named = [
        "drs-waves",
        "start",
        "billing",
        "--failback",
        "--bring-home",
        "r-1",
    ];
    assert!(parse(&named).is_ok());
}

#[test]
fn a_failback_that_terminates_is_confirmed_in_words_that_say_so() {
    assert_eq!(confirm_phrase("billing", false), "billing");
    let phrase = confirm_phrase("billing", true);
    assert_eq!(phrase, "terminate billing");
    // The plan's name alone does not confirm the end of the recovery region's copy.
    let e = confirm_mode(&phrase, Mode::Failback, Some("billing")).expect_err("plan name only");
    assert_eq!(
        e.to_string(),
        "\"billing\" is not \"terminate billing\": the FAILBACK is not confirmed; nothing started"
    );
    assert!(confirm_mode(&phrase, Mode::Failback, Some("terminate billing")).is_ok());
}

#[test]
fn the_preview_shows_each_wave_and_its_server_selection() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachines/billing.asl.json"
    );
    let spec = resolve::plan_of_definition(&std::fs::read_to_string(path).expect("asl"));
    let at = normalize_point_in_time("2026-11-27T05:00:00+02:00", NOW).expect("valid");
    let text = preview("billing", Mode::Recovery, spec.as_ref(), Some(&at));
    assert!(text.starts_with("RECOVERY of plan billing: launches PRODUCTION recovery instances, every server from its latest snapshot at or before 2026-11-27T03:00:00Z, wave by wave:\n  --point-in-time 2026-11-27T05:00:00+02:00 is sent as 2026-11-27T03:00:00Z"), "{text}");
    for needle in [
        "databases",
        "s-a1b2c3d4e5f600001 s-a1b2c3d4e5f600002",
        "app-servers",
        "tags App=billing,Tier=web",
        "2:00",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
}
