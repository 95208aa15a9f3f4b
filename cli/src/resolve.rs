//! Finding plans (their state machines) and executions in Step Functions.

use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use drs_waves_aws::sfn::HistoryRead;
use drs_waves_contract::PlanSpec;
use serde_json::Value;
use time::OffsetDateTime;

use crate::aws::Aws;
use crate::error::{self, CliError};
use crate::names::{self, ExecutionRef};

/// A deployed plan: the state machine `<prefix>-<plan>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    pub machine_name: String,
    pub machine_arn: String,
}

/// An execution, as DescribeExecution has it.
#[derive(Debug, Clone)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub plan: String,
    pub machine_arn: String,
    pub status: SfnStatus,
    pub started_at: OffsetDateTime,
    pub stopped_at: Option<OffsetDateTime>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Every plan deployed with `prefix`, by name.
pub async fn list_plans(aws: &Aws) -> Result<Vec<Plan>, CliError> {
    let mut plans = Vec::new();
    let mut pages = aws
        .sfn
        .list_state_machines()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| error::sdk("states:ListStateMachines", &e))?;
        for m in page.state_machines() {
            if let Some(plan) = names::plan_of_machine(&aws.prefix, m.name()) {
                plans.push(Plan {
                    name: plan.to_string(),
                    machine_name: m.name().to_string(),
                    machine_arn: m.state_machine_arn().to_string(),
                });
            }
        }
    }
    plans.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(plans)
}

/// The plan named `name`, or an error listing the close names.
pub async fn find_plan(aws: &Aws, name: &str) -> Result<Plan, CliError> {
    let plans = list_plans(aws).await?;
    if let Some(p) = plans.iter().find(|p| p.name == name) {
        return Ok(p.clone());
    }
    Err(unknown_plan(&aws.prefix, name, &plans))
}

pub fn unknown_plan(prefix: &str, name: &str, plans: &[Plan]) -> CliError {
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    if names.is_empty() {
        return CliError::NotFound(format!(
            "unknown plan {name:?}: no plan is deployed with the prefix {prefix:?} (no state machine named {prefix}-<plan>); set --prefix or DRS_WAVES_PREFIX to your deployment's prefix"
        ));
    }
    let close = names::close_names(name, &names);
    let hint = if close.is_empty() {
        format!("the deployed plans are {}", names.join(", "))
    } else {
        format!("did you mean {}?", close.join(", "))
    };
    CliError::NotFound(format!("unknown plan {name:?}: {hint}"))
}

/// The plan a state machine runs, from its definition (preflight's `plan` parameter).
pub async fn plan_spec(aws: &Aws, machine_arn: &str) -> Result<Option<PlanSpec>, CliError> {
    Ok(deployed_plan(aws, machine_arn).await?.spec)
}

/// What a start needs to know of the plan compiled into a machine.
#[derive(Debug, Default)]
pub struct DeployedPlan {
    pub spec: Option<PlanSpec>,
    /// The recovery point objective (`rpoMinutes`, in seconds), if the plan sets one.
    pub rpo_seconds: Option<u32>,
    /// The plan's `failback` settings (a FAILBACK that terminates asks more of the operator).
    pub failback: drs_waves_contract::FailbackSettings,
}

/// The plan compiled into a machine, its RPO and its failback settings.
pub async fn deployed_plan(aws: &Aws, machine_arn: &str) -> Result<DeployedPlan, CliError> {
    let out = aws
        .sfn
        .describe_state_machine()
        .state_machine_arn(machine_arn)
        .send()
        .await
        .map_err(|e| error::sdk("states:DescribeStateMachine", &e))?;
    let (_, targets) = drs_waves_report::plan_and_targets(out.definition());
    let failback = drs_waves_contract::definition::PreflightParameters::read(out.definition())
        .map(|p| p.failback())
        .unwrap_or_default();
    Ok(DeployedPlan {
        spec: plan_of_definition(out.definition()),
        rpo_seconds: targets.and_then(|t| t.rpo_seconds),
        failback,
    })
}

/// Preflight's `plan` parameter in a machine's definition (the generator writes it as a
/// constant), if the definition is a drs-waves machine.
pub fn plan_of_definition(definition: &str) -> Option<PlanSpec> {
    let def: Value = serde_json::from_str(definition).ok()?;
    def.get("States")?
        .as_object()?
        .values()
        .filter_map(|s| s.get("Parameters")?.get("plan"))
        .find_map(|p| serde_json::from_value(p.clone()).ok())
}

/// Finds the execution an operator named (ARN, name, or `PLAN:latest`).
pub async fn execution(aws: &Aws, text: &str) -> Result<Execution, CliError> {
    match names::parse_execution_ref(text) {
        ExecutionRef::Arn(arn) => describe(aws, &arn).await?.ok_or_else(|| {
            CliError::NotFound(format!(
                "no execution {arn}: check the ARN (and AWS_REGION), or name it by its name or PLAN:latest"
            ))
        }),
        ExecutionRef::Latest(plan) => {
            let p = find_plan(aws, &plan).await?;
            let page = aws
                .sfn
                .list_executions()
                .state_machine_arn(&p.machine_arn)
                .max_results(1)
                .send()
                .await
                .map_err(|e| error::sdk("states:ListExecutions", &e))?;
            let newest = page
                .executions()
                .iter()
                .max_by_key(|e| e.start_date().secs())
                .ok_or_else(|| {
                    CliError::NotFound(format!(
                        "plan {plan} has no execution yet: start one with `drs-waves start {plan} --drill`"
                    ))
                })?;
            describe(aws, newest.execution_arn()).await?.ok_or_else(|| {
                CliError::NotFound(format!("the newest execution of {plan} is gone"))
            })
        }
        ExecutionRef::Name(name) => by_name(aws, &name).await,
    }
}

async fn by_name(aws: &Aws, name: &str) -> Result<Execution, CliError> {
    let plans = list_plans(aws).await?;
    if plans.is_empty() {
        return Err(unknown_plan(&aws.prefix, "", &plans));
    }
    let lookups = plans.iter().filter_map(|p| {
        let arn = names::execution_arn(&p.machine_arn, name)?;
        Some(async move { describe(aws, &arn).await })
    });
    let mut found = Vec::new();
    for r in futures::future::join_all(lookups).await {
        if let Some(e) = r? {
            found.push(e);
        }
    }
    match found.len() {
        1 => return Ok(found.remove(0)),
        0 => {}
        _ => {
            let arns: Vec<String> = found.iter().map(|e| e.arn.clone()).collect();
            return Err(CliError::NotFound(format!(
                "{name:?} names an execution of several plans: use one of the ARNs: {}",
                arns.join(", ")
            )));
        }
    }
    // Not found: list the recent executions' names for the close ones.
    let mut known = Vec::new();
    for p in &plans {
        let page = aws
            .sfn
            .list_executions()
            .state_machine_arn(&p.machine_arn)
            .max_results(100)
            .send()
            .await
            .map_err(|e| error::sdk("states:ListExecutions", &e))?;
        known.extend(page.executions().iter().map(|e| e.name().to_string()));
    }
    let plan_names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    let mut hint = names::close_suffix(name, &known);
    if hint.is_empty() {
        hint = format!(
            "; name it by its ARN, its name, or PLAN:latest (plans: {})",
            plan_names.join(", ")
        );
    }
    Err(CliError::NotFound(format!(
        "no execution named {name:?} in the plans' state machines (prefix {:?}){hint}",
        aws.prefix
    )))
}

/// DescribeExecution; None when it does not exist.
pub async fn describe(aws: &Aws, arn: &str) -> Result<Option<Execution>, CliError> {
    let Some(out) = drs_waves_aws::sfn::describe_execution_or_failure(&aws.sfn, arn)
        .await
        .map_err(|f| error::aws_error("states:DescribeExecution", &f))?
    else {
        return Ok(None);
    };
    let machine = out
        .state_machine_arn
        .rsplit_once(":stateMachine:")
        .map(|(_, m)| m.to_string())
        .unwrap_or_default();
    let plan = names::plan_of_machine(&aws.prefix, &machine)
        .map(str::to_string)
        .unwrap_or(machine);
    Ok(Some(Execution {
        arn: out.execution_arn,
        name: out.name,
        plan,
        machine_arn: out.state_machine_arn,
        status: SfnStatus::from(out.status.as_str()),
        started_at: out.started,
        stopped_at: out.stopped,
        input: out.input,
        output: out.output,
        error: out.error,
        cause: out.cause,
    }))
}

pub use drs_waves_aws::sfn::to_time;

/// The state the execution is in now (its latest StateEntered, among its last 50 events), if
/// it runs.
pub async fn current_state(aws: &Aws, arn: &str) -> Result<Option<String>, CliError> {
    let read = HistoryRead {
        newest_first: true,
        page_size: 50,
        with_data: true,
        at_most: Some(50),
    };
    let events = drs_waves_aws::sfn::execution_history(&aws.sfn, arn, read, |_| false)
        .await
        .map_err(|f| error::aws_error("states:GetExecutionHistory", &f))?;
    Ok(events.iter().find_map(|e| {
        e.state_entered_event_details()
            .map(|d| d.name().to_string())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_plan_lists_the_close_names_or_all_of_them() {
        let plans: Vec<Plan> = ["billing", "fleet", "storefront"]
            .into_iter()
            .map(|n| Plan {
                name: n.into(),
                machine_name: format!("drs-waves-{n}"),
                machine_arn: format!("arn:aws:states:r:1:stateMachine:drs-waves-{n}"),
            })
            .collect();
        assert_eq!(
            unknown_plan("drs-waves", "biling", &plans).to_string(),
            "unknown plan \"biling\": did you mean billing?"
        );
        assert_eq!(
            unknown_plan("drs-waves", "payroll", &plans).to_string(),
            "unknown plan \"payroll\": the deployed plans are billing, fleet, storefront"
        );
        let none = unknown_plan("acme", "billing", &[]).to_string();
        assert!(
            none.contains("--prefix") && none.contains("acme-<plan>"),
            "{none}"
        );
    }

    #[test]
    fn the_plan_is_read_from_the_preflight_parameters_of_a_generated_machine() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../statemachines/billing.asl.json"
        );
        let definition = std::fs::read_to_string(path).expect("billing.asl.json");
        let plan = plan_of_definition(&definition).expect("a plan");
        assert_eq!(plan.name, "billing");
        let names: Vec<&str> = plan.waves.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["databases", "app-servers", "web"]);
        assert_eq!(plan_of_definition("{\"States\": {}}"), None);
        assert_eq!(plan_of_definition("not json"), None);
    }
}
