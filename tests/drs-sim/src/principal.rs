//! Who signed a request, and whether this simulator serves them: the access key's account
//! (encoded in the key ID, as AWS does), the region its SigV4 signature is scoped to, and
//! whether an STS session token from `drs-sim-sts` has expired.
//!
//! A simulator started with an account ([`Owner`]) stands for DRS in that one account and
//! region. AWS itself has one regional endpoint for every account and runs a call in the
//! caller's own account; a simulator per account cannot do that, so a key of another account
//! is a key this "AWS" never issued, and it answers what AWS answers for such a key: 403
//! `UnrecognizedClientException` ("The security token included in the request is invalid").
//! `AccessDeniedException` would instead say that a known principal lacks a permission, which
//! is not the case. A signature scoped to another region gets 403
//! `InvalidSignatureException` ("Credential should be scoped to a valid region"), AWS's answer.
//! Signatures themselves are not verified (nor by LocalStack or moto): only the key ID, the
//! scope and the session token are read.
//!
//! Access key IDs encode their account as AWS's do (what `sts:GetAccessKeyInfo` decodes): after
//! the four-letter prefix (`ASIA` for temporary keys, `AKIA` for long-term ones) come 16 base32
//! characters, 80 bits; bits 46..7 of the first six bytes (big-endian) are the account ID, the
//! rest is random. A key that does not decode this way (the local stack's `test`) belongs to
//! no account: a simulator with an owner refuses it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::wire::ApiError;

/// The account and region a simulator serves (none: it serves every caller, as before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Owner {
    pub account_id: String,
    pub region: String,
}

/// What a request's signature says about its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    pub session_token: Option<String>,
}

/// RFC 4648 base32, the alphabet of access key IDs.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The largest account ID (12 digits) fits the 40 bits a key ID holds.
const ACCOUNT_BITS_MASK: u64 = 0x7fff_ffff_ff80;

/// An access key ID of `account_id` with `prefix` (`ASIA`, `AKIA`); `noise` fills the bits
/// that are not the account. None when the account is not 12 digits.
pub fn encode_access_key(prefix: &str, account_id: &str, noise: u64) -> Option<String> {
    let account = parse_account(account_id)?;
    let head = ((account << 7) & ACCOUNT_BITS_MASK) | (noise & 0x7f);
    let mut bytes = [0u8; 10];
    bytes[..6].copy_from_slice(&head.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&((noise >> 7) as u32).to_be_bytes());
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let body: String = (0..16)
        .rev()
        .map(|i| char::from(BASE32[((bits >> (i * 5)) & 0x1f) as usize]))
        .collect();
    Some(format!("{prefix}{body}"))
}

/// The account an access key ID encodes (see the module's comment), if it is one.
pub fn account_of_access_key(access_key_id: &str) -> Option<String> {
    if access_key_id.len() != 20 || !access_key_id.is_ascii() {
        return None;
    }
    let (prefix, body) = access_key_id.split_at(4);
    if !matches!(prefix, "ASIA" | "AKIA") {
        return None;
    }
    let mut bits: u128 = 0;
    for c in body.bytes() {
        let v = BASE32.iter().position(|b| *b == c)?;
        bits = (bits << 5) | v as u128;
    }
    let head = u64::try_from(bits >> 32).ok()?;
    let account = (head & ACCOUNT_BITS_MASK) >> 7;
    (account <= 999_999_999_999).then(|| format!("{account:012}"))
}

fn parse_account(account_id: &str) -> Option<u64> {
    (account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| account_id.parse().ok())
        .flatten()
}

/// The signer of a request from its `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`) and its
/// `x-amz-security-token`.
pub fn signer_of(authorization: Option<&str>, session_token: Option<&str>) -> Option<Signer> {
    let auth = authorization?
        .strip_prefix("AWS4-HMAC-SHA256")?
        .trim_start();
    let credential = auth
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Credential="))?;
    let mut scope = credential.split('/');
    let access_key_id = scope.next().filter(|k| !k.is_empty())?.to_owned();
    let _date = scope.next()?;
    let region = scope.next().filter(|r| !r.is_empty())?.to_owned();
    Some(Signer {
        access_key_id,
        region,
        session_token: session_token.map(str::to_owned),
    })
}

/// Session tokens `drs-sim-sts` issues: `drs-sim-sts/<expiry, Unix seconds>/<random>`, so
/// that a simulator can refuse an expired one as AWS does (and a test can see credentials
/// refreshed in time).
pub const SESSION_TOKEN_PREFIX: &str = "drs-sim-sts/";

/// The expiry a `drs-sim-sts` session token carries.
pub fn session_token_expiry(token: &str) -> Option<i64> {
    token
        .strip_prefix(SESSION_TOKEN_PREFIX)?
        .split('/')
        .next()?
        .parse()
        .ok()
}

impl Owner {
    /// A 12-digit account and a region that looks like one (`eu-west-1`).
    pub fn validate(&self) -> Result<(), String> {
        if parse_account(&self.account_id).is_none() {
            return Err(format!(
                "accountId '{}' is not a 12-digit account ID",
                self.account_id
            ));
        }
        let region_ok = self.region.split('-').count() >= 3
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(format!("region '{}' is not a region name", self.region));
        }
        Ok(())
    }

    /// Whether this simulator serves `signer` at `now` (Unix seconds); the error is AWS's.
    pub fn admit(&self, signer: Option<&Signer>, now: i64) -> Result<(), ApiError> {
        let Some(signer) = signer else {
            return Err(ApiError::forbidden(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        };
        if account_of_access_key(&signer.access_key_id).as_deref() != Some(&self.account_id) {
            return Err(ApiError::forbidden(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ));
        }
        if signer.region != self.region {
            return Err(ApiError::forbidden(
                "InvalidSignatureException",
                format!(
                    "Credential should be scoped to a valid region, not '{}'. ",
                    signer.region
                ),
            ));
        }
        let expiry = signer
            .session_token
            .as_deref()
            .and_then(session_token_expiry);
        if expiry.is_some_and(|e| e <= now) {
            return Err(ApiError::forbidden(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ));
        }
        Ok(())
    }
}

/// The calls each access key made (admitted or not), for a test to see who called a
/// simulator (`/_sim/callers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    /// The account the key encodes, if it encodes one.
    pub account_id: Option<String>,
    /// The regions its signatures were scoped to.
    pub regions: Vec<String>,
    /// Calls per operation.
    pub operations: BTreeMap<String, u64>,
    /// Calls refused by the owner check, per error code.
    pub refused: BTreeMap<String, u64>,
}

/// Callers by access key ID (`-` for unsigned requests).
pub type Callers = BTreeMap<String, Caller>;

/// Records one call of `operation` by `signer`, refused with `refusal` or not.
pub fn record_call(
    callers: &mut Callers,
    signer: Option<&Signer>,
    operation: &str,
    refusal: Option<&str>,
) {
    let key = signer.map_or("-", |s| s.access_key_id.as_str());
    let caller = callers.entry(key.to_owned()).or_default();
    if let Some(s) = signer {
        caller.account_id = account_of_access_key(&s.access_key_id);
        if !caller.regions.contains(&s.region) {
            caller.regions.push(s.region.clone());
        }
    }
    *caller.operations.entry(operation.to_owned()).or_default() += 1;
    if let Some(code) = refusal {
        *caller.refused.entry(code.to_owned()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_encodes_its_account_as_aws_keys_do() {
        // A published example: AWS's documentation key ASIAY34FZKBOKMUTVV7A decodes to
        // 609629065308 (Aidan Steele, "Decoding AWS access key IDs", 2020).
        assert_eq!(
            account_of_access_key("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
        for (account, noise) in [
            ("111111111111", 7),
            ("000000000001", 0),
            ("999999999999", u64::MAX),
        ] {
            let key = encode_access_key("ASIA", account, noise).expect("a key");
            assert_eq!(key.len(), 20, "{key}");
            assert_eq!(
                account_of_access_key(&key).as_deref(),
                Some(account),
                "{key}"
            );
        }
        assert_ne!(
            encode_access_key("ASIA", "111111111111", 1),
            encode_access_key("ASIA", "111111111111", 2)
        );
        assert_eq!(encode_access_key("ASIA", "1234", 0), None);
        assert_eq!(account_of_access_key("test"), None);
        assert_eq!(account_of_access_key("XXXXY34FZKBOKMUTVV7A"), None);
    }

    fn signed(key: &str, region: &str, token: Option<&str>) -> Option<Signer> {
        signer_of(
            Some(&format!(
                "AWS4-HMAC-SHA256 Credential={key}/20261207/{region}/drs/aws4_request, SignedHeaders=host, Signature=00"
            )),
            token,
        )
    }

    #[test]
    fn an_owner_admits_only_its_account_in_its_region_with_a_live_token() {
        let owner = Owner {
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
        };
        let own = encode_access_key("ASIA", "111111111111", 3).expect("a key");
        let other = encode_access_key("ASIA", "222222222222", 3).expect("a key");
        let code = |s: Option<Signer>, now| owner.admit(s.as_ref(), now).err().map(|e| e.code);
        assert_eq!(code(signed(&own, "eu-west-1", None), 0), None);
        assert_eq!(
            code(signed(&other, "eu-west-1", None), 0),
            Some("UnrecognizedClientException")
        );
        assert_eq!(
            code(signed("test", "eu-west-1", None), 0),
            Some("UnrecognizedClientException")
        );
        assert_eq!(
            code(signed(&own, "us-west-2", None), 0),
            Some("InvalidSignatureException")
        );
        assert_eq!(code(None, 0), Some("MissingAuthenticationTokenException"));
        let token = format!("{SESSION_TOKEN_PREFIX}100/abc");
        assert_eq!(code(signed(&own, "eu-west-1", Some(&token)), 99), None);
        assert_eq!(
            code(signed(&own, "eu-west-1", Some(&token)), 100),
            Some("ExpiredTokenException")
        );
    }
}
