//! One wave of a plan, checked and with the plan's defaults applied: its name, its servers
//! (each in one wave only), its tags and optional servers, its limits, its RTO target and what
//! operators do in it.

use std::collections::{BTreeMap, BTreeSet};

use super::account::account;
use super::fields::{
    Scope, approval_gate, attempts, check_limits, decision_settings, duration_seconds, is_name,
    is_source_server_id, is_tag_text, minutes_text, on_failure_name, polling_parts,
};
use super::resolve::Defaults;
use super::{MAX_NAME_CHARS, ServersFile, WaveFile};
use crate::budget;
use crate::contract::{ApprovalGate, OnFailure, PollingBounds, WaveSpec, WaveTarget};

const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;

static NO_SERVERS: ServersFile = ServersFile {
    ids: Vec::new(),
    tags: BTreeMap::new(),
};

/// What earlier waves have claimed, so that a later wave cannot claim it again.
#[derive(Default)]
pub(super) struct Claims<'a> {
    first_wave_of_name: BTreeMap<&'a str, u32>,
    /// Server ID -> (wave index, wave name) of the first wave that lists it.
    owner: BTreeMap<&'a str, (u32, &'a str)>,
}

/// One wave, checked and with its defaults applied, and its RTO target if it sets a sound one.
/// `check_rto` says what is wrong with the wave's RTO given the plan's and the earlier waves'.
pub(super) fn resolve_wave<'a>(
    scope: &mut Scope<'_>,
    w: &'a WaveFile,
    index: u32,
    defaults: &Defaults,
    claims: &mut Claims<'a>,
    check_rto: impl FnOnce(u32) -> Option<(&'static str, String)>,
) -> (WaveSpec, Option<WaveTarget>) {
    check_wave_name(scope, w, index, claims);
    let servers = w.servers.as_ref().unwrap_or(&NO_SERVERS);
    if servers.ids.is_empty() && servers.tags.is_empty() {
        scope.report(
            "servers",
            "the wave selects no servers: give servers.ids (source server IDs) and/or servers.tags",
        );
    }
    let in_wave = check_server_ids(scope, w, index, servers, claims);
    check_tags(scope, &servers.tags);
    check_optional(scope, w, index, servers, &in_wave, claims);
    let (launch_timeout_seconds, polling) = wave_limits(scope, w, defaults);
    let target = duration_seconds(scope, "", "rto", w.rto_minutes, None).and_then(|rto| {
        match check_rto(rto) {
            Some((field, message)) => {
                scope.report(field, message);
                None
            }
            None => Some(WaveTarget {
                index,
                name: w.name.clone(),
                rto_seconds: rto,
            }),
        }
    });
    let operator = operator_settings(scope, w, defaults);
    let wave = WaveSpec {
        index,
        name: w.name.clone(),
        server_ids: servers.ids.clone(),
        tags: servers.tags.clone(),
        optional: w.optional.clone(),
        launch_timeout_seconds,
        on_failure: operator.on_failure,
        polling,
        approval: operator.approval,
        max_attempts: operator.max_attempts,
        decision_timeout_seconds: operator.asks.then_some(operator.decision_timeout_seconds),
        decision_notify: operator.decision_notify,
        depends_on: None,
        account: match &w.account {
            Some(a) => account(scope, "account.", a),
            None => defaults.account.clone(),
        },
        health: match &w.health {
            Some(list) => super::health::health_checks(scope, "", list),
            None => defaults.health.clone(),
        },
        lists_recovered: false,
        pause_before_seconds: duration_seconds(
            scope,
            "",
            "pauseBefore",
            w.pause_before_minutes,
            w.pause_before_seconds,
        ),
    };
    (wave, target)
}

/// A wave's name is valid and not the name of an earlier wave.
fn check_wave_name<'a>(
    scope: &mut Scope<'_>,
    w: &'a WaveFile,
    index: u32,
    claims: &mut Claims<'a>,
) {
    if !is_name(&w.name) {
        scope.report(
            "name",
            format!(
                "{:?} is not a valid wave name: use 1 to {MAX_NAME_CHARS} letters, digits, '-' or '_'",
                w.name
            ),
        );
    } else if let Some(first) = claims.first_wave_of_name.get(w.name.as_str()) {
        scope.report(
            "name",
            format!(
                "{:?} is also the name of wave {first}: wave names must be unique",
                w.name
            ),
        );
    } else {
        claims.first_wave_of_name.insert(&w.name, index);
    }
}

/// Each ID is a source server ID, listed once in the plan; returns the wave's own IDs.
fn check_server_ids<'a>(
    scope: &mut Scope<'_>,
    w: &'a WaveFile,
    index: u32,
    servers: &'a ServersFile,
    claims: &mut Claims<'a>,
) -> BTreeSet<&'a str> {
    let mut in_wave = BTreeSet::new();
    for (k, id) in servers.ids.iter().enumerate() {
        let field = format!("servers.ids[{k}]");
        if !is_source_server_id(id) {
            scope.report(
                field,
                format!("{id:?} is not a source server ID (s- followed by 17 letters or digits)"),
            );
        } else if !in_wave.insert(id.as_str()) {
            scope.report(field, format!("{id:?} is listed twice in this wave"));
        } else if let Some((other, other_name)) = claims.owner.get(id.as_str()) {
            scope.report(
                field,
                format!("{id:?} is already in wave {other} {other_name:?}: a server may be in one wave only"),
            );
        } else {
            claims.owner.insert(id, (index, &w.name));
        }
    }
    in_wave
}

/// Tag keys and values are what DRS accepts, and no key is one AWS reserves.
fn check_tags(scope: &mut Scope<'_>, tags: &BTreeMap<String, String>) {
    for (key, value) in tags {
        let field = format!("servers.tags.{key}");
        if key.is_empty() || key.chars().count() > MAX_TAG_KEY_CHARS || !is_tag_text(key) {
            scope.report(
                field,
                format!(
                    "{key:?} is not a valid tag key: 1 to {MAX_TAG_KEY_CHARS} letters, digits, spaces or _ . : / = + - @"
                ),
            );
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            scope.report(
                field,
                format!("{key:?}: tag keys starting with aws: are reserved by AWS"),
            );
        } else if value.chars().count() > MAX_TAG_VALUE_CHARS || !is_tag_text(value) {
            scope.report(
                field,
                format!(
                    "{value:?} is not a valid tag value: at most {MAX_TAG_VALUE_CHARS} letters, digits, spaces or _ . : / = + - @"
                ),
            );
        }
    }
}

/// An optional server is one of the wave's own: listed in its IDs, or expected to carry its
/// tags (and then claimed, so that no other wave lists it).
fn check_optional<'a>(
    scope: &mut Scope<'_>,
    w: &'a WaveFile,
    index: u32,
    servers: &ServersFile,
    in_wave: &BTreeSet<&str>,
    claims: &mut Claims<'a>,
) {
    let mut optional_seen = BTreeSet::new();
    for (k, id) in w.optional.iter().enumerate() {
        let field = format!("optional[{k}]");
        if !is_source_server_id(id) {
            scope.report(
                field,
                format!("{id:?} is not a source server ID (s- followed by 17 letters or digits)"),
            );
        } else if !optional_seen.insert(id.as_str()) {
            scope.report(field, format!("{id:?} is listed twice in optional"));
        } else if in_wave.contains(id.as_str()) {
            // Selected by ID in this wave: fine.
        } else if let Some((other, other_name)) = claims.owner.get(id.as_str()) {
            scope.report(
                field,
                format!("{id:?} is in wave {other} {other_name:?}: a wave can only make its own servers optional"),
            );
        } else if servers.tags.is_empty() {
            scope.report(
                field,
                format!("{id:?} is not selected by this wave: list it in servers.ids (or select it by tags)"),
            );
        } else {
            // Expected to carry the wave's tags; preflight checks it at run time. Claim it
            // so that no other wave lists it.
            claims.owner.insert(id, (index, &w.name));
        }
    }
}

/// The wave's launch timeout and polling bounds, its own or the defaults'; a combination the
/// wave changed is checked (the defaults' own combination was checked once).
fn wave_limits(scope: &mut Scope<'_>, w: &WaveFile, defaults: &Defaults) -> (u32, PollingBounds) {
    let timeout = duration_seconds(
        scope,
        "",
        "launchTimeout",
        w.launch_timeout_minutes,
        w.launch_timeout_seconds,
    );
    let timeout_given = w.launch_timeout_minutes.is_some() || w.launch_timeout_seconds.is_some();
    let parts = polling_parts(scope, "", w.polling.as_ref());
    let polling = PollingBounds {
        min_wait_seconds: parts.min.unwrap_or(defaults.polling.min_wait_seconds),
        max_wait_seconds: parts.max.unwrap_or(defaults.polling.max_wait_seconds),
        expected_launch_seconds: parts
            .expected
            .unwrap_or(defaults.polling.expected_launch_seconds),
    };
    let launch_timeout_seconds = timeout.unwrap_or(defaults.launch_timeout_seconds);
    let overrides = timeout_given || w.polling.is_some();
    if overrides
        && !parts.broken
        && (timeout.is_some() || !timeout_given)
        && defaults.launch_timeout_ok
    {
        check_limits(scope, "", &polling, launch_timeout_seconds);
    }
    (launch_timeout_seconds, polling)
}

/// What is wrong with a wave's RTO target: later than the plan's, or sooner than an earlier
/// wave's. None when it is sound.
pub(super) fn check_wave_rto(
    rto: u32,
    plan_rto: Option<u32>,
    earlier: &[WaveTarget],
) -> Option<(&'static str, String)> {
    if let Some(plan) = plan_rto.filter(|p| rto > *p) {
        return Some((
            "rtoMinutes",
            format!(
                "{} minutes is more than the plan's rtoMinutes ({}): a wave's target counts from the execution's start, so it cannot be later than the whole plan's",
                minutes_text(rto),
                minutes_text(plan)
            ),
        ));
    }
    let earlier = earlier.iter().find(|t| t.rto_seconds > rto)?;
    Some((
        "rtoMinutes",
        format!(
            "{} minutes is less than wave {} {:?}'s rtoMinutes ({}): waves run in order, so a later wave cannot be recovered sooner",
            minutes_text(rto),
            earlier.index,
            earlier.name,
            minutes_text(earlier.rto_seconds)
        ),
    ))
}

/// What operators do in a wave: its approval gate, and with `onFailure: ask` its decision.
struct OperatorSettings {
    on_failure: OnFailure,
    /// Whether an operator may be asked: `onFailure: ask` of the wave or of an action.
    asks: bool,
    approval: Option<ApprovalGate>,
    max_attempts: u32,
    decision_timeout_seconds: u32,
    decision_notify: Option<String>,
}

/// The wave's failure policy, gate and decision; retries and a decision are refused unless an
/// operator is asked (`onFailure: ask`).
fn operator_settings(scope: &mut Scope<'_>, w: &WaveFile, defaults: &Defaults) -> OperatorSettings {
    let on_failure = w.on_failure.unwrap_or(defaults.on_failure);
    let approval = match &w.approval {
        Some(a) => approval_gate(scope, "approval.", a),
        None => defaults.approval.clone(),
    };
    let own_decision = w
        .decision
        .as_ref()
        .map(|d| decision_settings(scope, "decision.", d));
    let own_attempts = w.max_attempts.map(|n| attempts(scope, "maxAttempts", n));
    if on_failure != OnFailure::Ask
        && let Some(n) = own_attempts.filter(|n| *n > 1)
    {
        scope.report(
            "maxAttempts",
            format!(
                "{n} launches need an operator to ask for them: set onFailure: ask (it is {})",
                on_failure_name(on_failure)
            ),
        );
    }
    // An action of the wave may ask too (a wave's list replaces the default one): the
    // decision's settings are its.
    let ask = |own: &Option<Vec<super::actions::ActionFile>>, default: bool| {
        own.as_deref()
            .map_or(default, |l| super::actions::any_asks(Some(l)))
    };
    let actions_ask =
        ask(&w.before, defaults.actions_ask.0) || ask(&w.after, defaults.actions_ask.1);
    let asks = on_failure == OnFailure::Ask || actions_ask;
    if !asks && w.decision.is_some() {
        scope.report(
            "decision",
            format!(
                "a decision is asked only with onFailure: ask, of the wave or of one of its actions (it is {})",
                on_failure_name(on_failure)
            ),
        );
    }
    let (decision_timeout_seconds, decision_notify) = if asks {
        own_decision
            .or_else(|| defaults.decision.clone())
            .unwrap_or((budget::DEFAULT_GATE_TIMEOUT_SECONDS, None))
    } else {
        (budget::DEFAULT_GATE_TIMEOUT_SECONDS, None)
    };
    let max_attempts = match on_failure {
        OnFailure::Ask => own_attempts.or(defaults.max_attempts).unwrap_or(1),
        _ => 1,
    };
    OperatorSettings {
        on_failure,
        asks,
        approval,
        max_attempts,
        decision_timeout_seconds,
        decision_notify,
    }
}
