//! Recovery plan executions: StartRecoveryPlanExecution, Get/List(RecoveryPlanExecution(s)),
//! Get/ListRecoveryPlanExecutionSteps, RetryRecoveryPlanExecutionStep,
//! UpdateRecoveryPlanExecutionStep, CancelRecoveryPlanExecution, DeleteRecoveryPlanExecution.
//!
//! Like jobs, an execution is derived from time: every plan call first brings each unfinished
//! execution up to `now` (`advance`), starting the next step at the instant the previous one
//! ended. A SERVER step launches its servers as ordinary drs-sim launch jobs (so the staged
//! launch faults apply to them), one SERVER step at a time; a WAIT step waits its minutes,
//! scaled by `timeScale`. How an execution moves on is in `recovery_plan_runner`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::SimState;
use super::recovery_plans::{PlanServer, StepConfig, iso, not_found, page};
use crate::wire::{self, ApiError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExecStatus {
    Created,
    InProgress,
    Completed,
    Failed,
    Cancelling,
    Cancelled,
}

impl ExecStatus {
    fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Created => "CREATED",
            ExecStatus::InProgress => "IN_PROGRESS",
            ExecStatus::Completed => "COMPLETED",
            ExecStatus::Failed => "FAILED",
            ExecStatus::Cancelling => "CANCELLING",
            ExecStatus::Cancelled => "CANCELLED",
        }
    }

    /// StartRecoveryPlanExecution: "A plan cannot have more than one execution in a
    /// non-terminal status at a time."
    pub(super) fn unfinished(self) -> bool {
        matches!(
            self,
            ExecStatus::Created | ExecStatus::InProgress | ExecStatus::Cancelling
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StepStatus {
    NotStarted,
    Executing,
    Waiting,
    Completed,
    Failed,
    /// In the model's enum; drs-sim never times a step out (no timeout is documented).
    TimedOut,
    Skipped,
}

impl StepStatus {
    fn as_str(self) -> &'static str {
        match self {
            StepStatus::NotStarted => "NOT_STARTED",
            StepStatus::Executing => "EXECUTING",
            StepStatus::Waiting => "WAITING",
            StepStatus::Completed => "COMPLETED",
            StepStatus::Failed => "FAILED",
            StepStatus::TimedOut => "TIMED_OUT",
            StepStatus::Skipped => "SKIPPED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            StepStatus::NotStarted,
            StepStatus::Executing,
            StepStatus::Waiting,
            StepStatus::Completed,
            StepStatus::Failed,
            StepStatus::TimedOut,
            StepStatus::Skipped,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub(super) fn done(self) -> bool {
        matches!(self, StepStatus::Completed | StepStatus::Skipped)
    }
}

pub(super) struct ExecStep {
    pub(super) arn: String,
    pub(super) name: String,
    pub(super) config: StepConfig,
    pub(super) status: StepStatus,
    pub(super) attempt: u32,
    /// The launch jobs of the latest attempt (indexes into the state's jobs).
    pub(super) jobs: Vec<usize>,
    /// When a WAITING step ends.
    pub(super) wait_until: Option<OffsetDateTime>,
    pub(super) error: Option<(String, String)>,
    pub(super) created: OffsetDateTime,
    pub(super) updated: OffsetDateTime,
}

pub(super) struct Execution {
    pub(super) arn: String,
    pub(super) plan_arn: String,
    pub(super) drill: bool,
    pub(super) status: ExecStatus,
    pub(super) started: OffsetDateTime,
    pub(super) completed: Option<OffsetDateTime>,
    pub(super) error: Option<(String, String)>,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) steps: Vec<ExecStep>,
    /// StartRecoveryPlanExecution.sourceServers: the snapshot each named server launches from.
    pub(super) snapshots: HashMap<String, String>,
    /// When the step that runs next may start (the end of the previous one).
    pub(super) cursor: OffsetDateTime,
    pub(super) client_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartRequest {
    recovery_plan_arn: String,
    mode: String,
    client_token: Option<String>,
    #[serde(default)]
    source_servers: Vec<wire::StartRecoverySourceServer>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecRequest {
    recovery_plan_execution_arn: Option<String>,
    recovery_plan_execution_step_arn: Option<String>,
    recovery_plan_arn: Option<String>,
    status: Option<String>,
    filter: Option<StatusFilter>,
    servers: Option<Vec<PlanServer>>,
    wait_duration_minutes: Option<u32>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct StatusFilter {
    status: Option<String>,
}

impl SimState {
    pub(super) fn call_recovery_plan_execution(
        &mut self,
        operation: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Option<Result<(u16, Value), ApiError>> {
        let answer = match operation {
            "StartRecoveryPlanExecution" => wire::parse_body(body)
                .and_then(|r| self.start_recovery_plan_execution(r, now))
                .map(|v| (201, v)),
            "GetRecoveryPlanExecution"
            | "CancelRecoveryPlanExecution"
            | "DeleteRecoveryPlanExecution"
            | "ListRecoveryPlanExecutions"
            | "ListRecoveryPlanExecutionSteps" => wire::parse_body(body)
                .and_then(|r| self.execution_operation(operation, r, now))
                .map(|v| (200, v)),
            "GetRecoveryPlanExecutionStep"
            | "RetryRecoveryPlanExecutionStep"
            | "UpdateRecoveryPlanExecutionStep" => wire::parse_body(body)
                .and_then(|r| self.execution_step_operation(operation, r, now))
                .map(|v| (200, v)),
            _ => return None,
        };
        Some(answer)
    }

    /// A ConflictException when the plan has an unfinished execution.
    pub(super) fn refuse_if_running(&self, plan_arn: &str) -> Result<(), ApiError> {
        match (self.recovery_plans.executions.iter())
            .find(|e| e.plan_arn == plan_arn && e.status.unfinished())
        {
            Some(e) => Err(ApiError::conflict(
                format!(
                    "Recovery plan {plan_arn} has an execution in a non-terminal status ({})",
                    e.arn
                ),
                &e.arn,
                "RECOVERY_PLAN_EXECUTION",
            )),
            None => Ok(()),
        }
    }

    fn start_recovery_plan_execution(
        &mut self,
        req: StartRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let p = self.plan_index(&req.recovery_plan_arn)?;
        if let Some(token) = req.client_token.as_deref().filter(|t| !t.is_empty())
            && let Some(e) = (self.recovery_plans.executions.iter())
                .find(|e| e.client_token.as_deref() == Some(token))
        {
            return Ok(json!({ "recoveryPlanExecution": self.execution_json(e, true) }));
        }
        let plan = &self.recovery_plans.plans[p];
        // RecoveryPlanStatus INVALID: "has no SERVER type steps and cannot be executed".
        if plan.status() == "INVALID" {
            return Err(ApiError::field(
                "recoveryPlanArn",
                format!(
                    "Recovery plan {} has no SERVER step and cannot be executed",
                    plan.arn
                ),
            ));
        }
        self.refuse_if_running(&req.recovery_plan_arn)?;
        super::limits::check_tags(&req.tags)?;
        let in_plan: HashSet<&str> = (plan.steps.iter())
            .filter_map(|s| match &s.config {
                StepConfig::Server(servers) => {
                    Some(servers.iter().map(PlanServer::source_server_id))
                }
                StepConfig::Wait(_) => None,
            })
            .flatten()
            .collect();
        let mut snapshots = HashMap::new();
        for s in &req.source_servers {
            let id = s.source_server_id.as_str();
            if !in_plan.contains(id) {
                return Err(ApiError::field(
                    "sourceServers",
                    format!("Source server {id} is not in a SERVER step of the plan"),
                ));
            }
            let pit = s.recovery_snapshot_id.clone().unwrap_or_default();
            if snapshots.insert(id.to_owned(), pit).is_some() {
                return Err(ApiError::field(
                    "sourceServers",
                    format!("Source server {id} is listed more than once"),
                ));
            }
        }
        let plan_steps: Vec<(String, StepConfig)> = (plan.steps.iter())
            .map(|s| (s.name.clone(), s.config.clone()))
            .collect();
        let id = self.hex_id("rpe-");
        let arn = self.arn("recovery-plan-execution", &id);
        let steps = (plan_steps.into_iter().enumerate())
            .map(|(i, (name, config))| ExecStep {
                arn: format!("{arn}/step/{}", i + 1),
                name,
                config,
                status: StepStatus::NotStarted,
                attempt: 1,
                jobs: Vec::new(),
                wait_until: None,
                error: None,
                created: now,
                updated: now,
            })
            .collect();
        let execution = Execution {
            arn,
            plan_arn: req.recovery_plan_arn,
            drill: req.mode == "DRILL",
            status: ExecStatus::Created,
            started: now,
            completed: None,
            error: None,
            tags: req.tags,
            steps,
            snapshots,
            cursor: now,
            client_token: req.client_token,
        };
        let v = self.execution_json(&execution, true);
        self.recovery_plans.executions.push(execution);
        Ok(json!({ "recoveryPlanExecution": v }))
    }

    fn execution_index(&self, arn: &str) -> Result<usize, ApiError> {
        (self.recovery_plans.executions.iter())
            .position(|e| e.arn == arn)
            .ok_or_else(|| not_found(arn, "RECOVERY_PLAN_EXECUTION"))
    }

    fn execution_operation(
        &mut self,
        operation: &str,
        req: ExecRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let at = (req.max_results, req.next_token.as_deref());
        if operation == "ListRecoveryPlanExecutions" {
            let items = (self.recovery_plans.executions.iter())
                .filter(|e| {
                    req.recovery_plan_arn
                        .as_ref()
                        .is_none_or(|a| *a == e.plan_arn)
                })
                .filter(|e| req.status.as_ref().is_none_or(|s| s == e.status.as_str()))
                .map(|e| self.execution_json(e, false))
                .collect();
            return page(self, items, at, ("recoveryPlanExecutions", "rpe-page-"));
        }
        let arn = req.recovery_plan_execution_arn.unwrap_or_default();
        let e = self.execution_index(&arn)?;
        match operation {
            "ListRecoveryPlanExecutionSteps" => {
                let want = req.filter.and_then(|f| f.status);
                let exec = &self.recovery_plans.executions[e];
                let items = (exec.steps.iter().enumerate())
                    .filter(|(_, s)| want.as_ref().is_none_or(|w| w == s.status.as_str()))
                    .map(|(i, s)| self.exec_step_json(s, i, false))
                    .collect();
                return page(
                    self,
                    items,
                    at,
                    ("recoveryPlanExecutionSteps", "rpes-page-"),
                );
            }
            "DeleteRecoveryPlanExecution" => {
                // DeleteRecoveryPlanExecution: "Must be in a terminal status."
                if self.recovery_plans.executions[e].status.unfinished() {
                    return Err(ApiError::conflict(
                        format!("Execution {arn} is not in a terminal status"),
                        &arn,
                        "RECOVERY_PLAN_EXECUTION",
                    ));
                }
                self.recovery_plans.executions.remove(e);
                return Ok(json!({ "recoveryPlanExecutionArn": arn }));
            }
            "CancelRecoveryPlanExecution" => self.cancel(e, now)?,
            _ => {}
        }
        let exec = &self.recovery_plans.executions[e];
        Ok(json!({ "recoveryPlanExecution": self.execution_json(exec, true) }))
    }

    /// CancelRecoveryPlanExecution: "Cancels an in-progress Recovery Plan execution.
    /// Remaining steps are skipped." A running SERVER step's jobs are not stopped: the
    /// execution is CANCELLING until they end, then CANCELLED.
    fn cancel(&mut self, e: usize, now: OffsetDateTime) -> Result<(), ApiError> {
        let exec = &mut self.recovery_plans.executions[e];
        if !matches!(exec.status, ExecStatus::Created | ExecStatus::InProgress) {
            return Err(ApiError::conflict(
                format!(
                    "Execution {} is {}, not in progress",
                    exec.arn,
                    exec.status.as_str()
                ),
                &exec.arn,
                "RECOVERY_PLAN_EXECUTION",
            ));
        }
        let mut running = false;
        for step in &mut exec.steps {
            match step.status {
                StepStatus::NotStarted | StepStatus::Waiting => {
                    step.status = StepStatus::Skipped;
                    step.updated = now;
                }
                StepStatus::Executing => running = true,
                _ => {}
            }
        }
        if running {
            exec.status = ExecStatus::Cancelling;
        } else {
            exec.status = ExecStatus::Cancelled;
            exec.completed = Some(now);
        }
        Ok(())
    }

    /// The step ARN's execution and step positions.
    fn exec_step_position(&self, arn: &str) -> Result<(usize, usize), ApiError> {
        (self.recovery_plans.executions.iter().enumerate())
            .find_map(|(e, x)| x.steps.iter().position(|s| s.arn == arn).map(|i| (e, i)))
            .ok_or_else(|| not_found(arn, "RECOVERY_PLAN_EXECUTION_STEP"))
    }

    fn step_conflict(arn: &str, message: String) -> ApiError {
        ApiError::conflict(message, arn, "RECOVERY_PLAN_EXECUTION_STEP")
    }

    fn execution_step_operation(
        &mut self,
        operation: &str,
        req: ExecRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let arn = req
            .recovery_plan_execution_step_arn
            .clone()
            .unwrap_or_default();
        let (e, i) = self.exec_step_position(&arn)?;
        match operation {
            "RetryRecoveryPlanExecutionStep" => self.retry_step(e, i, now)?,
            "UpdateRecoveryPlanExecutionStep" => self.update_exec_step(e, i, req, now)?,
            _ => {}
        }
        let step = &self.recovery_plans.executions[e].steps[i];
        Ok(json!({ "recoveryPlanExecutionStep": self.exec_step_json(step, i, true) }))
    }

    /// RetryRecoveryPlanExecutionStep: "Retries a failed SERVER type execution step": new
    /// launch jobs, `attempt` + 1, and the FAILED execution in progress again.
    fn retry_step(&mut self, e: usize, i: usize, now: OffsetDateTime) -> Result<(), ApiError> {
        let exec = &self.recovery_plans.executions[e];
        let step = &exec.steps[i];
        if !step.config.is_server() || step.status != StepStatus::Failed {
            return Err(Self::step_conflict(
                &step.arn,
                format!(
                    "Only a FAILED SERVER step can be retried; this one is {}",
                    step.status.as_str()
                ),
            ));
        }
        self.resume(e, now)?;
        let step = &mut self.recovery_plans.executions[e].steps[i];
        step.attempt += 1;
        step.error = None;
        self.launch_step(e, i, now);
        Ok(())
    }

    /// A FAILED execution in progress again from `now` (retry, or skip of its failed step),
    /// unless another execution of its plan has started since.
    fn resume(&mut self, e: usize, now: OffsetDateTime) -> Result<(), ApiError> {
        let plan_arn = self.recovery_plans.executions[e].plan_arn.clone();
        if self.recovery_plans.executions[e].status == ExecStatus::Failed {
            self.refuse_if_running(&plan_arn)?;
        }
        let exec = &mut self.recovery_plans.executions[e];
        exec.status = ExecStatus::InProgress;
        exec.error = None;
        exec.completed = None;
        exec.cursor = now;
        Ok(())
    }

    /// UpdateRecoveryPlanExecutionStep: skip (User Guide, "Skipping a step": a NOT_STARTED,
    /// FAILED or TIMED_OUT step; skipping a FAILED step of a FAILED execution resumes it at
    /// the next step), or edit the servers or wait of a NOT_STARTED step.
    fn update_exec_step(
        &mut self,
        e: usize,
        i: usize,
        req: ExecRequest,
        now: OffsetDateTime,
    ) -> Result<(), ApiError> {
        let edits = usize::from(req.status.is_some())
            + usize::from(req.servers.is_some())
            + usize::from(req.wait_duration_minutes.is_some());
        if edits != 1 {
            return Err(ApiError::field(
                "status",
                "Give exactly one of status, servers and waitDurationMinutes",
            ));
        }
        let step = &self.recovery_plans.executions[e].steps[i];
        let (arn, current) = (step.arn.clone(), step.status);
        if let Some(status) = req.status {
            // UpdateRecoveryPlanExecutionStepRequest.status: "Only SKIPPED is accepted."
            if StepStatus::parse(&status) != Some(StepStatus::Skipped) {
                return Err(ApiError::field("status", "Only SKIPPED is accepted"));
            }
            if !matches!(
                current,
                StepStatus::NotStarted | StepStatus::Failed | StepStatus::TimedOut
            ) {
                return Err(Self::step_conflict(
                    &arn,
                    format!("A {} step cannot be skipped", current.as_str()),
                ));
            }
            if current != StepStatus::NotStarted {
                self.resume(e, now)?;
            }
            let step = &mut self.recovery_plans.executions[e].steps[i];
            step.status = StepStatus::Skipped;
            step.updated = now;
            self.advance_executions(now);
            return Ok(());
        }
        if current != StepStatus::NotStarted {
            return Err(Self::step_conflict(
                &arn,
                format!(
                    "Only a NOT_STARTED step can be edited; this one is {}",
                    current.as_str()
                ),
            ));
        }
        let config = match (&step.config, req.servers, req.wait_duration_minutes) {
            (StepConfig::Server(_), Some(servers), None) => StepConfig::Server(servers),
            (StepConfig::Wait(_), None, Some(m)) => StepConfig::Wait(m),
            (StepConfig::Server(_), ..) => {
                return Err(ApiError::field(
                    "waitDurationMinutes",
                    "A SERVER step has no wait",
                ));
            }
            (StepConfig::Wait(_), ..) => {
                return Err(ApiError::field("servers", "A WAIT step has no servers"));
            }
        };
        self.check_config(&config)?;
        let step = &mut self.recovery_plans.executions[e].steps[i];
        step.config = config;
        step.updated = now;
        Ok(())
    }

    fn execution_json(&self, e: &Execution, full: bool) -> Value {
        let mut v = json!({
            "recoveryPlanExecutionArn": e.arn,
            "recoveryPlanArn": e.plan_arn,
            "mode": if e.drill { "DRILL" } else { "RECOVERY" },
            "status": e.status.as_str(),
            "startedAt": iso(e.started),
        });
        if let Some((code, message)) = &e.error {
            v["errorDetail"] = json!({"code": code, "message": message});
        }
        if full {
            if let Some(t) = e.completed {
                v["completedAt"] = Value::from(iso(t));
            }
            v["tags"] = json!(e.tags);
        }
        v
    }

    fn exec_step_json(&self, s: &ExecStep, i: usize, full: bool) -> Value {
        let configuration = match &s.config {
            StepConfig::Server(servers) => {
                let job_of = |id: &str| {
                    (s.jobs.iter().map(|&j| &self.jobs[j]))
                        .find(|j| j.servers.iter().any(|x| x.source_server_id == id))
                        .map(|j| j.id.as_str())
                };
                let list: Vec<Value> = (servers.iter())
                    .map(|x| x.json(job_of(x.source_server_id())))
                    .collect();
                json!({"executionServerStepConfiguration": {"servers": list}})
            }
            StepConfig::Wait(m) => json!({"waitStepConfiguration": {"waitDurationMinutes": m}}),
        };
        let mut v = json!({
            "recoveryPlanExecutionStepArn": s.arn,
            "stepIndex": i + 1,
            "stepName": s.name,
            "status": s.status.as_str(),
            "configuration": configuration,
        });
        if let Some((code, message)) = &s.error {
            v["errorDetail"] = json!({"code": code, "message": message});
        }
        if full {
            v["attempt"] = Value::from(s.attempt);
            v["createdAt"] = Value::from(iso(s.created));
            v["updatedAt"] = Value::from(iso(s.updated));
        }
        v
    }
}
