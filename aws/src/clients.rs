//! SDK clients from the standard AWS environment (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL_SFN` / `_DRS` / `_DYNAMODB` / `_STS`), each built from one table of
//! timeouts and retry settings per use ([`WORKER_SFN`], [`WORKER_DRS`], [`SHORT_CALLS`],
//! [`FOLLOWER_DRS`]), for the worker and the CLI alike.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_drs::config::retry::{RetryPartition, TokenBucket};

/// GetActivityTask holds the connection up to 60 s: reads must be allowed longer.
pub const SFN_READ_TIMEOUT: Duration = Duration::from_secs(70);

/// How many times one DRS call is tried before its error reaches the task.
pub const DRS_CALL_ATTEMPTS: u32 = 10;
/// The longest the SDK waits between two tries of one DRS call.
pub const DRS_MAX_BACKOFF: Duration = Duration::from_secs(20);

/// How long a client waits, and how it retries: one row of the table below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    pub connect: Duration,
    pub read: Duration,
    /// One attempt of a call, the answer read whole.
    pub attempt: Duration,
    pub retries: Retries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// The SDK's standard mode from the environment (3 attempts unless configured).
    SdkDefault,
    /// [`drs_retry_config`] on a token bucket of the client's own (see [`drs_client_with`]).
    Drs,
    /// Each call sent once: the caller backs off itself.
    Disabled,
}

/// The worker's Step Functions: GetActivityTask long-polls, so reads wait past its 60 s.
pub const WORKER_SFN: ClientSettings = ClientSettings {
    connect: Duration::from_secs(5),
    read: SFN_READ_TIMEOUT,
    attempt: Duration::from_secs(75),
    retries: Retries::SdkDefault,
};

/// The worker's DRS: short calls carried through throttling by many retries.
pub const WORKER_DRS: ClientSettings = ClientSettings {
    retries: Retries::Drs,
    ..SHORT_CALLS
};

/// Short calls with the SDK's retries: the worker's DynamoDB, the CLI's Step Functions,
/// DynamoDB and STS.
pub const SHORT_CALLS: ClientSettings = ClientSettings {
    connect: Duration::from_secs(5),
    read: Duration::from_secs(30),
    attempt: Duration::from_secs(35),
    retries: Retries::SdkDefault,
};

/// The CLI's DRS, read by `follow`: no SDK retries (the follower backs off itself, so that it
/// never adds to the throttling the worker meets).
pub const FOLLOWER_DRS: ClientSettings = ClientSettings {
    retries: Retries::Disabled,
    ..SHORT_CALLS
};

impl ClientSettings {
    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.read)
            .operation_attempt_timeout(self.attempt)
            .build()
    }
}

pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// The worker's Step Functions client ([`WORKER_SFN`]).
pub fn sfn_client(config: &SdkConfig) -> aws_sdk_sfn::Client {
    sfn_client_for(config, &WORKER_SFN)
}

pub fn sfn_client_for(config: &SdkConfig, settings: &ClientSettings) -> aws_sdk_sfn::Client {
    let mut builder =
        aws_sdk_sfn::config::Builder::from(config).timeout_config(settings.timeouts());
    if settings.retries == Retries::Disabled {
        builder = builder.retry_config(RetryConfig::disabled());
    }
    aws_sdk_sfn::Client::from_conf(builder.build())
}

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

/// The worker's DRS client ([`WORKER_DRS`]).
pub fn drs_client(config: &SdkConfig) -> aws_sdk_drs::Client {
    drs_client_for(config, &WORKER_DRS)
}

pub fn drs_client_for(config: &SdkConfig, settings: &ClientSettings) -> aws_sdk_drs::Client {
    match settings.retries {
        Retries::Drs => drs_client_with(config, drs_retry_config()),
        Retries::SdkDefault => aws_sdk_drs::Client::from_conf(
            aws_sdk_drs::config::Builder::from(config)
                .timeout_config(settings.timeouts())
                .build(),
        ),
        Retries::Disabled => aws_sdk_drs::Client::from_conf(
            aws_sdk_drs::config::Builder::from(config)
                .timeout_config(settings.timeouts())
                .retry_config(RetryConfig::disabled())
                .build(),
        ),
    }
}

/// The DRS client with `retry` (tests shorten its backoff). Its retries draw on a token bucket
/// of its own without limit: the SDK's default bucket (500 tokens, 5 a retry) is shared by every
/// call of the client and runs dry after about a hundred retries, after which every throttled
/// call fails at its first attempt. Under sustained throttling a preflight of a thousand
/// servers drained it in seconds (the weather benchmark's first run); the attempts and backoff
/// above already bound what one call may cost.
pub fn drs_client_with(config: &SdkConfig, retry: RetryConfig) -> aws_sdk_drs::Client {
    drs_client_at(config, retry, None)
}

/// [`drs_client_with`] at `endpoint` when one is given (a wave account's drs-sim on the local
/// stack), over the endpoint the environment or the region gives otherwise.
pub fn drs_client_at(
    config: &SdkConfig,
    retry: RetryConfig,
    endpoint: Option<&str>,
) -> aws_sdk_drs::Client {
    let mut builder = aws_sdk_drs::config::Builder::from(config)
        .timeout_config(WORKER_DRS.timeouts())
        .retry_config(retry)
        .retry_partition(
            RetryPartition::custom("drs-waves-drs")
                .token_bucket(TokenBucket::unlimited())
                .build(),
        );
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_drs::Client::from_conf(builder.build())
}

/// The worker's DynamoDB client ([`SHORT_CALLS`]).
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(config)
            .timeout_config(SHORT_CALLS.timeouts())
            .build(),
    )
}

pub fn sts_client(config: &SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .timeout_config(SHORT_CALLS.timeouts())
            .build(),
    )
}

/// Every client an operator's command may need: short calls, and DRS for the follower.
#[derive(Clone, Debug)]
pub struct OperatorClients {
    pub sfn: aws_sdk_sfn::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// [`FOLLOWER_DRS`]: no SDK retries.
    pub drs: aws_sdk_drs::Client,
    pub sts: aws_sdk_sts::Client,
}

impl OperatorClients {
    pub fn new(config: &SdkConfig) -> Self {
        OperatorClients {
            sfn: sfn_client_for(config, &SHORT_CALLS),
            dynamodb: dynamodb_client(config),
            drs: drs_client_for(config, &FOLLOWER_DRS),
            sts: sts_client(config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_sfn_client_waits_past_the_long_poll() {
        assert!(WORKER_SFN.read > Duration::from_secs(60));
        assert_eq!(
            WORKER_SFN.attempt,
            SFN_READ_TIMEOUT + Duration::from_secs(5)
        );
        assert!(WORKER_DRS.attempt < WORKER_SFN.read);
    }
}
