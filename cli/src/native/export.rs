//! A drs-waves plan as the DRS recovery plan a push would create: the CreateRecoveryPlan
//! request and one CreateRecoveryPlanStep request per step, and everything that does not
//! carry over, by wave. Pure: tag selectors come already resolved (or the export is refused).
//!
//! The limits are DRS's (`drs_waves_aws::drs::native`): at most 20 steps a plan, at most 100
//! servers a SERVER step; each wave becomes as many SERVER steps as its servers need, in wave
//! order (native steps run one after another).

use std::collections::BTreeMap;

use drs_codegen::contract::{OnFailure, WaveSpec};
use drs_codegen::plan::Plan;
use drs_waves_aws::drs::native::{
    MAX_SERVERS_PER_STEP, MAX_STEPS, NativeServer, NativeStepConfig, WAIT_MINUTES,
};
use serde_json::{Value, json};

/// Where the native plan lives: every server ARN names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub account_id: String,
    pub region: String,
}

/// What does not carry over to the native plan; `wave` None is the plan as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub wave: Option<String>,
    pub what: String,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.wave {
            Some(w) => write!(f, "wave {w}: {}", self.what),
            None => write!(f, "plan: {}", self.what),
        }
    }
}

/// One step of the native plan, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportStep {
    pub name: String,
    pub config: NativeStepConfig,
}

/// The requests a push would send, and the losses.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// CreateRecoveryPlanRequest.
    pub plan: Value,
    /// The native plan's name (RecoveryPlanName).
    pub name: String,
    pub description: Option<String>,
    /// The plan's tags: `drs-waves:plan` names the drs-waves plan it came from.
    pub tags: BTreeMap<String, String>,
    pub steps: Vec<ExportStep>,
    pub losses: Vec<Loss>,
}

impl Export {
    /// The JSON printed on stdout.
    pub fn requests(&self) -> Value {
        json!({
            "createRecoveryPlan": self.plan,
            "createRecoveryPlanSteps": self.step_requests(),
        })
    }

    /// CreateRecoveryPlanStepRequest each, without `recoveryPlanArn` (the created plan's).
    pub fn step_requests(&self) -> Vec<Value> {
        (self.steps.iter().enumerate())
            .map(|(k, s)| {
                json!({
                    "stepName": s.name,
                    "stepOrder": k + 1,
                    "configuration": config_json(&s.config),
                })
            })
            .collect()
    }
}

/// RecoveryPlanStepConfiguration as DRS's JSON has it.
pub fn config_json(config: &NativeStepConfig) -> Value {
    match config {
        NativeStepConfig::Server(servers) => {
            let list: Vec<Value> = (servers.iter())
                .map(|s| {
                    let level = if s.optional { "OPTIONAL" } else { "CRITICAL" };
                    json!({"serverArn": s.server_arn, "impactLevel": level})
                })
                .collect();
            json!({"serverStepConfiguration": {"servers": list}})
        }
        NativeStepConfig::Wait { minutes } => {
            json!({"waitStepConfiguration": {"waitDurationMinutes": minutes}})
        }
    }
}

/// A pause of `seconds` as WAIT steps' minutes: rounded up to whole minutes (a WAIT step's
/// unit), at most 120 a step.
pub fn wait_steps_minutes(seconds: u32) -> Vec<u32> {
    let max = *WAIT_MINUTES.end();
    let mut left = seconds.div_ceil(60).max(1);
    let mut out = Vec::new();
    while left > 0 {
        let m = left.min(max);
        out.push(m);
        left -= m;
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error(
        "the plan needs {needed} steps after splitting its waves into steps of at most {MAX_SERVERS_PER_STEP} servers; a DRS recovery plan holds at most {MAX_STEPS}"
    )]
    TooManySteps { needed: usize },
    #[error(
        "wave(s) {0} select servers by tag: resolve them against DRS with --resolve (they are then fixed to the servers found)"
    )]
    Unresolved(String),
    #[error(
        "wave {wave} recovers servers of {place}: a DRS recovery plan recovers servers of its own account and region only"
    )]
    OtherAccount { wave: String, place: String },
}

/// RecoveryPlanName and RecoveryPlanStepName: `[a-zA-Z0-9][a-zA-Z0-9 _-]*`, 1..=256.
pub fn native_name(name: &str) -> String {
    let mut out: String = (name.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(240)
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert(0, 'w');
    }
    out
}

/// The plan as native requests. `resolved` holds, by wave index, the servers its tag
/// selectors found (`--resolve`); a wave with tags and no entry refuses the export.
pub fn export(
    plan: &Plan,
    target: &Target,
    resolved: &BTreeMap<u32, Vec<String>>,
) -> Result<Export, ExportError> {
    let waves = &plan.spec.waves;
    let unresolved: Vec<&str> = (waves.iter())
        .filter(|w| !w.tags.is_empty() && !resolved.contains_key(&w.index))
        .map(|w| w.name.as_str())
        .collect();
    if !unresolved.is_empty() {
        return Err(ExportError::Unresolved(unresolved.join(", ")));
    }
    if let Some(w) = waves.iter().find(|w| w.account.is_some()) {
        let place = w.account.as_ref().map(|a| a.describe()).unwrap_or_default();
        return Err(ExportError::OtherAccount {
            wave: w.name.clone(),
            place,
        });
    }
    let servers: Vec<Vec<String>> = (waves.iter())
        .map(|w| servers_of(w, resolved.get(&w.index)))
        .collect();
    let needed: usize = (waves.iter().zip(&servers))
        .map(|(w, s)| {
            let waits = w
                .pause_before_seconds
                .map_or(0, |p| wait_steps_minutes(p).len());
            waits + s.len().div_ceil(MAX_SERVERS_PER_STEP)
        })
        .sum();
    if needed > MAX_STEPS {
        return Err(ExportError::TooManySteps { needed });
    }
    let mut steps = Vec::with_capacity(needed);
    for (wave, ids) in waves.iter().zip(&servers) {
        steps.extend(wave_steps(wave, ids, target));
    }
    let mut request = json!({
        "name": native_name(&plan.spec.name),
        "tags": {PLAN_TAG: plan.spec.name},
    });
    if let Some(d) = &plan.description {
        request["description"] = Value::from(d.chars().take(1024).collect::<String>());
    }
    Ok(Export {
        plan: request,
        name: native_name(&plan.spec.name),
        description: plan
            .description
            .as_ref()
            .map(|d| d.chars().take(1024).collect()),
        tags: BTreeMap::from([(PLAN_TAG.to_owned(), plan.spec.name.clone())]),
        steps,
        losses: losses(plan, resolved),
    })
}

/// The tag on a native plan that names the drs-waves plan it was pushed from.
pub const PLAN_TAG: &str = "drs-waves:plan";

/// A wave's steps: its pause as WAIT steps, then its servers as SERVER steps of at most 100.
fn wave_steps(wave: &WaveSpec, ids: &[String], target: &Target) -> Vec<ExportStep> {
    let mut steps = Vec::new();
    let base = native_name(&wave.name);
    if let Some(pause) = wave.pause_before_seconds {
        let parts = wait_steps_minutes(pause);
        for (k, minutes) in parts.iter().enumerate() {
            steps.push(ExportStep {
                name: part_name(&format!("{base} pause"), k, parts.len()),
                config: NativeStepConfig::Wait { minutes: *minutes },
            });
        }
    }
    let parts: Vec<&[String]> = ids.chunks(MAX_SERVERS_PER_STEP).collect();
    for (k, part) in parts.iter().enumerate() {
        let servers = (part.iter())
            .map(|id| NativeServer {
                server_arn: format!(
                    "arn:aws:drs:{}:{}:source-server/{id}",
                    target.region, target.account_id
                ),
                optional: wave.optional.contains(id),
                job_id: None,
            })
            .collect();
        steps.push(ExportStep {
            name: part_name(&base, k, parts.len()),
            config: NativeStepConfig::Server(servers),
        });
    }
    steps
}

/// `name`, or `name part K of N` when a wave needs several steps of a kind.
fn part_name(name: &str, k: usize, of: usize) -> String {
    if of == 1 {
        name.to_owned()
    } else {
        format!("{name} part {} of {of}", k + 1)
    }
}

/// A wave's servers: its explicit IDs, then those its tags resolved to, each once.
fn servers_of(wave: &WaveSpec, resolved: Option<&Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in wave.server_ids.iter().chain(resolved.into_iter().flatten()) {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// Everything of the plan a native plan has no room for, plan first, then wave by wave.
pub fn losses(plan: &Plan, resolved: &BTreeMap<u32, Vec<String>>) -> Vec<Loss> {
    let mut out = Vec::new();
    let mut plan_loss = |what: String| out.push(Loss { wave: None, what });
    if plan.spec.terminate_drill_instances {
        plan_loss(
            "drill clean-up (terminateDrillInstances): DRS does not terminate the instances a recovery plan launches, drill instances included".into(),
        );
    }
    if let Some(rto) = plan.targets.rto_seconds {
        plan_loss(format!(
            "RTO target ({rto} s): a native plan has no targets"
        ));
    }
    if let Some(rpo) = plan.targets.rpo_seconds {
        plan_loss(format!(
            "RPO target ({rpo} s): a native plan has no targets"
        ));
    }
    if plan.execution_timeout_from_plan {
        plan_loss(format!(
            "execution timeout ({} s): a native execution has none",
            plan.execution_timeout_seconds
        ));
    }
    for (i, wave) in plan.spec.waves.iter().enumerate() {
        for what in wave_losses(plan, i, wave, resolved.get(&wave.index)) {
            out.push(Loss {
                wave: Some(wave.name.clone()),
                what,
            });
        }
    }
    out
}

fn wave_losses(
    plan: &Plan,
    i: usize,
    wave: &WaveSpec,
    resolved: Option<&Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(gate) = &wave.approval {
        out.push(format!(
            "approval gate before the wave (times out after {} s): a native plan has no gates",
            gate.timeout_seconds
        ));
    }
    match wave.on_failure {
        OnFailure::Ask => out.push(format!(
            "decision on failure (onFailure: ask, maxAttempts {}{}): a FAILED native step waits for a retry or a skip by hand, without limit or notice",
            wave.max_attempts,
            wave.decision_timeout_seconds.map(|s| format!(", times out after {s} s")).unwrap_or_default()
        )),
        OnFailure::Continue => out.push(
            "onFailure: continue: a failed CRITICAL server fails the native execution (only OPTIONAL servers may fail)".into(),
        ),
        OnFailure::Stop => {}
    }
    if let Some(pause) = wave.pause_before_seconds.filter(|p| p % 60 != 0) {
        out.push(format!(
            "pause of {pause} s rounded up to {} min: a WAIT step counts whole minutes",
            pause.div_ceil(60)
        ));
    }
    out.push(format!(
        "launch timeout ({} s): a native step has no timeout",
        wave.launch_timeout_seconds
    ));
    if let Some(actions) = plan.actions.get(i) {
        for a in actions.all() {
            let name = a
                .name
                .as_deref()
                .map(|n| format!(" {n:?}"))
                .unwrap_or_default();
            out.push(format!(
                "{:?} action {}{name} ({}): a native plan runs no actions",
                a.phase,
                a.position,
                a.kind.word()
            ));
        }
    }
    if !wave.health.is_empty() {
        out.push(format!(
            "{} health check(s): a native step is done when its servers launch",
            wave.health.len()
        ));
    }
    if let Some(rto) = plan.targets.wave_rto_seconds(wave.index) {
        out.push(format!(
            "RTO target ({rto} s): a native plan has no targets"
        ));
    }
    if let Some(deps) = &wave.depends_on {
        let waves = &plan.spec.waves;
        let names: Vec<&str> = (deps.iter())
            .filter_map(|d| {
                waves
                    .iter()
                    .find(|w| w.index == *d)
                    .map(|w| w.name.as_str())
            })
            .collect();
        out.push(format!(
            "dependsOn [{}]: native steps run one after another in wave order, never side by side",
            names.join(", ")
        ));
    }
    if !wave.tags.is_empty() {
        let tags: Vec<String> = wave.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!(
            "tag selector {{{}}} resolved once to {} server(s): servers tagged later are not recovered",
            tags.join(", "),
            resolved.map_or(0, Vec::len)
        ));
    }
    out
}
