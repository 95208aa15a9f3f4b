//! Learned timing as it is recorded: the figures a wave's launch was given from past
//! executions, written in its history item and read by the wait, the forecast and the report
//! (the rules that make them are `drs_waves_rules::timing`).

/// Fewer samples than this and the wait falls back to the plan's `expectedLaunchSeconds`.
pub const MIN_SAMPLES: u32 = 3;

/// What was learned for one wave when it started: recorded in its WAVE item (`learned`), so the
/// wait, the RTO forecast and the report use the same figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnedTiming {
    /// How many past completions of the wave these figures are from.
    pub samples: u32,
    /// Nearest-rank percentiles of the completion time, in milliseconds from the wave's start.
    pub p10_ms: u64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    /// The RTO forecast's pessimistic figure (the report, the operator CLI); the wait does not
    /// use it.
    pub p90_ms: u64,
}

impl LearnedTiming {
    /// Whether the wait uses these figures ([`MIN_SAMPLES`] or more).
    pub fn usable(&self) -> bool {
        self.samples >= MIN_SAMPLES
    }
}
