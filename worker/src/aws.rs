//! SDK clients from the standard AWS environment (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL_SFN` / `_DRS` / `_DYNAMODB`), with the timeouts the worker needs.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;

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

pub fn drs_client(config: &SdkConfig) -> aws_sdk_drs::Client {
    aws_sdk_drs::Client::from_conf(
        aws_sdk_drs::config::Builder::from(config)
            .timeout_config(short_timeouts())
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
