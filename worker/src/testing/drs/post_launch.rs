//! [`FakeDrs`] as DRS reports post-launch actions and skipped servers (drs-sim stages both):
//! a launched server's `launchActionsStatus.runs`, and a server the job skipped (FAILED, its
//! log saying SERVER_SKIPPED with DRS's reason).

use super::{FakeDrs, lock};
use drs_waves_aws::drs::{LaunchActionRun, LaunchStatus};

impl FakeDrs {
    /// The post-launch action runs DescribeJobs lists for `server` (in every job that has it),
    /// replacing what it listed before. DRS lists a run once it starts; a test adds them as
    /// they go.
    pub fn set_launch_actions(&self, server: &str, runs: Vec<LaunchActionRun>) {
        for job in &mut lock(&self.state).jobs {
            for s in job
                .servers
                .iter_mut()
                .filter(|s| s.source_server_id == server)
            {
                s.launch_actions = runs.clone();
            }
        }
    }

    /// The job skips `server`: it is FAILED, with no instance, and the job's log says
    /// SERVER_SKIPPED with `reason` as its `rawError` (no LAUNCH_FAILED).
    pub fn skip_server(&self, server: &str, reason: &str) {
        self.set_launch_status(server, LaunchStatus::Failed, None);
        self.set_failure_event(server, "SERVER_SKIPPED", reason);
    }

    /// The log event (a JobLogEvent name) and `rawError` that say why `server` failed.
    pub fn set_failure_event(&self, server: &str, event: &str, reason: &str) {
        let mut state = lock(&self.state);
        state
            .failure_events
            .insert(server.to_string(), event.to_string());
        state
            .failure_reasons
            .insert(server.to_string(), reason.to_string());
    }
}
