//! Helpers shared by the model-check tests: a simulator, raw restJson1 calls, and checks of
//! answers against the vendored DRS model.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use drs_sim::{Direction, Model, ServerSpec, SimConfig, SimHandle, Simulator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generous: the machine may be loaded, and a deadline only matters when something is wrong.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn sid(n: u32) -> String {
    format!("s-{n:017}")
}

pub async fn start(servers: Vec<ServerSpec>, tweak: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut config = SimConfig::with_servers(servers);
    config.seed = Some(21);
    tweak(&mut config);
    Simulator::start(config).await.expect("simulator starts")
}

/// One DRS answer as it came over the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `x-amzn-errortype`, on errors.
    pub error_type: Option<String>,
    pub body: Value,
}

/// `POST /<operation>` with a JSON body (raw: the SDK would hide what the body holds).
pub async fn call(endpoint: &str, operation: &str, body: &Value) -> Answer {
    let raw = call_raw(endpoint, operation, &body.to_string()).await;
    let body = serde_json::from_str(&raw.2).unwrap_or_else(|e| {
        panic!(
            "{operation} answered a body that is not JSON ({e}): {}",
            raw.2
        )
    });
    Answer {
        status: raw.0,
        error_type: raw.1,
        body,
    }
}

/// `POST /<operation>` with any text: status, `x-amzn-errortype`, body text.
pub async fn call_raw(
    endpoint: &str,
    operation: &str,
    body: &str,
) -> (u16, Option<String>, String) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /{operation} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let error_type = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("x-amzn-errortype")
            .then(|| value.trim().to_owned())
    });
    (status, error_type, body.to_owned())
}

/// The model's violations of a successful answer of `operation`, with its status held to
/// the model's `responseCode`.
pub fn output_violations(operation: &str, answer: &Answer) -> Vec<String> {
    let model = Model::drs();
    let op = model
        .operation(operation)
        .unwrap_or_else(|| panic!("{operation} is not an operation of the model"));
    let mut out = Vec::new();
    if answer.status != op.response_code {
        out.push(format!(
            "status {} where the model's responseCode is {}",
            answer.status, op.response_code
        ));
    }
    // An operation without an output shape (StopFailback) answers an empty body.
    let Some(shape) = op.output.as_deref() else {
        if answer.body != serde_json::json!({}) {
            out.push(format!(
                "{operation} has no output shape but answered {}",
                answer.body
            ));
        }
        return out;
    };
    out.extend(
        model
            .validate(shape, &answer.body, Direction::Response)
            .iter()
            .map(ToString::to_string),
    );
    out
}

/// The model's violations of an error answer: its `x-amzn-errortype` must name an error
/// shape of the model with the answer's status, and its body hold only that shape's
/// members (plus `__type`, the protocol's copy of the error type, which restJson1 clients
/// read when the header is missing).
pub fn error_violations(answer: &Answer) -> Vec<String> {
    let model = Model::drs();
    let Some(error) = answer.error_type.as_deref() else {
        return vec![format!("status {} without x-amzn-errortype", answer.status)];
    };
    if !model.has_shape(error) {
        return vec![format!("{error} is not a shape of the model")];
    }
    let mut out = Vec::new();
    if model.error_status(error) != Some(answer.status) {
        out.push(format!(
            "status {} where the model's {error} has {:?}",
            answer.status,
            model.error_status(error)
        ));
    }
    if answer.body.get("__type").and_then(Value::as_str) != Some(error) {
        out.push(format!("__type is not {error}"));
    }
    let mut body = answer.body.clone();
    if let Some(fields) = body.as_object_mut() {
        fields.remove("__type");
    }
    out.extend(
        model
            .validate(error, &body, Direction::Response)
            .iter()
            .map(ToString::to_string),
    );
    out
}

/// Polls `f` until it yields Some or the deadline passes.
pub async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
