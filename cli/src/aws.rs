//! The AWS side of the CLI: the default credential chain and region (and the local stack's
//! endpoints when its env file is sourced: `AWS_ENDPOINT_URL_SFN`, `_DYNAMODB`, `_DRS`,
//! `_STS`), checked before the first call so that a missing region or missing credentials is
//! one line saying which and how to set them ([`drs_waves_aws::credentials`]). The clients and
//! their timeouts are the aws crate's ([`OperatorClients`]).

use aws_config::BehaviorVersion;
use drs_waves_aws::clients::OperatorClients;
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
    /// The loaded configuration: other accounts' DRS clients are built from it.
    pub sdk: aws_config::SdkConfig,
}

/// Loads the configuration and checks the region and the credentials.
pub async fn connect(table: &str, prefix: &str) -> Result<Aws, CliError> {
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    drs_waves_aws::credentials::check(&sdk)
        .await
        .map_err(error::setup)?;
    let OperatorClients {
        sfn,
        dynamodb,
        drs,
        sts,
    } = OperatorClients::new(&sdk);
    Ok(Aws {
        history: DynamoHistory::new(dynamodb.clone(), table),
        sfn,
        dynamodb,
        drs,
        sts,
        table: table.to_string(),
        prefix: prefix.to_string(),
        sdk,
    })
}

impl Aws {
    /// DRS in each wave's account and region, through the roles the plan names (STS
    /// AssumeRole with the operator's credentials), endpoints as the worker reads them
    /// (`DRS_WAVES_DRS_ENDPOINTS`).
    pub fn drs_accounts(&self) -> Result<drs_waves_aws::drs::accounts::SdkDrsAccounts, CliError> {
        let endpoints =
            drs_waves_aws::drs::accounts::DrsEndpoints::from_env().map_err(CliError::Usage)?;
        Ok(drs_waves_aws::drs::accounts::SdkDrsAccounts::new(
            self.sdk.clone(),
            drs_waves_aws::drs::SdkDrs::new(self.drs.clone()),
            drs_waves_aws::clients::drs_retry_config(),
        )
        .with_endpoints(endpoints))
    }

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
