//! An operator's retry of a failed wave (`onFailure: ask`, `drs-waves decide ... retry`):
//! which of its servers are launched again. The start task plans the retry with it, and the
//! operator CLI asks it before it sends a retry, so that a retry with nothing to launch is
//! refused with the reason instead of failing the execution.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_aws::drs::{Job, JobStatus, LaunchStatus};
use drs_waves_history::WaveRecord;

/// The required servers of a failed wave, by where their latest launch stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryPlan {
    /// Launched again by a retry: the latest launch FAILED or was TERMINATED, its job ended
    /// without launching it, or no job of the wave names it.
    pub relaunch: Vec<String>,
    /// In a job that has not ended and not launched yet: a retry leaves them alone (a second
    /// job for a server still in one is refused by DRS, and would launch it twice).
    pub still_launching: Vec<String>,
}

/// Sorts a wave's required (not `optional`) planned servers by their latest launch in `jobs`
/// (the wave's jobs, as DescribeJobs returns them). Chunks are read in order, so a later
/// attempt's job wins over an earlier one for the same server.
pub fn retry_plan(recorded: &WaveRecord, jobs: &[Job], optional: &[String]) -> RetryPlan {
    let mut latest: BTreeMap<&str, (&LaunchStatus, bool)> = BTreeMap::new();
    for chunk in &recorded.chunks {
        let Some(job) = chunk
            .job_id
            .as_ref()
            .and_then(|id| jobs.iter().find(|j| &j.id == id))
        else {
            continue;
        };
        let ended = job.status == JobStatus::Completed;
        for server in &job.servers {
            latest.insert(
                server.source_server_id.as_str(),
                (&server.launch_status, ended),
            );
        }
    }
    let optional: BTreeSet<&str> = optional.iter().map(String::as_str).collect();
    let mut plan = RetryPlan::default();
    for id in recorded.planned_servers() {
        if optional.contains(id.as_str()) {
            continue;
        }
        match latest.get(id.as_str()) {
            Some((LaunchStatus::Launched, _)) => {}
            Some((LaunchStatus::Failed | LaunchStatus::Terminated, _)) | None => {
                plan.relaunch.push(id)
            }
            Some((_, true)) => plan.relaunch.push(id),
            Some((_, false)) => plan.still_launching.push(id),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use drs_waves_contract::WaveStatus;
    use drs_waves_history::WaveChunk;

    fn chunk(number: u32, servers: &[&str], job: &str, attempt: u32) -> WaveChunk {
        WaveChunk {
            number,
            servers: servers.iter().map(|s| s.to_string()).collect(),
            job_id: Some(job.to_string()),
            attempt,
            planned_at: None,
        }
    }

    fn job(id: &str, status: JobStatus, servers: &[(&str, LaunchStatus)]) -> Job {
        Job::launch_for_test(id, status, servers)
    }

    fn wave(chunks: Vec<WaveChunk>) -> WaveRecord {
        WaveRecord {
            execution_id: "e".into(),
            index: 1,
            name: "db".into(),
            status: WaveStatus::Failed,
            job_ids: chunks.iter().filter_map(|c| c.job_id.clone()).collect(),
            started_at: "2030-01-01T00:00:00Z".into(),
            ended_at: None,
            checks: 0,
            servers: Default::default(),
            reason: String::new(),
            chunks,
            learned: None,
            completion_ms: None,
            account: None,
        }
    }

    #[test]
    fn failed_and_unlisted_servers_relaunch_launched_and_optional_ones_do_not() {
        let w = wave(vec![chunk(1, &["s-a", "s-b", "s-c", "s-d"], "j1", 1)]);
        let jobs = [job(
            "j1",
            JobStatus::Completed,
            &[
                ("s-a", LaunchStatus::Launched),
                ("s-b", LaunchStatus::Failed),
                ("s-d", LaunchStatus::Failed),
            ],
        )];
        let plan = retry_plan(&w, &jobs, &["s-d".to_string()]);
        // s-c: the job ended without naming it, so it never launched.
        assert_eq!(plan.relaunch, vec!["s-b", "s-c"]);
        assert!(plan.still_launching.is_empty());
    }

    #[test]
    fn a_server_still_in_a_running_job_is_left_alone() {
        let w = wave(vec![chunk(1, &["s-a", "s-b"], "j1", 1)]);
        let jobs = [job(
            "j1",
            JobStatus::Started,
            &[
                ("s-a", LaunchStatus::InProgress),
                ("s-b", LaunchStatus::Failed),
            ],
        )];
        let plan = retry_plan(&w, &jobs, &[]);
        assert_eq!(plan.relaunch, vec!["s-b"]);
        assert_eq!(plan.still_launching, vec!["s-a"]);
        // A job that ended with the server still PENDING never launched it: relaunch.
        let ended = [job(
            "j1",
            JobStatus::Completed,
            &[("s-a", LaunchStatus::Pending)],
        )];
        assert_eq!(retry_plan(&w, &ended, &[]).relaunch, vec!["s-a", "s-b"]);
    }

    #[test]
    fn the_latest_attempt_wins() {
        let w = wave(vec![
            chunk(1, &["s-a"], "j1", 1),
            chunk(2, &["s-a"], "j2", 2),
        ]);
        let jobs = [
            job("j1", JobStatus::Completed, &[("s-a", LaunchStatus::Failed)]),
            job(
                "j2",
                JobStatus::Completed,
                &[("s-a", LaunchStatus::Launched)],
            ),
        ];
        assert_eq!(retry_plan(&w, &jobs, &[]), RetryPlan::default());
    }
}
