//! The RTO forecast over a plan's past executions, recorded in the fake history: p50 and p90 of
//! the last successful ones, only those before a report's execution, and the time to healthy of
//! waves with health checks.

use drs_waves_contract::{ExecutionStatus, HealthStatus, Mode, ServerCounts, WaveStatus};
use drs_waves_history::{ExecutionRecord, MemoryHistory, WaveHealthRecord, WaveRecord, prelude::*};

use crate::gather::{FakeEvidenceApis, forecast};

const PLAN: &str = "billing";

fn arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:000000000000:execution:{PLAN}:{name}")
}

fn record(name: &str, status: ExecutionStatus, started_at: &str) -> ExecutionRecord {
    ExecutionRecord {
        mode: Some(Mode::Drill),
        wave_count: 2,
        server_count: 2,
        ..ExecutionRecord::new(arn(name), name, PLAN, status, started_at)
    }
}

/// Records a past execution whose waves completed in `completions` seconds, wave 2
/// starting right when wave 1 recovered.
async fn past(
    history: &MemoryHistory,
    name: &str,
    status: ExecutionStatus,
    started: time::OffsetDateTime,
    completions: &[u64],
) {
    history
        .create_execution(record(name, status, &drs_waves_rules::format_time(started)))
        .await
        .expect("create");
    let mut wave_start = started + time::Duration::seconds(5);
    for (i, secs) in completions.iter().enumerate() {
        let index = u32::try_from(i + 1).expect("small");
        let wave = WaveRecord {
            execution_id: arn(name),
            index,
            name: format!("w{index}"),
            status: WaveStatus::Launching,
            job_ids: Vec::new(),
            started_at: drs_waves_rules::format_time(wave_start),
            ended_at: None,
            checks: 0,
            servers: ServerCounts::default(),
            reason: String::new(),
            chunks: Vec::new(),
            learned: None,
            completion_ms: None,
            account: None,
        };
        history.plan_wave(wave.clone()).await.expect("plan");
        history
            .record_wave_check(
                WaveRecord {
                    status: WaveStatus::Succeeded,
                    completion_ms: Some(secs * 1000),
                    ..wave
                },
                Vec::new(),
            )
            .await
            .expect("check");
        wave_start += time::Duration::seconds(i64::try_from(*secs).expect("small"));
    }
}

#[tokio::test]
async fn the_forecast_is_p50_and_p90_of_the_last_successful_executions() {
    let history = MemoryHistory::new();
    let t0 = time::macros::datetime!(2026-11-01 10:00:00 UTC);
    let day = time::Duration::days(1);
    // Oldest first: five successes, a failure (not counted) and a success with failures.
    for (k, (w1, w2)) in [(100, 200), (110, 210), (120, 220), (130, 230), (140, 240)]
        .into_iter()
        .enumerate()
    {
        let k = i32::try_from(k).expect("small");
        past(
            &history,
            &format!("ok-{k}"),
            ExecutionStatus::Succeeded,
            t0 + day * k,
            &[w1, w2],
        )
        .await;
    }
    past(
        &history,
        "failed",
        ExecutionStatus::Failed,
        t0 + day * 5,
        &[1, 1],
    )
    .await;
    past(
        &history,
        "partial",
        ExecutionStatus::SucceededWithFailures,
        t0 + day * 6,
        &[150],
    )
    .await;
    let f = forecast(&history, PLAN, 5).await.expect("forecast");
    assert_eq!(f.executions_wanted, 5);
    assert_eq!(
        f.executions,
        vec![
            arn("partial"),
            arn("ok-4"),
            arn("ok-3"),
            arn("ok-2"),
            arn("ok-1")
        ],
        "the newest five successful ones"
    );
    let w1 = &f.waves[0];
    assert_eq!((w1.index, w1.name.as_str()), (1, "w1"));
    // 110, 120, 130, 140, 150: nearest rank p50 = 130, p90 = 150.
    assert_eq!(
        (
            w1.duration.samples,
            w1.duration.p50_seconds,
            w1.duration.p90_seconds
        ),
        (5, 130, 150)
    );
    let w2 = &f.waves[1];
    assert_eq!(
        (
            w2.duration.samples,
            w2.duration.p50_seconds,
            w2.duration.p90_seconds
        ),
        (4, 220, 240)
    );
    // The plan: start + 5 s + w1 + w2, from the four executions that recovered both waves.
    let recovery = f.recovery.expect("recovery");
    assert_eq!(
        (recovery.samples, recovery.p50_seconds, recovery.p90_seconds),
        (4, 5 + 120 + 220, 5 + 140 + 240)
    );
    // A plan without history has an empty forecast.
    let none = forecast(&history, "other", 5).await.expect("forecast");
    assert!(none.waves.is_empty() && none.recovery.is_none());
}

#[tokio::test]
async fn a_report_forecasts_from_the_executions_before_it_only() {
    let history = MemoryHistory::new();
    let t0 = time::macros::datetime!(2026-11-01 10:00:00 UTC);
    let day = time::Duration::days(1);
    past(
        &history,
        "before",
        ExecutionStatus::Succeeded,
        t0,
        &[100, 200],
    )
    .await;
    past(
        &history,
        "this",
        ExecutionStatus::Succeeded,
        t0 + day,
        &[300, 300],
    )
    .await;
    past(
        &history,
        "after",
        ExecutionStatus::Succeeded,
        t0 + day * 2,
        &[900, 900],
    )
    .await;
    let apis = FakeEvidenceApis::default();
    let sources = crate::gather::gather(&history, "t", &apis, &arn("this"), t0 + day * 3)
        .await
        .expect("sources");
    let f = sources.forecast.expect("forecast");
    assert_eq!(f.executions, vec![arn("before")]);
    assert_eq!(f.waves[0].duration.p50_seconds, 100);
}

/// Marks wave `index` of execution `name` healthy `after` seconds past its start.
async fn healthy(history: &MemoryHistory, name: &str, index: u32, after: i64) {
    let wave = history
        .get_wave(&arn(name), index)
        .await
        .expect("read")
        .expect("wave");
    let start = drs_waves_rules::parse_time(&wave.started_at).expect("time");
    let at = drs_waves_rules::format_time(start + time::Duration::seconds(after));
    history
        .record_wave_health(WaveHealthRecord {
            execution_id: arn(name),
            wave_index: index,
            status: HealthStatus::Healthy,
            started_at: wave.started_at.clone(),
            healthy_at: Some(at),
            rounds: 3,
            checks: Vec::new(),
        })
        .await
        .expect("health");
}

#[tokio::test]
async fn the_forecast_learns_the_time_to_healthy_and_the_plan_counts_to_it() {
    let history = MemoryHistory::new();
    let t0 = time::macros::datetime!(2026-11-01 10:00:00 UTC);
    let day = time::Duration::days(1);
    // Wave 1 launches in 100-120 s and is healthy 40-60 s later; wave 2 has no checks.
    for (k, (launch, healthy_after)) in [(100, 140), (110, 160), (120, 180)].into_iter().enumerate()
    {
        let name = format!("ok-{k}");
        let k = i32::try_from(k).expect("small");
        past(
            &history,
            &name,
            ExecutionStatus::Succeeded,
            t0 + day * k,
            &[launch, 50],
        )
        .await;
        healthy(&history, &name, 1, healthy_after).await;
    }
    let f = forecast(&history, PLAN, 5).await.expect("forecast");
    let w1 = &f.waves[0];
    assert_eq!(
        (w1.duration.p50_seconds, w1.duration.p90_seconds),
        (110, 120)
    );
    let h = w1.to_healthy.expect("wave 1 learned its time to healthy");
    assert_eq!((h.samples, h.p50_seconds, h.p90_seconds), (3, 160, 180));
    assert_eq!(f.waves[1].to_healthy, None, "wave 2 has no checks");
    // `past` starts wave 2 when wave 1 launched, so the plan's end is the later of wave 1
    // healthy and wave 2 launched: 5 + max(healthy, launch + 50).
    let recovery = f.recovery.expect("recovery");
    assert_eq!(
        (recovery.p50_seconds, recovery.p90_seconds),
        (5 + 160, 5 + 180)
    );
    let text = crate::render::forecast_text(&f);
    assert!(
        text.contains("wave 1 w1: 1 min 50 s / 2 min (3 runs); healthy after 2 min 40 s / 3 min"),
        "{text}"
    );
}
