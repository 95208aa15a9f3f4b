//! Time and size budgets: task timeouts, the machine's own timeout, and the worst-case length
//! of an execution's history. Both the plan validation and the generator read these, so a plan
//! that passes validation always compiles into a machine within Step Functions' limits.

use crate::contract::{Activity, OnFailure, PlanSpec, WaveSpec};
use crate::graph::{self, Block};

/// A task's TimeoutSeconds is never shorter than this many heartbeats, so a slow but live
/// worker is not cut off by the task timeout before the heartbeat timeout could matter.
pub const MIN_HEARTBEATS_PER_TIMEOUT: u32 = 3;

/// Retry policy of every task state (transient errors and lost workers): the contract's, which
/// the worker reads too.
pub use crate::contract::task_retry::{
    BACKOFF_RATE as RETRY_BACKOFF_RATE, INTERVAL_SECONDS as RETRY_INTERVAL_SECONDS,
    MAX_ATTEMPTS as RETRY_MAX_ATTEMPTS,
};

/// Step Functions' limits (docs/REFERENCE.md).
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;
pub const DEFINITION_LIMIT_BYTES: usize = 1_048_576;
/// A standard workflow runs at most a year.
pub const MAX_EXECUTION_SECONDS: u64 = 365 * 24 * 3600;
/// Longest ARN an activity `Resource` can hold once CDK substitutes the placeholders.
pub const MAX_ARN_CHARS: usize = 256;

/// History events of one poll round: Wait (entered, exited), the check task (entered,
/// scheduled, started, succeeded, exited) and the Choice (entered, exited), rounded up to
/// leave room for the odd retried check.
pub const EVENTS_PER_POLL_ROUND: u64 = 10;
/// A wave's events outside its poll loop: the start task and the failure state.
pub const EVENTS_PER_WAVE: u64 = 10;
/// A DescribeAlarms task before a round of health checks: entered, scheduled, started,
/// succeeded, exited.
pub const EVENTS_PER_ALARM_READ: u64 = 5;
/// Events outside the waves: execution start and end, input check, preflight, finish, and the
/// failure path with its record-failure task.
pub const EVENTS_FIXED: u64 = 60;
/// A Parallel state's own events: entered, started, succeeded or failed, exited, rounded up.
pub const EVENTS_PER_PARALLEL: u64 = 6;
/// A branch's own events: its ending Pass, or its failure's Choice and Fail, rounded up.
pub const EVENTS_PER_BRANCH: u64 = 6;

/// The waves laid out as the machine runs them ([`graph::layout`]).
fn layout_of(waves: &[WaveSpec]) -> Block {
    let spec = PlanSpec {
        name: String::new(),
        terminate_drill_instances: false,
        waves: waves.to_vec(),
    };
    graph::layout(&spec).root
}

/// The longest way through the layout when each wave costs `cost`: a series adds up, side by
/// side parts take the longest of them.
pub fn longest_path(block: &Block, cost: &impl Fn(u32) -> u64) -> u64 {
    match block {
        Block::Wave(i) => cost(*i),
        Block::Series(parts) => parts.iter().map(|p| longest_path(p, cost)).sum(),
        Block::Parallel(parts) => parts
            .iter()
            .map(|p| longest_path(p, cost))
            .max()
            .unwrap_or(0),
    }
}

/// The launch timeouts along the longest way through the waves: what an execution timeout
/// must at least allow.
pub fn launch_timeouts_along_longest_path(waves: &[WaveSpec]) -> u64 {
    let timeout = |i: u32| {
        waves
            .iter()
            .find(|w| w.index == i)
            .map_or(0, |w| u64::from(w.launch_timeout_seconds))
    };
    longest_path(&layout_of(waves), &timeout)
}

/// The events of the Parallel states and branches of the layout.
fn parallel_events(block: &Block) -> u64 {
    match block {
        Block::Wave(_) => 0,
        Block::Series(parts) => parts.iter().map(parallel_events).sum(),
        Block::Parallel(parts) => {
            EVENTS_PER_PARALLEL
                + parts
                    .iter()
                    .map(|p| EVENTS_PER_BRANCH + parallel_events(p))
                    .sum::<u64>()
        }
    }
}

/// TimeoutSeconds of a task of the given kind.
pub fn task_timeout_seconds(activity: Activity, heartbeat_seconds: u32) -> u32 {
    // Preflight resolves every wave's servers and finish may start clean-up jobs: both page
    // through DRS. A check is one DescribeJobs round.
    let base = match activity {
        Activity::CheckWave | Activity::CheckNetwork => 300,
        Activity::StartNetwork => 600,
        Activity::Preflight | Activity::StartWave | Activity::Finish | Activity::RecordFailure => {
            600
        }
        // Only the worker's part (recording the gate); the gate itself waits for the wave's
        // own timeout (see [`gate_timeout_seconds`]).
        Activity::AwaitOperator => 60,
        // One round of probes: each probe has its own short deadline (the worker's).
        Activity::CheckHealth => 300,
    };
    base.max(heartbeat_seconds.saturating_mul(MIN_HEARTBEATS_PER_TIMEOUT))
}

/// Sum of the retry intervals when every retry is used.
pub fn retry_backoff_total_seconds() -> u64 {
    (0..RETRY_MAX_ATTEMPTS)
        .map(|k| u64::from(RETRY_INTERVAL_SECONDS) * u64::from(RETRY_BACKOFF_RATE).pow(k))
        .sum()
}

/// Time one task state may reasonably take: one attempt timing out plus the retry backoff.
pub(crate) fn task_slack_seconds(activity: Activity, heartbeat_seconds: u32) -> u64 {
    u64::from(task_timeout_seconds(activity, heartbeat_seconds)) + retry_backoff_total_seconds()
}

/// The machine's TimeoutSeconds when the plan does not set one: every wave using its whole
/// launch timeout (once per launch an operator may ask for), one more wait and check after it,
/// each gate and decision waiting its whole timeout, and slack for every task; along the
/// longest way through the waves (side by side waves overlap).
pub fn derived_execution_timeout_seconds(waves: &[WaveSpec], heartbeat_seconds: u32) -> u64 {
    derived_execution_timeout_with(waves, heartbeat_seconds, &|_| 0)
}

/// [`derived_execution_timeout_seconds`] with `extra(i)` more seconds for wave `i` (its
/// actions), along the longest way.
pub fn derived_execution_timeout_with(
    waves: &[WaveSpec],
    heartbeat_seconds: u32,
    extra: &impl Fn(u32) -> u64,
) -> u64 {
    let slack = |a| task_slack_seconds(a, heartbeat_seconds);
    // A wave's gates, launches and decisions take the same time out as home; the pause and
    // the health checks are the way out's only.
    let gated_launches = |w: &WaveSpec| {
        let launch = u64::from(w.launch_timeout_seconds)
            + u64::from(w.polling.max_wait_seconds)
            + slack(Activity::StartWave)
            + slack(Activity::CheckWave);
        let approval = w
            .approval
            .as_ref()
            .map_or(0, |a| u64::from(a.timeout_seconds));
        let decisions = if w.on_failure == OnFailure::Ask {
            u64::from(w.max_attempts)
                * u64::from(
                    w.decision_timeout_seconds
                        .unwrap_or(DEFAULT_GATE_TIMEOUT_SECONDS),
                )
        } else {
            0
        };
        approval + u64::from(w.max_attempts.max(1)) * launch + decisions
    };
    let per_wave = |i: u32| {
        extra(i)
            + waves.iter().find(|w| w.index == i).map_or(0, |w| {
                u64::from(w.pause_before_seconds.unwrap_or(0))
                    + gated_launches(w)
                    + health_seconds(w)
            })
    };
    let forward = longest_path(&layout_of(waves), &per_wave);
    // A FAILBACK brings the waves home one after another: longer than the plan's own way
    // when waves run side by side. `extra` counts every action of a wave, whichever way it
    // runs: an upper bound both ways.
    let home: u64 = waves
        .iter()
        .map(|w| extra(w.index) + gated_launches(w))
        .sum();
    slack(Activity::Preflight)
        + forward.max(home)
        + slack(Activity::Finish)
        + slack(Activity::RecordFailure)
}

/// How long the wave's decisions (its own, its actions') wait for an operator.
pub fn decision_timeout_seconds(wave: &WaveSpec) -> u32 {
    wave.decision_timeout_seconds
        .unwrap_or(DEFAULT_GATE_TIMEOUT_SECONDS)
}

/// How long a gate or a decision waits for an operator when the plan does not say: 4 hours.
pub const DEFAULT_GATE_TIMEOUT_SECONDS: u32 = 4 * 3600;
/// The longest a plan may make a gate wait: 7 days.
pub const MAX_GATE_TIMEOUT_SECONDS: u32 = 7 * 24 * 3600;
/// The most launches `maxAttempts` may allow.
pub const MAX_ATTEMPTS: u32 = 10;

/// The most checks a wave can run: one every `minWaitSeconds` until the launch timeout, and
/// the one that declares the timeout, for each launch an operator may ask for.
pub fn max_checks(wave: &WaveSpec) -> u64 {
    let min_wait = u64::from(wave.polling.min_wait_seconds.max(1));
    (u64::from(wave.launch_timeout_seconds).div_ceil(min_wait) + 1)
        * u64::from(wave.max_attempts.max(1))
}

/// The longest a wave's health checks can take, once per launch an operator may ask for
/// (a retry after failed checks runs them again): the slowest check's timeout, one more
/// interval and a round's slack. Zero without checks.
pub fn health_seconds(wave: &WaveSpec) -> u64 {
    let Some(slowest) = wave.health.iter().map(|c| c.timeout_seconds).max() else {
        return 0;
    };
    let interval = wave
        .health
        .iter()
        .map(|c| c.interval_seconds)
        .max()
        .unwrap_or(0);
    u64::from(wave.max_attempts.max(1))
        * (u64::from(slowest) + u64::from(interval) + task_slack_seconds(Activity::CheckHealth, 0))
}

/// The most rounds of health checks a wave can run: one every shortest interval until the
/// slowest timeout, and the one that declares it, per launch an operator may ask for.
pub fn max_health_rounds(wave: &WaveSpec) -> u64 {
    let Some(slowest) = wave.health.iter().map(|c| c.timeout_seconds).max() else {
        return 0;
    };
    let shortest = wave
        .health
        .iter()
        .map(|c| c.interval_seconds)
        .min()
        .unwrap_or(1)
        .max(1);
    (u64::from(slowest).div_ceil(u64::from(shortest)) + 1) * u64::from(wave.max_attempts.max(1))
}

/// Worst-case history events of one wave.
pub fn wave_history_events(wave: &WaveSpec) -> u64 {
    // With alarm checks each round first reads the alarms (a task's events).
    let reads_alarms = wave
        .health
        .iter()
        .any(|c| matches!(c.probe, crate::contract::Probe::Alarm { .. }));
    let alarm_reads = if reads_alarms {
        max_health_rounds(wave) * EVENTS_PER_ALARM_READ
    } else {
        0
    };
    // A pause is one Wait state: entered and exited.
    let pause = if wave.pause_before_seconds.is_some() {
        2
    } else {
        0
    };
    EVENTS_PER_WAVE
        + pause
        + (max_checks(wave) + max_health_rounds(wave)) * EVENTS_PER_POLL_ROUND
        + alarm_reads
}

/// Worst-case history events of a whole execution.
pub fn worst_case_history_events(waves: &[WaveSpec]) -> u64 {
    // Branches run at once, but every event of every branch is in the one history.
    EVENTS_FIXED
        + waves.iter().map(wave_history_events).sum::<u64>()
        + parallel_events(&layout_of(waves))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{OnFailure, PollingBounds};

    fn wave(timeout: u32, min: u32, max: u32) -> WaveSpec {
        WaveSpec {
            pause_before_seconds: None,
            index: 1,
            name: "w".into(),
            server_ids: vec![],
            tags: Default::default(),
            optional: vec![],
            launch_timeout_seconds: timeout,
            on_failure: OnFailure::Stop,
            polling: PollingBounds {
                min_wait_seconds: min,
                max_wait_seconds: max,
                expected_launch_seconds: 1,
            },
            approval: None,
            max_attempts: 1,
            decision_timeout_seconds: None,
            decision_notify: None,
            depends_on: None,
            account: None,
            health: Vec::new(),
            lists_recovered: false,
        }
    }

    #[test]
    fn task_timeouts_cover_several_heartbeats() {
        assert_eq!(task_timeout_seconds(Activity::CheckWave, 10), 300);
        assert_eq!(task_timeout_seconds(Activity::Preflight, 10), 600);
        assert_eq!(task_timeout_seconds(Activity::CheckWave, 200), 600);
    }

    #[test]
    fn backoff_total_matches_the_retry_policy() {
        assert_eq!(retry_backoff_total_seconds(), 2 + 4 + 8 + 16 + 32 + 64);
    }

    #[test]
    fn checks_round_up_and_count_the_final_one() {
        assert_eq!(max_checks(&wave(120, 1, 20)), 121);
        assert_eq!(max_checks(&wave(100, 30, 60)), 5);
    }

    #[test]
    fn the_derived_timeout_grows_with_each_wave() {
        let one = derived_execution_timeout_seconds(&[wave(120, 1, 20)], 10);
        let mut second = wave(600, 1, 20);
        second.index = 2;
        let two = derived_execution_timeout_seconds(&[wave(120, 1, 20), second], 10);
        assert!(one > 120);
        assert_eq!(two - one, 600 + 20 + 726 + 426);
    }

    #[test]
    fn side_by_side_waves_overlap_in_time_but_not_in_events() {
        let mut second = wave(600, 1, 20);
        second.index = 2;
        let chain = [wave(120, 1, 20), second.clone()];
        second.depends_on = Some(vec![]);
        let side_by_side = [wave(120, 1, 20), second];
        let (chain_t, side_t) = (
            derived_execution_timeout_seconds(&chain, 10),
            derived_execution_timeout_seconds(&side_by_side, 10),
        );
        // Side by side the shorter wave no longer adds up on the plan's own way, but a
        // FAILBACK brings them home one after another: the machine's timeout covers that.
        assert_eq!(chain_t, side_t, "the way home is a series");
        assert_eq!(launch_timeouts_along_longest_path(&side_by_side), 600);
        assert_eq!(
            worst_case_history_events(&side_by_side) - worst_case_history_events(&chain),
            EVENTS_PER_PARALLEL + 2 * EVENTS_PER_BRANCH
        );
    }
}
