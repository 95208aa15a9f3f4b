//! The HTTP server: DRS operations at `POST /<Operation>`, the admin API under `/_sim/`.

use std::collections::BTreeMap;
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
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{FaultConfig, FixtureSource, Limits, Paging, SimConfig, Timings};
use crate::fixture::{
    BackgroundJobSpec, Fixture, FixtureError, ResolvedDefaults, ServerSpec, SourceServerDef,
};
use crate::lifecycle::truncate_to_micros;
use crate::replication::{OutageState, RecoverySnapshot};
use crate::state::{
    AfterCommit, Counters, InstanceSnapshot, JobSnapshot, ServerSelector, SimState,
};
use crate::wire::{self, ApiError};

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
}

impl Shared {
    /// Locks the state. A panic while holding the lock cannot leave the state half-updated
    /// in a way that matters to a simulator, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Loads the fixture, binds the listener and starts serving in the background.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate().map_err(SimError::Config)?;
        let fixture = config.fixture.load_all()?;
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

    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Every job, oldest first, with each server's scheduled launch start and end.
    pub fn jobs(&self) -> Vec<JobSnapshot> {
        self.shared.lock().job_snapshots(OffsetDateTime::now_utc())
    }

    /// Every recovery instance launched so far, terminated ones included.
    pub fn recovery_instances(&self) -> Vec<InstanceSnapshot> {
        self.shared
            .lock()
            .instance_snapshots(OffsetDateTime::now_utc())
    }

    pub fn source_servers(&self) -> Vec<SourceServerDef> {
        self.shared.lock().server_defs()
    }

    pub fn faults(&self) -> FaultConfig {
        self.shared.lock().faults.clone()
    }

    /// Replaces the fault configuration (a `seed` in it reseeds the fault generator).
    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), SimError> {
        faults.validate().map_err(SimError::Config)?;
        self.shared.lock().set_faults(faults);
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        self.shared.lock().limits.clone()
    }

    pub fn set_limits(&self, limits: Limits) -> Result<(), SimError> {
        validate_limits(&limits).map_err(SimError::Config)?;
        self.shared.lock().limits = limits;
        Ok(())
    }

    /// Adds source servers (or replaces those with the same ID). All or nothing. Servers
    /// without `snapshots` get the default schedule, without `launchSeconds` 1 s.
    pub fn add_servers(&self, servers: &[ServerSpec]) -> Result<(), SimError> {
        self.shared
            .lock()
            .upsert_servers(
                servers,
                &ResolvedDefaults::default(),
                OffsetDateTime::now_utc(),
            )
            .map(|_| ())
            .map_err(SimError::Config)
    }

    /// A source-site outage from now on: the selected servers report `state` with
    /// AGENT_NOT_SEEN, take no new snapshots, and their `lastSeenByServiceDateTime` stops.
    /// Launches still work from the snapshots taken before. Returns the servers.
    pub fn start_outage(
        &self,
        selector: &ServerSelector,
        state: OutageState,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .start_outage(selector, state, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// Ends the outage of the selected servers (servers down from the fixture come back
    /// CONTINUOUS). Returns the servers whose state changed.
    pub fn end_outage(&self, selector: &ServerSelector) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .end_outage(selector, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// The point-in-time snapshots `server_id` has now, oldest first (as
    /// DescribeRecoverySnapshots answers, with ASC order).
    pub fn recovery_snapshots(&self, server_id: &str) -> Result<Vec<RecoverySnapshot>, SimError> {
        self.shared
            .lock()
            .recovery_snapshots(server_id, OffsetDateTime::now_utc())
            .ok_or_else(|| {
                SimError::Invalid(format!("server {server_id} is not a known source server"))
            })
    }

    /// Schedules background jobs (counted from now). All or nothing. Returns their job IDs.
    pub fn add_background_jobs(&self, jobs: &[BackgroundJobSpec]) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .add_background_jobs(jobs, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// Sets `failLaunch` (with an optional reason: a named cause or the `rawError` text) on
    /// the selected servers, or clears it (`fail_launch` false, no reason), for launches from
    /// now on. Returns the servers.
    pub fn set_fail_launch(
        &self,
        selector: &ServerSelector,
        fail_launch: bool,
        fail_reason: Option<&str>,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .set_fail_launch(selector, fail_launch, fail_reason.map(str::to_owned))
            .map_err(SimError::Invalid)
    }

    /// Leaves `recoveryInstanceID` out of the selected servers' participatingServers in
    /// DescribeJobs (`omit` true) or names it again. Returns the servers.
    pub fn set_omit_recovery_instance_id(
        &self,
        selector: &ServerSelector,
        omit: bool,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .set_omit_recovery_instance_id(selector, omit)
            .map_err(SimError::Invalid)
    }

    /// Makes every snapshot the selected servers have taken so far `minutes` older, as far
    /// as DRS's retention goes (what it would have deleted by then is gone). Returns the
    /// servers.
    pub fn age_snapshots(
        &self,
        selector: &ServerSelector,
        minutes: f64,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .age_snapshots(selector, minutes, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    pub fn paging(&self) -> Paging {
        self.shared.lock().paging().clone()
    }

    /// Replaces the paging knobs (`pageSize`, `emptyFirstPage`), for calls from now on.
    pub fn set_paging(&self, paging: Paging) -> Result<(), SimError> {
        paging.validate().map_err(SimError::Config)?;
        self.shared.lock().set_paging(paging);
        Ok(())
    }

    pub fn timings(&self) -> Timings {
        self.shared.lock().timings().clone()
    }

    /// Replaces the timings; they apply to jobs created from now on.
    pub fn set_timings(&self, timings: Timings) -> Result<(), SimError> {
        timings.validate().map_err(SimError::Config)?;
        self.shared.lock().set_timings(timings);
        Ok(())
    }

    /// Clears jobs, instances, counters and servers added at run time; with
    /// `reload_fixture`, re-reads the fixture file first. Faults and limits are kept.
    pub fn reset(&self, reload_fixture: bool) -> Result<(), SimError> {
        reset(&self.shared, reload_fixture)
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
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return Outcome::Answer(error_response(&e, request_id)),
    };
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

/// An admin timestamp (RFC 3339, microseconds, as the state uses them).
fn rfc3339(t: OffsetDateTime) -> String {
    let t = truncate_to_micros(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn admin_error(status: u16, message: impl Into<String>, request_id: &str) -> Resp {
    json_response(status, &json!({ "error": message.into() }), request_id)
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResetRequest {
    #[serde(default)]
    reload_fixture: bool,
}

/// `{"servers": [...]}`, `{"tags": {...}}` or `{"all": true}`, with the endpoint's own keys.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SelectorRequest {
    #[serde(default)]
    servers: Option<Vec<String>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    all: Option<bool>,
    /// POST /_sim/outage: STALLED (default) or DISCONNECTED.
    #[serde(default)]
    state: Option<OutageState>,
    /// POST /_sim/fail-launch: default true.
    #[serde(default)]
    fail_launch: Option<bool>,
    /// POST /_sim/fail-launch: a named cause or the rawError text.
    #[serde(default)]
    fail_reason: Option<String>,
    /// POST /_sim/snapshots/age: by how many minutes (required there).
    #[serde(default)]
    minutes: Option<f64>,
}

impl SelectorRequest {
    fn selector(&self) -> Result<ServerSelector, String> {
        match (&self.servers, &self.tags, self.all) {
            (Some(ids), None, None) => Ok(ServerSelector::Servers(ids.clone())),
            (None, Some(tags), None) => Ok(ServerSelector::Tags(tags.clone())),
            (None, None, Some(true)) => Ok(ServerSelector::All),
            _ => Err(
                "give exactly one of \"servers\": [...], \"tags\": {...}, \"all\": true".to_owned(),
            ),
        }
    }

    /// Rejects keys that belong to another endpoint.
    fn only(&self, state: bool, fail: bool) -> Result<(), String> {
        if self.minutes.is_some() {
            return Err("\"minutes\" is not accepted here".to_owned());
        }
        if !state && self.state.is_some() {
            return Err("\"state\" is not accepted here".to_owned());
        }
        if !fail && (self.fail_launch.is_some() || self.fail_reason.is_some()) {
            return Err("\"failLaunch\"/\"failReason\" are not accepted here".to_owned());
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BackgroundJobsRequest {
    jobs: Vec<BackgroundJobSpec>,
}

async fn handle_admin(shared: &Shared, req: Request<Incoming>, path: &str, rid: &str) -> Resp {
    let method = req.method().clone();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return admin_error(400, e.message, rid),
    };
    let now = OffsetDateTime::now_utc();
    let ok = |v: Value| json_response(200, &v, rid);
    let to_value = |v: Result<Value, serde_json::Error>| match v {
        Ok(v) => ok(v),
        Err(e) => admin_error(500, e.to_string(), rid),
    };
    match (method, path) {
        (Method::GET, "health") => ok(json!({ "status": "ok" })),
        (Method::GET, "counters") => to_value(serde_json::to_value(&shared.lock().counters)),
        (Method::GET, "jobs") => {
            let jobs = shared.lock().job_snapshots(now);
            to_value(serde_json::to_value(&jobs).map(|j| json!({ "jobs": j })))
        }
        (Method::GET, "recovery-instances") => {
            let instances = shared.lock().instance_snapshots(now);
            to_value(serde_json::to_value(&instances).map(|i| json!({ "recoveryInstances": i })))
        }
        (Method::GET, "servers") => {
            let servers = shared.lock().server_defs();
            to_value(serde_json::to_value(&servers).map(|s| json!({ "servers": s })))
        }
        (Method::POST, "servers") => {
            let fixture: Fixture = match parse_json(&body) {
                Ok(f) => f,
                Err(e) => return admin_error(400, e, rid),
            };
            if !fixture.background_jobs.is_empty() {
                return admin_error(400, "backgroundJobs: use POST /_sim/background-jobs", rid);
            }
            let defaults = match fixture.defaults.resolve() {
                Ok(d) => d,
                Err((field, e)) => return admin_error(400, format!("defaults.{field}: {e}"), rid),
            };
            let result = shared
                .lock()
                .upsert_servers(&fixture.servers, &defaults, now);
            match result {
                Ok(defs) => to_value(serde_json::to_value(&defs).map(|s| json!({ "servers": s }))),
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::POST, "outage") => {
            let parsed = parse_json::<SelectorRequest>(&body).and_then(|r| {
                r.only(true, false)?;
                // A site that goes dark leaves its servers STALLED with AGENT_NOT_SEEN;
                // DISCONNECTED is what DisconnectSourceServer sets (the model's
                // documentation), so it is only had by asking.
                Ok((r.selector()?, r.state.unwrap_or(OutageState::Stalled)))
            });
            let result = parsed.and_then(|(selector, state)| {
                shared.lock().start_outage(&selector, state, now).map(
                    |ids| json!({ "servers": ids, "state": state.as_str(), "since": rfc3339(now) }),
                )
            });
            match result {
                Ok(v) => ok(v),
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::POST, "outage/end") => {
            let parsed = parse_json::<SelectorRequest>(&body).and_then(|r| {
                r.only(false, false)?;
                r.selector()
            });
            let result = parsed.and_then(|selector| {
                shared
                    .lock()
                    .end_outage(&selector, now)
                    .map(|ids| json!({ "servers": ids, "since": rfc3339(now) }))
            });
            match result {
                Ok(v) => ok(v),
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::POST, "fail-launch") => {
            let parsed = parse_json::<SelectorRequest>(&body).and_then(|r| {
                r.only(false, true)?;
                Ok((r.selector()?, r.fail_launch.unwrap_or(true), r.fail_reason))
            });
            let result = parsed.and_then(|(selector, fail, reason)| {
                shared
                    .lock()
                    .set_fail_launch(&selector, fail, reason)
                    .map(|ids| json!({ "servers": ids, "failLaunch": fail }))
            });
            match result {
                Ok(v) => ok(v),
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::POST, "omit-recovery-instance-id") => {
            let result = parse_json::<crate::state::OmitInstanceIdRequest>(&body)
                .and_then(|r| r.parts())
                .and_then(|(selector, omit)| {
                    shared
                        .lock()
                        .set_omit_recovery_instance_id(&selector, omit)
                        .map(|ids| json!({ "servers": ids, "omitRecoveryInstanceId": omit }))
                });
            match result {
                Ok(v) => ok(v),
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::POST, "snapshots/age") => {
            let parsed = parse_json::<SelectorRequest>(&body).and_then(|r| {
                if r.state.is_some() || r.fail_launch.is_some() || r.fail_reason.is_some() {
                    return Err("only a selector and \"minutes\" are accepted here".to_owned());
                }
                let minutes = r.minutes.ok_or("\"minutes\" is required")?;
                Ok((r.selector()?, minutes))
            });
            let result = parsed.and_then(|(selector, minutes)| {
                shared
                    .lock()
                    .age_snapshots(&selector, minutes, now)
                    .map(|ids| json!({ "servers": ids, "minutes": minutes }))
            });
            match result {
                Ok(v) => ok(v),
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::GET, "paging") => to_value(serde_json::to_value(shared.lock().paging())),
        (Method::POST, "paging") => {
            let paging = parse_json::<Paging>(&body).and_then(|p| p.validate().map(|()| p));
            match paging {
                Ok(p) => {
                    let mut state = shared.lock();
                    state.set_paging(p);
                    to_value(serde_json::to_value(state.paging()))
                }
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::POST, "background-jobs") => {
            let result = parse_json::<BackgroundJobsRequest>(&body).and_then(|r| {
                shared
                    .lock()
                    .add_background_jobs(&r.jobs, now)
                    .map(|ids| json!({ "jobIDs": ids }))
            });
            match result {
                Ok(v) => ok(v),
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::GET, p) if p.starts_with("recovery-snapshots/") => {
            let id = p.trim_start_matches("recovery-snapshots/");
            match shared.lock().recovery_snapshots(id, now) {
                Some(snaps) => to_value(
                    serde_json::to_value(&snaps).map(|s| json!({ "recoverySnapshots": s })),
                ),
                None => admin_error(
                    404,
                    format!("server {id} is not a known source server"),
                    rid,
                ),
            }
        }
        (Method::GET, "timings") => to_value(serde_json::to_value(shared.lock().timings())),
        (Method::POST, "timings") => {
            let timings = parse_json::<Timings>(&body).and_then(|t| t.validate().map(|()| t));
            match timings {
                Ok(t) => {
                    let mut state = shared.lock();
                    state.set_timings(t);
                    to_value(serde_json::to_value(state.timings()))
                }
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::GET, "faults") => to_value(serde_json::to_value(&shared.lock().faults)),
        (Method::POST, "faults") => {
            let faults = parse_json::<Value>(&body).and_then(FaultConfig::from_json);
            match faults {
                Ok(f) => {
                    let mut state = shared.lock();
                    state.set_faults(f);
                    to_value(serde_json::to_value(&state.faults))
                }
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::GET, "limits") => to_value(serde_json::to_value(&shared.lock().limits)),
        (Method::POST, "limits") => {
            let limits = parse_json::<Limits>(&body).and_then(|l| validate_limits(&l).map(|()| l));
            match limits {
                Ok(l) => {
                    let mut state = shared.lock();
                    state.limits = l;
                    to_value(serde_json::to_value(&state.limits))
                }
                Err(e) => admin_error(400, e, rid),
            }
        }
        (Method::POST, "reset") => match parse_json::<ResetRequest>(&body) {
            Ok(r) => match reset(shared, r.reload_fixture) {
                Ok(()) => ok(json!({ "reset": true })),
                Err(e) => admin_error(400, e.to_string(), rid),
            },
            Err(e) => admin_error(400, e, rid),
        },
        (m, p) => admin_error(404, format!("no admin endpoint {m} /_sim/{p}"), rid),
    }
}
