//! Validation of a parsed plan into a [`Plan`]: every default applied, every problem reported
//! at once, each naming its wave and field. The checks run in a fixed order (the plan, its
//! defaults, each wave, then what depends on all the waves), so the problems of a plan are
//! always listed in the same order.

use super::account::account;
use super::actions::{WaveActions, resolve_actions, wave_action_budget};
use super::depends::{check_rto_order, layout_warnings, resolve_dependencies};
use super::fields::{
    Scope, approval_gate, attempts, check_limits, decision_settings, duration_seconds,
    heartbeat_setting, is_name, polling_parts,
};
use super::wave::{Claims, check_wave_rto, resolve_wave};
use super::{
    DEFAULT_GATE_HEARTBEAT_SECONDS, DEFAULT_HEARTBEAT_SECONDS, DEFAULT_LAUNCH_TIMEOUT_SECONDS,
    DEFAULT_POLLING, MAX_NAME_CHARS, Plan, PlanError, PlanFile, Problem, WaveDefaults,
};
use crate::budget;
use crate::contract::{
    ApprovalGate, MAX_OUTPUT_BYTES, OnFailure, PlanSpec, PollingBounds, Targets, WaveAccount,
    WaveSpec, WaveTarget,
};

/// Room for the execution reference, the execution input and the keys around the plan.
const PREFLIGHT_INPUT_OVERHEAD_BYTES: usize = 2048;

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
    let mut actions: Vec<WaveActions> = Vec::new();
    let mut wave_targets: Vec<WaveTarget> = Vec::new();
    // A graph's waves are ordered by their dependencies, checked once those are resolved.
    let is_graph = raw.waves.iter().any(|w| w.depends_on.is_some());
    for (i, w) in raw.waves.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let mut scope = Scope::wave(&mut problems, index, &w.name);
        let earlier: &[WaveTarget] = if is_graph { &[] } else { &wave_targets };
        let (wave, target) = resolve_wave(&mut scope, w, index, &defaults, &mut claims, |rto| {
            check_wave_rto(rto, plan_rto, earlier)
        });
        let raw_defaults = raw.defaults.as_ref();
        let wave_actions = resolve_actions(
            &mut scope,
            (w.before.as_ref(), w.after.as_ref()),
            (
                raw_defaults.and_then(|d| d.before.as_ref()),
                raw_defaults.and_then(|d| d.after.as_ref()),
            ),
        );
        let mut wave = wave;
        // The after-actions get the wave's recovered servers: the check lists them.
        wave.lists_recovered = !wave_actions.after.is_empty();
        actions.push(wave_actions);
        wave_targets.extend(target);
        waves.push(wave);
    }
    let graph_problems = problems.len();
    resolve_dependencies(&mut problems, &raw.waves, &mut waves);
    let graph_sound = problems.len() == graph_problems;
    if is_graph && graph_sound {
        check_rto_order(&mut problems, &waves, &mut wave_targets);
    }

    let mut plan_scope = Scope::plan(&mut problems);
    let failback_order = failback_order(&mut plan_scope, raw);
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
            (&waves, &actions),
            heartbeat_seconds,
            timeout_override,
        );
        check_history_events(&mut plan_scope, &waves, &actions);
    }

    let spec = PlanSpec {
        name: raw.name.clone(),
        terminate_drill_instances: raw.terminate_drill_instances.unwrap_or(false),
        waves,
    };
    let warnings = if graph_sound {
        layout_warnings(&spec)
    } else {
        Vec::new()
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
        warnings,
        actions,
        failback_order,
        failback_stop_and_terminate: raw
            .failback
            .as_ref()
            .and_then(|f| f.stop_and_terminate)
            .unwrap_or(false),
        targets: Targets {
            rto_seconds: plan_rto,
            rpo_seconds: plan_rpo,
            waves: wave_targets,
        },
    })
}

/// `failback.order`: each wave by name, exactly once (its indexes in that order); without it
/// the plan's order reversed.
fn failback_order(scope: &mut Scope<'_>, raw: &super::file::PlanFile) -> Vec<u32> {
    let index_of = |name: &str| {
        raw.waves
            .iter()
            .position(|w| w.name == name)
            .map(|i| u32::try_from(i + 1).unwrap_or(u32::MAX))
    };
    let Some(order) = raw.failback.as_ref().and_then(|f| f.order.as_ref()) else {
        return (1..=u32::try_from(raw.waves.len()).unwrap_or(u32::MAX))
            .rev()
            .collect();
    };
    let mut out = Vec::with_capacity(order.len());
    for name in order {
        match index_of(name) {
            None => scope.report(
                "failback.order",
                format!("{name:?} is not a wave of the plan"),
            ),
            Some(i) if out.contains(&i) => scope.report(
                "failback.order",
                format!("wave {name:?} is named twice: every wave comes home once"),
            ),
            Some(i) => out.push(i),
        }
    }
    let missing: Vec<&str> = raw
        .waves
        .iter()
        .filter(|w| index_of(&w.name).is_some_and(|i| !out.contains(&i)))
        .map(|w| w.name.as_str())
        .collect();
    if !missing.is_empty() && out.len() == order.len() {
        scope.report(
            "failback.order",
            format!(
                "leaves out {}: every wave comes home once",
                missing.join(", ")
            ),
        );
    }
    out
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
pub(super) struct Defaults {
    pub(super) launch_timeout_seconds: u32,
    /// Whether the default launch timeout is sound (absent, or given and valid): a wave's
    /// limits are checked against it only then.
    pub(super) launch_timeout_ok: bool,
    pub(super) polling: PollingBounds,
    pub(super) on_failure: OnFailure,
    pub(super) approval: Option<ApprovalGate>,
    pub(super) decision: Option<(u32, Option<String>)>,
    pub(super) max_attempts: Option<u32>,
    pub(super) account: Option<WaveAccount>,
    pub(super) health: Vec<crate::contract::HealthCheck>,
    /// Whether a default `before` / `after` action asks an operator on failure (`onFailure:
    /// ask`): the decision's settings then apply to waves that keep the default list.
    pub(super) actions_ask: (bool, bool),
}

impl Defaults {
    pub(super) fn resolve(scope: &mut Scope<'_>, defaults: &WaveDefaults) -> Defaults {
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
            account: defaults
                .account
                .as_ref()
                .and_then(|a| account(scope, "defaults.account.", a)),
            health: defaults.health.as_ref().map_or_else(Vec::new, |list| {
                super::health::health_checks(scope, "defaults.", list)
            }),
            actions_ask: (
                super::actions::any_asks(defaults.before.as_deref()),
                super::actions::any_asks(defaults.after.as_deref()),
            ),
        }
    }
}

/// The machine's TimeoutSeconds: the plan's override (not shorter than the waves' launch
/// timeouts together), or derived from the waves and rounded up to whole minutes.
fn execution_timeout(
    scope: &mut Scope<'_>,
    raw: &PlanFile,
    (waves, actions): (&[WaveSpec], &[WaveActions]),
    heartbeat_seconds: u32,
    timeout_override: Option<u32>,
) -> u32 {
    let launch_total = budget::launch_timeouts_along_longest_path(waves);
    let along = if waves.iter().any(|w| w.depends_on.is_some()) {
        ", along the longest way through them"
    } else {
        ""
    };
    let action_seconds = |i: u32| {
        let k = usize::try_from(i.saturating_sub(1)).unwrap_or(usize::MAX);
        let decision = waves.get(k).and_then(|w| w.decision_timeout_seconds);
        actions.get(k).map_or(0, |a| {
            wave_action_budget(a, decision.unwrap_or(budget::DEFAULT_GATE_TIMEOUT_SECONDS)).0
        })
    };
    let derived = budget::derived_execution_timeout_with(waves, heartbeat_seconds, &action_seconds);
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
                    "{over} s is less than the waves' launch timeouts together ({launch_total} s{along}): the execution would time out before its waves could"
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
fn check_history_events(scope: &mut Scope<'_>, waves: &[WaveSpec], actions: &[WaveActions]) {
    let events = budget::worst_case_history_events(waves)
        + actions
            .iter()
            .zip(waves)
            .map(|(a, w)| {
                let decision = w
                    .decision_timeout_seconds
                    .unwrap_or(budget::DEFAULT_GATE_TIMEOUT_SECONDS);
                wave_action_budget(a, decision).1
            })
            .sum::<u64>();
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

/// What one recovered server costs in the execution's state when its wave has after-actions
/// (its IDs, host name, two private IPs and their keys).
pub const RECOVERED_SERVER_BYTES: usize = 260;

/// The preflight task gets the whole plan as its input; Step Functions caps a state's input
/// (and so the plan's explicit server lists), and the state carries the recovered servers of
/// the waves with after-actions (known here for waves that list their servers' IDs).
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
        return;
    }
    // A wave with after-actions keeps its recovered servers in the execution's state.
    let listing: Vec<&WaveSpec> = spec.waves.iter().filter(|w| w.lists_recovered).collect();
    let recovered: usize = listing
        .iter()
        .map(|w| w.server_ids.len() * RECOVERED_SERVER_BYTES)
        .sum();
    if size + recovered > MAX_OUTPUT_BYTES {
        let names: Vec<String> = listing
            .iter()
            .map(|w| format!("{} {:?}", w.index, w.name))
            .collect();
        problems.push(Problem {
            wave: None,
            field: "after".into(),
            message: format!(
                "the after-actions of waves {} get their recovered servers, about {recovered} bytes in the execution's state \
                 beside the plan's {size}: over Step Functions' limit of {MAX_OUTPUT_BYTES} bytes. Move the after-actions to fewer \
                 waves, or split the plan",
                names.join(", ")
            ),
        });
    }
}
