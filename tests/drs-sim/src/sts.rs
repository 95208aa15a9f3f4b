//! `drs-sim-sts`: a small stand-in for AWS STS, enough for a worker to assume the roles of other
//! accounts on the local stack. moto's STS issues credentials for any role without evaluating
//! a trust policy or an external ID, so a role that cannot be assumed cannot be staged there.
//!
//! The AWS query protocol, as the unmodified SDK speaks it (STS API reference, "AssumeRole",
//! "GetCallerIdentity", "GetAccessKeyInfo", and "Common Errors"): `POST /` with a form body
//! `Action=AssumeRole&Version=2011-06-15&RoleArn=..&RoleSessionName=..&ExternalId=..&DurationSeconds=..`,
//! answered with `<AssumeRoleResponse>` XML; errors are `<ErrorResponse><Error><Type>Sender`
//! `</Type><Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>`.
//!
//! - Who calls is read from the SigV4 `Authorization` header's access key (the signature is not
//!   verified): a key this stand-in issued is its assumed-role session; any other key belongs
//!   to the account it encodes ([`crate::principal`]), or else to `callerAccount`.
//! - A role exists only if the configuration names it. AssumeRole succeeds only when the role
//!   trusts the caller (its account ID, its ARN, or for a session its role's ARN) and the
//!   request carries the role's external ID when it requires one; otherwise `AccessDenied`
//!   (403), with AWS's message "User: ARN is not authorized to perform: sts:AssumeRole on
//!   resource: ROLE" (AWS says the same whether the role is missing, untrusting or the external
//!   ID is wrong).
//! - DurationSeconds: 900 (AWS's minimum) to the role's `maxSessionSeconds` (default 3600),
//!   3600 when absent; [`StsConfig::min_session_seconds`] may lower the minimum for tests only,
//!   so that credentials expire and must be refreshed within a test.
//! - Issued access keys (`ASIA...`) encode the role's account; session tokens carry their
//!   expiry ([`crate::principal::SESSION_TOKEN_PREFIX`]), so a drs-sim refuses them once expired.
//! - `GET /_sts/calls` lists every call: who, which action and role, and what was answered.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::principal::{self, SESSION_TOKEN_PREFIX};

/// AWS's shortest session (AssumeRole, DurationSeconds: "minimum value of 900").
pub const AWS_MIN_SESSION_SECONDS: u32 = 900;
/// AWS's default session and default `MaxSessionDuration` of a role.
pub const DEFAULT_SESSION_SECONDS: u32 = 3600;

/// A role that exists, and who may assume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleSpec {
    /// `arn:aws:iam::<account>:role/<name>`.
    pub arn: String,
    /// The trust policy's principals: account IDs (any principal of the account, as
    /// `arn:aws:iam::<account>:root` in a policy) or principal ARNs.
    pub trusted_principals: Vec<String>,
    /// The `sts:ExternalId` the trust policy requires, if any.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The role's MaxSessionDuration (default 3600).
    #[serde(default)]
    pub max_session_seconds: Option<u32>,
}

/// The stand-in's configuration file (YAML or JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StsConfig {
    /// The account of keys that encode none (the local stack's `test`).
    #[serde(default = "default_caller_account")]
    pub caller_account: String,
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    /// The shortest DurationSeconds accepted: AWS's 900 unless a test lowers it.
    #[serde(default = "aws_min_session")]
    pub min_session_seconds: u32,
}

fn default_caller_account() -> String {
    "123456789012".to_owned()
}

fn aws_min_session() -> u32 {
    AWS_MIN_SESSION_SECONDS
}

impl Default for StsConfig {
    fn default() -> Self {
        StsConfig {
            caller_account: default_caller_account(),
            roles: Vec::new(),
            min_session_seconds: AWS_MIN_SESSION_SECONDS,
        }
    }
}

impl StsConfig {
    /// Reads a configuration file; every problem names the file and the role.
    pub fn load(path: &std::path::Path) -> Result<StsConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let config: StsConfig = serde_yaml_ng::from_str(&text)
            .map_err(|e| format!("cannot parse {}: {e}", path.display()))?;
        config
            .validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        for (i, role) in self.roles.iter().enumerate() {
            if role_account(&role.arn).is_none() {
                return Err(format!(
                    "roles[{i}].arn '{}' is not arn:aws:iam::<12-digit account>:role/<name>",
                    role.arn
                ));
            }
            if role
                .max_session_seconds
                .is_some_and(|m| m < self.min_session_seconds)
            {
                return Err(format!(
                    "roles[{i}].maxSessionSeconds is below minSessionSeconds"
                ));
            }
        }
        if self.min_session_seconds == 0 {
            return Err("minSessionSeconds must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// The account of `arn:aws:iam::<account>:role/<name>`.
fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, _partition, iam, empty, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = arn_ == "arn"
        && iam == "iam"
        && empty.is_empty()
        && principal::encode_access_key("AKIA", account, 0).is_some()
        && resource
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    ok.then_some(account)
}

/// One call, as `/_sts/calls` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StsCall {
    pub action: String,
    /// The caller's ARN (`-` when unsigned).
    pub caller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The access key issued, when AssumeRole succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// The error code answered, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A session this stand-in issued.
#[derive(Debug, Clone)]
struct Session {
    role_arn: String,
    session_name: String,
    expires: i64,
}

struct StsState {
    config: StsConfig,
    sessions: BTreeMap<String, Session>,
    calls: Vec<StsCall>,
    requests: u64,
}

struct Shared(Mutex<StsState>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, StsState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An STS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl StsError {
    fn sender(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        StsError {
            status,
            code,
            message: message.into(),
        }
    }
}

/// What AssumeRole issued, for the call log.
struct Issued {
    access_key_id: String,
    expiration: String,
}

/// Who signed a request.
struct Caller {
    arn: String,
    account: String,
    /// The role of an assumed-role session.
    role_arn: Option<String>,
    user_id: String,
}

impl StsState {
    fn caller(&self, req_auth: Option<&str>, now: i64) -> Result<Caller, StsError> {
        let signer = principal::signer_of(req_auth, None).ok_or_else(|| {
            StsError::sender(
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        })?;
        let key = signer.access_key_id;
        if let Some(session) = self.sessions.get(&key) {
            if session.expires <= now {
                return Err(StsError::sender(
                    403,
                    "ExpiredToken",
                    "The security token included in the request is expired",
                ));
            }
            let account = role_account(&session.role_arn)
                .unwrap_or_default()
                .to_owned();
            let name = session.role_arn.rsplit('/').next().unwrap_or_default();
            return Ok(Caller {
                arn: format!(
                    "arn:aws:sts::{account}:assumed-role/{name}/{}",
                    session.session_name
                ),
                account,
                role_arn: Some(session.role_arn.clone()),
                user_id: format!("AROA{name}:{}", session.session_name),
            });
        }
        let account = principal::account_of_access_key(&key)
            .unwrap_or_else(|| self.config.caller_account.clone());
        Ok(Caller {
            arn: format!("arn:aws:iam::{account}:user/{key}"),
            account,
            role_arn: None,
            user_id: key,
        })
    }

    fn assume_role(
        &mut self,
        caller: &Caller,
        form: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<(String, Issued), StsError> {
        let role_arn = required(form, "RoleArn")?;
        let session_name = required(form, "RoleSessionName")?;
        let valid_name = (2..=64).contains(&session_name.len())
            && session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !valid_name {
            return Err(validation(format!(
                "Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )));
        }
        let denied = || {
            StsError::sender(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.arn
                ),
            )
        };
        let role = self
            .config
            .roles
            .iter()
            .find(|r| r.arn == *role_arn)
            .ok_or_else(denied)?;
        let trusted = role.trusted_principals.iter().any(|p| {
            *p == caller.account || *p == caller.arn || caller.role_arn.as_ref() == Some(p)
        });
        let external_ok = role
            .external_id
            .as_ref()
            .is_none_or(|want| form.get("ExternalId") == Some(want));
        if !trusted || !external_ok {
            return Err(denied());
        }
        let seconds = self.session_seconds(role, form.get("DurationSeconds"))?;
        let account = role_account(role_arn).unwrap_or_default();
        let mut rng = rand::rng();
        let key = principal::encode_access_key("ASIA", account, rng.random())
            .ok_or_else(|| StsError::sender(500, "InternalFailure", "bad role account"))?;
        let secret: String = (0..40)
            .map(|_| {
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        [rng.random_range(0..62)],
                )
            })
            .collect();
        let expires = now + i64::from(seconds);
        let token = format!(
            "{SESSION_TOKEN_PREFIX}{expires}/{:016x}",
            rng.random::<u64>()
        );
        let expiration = iso_seconds(expires);
        let name = role_arn.rsplit('/').next().unwrap_or_default();
        self.sessions.insert(
            key.clone(),
            Session {
                role_arn: role_arn.clone(),
                session_name: session_name.clone(),
                expires,
            },
        );
        let issued = Issued {
            access_key_id: key.clone(),
            expiration: expiration.clone(),
        };
        let result = format!(
            "<AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{}/{}</Arn>\
             <AssumedRoleId>AROA{}:{}</AssumedRoleId></AssumedRoleUser><Credentials>\
             <AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>\
             <SessionToken>{}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
             </AssumeRoleResult>",
            xml(name),
            xml(session_name),
            xml(name),
            xml(session_name),
            xml(&token),
        );
        Ok((result, issued))
    }

    fn session_seconds(&self, role: &RoleSpec, asked: Option<&String>) -> Result<u32, StsError> {
        let Some(asked) = asked else {
            return Ok(DEFAULT_SESSION_SECONDS
                .min(role.max_session_seconds.unwrap_or(DEFAULT_SESSION_SECONDS)));
        };
        let seconds: u32 = asked.parse().map_err(|_| {
            validation(format!(
                "Value '{asked}' at 'durationSeconds' is not a number"
            ))
        })?;
        if seconds < self.config.min_session_seconds {
            return Err(validation(format!(
                "Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {}",
                self.config.min_session_seconds
            )));
        }
        if seconds > role.max_session_seconds.unwrap_or(DEFAULT_SESSION_SECONDS) {
            return Err(validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        Ok(seconds)
    }
}

fn validation(message: impl Into<String>) -> StsError {
    StsError::sender(400, "ValidationError", message)
}

fn required<'a>(form: &'a BTreeMap<String, String>, name: &str) -> Result<&'a String, StsError> {
    form.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
        StsError::sender(
            400,
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    })
}

fn iso_seconds(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Escapes text for XML.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Answers one query-protocol call: the HTTP status and the XML body.
fn answer(shared: &Shared, auth: Option<&str>, body: &[u8]) -> (u16, String) {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let action = form.get("Action").cloned().unwrap_or_default();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut state = shared.lock();
    state.requests += 1;
    let request_id = format!("00000000-0000-4000-9000-{:012x}", state.requests);
    let mut call = StsCall {
        action: action.clone(),
        caller: "-".to_owned(),
        role_arn: form.get("RoleArn").cloned(),
        external_id: form.get("ExternalId").cloned(),
        issued_access_key_id: None,
        expiration: None,
        error: None,
    };
    let result = state.caller(auth, now).and_then(|caller| {
        call.caller = caller.arn.clone();
        match action.as_str() {
            "AssumeRole" => state.assume_role(&caller, &form, now).map(|(xml, issued)| {
                call.issued_access_key_id = Some(issued.access_key_id);
                call.expiration = Some(issued.expiration);
                xml
            }),
            "GetCallerIdentity" => Ok(format!(
                "<GetCallerIdentityResult><Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>",
                xml(&caller.arn),
                xml(&caller.user_id),
                caller.account
            )),
            "GetAccessKeyInfo" => {
                let key = required(&form, "AccessKeyId")?;
                let account = principal::account_of_access_key(key)
                    .unwrap_or_else(|| state.config.caller_account.clone());
                Ok(format!("<GetAccessKeyInfoResult><Account>{account}</Account></GetAccessKeyInfoResult>"))
            }
            other => Err(StsError::sender(
                400,
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            )),
        }
    });
    let (status, text) = match result {
        Ok(result) => (
            200,
            format!(
                "<{action}Response xmlns=\"{NS}\">{result}<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ),
        ),
        Err(e) => {
            call.error = Some(e.code.to_owned());
            (
                e.status,
                format!(
                    "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                    e.code,
                    xml(&e.message)
                ),
            )
        }
    };
    state.calls.push(call);
    (status, text)
}

/// A running stand-in. Dropping it stops the server.
pub struct StsHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl StsHandle {
    /// Starts serving on `listen` (port 0: a free port).
    pub async fn start(listen: SocketAddr, config: StsConfig) -> Result<StsHandle, String> {
        config.validate()?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared(Mutex::new(StsState {
            config,
            sessions: BTreeMap::new(),
            calls: Vec::new(),
            requests: 0,
        })));
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, shared.clone(), stop_rx));
        Ok(StsHandle { addr, shared, stop })
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_STS`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<StsCall> {
        self.shared.lock().calls.clone()
    }
}

impl Drop for StsHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = Limited::new(req.into_body(), 1 << 16)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let (status, text, content_type) = match (method, path.as_str()) {
        (Method::GET, "/_sts/calls") => (
            200,
            serde_json::to_string(&shared.lock().calls).unwrap_or_default(),
            "application/json",
        ),
        (Method::POST, "/") => {
            let (status, text) = answer(&shared, auth.as_deref(), &body);
            (status, text, "text/xml")
        }
        _ => (404, "not found".to_owned(), "text/plain"),
    };
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests;
