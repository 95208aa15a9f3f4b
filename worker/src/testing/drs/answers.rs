//! The [`Drs`] seam as [`FakeDrs`] answers it: every call reads and moves the in-memory
//! state the test primed.

use std::collections::BTreeMap;

use drs_waves_aws::drs::{
    Drs, Job, JobFilter, JobServer, JobStatus, LaunchStatus, RecoverySnapshot, ServerFailure,
    SourceServer, StartRecoveryRequest,
};

use super::{DrsState, FakeDrs, lock};
use drs_waves_aws::AwsError;
use drs_waves_aws::drs::snapshots::{NewestAtOrBefore, wanted_time};
use drs_waves_rules::parse_time;

impl Drs for FakeDrs {
    async fn describe_source_servers(&self) -> Result<Vec<SourceServer>, AwsError> {
        self.injected("describe_source_servers")?;
        Ok(lock(&self.state).servers.clone())
    }

    /// The same DRS operation as [`Drs::describe_source_servers`], so a failure injected for
    /// `describe_source_servers` fails this call too.
    async fn select_source_servers(
        &self,
        selection: &drs_waves_aws::drs::ServerSelection,
    ) -> Result<Vec<SourceServer>, AwsError> {
        if selection.is_empty() {
            return Ok(Vec::new());
        }
        self.injected("describe_source_servers")?;
        let mut state = lock(&self.state);
        state.selections.push(selection.clone());
        Ok(state
            .servers
            .iter()
            .filter(|s| selection.selects(s))
            .cloned()
            .collect())
    }

    async fn describe_jobs(&self, filter: JobFilter) -> Result<Vec<Job>, AwsError> {
        self.injected("describe_jobs")?;
        let mut state = lock(&self.state);
        state.describe_jobs_calls.push(filter.clone());
        // fromDate bounds creationDateTime, as DRS's filter does.
        let from = filter.from_date.as_deref().and_then(parse_time);
        let now = tokio::time::Instant::now();
        Ok(state
            .jobs
            .iter()
            .filter(|j| state.listed_from.get(&j.id).is_none_or(|t| *t <= now))
            .filter(|j| filter.job_ids.is_empty() || filter.job_ids.contains(&j.id))
            .filter(
                |j| match (from, j.created_at.as_deref().and_then(parse_time)) {
                    (Some(from), Some(created)) => created >= from,
                    _ => true,
                },
            )
            .rev()
            .map(|j| Self::as_listed(&state, j.clone()))
            .collect())
    }

    async fn latest_recovery_snapshot(
        &self,
        source_server_id: &str,
        at_or_before: Option<&str>,
    ) -> Result<Option<RecoverySnapshot>, AwsError> {
        self.injected("latest_recovery_snapshot")?;
        let mut state = lock(&self.state);
        if !state.servers.iter().any(|s| s.id == source_server_id) {
            return Err(AwsError::Failed(format!(
                "DRS DescribeRecoverySnapshots: source server {source_server_id} does not exist"
            )));
        }
        // Every page until no token comes back, and the worker's own choice (as SdkDrs does).
        let now = state.now.unwrap_or_else(time::OffsetDateTime::now_utc);
        let mut newest = NewestAtOrBefore::new(wanted_time(at_or_before, now)?);
        let mut token = None;
        loop {
            let (items, next) =
                Self::snapshot_page(&mut state, source_server_id, at_or_before, token);
            items.into_iter().for_each(|s| newest.offer(s));
            match next {
                Some(n) => token = Some(n),
                None => return Ok(newest.chosen()),
            }
        }
    }

    async fn start_recovery(&self, request: StartRecoveryRequest) -> Result<Job, AwsError> {
        self.injected("start_recovery")?;
        let mut state = lock(&self.state);
        if let Some(limit) = state
            .max_servers_per_job
            .filter(|l| request.source_server_ids.len() > *l)
        {
            let failure = drs_waves_aws::failure::ServiceFailure {
                kind: drs_waves_aws::failure::FailureKind::Service,
                code: Some("ServiceQuotaExceededException".into()),
                message: Some(format!(
                    "Cannot start a job of {} source servers (limit {limit} per job)",
                    request.source_server_ids.len()
                )),
                status: Some(402),
                quota_code: Some("SourceServersPerJob".into()),
            };
            return Err(drs_waves_aws::failure::classify(
                "DRS StartRecovery",
                &failure,
            ));
        }
        if let Some(refusal) = concurrency_refusal(&mut state, request.source_server_ids.len()) {
            return Err(refusal);
        }
        // DRS refuses a server already in an active job (ConflictException) and a snapshot that
        // is not the server's (ValidationException).
        for id in &request.source_server_ids {
            if let Some(job) = state.jobs.iter().find(|j| {
                j.status.is_active() && j.servers.iter().any(|s| &s.source_server_id == id)
            }) {
                return Err(AwsError::Failed(format!(
                    "DRS StartRecovery: ConflictException: source server {id} is already in active job {}",
                    job.id
                )));
            }
            if let Some(snapshot) = request.snapshot_ids.get(id)
                && !state
                    .snapshots
                    .get(id)
                    .is_some_and(|list| list.iter().any(|s| &s.id == snapshot))
            {
                return Err(AwsError::Failed(format!(
                    "DRS StartRecovery: ValidationException: {snapshot} is not a recovery snapshot of {id}"
                )));
            }
        }
        state.start_calls.push(request.clone());
        let servers = request
            .source_server_ids
            .iter()
            .map(|id| JobServer {
                source_server_id: id.clone(),
                recovery_instance_id: None,
                launch_status: LaunchStatus::Pending,
                launch_actions: Vec::new(),
            })
            .collect();
        let job = Self::new_job(&mut state, "LAUNCH", servers, request.tags.clone());
        Self::record_launch(&mut state, &job, &request);
        state.jobs.push(job.clone());
        if !state.listing_delay.is_zero() {
            let listed = tokio::time::Instant::now() + state.listing_delay;
            state.listed_from.insert(job.id.clone(), listed);
        }
        if let Some(err) = state.lose_start_answers.pop_front() {
            return Err(err);
        }
        if state.blank_job_ids {
            return Ok(Job {
                id: String::new(),
                ..job
            });
        }
        Ok(Self::as_listed(&state, job))
    }

    async fn describe_source_networks(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<drs_waves_aws::drs::SourceNetwork>, AwsError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.networks_known(&ids)
    }

    async fn start_source_network_recovery(
        &self,
        request: drs_waves_aws::drs::NetworkRecoveryRequest,
    ) -> Result<Job, AwsError> {
        self.recover_networks(request)
    }

    async fn terminate_recovery_instances(&self, ids: Vec<String>) -> Result<Job, AwsError> {
        self.injected("terminate_recovery_instances")?;
        let mut state = lock(&self.state);
        // DRS refuses an instance that does not exist (any more), as a ValidationException.
        let existing = Self::existing(&state);
        if let Some(gone) = ids.iter().find(|id| !existing.contains(id.as_str())) {
            return Err(AwsError::Failed(format!(
                "DRS TerminateRecoveryInstances: ValidationException: recovery instance {gone} does not exist"
            )));
        }
        state.terminate_calls.push(ids.clone());
        state.terminated.extend(ids.iter().cloned());
        let servers = state
            .jobs
            .iter()
            .filter(|j| !state.failback.is_failback_job(&j.id))
            .flat_map(|j| j.servers.iter())
            .filter(|s| {
                s.recovery_instance_id
                    .as_ref()
                    .is_some_and(|i| ids.contains(i))
            })
            .map(|s| JobServer {
                source_server_id: s.source_server_id.clone(),
                recovery_instance_id: s.recovery_instance_id.clone(),
                launch_status: LaunchStatus::Pending,
                launch_actions: Vec::new(),
            })
            .collect();
        // Terminations end at once here (DRS takes a minute or so): a TERMINATE job is
        // COMPLETED, its servers TERMINATED.
        let mut job = Self::new_job(&mut state, "TERMINATE", servers, BTreeMap::new());
        job.status = JobStatus::Completed;
        for s in &mut job.servers {
            s.launch_status = LaunchStatus::Terminated;
        }
        state.jobs.push(job.clone());
        if let Some(err) = state.lose_terminate_answers.pop_front() {
            return Err(err);
        }
        Ok(Self::as_listed(&state, job))
    }

    async fn start_failback_launch(
        &self,
        request: drs_waves_aws::drs::FailbackLaunchRequest,
    ) -> Result<Job, AwsError> {
        self.failback_launch(request)
    }

    async fn stop_failback(&self, recovery_instance_id: String) -> Result<(), AwsError> {
        self.stop_failback_of(recovery_instance_id)
    }

    async fn recovery_instances_of(
        &self,
        source_server_ids: Vec<String>,
    ) -> Result<Vec<drs_waves_aws::drs::RecoveryInstance>, AwsError> {
        if source_server_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.injected("recovery_instances_of")?;
        Ok(Self::instances_of(
            &mut lock(&self.state),
            source_server_ids,
        ))
    }

    async fn existing_recovery_instances(&self, ids: Vec<String>) -> Result<Vec<String>, AwsError> {
        self.injected("existing_recovery_instances")?;
        let state = lock(&self.state);
        let existing = Self::existing(&state);
        Ok(ids
            .into_iter()
            .filter(|id| existing.contains(id.as_str()))
            .collect())
    }

    async fn job_failures(&self, job_id: &str) -> Result<Vec<ServerFailure>, AwsError> {
        self.injected("job_failures")?;
        let state = lock(&self.state);
        Ok(state
            .jobs
            .iter()
            .filter(|j| j.id == job_id)
            .flat_map(|j| j.servers.iter())
            .filter(|s| s.launch_status == LaunchStatus::Failed)
            // The log names the event by the model's JobLogEvent, as DRS's does.
            .filter_map(|s| {
                let id = &s.source_server_id;
                drs_waves_aws::drs::job_log::server_failure(
                    state
                        .failure_events
                        .get(id)
                        .map_or("LAUNCH_FAILED", String::as_str),
                    id,
                    state.failure_reasons.get(id).map(String::as_str),
                )
            })
            .collect())
    }
}

/// The refusal of a new job of `n` servers by the concurrency quotas, if they are set and full
/// (drs-sim's codes and messages), counted.
fn concurrency_refusal(state: &mut DrsState, n: usize) -> Option<AwsError> {
    let (max_jobs, max_servers) = state.concurrency_quotas?;
    let active: Vec<&Job> = state.jobs.iter().filter(|j| j.status.is_active()).collect();
    let servers: usize = active.iter().map(|j| j.servers.len()).sum();
    let (code, message) = if active.len() >= max_jobs {
        (
            "ConcurrentJobs",
            format!(
                "Cannot start job: {} jobs are in progress (limit {max_jobs})",
                active.len()
            ),
        )
    } else if servers + n > max_servers {
        (
            "SourceServersInActiveJobs",
            format!(
                "Cannot start job: {servers} source servers are in active jobs and {n} more would exceed the limit of {max_servers}"
            ),
        )
    } else {
        return None;
    };
    state.quota_refusals += 1;
    Some(drs_waves_aws::failure::classify(
        "DRS StartRecovery",
        &drs_waves_aws::failure::ServiceFailure {
            kind: drs_waves_aws::failure::FailureKind::Service,
            code: Some("ServiceQuotaExceededException".into()),
            message: Some(message),
            status: Some(402),
            quota_code: Some(code.into()),
        },
    ))
}
