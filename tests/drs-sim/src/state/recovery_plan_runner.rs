//! How a recovery plan execution moves on with time: each unfinished execution is brought
//! up to `now` before every DRS call, its next step started at the instant the previous one
//! ended. A SERVER step's servers are launched as ordinary launch jobs (StartRecovery's
//! limits, snapshots and staged faults apply to them); a WAIT step waits its minutes times
//! `timeScale`.

use std::collections::{BTreeMap, HashSet};

use time::OffsetDateTime;

use super::SimState;
use super::recovery_plan_executions::{ExecStatus, StepStatus};
use super::recovery_plans::{PlanServer, StepConfig};
use crate::lifecycle::{JobKind, JobStatus, seconds};
use crate::wire::{self, ApiError};

impl SimState {
    /// Brings every unfinished execution up to `now`.
    pub(super) fn advance_executions(&mut self, now: OffsetDateTime) {
        for e in 0..self.recovery_plans.executions.len() {
            while self.advance_once(e, now) {}
        }
    }

    /// One move of execution `e` towards `now`; false when there is nothing more to do yet.
    fn advance_once(&mut self, e: usize, now: OffsetDateTime) -> bool {
        let scale = self.timings.time_scale;
        let exec = &mut self.recovery_plans.executions[e];
        if !exec.status.unfinished() {
            return false;
        }
        if exec.status == ExecStatus::Created {
            exec.status = ExecStatus::InProgress;
        }
        let Some(i) = exec.steps.iter().position(|s| !s.status.done()) else {
            exec.status = if exec.status == ExecStatus::Cancelling {
                ExecStatus::Cancelled
            } else {
                ExecStatus::Completed
            };
            exec.completed = Some(exec.cursor);
            return false;
        };
        let cursor = exec.cursor;
        let step = &mut exec.steps[i];
        let wait = match step.config {
            StepConfig::Wait(minutes) => Some(minutes),
            StepConfig::Server(_) => None,
        };
        match (step.status, wait) {
            (StepStatus::NotStarted, Some(minutes)) => {
                // WAIT steps: waitDurationMinutes, scaled by timeScale like every timing.
                step.status = StepStatus::Waiting;
                step.wait_until = Some(cursor + seconds(f64::from(minutes) * 60.0 * scale));
                step.updated = cursor;
                true
            }
            (StepStatus::NotStarted, None) => {
                self.launch_step(e, i, cursor);
                true
            }
            (StepStatus::Waiting, _) => match step.wait_until {
                Some(end) if end <= now => {
                    step.status = StepStatus::Completed;
                    step.updated = end;
                    exec.cursor = end;
                    true
                }
                _ => false,
            },
            (StepStatus::Executing, _) => self.judge_server_step(e, i, now),
            // FAILED or TIMED_OUT: the execution waits for a retry, a skip or a new start.
            _ => false,
        }
    }

    /// Starts attempt `attempt` of SERVER step `i` at `at`: its servers in launch jobs of at
    /// most `maxServersPerJob` each, recovered in parallel.
    pub(super) fn launch_step(&mut self, e: usize, i: usize, at: OffsetDateTime) {
        let exec = &self.recovery_plans.executions[e];
        let StepConfig::Server(servers) = &exec.steps[i].config else {
            return;
        };
        let ids: Vec<String> = servers
            .iter()
            .map(|s| s.source_server_id().to_owned())
            .collect();
        let picks: Vec<wire::StartRecoverySourceServer> = (ids.iter())
            .map(|id| wire::StartRecoverySourceServer {
                source_server_id: id.clone(),
                recovery_snapshot_id: exec.snapshots.get(id).cloned(),
            })
            .collect();
        let (drill, tags) = (exec.drill, exec.tags.clone());
        let mut jobs = Vec::new();
        let mut error = None;
        for chunk in picks.chunks(self.limits.max_servers_per_job.max(1)) {
            let chunk_ids: Vec<String> = chunk.iter().map(|s| s.source_server_id.clone()).collect();
            match self.launch_job(chunk, &chunk_ids, drill, tags.clone(), at) {
                Ok(job) => jobs.push(job),
                Err(err) => {
                    error = Some(("LAUNCH_FAILED".to_owned(), err.message));
                    break;
                }
            }
        }
        let step = &mut self.recovery_plans.executions[e].steps[i];
        step.jobs = jobs;
        step.updated = at;
        step.status = StepStatus::Executing;
        if let Some(err) = error {
            step.error = Some(err);
        }
    }

    /// One launch job, made as StartRecovery makes it (its limits, snapshots and faults).
    fn launch_job(
        &mut self,
        picks: &[wire::StartRecoverySourceServer],
        ids: &[String],
        drill: bool,
        tags: BTreeMap<String, String>,
        at: OffsetDateTime,
    ) -> Result<usize, ApiError> {
        let chosen = (picks.iter())
            .map(|s| self.choose_snapshot(s, at))
            .collect::<Result<Vec<_>, _>>()?;
        self.check_limits(ids, at)?;
        let (started, listed) = self.job_start(at);
        let mut scheduled = Vec::with_capacity(ids.len());
        for (id, chosen) in ids.iter().zip(chosen) {
            scheduled.push(self.schedule_launch(id, chosen, started, at));
        }
        let kind = JobKind::Launch { is_drill: drill };
        let index = self.insert_job(kind, tags, at, (started, listed), scheduled);
        for id in ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.last_launch_job = Some(index);
            }
        }
        Ok(index)
    }

    /// An EXECUTING step ends when its jobs have: FAILED when a CRITICAL server failed
    /// (RecoveryPlanServerImpactLevel: "CRITICAL means the step fails if this server
    /// fails. OPTIONAL means the step continues even if this server fails."), and the
    /// execution FAILED with it (User Guide: a FAILED execution resumes on a skip).
    fn judge_server_step(&mut self, e: usize, i: usize, now: OffsetDateTime) -> bool {
        let step = &self.recovery_plans.executions[e].steps[i];
        let jobs: Vec<_> = step.jobs.iter().map(|&j| &self.jobs[j]).collect();
        if jobs.iter().any(|j| j.status(now) != JobStatus::Completed) {
            return false;
        }
        let end = jobs.iter().map(|j| j.end()).max().unwrap_or(step.updated);
        let StepConfig::Server(servers) = &step.config else {
            return false;
        };
        let failed: HashSet<&str> = (jobs.iter().flat_map(|j| j.servers.iter()))
            .filter(|s| s.fails)
            .map(|s| s.source_server_id.as_str())
            .collect();
        let launched: HashSet<&str> = (jobs.iter().flat_map(|j| j.servers.iter()))
            .map(|s| s.source_server_id.as_str())
            .collect();
        let critical: Vec<&str> = (servers.iter())
            .filter(|s| s.critical())
            .map(PlanServer::source_server_id)
            .filter(|id| failed.contains(id) || !launched.contains(id))
            .collect();
        let error = step.error.clone().or_else(|| {
            (!critical.is_empty()).then(|| {
                let list = critical.join(", ");
                (
                    "CRITICAL_SERVER_FAILED".to_owned(),
                    format!("Critical servers failed to launch: {list}"),
                )
            })
        });
        let exec = &mut self.recovery_plans.executions[e];
        exec.cursor = end;
        let step = &mut exec.steps[i];
        step.updated = end;
        let Some(error) = error else {
            step.status = StepStatus::Completed;
            return true;
        };
        step.status = StepStatus::Failed;
        step.error = Some(error.clone());
        if exec.status == ExecStatus::Cancelling {
            exec.status = ExecStatus::Cancelled;
        } else {
            exec.status = ExecStatus::Failed;
            exec.error = Some(error);
        }
        exec.completed = Some(end);
        false
    }
}
