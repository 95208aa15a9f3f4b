//! Issue #21: what a failed run says is true. A retryable failure (throttled, transient) says
//! how many tries are left and when the next comes; the last one says it was the last, how
//! often and for how long the task was tried, instead of promising a retry that never comes.

use super::*;
use drs_waves_aws::AwsError;
use drs_waves_contract::task_retry;

/// Preflight's input as the generated machine sends it on retry number `retry_count`.
fn preflight_at(retry_count: u32) -> String {
    let spec = wave(1, "db", &[server_id(1)], &[]);
    let drill = json!({"mode": "DRILL"});
    let mut input = serde_json::to_value(preflight_input(drill, vec![spec])).expect("json");
    input[task_retry::RETRY_COUNT_KEY] = json!(retry_count);
    input.to_string()
}

async fn throttled_preflight(retry_count: u32) -> TaskError {
    let w = World::with_servers(1);
    w.drs.fail_next(
        "describe_source_servers",
        AwsError::Throttled {
            call: "DRS DescribeSourceServers".into(),
            detail: "Rate exceeded".into(),
        },
    );
    w.handlers()
        .handle(
            Activity::Preflight,
            preflight_at(retry_count),
            &crate::token::TaskToken::new("token"),
        )
        .await
        .expect_err("throttled")
}

#[tokio::test(start_paused = true)]
async fn a_retryable_failure_says_how_many_tries_are_left_and_the_last_says_it_is_the_last() {
    let first = throttled_preflight(0).await;
    assert_eq!(first.name(), ErrorName::Throttled, "still retried by name");
    let cause = first.to_string();
    assert!(
        cause.contains("Rate exceeded")
            && cause.contains("attempt 1 of 7: the state machine tries again in 2 s"),
        "{cause}"
    );
    let fourth = throttled_preflight(3).await.to_string();
    assert!(
        fourth.contains("attempt 4 of 7: the state machine tries again in 16 s"),
        "{fourth}"
    );
    let last = throttled_preflight(task_retry::MAX_ATTEMPTS).await;
    assert_eq!(last.name(), ErrorName::Throttled);
    let cause = last.to_string();
    assert!(
        cause.contains("attempt 7 of 7, the last")
            && cause.contains("tried 7 times over more than 126 s")
            && cause.contains("the execution fails"),
        "{cause}"
    );
    assert!(!cause.contains("tries again"), "{cause}");
}

#[tokio::test(start_paused = true)]
async fn a_failure_that_is_not_retried_promises_nothing() {
    let w = World::with_servers(1);
    w.drs.fail_next(
        "describe_source_servers",
        AwsError::AccessDenied {
            call: "DRS DescribeSourceServers".into(),
            detail: "not authorized".into(),
        },
    );
    let err = w
        .handlers()
        .handle(
            Activity::Preflight,
            preflight_at(0),
            &crate::token::TaskToken::new("token"),
        )
        .await
        .expect_err("denied");
    assert!(!err.to_string().contains("attempt"), "{err}");
}
