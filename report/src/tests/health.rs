//! Health checks in the report: a wave with checks is recovered when healthy, so its RTO and
//! the plan's count to the moment its last check passed.

use drs_waves_contract::HealthStatus;
use drs_waves_history::{HealthCheckRecord, ProbeRecord, WaveHealthRecord};

use super::*;

fn health(healthy_at: Option<&str>, answer: &str) -> WaveHealthRecord {
    WaveHealthRecord {
        execution_id: ARN.into(),
        wave_index: 2,
        status: if healthy_at.is_some() {
            HealthStatus::Healthy
        } else {
            HealthStatus::Failed
        },
        started_at: "2026-11-28T10:04:00Z".into(),
        healthy_at: healthy_at.map(str::to_owned),
        rounds: 4,
        checks: vec![HealthCheckRecord {
            what: "http http://{privateIp}:8080/health expects 2xx".into(),
            passed_at: healthy_at.map(str::to_owned),
            probes: 4,
            last: vec![ProbeRecord {
                target: "http://10.0.0.5:8080/health".into(),
                ok: healthy_at.is_some(),
                answer: answer.into(),
                at: "2026-11-28T10:06:00Z".into(),
            }],
        }],
    }
}

#[test]
fn a_wave_with_checks_recovers_when_healthy_and_the_plan_rto_counts_to_it() {
    let mut s = sources();
    s.waves[1].health = Some(health(Some("2026-11-28T10:06:00Z"), "HTTP 200"));
    let r = build(&s);
    let w = &r.waves[1];
    // Launched at 10:04:00 (its job's end), healthy at 10:06:00.
    assert_eq!(w.recovered_at.as_deref(), Some("2026-11-28T10:04:00Z"));
    assert_eq!(w.healthy_at.as_deref(), Some("2026-11-28T10:06:00Z"));
    assert_eq!(w.rto.achieved_seconds, Some(360));
    assert!(
        w.health_checks[0].contains("passed at 2026-11-28T10:06:00Z"),
        "{:?}",
        w.health_checks
    );
    // Without checks the plan recovered at 10:04 (240 s, PASS against 300); healthy at 10:06.
    assert_eq!(r.rto.achieved_seconds, Some(360));
    assert_eq!(r.rto.verdict, VerdictKind::Fail);
    assert_eq!(
        r.waves[0].healthy_at, None,
        "a wave without checks has no healthy time"
    );
}

#[test]
fn a_wave_that_never_became_healthy_has_not_recovered() {
    let mut s = sources();
    s.waves[1].health = Some(health(None, "HTTP 503"));
    let r = build(&s);
    let w = &r.waves[1];
    assert_eq!(w.healthy_at, None);
    assert_eq!(w.rto.achieved_seconds, None);
    assert!(w.rto.note.contains("not healthy"), "{}", w.rto.note);
    assert!(
        w.health_checks[0].contains("http://10.0.0.5:8080/health HTTP 503"),
        "{:?}",
        w.health_checks
    );
    assert_eq!(r.rto.achieved_seconds, None);
    assert_eq!(r.rto.verdict, VerdictKind::Fail);
}
