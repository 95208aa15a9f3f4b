//! [`FakeDrs`]'s failback, as drs-sim serves it: each recovery instance's failback state
//! (FAILBACK_NOT_STARTED until a test says otherwise), StartFailbackLaunch making a LAUNCH job
//! of instances that are each FAILBACK_READY_FOR_LAUNCH (else a ValidationException, as
//! drs-sim answers), StopFailback back to FAILBACK_NOT_STARTED, and lost answers.

use std::collections::{HashMap, HashSet, VecDeque};

use drs_waves_aws::AwsError;
use drs_waves_aws::drs::{
    FailbackLaunchRequest, FailbackState, InstanceFailback, Job, JobServer, LaunchStatus,
};

use super::{DrsState, FakeDrs, lock};

/// What the fake knows of failback.
#[derive(Default)]
pub(super) struct FailbackFake {
    /// Per recovery instance, its failback (absent: FAILBACK_NOT_STARTED).
    states: HashMap<String, InstanceFailback>,
    /// The jobs StartFailbackLaunch made.
    jobs: HashSet<String>,
    launch_calls: Vec<FailbackLaunchRequest>,
    stop_calls: Vec<String>,
    /// StartFailbackLaunch answers lost after DRS acted (the job exists).
    lose_answers: VecDeque<AwsError>,
}

impl FailbackFake {
    pub(super) fn is_failback_job(&self, job_id: &str) -> bool {
        self.jobs.contains(job_id)
    }

    /// The failback of `instance` as DescribeRecoveryInstances reports it.
    pub(super) fn of(&self, instance: &str) -> InstanceFailback {
        self.states
            .get(instance)
            .cloned()
            .unwrap_or_else(|| failback(FailbackState::NotStarted))
    }
}

fn failback(state: FailbackState) -> InstanceFailback {
    InstanceFailback {
        state,
        job_id: None,
        replication_state: None,
        replication_error: None,
        replicated_bytes: 0,
        total_bytes: 0,
    }
}

impl FakeDrs {
    /// `instance`'s failback is in `state` (with `error` as its replication error).
    pub fn set_failback_state(&self, instance: &str, state: &str, error: Option<&str>) {
        let mut s = lock(&self.state);
        let job_id = s
            .failback
            .states
            .get(instance)
            .and_then(|f| f.job_id.clone());
        let ready = matches!(
            FailbackState::parse(state),
            FailbackState::ReadyForLaunch | FailbackState::Completed
        );
        s.failback.states.insert(
            instance.to_string(),
            InstanceFailback {
                job_id,
                replication_state: Some(if ready { "CONTINUOUS" } else { "STALLED" }.into()),
                replication_error: error.map(str::to_string),
                replicated_bytes: if ready { 100 } else { 40 },
                total_bytes: 100,
                ..failback(FailbackState::parse(state))
            },
        );
    }

    /// The next StartFailbackLaunch makes its job, then fails with `err`.
    pub fn lose_next_failback_answer(&self, err: AwsError) {
        lock(&self.state).failback.lose_answers.push_back(err);
    }

    pub fn failback_launch_calls(&self) -> Vec<FailbackLaunchRequest> {
        lock(&self.state).failback.launch_calls.clone()
    }

    pub fn stop_failback_calls(&self) -> Vec<String> {
        lock(&self.state).failback.stop_calls.clone()
    }

    /// The source server of each existing recovery instance.
    fn sources(state: &DrsState) -> HashMap<String, String> {
        let existing = Self::existing(state);
        state
            .jobs
            .iter()
            .filter(|j| j.job_type.as_deref() != Some("TERMINATE"))
            .filter(|j| !state.failback.is_failback_job(&j.id))
            .flat_map(|j| j.servers.iter())
            .filter_map(|s| {
                let id = s.recovery_instance_id.as_deref()?;
                existing
                    .contains(id)
                    .then(|| (id.to_string(), s.source_server_id.clone()))
            })
            .collect()
    }

    pub(super) fn failback_launch(&self, request: FailbackLaunchRequest) -> Result<Job, AwsError> {
        self.injected("start_failback_launch")?;
        let mut state = lock(&self.state);
        let sources = Self::sources(&state);
        let mut servers = Vec::new();
        for id in &request.recovery_instance_ids {
            let Some(source) = sources.get(id) else {
                return Err(AwsError::Failed(format!(
                    "DRS StartFailbackLaunch: ValidationException: recovery instance {id} does not exist"
                )));
            };
            let now = state.failback.of(id).state;
            if now != FailbackState::ReadyForLaunch {
                return Err(AwsError::Failed(format!(
                    "DRS StartFailbackLaunch: ValidationException: recovery instance {id} is not ready for failback launch ({})",
                    now.as_str()
                )));
            }
            servers.push(JobServer {
                source_server_id: source.clone(),
                recovery_instance_id: Some(id.clone()),
                launch_status: LaunchStatus::Pending,
                launch_actions: Vec::new(),
            });
        }
        state.failback.launch_calls.push(request.clone());
        let job = Self::new_job(&mut state, "LAUNCH", servers, request.tags);
        state.failback.jobs.insert(job.id.clone());
        for id in &request.recovery_instance_ids {
            let f = state
                .failback
                .states
                .entry(id.clone())
                .or_insert_with(|| failback(FailbackState::InProgress));
            f.state = FailbackState::InProgress;
            f.job_id = Some(job.id.clone());
        }
        state.jobs.push(job.clone());
        if let Some(err) = state.failback.lose_answers.pop_front() {
            return Err(err);
        }
        Ok(job)
    }

    pub(super) fn stop_failback_of(&self, instance: String) -> Result<(), AwsError> {
        self.injected("stop_failback")?;
        let mut state = lock(&self.state);
        if !Self::sources(&state).contains_key(&instance) {
            return Err(AwsError::Failed(format!(
                "DRS StopFailback: ResourceNotFoundException: recovery instance {instance} does not exist"
            )));
        }
        state.failback.states.remove(&instance);
        state.failback.stop_calls.push(instance);
        Ok(())
    }
}
