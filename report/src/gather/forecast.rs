//! The RTO forecast from a plan's past executions: what learned timing recorded of each wave
//! (`completionMillis`), as p50 and p90 durations per wave and for the plan.

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
    // By wave index: its name (the newest execution's) and its samples.
    let mut by_wave: BTreeMap<u32, (String, Vec<u64>)> = BTreeMap::new();
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
            let entry = by_wave
                .entry(i)
                .or_insert_with(|| (wave.name.clone(), Vec::new()));
            entry.1.push(ms);
            if let (Some(start), Some(wave_start)) = (start, parse_time(&wave.started_at)) {
                let recovered = wave_start + time::Duration::milliseconds(ms as i64);
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
            .filter_map(|(index, (name, samples))| {
                Some(WaveForecast {
                    index,
                    name,
                    duration: duration_forecast(&samples)?,
                })
            })
            .collect(),
        recovery: duration_forecast(&recoveries),
    })
}
