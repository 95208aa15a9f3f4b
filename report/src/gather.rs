//! The evidence of an execution: gathering a report's sources (the history through the
//! [`History`] seam, Step Functions and DRS through [`EvidenceApis`]), the RTO forecast from the
//! plan's past executions, and where reports go ([`Evidence`]: an S3 bucket, written by the
//! finish and record-failure tasks).
//!
//! The report itself (verdicts, timeline, page, JSON) is [`crate::build`] and
//! [`crate::render`], which do no I/O. `drs-waves report EXECUTION -o DIR` gathers with the same
//! [`gather`], so the copy in the bucket and the one an operator renders later are made the same
//! way.
//!
//! Only the history is required: an execution it lacks is an error naming the table and key.
//! Any other source that cannot answer leaves its facts out and says so in the report's
//! `sources`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::build::{DrsJobFacts, InstanceFacts, MachineFacts, ServerLog, Sources, WaveSource};
use drs_waves_contract::{Mode, PlanSpec, PreflightParameters, Targets};
use time::OffsetDateTime;

use drs_waves_aws::s3::{BoxFuture, DynObjectStore};
use drs_waves_history::{EXECUTION_SK, History, HistoryError, JobRecord, execution_pk};
use drs_waves_rules::LEARN_FROM_EXECUTIONS;

mod forecast;
pub mod instances;
mod sdk;

pub use forecast::forecast;
use forecast::forecast_before;
pub use sdk::SdkEvidenceApis;

/// How long writing a report may take at the end of an execution before it is given up (and
/// recorded as failed): well within the finish and record-failure tasks' timeouts.
pub const DEFAULT_REPORT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(
        "execution {execution} is not in the history table {table} (no item pk={pk:?}, sk={sk:?}): \
         check the ARN, the table (--table) and the region/endpoint"
    )]
    NotInHistory {
        execution: String,
        table: String,
        pk: String,
        sk: String,
    },
    #[error("reading the history table {table}: {message}")]
    History { table: String, message: String },
}

pub use drs_waves_aws::sfn::ExecutionDescription;

/// The Step Functions and DRS reads a report needs beyond the history. Errors are plain texts:
/// a source that cannot answer only leaves its facts out. Boxed futures, so that the task
/// handlers hold it without one more type parameter.
pub trait EvidenceApis: Send + Sync + 'static {
    /// DescribeExecution.
    fn describe_execution<'a>(
        &'a self,
        arn: &'a str,
    ) -> BoxFuture<'a, Result<ExecutionDescription, String>>;
    /// DescribeStateMachineForExecution: the definition of the machine that ran.
    fn machine_definition<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, Result<String, String>>;
    /// DescribeJobs of these IDs, by job ID.
    fn jobs<'a>(
        &'a self,
        ids: Vec<String>,
    ) -> BoxFuture<'a, Result<BTreeMap<String, DrsJobFacts>, String>>;
    /// DescribeJobLogItems: each server's first event and failure, by source server ID.
    fn job_log<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, ServerLog>, String>>;
    /// DescribeRecoveryInstances of these source servers: every instance listed, whoever
    /// launched it (the report keeps the execution's own, [`instances::of_execution`]).
    fn recovery_instances<'a>(
        &'a self,
        server_ids: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<InstanceFacts>, String>>;
    /// DescribeSourceServers: hostnames by source server ID.
    fn hostnames(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, String>>;
}

/// The plan and targets in a generated machine's preflight state. Targets are empty (not None)
/// when the machine has a preflight state without them.
pub fn plan_and_targets(definition: &str) -> (Option<PlanSpec>, Option<Targets>) {
    // The plan and the targets are read apart: a machine whose targets cannot be read still
    // names its plan, and the other way round.
    let params = PreflightParameters::read(definition).ok();
    (
        params.as_ref().and_then(|p| p.plan().ok()),
        params.as_ref().and_then(|p| p.targets().ok()),
    )
}

/// Gathers a report's sources. `table` names the history table in messages.
pub async fn gather<H: History>(
    history: &H,
    table: &str,
    apis: &dyn EvidenceApis,
    execution_arn: &str,
    now: OffsetDateTime,
) -> Result<Sources, GatherError> {
    let history_error = |e: HistoryError| GatherError::History {
        table: table.to_owned(),
        message: e.to_string(),
    };
    let execution = history
        .get_execution(execution_arn)
        .await
        .map_err(history_error)?
        .ok_or_else(|| GatherError::NotInHistory {
            execution: execution_arn.to_owned(),
            table: table.to_owned(),
            pk: execution_pk(execution_arn),
            sk: EXECUTION_SK.to_owned(),
        })?;
    let mut notes = vec![format!(
        "History: DynamoDB table {table} (items under pk {}).",
        execution_pk(execution_arn)
    )];

    let machine = machine_facts(apis, execution_arn, &mut notes).await;
    let wave_count = machine
        .as_ref()
        .and_then(|m| m.plan.as_ref())
        .map_or(execution.wave_count, |p| {
            u32::try_from(p.waves.len()).unwrap_or(0)
        })
        .max(execution.wave_count);
    let waves = waves_of(history, execution_arn, wave_count)
        .await
        .map_err(history_error)?;
    let jobs = history
        .list_jobs(execution_arn)
        .await
        .map_err(history_error)?;
    let job_ids: Vec<String> = waves
        .iter()
        .flat_map(|w| w.record.job_ids.iter().cloned())
        .collect();
    let (drs_jobs, job_logs) = drs_job_facts(apis, &job_ids, &mut notes).await;
    let instances = instances_of(apis, &waves, &jobs, &job_ids, execution.mode, &mut notes).await;
    let hostnames = match apis.hostnames().await {
        Ok(h) => h,
        Err(e) => {
            notes.push(format!(
                "DRS DescribeSourceServers failed ({e}): no hostnames."
            ));
            BTreeMap::new()
        }
    };
    notes.push(
        "DRS: DescribeJobs (job start and end), DescribeJobLogItems (each server's launch start \
         and failure), DescribeRecoveryInstances (EC2 instance and point in time, only the \
         instances this execution's launch jobs made), DescribeSourceServers (hostname)."
            .into(),
    );
    let forecast = match forecast_before(history, &execution, LEARN_FROM_EXECUTIONS).await {
        Ok(f) => Some(f),
        Err(e) => {
            notes.push(format!(
                "Forecast: the plan's past executions could not be read ({e})."
            ));
            None
        }
    };
    Ok(Sources {
        now,
        execution,
        waves,
        jobs,
        machine,
        drs_jobs,
        job_logs,
        instances,
        hostnames,
        forecast,
        notes,
    })
}

/// Each wave the history has a record of, with its launch points.
async fn waves_of<H: History>(
    history: &H,
    execution_arn: &str,
    wave_count: u32,
) -> Result<Vec<WaveSource>, HistoryError> {
    let mut waves = Vec::new();
    for i in 1..=wave_count {
        let Some(record) = history.get_wave(execution_arn, i).await? else {
            continue;
        };
        let launch_points = history.launch_points(execution_arn, i).await?;
        let health = history.wave_health(execution_arn, i).await?;
        waves.push(WaveSource {
            record,
            launch_points,
            health,
        });
    }
    Ok(waves)
}

/// What DRS says of the launch jobs (DescribeJobs) and of each server in them (the job logs),
/// as far as it can answer: what it cannot is said in `notes`.
pub(crate) async fn drs_job_facts(
    apis: &dyn EvidenceApis,
    job_ids: &[String],
    notes: &mut Vec<String>,
) -> (
    BTreeMap<String, DrsJobFacts>,
    BTreeMap<(String, String), ServerLog>,
) {
    let mut drs_jobs = BTreeMap::new();
    if !job_ids.is_empty() {
        match apis.jobs(job_ids.to_vec()).await {
            Ok(found) => {
                drs_jobs = found;
                notes.push(format!(
                    "DRS DescribeJobs: {} of {} launch job(s) found.",
                    drs_jobs.len(),
                    job_ids.len()
                ));
            }
            Err(e) => notes.push(format!(
                "DRS DescribeJobs failed ({e}): jobs' start and end times are missing."
            )),
        }
    }
    let mut job_logs = BTreeMap::new();
    for job in job_ids {
        match apis.job_log(job).await {
            Ok(by_server) => {
                for (server, log) in by_server {
                    job_logs.insert((job.clone(), server), log);
                }
            }
            Err(e) => notes.push(format!(
                "DRS DescribeJobLogItems of {job} failed ({e}): its servers' launch starts are the job's start."
            )),
        }
    }
    (drs_jobs, job_logs)
}

/// The recovery instances this execution's launch jobs made, of the servers it launched or
/// planned.
pub(crate) async fn instances_of(
    apis: &dyn EvidenceApis,
    waves: &[WaveSource],
    jobs: &[JobRecord],
    job_ids: &[String],
    mode: Option<Mode>,
    notes: &mut Vec<String>,
) -> BTreeMap<(String, String), InstanceFacts> {
    let server_ids: Vec<String> = jobs
        .iter()
        .flat_map(|j| j.servers.keys().cloned())
        .chain(waves.iter().flat_map(|w| w.record.planned_servers()))
        .collect();
    if server_ids.is_empty() {
        return BTreeMap::new();
    }
    let launch_jobs: std::collections::BTreeSet<String> = job_ids
        .iter()
        .cloned()
        .chain(jobs.iter().map(|j| j.job_id.clone()))
        .collect();
    match apis.recovery_instances(server_ids).await {
        Ok(listed) => instances::of_execution(listed, &launch_jobs, mode),
        Err(e) => {
            notes.push(format!("DRS DescribeRecoveryInstances failed ({e})."));
            BTreeMap::new()
        }
    }
}

/// DescribeExecution and the definition of the machine that ran (its plan and targets).
async fn machine_facts(
    apis: &dyn EvidenceApis,
    arn: &str,
    notes: &mut Vec<String>,
) -> Option<MachineFacts> {
    let described = match apis.describe_execution(arn).await {
        Ok(d) => d,
        Err(e) => {
            notes.push(format!(
                "Step Functions DescribeExecution failed ({e}): the input and the machine's status are missing."
            ));
            return None;
        }
    };
    let mut facts = MachineFacts {
        status: Some(described.status),
        state_machine_arn: Some(described.state_machine_arn),
        input: described.input,
        stopped_at: described.stopped_at,
        plan: None,
        targets: None,
    };
    match apis.machine_definition(arn).await {
        Ok(definition) => {
            let (plan, targets) = plan_and_targets(&definition);
            facts.plan = plan;
            facts.targets = targets;
            notes.push(match &facts.targets {
                Some(t) if !t.is_empty() => {
                    "Targets: from the definition of the state machine that ran (DescribeStateMachineForExecution).".into()
                }
                _ => "Targets: the state machine that ran sets none (rtoMinutes, rpoMinutes in the plan).".into(),
            });
        }
        Err(e) => notes.push(format!(
            "Step Functions DescribeStateMachineForExecution failed ({e}): no targets."
        )),
    }
    Some(facts)
}

/// Where the finish and record-failure tasks put an execution's report: both files under
/// `<plan>/<execution name>/` in `bucket`.
#[derive(Clone)]
pub struct Evidence {
    pub bucket: String,
    /// The history table's name, for the report's sources.
    pub table: String,
    pub store: Arc<dyn DynObjectStore>,
    pub apis: Arc<dyn EvidenceApis>,
    /// How long gathering, rendering and uploading may take before it is given up.
    pub timeout: Duration,
}

impl Evidence {
    /// The key prefix of an execution's report: `<plan>/<execution name>/`.
    pub fn prefix(plan: &str, execution_name: &str) -> String {
        format!("{plan}/{execution_name}/")
    }

    /// Where a report is, as recorded on the EXECUTION item (`reportLocation`).
    pub fn location(&self, plan: &str, execution_name: &str) -> String {
        format!(
            "s3://{}/{}",
            self.bucket,
            Self::prefix(plan, execution_name)
        )
    }
}

#[cfg(any(test, feature = "fake"))]
pub use fake::FakeEvidenceApis;

#[cfg(any(test, feature = "fake"))]
mod fake {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use crate::build::{DrsJobFacts, InstanceFacts, ServerLog};

    use super::{EvidenceApis, ExecutionDescription};
    use drs_waves_aws::s3::BoxFuture;

    /// An [`EvidenceApis`] that knows what it is told: the execution and its machine's
    /// definition, DRS jobs; every other source answers "not available" (and the report says
    /// so in its sources).
    #[derive(Default)]
    pub struct FakeEvidenceApis {
        pub execution: Mutex<Option<ExecutionDescription>>,
        pub definition: Mutex<Option<String>>,
        pub jobs: Mutex<BTreeMap<String, DrsJobFacts>>,
        /// What DescribeRecoveryInstances lists; None: not available.
        pub instances: Mutex<Option<Vec<InstanceFacts>>>,
    }

    const NOT_HERE: &str = "not available in this test";

    impl EvidenceApis for FakeEvidenceApis {
        fn describe_execution<'a>(
            &'a self,
            _arn: &'a str,
        ) -> BoxFuture<'a, Result<ExecutionDescription, String>> {
            let d = self.execution.lock().map(|d| d.clone()).unwrap_or(None);
            Box::pin(async move { d.ok_or_else(|| NOT_HERE.to_owned()) })
        }
        fn machine_definition<'a>(
            &'a self,
            _arn: &'a str,
        ) -> BoxFuture<'a, Result<String, String>> {
            let d = self.definition.lock().map(|d| d.clone()).unwrap_or(None);
            Box::pin(async move { d.ok_or_else(|| NOT_HERE.to_owned()) })
        }
        fn jobs<'a>(
            &'a self,
            ids: Vec<String>,
        ) -> BoxFuture<'a, Result<BTreeMap<String, DrsJobFacts>, String>> {
            let known = self.jobs.lock().map(|j| j.clone()).unwrap_or_default();
            Box::pin(async move {
                Ok(known
                    .into_iter()
                    .filter(|(id, _)| ids.contains(id))
                    .collect())
            })
        }
        fn job_log<'a>(
            &'a self,
            _job_id: &'a str,
        ) -> BoxFuture<'a, Result<BTreeMap<String, ServerLog>, String>> {
            Box::pin(async { Err(NOT_HERE.to_owned()) })
        }
        fn recovery_instances<'a>(
            &'a self,
            server_ids: Vec<String>,
        ) -> BoxFuture<'a, Result<Vec<InstanceFacts>, String>> {
            let listed = self.instances.lock().map(|i| i.clone()).unwrap_or(None);
            Box::pin(async move {
                let listed = listed.ok_or_else(|| NOT_HERE.to_owned())?;
                Ok(listed
                    .into_iter()
                    .filter(|i| server_ids.contains(&i.source_server_id))
                    .collect())
            })
        }
        fn hostnames(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, String>> {
            Box::pin(async { Err(NOT_HERE.to_owned()) })
        }
    }
}
