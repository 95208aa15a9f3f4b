//! The HTTP server: DRS operations at `POST /<Operation>`, the admin API under `/_sim/`.
//!
//! This file starts the server and answers DRS calls (with their faults); the admin API is
//! in `admin`, and the library's `SimHandle` methods in `handle`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{FixtureSource, Limits, SimConfig};
use crate::fixture::FixtureError;
use crate::principal::{self, Callers, Owner};
use crate::state::{AfterCommit, SimState};
use crate::wire::{self, ApiError};

mod admin;
mod handle;

use admin::handle_admin;

/// Largest request body accepted (DRS requests are small; StartRecovery of 200 servers is
/// about 15 KB).
const MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// A request the simulator refuses (an unknown server, a bad spec, ...).
    #[error("{0}")]
    Invalid(String),
}

struct Shared {
    state: Mutex<SimState>,
    fixture: FixtureSource,
    request_ids: AtomicU64,
    /// The account and region served (none: every caller, as before accounts existed).
    owner: Option<Owner>,
    /// Who called, by access key.
    callers: Mutex<Callers>,
}

impl Shared {
    /// Locks the state. A panic while holding the lock cannot leave the state half-updated
    /// in a way that matters to a simulator, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn callers(&self) -> MutexGuard<'_, Callers> {
        self.callers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records who signed `req` and answers the refusal when this simulator does not serve
    /// them (see [`crate::principal`]).
    fn admit(&self, req: &Request<Incoming>, operation: &str) -> Result<(), ApiError> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let signer = principal::signer_of(header("authorization"), header("x-amz-security-token"));
        let verdict = match &self.owner {
            Some(owner) => owner.admit(signer.as_ref(), OffsetDateTime::now_utc().unix_timestamp()),
            None => Ok(()),
        };
        let refusal = verdict.as_ref().err().map(|e| e.code);
        principal::record_call(&mut self.callers(), signer.as_ref(), operation, refusal);
        verdict
    }
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Loads the fixture, binds the listener and starts serving in the background.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate().map_err(SimError::Config)?;
        let fixture = config.fixture.load_all()?;
        // The flags win over the fixture; an owner's account and region are in every ARN.
        let owner = config.owner.clone().or_else(|| fixture.owner.clone());
        let config = match &owner {
            Some(o) => SimConfig {
                account_id: o.account_id.clone(),
                region: o.region.clone(),
                ..config
            },
            None => config,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|error| SimError::Bind {
                addr: config.listen,
                error,
            })?;
        let addr = listener.local_addr().map_err(|error| SimError::Bind {
            addr: config.listen,
            error,
        })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(SimState::new(&config, fixture, OffsetDateTime::now_utc())),
            fixture: config.fixture.clone(),
            request_ids: AtomicU64::new(0),
            owner,
            callers: Mutex::new(Callers::new()),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stop_rx));
        tracing::info!(%addr, "drs-sim listening");
        Ok(SimHandle {
            addr,
            shared,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server too (without waiting).
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, for the SDK's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes open connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn validate_limits(limits: &Limits) -> Result<(), String> {
    SimConfig {
        limits: limits.clone(),
        ..SimConfig::default()
    }
    .validate()
}

fn reset(shared: &Shared, reload_fixture: bool) -> Result<(), SimError> {
    // Read the file before taking the lock: no I/O while holding it.
    let fixture = if reload_fixture {
        Some(shared.fixture.load_all()?)
    } else {
        None
    };
    shared.lock().reset(fixture, OffsetDateTime::now_utc());
    Ok(())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    if let Err(e) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

type Resp = Response<Full<Bytes>>;

/// Returned by the service to make hyper close the connection without writing an answer
/// (a `dropAfterCommit*` fault).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose (dropAfterCommit fault)")
    }
}

impl std::error::Error for DropConnection {}

/// What a DRS call ends in.
enum Outcome {
    Answer(Resp),
    /// Carried out, then no answer at all.
    Drop,
}

fn json_response(status: u16, body: &Value, request_id: &str) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    resp
}

fn error_response(e: &ApiError, request_id: &str) -> Resp {
    let mut resp = json_response(e.status, &e.body(), request_id);
    let headers = resp.headers_mut();
    headers.insert(
        "x-amzn-errortype",
        hyper::header::HeaderValue::from_static(e.code),
    );
    for (name, value) in &e.headers {
        if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
            headers.insert(*name, v);
        }
    }
    resp
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::validation("cannotParse", format!("Cannot read body: {e}"), &[]))
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    let n = shared.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
    let request_id = format!("00000000-0000-4000-8000-{n:012x}");
    let path = req.uri().path().to_owned();
    if let Some(admin) = path.strip_prefix("/_sim/") {
        let admin = admin.trim_end_matches('/').to_owned();
        return Ok(handle_admin(&shared, req, &admin, &request_id).await);
    }
    let operation = path.trim_start_matches('/');
    let known = wire::OPERATIONS
        .iter()
        .chain(wire::RECOVERY_PLAN_OPERATIONS)
        .find(|op| **op == operation)
        .copied();
    let (label, resp) = match known {
        Some(op) if req.method() == Method::POST => {
            match handle_drs(&shared, req, op, &request_id).await {
                Outcome::Answer(resp) => (op, resp),
                // Counted when it was decided.
                Outcome::Drop => return Err(DropConnection),
            }
        }
        _ => {
            // Drain the body so the connection stays usable.
            let _ = read_body(req).await;
            let e = ApiError::validation(
                "unknownOperation",
                format!("Unknown operation: {operation}"),
                &[],
            );
            (wire::UNKNOWN_OPERATION, error_response(&e, &request_id))
        }
    };
    shared.lock().counters.record(label, resp.status().as_u16());
    Ok(resp)
}

async fn handle_drs(
    shared: &Shared,
    req: Request<Incoming>,
    op: &str,
    request_id: &str,
) -> Outcome {
    let admitted = shared.admit(&req, op);
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return Outcome::Answer(error_response(&e, request_id)),
    };
    if let Err(e) = admitted {
        tracing::debug!(operation = op, code = e.code, "caller refused");
        return Outcome::Answer(error_response(&e, request_id));
    }
    let decision = shared.lock().decide_fault(op);
    if decision.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
    }
    if let Some(e) = decision.error {
        tracing::debug!(operation = op, code = e.code, "injected fault");
        return Outcome::Answer(error_response(&e, request_id));
    }
    // `now` is read under the lock so that calls are ordered the same way in time as they
    // are in the state. A fault after the commit is decided in the same critical section,
    // once the call has changed the state.
    let (result, after) = {
        let mut state = shared.lock();
        let result = state.call(op, &body, OffsetDateTime::now_utc());
        let after = if result.is_ok() {
            state.decide_after_commit(op)
        } else {
            None
        };
        (result, after)
    };
    match (result, after) {
        (Ok(_), Some(AfterCommit::Drop)) => {
            tracing::debug!(
                operation = op,
                "done, then the connection is dropped (fault)"
            );
            Outcome::Drop
        }
        (Ok(_), Some(AfterCommit::Error)) => {
            tracing::debug!(operation = op, "done, then answered 500 (fault)");
            Outcome::Answer(error_response(&ApiError::internal(), request_id))
        }
        (Ok((status, v)), None) => Outcome::Answer(json_response(status, &v, request_id)),
        (Err(e), _) => {
            tracing::debug!(operation = op, code = e.code, message = %e.message, "error answer");
            Outcome::Answer(error_response(&e, request_id))
        }
    }
}
