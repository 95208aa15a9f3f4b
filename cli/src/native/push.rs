//! `native push`: make a DRS recovery plan hold the steps an export says, and nothing else.
//!
//! [`changes`] is pure: the plan as DRS has it (or none) against the export gives the calls,
//! in the order they must be made. Steps are matched by name (export names them after their
//! wave); a step whose configuration differs is updated in place, a missing one created, an
//! extra one deleted, and the plan reordered only when the order that results is not the
//! export's. Deletions come first so that the plan never holds more than 20 steps on the way.
//! A plan that already matches gives no change: a second push changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_aws::drs::native::{NativePlan, NativeStep, NativeStepConfig, RecoveryPlans};

use super::export::{Export, ExportStep};
use crate::error::CliError;

/// One call of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreatePlan {
        name: String,
    },
    DeleteStep {
        arn: String,
        name: String,
    },
    UpdateStep {
        arn: String,
        step: ExportStep,
        what: String,
    },
    CreateStep {
        step: ExportStep,
    },
    /// Every step's name, in the export's order.
    Reorder {
        names: Vec<String>,
    },
}

impl Change {
    /// The call, as `--dry-run` prints it.
    pub fn call(&self) -> String {
        match self {
            Change::CreatePlan { name } => format!("CreateRecoveryPlan {name:?}"),
            Change::DeleteStep { arn, name } => {
                format!("DeleteRecoveryPlanStep {name:?} ({arn})")
            }
            Change::UpdateStep { arn, step, what } => {
                format!("UpdateRecoveryPlanStep {:?} ({arn}): {what}", step.name)
            }
            Change::CreateStep { step } => format!(
                "CreateRecoveryPlanStep {:?}: {}",
                step.name,
                describe(&step.config)
            ),
            Change::Reorder { names } => {
                format!("ReorderRecoveryPlanSteps [{}]", names.join(", "))
            }
        }
    }
}

/// `SERVER, 3 servers (1 OPTIONAL)` or `WAIT 10 min`.
pub fn describe(config: &NativeStepConfig) -> String {
    match config {
        NativeStepConfig::Server(servers) => {
            let optional = servers.iter().filter(|s| s.optional).count();
            format!(
                "SERVER, {} server(s){}",
                servers.len(),
                if optional > 0 {
                    format!(" ({optional} OPTIONAL)")
                } else {
                    String::new()
                }
            )
        }
        NativeStepConfig::Wait { minutes } => format!("WAIT {minutes} min"),
    }
}

/// What differs between two configurations, in words; None when they are the same (a
/// SERVER step's servers compared as a set: DRS runs them in parallel).
pub fn difference(have: &NativeStepConfig, want: &NativeStepConfig) -> Option<String> {
    match (have, want) {
        (NativeStepConfig::Server(a), NativeStepConfig::Server(b)) => {
            let level = |s: &[drs_waves_aws::drs::native::NativeServer]| -> BTreeMap<String, bool> {
                s.iter()
                    .map(|x| (x.server_arn.clone(), x.optional))
                    .collect()
            };
            let (a, b) = (level(a), level(b));
            if a == b {
                return None;
            }
            let added = b.keys().filter(|k| !a.contains_key(*k)).count();
            let removed = a.keys().filter(|k| !b.contains_key(*k)).count();
            let relevelled = (b.iter())
                .filter(|(k, v)| a.get(*k).is_some_and(|o| o != *v))
                .count();
            Some(format!(
                "servers +{added} -{removed}, {relevelled} impact level(s) changed"
            ))
        }
        (NativeStepConfig::Wait { minutes: a }, NativeStepConfig::Wait { minutes: b }) => {
            (a != b).then(|| format!("WAIT {a} -> {b} min"))
        }
        (a, b) => Some(format!("{} -> {}", describe(a), describe(b))),
    }
}

/// The calls that make `existing` (None: no plan of that name yet) what `export` says.
pub fn changes(existing: Option<&[NativeStep]>, export: &Export) -> Vec<Change> {
    let mut out = Vec::new();
    let Some(steps) = existing else {
        out.push(Change::CreatePlan {
            name: export.name.clone(),
        });
        out.extend((export.steps.iter()).map(|s| Change::CreateStep { step: s.clone() }));
        return out;
    };
    let wanted: BTreeSet<&str> = export.steps.iter().map(|s| s.name.as_str()).collect();
    let mut kept: BTreeMap<&str, &NativeStep> = BTreeMap::new();
    let mut ordered = steps.to_vec();
    ordered.sort_by_key(|s| s.order);
    for s in &ordered {
        // A name DRS holds twice keeps its first step; the others go.
        if wanted.contains(s.name.as_str()) && !kept.contains_key(s.name.as_str()) {
            kept.insert(&s.name, s);
        } else {
            out.push(Change::DeleteStep {
                arn: s.arn.clone(),
                name: s.name.clone(),
            });
        }
    }
    let mut order_after: Vec<&str> = (ordered.iter())
        .filter(|s| kept.get(s.name.as_str()).is_some_and(|k| k.arn == s.arn))
        .map(|s| s.name.as_str())
        .collect();
    let mut creates = Vec::new();
    for step in &export.steps {
        match kept.get(step.name.as_str()) {
            Some(have) => {
                if let Some(what) = difference(&have.config, &step.config) {
                    out.push(Change::UpdateStep {
                        arn: have.arn.clone(),
                        step: step.clone(),
                        what,
                    });
                }
            }
            None => {
                order_after.push(&step.name);
                creates.push(Change::CreateStep { step: step.clone() });
            }
        }
    }
    out.extend(creates);
    let names: Vec<String> = export.steps.iter().map(|s| s.name.clone()).collect();
    if order_after != names {
        out.push(Change::Reorder { names });
    }
    out
}

/// The native plan of that name, if DRS has one; two of the same name is an error.
pub async fn find_plan(
    drs: &impl RecoveryPlans,
    name: &str,
) -> Result<Option<NativePlan>, CliError> {
    let plans = drs.list_recovery_plans().await.map_err(aws)?;
    let mut found = plans
        .into_iter()
        .filter(|p| p.name == name || p.arn == name);
    let first = found.next();
    if let Some(other) = found.next() {
        return Err(CliError::Usage(format!(
            "DRS has more than one recovery plan named {name:?} ({} and {}): name one by its ARN",
            first.map(|p| p.arn).unwrap_or_default(),
            other.arn
        )));
    }
    Ok(first)
}

pub(super) fn aws(e: drs_waves_aws::AwsError) -> CliError {
    CliError::Aws(e.to_string())
}

/// Makes the calls, in order; returns the plan's ARN. A failed call stops the push (what was
/// done stays done: a second push picks up from there).
pub async fn apply(
    drs: &impl RecoveryPlans,
    plan: Option<&NativePlan>,
    export: &Export,
    calls: &[Change],
    mut said: impl FnMut(&Change),
) -> Result<String, CliError> {
    let mut plan_arn = plan.map(|p| p.arn.clone()).unwrap_or_default();
    let mut arns: BTreeMap<String, String> = BTreeMap::new();
    if plan.is_some() {
        for s in drs.list_recovery_plan_steps(&plan_arn).await.map_err(aws)? {
            arns.entry(s.name.clone()).or_insert(s.arn);
        }
    }
    for call in calls {
        match call {
            Change::CreatePlan { name } => {
                let created = drs
                    .create_recovery_plan(name, export.description.as_deref(), export.tags.clone())
                    .await
                    .map_err(aws)?;
                plan_arn = created.arn;
            }
            Change::DeleteStep { arn, name } => {
                drs.delete_recovery_plan_step(arn).await.map_err(aws)?;
                if arns.get(name) == Some(arn) {
                    arns.remove(name);
                }
            }
            Change::UpdateStep { arn, step, .. } => {
                drs.update_recovery_plan_step(arn, &step.name, &step.config)
                    .await
                    .map_err(aws)?;
            }
            Change::CreateStep { step } => {
                let created = drs
                    .create_recovery_plan_step(&plan_arn, &step.name, None, &step.config)
                    .await
                    .map_err(aws)?;
                arns.insert(step.name.clone(), created.arn);
            }
            Change::Reorder { names } => {
                let ordered = (names.iter())
                    .map(|n| arns.get(n).cloned())
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| {
                        CliError::Other("a step to reorder has no ARN: push again".into())
                    })?;
                drs.reorder_recovery_plan_steps(&plan_arn, ordered)
                    .await
                    .map_err(aws)?;
            }
        }
        said(call);
    }
    Ok(plan_arn)
}
