//! The AWS side of the CLI: the default credential chain and region (and the local stack's
//! endpoints when its env file is sourced: `AWS_ENDPOINT_URL_SFN`, `_DYNAMODB`, `_DRS`,
//! `_STS`), checked before the first call so that a missing region or missing credentials is
//! one line saying which and how to set them.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use drs_waves_history::DynamoHistory;

use crate::error::{self, CliError};

/// Every client a command may need, from one configuration.
#[derive(Clone, Debug)]
pub struct Aws {
    pub sfn: aws_sdk_sfn::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// DRS for the follower: no SDK retries (the follower backs off itself, so that it never
    /// adds to the throttling the worker meets).
    pub drs: aws_sdk_drs::Client,
    pub sts: aws_sdk_sts::Client,
    pub history: DynamoHistory,
    pub table: String,
    pub prefix: String,
}

/// How to get credentials, for the one-line error.
pub const CREDENTIALS_HINT: &str = "export AWS_PROFILE=<profile> (after `aws sso login` if it uses SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; on the local stack: set -a; . .local-stack/env; set +a";

/// Loads the configuration and checks the region and the credentials.
pub async fn connect(table: &str, prefix: &str) -> Result<Aws, CliError> {
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    check(&sdk).await?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .operation_attempt_timeout(Duration::from_secs(35))
        .build();
    let sfn = aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(&sdk)
            .timeout_config(timeouts.clone())
            .build(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .timeout_config(timeouts.clone())
            .build(),
    );
    let drs = aws_sdk_drs::Client::from_conf(
        aws_sdk_drs::config::Builder::from(&sdk)
            .timeout_config(timeouts.clone())
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&sdk)
            .timeout_config(timeouts)
            .build(),
    );
    Ok(Aws {
        history: DynamoHistory::new(dynamodb.clone(), table),
        sfn,
        dynamodb,
        drs,
        sts,
        table: table.to_string(),
        prefix: prefix.to_string(),
    })
}

/// The region is set and credentials load.
pub async fn check(sdk: &SdkConfig) -> Result<(), CliError> {
    if sdk.region().is_none() {
        return Err(CliError::NoRegion);
    }
    let Some(provider) = sdk.credentials_provider() else {
        return Err(CliError::NoCredentials(format!(
            "none configured; {CREDENTIALS_HINT}"
        )));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| credentials_error(&e))
}

/// One line for a credential chain that found nothing or failed.
pub fn credentials_error(e: &CredentialsError) -> CliError {
    let detail = match e {
        CredentialsError::CredentialsNotLoaded(_) => {
            "none found in the environment, the AWS profile files, SSO or an instance or container role".to_string()
        }
        CredentialsError::ProviderTimedOut(_) => {
            "the credential provider did not answer in time".to_string()
        }
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            format!("the credential provider failed ({})", error::one_line(&text))
        }
    };
    CliError::NoCredentials(format!("{detail}; {CREDENTIALS_HINT}"))
}

impl Aws {
    /// The caller's ARN (sts:GetCallerIdentity): who every operator action is recorded as.
    pub async fn caller_arn(&self) -> Result<String, CliError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| error::sdk("sts:GetCallerIdentity", &e))?;
        out.arn()
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .ok_or_else(|| CliError::Aws("sts:GetCallerIdentity answered without an ARN".into()))
    }
}
