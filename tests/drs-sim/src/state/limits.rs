//! DRS's quotas and per-server limits on new jobs, and StartRecovery's tag rules.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::SimState;
use crate::wire::ApiError;

impl SimState {
    /// Source servers with more active jobs than allowed, and the active totals.
    pub(super) fn active_load(&self, now: OffsetDateTime) -> (usize, usize, HashMap<&str, usize>) {
        let mut jobs = 0;
        let mut servers = 0;
        let mut per_server: HashMap<&str, usize> = HashMap::new();
        // `is_active` leaves out background jobs that are not created yet.
        for job in self.jobs.iter().filter(|j| j.is_active(now)) {
            jobs += 1;
            servers += job.servers.len();
            for s in &job.servers {
                *per_server.entry(s.source_server_id.as_str()).or_default() += 1;
            }
        }
        (jobs, servers, per_server)
    }

    /// Checks the per-server, concurrency and capacity limits for a new job over `ids`.
    pub(super) fn check_limits(&self, ids: &[String], now: OffsetDateTime) -> Result<(), ApiError> {
        let (jobs, servers, per_server) = self.active_load(now);
        for id in ids {
            if per_server.get(id.as_str()).copied().unwrap_or(0)
                >= self.limits.max_active_jobs_per_server
            {
                return Err(ApiError::conflict(
                    format!("Source server {id} is already part of an active job"),
                    id,
                    "SOURCE_SERVER",
                ));
            }
        }
        if jobs >= self.limits.max_concurrent_jobs {
            return Err(ApiError::quota(
                format!(
                    "Cannot start job: {jobs} jobs are in progress (limit {})",
                    self.limits.max_concurrent_jobs
                ),
                "ConcurrentJobs",
                "JOB",
            ));
        }
        if servers + ids.len() > self.limits.max_servers_in_active_jobs {
            return Err(ApiError::quota(
                format!(
                    "Cannot start job: {servers} source servers are in active jobs and {} more \
                     would exceed the limit of {}",
                    ids.len(),
                    self.limits.max_servers_in_active_jobs
                ),
                "SourceServersInActiveJobs",
                "SOURCE_SERVER",
            ));
        }
        Ok(())
    }
}

pub(super) fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::field("tags", "At most 50 tags are allowed"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(ApiError::field("tags", format!("Invalid tag {k:?}")));
        }
    }
    Ok(())
}
