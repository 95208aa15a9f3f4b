//! A simulator per account and region, and the STS stand-in, through the unmodified SDKs: keys
//! the stand-in issues for a role are served by that role's account's simulator only, in its
//! region only; a role that does not trust the caller, or an external ID that does not match,
//! is refused as STS refuses it; an expired session is refused by the simulator.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_drs::config::Region;
use aws_sdk_drs::error::ProvideErrorMetadata;
use drs_sim::sts::{RoleSpec, StsConfig, StsHandle};
use drs_sim::{Owner, ServerSpec, SimConfig, SimHandle, Simulator};

const ROLE_A: &str = "arn:aws:iam::111111111111:role/drs-waves-recovery";
const ROLE_B: &str = "arn:aws:iam::222222222222:role/drs-waves-recovery";

async fn sts(min_session_seconds: u32) -> StsHandle {
    let role = |arn: &str, external_id: Option<&str>| RoleSpec {
        arn: arn.into(),
        trusted_principals: vec!["123456789012".into()],
        external_id: external_id.map(str::to_owned),
        max_session_seconds: None,
    };
    StsHandle::start(
        "127.0.0.1:0".parse().expect("an address"),
        StsConfig {
            roles: vec![
                role(ROLE_A, Some("drill-a")),
                role(ROLE_B, None),
                RoleSpec {
                    trusted_principals: vec!["999999999999".into()],
                    ..role("arn:aws:iam::333333333333:role/untrusting", None)
                },
            ],
            min_session_seconds,
            ..StsConfig::default()
        },
    )
    .await
    .expect("the STS stand-in starts")
}

async fn sim(account: &str, region: &str) -> SimHandle {
    let mut config = SimConfig::with_servers(vec![ServerSpec::new("s-00000000000000001", 0.3)]);
    config.owner = Some(Owner {
        account_id: account.into(),
        region: region.into(),
    });
    Simulator::start(config).await.expect("a simulator starts")
}

/// The worker's own credentials (the local stack's `test`, account 123456789012).
async fn base_config(sts: &StsHandle) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(sts.endpoint())
        .load()
        .await
}

async fn role_provider(
    base: &aws_config::SdkConfig,
    role: &str,
    external_id: Option<&str>,
    seconds: u64,
) -> AssumeRoleProvider {
    let mut builder = AssumeRoleProvider::builder(role)
        .session_name("drs-waves-test")
        .session_length(Duration::from_secs(seconds))
        .configure(base);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    builder.build().await
}

fn drs(sim: &SimHandle, region: &str, credentials: Credentials) -> aws_sdk_drs::Client {
    aws_sdk_drs::Client::from_conf(
        aws_sdk_drs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(credentials)
            .endpoint_url(sim.endpoint())
            .retry_config(aws_sdk_drs::config::retry::RetryConfig::disabled())
            .build(),
    )
}

async fn list(client: &aws_sdk_drs::Client) -> Result<usize, String> {
    client
        .describe_source_servers()
        .send()
        .await
        .map(|o| o.items().len())
        .map_err(|e| e.code().unwrap_or("no code").to_owned())
}

#[tokio::test]
async fn a_sim_serves_only_the_keys_of_its_account_signed_for_its_region() {
    let sts = sts(900).await;
    let base = base_config(&sts).await;
    let a = sim("111111111111", "eu-west-1").await;
    let creds_a = role_provider(&base, ROLE_A, Some("drill-a"), 900)
        .await
        .provide_credentials()
        .await
        .expect("role A is assumed");
    let creds_b = role_provider(&base, ROLE_B, None, 900)
        .await
        .provide_credentials()
        .await
        .expect("role B is assumed");
    assert!(creds_a.access_key_id().starts_with("ASIA"));
    assert_eq!(list(&drs(&a, "eu-west-1", creds_a.clone())).await, Ok(1));
    assert_eq!(
        list(&drs(&a, "eu-west-1", creds_b.clone())).await,
        Err("UnrecognizedClientException".into()),
        "a key of account B"
    );
    assert_eq!(
        list(&drs(&a, "us-west-2", creds_a.clone())).await,
        Err("InvalidSignatureException".into()),
        "signed for another region"
    );
    let base_creds = Credentials::new("test", "test", None, None, "static");
    assert_eq!(
        list(&drs(&a, "eu-west-1", base_creds)).await,
        Err("UnrecognizedClientException".into()),
        "the worker's own key"
    );
    let callers = a.callers();
    let of_a = &callers[creds_a.access_key_id()];
    assert_eq!(of_a.account_id.as_deref(), Some("111111111111"));
    assert_eq!(of_a.operations["DescribeSourceServers"], 2);
    assert_eq!(of_a.refused["InvalidSignatureException"], 1);
    assert_eq!(
        callers[creds_b.access_key_id()].refused["UnrecognizedClientException"],
        1
    );
    // Who assumed what, from the stand-in's own log.
    let calls = sts.calls();
    assert_eq!(
        calls
            .iter()
            .filter_map(|c| c.issued_access_key_id.as_deref())
            .collect::<Vec<_>>(),
        [creds_a.access_key_id(), creds_b.access_key_id()]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.caller == "arn:aws:iam::123456789012:user/test")
    );
}

#[tokio::test]
async fn a_role_is_refused_as_sts_refuses_it() {
    let sts = sts(900).await;
    let base = base_config(&sts).await;
    let refusal = |r: Result<
        Credentials,
        aws_credential_types::provider::error::CredentialsError,
    >|
     -> String {
        let e = r.expect_err("refused");
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    };
    for (role, external_id) in [
        (ROLE_A, None),
        (ROLE_A, Some("wrong")),
        ("arn:aws:iam::333333333333:role/untrusting", None),
        ("arn:aws:iam::444444444444:role/missing", None),
    ] {
        let text = refusal(
            role_provider(&base, role, external_id, 900)
                .await
                .provide_credentials()
                .await,
        );
        assert!(
            text.contains("AccessDenied"),
            "{role} {external_id:?}: {text}"
        );
        assert!(
            text.contains(&format!(
                "User: arn:aws:iam::123456789012:user/test is not authorized to perform: sts:AssumeRole on resource: {role}"
            )),
            "{text}"
        );
    }
    let short = refusal(
        role_provider(&base, ROLE_B, None, 60)
            .await
            .provide_credentials()
            .await,
    );
    assert!(
        short.contains("ValidationError") && short.contains("900"),
        "{short}"
    );
    let sts_client = aws_sdk_sts::Client::new(&base);
    let me = sts_client
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(me.account(), Some("123456789012"));
}

/// With the test knob a session may last seconds: the simulator refuses it once expired, and
/// the SDK's identity cache assumes the role again before then.
#[tokio::test]
async fn an_expired_session_is_refused_and_a_cached_provider_refreshes_it() {
    let sts = sts(2).await;
    let base = base_config(&sts).await;
    let b = sim("222222222222", "us-west-2").await;
    let provider = role_provider(&base, ROLE_B, None, 2).await;
    let first = provider.provide_credentials().await.expect("assumed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match list(&drs(&b, "us-west-2", first.clone())).await {
            Ok(_) => assert!(tokio::time::Instant::now() < deadline, "never expired"),
            Err(code) => {
                assert_eq!(code, "ExpiredTokenException");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A client whose identity cache wraps the provider keeps working across expiries.
    let client = aws_sdk_drs::Client::from_conf(
        aws_sdk_drs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .credentials_provider(provider)
            .endpoint_url(b.endpoint())
            .build(),
    );
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < until {
        assert_eq!(list(&client).await, Ok(1));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let issued = sts
        .calls()
        .iter()
        .filter(|c| c.issued_access_key_id.is_some())
        .count();
    assert!(
        issued >= 3,
        "the role was assumed again as sessions expired: {issued}"
    );
}
