//! [`RecoveryPlans`] over aws-sdk-drs (1.128 has the 20 recovery-plan operations): listings
//! through the SDK's paginators, answers mapped to the seam's plain types.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_drs::types::{
    ErrorDetail, RecoveryPlanExecution, RecoveryPlanExecutionMode,
    RecoveryPlanExecutionStepConfiguration, RecoveryPlanExecutionStepStatus, RecoveryPlanServer,
    RecoveryPlanServerImpactLevel, RecoveryPlanStep, RecoveryPlanStepConfiguration,
    ServerStepConfiguration, WaitStepConfiguration,
};

use super::SdkDrs;
use super::native::{
    NativeExecution, NativeExecutionStep, NativePlan, NativeServer, NativeStep, NativeStepConfig,
    RecoveryPlans, StartPlanRequest,
};
use crate::AwsError;
use crate::failure::from_sdk;

fn missing(call: &str, what: &str) -> AwsError {
    AwsError::Failed(format!("DRS {call} answered without {what}"))
}

fn tags_of(tags: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn error_of(e: Option<&ErrorDetail>) -> Option<String> {
    e.map(|e| format!("{}: {}", e.code(), e.message()))
}

fn optional(level: Option<&RecoveryPlanServerImpactLevel>) -> bool {
    level == Some(&RecoveryPlanServerImpactLevel::Optional)
}

fn config_to_sdk(config: &NativeStepConfig) -> Result<RecoveryPlanStepConfiguration, AwsError> {
    let built = |e: aws_sdk_drs::error::BuildError| {
        AwsError::Failed(format!("DRS recovery plan step: {e}"))
    };
    Ok(match config {
        NativeStepConfig::Server(servers) => {
            let list = (servers.iter())
                .map(|s| {
                    let level = if s.optional {
                        RecoveryPlanServerImpactLevel::Optional
                    } else {
                        RecoveryPlanServerImpactLevel::Critical
                    };
                    RecoveryPlanServer::builder()
                        .server_arn(&s.server_arn)
                        .impact_level(level)
                        .build()
                        .map_err(built)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let c = ServerStepConfiguration::builder()
                .set_servers(Some(list))
                .build()
                .map_err(built)?;
            RecoveryPlanStepConfiguration::ServerStepConfiguration(c)
        }
        NativeStepConfig::Wait { minutes } => {
            let minutes = i32::try_from(*minutes).unwrap_or(i32::MAX);
            let c = WaitStepConfiguration::builder()
                .wait_duration_minutes(minutes)
                .build()
                .map_err(built)?;
            RecoveryPlanStepConfiguration::WaitStepConfiguration(c)
        }
    })
}

fn wait_minutes(minutes: i32) -> NativeStepConfig {
    NativeStepConfig::Wait {
        minutes: u32::try_from(minutes).unwrap_or(0),
    }
}

fn config_of(c: Option<&RecoveryPlanStepConfiguration>) -> Option<NativeStepConfig> {
    match c? {
        RecoveryPlanStepConfiguration::ServerStepConfiguration(s) => {
            Some(NativeStepConfig::Server(
                (s.servers().iter())
                    .map(|x| NativeServer {
                        server_arn: x.server_arn().to_owned(),
                        optional: optional(x.impact_level()),
                        job_id: None,
                    })
                    .collect(),
            ))
        }
        RecoveryPlanStepConfiguration::WaitStepConfiguration(w) => {
            Some(wait_minutes(w.wait_duration_minutes()))
        }
        _ => None,
    }
}

fn exec_config_of(c: Option<&RecoveryPlanExecutionStepConfiguration>) -> Option<NativeStepConfig> {
    match c? {
        RecoveryPlanExecutionStepConfiguration::ExecutionServerStepConfiguration(s) => {
            Some(NativeStepConfig::Server(
                (s.servers().iter())
                    .map(|x| NativeServer {
                        server_arn: x.server_arn().to_owned(),
                        optional: optional(x.impact_level()),
                        job_id: x.job_id().map(str::to_owned),
                    })
                    .collect(),
            ))
        }
        RecoveryPlanExecutionStepConfiguration::WaitStepConfiguration(w) => {
            Some(wait_minutes(w.wait_duration_minutes()))
        }
        _ => None,
    }
}

fn step_of(call: &str, s: &RecoveryPlanStep) -> Result<NativeStep, AwsError> {
    Ok(NativeStep {
        arn: s.recovery_plan_step_arn().to_owned(),
        order: u32::try_from(s.step_order()).unwrap_or(0),
        name: s.step_name().to_owned(),
        config: config_of(s.configuration())
            .ok_or_else(|| missing(call, "a step configuration"))?,
    })
}

fn execution_of(e: &RecoveryPlanExecution) -> NativeExecution {
    NativeExecution {
        arn: e.recovery_plan_execution_arn().to_owned(),
        plan_arn: e.recovery_plan_arn().to_owned(),
        drill: *e.mode() == RecoveryPlanExecutionMode::Drill,
        status: e.status().as_str().to_owned(),
        started_at: e.started_at().to_owned(),
        completed_at: e.completed_at().map(str::to_owned),
        error: error_of(e.error_detail()),
    }
}

fn execution_step_of(
    call: &str,
    s: &aws_sdk_drs::types::RecoveryPlanExecutionStep,
) -> Result<NativeExecutionStep, AwsError> {
    Ok(NativeExecutionStep {
        arn: s.recovery_plan_execution_step_arn().to_owned(),
        index: u32::try_from(s.step_index()).unwrap_or(0),
        name: s.step_name().to_owned(),
        status: s.status().as_str().to_owned(),
        config: exec_config_of(s.configuration())
            .ok_or_else(|| missing(call, "a step configuration"))?,
        attempt: u32::try_from(s.attempt()).ok(),
        error: error_of(s.error_detail()),
    })
}

impl SdkDrs {
    fn plan_of(p: &aws_sdk_drs::types::RecoveryPlan) -> NativePlan {
        NativePlan {
            arn: p.recovery_plan_arn().to_owned(),
            name: p.name().to_owned(),
            description: p.description().map(str::to_owned),
            status: p.status().as_str().to_owned(),
            tags: tags_of(p.tags()),
        }
    }
}

impl RecoveryPlans for SdkDrs {
    async fn list_recovery_plans(&self) -> Result<Vec<NativePlan>, AwsError> {
        let mut pages = self.client.list_recovery_plans().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DRS ListRecoveryPlans", &e))?;
            out.extend(page.recovery_plans().iter().map(|p| NativePlan {
                arn: p.recovery_plan_arn().to_owned(),
                name: p.name().to_owned(),
                description: None,
                status: p.status().as_str().to_owned(),
                tags: BTreeMap::new(),
            }));
        }
        Ok(out)
    }

    async fn get_recovery_plan(&self, arn: &str) -> Result<NativePlan, AwsError> {
        let resp = (self
            .client
            .get_recovery_plan()
            .recovery_plan_arn(arn)
            .send()
            .await)
            .map_err(|e| from_sdk("DRS GetRecoveryPlan", &e))?;
        resp.recovery_plan()
            .map(Self::plan_of)
            .ok_or_else(|| missing("GetRecoveryPlan", "a plan"))
    }

    async fn create_recovery_plan(
        &self,
        name: &str,
        description: Option<&str>,
        tags: BTreeMap<String, String>,
    ) -> Result<NativePlan, AwsError> {
        let resp = (self.client.create_recovery_plan().name(name))
            .set_description(description.map(str::to_owned))
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| from_sdk("DRS CreateRecoveryPlan", &e))?;
        resp.recovery_plan()
            .map(Self::plan_of)
            .ok_or_else(|| missing("CreateRecoveryPlan", "a plan"))
    }

    async fn list_recovery_plan_steps(&self, plan_arn: &str) -> Result<Vec<NativeStep>, AwsError> {
        let mut pages = (self
            .client
            .list_recovery_plan_steps()
            .recovery_plan_arn(plan_arn))
        .into_paginator()
        .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DRS ListRecoveryPlanSteps", &e))?;
            for s in page.recovery_plan_steps() {
                out.push(step_of("ListRecoveryPlanSteps", s)?);
            }
        }
        Ok(out)
    }

    async fn create_recovery_plan_step(
        &self,
        plan_arn: &str,
        name: &str,
        order: Option<u32>,
        config: &NativeStepConfig,
    ) -> Result<NativeStep, AwsError> {
        let resp = (self
            .client
            .create_recovery_plan_step()
            .recovery_plan_arn(plan_arn))
        .step_name(name)
        .set_step_order(order.and_then(|o| i32::try_from(o).ok()))
        .configuration(config_to_sdk(config)?)
        .send()
        .await
        .map_err(|e| from_sdk("DRS CreateRecoveryPlanStep", &e))?;
        let step = resp
            .recovery_plan_step()
            .ok_or_else(|| missing("CreateRecoveryPlanStep", "a step"))?;
        step_of("CreateRecoveryPlanStep", step)
    }

    async fn update_recovery_plan_step(
        &self,
        step_arn: &str,
        name: &str,
        config: &NativeStepConfig,
    ) -> Result<NativeStep, AwsError> {
        let resp = (self
            .client
            .update_recovery_plan_step()
            .recovery_plan_step_arn(step_arn))
        .step_name(name)
        .configuration(config_to_sdk(config)?)
        .send()
        .await
        .map_err(|e| from_sdk("DRS UpdateRecoveryPlanStep", &e))?;
        let step = resp
            .recovery_plan_step()
            .ok_or_else(|| missing("UpdateRecoveryPlanStep", "a step"))?;
        step_of("UpdateRecoveryPlanStep", step)
    }

    async fn delete_recovery_plan_step(&self, step_arn: &str) -> Result<(), AwsError> {
        (self
            .client
            .delete_recovery_plan_step()
            .recovery_plan_step_arn(step_arn)
            .send()
            .await)
            .map_err(|e| from_sdk("DRS DeleteRecoveryPlanStep", &e))?;
        Ok(())
    }

    async fn reorder_recovery_plan_steps(
        &self,
        plan_arn: &str,
        ordered_step_arns: Vec<String>,
    ) -> Result<Vec<NativeStep>, AwsError> {
        let resp = (self
            .client
            .reorder_recovery_plan_steps()
            .recovery_plan_arn(plan_arn))
        .set_ordered_step_arns(Some(ordered_step_arns))
        .send()
        .await
        .map_err(|e| from_sdk("DRS ReorderRecoveryPlanSteps", &e))?;
        (resp.recovery_plan_steps().iter())
            .map(|s| step_of("ReorderRecoveryPlanSteps", s))
            .collect()
    }

    async fn start_recovery_plan_execution(
        &self,
        request: StartPlanRequest,
    ) -> Result<NativeExecution, AwsError> {
        let sources = (request.snapshot_ids.iter())
            .map(|(id, pit)| {
                aws_sdk_drs::types::RecoveryPlanExecutionSourceServer::builder()
                    .source_server_id(id)
                    .recovery_snapshot_id(pit)
                    .build()
                    .map_err(|e| {
                        AwsError::Failed(format!(
                            "DRS StartRecoveryPlanExecution request for {id}: {e}"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mode = if request.drill {
            RecoveryPlanExecutionMode::Drill
        } else {
            RecoveryPlanExecutionMode::Recovery
        };
        let resp = (self
            .client
            .start_recovery_plan_execution()
            .recovery_plan_arn(&request.plan_arn))
        .mode(mode)
        .set_source_servers((!sources.is_empty()).then_some(sources))
        .set_tags(Some(request.tags.into_iter().collect()))
        .send()
        .await
        .map_err(|e| from_sdk("DRS StartRecoveryPlanExecution", &e))?;
        (resp.recovery_plan_execution().map(execution_of))
            .ok_or_else(|| missing("StartRecoveryPlanExecution", "an execution"))
    }

    async fn get_recovery_plan_execution(&self, arn: &str) -> Result<NativeExecution, AwsError> {
        let resp = (self
            .client
            .get_recovery_plan_execution()
            .recovery_plan_execution_arn(arn)
            .send()
            .await)
            .map_err(|e| from_sdk("DRS GetRecoveryPlanExecution", &e))?;
        (resp.recovery_plan_execution().map(execution_of))
            .ok_or_else(|| missing("GetRecoveryPlanExecution", "an execution"))
    }

    async fn list_recovery_plan_execution_steps(
        &self,
        execution_arn: &str,
    ) -> Result<Vec<NativeExecutionStep>, AwsError> {
        let call = "ListRecoveryPlanExecutionSteps";
        let mut pages = (self.client.list_recovery_plan_execution_steps())
            .recovery_plan_execution_arn(execution_arn)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DRS ListRecoveryPlanExecutionSteps", &e))?;
            for s in page.recovery_plan_execution_steps() {
                out.push(NativeExecutionStep {
                    arn: s.recovery_plan_execution_step_arn().to_owned(),
                    index: u32::try_from(s.step_index()).unwrap_or(0),
                    name: s.step_name().to_owned(),
                    status: s.status().as_str().to_owned(),
                    config: exec_config_of(s.configuration())
                        .ok_or_else(|| missing(call, "a step configuration"))?,
                    attempt: None,
                    error: error_of(s.error_detail()),
                });
            }
        }
        Ok(out)
    }

    async fn retry_recovery_plan_execution_step(
        &self,
        step_arn: &str,
    ) -> Result<NativeExecutionStep, AwsError> {
        let call = "RetryRecoveryPlanExecutionStep";
        let resp = (self.client.retry_recovery_plan_execution_step())
            .recovery_plan_execution_step_arn(step_arn)
            .send()
            .await
            .map_err(|e| from_sdk("DRS RetryRecoveryPlanExecutionStep", &e))?;
        execution_step_of(
            call,
            resp.recovery_plan_execution_step()
                .ok_or_else(|| missing(call, "a step"))?,
        )
    }

    async fn skip_recovery_plan_execution_step(
        &self,
        step_arn: &str,
    ) -> Result<NativeExecutionStep, AwsError> {
        let call = "UpdateRecoveryPlanExecutionStep";
        let resp = (self.client.update_recovery_plan_execution_step())
            .recovery_plan_execution_step_arn(step_arn)
            .status(RecoveryPlanExecutionStepStatus::Skipped)
            .send()
            .await
            .map_err(|e| from_sdk("DRS UpdateRecoveryPlanExecutionStep", &e))?;
        execution_step_of(
            call,
            resp.recovery_plan_execution_step()
                .ok_or_else(|| missing(call, "a step"))?,
        )
    }

    async fn cancel_recovery_plan_execution(&self, arn: &str) -> Result<NativeExecution, AwsError> {
        let resp = (self
            .client
            .cancel_recovery_plan_execution()
            .recovery_plan_execution_arn(arn)
            .send()
            .await)
            .map_err(|e| from_sdk("DRS CancelRecoveryPlanExecution", &e))?;
        (resp.recovery_plan_execution().map(execution_of))
            .ok_or_else(|| missing("CancelRecoveryPlanExecution", "an execution"))
    }
}
