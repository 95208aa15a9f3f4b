//! Validation of a parsed plan into a [`Plan`]: every default applied, every problem reported
//! at once, each naming its wave and field. The checks run in a fixed order (the plan, its
//! defaults, each wave, then what depends on all the waves), so the problems of a plan are
//! always listed in the same order.

use std::collections::{BTreeMap, BTreeSet};

use super::fields::{
    Scope, approval_gate, attempts, check_limits, decision_settings, duration_seconds,
    heartbeat_setting, is_name, is_source_server_id, is_tag_text, minutes_text, on_failure_name,
    polling_parts,
};
use super::{
    DEFAULT_GATE_HEARTBEAT_SECONDS, DEFAULT_HEARTBEAT_SECONDS, DEFAULT_LAUNCH_TIMEOUT_SECONDS,
    DEFAULT_POLLING, MAX_NAME_CHARS, Plan, PlanError, PlanFile, Problem, ServersFile, WaveDefaults,
    WaveFile,
};
use crate::budget;
use crate::contract::{
    ApprovalGate, MAX_OUTPUT_BYTES, OnFailure, PlanSpec, PollingBounds, Targets, WaveSpec,
    WaveTarget,
};

const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;

/// Room for the execution reference, the execution input and the keys around the plan.
const PREFLIGHT_INPUT_OVERHEAD_BYTES: usize = 2048;

static NO_SERVERS: ServersFile = ServersFile {
    ids: Vec::new(),
    tags: BTreeMap::new(),
};

/// Validates a parsed plan; every problem is reported at once.
pub fn resolve(file: &str, raw: &PlanFile) -> Result<Plan, PlanError> {
    let mut problems = Vec::new();
    let mut plan_scope = Scope::plan(&mut problems);
    check_plan_name(&mut plan_scope, &raw.name);
    let tasks = raw.tasks.clone().unwrap_or_default();
    let heartbeat_seconds = heartbeat_setting(
        &mut plan_scope,
        "tasks.heartbeatSeconds",
        tasks.heartbeat_seconds,
        DEFAULT_HEARTBEAT_SECONDS,
    );
    let gate_heartbeat_seconds = heartbeat_setting(
        &mut plan_scope,
        "tasks.gateHeartbeatSeconds",
        tasks.gate_heartbeat_seconds,
        DEFAULT_GATE_HEARTBEAT_SECONDS,
    );
    let defaults = Defaults::resolve(&mut plan_scope, &raw.defaults.clone().unwrap_or_default());
    let plan_rto = duration_seconds(&mut plan_scope, "", "rto", raw.rto_minutes, None);
    let plan_rpo = duration_seconds(&mut plan_scope, "", "rpo", raw.rpo_minutes, None);
    if raw.waves.is_empty() {
        plan_scope.report(
            "waves",
            "the plan has no waves: add at least one wave with servers",
        );
    }

    let mut claims = Claims::default();
    let mut waves = Vec::new();
    let mut wave_targets: Vec<WaveTarget> = Vec::new();
    for (i, w) in raw.waves.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut scope = Scope::wave(&mut problems, index, &w.name);
        let (wave, target) = resolve_wave(&mut scope, w, index, &defaults, &mut claims, |rto| {
            check_wave_rto(rto, plan_rto, &wave_targets)
        });
        wave_targets.extend(target);
        waves.push(wave);
    }

    let mut plan_scope = Scope::plan(&mut problems);
    let timeout_override = duration_seconds(
        &mut plan_scope,
        "",
        "executionTimeout",
        raw.execution_timeout_minutes,
        raw.execution_timeout_seconds,
    );
    // What depends on every wave is checked only once the waves themselves are sound.
    let mut execution_timeout_seconds = 0;
    if plan_scope.problems.is_empty() {
        execution_timeout_seconds = execution_timeout(
            &mut plan_scope,
            raw,
            &waves,
            heartbeat_seconds,
            timeout_override,
        );
        check_history_events(&mut plan_scope, &waves);
    }

    let spec = PlanSpec {
        name: raw.name.clone(),
        terminate_drill_instances: raw.terminate_drill_instances.unwrap_or(false),
        waves,
    };
    if problems.is_empty() {
        check_preflight_input_size(&mut problems, &spec);
    }
    if !problems.is_empty() {
        return Err(PlanError::Invalid {
            file: file.to_owned(),
            problems,
        });
    }
    Ok(Plan {
        spec,
        description: raw.description.clone(),
        wave_descriptions: raw.waves.iter().map(|w| w.description.clone()).collect(),
        heartbeat_seconds,
        gate_heartbeat_seconds,
        execution_timeout_seconds,
        execution_timeout_from_plan: timeout_override.is_some(),
        targets: Targets {
            rto_seconds: plan_rto,
            rpo_seconds: plan_rpo,
            waves: wave_targets,
        },
    })
}

fn check_plan_name(scope: &mut Scope<'_>, name: &str) {
    if !is_name(name) {
        scope.report(
            "name",
            format!(
                "{name:?} is not a valid plan name: use 1 to {MAX_NAME_CHARS} letters, digits, '-' or '_' (it becomes part of resource names)"
            ),
        );
    }
}

/// The plan-wide defaults, resolved once so that a bad default is reported once, not per wave.
struct Defaults {
    launch_timeout_seconds: u32,
    /// Whether the default launch timeout is sound (absent, or given and valid): a wave's
    /// limits are checked against it only then.
    launch_timeout_ok: bool,
    polling: PollingBounds,
    on_failure: OnFailure,
    approval: Option<ApprovalGate>,
    decision: Option<(u32, Option<String>)>,
    max_attempts: Option<u32>,
}

impl Defaults {
    fn resolve(scope: &mut Scope<'_>, defaults: &WaveDefaults) -> Defaults {
        let timeout = duration_seconds(
            scope,
            "defaults.",
            "launchTimeout",
            defaults.launch_timeout_minutes,
            defaults.launch_timeout_seconds,
        );
        let parts = polling_parts(scope, "defaults.", defaults.polling.as_ref());
        let polling = PollingBounds {
            min_wait_seconds: parts.min.unwrap_or(DEFAULT_POLLING.min_wait_seconds),
            max_wait_seconds: parts.max.unwrap_or(DEFAULT_POLLING.max_wait_seconds),
            expected_launch_seconds: parts
                .expected
                .unwrap_or(DEFAULT_POLLING.expected_launch_seconds),
        };
        let launch_timeout_ok = defaults.launch_timeout_minutes.is_none()
            && defaults.launch_timeout_seconds.is_none()
            || timeout.is_some();
        let launch_timeout_seconds = timeout.unwrap_or(DEFAULT_LAUNCH_TIMEOUT_SECONDS);
        if !parts.broken && launch_timeout_ok {
            check_limits(scope, "defaults.", &polling, launch_timeout_seconds);
        }
        Defaults {
            launch_timeout_seconds,
            launch_timeout_ok,
            polling,
            on_failure: defaults.on_failure.unwrap_or_default(),
            approval: defaults
                .approval
                .as_ref()
                .and_then(|a| approval_gate(scope, "defaults.approval.", a)),
            decision: defaults
                .decision
                .as_ref()
                .map(|d| decision_settings(scope, "defaults.decision.", d)),
            max_attempts: defaults
                .max_attempts
                .map(|n| attempts(scope, "defaults.maxAttempts", n)),
        }
    }
}

/// What earlier waves have claimed, so that a later wave cannot claim it again.
#[derive(Default)]
struct Claims<'a> {
    first_wave_of_name: BTreeMap<&'a str, u32>,
    /// Server ID -> (wave index, wave name) of the first wave that lists it.
    owner: BTreeMap<&'a str, (u32, &'a str)>,
}

/// One wave, checked and with its defaults applied, and its RTO target if it sets a sound one.
/// `check_rto` says what is wrong with the wave's RTO given the plan's and the earlier waves'.
fn resolve_wave<'a>(
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
        decision_timeout_seconds: (operator.on_failure == OnFailure::Ask)
            .then_some(operator.decision_timeout_seconds),
        decision_notify: operator.decision_notify,
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
fn check_wave_rto(
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
    if on_failure != OnFailure::Ask {
        if let Some(n) = own_attempts.filter(|n| *n > 1) {
            scope.report(
                "maxAttempts",
                format!(
                    "{n} launches need an operator to ask for them: set onFailure: ask (it is {})",
                    on_failure_name(on_failure)
                ),
            );
        }
        if w.decision.is_some() {
            scope.report(
                "decision",
                format!(
                    "a decision is asked only with onFailure: ask (it is {})",
                    on_failure_name(on_failure)
                ),
            );
        }
    }
    let (decision_timeout_seconds, decision_notify) = match on_failure {
        OnFailure::Ask => own_decision
            .or_else(|| defaults.decision.clone())
            .unwrap_or((budget::DEFAULT_GATE_TIMEOUT_SECONDS, None)),
        _ => (budget::DEFAULT_GATE_TIMEOUT_SECONDS, None),
    };
    let max_attempts = match on_failure {
        OnFailure::Ask => own_attempts.or(defaults.max_attempts).unwrap_or(1),
        _ => 1,
    };
    OperatorSettings {
        on_failure,
        approval,
        max_attempts,
        decision_timeout_seconds,
        decision_notify,
    }
}

/// The machine's TimeoutSeconds: the plan's override (not shorter than the waves' launch
/// timeouts together), or derived from the waves and rounded up to whole minutes.
fn execution_timeout(
    scope: &mut Scope<'_>,
    raw: &PlanFile,
    waves: &[WaveSpec],
    heartbeat_seconds: u32,
    timeout_override: Option<u32>,
) -> u32 {
    let launch_total: u64 = waves
        .iter()
        .map(|w| u64::from(w.launch_timeout_seconds))
        .sum();
    let derived = budget::derived_execution_timeout_seconds(waves, heartbeat_seconds);
    if let Some(over) = timeout_override {
        if u64::from(over) < launch_total {
            let field = if raw.execution_timeout_minutes.is_some() {
                "executionTimeoutMinutes"
            } else {
                "executionTimeoutSeconds"
            };
            scope.report(
                field,
                format!(
                    "{over} s is less than the waves' launch timeouts together ({launch_total} s): the execution would time out before its waves could"
                ),
            );
        }
        over
    } else if derived > budget::MAX_EXECUTION_SECONDS {
        scope.report(
            "waves",
            format!(
                "the waves' launch timeouts add up to {launch_total} s, longer than a Step Functions execution may run (1 year)"
            ),
        );
        0
    } else {
        // Round up to whole minutes so the number reads well in the console.
        u32::try_from(derived.div_ceil(60) * 60).unwrap_or(u32::MAX)
    }
}

/// The worst case of the execution's history stays under Step Functions' event limit; the
/// problem names the waves that cost the most.
fn check_history_events(scope: &mut Scope<'_>, waves: &[WaveSpec]) {
    let events = budget::worst_case_history_events(waves);
    if events <= budget::HISTORY_EVENT_LIMIT {
        return;
    }
    let mut heavy: Vec<&WaveSpec> = waves.iter().collect();
    heavy.sort_by_key(|w| std::cmp::Reverse(budget::wave_history_events(w)));
    let worst: Vec<String> = heavy
        .iter()
        .take(3)
        .map(|w| {
            format!(
                "wave {} {:?} may check {} times ({} s launch timeout / {} s minWaitSeconds)",
                w.index,
                w.name,
                budget::max_checks(w),
                w.launch_timeout_seconds,
                w.polling.min_wait_seconds
            )
        })
        .collect();
    scope.report(
        "waves",
        format!(
            "in the worst case an execution would record about {events} history events, over Step Functions' limit of {} per execution \
             (each check of a launching wave costs about {} events: {}). Raise polling.minWaitSeconds, shorten launch timeouts, or split the plan",
            budget::HISTORY_EVENT_LIMIT,
            budget::EVENTS_PER_POLL_ROUND,
            worst.join("; ")
        ),
    );
}

/// The preflight task gets the whole plan as its input; Step Functions caps a state's input
/// (and so the plan's explicit server lists).
fn check_preflight_input_size(problems: &mut Vec<Problem>, spec: &PlanSpec) {
    let size =
        serde_json::to_string(spec).map(|s| s.len()).unwrap_or(0) + PREFLIGHT_INPUT_OVERHEAD_BYTES;
    if size > MAX_OUTPUT_BYTES {
        problems.push(Problem {
            wave: None,
            field: "waves".into(),
            message: format!(
                "the plan lists too many servers: the preflight task's input would be about {size} bytes, over Step Functions' \
                 limit of {MAX_OUTPUT_BYTES} bytes for a state's input. Select servers by tags instead of listing their IDs, or split the plan"
            ),
        });
    }
}
