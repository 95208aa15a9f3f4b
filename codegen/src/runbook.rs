//! The operator's runbook of a plan, rendered with tera: the waves, their servers and limits,
//! how to start a drill or a recovery, and what to watch at each step. Templates are for what
//! people read; the machine itself is built from typed structs ([`crate::generate`]).

use serde::Serialize;

use crate::budget;
use crate::contract::states::{self as names, ActionStep, WaveStep, Way};
use crate::contract::{
    ErrorName, ExecutionInput, Mode, OnFailure, RETRYABLE_STATES_ERRORS, WaveSpec, history,
};
use crate::describe::describe_selection;
use crate::plan::Plan;
use crate::plan::actions::{Action, ActionKind, WaveActions};

const TEMPLATE: &str = include_str!("../templates/runbook.md.tera");

#[derive(Debug, thiserror::Error)]
#[error("cannot render the runbook: {0}")]
pub struct RunbookError(String);

#[derive(Serialize)]
struct WaveView {
    index: u32,
    name: String,
    description: Option<String>,
    selection: String,
    ids: Vec<String>,
    tags: Vec<String>,
    optional: Vec<String>,
    launch_timeout: String,
    polling: String,
    expected_launch: String,
    on_failure: &'static str,
    on_failure_text: String,
    /// The approval gate, in words; empty without one.
    approval: String,
    /// The pause before the wave, in words; empty without one.
    pause: String,
    /// The wave's actions, one line each, in order.
    before: Vec<String>,
    after: Vec<String>,
    /// Each health check, in words; empty without checks.
    health: Vec<String>,
    states: WaveStates,
}

#[derive(Serialize)]
struct WaveStates {
    /// The approval gate's state; empty without one.
    approve: String,
    /// The decision's state; empty unless `onFailure: ask`.
    decide: String,
    start: String,
    wait: String,
    check: String,
    done: String,
    failed: String,
    /// The health checks' task and verdict; empty without checks.
    health_check: String,
    healthy: String,
}

#[derive(Serialize)]
struct ErrorRow {
    name: &'static str,
    retried: &'static str,
    meaning: &'static str,
}

/// One action as the runbook lists it: its state, what it runs, its limit, its policy.
fn action_line(w: &WaveSpec, a: &Action) -> String {
    let state = names::action(
        w.index,
        &w.name,
        a.phase,
        a.position,
        a.name.as_deref(),
        ActionStep::Run,
    );
    let what = match &a.kind {
        ActionKind::StateMachine { arn, .. } => {
            format!("runs the state machine `{arn}` to its end")
        }
        ActionKind::Lambda { function, .. } => format!("invokes the Lambda function `{function}`"),
        ActionKind::SsmAutomation { document, .. } => {
            format!(
                "runs the SSM Automation document `{document}`, looked at every 30 s until it ends"
            )
        }
        ActionKind::Notify { topic, .. } => format!("publishes a message to `{topic}`"),
        ActionKind::RecoverNetwork { source_networks } => format!(
            "recovers the DRS source network{} `{}` (StartSourceNetworkRecovery: each VPC as a CloudFormation stack, in the wave's account), its job checked by the worker every {} s until every network is LAUNCHED; its job ID is in the execution's state and the history",
            if source_networks.len() == 1 { "" } else { "s" },
            source_networks.join("`, `"),
            crate::contract::network::NETWORK_POLL_SECONDS
        ),
    };
    let policy = match a.on_failure {
        OnFailure::Continue => {
            "a failure shows in the execution's event history and the run goes on (onFailure: continue)"
        }
        OnFailure::Stop => "a failure stops the execution (DrsWaves.ActionFailed names the action)",
        OnFailure::Ask => {
            "a failure asks an operator (`drs-waves decide <execution> retry|skip|stop --wave N`: retry runs the action again, skip goes on without it)"
        }
    };
    let modes: Vec<&str> = a.modes.iter().map(|m| m.as_str()).collect();
    let mode = match (a.only_mode(Way::Out), a.runs_on(Way::Home)) {
        (None, false) => String::new(),
        (Some(m), false) => format!("; only in a {} execution", m.as_str()),
        _ => format!("; in a {} execution", modes.join(" or ")),
    };
    format!(
        "**{state}**: {what}; at most {}; {policy}{mode}.",
        human_duration(a.timeout_seconds)
    )
}

/// What each error means to an operator. Exhaustive, so a new error needs a line here.
fn meaning(error: ErrorName) -> &'static str {
    match error {
        ErrorName::InvalidInput => {
            "The execution input is malformed. Start again with one of the inputs above."
        }
        ErrorName::RecoveryNotConfirmed => {
            "A RECOVERY without `confirm` naming the plan. Nothing was launched."
        }
        ErrorName::PreflightFailed => {
            "Servers unknown, without a recovery snapshot (at or before the point in time), not replicating (a DRILL), already in an active job, or the plan exceeds DRS quotas. Nothing was launched."
        }
        ErrorName::PlanAlreadyRunning => {
            "Another execution of this plan holds the run lock. Wait for it or stop it."
        }
        ErrorName::QuotaExceeded => {
            "DRS refused a job for a quota at launch time. Raise the quota or split the wave."
        }
        ErrorName::WaveFailed => {
            "A required server failed to launch, or the wave ran past its launch timeout. The cause names the wave."
        }
        ErrorName::Throttled => "DRS or DynamoDB throttled the worker.",
        ErrorName::Transient => "A 5xx, a network failure or a lost race with a retried task.",
        ErrorName::AccessDenied => "The worker lacks a permission. Fix its IAM role.",
        ErrorName::Internal => {
            "An answer the worker could not make sense of, or a bug. Report it with the cause."
        }
        ErrorName::Preempted => {
            "This DRILL was stopped by a RECOVERY of the same plan, which terminated its drill instances."
        }
        ErrorName::ReplicationLost => {
            "A DRILL's required servers stopped replicating after preflight (the source site went down?). If it is a disaster, start a RECOVERY."
        }
        ErrorName::Cancelled => {
            "An operator cancelled the execution (`drs-waves cancel`); the cause names who. A drill's instances were terminated, a recovery's kept."
        }
        ErrorName::StoppedByOperator => {
            "An operator answered an approval gate or a decision with stop; cleaned up as a cancel."
        }
        ErrorName::GateTimedOut => {
            "An approval gate or a decision got no answer within its timeout; no later wave started. The cause names the gate."
        }
        ErrorName::ExecutionClosed => {
            "A task ran for an execution whose record was already closed (a console Redrive, or a drill preempted by a RECOVERY): nothing was launched and the record was left as it was. Start a new execution instead of redriving."
        }
    }
}

/// Seconds as an operator reads them: `45 s`, `2 min`, `1 h 30 min` (the contract's rule, the
/// one the worker, the report and the CLI use).
pub fn human_duration(seconds: u32) -> String {
    crate::contract::clock::human_seconds(u64::from(seconds))
}

/// One wave as the runbook shows it: its servers, limits and failure policy in words, and the
/// names of its states.
fn wave_view(w: &WaveSpec, description: Option<String>, actions: Option<&WaveActions>) -> WaveView {
    let p = &w.polling;
    let polling = if p.min_wait_seconds == p.max_wait_seconds {
        human_duration(p.min_wait_seconds)
    } else {
        format!(
            "{} to {}",
            human_duration(p.min_wait_seconds),
            human_duration(p.max_wait_seconds)
        )
    };
    let state = |step| names::wave(w.index, &w.name, step);
    WaveView {
        index: w.index,
        name: w.name.clone(),
        description,
        selection: describe_selection(w),
        ids: w.server_ids.clone(),
        tags: w.tags.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        optional: w.optional.clone(),
        launch_timeout: human_duration(w.launch_timeout_seconds),
        polling,
        expected_launch: human_duration(p.expected_launch_seconds),
        on_failure: match w.on_failure {
            OnFailure::Stop => "stop",
            OnFailure::Continue => "continue",
            OnFailure::Ask => "ask",
        },
        on_failure_text: match w.on_failure {
            OnFailure::Stop => "stop: the execution fails and later waves never start.".to_owned(),
            OnFailure::Continue => {
                "continue: the failure is recorded and the next wave starts.".to_owned()
            }
            OnFailure::Ask => format!(
                "ask: the execution waits up to {} for `drs-waves decide <execution> retry|skip|stop` \
                 (retry launches again the required servers that did not launch; at most {} launch(es) in all).",
                human_duration(
                    w.decision_timeout_seconds
                        .unwrap_or(crate::budget::DEFAULT_GATE_TIMEOUT_SECONDS)
                ),
                w.max_attempts
            ),
        },
        before: actions.map_or_else(Vec::new, |a| {
            a.before.iter().map(|a| action_line(w, a)).collect()
        }),
        after: actions.map_or_else(Vec::new, |a| {
            a.after.iter().map(|a| action_line(w, a)).collect()
        }),
        pause: w
            .pause_before_seconds
            .map(|s| {
                format!(
                    "{} after the waves it waits for end, before anything else of the wave (state `{}`; a cancel ends it at once)",
                    human_duration(s),
                    state(WaveStep::Pause)
                )
            })
            .unwrap_or_default(),
        approval: w
            .approval
            .as_ref()
            .map(|a| {
                format!(
                    "waits up to {} for `drs-waves approve <execution>` before it starts{}",
                    human_duration(a.timeout_seconds),
                    a.notify
                        .as_deref()
                        .map(|t| format!(" (notifies {t})"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        health: w
            .health
            .iter()
            .map(|c| {
                format!(
                    "{}: must pass within {}, probed every {}",
                    c.probe,
                    human_duration(c.timeout_seconds),
                    human_duration(c.interval_seconds)
                )
            })
            .collect(),
        states: WaveStates {
            approve: if w.approval.is_some() {
                state(WaveStep::Approve)
            } else {
                String::new()
            },
            decide: if w.on_failure == OnFailure::Ask {
                state(WaveStep::Decide)
            } else {
                String::new()
            },
            start: state(WaveStep::Start),
            wait: state(WaveStep::Wait),
            check: state(WaveStep::Check),
            done: state(WaveStep::Done),
            failed: state(WaveStep::Failed),
            health_check: if w.health.is_empty() {
                String::new()
            } else {
                state(WaveStep::HealthCheck)
            },
            healthy: if w.health.is_empty() {
                String::new()
            } else {
                state(WaveStep::Healthy)
            },
        },
    }
}

/// For a plan with `dependsOn`: what each wave waits for, and the layout's warnings. Empty for
/// a plan whose waves run in order (its runbook reads as it always has).
fn order_view(plan: &Plan) -> Vec<String> {
    let spec = &plan.spec;
    if !spec.is_graph() {
        return Vec::new();
    }
    let name = |i: u32| {
        spec.waves
            .iter()
            .find(|w| w.index == i)
            .map_or_else(String::new, |w| format!("{i} {}", w.name))
    };
    let mut lines: Vec<String> = spec
        .waves
        .iter()
        .map(|w| {
            let deps = spec.dependencies(w.index);
            let waits = if deps.is_empty() {
                "starts as soon as preflight has passed".to_owned()
            } else {
                let list: Vec<String> = deps.iter().map(|&d| name(d)).collect();
                format!("starts when wave {} ended", list.join(" and wave "))
            };
            format!("Wave {} {}: {waits}.", w.index, w.name)
        })
        .collect();
    lines.extend(plan.warnings.iter().map(|p| format!("Note: {p}.")));
    lines
}

/// Each wave that names an account or region, as `wave | account | region | role`.
fn accounts_view(spec: &crate::contract::PlanSpec) -> Vec<[String; 4]> {
    spec.waves
        .iter()
        .filter_map(|w| {
            let a = w.account.as_ref()?;
            Some([
                format!("{} {}", w.index, w.name),
                a.account_id().unwrap_or("this account").to_owned(),
                a.region.clone().unwrap_or_else(|| "this region".to_owned()),
                match (&a.role_arn, &a.external_id) {
                    (Some(r), Some(_)) => format!("`{r}` (with an external ID)"),
                    (Some(r), None) => format!("`{r}`"),
                    (None, _) => "the worker's own".to_owned(),
                },
            ])
        })
        .collect()
}

/// Renders the runbook of a validated plan.
/// The way home: the waves in the order a FAILBACK brings them (by their start state), its
/// input, and what becomes of the instances that came home.
fn insert_failback(ctx: &mut tera::Context, plan: &Plan) {
    let spec = &plan.spec;
    let home: Vec<String> = plan
        .failback_order
        .iter()
        .filter_map(|i| spec.waves.iter().find(|w| w.index == *i))
        .map(|w| {
            crate::contract::states::failback_wave(
                w.index,
                &w.name,
                crate::contract::states::WaveStep::Start,
            )
        })
        .collect();
    ctx.insert("failback_order", &home);
    let input = ExecutionInput {
        recovery: None,
        mode: crate::contract::Mode::Failback,
        confirm: Some(spec.name.clone()),
        point_in_time: None,
        started_by: None,
    };
    ctx.insert(
        "failback_input",
        &serde_json::to_string(&input).unwrap_or_default(),
    );
    ctx.insert(
        "failback_stop_and_terminate",
        &plan.failback_stop_and_terminate,
    );
}

pub fn render(plan: &Plan) -> Result<String, RunbookError> {
    let spec = &plan.spec;
    let waves: Vec<WaveView> = spec
        .waves
        .iter()
        .zip(&plan.wave_descriptions)
        .enumerate()
        .map(|(k, (w, description))| wave_view(w, description.clone(), plan.actions.get(k)))
        .collect();

    let input = |mode, confirm: Option<&str>| {
        serde_json::to_string(&ExecutionInput {
            recovery: None,
            mode,
            confirm: confirm.map(str::to_owned),
            point_in_time: None,
            started_by: None,
        })
        .unwrap_or_default()
    };
    let mut ctx = tera::Context::new();
    ctx.insert(
        "plan",
        &serde_json::json!({"name": spec.name, "description": plan.description.as_deref().map(str::trim)}),
    );
    ctx.insert("waves", &waves);
    ctx.insert("order", &order_view(plan));
    insert_failback(&mut ctx, plan);
    ctx.insert("accounts", &accounts_view(spec));
    ctx.insert("heartbeat", &human_duration(plan.heartbeat_seconds));
    ctx.insert(
        "execution_timeout",
        &human_duration(plan.execution_timeout_seconds),
    );
    ctx.insert(
        "execution_timeout_from_plan",
        &plan.execution_timeout_from_plan,
    );
    ctx.insert("terminate_drill_instances", &spec.terminate_drill_instances);
    let targets = &plan.targets;
    ctx.insert(
        "targets",
        &serde_json::json!({
            "any": !targets.is_empty(),
            "rto": targets.rto_seconds.map(human_duration),
            "rpo": targets.rpo_seconds.map(human_duration),
            "waves": targets.waves.iter().map(|t| serde_json::json!({
                "index": t.index, "name": t.name, "rto": human_duration(t.rto_seconds),
            })).collect::<Vec<_>>(),
        }),
    );
    ctx.insert("drill_input", &input(Mode::Drill, None));
    ctx.insert("recovery_input", &input(Mode::Recovery, Some(&spec.name)));
    ctx.insert(
        "point_in_time_input",
        &serde_json::to_string(&ExecutionInput {
            recovery: None,
            mode: Mode::Recovery,
            confirm: Some(spec.name.clone()),
            point_in_time: Some("2026-11-27T03:00:00Z".into()),
            started_by: None,
        })
        .unwrap_or_default(),
    );
    ctx.insert(
        "states",
        &serde_json::json!({
            "check_input": names::CHECK_INPUT,
            "recovery_not_confirmed": names::RECOVERY_NOT_CONFIRMED,
            "which_way": names::WHICH_WAY,
            "input_rejected": names::INPUT_REJECTED,
            "point_in_time_rejected": names::POINT_IN_TIME_REJECTED,
            "preflight": names::PREFLIGHT,
            "finish": names::FINISH,
            "succeeded": names::SUCCEEDED,
            "record_failure": names::RECORD_FAILURE,
            "failed": names::FAILED,
            "failed_without_cause": names::FAILED_WITHOUT_CAUSE,
        }),
    );
    ctx.insert(
        "errors",
        &serde_json::json!({
            "already_running": ErrorName::PlanAlreadyRunning.as_str(),
            "preflight_failed": ErrorName::PreflightFailed.as_str(),
        }),
    );
    let error_table: Vec<ErrorRow> = ErrorName::ALL
        .into_iter()
        .map(|e| ErrorRow {
            name: e.as_str(),
            retried: if e.retryable() { "yes" } else { "no" },
            meaning: meaning(e),
        })
        .collect();
    ctx.insert("error_table", &error_table);
    ctx.insert("retryable_states_errors", &RETRYABLE_STATES_ERRORS);
    ctx.insert("retry_attempts", &budget::RETRY_MAX_ATTEMPTS);
    ctx.insert("history_table", crate::contract::DEFAULT_HISTORY_TABLE);
    ctx.insert(
        "history_keys",
        &format!("{} = EXEC#<execution ARN>", history::PARTITION_KEY),
    );
    ctx.insert("status_index", history::STATUS_INDEX);

    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_template("runbook.md", TEMPLATE)
        .map_err(|e| RunbookError(format!("{e:?}")))?;
    tera.render("runbook.md", &ctx)
        .map_err(|e| RunbookError(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human_duration(0), "0 s");
        assert_eq!(human_duration(45), "45 s");
        assert_eq!(human_duration(120), "2 min");
        assert_eq!(human_duration(5400), "1 h 30 min");
        assert_eq!(human_duration(3661), "1 h 1 min 1 s");
    }

    #[test]
    fn the_runbook_names_waves_servers_limits_and_inputs() {
        let plan = crate::plan::load_str(
            "p.plan.yaml",
            "name: shop\nwaves:\n  - name: db\n    servers: {ids: [s-a1b2c3d4e5f600001], tags: {Tier: db}}\n    optional: [s-a1b2c3d4e5f600001]\n    launchTimeoutMinutes: 2\n    onFailure: continue\n    polling: {minWaitSeconds: 5, maxWaitSeconds: 5, expectedLaunchSeconds: 60}\n",
        )
        .expect("valid plan");
        let text = render(&plan).expect("render");
        for needle in [
            "# Runbook: recovery plan `shop`",
            "| 1 | db | 1 server(s) by ID and servers tagged Tier=db; 1 optional | 1 | 2 min | 5 s | continue |",
            "Servers by ID (1): s-a1b2c3d4e5f600001",
            "Servers tagged: Tier=db",
            "Optional (their failure does not fail the wave): s-a1b2c3d4e5f600001",
            r#"{"mode":"DRILL"}"#,
            r#"{"mode":"RECOVERY","confirm":"shop"}"#,
            "**Wave 1 db: start**",
            "failed is recorded and the next step runs",
            "`DrsWaves.WaveFailed`",
        ] {
            assert!(text.contains(needle), "runbook lacks {needle:?}:\n{text}");
        }
    }

    #[test]
    fn the_runbook_lists_a_waves_health_checks_and_their_states() {
        let plan = crate::plan::load_str(
            "p.plan.yaml",
            "name: shop\nwaves:\n  - name: app\n    onFailure: ask\n    servers: {tags: {Tier: app}}\n    health:\n      - http: {url: \"http://{privateIp}:8080/health\"}\n        timeoutMinutes: 5\n        intervalSeconds: 10\n",
        )
        .expect("valid plan");
        let text = render(&plan).expect("render");
        for needle in [
            "- Health checks (HTTP and TCP from the worker, inside the VPC; alarms read by Step Functions;\n  the wave is done only when all pass):",
            "  - http http://{privateIp}:8080/health expects 2xx: must pass within 5 min, probed every 10 s",
            "4. **Wave 1 app: health check** / **Wave 1 app: healthy?**",
            "`retry` runs the checks again and launches nothing",
        ] {
            assert!(text.contains(needle), "runbook lacks {needle:?}:\n{text}");
        }
    }
}
