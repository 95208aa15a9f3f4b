//! The HEALTH item: none until a round writes it, then exactly the last round, per wave, and a
//! wave's health never shows in its jobs.

use drs_waves_contract::HealthStatus;

use super::exec_arn;
use crate::{HealthCheckRecord, History, ProbeRecord, WaveHealthRecord};

fn round(id: &str, status: HealthStatus, rounds: u32, answer: &str) -> WaveHealthRecord {
    let ok = status == HealthStatus::Healthy;
    WaveHealthRecord {
        execution_id: id.to_string(),
        wave_index: 2,
        status,
        started_at: "2030-01-01T00:10:00Z".into(),
        healthy_at: ok.then(|| "2030-01-01T00:11:00Z".to_string()),
        rounds,
        checks: vec![HealthCheckRecord {
            what: "http http://{privateIp}:8080/health expects 2xx".into(),
            passed_at: ok.then(|| "2030-01-01T00:11:00Z".to_string()),
            probes: rounds,
            last: vec![ProbeRecord {
                target: "http://10.0.0.5:8080/health".into(),
                ok,
                answer: answer.into(),
                at: "2030-01-01T00:11:00Z".into(),
            }],
        }],
    }
}

/// A wave's health: none until written, then the last round's, whole; other waves have none.
pub async fn wave_health_is_replaced_whole(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "health");
    assert_eq!(history.wave_health(&id, 2).await.expect("none"), None);
    let first = round(&id, HealthStatus::Checking, 1, "HTTP 503");
    history
        .record_wave_health(first.clone())
        .await
        .expect("write");
    assert_eq!(
        history.wave_health(&id, 2).await.expect("read"),
        Some(first)
    );
    let last = round(&id, HealthStatus::Healthy, 2, "HTTP 200");
    history
        .record_wave_health(last.clone())
        .await
        .expect("replace");
    assert_eq!(history.wave_health(&id, 2).await.expect("read"), Some(last));
    assert_eq!(history.wave_health(&id, 1).await.expect("other wave"), None);
    assert!(
        history.list_jobs(&id).await.expect("jobs").is_empty(),
        "a HEALTH item is not a job"
    );
}
