//! The admin API under `/_sim/`: what the simulator holds (counters, jobs, instances,
//! servers, snapshots), staging a disaster at run time (servers, outages, failing launches,
//! snapshot aging, background jobs), and its knobs (paging, timings, faults, limits, reset).

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Method, Request};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Resp, Shared, json_response, read_body, reset, validate_limits};
use crate::config::{FaultConfig, Limits, Paging, Timings};
use crate::fixture::{BackgroundJobSpec, Fixture};
use crate::lifecycle::truncate_to_micros;
use crate::replication::OutageState;
use crate::state::ServerSelector;

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

/// One admin call: the shared state, its body, when it came and its request ID.
struct AdminCall<'a> {
    shared: &'a Shared,
    body: &'a [u8],
    now: OffsetDateTime,
    rid: &'a str,
}

impl AdminCall<'_> {
    fn ok(&self, v: Value) -> Resp {
        json_response(200, &v, self.rid)
    }

    fn error(&self, status: u16, message: impl Into<String>) -> Resp {
        admin_error(status, message, self.rid)
    }

    fn to_value(&self, v: Result<Value, serde_json::Error>) -> Resp {
        match v {
            Ok(v) => self.ok(v),
            Err(e) => self.error(500, e.to_string()),
        }
    }

    /// 200 with the answer, or 400 with what was wrong.
    fn answer(&self, result: Result<Value, String>) -> Resp {
        match result {
            Ok(v) => self.ok(v),
            Err(e) => self.error(400, e),
        }
    }
}

pub(super) async fn handle_admin(
    shared: &Shared,
    req: Request<Incoming>,
    path: &str,
    rid: &str,
) -> Resp {
    let method = req.method().clone();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return admin_error(400, e.message, rid),
    };
    let call = AdminCall {
        shared,
        body: &body,
        now: OffsetDateTime::now_utc(),
        rid,
    };
    let resp = match method {
        Method::GET => get(&call, path),
        Method::POST => stage(&call, path).or_else(|| set(&call, path)),
        _ => None,
    };
    resp.unwrap_or_else(|| {
        admin_error(404, format!("no admin endpoint {method} /_sim/{path}"), rid)
    })
}

/// `GET /_sim/<path>`: what the simulator holds and its knobs (None: no such endpoint).
fn get(call: &AdminCall, path: &str) -> Option<Resp> {
    let shared = call.shared;
    let now = call.now;
    let resp = match path {
        "health" => call.ok(json!({ "status": "ok" })),
        "counters" => call.to_value(serde_json::to_value(&shared.lock().counters)),
        "callers" => call.to_value(serde_json::to_value(&*shared.callers())),
        "jobs" => {
            let jobs = shared.lock().job_snapshots(now);
            call.to_value(serde_json::to_value(&jobs).map(|j| json!({ "jobs": j })))
        }
        "recovery-instances" => {
            let instances = shared.lock().instance_snapshots(now);
            call.to_value(
                serde_json::to_value(&instances).map(|i| json!({ "recoveryInstances": i })),
            )
        }
        "servers" => {
            let servers = shared.lock().server_defs();
            call.to_value(serde_json::to_value(&servers).map(|s| json!({ "servers": s })))
        }
        "paging" => call.to_value(serde_json::to_value(shared.lock().paging())),
        p if p.starts_with("recovery-snapshots/") => {
            let id = p.trim_start_matches("recovery-snapshots/");
            match shared.lock().recovery_snapshots(id, now) {
                Some(snaps) => call.to_value(
                    serde_json::to_value(&snaps).map(|s| json!({ "recoverySnapshots": s })),
                ),
                None => call.error(404, format!("server {id} is not a known source server")),
            }
        }
        "timings" => call.to_value(serde_json::to_value(shared.lock().timings())),
        "faults" => call.to_value(serde_json::to_value(&shared.lock().faults)),
        "limits" => call.to_value(serde_json::to_value(&shared.lock().limits)),
        "source-networks" => {
            let networks = shared.lock().network_specs();
            call.to_value(serde_json::to_value(&networks).map(|n| json!({ "sourceNetworks": n })))
        }
        _ => return None,
    };
    Some(resp)
}

/// `POST /_sim/<path>` that stages a disaster: servers, outages, failing launches, instance
/// IDs left out, snapshot aging, background jobs (None: not one of these).
fn stage(call: &AdminCall, path: &str) -> Option<Resp> {
    let resp = match path {
        "servers" => post_servers(call),
        "outage" => call.answer(start_outage(call)),
        "outage/end" => call.answer(end_outage(call)),
        "fail-launch" => call.answer(fail_launch(call)),
        "failback" => call.answer(stage_failback(call)),
        "omit-recovery-instance-id" => call.answer(omit_recovery_instance_id(call)),
        "snapshots/age" => call.answer(age_snapshots(call)),
        "background-jobs" => call.answer(background_jobs(call)),
        "source-networks" => call.answer(post_source_networks(call)),
        "network-recovery" => call.answer(network_recovery(call)),
        _ => return None,
    };
    Some(resp)
}

/// `POST /_sim/source-networks` `{"sourceNetworks": [...]}`: adds (or replaces) networks.
fn post_source_networks(call: &AdminCall) -> Result<Value, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Body {
        source_networks: Vec<crate::network::SourceNetworkSpec>,
    }
    let body: Body = parse_json(call.body)?;
    call.shared.lock().upsert_networks(&body.source_networks)?;
    let ids: Vec<&str> = body.source_networks.iter().map(|n| n.id.as_str()).collect();
    Ok(json!({ "sourceNetworks": ids }))
}

/// `POST /_sim/network-recovery` `{"sourceNetworkID", "failRecovery", "failReason",
/// "recoverySeconds"}`: how the network's recoveries go from now on (a failed one, a slow one).
fn network_recovery(call: &AdminCall) -> Result<Value, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Body {
        #[serde(rename = "sourceNetworkID")]
        source_network_id: String,
        #[serde(default)]
        fail_recovery: bool,
        #[serde(default)]
        fail_reason: Option<String>,
        #[serde(default)]
        recovery_seconds: Option<f64>,
    }
    let b: Body = parse_json(call.body)?;
    call.shared.lock().set_network_recovery(
        &b.source_network_id,
        b.fail_recovery,
        b.fail_reason,
        b.recovery_seconds,
    )?;
    Ok(json!({ "sourceNetworkID": b.source_network_id, "failRecovery": b.fail_recovery }))
}

fn post_servers(call: &AdminCall) -> Resp {
    let fixture: Fixture = match parse_json(call.body) {
        Ok(f) => f,
        Err(e) => return call.error(400, e),
    };
    if !fixture.background_jobs.is_empty() {
        return call.error(400, "backgroundJobs: use POST /_sim/background-jobs");
    }
    let defaults = match fixture.defaults.resolve() {
        Ok(d) => d,
        Err((field, e)) => return call.error(400, format!("defaults.{field}: {e}")),
    };
    let result = call
        .shared
        .lock()
        .upsert_servers(&fixture.servers, &defaults, call.now);
    match result {
        Ok(defs) => call.to_value(serde_json::to_value(&defs).map(|s| json!({ "servers": s }))),
        Err(e) => call.error(400, e),
    }
}

fn start_outage(call: &AdminCall) -> Result<Value, String> {
    let now = call.now;
    let (selector, state) = parse_json::<SelectorRequest>(call.body).and_then(|r| {
        r.only(true, false)?;
        // A site that goes dark leaves its servers STALLED with AGENT_NOT_SEEN;
        // DISCONNECTED is what DisconnectSourceServer sets (the model's
        // documentation), so it is only had by asking.
        Ok((r.selector()?, r.state.unwrap_or(OutageState::Stalled)))
    })?;
    call.shared
        .lock()
        .start_outage(&selector, state, now)
        .map(|ids| json!({ "servers": ids, "state": state.as_str(), "since": rfc3339(now) }))
}

fn end_outage(call: &AdminCall) -> Result<Value, String> {
    let now = call.now;
    let selector = parse_json::<SelectorRequest>(call.body).and_then(|r| {
        r.only(false, false)?;
        r.selector()
    })?;
    call.shared
        .lock()
        .end_outage(&selector, now)
        .map(|ids| json!({ "servers": ids, "since": rfc3339(now) }))
}

fn fail_launch(call: &AdminCall) -> Result<Value, String> {
    let (selector, fail, reason) = parse_json::<SelectorRequest>(call.body).and_then(|r| {
        r.only(false, true)?;
        Ok((r.selector()?, r.fail_launch.unwrap_or(true), r.fail_reason))
    })?;
    call.shared
        .lock()
        .set_fail_launch(&selector, fail, reason)
        .map(|ids| json!({ "servers": ids, "failLaunch": fail }))
}

/// `POST /_sim/failback` (a selector, `outcome` "ready" / "stall" / {"error": ...},
/// `syncSeconds`, `failLaunch`): the selected servers' recovery instances replicate back.
fn stage_failback(call: &AdminCall) -> Result<Value, String> {
    let staging: crate::state::FailbackStaging = parse_json(call.body)?;
    call.shared
        .lock()
        .stage_failback(&staging, call.now)
        .map(|ids| json!({ "recoveryInstanceIDs": ids, "since": rfc3339(call.now) }))
}

fn omit_recovery_instance_id(call: &AdminCall) -> Result<Value, String> {
    let (selector, omit) =
        parse_json::<crate::state::OmitInstanceIdRequest>(call.body).and_then(|r| r.parts())?;
    call.shared
        .lock()
        .set_omit_recovery_instance_id(&selector, omit)
        .map(|ids| json!({ "servers": ids, "omitRecoveryInstanceId": omit }))
}

fn age_snapshots(call: &AdminCall) -> Result<Value, String> {
    let (selector, minutes) = parse_json::<SelectorRequest>(call.body).and_then(|r| {
        if r.state.is_some() || r.fail_launch.is_some() || r.fail_reason.is_some() {
            return Err("only a selector and \"minutes\" are accepted here".to_owned());
        }
        let minutes = r.minutes.ok_or("\"minutes\" is required")?;
        Ok((r.selector()?, minutes))
    })?;
    call.shared
        .lock()
        .age_snapshots(&selector, minutes, call.now)
        .map(|ids| json!({ "servers": ids, "minutes": minutes }))
}

fn background_jobs(call: &AdminCall) -> Result<Value, String> {
    let r = parse_json::<BackgroundJobsRequest>(call.body)?;
    call.shared
        .lock()
        .add_background_jobs(&r.jobs, call.now)
        .map(|ids| json!({ "jobIDs": ids }))
}

/// `POST /_sim/<path>` that sets a knob (paging, timings, faults, limits) or resets
/// (None: not one of these).
fn set(call: &AdminCall, path: &str) -> Option<Resp> {
    let shared = call.shared;
    let resp = match path {
        "paging" => match parse_json::<Paging>(call.body).and_then(|p| p.validate().map(|()| p)) {
            Ok(p) => {
                let mut state = shared.lock();
                state.set_paging(p);
                call.to_value(serde_json::to_value(state.paging()))
            }
            Err(e) => call.error(400, e),
        },
        "timings" => {
            match parse_json::<Timings>(call.body).and_then(|t| t.validate().map(|()| t)) {
                Ok(t) => {
                    let mut state = shared.lock();
                    state.set_timings(t);
                    call.to_value(serde_json::to_value(state.timings()))
                }
                Err(e) => call.error(400, e),
            }
        }
        "faults" => match parse_json::<Value>(call.body).and_then(FaultConfig::from_json) {
            Ok(f) => {
                let mut state = shared.lock();
                state.set_faults(f);
                call.to_value(serde_json::to_value(&state.faults))
            }
            Err(e) => call.error(400, e),
        },
        "limits" => {
            match parse_json::<Limits>(call.body).and_then(|l| validate_limits(&l).map(|()| l)) {
                Ok(l) => {
                    let mut state = shared.lock();
                    state.limits = l;
                    call.to_value(serde_json::to_value(&state.limits))
                }
                Err(e) => call.error(400, e),
            }
        }
        "reset" => match parse_json::<ResetRequest>(call.body) {
            Ok(r) => match reset(shared, r.reload_fixture) {
                Ok(()) => call.ok(json!({ "reset": true })),
                Err(e) => call.error(400, e.to_string()),
            },
            Err(e) => call.error(400, e),
        },
        _ => return None,
    };
    Some(resp)
}
