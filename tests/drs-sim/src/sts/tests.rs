use super::*;

fn config() -> StsConfig {
    StsConfig {
        roles: vec![RoleSpec {
            arn: "arn:aws:iam::111111111111:role/r".into(),
            trusted_principals: vec!["123456789012".into()],
            external_id: Some("x-1".into()),
            max_session_seconds: Some(1800),
        }],
        ..StsConfig::default()
    }
}

fn shared(config: StsConfig) -> Shared {
    Shared(Mutex::new(StsState {
        config,
        sessions: BTreeMap::new(),
        calls: Vec::new(),
        requests: 0,
    }))
}

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00";

#[test]
fn a_configuration_names_the_role_that_is_wrong() {
    let mut bad = config();
    bad.roles[0].arn = "arn:aws:iam::1111:role/r".into();
    let e = bad.validate().expect_err("a bad ARN");
    assert!(
        e.starts_with("roles[0].arn 'arn:aws:iam::1111:role/r'"),
        "{e}"
    );
    assert!(config().validate().is_ok());
    assert_eq!(
        role_account("arn:aws:iam::111111111111:role/r"),
        Some("111111111111")
    );
    assert_eq!(role_account("arn:aws:iam::111111111111:user/r"), None);
}

#[test]
fn assume_role_holds_the_session_to_the_bounds_and_answers_xml() {
    let sts = shared(config());
    let body = |extra: &str| {
        format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fr&RoleSessionName=s1&ExternalId=x-1{extra}"
        )
    };
    let (status, xml) = answer(&sts, Some(AUTH), body("&DurationSeconds=899").as_bytes());
    assert_eq!(status, 400, "{xml}");
    assert!(xml.contains("<Code>ValidationError</Code>"), "{xml}");
    let (status, xml) = answer(&sts, Some(AUTH), body("&DurationSeconds=1801").as_bytes());
    assert_eq!(status, 400, "{xml}");
    assert!(xml.contains("MaxSessionDuration"), "{xml}");
    let (status, xml) = answer(&sts, Some(AUTH), body("").as_bytes());
    assert_eq!(status, 200, "{xml}");
    assert!(xml.starts_with("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"), "{xml}");
    assert!(
        xml.contains("<Arn>arn:aws:sts::111111111111:assumed-role/r/s1</Arn>"),
        "{xml}"
    );
    let calls = sts.lock().calls.clone();
    let issued = calls[2].issued_access_key_id.clone().expect("a key");
    assert_eq!(
        principal::account_of_access_key(&issued).as_deref(),
        Some("111111111111")
    );
    // 1800 s (the role's maximum) from now, not the default 3600.
    let expires = sts.lock().sessions[&issued].expires;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 1790..=now + 1800).contains(&expires),
        "{expires} vs {now}"
    );
}

#[test]
fn an_unsigned_or_unknown_call_is_refused_in_the_query_protocols_words() {
    let sts = shared(config());
    let (status, xml) = answer(&sts, None, b"Action=GetCallerIdentity&Version=2011-06-15");
    assert_eq!(status, 403);
    assert!(
        xml.contains("<Type>Sender</Type><Code>MissingAuthenticationToken</Code>"),
        "{xml}"
    );
    let (status, xml) = answer(&sts, Some(AUTH), b"Action=Nope&Version=2011-06-15");
    assert_eq!(status, 400);
    assert!(xml.contains("<Code>InvalidAction</Code>"), "{xml}");
    let (status, xml) = answer(
        &sts,
        Some(AUTH),
        b"Action=GetCallerIdentity&Version=2011-06-15",
    );
    assert_eq!(status, 200);
    assert!(xml.contains("<Account>123456789012</Account>"), "{xml}");
}
