//! DRS's own recovery plans ("native plans"): the calls the CLI makes to push, pull, start
//! and follow them, as a seam of its own beside [`super::Drs`] (the worker never uses them, so
//! its fakes need not grow). [`super::SdkDrs`] implements it in `native_sdk.rs`.
//!
//! The shapes and limits are the DRS model's (RecoveryPlan, RecoveryPlanStep, ...): at most
//! 20 steps a plan, 1..=100 servers a SERVER step, 1..=120 minutes a WAIT step.

use std::collections::BTreeMap;
use std::future::Future;

use crate::AwsError;

/// RecoveryPlanStepOrder's maximum: steps a plan may hold.
pub const MAX_STEPS: usize = 20;
/// RecoveryPlanServers' maximum: servers a SERVER step may hold.
pub const MAX_SERVERS_PER_STEP: usize = 100;
/// WaitDurationMinutes' range.
pub const WAIT_MINUTES: std::ops::RangeInclusive<u32> = 1..=120;

/// A recovery plan (RecoveryPlan; a listing's RecoveryPlanSummary has no description or tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativePlan {
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    /// ACTIVE, or INVALID (no SERVER step).
    pub status: String,
    pub tags: BTreeMap<String, String>,
}

/// A server of a SERVER step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeServer {
    /// SourceServerARN (`arn:aws:drs:REGION:ACCOUNT:source-server/s-...`).
    pub server_arn: String,
    /// impactLevel OPTIONAL (CRITICAL, the default, otherwise).
    pub optional: bool,
    /// The launch job of this server, in an execution step.
    pub job_id: Option<String>,
}

impl NativeServer {
    /// The source server ID at the end of the ARN.
    pub fn source_server_id(&self) -> &str {
        self.server_arn
            .rsplit_once("source-server/")
            .map_or("", |(_, id)| id)
    }
}

/// RecoveryPlanStepConfiguration (and the execution step's, with job IDs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeStepConfig {
    Server(Vec<NativeServer>),
    Wait { minutes: u32 },
}

/// A step of a plan (RecoveryPlanStep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeStep {
    pub arn: String,
    /// 1-based.
    pub order: u32,
    pub name: String,
    pub config: NativeStepConfig,
}

/// A run of a plan (RecoveryPlanExecution).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeExecution {
    pub arn: String,
    pub plan_arn: String,
    pub drill: bool,
    /// CREATED, IN_PROGRESS, COMPLETED, FAILED, CANCELLING, CANCELLED.
    pub status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    /// errorDetail as `CODE: message`.
    pub error: Option<String>,
}

/// A step of a run (RecoveryPlanExecutionStep; a listing has no attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeExecutionStep {
    pub arn: String,
    /// 1-based.
    pub index: u32,
    pub name: String,
    /// NOT_STARTED, EXECUTING, WAITING, COMPLETED, FAILED, TIMED_OUT, SKIPPED.
    pub status: String,
    pub config: NativeStepConfig,
    pub attempt: Option<u32>,
    pub error: Option<String>,
}

/// StartRecoveryPlanExecution's request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartPlanRequest {
    pub plan_arn: String,
    pub drill: bool,
    /// The recovery snapshot of each named source server (at most 200).
    pub snapshot_ids: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// The recovery-plan calls of DRS. Listings read every page; errors are classified.
pub trait RecoveryPlans: Send + Sync + 'static {
    fn list_recovery_plans(&self)
    -> impl Future<Output = Result<Vec<NativePlan>, AwsError>> + Send;
    fn get_recovery_plan(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<NativePlan, AwsError>> + Send;
    fn create_recovery_plan(
        &self,
        name: &str,
        description: Option<&str>,
        tags: BTreeMap<String, String>,
    ) -> impl Future<Output = Result<NativePlan, AwsError>> + Send;
    fn list_recovery_plan_steps(
        &self,
        plan_arn: &str,
    ) -> impl Future<Output = Result<Vec<NativeStep>, AwsError>> + Send;
    /// `order` None appends the step.
    fn create_recovery_plan_step(
        &self,
        plan_arn: &str,
        name: &str,
        order: Option<u32>,
        config: &NativeStepConfig,
    ) -> impl Future<Output = Result<NativeStep, AwsError>> + Send;
    fn update_recovery_plan_step(
        &self,
        step_arn: &str,
        name: &str,
        config: &NativeStepConfig,
    ) -> impl Future<Output = Result<NativeStep, AwsError>> + Send;
    fn delete_recovery_plan_step(
        &self,
        step_arn: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Every step ARN of the plan, in the order wanted.
    fn reorder_recovery_plan_steps(
        &self,
        plan_arn: &str,
        ordered_step_arns: Vec<String>,
    ) -> impl Future<Output = Result<Vec<NativeStep>, AwsError>> + Send;
    fn start_recovery_plan_execution(
        &self,
        request: StartPlanRequest,
    ) -> impl Future<Output = Result<NativeExecution, AwsError>> + Send;
    fn get_recovery_plan_execution(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<NativeExecution, AwsError>> + Send;
    fn list_recovery_plan_execution_steps(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = Result<Vec<NativeExecutionStep>, AwsError>> + Send;
    fn retry_recovery_plan_execution_step(
        &self,
        step_arn: &str,
    ) -> impl Future<Output = Result<NativeExecutionStep, AwsError>> + Send;
    /// UpdateRecoveryPlanExecutionStep with `status` SKIPPED.
    fn skip_recovery_plan_execution_step(
        &self,
        step_arn: &str,
    ) -> impl Future<Output = Result<NativeExecutionStep, AwsError>> + Send;
    fn cancel_recovery_plan_execution(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<NativeExecution, AwsError>> + Send;
}
