//! Learned timing: what past executions of a plan teach about a wave's launch, and where the
//! next check goes with it.
//!
//! A sample is one past execution's *completion time* of the wave: the milliseconds from the
//! wave's start (`waveStartedAt`, just before its first StartRecovery) to the moment its last
//! job ended (the jobs' `endDateTime`: a LAUNCH job ends when its last server has launched or
//! failed). That is what the wait needs: the wave is done when its slowest server is, and the
//! job's end time is exact whatever the polling was (a check's own time would only bound it,
//! biased late by up to one wait). A sample counts only from a wave of the same name that
//! launched the same set of servers and SUCCEEDED (`drs_waves_history::WaveRecord::completion_ms`).
//!
//! The wait with [`MIN_SAMPLES`] or more samples (see [`wait_seconds`]): the first check at the
//! samples' p10, then every `minWaitSeconds` until p95, then backing off (each wait as long as
//! the time already spent past p95) towards `maxWaitSeconds`; always within `[minWaitSeconds,
//! maxWaitSeconds]` and never more than one second past the launch timeout. With fewer
//! samples, [`next_wait_seconds`] (the plan's `expectedLaunchSeconds`).

use drs_waves_contract::PollingBounds;
pub use drs_waves_contract::timing::{LearnedTiming, MIN_SAMPLES};

use super::verdict::next_wait_seconds;

/// How many of the plan's most recent executions are looked at for samples.
pub const LEARN_FROM_EXECUTIONS: usize = 10;

/// Nearest-rank percentile `p` (0..=100) of sorted, non-empty `xs`.
fn percentile(sorted: &[u64], p: u64) -> u64 {
    let n = sorted.len() as u64;
    let rank = (n * p).div_ceil(100).clamp(1, n);
    sorted[usize::try_from(rank - 1).unwrap_or(0)]
}

/// The learned figures of a wave from its past completion times (milliseconds); None without
/// any sample.
pub fn learn(completions_ms: &[u64]) -> Option<LearnedTiming> {
    if completions_ms.is_empty() {
        return None;
    }
    let mut sorted = completions_ms.to_vec();
    sorted.sort_unstable();
    Some(LearnedTiming {
        samples: u32::try_from(sorted.len()).unwrap_or(u32::MAX),
        p10_ms: percentile(&sorted, 10),
        p50_ms: percentile(&sorted, 50),
        p95_ms: percentile(&sorted, 95),
        p90_ms: percentile(&sorted, 90),
    })
}

/// Seconds to wait before the next check of a wave launched `elapsed_ms` ago.
///
/// With usable learned figures: until p10, the wait that lands the check at p10 (the earliest
/// a completion has been seen; a check before it would almost surely find the wave still
/// launching); from p10 to p95, `minWaitSeconds` (the wave is likely to end now: the shortest
/// wait keeps the detection latency low); past p95, a back-off: a wait as long as the time
/// already spent past p95 (so the checks fall at p95 + min, + 2 min, + 4 min, ...: a launch that
/// is slower than every one before is slow for a reason, and each check costs the same), up to
/// `maxWaitSeconds`. Waits are whole seconds rounded up (a check never lands before p10) and
/// within `[minWaitSeconds, maxWaitSeconds]`; none goes more than one second past the launch
/// deadline. Without usable figures, [`next_wait_seconds`].
pub fn wait_seconds(
    elapsed_ms: u64,
    polling: &PollingBounds,
    launch_timeout_seconds: u32,
    learned: Option<&LearnedTiming>,
) -> u32 {
    let elapsed_s = elapsed_ms / 1000;
    let Some(learned) = learned.filter(|l| l.usable()) else {
        return next_wait_seconds(elapsed_s, polling, launch_timeout_seconds);
    };
    let min = u64::from(polling.min_wait_seconds.max(1));
    let max = u64::from(polling.max_wait_seconds).max(min);
    let p10 = learned.p10_ms;
    let p95 = learned.p95_ms.max(p10);
    let wait = if elapsed_ms < p10 {
        (p10 - elapsed_ms).div_ceil(1000)
    } else if elapsed_ms < p95 {
        min
    } else {
        (elapsed_ms - p95) / 1000
    };
    let wait = wait.clamp(min, max);
    let to_deadline = u64::from(launch_timeout_seconds).saturating_sub(elapsed_s) + 1;
    u32::try_from(wait.min(to_deadline).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: PollingBounds = PollingBounds {
        min_wait_seconds: 30,
        max_wait_seconds: 300,
        expected_launch_seconds: 900,
    };

    fn learned(samples: u32, p10: u64, p95: u64) -> LearnedTiming {
        LearnedTiming {
            samples,
            p10_ms: p10 * 1000,
            p50_ms: (p10 + p95) * 500,
            p95_ms: p95 * 1000,
            p90_ms: p95 * 1000,
        }
    }

    #[test]
    fn learn_takes_nearest_rank_percentiles() {
        assert_eq!(learn(&[]), None);
        let one = learn(&[700]).expect("one");
        assert_eq!(
            (one.samples, one.p10_ms, one.p50_ms, one.p95_ms),
            (1, 700, 700, 700)
        );
        let ten: Vec<u64> = (1..=10).rev().map(|s| s * 100).collect();
        let l = learn(&ten).expect("ten");
        assert_eq!(l.samples, 10);
        assert_eq!((l.p10_ms, l.p50_ms, l.p95_ms), (100, 500, 1000));
        assert_eq!(l.p90_ms, 900);
        let three = learn(&[30_000, 10_000, 20_000]).expect("three");
        assert_eq!(
            (three.p10_ms, three.p50_ms, three.p95_ms),
            (10_000, 20_000, 30_000)
        );
    }

    #[test]
    fn fewer_than_three_samples_fall_back_to_the_expected_launch_time() {
        for elapsed in [0, 100, 899, 2000] {
            let fallback = next_wait_seconds(elapsed, &BOUNDS, 3600);
            assert_eq!(wait_seconds(elapsed * 1000, &BOUNDS, 3600, None), fallback);
            assert_eq!(
                wait_seconds(elapsed * 1000, &BOUNDS, 3600, Some(&learned(2, 600, 700))),
                fallback
            );
        }
        assert_eq!(next_wait_seconds(0, &BOUNDS, 3600), 300);
        assert_eq!(
            wait_seconds(0, &BOUNDS, 3600, Some(&learned(3, 100, 200))),
            100,
            "three samples are used"
        );
    }

    #[test]
    fn the_first_check_lands_at_p10() {
        let l = learned(5, 250, 400);
        assert_eq!(wait_seconds(0, &BOUNDS, 3600, Some(&l)), 250);
        assert_eq!(
            wait_seconds(1_400, &BOUNDS, 3600, Some(&l)),
            249,
            "rounded up"
        );
        // Far from p10: at most maxWaitSeconds, then the rest.
        let far = learned(5, 700, 800);
        assert_eq!(wait_seconds(0, &BOUNDS, 3600, Some(&far)), 300);
        assert_eq!(wait_seconds(300_000, &BOUNDS, 3600, Some(&far)), 300);
        assert_eq!(wait_seconds(600_000, &BOUNDS, 3600, Some(&far)), 100);
        // Close to p10: never less than minWaitSeconds.
        assert_eq!(wait_seconds(240_000, &BOUNDS, 3600, Some(&l)), 30);
    }

    /// Rounding to the nearest second would land the first check up to half a second before
    /// p10 whenever the engine hands the check over quickly (tens of milliseconds on AWS): with
    /// a repeatable launch that check finds the wave launching and costs another check and
    /// `minWaitSeconds` of latency. docs/benchmarks.md ("Detection latency") has the figures.
    #[test]
    fn the_first_wait_is_rounded_up_even_when_the_nearer_second_is_below() {
        let l = learned(4, 29, 29);
        assert_eq!(
            wait_seconds(900, &BOUNDS_2S, 120, Some(&l)),
            29,
            "28.1 s rounds up"
        );
        assert_eq!(
            wait_seconds(1_900, &BOUNDS_2S, 120, Some(&l)),
            28,
            "27.1 s too"
        );
        assert_eq!(
            wait_seconds(0, &BOUNDS_2S, 120, Some(&l)),
            29,
            "29 s is 29 s"
        );
    }

    const BOUNDS_2S: PollingBounds = PollingBounds {
        min_wait_seconds: 2,
        max_wait_seconds: 60,
        expected_launch_seconds: 25,
    };

    #[test]
    fn between_p10_and_p95_the_shortest_wait() {
        let l = learned(5, 250, 400);
        for elapsed in [250, 300, 399] {
            assert_eq!(wait_seconds(elapsed * 1000, &BOUNDS, 3600, Some(&l)), 30);
        }
    }

    #[test]
    fn past_p95_the_wait_backs_off_to_the_max() {
        let l = learned(5, 250, 400);
        let mut at = 400_000u64;
        let mut waits = Vec::new();
        while at < 2_000_000 {
            let w = wait_seconds(at, &BOUNDS, 3600, Some(&l));
            waits.push(w);
            at += u64::from(w) * 1000;
        }
        assert_eq!(&waits[..6], &[30, 30, 60, 120, 240, 300]);
        assert!(waits[5..].iter().all(|w| *w == 300));
    }

    #[test]
    fn learned_waits_stay_in_bounds_and_before_the_deadline() {
        for l in [
            learned(3, 0, 0),
            learned(4, 5, 50),
            learned(9, 250, 400),
            learned(3, 900, 4000),
        ] {
            for elapsed_s in 0..=600u64 {
                let w = wait_seconds(elapsed_s * 1000 + 500, &BOUNDS, 600, Some(&l));
                assert!(
                    elapsed_s + u64::from(w) <= 601,
                    "elapsed {elapsed_s} wait {w}"
                );
                assert!(w >= 1);
                if elapsed_s + 301 < 600 {
                    assert!((30..=300).contains(&w), "{l:?} at {elapsed_s}: {w}");
                }
            }
        }
    }

    #[test]
    fn fixed_polling_stays_fixed_with_learned_figures() {
        let fixed = PollingBounds {
            min_wait_seconds: 2,
            max_wait_seconds: 2,
            expected_launch_seconds: 25,
        };
        let l = learned(4, 20, 28);
        for elapsed in [0, 10_000, 20_000, 25_000, 40_000] {
            assert_eq!(wait_seconds(elapsed, &fixed, 120, Some(&l)), 2);
        }
    }
}
