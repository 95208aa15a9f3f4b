//! The pure rules: how a wave is split into jobs, when a wave has succeeded or failed, and how
//! long to wait before the next check. No I/O, so every rule has a fast test.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{PollingBounds, ServerCounts, WaveSpec, WaveStatus};

use drs_waves_aws::drs::launch_actions::{failure_of, running_of};
use drs_waves_aws::drs::{Job, JobServer, JobStatus, LaunchStatus};

/// Splits a wave's servers into DRS jobs of at most `per_job` servers, in order.
pub fn chunk_servers(server_ids: &[String], per_job: usize) -> Vec<Vec<String>> {
    server_ids
        .chunks(per_job.max(1))
        .map(<[String]>::to_vec)
        .collect()
}

/// How many jobs a wave of `servers` needs.
pub fn jobs_needed(servers: usize, per_job: usize) -> usize {
    servers.div_ceil(per_job.max(1))
}

/// Seconds to wait before the next check of a wave launched `elapsed` seconds ago.
///
/// Long waits early (half the time left until the expected end of the launch), the shortest
/// wait near and after the expected end, always within `[minWaitSeconds, maxWaitSeconds]`,
/// except that a wait never goes more than one second past the launch deadline (so a timeout
/// is noticed at once). Never increases as `elapsed` grows.
pub fn next_wait_seconds(
    elapsed: u64,
    polling: &PollingBounds,
    launch_timeout_seconds: u32,
) -> u32 {
    let min = u64::from(polling.min_wait_seconds.max(1));
    let max = u64::from(polling.max_wait_seconds).max(min);
    let expected = u64::from(polling.expected_launch_seconds);
    let ideal = expected.saturating_sub(elapsed) / 2;
    let wait = ideal.clamp(min, max);
    let to_deadline = u64::from(launch_timeout_seconds).saturating_sub(elapsed) + 1;
    u32::try_from(wait.min(to_deadline).max(1)).unwrap_or(u32::MAX)
}

/// A check's conclusion about a wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: WaveStatus,
    pub counts: ServerCounts,
    /// Why it failed; empty otherwise.
    pub reason: String,
}

/// At most this many server IDs are named in a reason; the history has all of them.
const NAMED_IN_REASON: usize = 20;

fn name_some(ids: &[String]) -> String {
    let mut s = ids
        .iter()
        .take(NAMED_IN_REASON)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > NAMED_IN_REASON {
        s.push_str(&format!(" and {} more", ids.len() - NAMED_IN_REASON));
    }
    s
}

/// How long a planned server may be missing from every job of its wave (a PENDING job may list
/// its servers late) before it counts as failed.
pub const MISSING_SERVER_GRACE_SECONDS: u64 = 60;

static NO_REASONS: BTreeMap<String, String> = BTreeMap::new();

/// What the check knows besides the jobs: the servers the wave's chunks were sent with (from
/// the history), and why failed servers failed (from the jobs' logs).
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub planned: &'a [String],
    /// Per source server, its job log's failure reason.
    pub reasons: &'a BTreeMap<String, String>,
}

impl Known<'static> {
    /// Nothing beyond the jobs.
    pub fn none() -> Self {
        Known {
            planned: &[],
            reasons: &NO_REASONS,
        }
    }
}

/// Judges a wave from its jobs, `elapsed` seconds after its start.
///
/// - a planned server that is in none of the jobs is still launching for
///   [`MISSING_SERVER_GRACE_SECONDS`], then FAILED (a job may list its servers late, but one
///   that never does has not launched it); while a job of the wave is still queued (PENDING,
///   no server listed yet) it is launching until the launch timeout;
/// - FAILED when a required server FAILED (or TERMINATED, or was left unlaunched by a job that
///   COMPLETED: a COMPLETED job can have every server FAILED), or is LAUNCHED with a
///   post-launch action that is not `optional` FAILED (named, with DRS's `failureReason`);
/// - a LAUNCHED server whose job has not COMPLETED is still running its post-launch actions
///   (DRS completes the job when their runs end, and lists a run only once it starts), so the
///   wave waits for it; a failed optional action is only a warning (the history's);
/// - SUCCEEDED when every required server is LAUNCHED, its job COMPLETED, and nothing is still
///   launching (optional servers may have failed);
/// - FAILED when `elapsed` is past the launch timeout and a required server is still launching
///   or has a post-launch action still IN_PROGRESS (if only optional ones are, or a LAUNCHED
///   server's job runs on with nothing of it in progress, the wave succeeds);
/// - LAUNCHING otherwise.
pub fn judge(wave: &WaveSpec, jobs: &[Job], elapsed: u64, known: &Known<'_>) -> Verdict {
    let mut tally = Tally {
        optional: wave.optional.iter().map(String::as_str).collect(),
        ..Tally::default()
    };
    for job in jobs {
        tally.count_job(job, known);
    }
    let listed: BTreeSet<&str> = jobs
        .iter()
        .flat_map(|j| j.servers.iter().map(|s| s.source_server_id.as_str()))
        .collect();
    for id in known
        .planned
        .iter()
        .filter(|id| !listed.contains(id.as_str()))
    {
        tally.count_unlisted(id, elapsed);
    }
    tally.verdict(wave, elapsed)
}

/// What the wave's jobs say of its servers, counted server by server.
#[derive(Default)]
struct Tally<'a> {
    optional: BTreeSet<&'a str>,
    counts: ServerCounts,
    failed_required: Vec<String>,
    launching_required: Vec<String>,
    launching_optional: u32,
    empty_jobs_pending: Vec<String>,
    empty_jobs_completed: Vec<String>,
    /// LAUNCHED in a job that has not COMPLETED: post-launch actions may still run. Required
    /// ones with the actions in progress, for the timeout's message.
    settling_required: Vec<(String, Vec<String>)>,
    settling_optional: u32,
}

impl Tally<'_> {
    fn count_job(&mut self, job: &Job, known: &Known<'_>) {
        let completed = job.status == JobStatus::Completed;
        if job.servers.is_empty() {
            if completed {
                self.empty_jobs_completed.push(job.id.clone());
            } else {
                self.empty_jobs_pending.push(job.id.clone());
            }
        }
        for server in &job.servers {
            self.count_server(job, server, completed, known);
        }
    }

    fn count_server(&mut self, job: &Job, server: &JobServer, completed: bool, known: &Known<'_>) {
        self.counts.total += 1;
        let id = &server.source_server_id;
        let is_optional = self.optional.contains(id.as_str());
        let action_failure = failure_of(&server.launch_actions);
        let failed = match server.launch_status {
            LaunchStatus::Launched if action_failure.is_some() => true,
            LaunchStatus::Launched if !completed => {
                self.counts.launched += 1;
                if is_optional {
                    self.settling_optional += 1;
                } else {
                    let running = running_of(&server.launch_actions)
                        .into_iter()
                        .map(|r| r.label())
                        .collect();
                    self.settling_required.push((id.clone(), running));
                }
                return;
            }
            LaunchStatus::Launched => false,
            LaunchStatus::Failed | LaunchStatus::Terminated => true,
            // A job that ended without launching a server will never launch it.
            _ if completed => true,
            _ => {
                self.launching(id, is_optional);
                return;
            }
        };
        if !failed {
            self.counts.launched += 1;
            return;
        }
        let status = server.launch_status.as_str();
        let why = match (&action_failure, known.reasons.get(id)) {
            (Some(why), _) => format!("{id} (job {}, {why})", job.id),
            (None, Some(reason)) => format!("{id} (job {}, {status}: {reason})", job.id),
            (None, None) => format!("{id} (job {}, {status})", job.id),
        };
        self.failed(is_optional, why);
    }

    /// A planned server that is in none of the jobs.
    fn count_unlisted(&mut self, id: &str, elapsed: u64) {
        self.counts.total += 1;
        let is_optional = self.optional.contains(id);
        // A job still PENDING that lists no server is queued (DRS fills
        // `participatingServers` when the job starts its servers); the server may be in it, so
        // it is launching until the launch timeout. `Known` carries the planned servers, not
        // their chunks, so a queued job of the wave covers every server missing from the rest.
        if elapsed < MISSING_SERVER_GRACE_SECONDS || !self.empty_jobs_pending.is_empty() {
            self.launching(id, is_optional);
        } else {
            self.failed(
                is_optional,
                format!(
                    "{id} (in none of the wave's jobs {MISSING_SERVER_GRACE_SECONDS} s after the launch)"
                ),
            );
        }
    }

    fn launching(&mut self, id: &str, is_optional: bool) {
        self.counts.launching += 1;
        if is_optional {
            self.launching_optional += 1;
        } else {
            self.launching_required.push(id.to_owned());
        }
    }

    fn failed(&mut self, is_optional: bool, why: String) {
        self.counts.failed += 1;
        if is_optional {
            self.counts.optional_failed += 1;
        } else {
            self.failed_required.push(why);
        }
    }

    fn verdict(self, wave: &WaveSpec, elapsed: u64) -> Verdict {
        let name = &wave.name;
        let counts = self.counts;
        let ended = |status, reason| Verdict {
            status,
            counts,
            reason,
        };
        if !self.failed_required.is_empty() {
            return ended(
                WaveStatus::Failed,
                format!(
                    "wave '{name}': required server(s) failed to launch: {}",
                    name_some(&self.failed_required)
                ),
            );
        }
        if !self.empty_jobs_completed.is_empty() {
            return ended(
                WaveStatus::Failed,
                format!(
                    "wave '{name}': DRS job(s) {} completed without any server",
                    self.empty_jobs_completed.join(", ")
                ),
            );
        }
        let nothing_launching = self.launching_required.is_empty()
            && self.launching_optional == 0
            && self.empty_jobs_pending.is_empty()
            && self.settling_required.is_empty()
            && self.settling_optional == 0;
        if nothing_launching && counts.total > 0 {
            return ended(WaveStatus::Succeeded, String::new());
        }
        if elapsed > u64::from(wave.launch_timeout_seconds) {
            return self.timed_out(wave, elapsed);
        }
        ended(WaveStatus::Launching, String::new())
    }

    /// Past the launch timeout with something still launching.
    fn timed_out(self, wave: &WaveSpec, elapsed: u64) -> Verdict {
        let actions_running: Vec<String> = self
            .settling_required
            .iter()
            .filter(|(_, running)| !running.is_empty())
            .map(|(id, running)| {
                format!(
                    "{id} (post-launch action {} still IN_PROGRESS)",
                    running.join(", ")
                )
            })
            .collect();
        if self.launching_required.is_empty()
            && self.empty_jobs_pending.is_empty()
            && actions_running.is_empty()
            && self.counts.total > 0
        {
            // Only optional servers are still launching, or a LAUNCHED server's job runs on
            // with none of its actions in progress: they do not hold the wave back.
            return Verdict {
                status: WaveStatus::Succeeded,
                counts: self.counts,
                reason: String::new(),
            };
        }
        let mut still = self.launching_required;
        still.extend(actions_running);
        still.extend(
            self.empty_jobs_pending
                .iter()
                .map(|j| format!("job {j} (no servers reported yet)")),
        );
        Verdict {
            status: WaveStatus::Failed,
            counts: self.counts,
            reason: format!(
                "wave '{}' timed out: launchTimeoutSeconds {} passed ({elapsed} s since start) with server(s) still launching: {}",
                wave.name,
                wave.launch_timeout_seconds,
                name_some(&still)
            ),
        }
    }
}

#[cfg(test)]
mod tests;
