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
use drs_waves_aws::drs::native::{MAX_SERVERS_PER_STEP, MAX_STEPS};
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

/// The requests a push would send, and the losses.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// CreateRecoveryPlanRequest.
    pub plan: Value,
    /// CreateRecoveryPlanStepRequest each, without `recoveryPlanArn` (the created plan's).
    pub steps: Vec<Value>,
    pub losses: Vec<Loss>,
}

impl Export {
    /// The JSON printed on stdout.
    pub fn requests(&self) -> Value {
        json!({
            "createRecoveryPlan": self.plan,
            "createRecoveryPlanSteps": self.steps,
        })
    }
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
    let needed: usize = servers
        .iter()
        .map(|s| s.len().div_ceil(MAX_SERVERS_PER_STEP).max(1))
        .sum();
    if needed > MAX_STEPS {
        return Err(ExportError::TooManySteps { needed });
    }
    let mut steps = Vec::with_capacity(needed);
    for (wave, ids) in waves.iter().zip(&servers) {
        let parts: Vec<&[String]> = ids.chunks(MAX_SERVERS_PER_STEP).collect();
        for (k, part) in parts.iter().enumerate() {
            let name = if parts.len() == 1 {
                native_name(&wave.name)
            } else {
                format!(
                    "{} part {} of {}",
                    native_name(&wave.name),
                    k + 1,
                    parts.len()
                )
            };
            let list: Vec<Value> = (part.iter())
                .map(|id| {
                    let level = if wave.optional.contains(id) { "OPTIONAL" } else { "CRITICAL" };
                    json!({
                        "serverArn": format!("arn:aws:drs:{}:{}:source-server/{id}", target.region, target.account_id),
                        "impactLevel": level,
                    })
                })
                .collect();
            steps.push(json!({
                "stepName": name,
                "stepOrder": steps.len() + 1,
                "configuration": {"serverStepConfiguration": {"servers": list}},
            }));
        }
    }
    let mut request = json!({
        "name": native_name(&plan.spec.name),
        "tags": {"drs-waves:plan": plan.spec.name},
    });
    if let Some(d) = &plan.description {
        request["description"] = Value::from(d.chars().take(1024).collect::<String>());
    }
    Ok(Export {
        plan: request,
        steps,
        losses: losses(plan, resolved),
    })
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
