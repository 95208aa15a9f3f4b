//! The RTO forecast from a plan's past executions: what learned timing recorded of each wave
//! (`completionMillis`) and when its health checks passed (its HEALTH item), as p50 and p90
//! durations per wave and for the plan (to the last wave recovered, healthy when it has checks).

use std::collections::BTreeMap;

use drs_waves_contract::ExecutionStatus;
use drs_waves_history::{ExecutionRecord, History, HistoryError};
use drs_waves_rules::{learn, parse_time};

use crate::model::{DurationForecast, Forecast, WaveForecast};

/// Whole seconds, to the nearest (a wave recorded at 2.6 s forecasts 3 s, not 2).
fn seconds_of(ms: u64) -> u64 {
    (ms + 500) / 1000
}

fn duration_forecast(samples_ms: &[u64]) -> Option<DurationForecast> {
    learn(samples_ms).map(|l| DurationForecast {
        samples: l.samples,
        p50_seconds: seconds_of(l.p50_ms),
        p90_seconds: seconds_of(l.p90_ms),
    })
}

/// The RTO forecast of `plan` before a recovery: each wave's p50 and p90 duration (its start to
/// its last required server LAUNCHED, the WAVE item's `completionMillis` that learned timing
/// records) and the plan's recovery time, over the plan's last `n` successful executions
/// (SUCCEEDED or SUCCEEDED_WITH_FAILURES). For the operator CLI (`drs-waves forecast`, or
/// before `drs-waves start`) and for the report.
pub async fn forecast<H: History>(
    history: &H,
    plan: &str,
    n: usize,
) -> Result<Forecast, HistoryError> {
    forecast_of(history, plan, n, |_| true).await
}

/// The forecast a report shows: from the executions of its plan that started before it.
pub(super) async fn forecast_before<H: History>(
    history: &H,
    execution: &ExecutionRecord,
    n: usize,
) -> Result<Forecast, HistoryError> {
    let start = parse_time(&execution.started_at);
    forecast_of(history, &execution.plan_name, n, |past| {
        past.execution_id != execution.execution_id
            && match (start, parse_time(&past.started_at)) {
                (Some(s), Some(p)) => p < s,
                _ => false,
            }
    })
    .await
}

/// One wave's samples over the past executions.
#[derive(Default)]
struct WaveSamples {
    name: String,
    /// Milliseconds from the wave's start to its last required server LAUNCHED.
    launched: Vec<u64>,
    /// Milliseconds from the wave's start to its health checks all passed.
    healthy: Vec<u64>,
}

/// Milliseconds from the wave's start to its checks all passed, when it had checks and they
/// passed (the wave's HEALTH item).
async fn healthy_millis<H: History>(
    history: &H,
    execution_id: &str,
    index: u32,
    wave_started_at: &str,
) -> Result<Option<u64>, HistoryError> {
    let health = history.wave_health(execution_id, index).await?;
    let healthy_at = health
        .and_then(|h| h.healthy_at)
        .as_deref()
        .and_then(parse_time);
    Ok(match (parse_time(wave_started_at), healthy_at) {
        (Some(start), Some(healthy)) => u64::try_from((healthy - start).whole_milliseconds()).ok(),
        _ => None,
    })
}

/// How many executions the plan index is asked for, at most, to find `n` successful ones.
const FORECAST_SCAN_FACTOR: usize = 5;

async fn forecast_of<H: History>(
    history: &H,
    plan: &str,
    n: usize,
    keep: impl Fn(&ExecutionRecord) -> bool,
) -> Result<Forecast, HistoryError> {
    let past = history
        .recent_executions(plan, n.saturating_mul(FORECAST_SCAN_FACTOR).max(n + 1))
        .await?;
    let successful: Vec<&ExecutionRecord> = past
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                ExecutionStatus::Succeeded | ExecutionStatus::SucceededWithFailures
            )
        })
        .filter(|e| keep(e))
        .take(n)
        .collect();
    // By wave index: its name (the newest execution's), its launch samples and its
    // time-to-healthy samples (waves with health checks).
    let mut by_wave: BTreeMap<u32, WaveSamples> = BTreeMap::new();
    let mut recoveries = Vec::new();
    for e in &successful {
        let start = parse_time(&e.started_at);
        let mut last_recovered = None;
        let mut every_wave = e.wave_count > 0;
        for i in 1..=e.wave_count {
            let wave = history.get_wave(&e.execution_id, i).await?;
            let Some((wave, ms)) = wave.and_then(|w| w.completion_ms.map(|ms| (w, ms))) else {
                every_wave = false;
                continue;
            };
            let healthy_ms = healthy_millis(history, &e.execution_id, i, &wave.started_at).await?;
            let entry = by_wave.entry(i).or_insert_with(|| WaveSamples {
                name: wave.name.clone(),
                ..WaveSamples::default()
            });
            entry.launched.push(ms);
            entry.healthy.extend(healthy_ms);
            if let (Some(start), Some(wave_start)) = (start, parse_time(&wave.started_at)) {
                // The wave is recovered when it is healthy, if it has checks.
                let done = healthy_ms.unwrap_or(ms).max(ms);
                let recovered = wave_start + time::Duration::milliseconds(done as i64);
                let from_start =
                    u64::try_from((recovered - start).whole_milliseconds()).unwrap_or(0);
                last_recovered =
                    Some(last_recovered.map_or(from_start, |l: u64| l.max(from_start)));
            } else {
                every_wave = false;
            }
        }
        if every_wave && let Some(r) = last_recovered {
            recoveries.push(r);
        }
    }
    Ok(Forecast {
        executions_wanted: u32::try_from(n).unwrap_or(u32::MAX),
        executions: successful.iter().map(|e| e.execution_id.clone()).collect(),
        waves: by_wave
            .into_iter()
            .filter_map(|(index, w)| {
                Some(WaveForecast {
                    index,
                    name: w.name,
                    duration: duration_forecast(&w.launched)?,
                    to_healthy: duration_forecast(&w.healthy),
                })
            })
            .collect(),
        recovery: duration_forecast(&recoveries),
    })
}

#[cfg(test)]
mod tests;
