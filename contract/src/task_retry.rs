//! The Retry of every task state (retryable errors and lost workers): the codegen writes it,
//! and the worker reads it to say, when it fails a task, how many tries are left.

/// The key of every task's input that holds `$$.State.RetryCount`.
pub const RETRY_COUNT_KEY: &str = "retryCount";
/// Seconds before the first retry.
pub const INTERVAL_SECONDS: u32 = 2;
/// Retries after the first attempt.
pub const MAX_ATTEMPTS: u32 = 6;
/// Each wait is this many times the one before.
pub const BACKOFF_RATE: u32 = 2;

/// Seconds the state machine waits before retry number `retry` (1-based).
pub fn wait_before_retry(retry: u32) -> u64 {
    u64::from(INTERVAL_SECONDS) * u64::from(BACKOFF_RATE).pow(retry.saturating_sub(1))
}

/// What a retryable failure of attempt `retry_count + 1` means for the execution, true at
/// every attempt: how many tries are left and when the next comes, or that this was the
/// last and how long the task was tried for.
pub fn outlook(retry_count: u32) -> String {
    let attempt = retry_count + 1;
    let attempts = MAX_ATTEMPTS + 1;
    if retry_count < MAX_ATTEMPTS {
        format!(
            "attempt {attempt} of {attempts}: the state machine tries again in {} s",
            wait_before_retry(attempt)
        )
    } else {
        let waited: u64 = (1..=MAX_ATTEMPTS).map(wait_before_retry).sum();
        format!(
            "attempt {attempt} of {attempts}, the last: the task was tried {attempts} times over more than {waited} s, and the execution fails"
        )
    }
}
