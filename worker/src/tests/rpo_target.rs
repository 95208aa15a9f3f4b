//! Issue #21: launch points held to the plan's `rpoMinutes`. Preflight names every required
//! server whose snapshot is further back than the target from the wanted moment (the point in
//! time, else now): a DRILL refuses, a RECOVERY goes on with the warning in its result and the
//! history.

use super::*;
use drs_waves_contract::Targets;

fn with_rpo(mut input: PreflightInput, rpo_seconds: u32) -> PreflightInput {
    input.targets = Some(Targets {
        rpo_seconds: Some(rpo_seconds),
        ..Targets::default()
    });
    input
}

#[tokio::test]
async fn a_drill_whose_launch_points_miss_the_target_is_refused_naming_each_server() {
    let w = World::with_servers(2);
    // Both snapshots were taken at 00:00: eight minutes before the point in time.
    let input = json!({"mode": "DRILL", "pointInTime": "2030-01-01T00:08:00Z"});
    let err = w
        .handlers()
        .preflight(with_rpo(
            preflight_input(input.clone(), vec![all_tagged_wave()]),
            300,
        ))
        .await
        .expect_err("older than the five-minute target");
    assert_eq!(err.name(), ErrorName::PreflightFailed);
    let cause = err.to_string();
    for i in 1..=2 {
        assert!(cause.contains(&server_id(i)), "{cause}");
    }
    assert!(
        cause.contains("rpoMinutes") && cause.contains("before the point in time"),
        "{cause}"
    );
    assert!(w.drs.start_calls().is_empty(), "nothing launched");

    // Within a ten-minute target, the same drill passes.
    let w = World::with_servers(2);
    w.handlers()
        .preflight(with_rpo(
            preflight_input(input, vec![all_tagged_wave()]),
            600,
        ))
        .await
        .expect("within the target");
}

#[tokio::test]
async fn a_recovery_past_the_target_goes_on_with_the_warning_recorded() {
    let w = world_with_site_down(&["STALLED", "CONTINUOUS"]);
    let run = w
        .handlers()
        .preflight(with_rpo(
            preflight_input(recovery_input(None), vec![all_tagged_wave()]),
            300,
        ))
        .await
        .expect("a recovery goes on");
    let late: Vec<&String> = run
        .warnings
        .iter()
        .filter(|w| w.contains("rpoMinutes"))
        .collect();
    assert!(
        late.iter()
            .any(|w| w.contains(&server_id(1)) && w.contains("goes on")),
        "{:?}",
        run.warnings
    );
    let record = w.history.execution(EXEC).expect("record");
    assert!(
        record.warnings.iter().any(|w| w.contains("rpoMinutes")),
        "{:?}",
        record.warnings
    );
}
