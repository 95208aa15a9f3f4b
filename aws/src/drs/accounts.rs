//! A DRS per wave account: [`DrsAccounts`] hands out the [`Drs`] of a wave's account and
//! region (the worker's own when the wave names none), and [`SdkDrsAccounts`] builds them with
//! aws-sdk-drs over the credentials of the wave's role (STS AssumeRole, with the external ID
//! when given), one client per distinct account, built on first use and shared.
//!
//! Credentials of a role are cached and refreshed before they expire by the client's identity
//! cache (the SDK's lazy cache over `aws_config::sts::AssumeRoleProvider`, which itself does
//! not cache: it calls AssumeRole each time it is asked). STS is reached as the SDK reaches it,
//! so `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` point it at a local STS.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_drs::config::Region;
use drs_waves_contract::WaveAccount;
use tokio::sync::Mutex;

use super::{Drs, SdkDrs};
use crate::AwsError;
use crate::failure::{classify, failure_of};

/// The DRS of each wave's account and region.
pub trait DrsAccounts: Send + Sync + 'static {
    type Drs: Drs + Clone;

    /// The DRS of `account`; None (or an account naming neither role nor region): the worker's
    /// own account and region.
    fn drs_for(&self, account: Option<&WaveAccount>) -> impl Future<Output = Self::Drs> + Send;

    /// Assumes the account's role now (a fresh AssumeRole, not the cached credentials), so that
    /// a role the worker cannot assume is named before anything launches. Ok when the account
    /// names no role.
    fn check_role(
        &self,
        account: &WaveAccount,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Whether `account` is the worker's own account and region.
pub fn is_own(account: Option<&WaveAccount>) -> bool {
    account.is_none_or(|a| a.role_arn.is_none() && a.region.is_none())
}

/// Where each account's DRS is, when not where the SDK would find it: the local stack's
/// drs-sims, one per account and region. Read from [`DRS_ENDPOINTS_ENV`]:
/// `111111111111/eu-west-1=http://127.0.0.1:4001,us-west-2=http://127.0.0.1:4002` (an entry
/// keyed by the region alone serves every account in it; the account's own entry wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrsEndpoints(BTreeMap<String, String>);

/// The environment variable [`DrsEndpoints`] are read from. Never set on AWS.
pub const DRS_ENDPOINTS_ENV: &str = "DRS_WAVES_DRS_ENDPOINTS";

impl DrsEndpoints {
    pub fn parse(text: &str) -> Result<DrsEndpoints, String> {
        let mut map = BTreeMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, url) = entry.split_once('=').ok_or_else(|| {
                format!("{DRS_ENDPOINTS_ENV}: '{entry}' is not <account>/<region>=<url> or <region>=<url>")
            })?;
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(format!(
                    "{DRS_ENDPOINTS_ENV}: '{url}' (for {key}) is not an http(s) URL"
                ));
            }
            map.insert(key.trim().to_string(), url.trim().to_string());
        }
        Ok(DrsEndpoints(map))
    }

    pub fn from_env() -> Result<DrsEndpoints, String> {
        match std::env::var(DRS_ENDPOINTS_ENV) {
            Ok(text) => Self::parse(&text),
            Err(_) => Ok(DrsEndpoints::default()),
        }
    }

    /// The endpoint of `account` in `region`, if one is set.
    pub fn of(&self, account: Option<&str>, region: &str) -> Option<&str> {
        account
            .and_then(|a| self.0.get(&format!("{a}/{region}")))
            .or_else(|| self.0.get(region))
            .map(String::as_str)
    }
}

/// How the worker assumes a wave's role.
#[derive(Debug, Clone)]
pub struct AssumeRoleSettings {
    /// The session name CloudTrail shows in the other account.
    pub session_name: String,
    /// DurationSeconds asked for; None: STS's default (one hour).
    pub session_length: Option<Duration>,
}

impl Default for AssumeRoleSettings {
    fn default() -> Self {
        AssumeRoleSettings {
            session_name: "drs-waves-worker".to_string(),
            session_length: None,
        }
    }
}

/// One account's client and the provider of its role's credentials.
#[derive(Clone)]
struct AccountClient {
    drs: SdkDrs,
    role: Option<SharedCredentialsProvider>,
}

/// [`DrsAccounts`] over aws-sdk-drs: the worker's own client, and one per wave account.
pub struct SdkDrsAccounts {
    base: SdkConfig,
    own: SdkDrs,
    retry: RetryConfig,
    settings: AssumeRoleSettings,
    endpoints: DrsEndpoints,
    clients: Mutex<HashMap<WaveAccount, AccountClient>>,
}

impl SdkDrsAccounts {
    /// `own` is the worker's DRS; the other accounts' clients are built from `base` (the
    /// worker's configuration: its credentials assume the roles) with `retry`.
    pub fn new(base: SdkConfig, own: SdkDrs, retry: RetryConfig) -> Self {
        SdkDrsAccounts {
            base,
            own,
            retry,
            settings: AssumeRoleSettings::default(),
            endpoints: DrsEndpoints::default(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_settings(mut self, settings: AssumeRoleSettings) -> Self {
        self.settings = settings;
        self
    }

    pub fn with_endpoints(mut self, endpoints: DrsEndpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    async fn client(&self, account: &WaveAccount) -> AccountClient {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(account) {
            return c.clone();
        }
        let client = self.build(account).await;
        clients.insert(account.clone(), client.clone());
        client
    }

    async fn build(&self, account: &WaveAccount) -> AccountClient {
        let role = match &account.role_arn {
            Some(arn) => {
                let mut builder = AssumeRoleProvider::builder(arn.clone())
                    .session_name(self.settings.session_name.clone())
                    .configure(&self.base);
                if let Some(id) = &account.external_id {
                    builder = builder.external_id(id.clone());
                }
                if let Some(length) = self.settings.session_length {
                    builder = builder.session_length(length);
                }
                Some(SharedCredentialsProvider::new(builder.build().await))
            }
            None => None,
        };
        let mut config = self.base.to_builder();
        if let Some(region) = &account.region {
            config.set_region(Some(Region::new(region.clone())));
        }
        if let Some(provider) = &role {
            config.set_credentials_provider(Some(provider.clone()));
        }
        let config = config.build();
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        let endpoint = self.endpoints.of(account.account_id(), &region);
        let client = crate::clients::drs_client_at(&config, self.retry.clone(), endpoint);
        AccountClient {
            drs: SdkDrs::new(client),
            role,
        }
    }
}

impl DrsAccounts for SdkDrsAccounts {
    type Drs = SdkDrs;

    async fn drs_for(&self, account: Option<&WaveAccount>) -> SdkDrs {
        match account {
            Some(a) if !is_own(Some(a)) => self.client(a).await.drs,
            _ => self.own.clone(),
        }
    }

    async fn check_role(&self, account: &WaveAccount) -> Result<(), AwsError> {
        let Some(provider) = self.client(account).await.role else {
            return Ok(());
        };
        provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| assume_role_error(&e))
    }
}

/// A failed AssumeRole, classified as any AWS call is (AccessDenied is access denied, a
/// throttle is a throttle), from the STS error the credentials error carries.
pub fn assume_role_error(e: &CredentialsError) -> AwsError {
    type StsError = aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_sdk_sts::config::http::HttpResponse,
    >;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sdk) = s.downcast_ref::<StsError>() {
            return classify("STS AssumeRole", &failure_of(sdk));
        }
        source = s.source();
    }
    AwsError::Failed(format!(
        "STS AssumeRole: {}",
        aws_sdk_sts::error::DisplayErrorContext(e)
    ))
}

/// Clones share the cache.
impl<T: DrsAccounts> DrsAccounts for Arc<T> {
    type Drs = T::Drs;

    fn drs_for(&self, account: Option<&WaveAccount>) -> impl Future<Output = Self::Drs> + Send {
        self.as_ref().drs_for(account)
    }

    fn check_role(
        &self,
        account: &WaveAccount,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        self.as_ref().check_role(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_s_endpoint_wins_over_its_region_s() {
        let e = DrsEndpoints::parse(
            "111111111111/eu-west-1=http://127.0.0.1:1, eu-west-1=http://127.0.0.1:2",
        )
        .expect("endpoints");
        assert_eq!(
            e.of(Some("111111111111"), "eu-west-1"),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            e.of(Some("222222222222"), "eu-west-1"),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(e.of(None, "eu-west-1"), Some("http://127.0.0.1:2"));
        assert_eq!(e.of(None, "us-west-2"), None);
        let bad = DrsEndpoints::parse("eu-west-1:http://x").expect_err("no '='");
        assert!(bad.contains("'eu-west-1:http://x'"), "{bad}");
        let bad = DrsEndpoints::parse("eu-west-1=ftp://x").expect_err("not http");
        assert!(bad.contains("'ftp://x' (for eu-west-1)"), "{bad}");
    }

    #[test]
    fn only_an_account_with_a_role_or_a_region_is_another_account() {
        assert!(is_own(None));
        let none = WaveAccount {
            role_arn: None,
            region: None,
            external_id: None,
        };
        assert!(is_own(Some(&none)));
        let region = WaveAccount {
            region: Some("eu-west-1".into()),
            ..none
        };
        assert!(!is_own(Some(&region)));
    }
}
