//! Launch points held to the plan's recovery point objective (`rpoMinutes`).
//!
//! Tried as a new user would, with DRS listing snapshots oldest first, a RECOVERY launched
//! every server from a day-old snapshot under a one-hour target, and nothing said so before the
//! report. Preflight now names every required server whose launch point is further back than
//! the target: a DRILL (a readiness test) refuses, a RECOVERY (the day itself) goes on with the
//! warning in the preflight result, the history and the log.

use drs_waves_contract::{Mode, PlanSpec};
use time::OffsetDateTime;

use super::clock::{human_seconds, parse_time, seconds_between};
use super::preflight::Readiness;

/// Adds to `readiness` a refusal (DRILL) or a warning (RECOVERY) for each required server whose
/// snapshot was taken more than `rpo_seconds` before the wanted moment: the execution's point
/// in time when it has one, else `now`. A server that launches from the latest data (no
/// snapshot named) meets any target; one with no snapshot at all is refused elsewhere.
pub fn hold_to_rpo(
    readiness: &mut Readiness,
    plan: &PlanSpec,
    mode: Mode,
    rpo_seconds: Option<u32>,
    point_in_time: Option<OffsetDateTime>,
    now: OffsetDateTime,
) {
    let Some(rpo) = rpo_seconds.map(u64::from) else {
        return;
    };
    let wanted = point_in_time.unwrap_or(now);
    let before = if point_in_time.is_some() {
        "before the point in time"
    } else {
        "ago"
    };
    let mut late = Vec::new();
    for point in readiness.points.iter().filter(|p| p.required) {
        let Some(snapshot) = &point.snapshot else {
            continue;
        };
        let Some(taken) = parse_time(&snapshot.taken_at) else {
            continue;
        };
        let gap = seconds_between(taken, wanted);
        if gap <= rpo {
            continue;
        }
        let wave = plan
            .waves
            .iter()
            .find(|w| w.index == point.wave_index)
            .map_or_else(|| format!("#{}", point.wave_index), |w| w.name.clone());
        late.push(format!(
            "wave '{wave}': source server {} would launch from recovery snapshot {} taken {} ({} {before}), \
             older than the plan's recovery point objective of {} (rpoMinutes)",
            point.server_id,
            snapshot.id,
            snapshot.taken_at,
            human_seconds(gap),
            human_seconds(rpo)
        ));
    }
    match mode {
        Mode::Drill => readiness.problems.extend(late.into_iter().map(|l| {
            format!("{l}: a drill tests readiness and refuses a launch point older than the target")
        })),
        Mode::Recovery => readiness.warnings.extend(late.into_iter().map(|l| {
            format!("{l}: the recovery goes on, and loses more data than the target allows")
        })),
        // A failback launches from the data replicated back, not from snapshots.
        Mode::Failback => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::LaunchPoint;
    use drs_waves_aws::drs::RecoverySnapshot;
    use time::macros::datetime;

    fn point(server: &str, required: bool, taken_at: Option<&str>) -> LaunchPoint {
        LaunchPoint {
            wave_index: 1,
            server_id: server.into(),
            required,
            snapshot: taken_at.map(|t| RecoverySnapshot {
                id: format!("pit-{server}"),
                source_server_id: server.into(),
                taken_at: t.into(),
            }),
            age_seconds: None,
            replication: "CONTINUOUS".into(),
        }
    }

    fn plan() -> PlanSpec {
        serde_json::from_value(serde_json::json!({
            "name": "shop",
            "terminateDrillInstances": true,
            "waves": [{
                "index": 1, "name": "db", "launchTimeoutSeconds": 600, "onFailure": "stop",
                "polling": {"minWaitSeconds": 5, "maxWaitSeconds": 60, "expectedLaunchSeconds": 300}
            }]
        }))
        .expect("a plan")
    }

    fn readiness() -> Readiness {
        Readiness {
            points: vec![
                point("s-fresh", true, Some("2030-01-01T11:30:00Z")),
                point("s-stale", true, Some("2030-01-01T09:00:00Z")),
                point("s-stale-optional", false, Some("2030-01-01T08:00:00Z")),
                point("s-latest-data", true, None),
            ],
            ..Readiness::default()
        }
    }

    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00:00 UTC);

    #[test]
    fn a_drill_refuses_each_required_server_past_the_target_and_names_it() {
        let mut r = readiness();
        hold_to_rpo(&mut r, &plan(), Mode::Drill, Some(3600), None, NOW);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        let p = &r.problems[0];
        assert!(
            p.contains("wave 'db'") && p.contains("s-stale") && p.contains("pit-s-stale"),
            "{p}"
        );
        assert!(p.contains("3 h ago") || p.contains("3h"), "{p}");
        assert!(p.contains("rpoMinutes") && p.contains("refuses"), "{p}");
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn a_recovery_goes_on_with_a_warning() {
        let mut r = readiness();
        hold_to_rpo(&mut r, &plan(), Mode::Recovery, Some(3600), None, NOW);
        assert!(r.problems.is_empty());
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("s-stale") && r.warnings[0].contains("goes on"));
    }

    #[test]
    fn a_point_in_time_is_the_moment_the_target_counts_from() {
        let mut r = readiness();
        let pit = datetime!(2030-01-01 09:30:00 UTC);
        hold_to_rpo(&mut r, &plan(), Mode::Drill, Some(3600), Some(pit), NOW);
        assert!(
            r.problems.is_empty(),
            "30 min before the point in time: {:?}",
            r.problems
        );
    }

    #[test]
    fn no_target_no_check() {
        let mut r = readiness();
        hold_to_rpo(&mut r, &plan(), Mode::Drill, None, None, NOW);
        assert!(r.problems.is_empty() && r.warnings.is_empty());
    }
}
