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
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn wave(optional: &[&str], timeout: u32) -> WaveSpec {
        WaveSpec {
            optional: optional.iter().map(|s| s.to_string()).collect(),
            launch_timeout_seconds: timeout,
            polling: drs_test_builders::polling(10, 300, 900),
            ..drs_test_builders::wave(1, "db", &[], &[])
        }
    }

    fn job(status: JobStatus, servers: &[(&str, LaunchStatus)]) -> Job {
        Job::launch_for_test("drsjob-1", status, servers)
    }

    #[test]
    fn all_launched_succeeds() {
        let v = judge(
            &wave(&[], 3600),
            &[job(
                JobStatus::Completed,
                &[
                    ("s-1", LaunchStatus::Launched),
                    ("s-2", LaunchStatus::Launched),
                ],
            )],
            100,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Succeeded);
        assert_eq!(
            v.counts,
            ServerCounts {
                total: 2,
                launched: 2,
                ..Default::default()
            }
        );
    }

    #[test]
    fn completed_job_with_a_failed_required_server_is_a_failed_wave() {
        let v = judge(
            &wave(&[], 3600),
            &[job(
                JobStatus::Completed,
                &[
                    ("s-1", LaunchStatus::Launched),
                    ("s-2", LaunchStatus::Failed),
                ],
            )],
            100,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Failed);
        assert!(
            v.reason.contains("s-2") && v.reason.contains("'db'"),
            "{}",
            v.reason
        );
        assert_eq!(v.counts.failed, 1);
    }

    #[test]
    fn a_failed_required_server_fails_the_wave_before_the_job_ends() {
        let v = judge(
            &wave(&[], 3600),
            &[job(
                JobStatus::Started,
                &[
                    ("s-1", LaunchStatus::InProgress),
                    ("s-2", LaunchStatus::Failed),
                ],
            )],
            100,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Failed);
    }

    #[test]
    fn completed_job_with_every_server_failed_is_a_failed_wave() {
        let v = judge(
            &wave(&[], 3600),
            &[job(JobStatus::Completed, &[("s-1", LaunchStatus::Failed)])],
            100,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Failed);
    }

    #[test]
    fn only_an_optional_server_failed_succeeds() {
        let v = judge(
            &wave(&["s-2"], 3600),
            &[job(
                JobStatus::Completed,
                &[
                    ("s-1", LaunchStatus::Launched),
                    ("s-2", LaunchStatus::Failed),
                ],
            )],
            100,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Succeeded);
        assert_eq!(v.counts.optional_failed, 1);
        assert_eq!(v.counts.failed, 1);
    }

    #[test]
    fn still_launching_before_the_timeout() {
        let v = judge(
            &wave(&[], 3600),
            &[job(
                JobStatus::Started,
                &[
                    ("s-1", LaunchStatus::Launched),
                    ("s-2", LaunchStatus::InProgress),
                ],
            )],
            3600,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Launching);
        assert_eq!(v.counts.launching, 1);
    }

    #[test]
    fn past_the_timeout_is_a_failed_wave_naming_what_was_launching() {
        let v = judge(
            &wave(&[], 3600),
            &[job(
                JobStatus::Started,
                &[
                    ("s-1", LaunchStatus::Launched),
                    ("s-2", LaunchStatus::InProgress),
                ],
            )],
            3601,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Failed);
        assert!(
            v.reason.contains("timed out") && v.reason.contains("s-2"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn a_pending_job_without_servers_is_not_a_success() {
        let v = judge(
            &wave(&[], 3600),
            &[job(JobStatus::Pending, &[])],
            10,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Launching);
        let v = judge(
            &wave(&[], 3600),
            &[job(JobStatus::Completed, &[])],
            10,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Failed);
    }

    #[test]
    fn a_server_left_pending_by_a_completed_job_failed() {
        let v = judge(
            &wave(&[], 3600),
            &[job(JobStatus::Completed, &[("s-1", LaunchStatus::Pending)])],
            10,
            &Known::none(),
        );
        assert_eq!(v.status, WaveStatus::Failed);
    }

    #[test]
    fn splitting_250_servers_at_100_per_job_makes_3_jobs() {
        let ids: Vec<String> = (0..250).map(|i| format!("s-{i:017}")).collect();
        let chunks = chunk_servers(&ids, 100);
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        assert_eq!(chunks.concat(), ids);
        assert_eq!(jobs_needed(250, 100), 3);
        assert_eq!(jobs_needed(200, 100), 2);
        assert_eq!(chunk_servers(&ids[..5], 100).len(), 1);
    }

    const BOUNDS: PollingBounds = PollingBounds {
        min_wait_seconds: 15,
        max_wait_seconds: 300,
        expected_launch_seconds: 1200,
    };

    #[test]
    fn wait_is_long_early_and_short_near_the_expected_end() {
        assert_eq!(next_wait_seconds(0, &BOUNDS, 3600), 300, "capped at max");
        assert_eq!(
            next_wait_seconds(800, &BOUNDS, 3600),
            200,
            "half of the time left"
        );
        assert_eq!(
            next_wait_seconds(1190, &BOUNDS, 3600),
            15,
            "min near the end"
        );
        assert_eq!(
            next_wait_seconds(2000, &BOUNDS, 3600),
            15,
            "min after the end"
        );
    }

    #[test]
    fn wait_never_increases_and_stays_in_bounds() {
        let mut last = u32::MAX;
        for elapsed in 0..3500 {
            let w = next_wait_seconds(elapsed, &BOUNDS, 3600);
            assert!(w <= last, "monotone at {elapsed}: {w} > {last}");
            assert!((15..=300).contains(&w), "in bounds at {elapsed}: {w}");
            last = w;
        }
    }

    #[test]
    fn wait_never_goes_past_the_launch_deadline() {
        for elapsed in 0..=600u64 {
            let w = next_wait_seconds(elapsed, &BOUNDS, 600);
            assert!(elapsed + u64::from(w) <= 601, "elapsed {elapsed} wait {w}");
            assert!(w >= 1);
        }
    }

    #[test]
    fn min_equal_to_max_gives_a_fixed_interval() {
        let fixed = PollingBounds {
            min_wait_seconds: 30,
            max_wait_seconds: 30,
            expected_launch_seconds: 900,
        };
        for elapsed in [0, 100, 450, 899, 900, 2000] {
            assert_eq!(next_wait_seconds(elapsed, &fixed, 3600), 30);
        }
    }

    #[test]
    fn a_planned_server_missing_from_every_job_fails_the_wave_after_the_grace() {
        let jobs = [job(
            JobStatus::Completed,
            &[("s-1", LaunchStatus::Launched)],
        )];
        let planned = ["s-1".to_string(), "s-2".to_string()];
        let known = Known {
            planned: &planned,
            reasons: &BTreeMap::new(),
        };
        let early = judge(&wave(&[], 3600), &jobs, 10, &known);
        assert_eq!(
            early.status,
            WaveStatus::Launching,
            "a job may list it late"
        );
        assert_eq!(early.counts.total, 2);
        let late = judge(
            &wave(&[], 3600),
            &jobs,
            MISSING_SERVER_GRACE_SECONDS,
            &known,
        );
        assert_eq!(late.status, WaveStatus::Failed);
        assert!(
            late.reason.contains("s-2 (in none of the wave's jobs"),
            "{}",
            late.reason
        );
        let optional = judge(
            &wave(&["s-2"], 3600),
            &jobs,
            MISSING_SERVER_GRACE_SECONDS,
            &known,
        );
        assert_eq!(optional.status, WaveStatus::Succeeded);
        assert_eq!(optional.counts.optional_failed, 1);
    }

    #[test]
    fn a_failed_servers_reason_from_the_job_log_is_in_the_verdict() {
        let jobs = [job(JobStatus::Completed, &[("s-1", LaunchStatus::Failed)])];
        let reasons = BTreeMap::from([(
            "s-1".to_string(),
            "InsufficientInstanceCapacity: no c5.large capacity in eu-west-1a".to_string(),
        )]);
        let v = judge(
            &wave(&[], 3600),
            &jobs,
            10,
            &Known {
                planned: &[],
                reasons: &reasons,
            },
        );
        assert_eq!(v.status, WaveStatus::Failed);
        assert!(v.reason.contains("s-1 (job"), "{}", v.reason);
        assert!(
            v.reason.contains("InsufficientInstanceCapacity"),
            "{}",
            v.reason
        );
    }
}
