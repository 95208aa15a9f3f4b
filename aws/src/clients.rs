//! SDK clients from the standard AWS environment (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL_SFN` / `_DRS` / `_DYNAMODB`), with the timeouts the worker needs.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_drs::config::retry::{RetryPartition, TokenBucket};

/// GetActivityTask holds the connection up to 60 s: reads must be allowed longer.
pub const SFN_READ_TIMEOUT: Duration = Duration::from_secs(70);

pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

pub fn sfn_client(config: &SdkConfig) -> aws_sdk_sfn::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(SFN_READ_TIMEOUT)
        .operation_attempt_timeout(SFN_READ_TIMEOUT + Duration::from_secs(5))
        .build();
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(config)
            .timeout_config(timeouts)
            .build(),
    )
}

fn short_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .operation_attempt_timeout(Duration::from_secs(35))
        .build()
}

/// How many times one DRS call is tried before its error reaches the task.
pub const DRS_CALL_ATTEMPTS: u32 = 10;
/// The longest the SDK waits between two tries of one DRS call.
pub const DRS_MAX_BACKOFF: Duration = Duration::from_secs(20);

/// DRS answers "Rate exceeded" when called fast, and a preflight or clean-up of a large estate
/// makes calls per server: with the SDK's default (3 attempts) about one call in twenty-five
/// failed under 30% throttling and 5% errors, which failed the whole task, and the state
/// machine's retry started it over. Ten attempts with jittered backoff up to 20 s make a call
/// give up only after about two minutes, well within a task whose heartbeat the worker keeps
/// sending. Standard mode, not adaptive: adaptive's client-side rate limiter slowed the same
/// 60 calls from seconds to four minutes (the_worker_drs_client_carries_every_call_through_bad_weather).
pub fn drs_retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(DRS_CALL_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(500))
        .with_max_backoff(DRS_MAX_BACKOFF)
}

pub fn drs_client(config: &SdkConfig) -> aws_sdk_drs::Client {
    drs_client_with(config, drs_retry_config())
}

/// The DRS client with `retry` (tests shorten its backoff). Its retries draw on a token bucket
/// of its own without limit: the SDK's default bucket (500 tokens, 5 a retry) is shared by every
/// call of the client and runs dry after about a hundred retries, after which every throttled
/// call fails at its first attempt. Under sustained throttling a preflight of a thousand
/// servers drained it in seconds (the weather benchmark's first run); the attempts and backoff
/// above already bound what one call may cost.
pub fn drs_client_with(config: &SdkConfig, retry: RetryConfig) -> aws_sdk_drs::Client {
    aws_sdk_drs::Client::from_conf(
        aws_sdk_drs::config::Builder::from(config)
            .timeout_config(short_timeouts())
            .retry_config(retry)
            .retry_partition(
                RetryPartition::custom("drs-waves-drs")
                    .token_bucket(TokenBucket::unlimited())
                    .build(),
            )
            .build(),
    )
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(config)
            .timeout_config(short_timeouts())
            .build(),
    )
}
