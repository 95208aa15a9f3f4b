//! The fake's source networks: DescribeSourceNetworks and StartSourceNetworkRecovery, whose
//! job a test moves on with [`FakeDrs::set_network_status`].

use drs_waves_aws::AwsError;
use drs_waves_aws::drs::{
    Job, JobNetwork, JobStatus, LaunchStatus, NetworkRecoveryRequest, SourceNetwork,
};

use super::{FakeDrs, lock};

impl FakeDrs {
    /// A source network DRS knows (PROTECTED).
    pub fn add_source_network(&self, id: &str) {
        lock(&self.state).networks.push(SourceNetwork {
            id: id.to_owned(),
            source_vpc_id: Some("vpc-0123456789abcdef0".to_owned()),
            replication_status: Some("PROTECTED".to_owned()),
            cfn_stack_name: None,
            launched_vpc_id: None,
        });
    }

    /// The next StartSourceNetworkRecovery creates its job, then fails with `err` (an answer
    /// lost after DRS acted).
    pub fn lose_next_network_answer(&self, err: AwsError) {
        lock(&self.state).lose_network_answers.push_back(err);
    }

    pub fn network_recovery_calls(&self) -> Vec<NetworkRecoveryRequest> {
        lock(&self.state).network_calls.clone()
    }

    /// Moves a network recovery job on: every network to `launch`, the job to `status`.
    pub fn set_network_status(&self, job_id: &str, status: JobStatus, launch: LaunchStatus) {
        let mut state = lock(&self.state);
        if let Some(job) = state.jobs.iter_mut().find(|j| j.id == job_id) {
            job.status = status;
            for n in &mut job.networks {
                n.launch_status = launch.clone();
            }
        }
    }

    pub(super) fn networks_known(&self, ids: &[String]) -> Result<Vec<SourceNetwork>, AwsError> {
        self.injected("describe_source_networks")?;
        Ok(lock(&self.state)
            .networks
            .iter()
            .filter(|n| ids.contains(&n.id))
            .cloned()
            .collect())
    }

    pub(super) fn recover_networks(
        &self,
        request: NetworkRecoveryRequest,
    ) -> Result<Job, AwsError> {
        self.injected("start_source_network_recovery")?;
        let mut state = lock(&self.state);
        // DRS refuses a network it does not know (ValidationException) and one already in an
        // active recovery (ConflictException).
        for id in &request.source_network_ids {
            if !state.networks.iter().any(|n| &n.id == id) {
                return Err(AwsError::Failed(format!(
                    "DRS StartSourceNetworkRecovery: ValidationException: Source network {id} does not exist"
                )));
            }
            if let Some(job) = state.jobs.iter().find(|j| {
                j.status.is_active() && j.networks.iter().any(|n| &n.source_network_id == id)
            }) {
                return Err(AwsError::Failed(format!(
                    "DRS StartSourceNetworkRecovery: ConflictException: source network {id} is already in active job {}",
                    job.id
                )));
            }
        }
        state.network_calls.push(request.clone());
        let mut job = Self::new_job(&mut state, "LAUNCH", Vec::new(), request.tags.clone());
        job.networks = request
            .source_network_ids
            .iter()
            .map(|id| JobNetwork {
                source_network_id: id.clone(),
                launch_status: LaunchStatus::Pending,
            })
            .collect();
        state.jobs.push(job.clone());
        if let Some(err) = state.lose_network_answers.pop_front() {
            return Err(err);
        }
        Ok(job)
    }
}
