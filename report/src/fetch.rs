//! Gathers a report's [`Sources`]: the history (through the worker's [`History`] seam), Step
//! Functions (DescribeExecution, DescribeStateMachineForExecution) and DRS (DescribeJobs,
//! DescribeJobLogItems, DescribeRecoveryInstances, DescribeSourceServers for hostnames).
//!
//! Only the history is required: an execution it lacks is an error naming the table and key.
//! Any other source that cannot answer leaves its facts out and says so in the report's
//! `sources`.

use std::collections::BTreeMap;

use drs_waves_contract::{PREFLIGHT_TARGETS_KEY, PlanSpec, Targets};
use drs_worker::drs::{Drs, JobFilter, SdkDrs};
use drs_worker::history::{EXECUTION_SK, History, execution_pk};
use time::OffsetDateTime;

use crate::build::{DrsJobFacts, InstanceFacts, MachineFacts, ServerLog, Sources, WaveSource};

/// The preflight state's name in every generated machine (codegen's `names::PREFLIGHT`).
pub const PREFLIGHT_STATE: &str = "Preflight";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
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

/// Where to look.
pub struct Clients<'a, H> {
    pub history: &'a H,
    /// The history table's name, for messages.
    pub table: &'a str,
    pub sfn: &'a aws_sdk_sfn::Client,
    pub drs: &'a aws_sdk_drs::Client,
}

pub async fn sources<H: History>(
    c: &Clients<'_, H>,
    execution_arn: &str,
    now: OffsetDateTime,
) -> Result<Sources, FetchError> {
    let history_error = |e: drs_worker::TaskError| FetchError::History {
        table: c.table.to_owned(),
        message: e.to_string(),
    };
    let execution = c
        .history
        .get_execution(execution_arn)
        .await
        .map_err(history_error)?
        .ok_or_else(|| FetchError::NotInHistory {
            execution: execution_arn.to_owned(),
            table: c.table.to_owned(),
            pk: execution_pk(execution_arn),
            sk: EXECUTION_SK.to_owned(),
        })?;
    let mut notes = vec![format!(
        "History: DynamoDB table {} (items under pk {}).",
        c.table,
        execution_pk(execution_arn)
    )];

    let machine = machine_facts(c.sfn, execution_arn, &mut notes).await;
    let wave_count = machine
        .as_ref()
        .and_then(|m| m.plan.as_ref())
        .map_or(execution.wave_count, |p| {
            u32::try_from(p.waves.len()).unwrap_or(0)
        })
        .max(execution.wave_count);
    let mut waves = Vec::new();
    for i in 1..=wave_count {
        let Some(record) = c
            .history
            .get_wave(execution_arn, i)
            .await
            .map_err(history_error)?
        else {
            continue;
        };
        let launch_points = c
            .history
            .launch_points(execution_arn, i)
            .await
            .map_err(history_error)?;
        waves.push(WaveSource {
            record,
            launch_points,
        });
    }
    let jobs = c
        .history
        .list_jobs(execution_arn)
        .await
        .map_err(history_error)?;

    let job_ids: Vec<String> = waves
        .iter()
        .flat_map(|w| w.record.job_ids.iter().cloned())
        .collect();
    let sdk = SdkDrs::new(c.drs.clone());
    let mut drs_jobs = BTreeMap::new();
    if !job_ids.is_empty() {
        match sdk
            .describe_jobs(JobFilter {
                job_ids: job_ids.clone(),
                from_date: None,
            })
            .await
        {
            Ok(found) => {
                for j in found {
                    drs_jobs.insert(
                        j.id.clone(),
                        DrsJobFacts {
                            status: j.status.as_str().to_owned(),
                            created_at: j.created_at,
                            ended_at: j.ended_at,
                        },
                    );
                }
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
    for job in &job_ids {
        match job_log(c.drs, job).await {
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
    let server_ids: Vec<String> = jobs
        .iter()
        .flat_map(|j| j.servers.keys().cloned())
        .chain(waves.iter().flat_map(|w| w.record.planned_servers()))
        .collect();
    let instances = match recovery_instances(c.drs, &server_ids).await {
        Ok(i) => i,
        Err(e) => {
            notes.push(format!("DRS DescribeRecoveryInstances failed ({e}).",));
            BTreeMap::new()
        }
    };
    let hostnames = match sdk.describe_source_servers().await {
        Ok(servers) => servers
            .into_iter()
            .filter_map(|s| Some((s.id, s.hostname.filter(|h| !h.is_empty())?)))
            .collect(),
        Err(e) => {
            notes.push(format!(
                "DRS DescribeSourceServers failed ({e}): no hostnames."
            ));
            BTreeMap::new()
        }
    };
    notes.push(
        "DRS: DescribeJobs (job start and end), DescribeJobLogItems (each server's launch start \
         and failure), DescribeRecoveryInstances (EC2 instance), DescribeSourceServers (hostname)."
            .into(),
    );
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
        notes,
    })
}

/// DescribeExecution and the definition of the machine that ran (its plan and targets).
async fn machine_facts(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    notes: &mut Vec<String>,
) -> Option<MachineFacts> {
    let described = match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(d) => d,
        Err(e) => {
            notes.push(format!(
                "Step Functions DescribeExecution failed ({}): the input and the machine's status are missing.",
                aws_sdk_sfn::error::DisplayErrorContext(&e)
            ));
            return None;
        }
    };
    let mut facts = MachineFacts {
        status: Some(described.status().as_str().to_owned()),
        state_machine_arn: Some(described.state_machine_arn().to_owned()),
        input: described.input().and_then(|i| serde_json::from_str(i).ok()),
        stopped_at: described.stop_date().and_then(|d| {
            d.fmt(aws_sdk_sfn::primitives::DateTimeFormat::DateTime)
                .ok()
        }),
        plan: None,
        targets: None,
    };
    match sfn
        .describe_state_machine_for_execution()
        .execution_arn(arn)
        .send()
        .await
    {
        Ok(m) => {
            let (plan, targets) = plan_and_targets(m.definition());
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
            "Step Functions DescribeStateMachineForExecution failed ({}): no targets.",
            aws_sdk_sfn::error::DisplayErrorContext(&e)
        )),
    }
    Some(facts)
}

/// The plan and targets in a generated machine's preflight state. Targets are empty (not None)
/// when the machine has a preflight state without them.
pub fn plan_and_targets(definition: &str) -> (Option<PlanSpec>, Option<Targets>) {
    let Ok(asl) = serde_json::from_str::<serde_json::Value>(definition) else {
        return (None, None);
    };
    let params = &asl["States"][PREFLIGHT_STATE]["Parameters"];
    if params.is_null() {
        return (None, None);
    }
    let plan = serde_json::from_value(params["plan"].clone()).ok();
    let targets = match params.get(PREFLIGHT_TARGETS_KEY) {
        None => Some(Targets::default()),
        Some(t) => serde_json::from_value(t.clone()).ok(),
    };
    (plan, targets)
}

/// Each server's first event and failure in a job's log.
async fn job_log(
    drs: &aws_sdk_drs::Client,
    job_id: &str,
) -> Result<BTreeMap<String, ServerLog>, String> {
    let mut out: BTreeMap<String, ServerLog> = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let resp = drs
            .describe_job_log_items()
            .job_id(job_id)
            .max_results(1000)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| aws_sdk_drs::error::DisplayErrorContext(&e).to_string())?;
        for item in resp.items() {
            let data = item.event_data();
            let Some(server) = data
                .and_then(|d| d.source_server_id())
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let event = item.event().map(|e| e.as_str()).unwrap_or_default();
            let at = item.log_date_time().map(str::to_owned);
            let log = out.entry(server.to_owned()).or_default();
            if log.first_event_at.is_none() {
                log.first_event_at = at.clone();
            }
            if (event.ends_with("_FAIL") || event.ends_with("_FAILED")) && log.failed_at.is_none() {
                log.failed_at = at;
                log.failure = Some(
                    data.and_then(|d| d.raw_error())
                        .filter(|r| !r.is_empty())
                        .map_or_else(|| event.to_owned(), str::to_owned),
                );
            }
        }
        match resp.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// The recovery instances of these source servers, by source server ID.
async fn recovery_instances(
    drs: &aws_sdk_drs::Client,
    server_ids: &[String],
) -> Result<BTreeMap<String, InstanceFacts>, String> {
    let mut out = BTreeMap::new();
    if server_ids.is_empty() {
        return Ok(out);
    }
    for ids in server_ids.chunks(200) {
        let mut next: Option<String> = None;
        loop {
            let filters = aws_sdk_drs::types::DescribeRecoveryInstancesRequestFilters::builder()
                .set_source_server_ids(Some(ids.to_vec()))
                .build();
            let resp = drs
                .describe_recovery_instances()
                .filters(filters)
                .max_results(200)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| aws_sdk_drs::error::DisplayErrorContext(&e).to_string())?;
            for i in resp.items() {
                let Some(source) = i.source_server_id().filter(|s| !s.is_empty()) else {
                    continue;
                };
                out.insert(
                    source.to_owned(),
                    InstanceFacts {
                        recovery_instance_id: i
                            .recovery_instance_id()
                            .unwrap_or_default()
                            .to_owned(),
                        ec2_instance_id: i.ec2_instance_id().map(str::to_owned),
                        source_server_id: source.to_owned(),
                    },
                );
            }
            match resp.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    Ok(out)
}
