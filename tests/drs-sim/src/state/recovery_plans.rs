//! DRS recovery plans and their steps: CreateRecoveryPlan, GetRecoveryPlan, ListRecoveryPlans,
//! UpdateRecoveryPlan, DeleteRecoveryPlan and the step operations (Create, Get, List, Update,
//! Delete, Reorder). Executions are in `recovery_plan_executions`.
//!
//! Shapes, limits and enums are the vendored model's (`model/drs-service-2.json`); the model's
//! own check has refused what breaks them before these run. What the model does not say in a
//! shape (at most 20 steps, one plan per name, what makes a plan INVALID) is cited where it is
//! enforced. See the README's "Recovery plans" section.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::SimState;
use super::paging::{decode_token, take_page, with_token};
use super::recovery_plan_executions::Execution;
use crate::config::DateStyle;
use crate::lifecycle::truncate_to_micros;
use crate::wire::{self, ApiError};

/// RecoveryPlanStepOrder's `max` (20) and the User Guide's "a plan has up to 20 steps".
pub(super) const MAX_STEPS: usize = 20;

/// A server of a SERVER step (RecoveryPlanServer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PlanServer {
    pub server_arn: String,
    /// RecoveryPlanServer.impactLevel: "Defaults to CRITICAL if not specified."
    #[serde(default)]
    pub impact_level: Option<String>,
}

impl PlanServer {
    pub fn critical(&self) -> bool {
        self.impact_level.as_deref() != Some("OPTIONAL")
    }

    /// The source server ID at the end of SourceServerARN (`...:source-server/s-...`).
    pub fn source_server_id(&self) -> &str {
        self.server_arn
            .rsplit_once("source-server/")
            .map_or("", |(_, id)| id)
    }

    pub fn json(&self, job_id: Option<&str>) -> Value {
        let mut v = json!({
            "serverArn": self.server_arn,
            "impactLevel": if self.critical() { "CRITICAL" } else { "OPTIONAL" },
        });
        if let Some(id) = job_id {
            v["jobID"] = Value::from(id);
        }
        v
    }
}

/// RecoveryPlanStepConfiguration: a union of a SERVER and a WAIT step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StepConfig {
    Server(Vec<PlanServer>),
    /// WaitStepConfiguration.waitDurationMinutes (1..=120).
    Wait(u32),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigWire {
    server_step_configuration: Option<ServersWire>,
    wait_step_configuration: Option<WaitWire>,
}

#[derive(Debug, Deserialize)]
struct ServersWire {
    servers: Vec<PlanServer>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WaitWire {
    wait_duration_minutes: u32,
}

impl StepConfig {
    fn from_wire(c: ConfigWire) -> Result<Self, ApiError> {
        // The model's check holds the union to exactly one member.
        match (c.server_step_configuration, c.wait_step_configuration) {
            (Some(s), None) => Ok(StepConfig::Server(s.servers)),
            (None, Some(w)) => Ok(StepConfig::Wait(w.wait_duration_minutes)),
            _ => Err(ApiError::field(
                "configuration",
                "Exactly one of serverStepConfiguration and waitStepConfiguration must be set",
            )),
        }
    }

    pub fn json(&self) -> Value {
        match self {
            StepConfig::Server(servers) => json!({"serverStepConfiguration": {
                "servers": servers.iter().map(|s| s.json(None)).collect::<Vec<_>>()
            }}),
            StepConfig::Wait(m) => json!({"waitStepConfiguration": {"waitDurationMinutes": m}}),
        }
    }

    pub fn is_server(&self) -> bool {
        matches!(self, StepConfig::Server(_))
    }
}

pub(super) struct PlanStep {
    pub arn: String,
    pub name: String,
    pub config: StepConfig,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
}

pub(super) struct Plan {
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub client_token: Option<String>,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    /// In stepOrder: position 0 is stepOrder 1.
    pub steps: Vec<PlanStep>,
}

impl Plan {
    /// RecoveryPlanStatus: "INVALID means the plan has no SERVER type steps and cannot be
    /// executed."
    pub fn status(&self) -> &'static str {
        if self.steps.iter().any(|s| s.config.is_server()) {
            "ACTIVE"
        } else {
            "INVALID"
        }
    }
}

/// The recovery plans and executions of one simulator.
#[derive(Default)]
pub struct RecoveryPlans {
    pub(super) plans: Vec<Plan>,
    pub(super) executions: Vec<Execution>,
}

/// ResourceNotFoundException for a plan, step or execution ARN.
pub(super) fn not_found(arn: &str, kind: &str) -> ApiError {
    ApiError::not_found(format!("{kind} {arn} does not exist"), arn, kind)
}

/// ISO8601DatetimeString wants `Z`, whatever date style the Describe operations use.
pub(super) fn iso(t: OffsetDateTime) -> String {
    wire::format_date(t, DateStyle::Zulu)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatePlanRequest {
    name: String,
    description: Option<String>,
    client_token: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanArnRequest {
    recovery_plan_arn: String,
    name: Option<String>,
    description: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    ordered_step_arns: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStepRequest {
    recovery_plan_arn: String,
    step_name: String,
    step_order: Option<usize>,
    configuration: ConfigWire,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StepArnRequest {
    recovery_plan_step_arn: String,
    step_name: Option<String>,
    configuration: Option<ConfigWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageRequest {
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// A page of `items` from the position in `token` (`<prefix><offset>`).
pub(super) fn page(
    state: &SimState,
    items: Vec<Value>,
    (max_results, token): (Option<i64>, Option<&str>),
    (key, prefix): (&str, &str),
) -> Result<Value, ApiError> {
    let size = state.page_size(max_results)?;
    let from = match decode_token(token, prefix)? {
        None => 0,
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| ApiError::field("nextToken", "Invalid nextToken"))?,
    };
    let (items, more) = take_page(items.into_iter().skip(from), size);
    let next = more.then(|| format!("{prefix}{}", from + items.len()));
    Ok(with_token(json!({ key: items }), next))
}

impl SimState {
    pub(super) fn plan_index(&self, arn: &str) -> Result<usize, ApiError> {
        self.recovery_plans
            .plans
            .iter()
            .position(|p| p.arn == arn)
            .ok_or_else(|| not_found(arn, "RECOVERY_PLAN"))
    }

    /// The plan and position of a step ARN.
    fn step_position(&self, arn: &str) -> Result<(usize, usize), ApiError> {
        self.recovery_plans
            .plans
            .iter()
            .enumerate()
            .find_map(|(p, plan)| plan.steps.iter().position(|s| s.arn == arn).map(|i| (p, i)))
            .ok_or_else(|| not_found(arn, "RECOVERY_PLAN_STEP"))
    }

    fn plan_json(&self, plan: &Plan, full: bool) -> Value {
        let mut v = json!({
            "recoveryPlanArn": plan.arn,
            "name": plan.name,
            "status": plan.status(),
            "createdAt": iso(plan.created),
            "updatedAt": iso(plan.updated),
        });
        if full {
            if let Some(d) = &plan.description {
                v["description"] = Value::from(d.clone());
            }
            v["tags"] = json!(plan.tags);
        }
        v
    }

    fn step_json(step: &PlanStep, order: usize) -> Value {
        json!({
            "recoveryPlanStepArn": step.arn,
            "stepOrder": order + 1,
            "stepName": step.name,
            "configuration": step.config.json(),
            "createdAt": iso(step.created),
            "updatedAt": iso(step.updated),
        })
    }

    fn steps_json(plan: &Plan) -> Vec<Value> {
        plan.steps
            .iter()
            .enumerate()
            .map(|(i, s)| Self::step_json(s, i))
            .collect()
    }

    /// Dispatches the plan and step operations (None: not one of them).
    pub(super) fn call_recovery_plan(
        &mut self,
        operation: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Option<Result<(u16, Value), ApiError>> {
        let now = truncate_to_micros(now);
        let answer = match operation {
            "CreateRecoveryPlan" => wire::parse_body(body)
                .and_then(|r| self.create_recovery_plan(r, now))
                .map(|v| (201, v)),
            "GetRecoveryPlan"
            | "UpdateRecoveryPlan"
            | "DeleteRecoveryPlan"
            | "ListRecoveryPlanSteps"
            | "ReorderRecoveryPlanSteps" => wire::parse_body(body)
                .and_then(|r| self.plan_operation(operation, r, now))
                .map(|v| (200, v)),
            "ListRecoveryPlans" => wire::parse_body::<PageRequest>(body).and_then(|r| {
                let items = (self.recovery_plans.plans.iter())
                    .map(|p| self.plan_json(p, false))
                    .collect();
                let at = (r.max_results, r.next_token.as_deref());
                page(self, items, at, ("recoveryPlans", "rp-page-")).map(|v| (200, v))
            }),
            "CreateRecoveryPlanStep" => wire::parse_body(body)
                .and_then(|r| self.create_recovery_plan_step(r, now))
                .map(|v| (201, v)),
            "GetRecoveryPlanStep" | "UpdateRecoveryPlanStep" | "DeleteRecoveryPlanStep" => {
                wire::parse_body(body)
                    .and_then(|r| self.step_operation(operation, r, now))
                    .map(|v| (200, v))
            }
            _ => return self.call_recovery_plan_execution(operation, body, now),
        };
        Some(answer)
    }

    fn create_recovery_plan(
        &mut self,
        req: CreatePlanRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        super::limits::check_tags(&req.tags)?;
        let plans = &self.recovery_plans.plans;
        // clientToken (ClientIdempotencyToken): the same token answers the same plan.
        if let Some(token) = req.client_token.as_deref().filter(|t| !t.is_empty())
            && let Some(p) = plans
                .iter()
                .find(|p| p.client_token.as_deref() == Some(token))
        {
            return Ok(json!({ "recoveryPlan": self.plan_json(p, true) }));
        }
        // CreateRecoveryPlan lists ConflictException: drs-sim answers it for a name in use.
        if plans.iter().any(|p| p.name == req.name) {
            return Err(ApiError::conflict(
                format!("A recovery plan named {} already exists", req.name),
                &req.name,
                "RECOVERY_PLAN",
            ));
        }
        let id = self.hex_id("rp-");
        let plan = Plan {
            arn: self.arn("recovery-plan", &id),
            name: req.name,
            description: req.description,
            tags: req.tags,
            client_token: req.client_token,
            created: now,
            updated: now,
            steps: Vec::new(),
        };
        let v = self.plan_json(&plan, true);
        self.recovery_plans.plans.push(plan);
        Ok(json!({ "recoveryPlan": v }))
    }

    fn plan_operation(
        &mut self,
        operation: &str,
        req: PlanArnRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let p = self.plan_index(&req.recovery_plan_arn)?;
        match operation {
            "GetRecoveryPlan" => {}
            "UpdateRecoveryPlan" => {
                let taken = |name: &String| {
                    (self.recovery_plans.plans.iter().enumerate())
                        .any(|(i, o)| i != p && o.name == *name)
                };
                if let Some(name) = req.name.as_ref().filter(|n| taken(n)) {
                    return Err(ApiError::conflict(
                        format!("A recovery plan named {name} already exists"),
                        name,
                        "RECOVERY_PLAN",
                    ));
                }
                let plan = &mut self.recovery_plans.plans[p];
                plan.name = req.name.unwrap_or(std::mem::take(&mut plan.name));
                plan.description = req.description.or(plan.description.take());
                plan.updated = now;
            }
            "DeleteRecoveryPlan" => {
                // DeleteRecoveryPlan: "Cannot delete a plan that has an execution in a
                // non-terminal status (CREATED, IN_PROGRESS)."
                self.refuse_if_running(&req.recovery_plan_arn)?;
                self.recovery_plans.plans.remove(p);
                return Ok(json!({ "recoveryPlanArn": req.recovery_plan_arn }));
            }
            "ListRecoveryPlanSteps" => {
                let items = Self::steps_json(&self.recovery_plans.plans[p]);
                let at = (req.max_results, req.next_token.as_deref());
                return page(self, items, at, ("recoveryPlanSteps", "rps-page-"));
            }
            _ => return self.reorder_steps(p, req.ordered_step_arns.unwrap_or_default(), now),
        }
        Ok(json!({ "recoveryPlan": self.plan_json(&self.recovery_plans.plans[p], true) }))
    }

    /// ReorderRecoveryPlanSteps: "Accepts a complete ordered list of step ARNs."
    fn reorder_steps(
        &mut self,
        p: usize,
        order: Vec<String>,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let plan = &mut self.recovery_plans.plans[p];
        let known: HashSet<&str> = plan.steps.iter().map(|s| s.arn.as_str()).collect();
        let given: HashSet<&str> = order.iter().map(String::as_str).collect();
        if given.len() != order.len() || given != known {
            return Err(ApiError::field(
                "orderedStepArns",
                "orderedStepArns must name every step of the plan exactly once",
            ));
        }
        let mut steps = std::mem::take(&mut plan.steps);
        for arn in &order {
            if let Some(i) = steps.iter().position(|s| s.arn == *arn) {
                plan.steps.push(steps.swap_remove(i));
            }
        }
        plan.updated = now;
        Ok(json!({ "recoveryPlanSteps": Self::steps_json(plan) }))
    }

    /// A SERVER step's servers: each a source server of this simulator, each listed once
    /// (RecoveryPlanServers holds 1..=100 of them, checked by the model).
    fn check_servers(&self, servers: &[PlanServer], field: &str) -> Result<(), ApiError> {
        let mut seen = HashSet::new();
        for s in servers {
            let id = s.source_server_id();
            if !seen.insert(id) {
                return Err(ApiError::field(
                    field,
                    format!("Server {} is listed more than once", s.server_arn),
                ));
            }
            if !self.servers.contains_key(id) {
                return Err(ApiError::field(
                    field,
                    format!("Source server {} does not exist", s.server_arn),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn check_config(&self, config: &StepConfig) -> Result<(), ApiError> {
        match config {
            StepConfig::Server(servers) => {
                self.check_servers(servers, "configuration.serverStepConfiguration.servers")
            }
            StepConfig::Wait(_) => Ok(()),
        }
    }

    fn create_recovery_plan_step(
        &mut self,
        req: CreateStepRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let p = self.plan_index(&req.recovery_plan_arn)?;
        let config = StepConfig::from_wire(req.configuration)?;
        self.check_config(&config)?;
        let len = self.recovery_plans.plans[p].steps.len();
        // At most 20 steps (RecoveryPlanStepOrder max 20; the operation lists
        // ServiceQuotaExceededException).
        if len >= MAX_STEPS {
            return Err(ApiError::quota(
                format!("A recovery plan has at most {MAX_STEPS} steps"),
                "RecoveryPlanSteps",
                "RECOVERY_PLAN_STEP",
            ));
        }
        let at = match req.step_order {
            None => len,
            Some(n) if n <= len + 1 => n - 1,
            Some(n) => {
                return Err(ApiError::field(
                    "stepOrder",
                    format!("stepOrder {n} is beyond the plan's {len} steps plus one"),
                ));
            }
        };
        let id = self.hex_id("rps-");
        let plan = &mut self.recovery_plans.plans[p];
        let arn = format!("{}/step/{id}", plan.arn);
        plan.steps.insert(
            at,
            PlanStep {
                arn,
                name: req.step_name,
                config,
                created: now,
                updated: now,
            },
        );
        plan.updated = now;
        Ok(json!({ "recoveryPlanStep": Self::step_json(&plan.steps[at], at) }))
    }

    fn step_operation(
        &mut self,
        operation: &str,
        req: StepArnRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let (p, i) = self.step_position(&req.recovery_plan_step_arn)?;
        match operation {
            "DeleteRecoveryPlanStep" => {
                let plan = &mut self.recovery_plans.plans[p];
                plan.steps.remove(i);
                plan.updated = now;
                return Ok(json!({ "recoveryPlanStepArn": req.recovery_plan_step_arn }));
            }
            "UpdateRecoveryPlanStep" => {
                let config = req.configuration.map(StepConfig::from_wire).transpose()?;
                if let Some(c) = &config {
                    // UpdateRecoveryPlanStep: "Step type is immutable."
                    let old = &self.recovery_plans.plans[p].steps[i].config;
                    if c.is_server() != old.is_server() {
                        return Err(ApiError::field(
                            "configuration",
                            "A step's type (SERVER or WAIT) cannot be changed",
                        ));
                    }
                    self.check_config(c)?;
                }
                let step = &mut self.recovery_plans.plans[p].steps[i];
                if let Some(name) = req.step_name {
                    step.name = name;
                }
                if let Some(c) = config {
                    step.config = c;
                }
                step.updated = now;
            }
            _ => {}
        }
        let step = &self.recovery_plans.plans[p].steps[i];
        Ok(json!({ "recoveryPlanStep": Self::step_json(step, i) }))
    }
}
