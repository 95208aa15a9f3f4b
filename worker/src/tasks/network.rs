//! A `recoverNetwork` action: StartSourceNetworkRecovery (start-network) and DescribeJobs on
//! its job (check-network), in the wave's account, as a wave's launch is started and checked.
//!
//! The start is idempotent across a lost answer, a dead worker or a Step Functions retry: it
//! looks in the history (the NETWORK item, written before the task answers), then for a job
//! tagged with this execution and action, and starts a job only when neither knows of one. A
//! recorded job that FAILED is the one an operator's retry replaces (tagged as its retry). A
//! ConflictException (a network already in an active recovery) is transient: it may be this
//! action's own job, not listed yet, which the retry then finds.

use std::collections::BTreeMap;

use drs_waves_aws::drs::{Drs as _, DrsAccounts, Job, JobFilter, LaunchStatus, is_conflict};
use drs_waves_contract::{
    MAX_CAUSE_CHARS, NetworkState, NetworkStatus, NetworkTaskInput, job_tags,
};
use drs_waves_history::{History, NetworkRecord};
use drs_waves_rules::{format_time, parse_time, seconds_between};
use tracing::info;

use super::Handlers;
use crate::error::{TaskError, truncate_chars};
use crate::sfn::ExecutionLookup;

use drs_waves_contract::network::NETWORK_POLL_SECONDS;

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    pub async fn start_network(&self, input: NetworkTaskInput) -> Result<NetworkState, TaskError> {
        let run = &input.run;
        self.ensure_open(run).await?;
        let (wave, phase, position) = (&input.wave, input.phase.as_str(), input.position);
        let recorded = self
            .history
            .network(&run.execution_id, wave.index, phase, position)
            .await?;
        // A recorded job that FAILED is an operator's retry (`onFailure: ask`): a new job,
        // tagged as the retry of that one, so a lost answer of the retry is found by its tags
        // and never taken for the failed job.
        let key = match &recorded {
            Some(r) if r.status != NetworkStatus::Failed.as_str() => return Ok(state_of(r)),
            Some(failed) => format!("{}#retry-of-{}", input.action_key(), failed.job_id),
            None => input.action_key(),
        };
        let now = self.now();
        let drs = self.drs_of(wave.account.as_ref()).await;
        let found = drs
            .describe_jobs(JobFilter {
                job_ids: vec![],
                from_date: Some(format_time(
                    parse_time(&run.started_at).unwrap_or(now) - time::Duration::minutes(5),
                )),
            })
            .await?
            .into_iter()
            .find(|j| is_this_action(j, &run.execution_id, &key));
        let job = match found {
            Some(job) => job,
            None => {
                let known = drs
                    .describe_source_networks(input.source_networks.clone())
                    .await?;
                let unknown: Vec<&str> = input
                    .source_networks
                    .iter()
                    .filter(|id| !known.iter().any(|n| &n.id == *id))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    return Err(TaskError::PreflightFailed(vec![format!(
                        "wave {} {phase} {position}: DRS knows no source network {}",
                        wave.index,
                        unknown.join(", ")
                    )]));
                }
                let request = drs_waves_aws::drs::NetworkRecoveryRequest {
                    source_network_ids: input.source_networks.clone(),
                    deploy_as_new: false,
                    tags: tags(run, &key),
                };
                match drs.start_source_network_recovery(request).await {
                    Ok(job) => job,
                    Err(e) if is_conflict(&e) => {
                        return Err(TaskError::Transient {
                            call: "DRS StartSourceNetworkRecovery".into(),
                            detail: format!(
                                "{e} (this action's own job may not be listed yet: the retry looks for it)"
                            ),
                        });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if job.id.is_empty() {
            return Err(TaskError::Transient {
                call: "DRS StartSourceNetworkRecovery".into(),
                detail: "the answer named no job: the retry looks for it by its tags".into(),
            });
        }
        let record = NetworkRecord {
            execution_id: run.execution_id.clone(),
            wave_index: wave.index,
            phase: phase.to_owned(),
            position,
            source_networks: input.source_networks.clone(),
            job_id: job.id.clone(),
            started_at: format_time(now),
            status: NetworkStatus::InProgress.as_str().to_owned(),
            ended_at: None,
            reason: String::new(),
        };
        self.history.record_network(record.clone()).await?;
        info!(job = %job.id, networks = ?input.source_networks, "network recovery started");
        Ok(state_of(&record))
    }

    pub async fn check_network(&self, input: NetworkTaskInput) -> Result<NetworkState, TaskError> {
        let run = &input.run;
        self.ensure_open(run).await?;
        let state = input.state.clone().ok_or_else(|| {
            TaskError::InvalidInput("check-network needs the start task's state".into())
        })?;
        let started = parse_time(&state.started_at).ok_or_else(|| {
            TaskError::InvalidInput(format!("unreadable startedAt {:?}", state.started_at))
        })?;
        let now = self.now();
        let job = self
            .drs_of(input.wave.account.as_ref())
            .await
            .describe_jobs(JobFilter {
                job_ids: vec![state.job_id.clone()],
                from_date: None,
            })
            .await?
            .into_iter()
            .find(|j| j.id == state.job_id);
        let elapsed = seconds_between(started, now);
        let (status, reason) = verdict(&input, job.as_ref(), elapsed);
        let next = NetworkState {
            status,
            reason: truncate_chars(&reason, MAX_CAUSE_CHARS / 2),
            next_wait_seconds: NETWORK_POLL_SECONDS,
            ..state
        };
        if status != NetworkStatus::InProgress {
            let record = NetworkRecord {
                execution_id: run.execution_id.clone(),
                wave_index: input.wave.index,
                phase: input.phase.clone(),
                position: input.position,
                source_networks: input.source_networks.clone(),
                job_id: next.job_id.clone(),
                started_at: next.started_at.clone(),
                status: status.as_str().to_owned(),
                ended_at: Some(format_time(now)),
                reason: next.reason.clone(),
            };
            self.history.record_network(record).await?;
        }
        Ok(next)
    }
}

fn tags(run: &drs_waves_contract::RunContext, key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (job_tags::NETWORK_OF.to_owned(), run.execution_id.clone()),
        (job_tags::ACTION.to_owned(), key.to_owned()),
        (job_tags::PLAN.to_owned(), run.plan_name.clone()),
    ])
}

fn is_this_action(job: &Job, execution_id: &str, key: &str) -> bool {
    job.tags.get(job_tags::NETWORK_OF).map(String::as_str) == Some(execution_id)
        && job.tags.get(job_tags::ACTION).map(String::as_str) == Some(key)
}

fn state_of(r: &NetworkRecord) -> NetworkState {
    let status = match r.status.as_str() {
        "SUCCEEDED" => NetworkStatus::Succeeded,
        "FAILED" => NetworkStatus::Failed,
        _ => NetworkStatus::InProgress,
    };
    NetworkState {
        job_id: r.job_id.clone(),
        started_at: r.started_at.clone(),
        status,
        reason: r.reason.clone(),
        next_wait_seconds: NETWORK_POLL_SECONDS,
    }
}

/// The job's verdict: every network LAUNCHED succeeds; a network FAILED (or the job ended
/// without launching one) fails, naming each network and its launch status; past the
/// action's timeout it fails too; otherwise it is still in progress (a job not listed yet
/// included: DRS lists new jobs late).
pub fn verdict(
    input: &NetworkTaskInput,
    job: Option<&Job>,
    elapsed_seconds: u64,
) -> (NetworkStatus, String) {
    let statuses: Vec<(String, LaunchStatus)> = input
        .source_networks
        .iter()
        .map(|id| {
            let launch = job
                .and_then(|j| j.networks.iter().find(|n| &n.source_network_id == id))
                .map_or(LaunchStatus::Pending, |n| n.launch_status.clone());
            (id.clone(), launch)
        })
        .collect();
    let words = |keep: &dyn Fn(&LaunchStatus) -> bool| -> String {
        statuses
            .iter()
            .filter(|(_, s)| keep(s))
            .map(|(id, s)| format!("{id} {}", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let job_id = job.map_or("(not listed)", |j| j.id.as_str());
    if statuses.iter().all(|(_, s)| *s == LaunchStatus::Launched) {
        return (NetworkStatus::Succeeded, String::new());
    }
    let failed = |s: &LaunchStatus| matches!(s, LaunchStatus::Failed | LaunchStatus::Terminated);
    if statuses.iter().any(|(_, s)| failed(s)) {
        return (
            NetworkStatus::Failed,
            format!(
                "network recovery job {job_id} failed: source network {}",
                words(&failed)
            ),
        );
    }
    if job.is_some_and(|j| !j.status.is_active()) {
        return (
            NetworkStatus::Failed,
            format!(
                "network recovery job {job_id} ended without launching: {}",
                words(&|s| *s != LaunchStatus::Launched)
            ),
        );
    }
    if elapsed_seconds >= u64::from(input.timeout_seconds) {
        return (
            NetworkStatus::Failed,
            format!(
                "network recovery job {job_id} timed out after {elapsed_seconds} s (timeoutMinutes): {}",
                words(&|s| *s != LaunchStatus::Launched)
            ),
        );
    }
    (NetworkStatus::InProgress, String::new())
}
