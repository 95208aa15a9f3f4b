//! The scheduled launch strategy's rules: which of a wave's chunks fit DRS's quotas now, what a
//! quota refusal teaches about quotas that were not known, and what a check says of a wave
//! whose chunks are not all sent yet.
//!
//! Today's (eager) strategy sends every chunk of a wave at once and waits out each refusal of a
//! full quota with a backoff. The scheduled strategy sends, in chunk order, only the chunks that
//! fit the account's quotas less what its active jobs hold (other teams' included), and leaves
//! the rest to the wave's next checks, which send them as jobs end. DRS then refuses nothing
//! when the quotas are known; when they are not (or are set too high), the first refusal
//! teaches them ([`learn_from_refusal`]) and the next sends stay within.

use drs_waves_contract::{ServerCounts, WaveStatus};

use crate::{Limits, Verdict};

/// What an account's active jobs hold now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUse {
    pub jobs: usize,
    pub servers: usize,
}

impl QuotaUse {
    /// Whether one more job of `servers` fits `limits`.
    pub fn fits(&self, limits: &Limits, servers: usize) -> bool {
        self.jobs < limits.max_concurrent_jobs
            && self.servers + servers <= limits.max_active_servers
    }

    /// Counts a job of `servers` sent.
    pub fn add(&mut self, servers: usize) {
        self.jobs += 1;
        self.servers += servers;
    }
}

/// How many of `chunks` (their sizes, in order) fit one after the other from `used`: the chunks
/// go in order, so a large chunk that does not fit is not overtaken by a smaller one behind it
/// (every chunk of the wave is sent within as few rounds as its order allows).
pub fn chunks_that_fit(limits: &Limits, used: QuotaUse, chunks: &[usize]) -> usize {
    let mut used = used;
    chunks
        .iter()
        .take_while(|&&n| {
            let fits = used.fits(limits, n);
            if fits {
                used.add(n);
            }
            fits
        })
        .count()
}

/// Which quota a ServiceQuotaExceededException of StartRecovery names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedQuota {
    ConcurrentJobs,
    ServersInActiveJobs,
    /// The answer does not say: either.
    Unknown,
}

/// Reads which quota a refusal names, from its quota code or message (drs-sim's codes
/// `ConcurrentJobs` and `SourceServersInActiveJobs`; DRS's messages speak of jobs in progress
/// and of source servers in active jobs).
pub fn refused_quota(detail: &str) -> RefusedQuota {
    let d = detail.to_ascii_lowercase();
    if d.contains("concurrentjobs")
        || d.contains("jobs are in progress")
        || d.contains("concurrent jobs")
    {
        RefusedQuota::ConcurrentJobs
    } else if d.contains("serversinactivejobs")
        || (d.contains("source servers") && d.contains("active jobs"))
    {
        RefusedQuota::ServersInActiveJobs
    } else {
        RefusedQuota::Unknown
    }
}

/// What a refusal of a job of `servers`, sent when the account held `used`, teaches: a refused
/// concurrency quota is at most the jobs already active; a refused capacity at most the servers
/// active plus the new ones, less one. Never raises a limit, never below one job or one chunk's
/// worth of nothing (a limit of 0 would stop the wave for good: it waits instead).
pub fn learn_from_refusal(
    limits: &Limits,
    used: QuotaUse,
    servers: usize,
    quota: RefusedQuota,
) -> Limits {
    let mut learned = *limits;
    if matches!(quota, RefusedQuota::ConcurrentJobs | RefusedQuota::Unknown) {
        learned.max_concurrent_jobs = limits.max_concurrent_jobs.min(used.jobs.max(1));
    }
    if matches!(
        quota,
        RefusedQuota::ServersInActiveJobs | RefusedQuota::Unknown
    ) {
        let at_most = (used.servers + servers).saturating_sub(1).max(1);
        learned.max_active_servers = limits.max_active_servers.min(at_most);
    }
    learned
}

/// The quotas in force: each the lower of the configured and the learned one.
pub fn tighter(configured: &Limits, learned: Option<&Limits>) -> Limits {
    match learned {
        None => *configured,
        Some(l) => Limits {
            max_servers_per_job: configured.max_servers_per_job.min(l.max_servers_per_job),
            max_active_servers: configured.max_active_servers.min(l.max_active_servers),
            max_concurrent_jobs: configured.max_concurrent_jobs.min(l.max_concurrent_jobs),
        },
    }
}

/// The chunk size the scheduled strategy plans with: the per-job quota, and never more than
/// the servers allowed in active jobs (a larger chunk could never be sent).
pub fn scheduled_chunk_size(limits: &Limits) -> usize {
    limits
        .max_servers_per_job
        .min(limits.max_active_servers)
        .max(1)
}

/// A check's verdict on the jobs sent so far, with `queued` servers of chunks not sent yet:
/// they count as launching, so the wave is not done before they are; past the launch timeout
/// they fail it (the quotas left them no room in time). A failure already found stands.
pub fn with_queued(verdict: Verdict, queued: usize, past_timeout: bool) -> Verdict {
    if queued == 0 {
        return verdict;
    }
    let queued = u32::try_from(queued).unwrap_or(u32::MAX);
    let counts = ServerCounts {
        total: verdict.counts.total.saturating_add(queued),
        launching: verdict.counts.launching.saturating_add(queued),
        ..verdict.counts
    };
    match verdict.status {
        WaveStatus::Failed => Verdict { counts, ..verdict },
        _ if past_timeout => Verdict {
            status: WaveStatus::Failed,
            reason: format!(
                "{queued} server(s) were still waiting for room in DRS's quotas (concurrent jobs, servers in active jobs) at the launch timeout"
            ),
            counts,
        },
        _ => Verdict {
            status: WaveStatus::Launching,
            reason: String::new(),
            counts,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_job: usize, active: usize, jobs: usize) -> Limits {
        Limits {
            max_servers_per_job: per_job,
            max_active_servers: active,
            max_concurrent_jobs: jobs,
        }
    }

    #[test]
    fn chunks_fit_in_order_within_both_quotas() {
        let l = limits(100, 500, 3);
        assert_eq!(chunks_that_fit(&l, QuotaUse::default(), &[100; 15]), 3);
        assert_eq!(
            chunks_that_fit(&limits(100, 250, 20), QuotaUse::default(), &[100; 15]),
            2
        );
        // Other teams hold 2 jobs and 150 servers.
        let used = QuotaUse {
            jobs: 2,
            servers: 150,
        };
        assert_eq!(chunks_that_fit(&limits(100, 500, 20), used, &[100; 15]), 3);
        assert_eq!(chunks_that_fit(&l, used, &[100; 15]), 1);
        // Full: nothing.
        assert_eq!(
            chunks_that_fit(
                &l,
                QuotaUse {
                    jobs: 3,
                    servers: 0
                },
                &[1]
            ),
            0
        );
        // A large chunk that does not fit is not overtaken by a small one.
        assert_eq!(
            chunks_that_fit(
                &limits(100, 150, 20),
                QuotaUse {
                    jobs: 0,
                    servers: 100
                },
                &[100, 10]
            ),
            0
        );
        assert_eq!(chunks_that_fit(&l, QuotaUse::default(), &[]), 0);
    }

    #[test]
    fn a_refusal_teaches_the_quota_it_names_and_never_raises_one() {
        let l = limits(100, 10_000, 1_000);
        let used = QuotaUse {
            jobs: 5,
            servers: 450,
        };
        assert_eq!(
            learn_from_refusal(&l, used, 100, RefusedQuota::ServersInActiveJobs),
            limits(100, 549, 1_000)
        );
        assert_eq!(
            learn_from_refusal(&l, used, 100, RefusedQuota::ConcurrentJobs),
            limits(100, 10_000, 5)
        );
        assert_eq!(
            learn_from_refusal(&l, used, 100, RefusedQuota::Unknown),
            limits(100, 549, 5)
        );
        // Already tighter: unchanged.
        let tight = limits(100, 200, 2);
        assert_eq!(
            learn_from_refusal(&tight, used, 100, RefusedQuota::Unknown),
            tight
        );
        // Refused with nothing active (other teams' jobs DRS did not list yet): still one job.
        assert_eq!(
            learn_from_refusal(&l, QuotaUse::default(), 100, RefusedQuota::ConcurrentJobs)
                .max_concurrent_jobs,
            1
        );
        // What is learned is then kept to: the same send no longer fits.
        let learned = learn_from_refusal(&l, used, 100, RefusedQuota::ServersInActiveJobs);
        assert!(!used.fits(&learned, 100));
        assert!(used.fits(&learned, 99));
    }

    #[test]
    fn the_refused_quota_is_read_from_the_code_or_the_message() {
        assert_eq!(
            refused_quota(
                "ServiceQuotaExceededException: Cannot start job: 20 jobs are in progress (limit 20) (quota ConcurrentJobs)"
            ),
            RefusedQuota::ConcurrentJobs
        );
        assert_eq!(
            refused_quota(
                "Cannot start job: 450 source servers are in active jobs and 100 more would exceed the limit of 500"
            ),
            RefusedQuota::ServersInActiveJobs
        );
        assert_eq!(
            refused_quota("Quota exceeded (quota L-1234)"),
            RefusedQuota::Unknown
        );
    }

    #[test]
    fn the_tighter_quotas_rule_and_chunks_never_exceed_the_capacity() {
        let configured = limits(100, 500, 20);
        assert_eq!(tighter(&configured, None), configured);
        assert_eq!(
            tighter(&configured, Some(&limits(200, 300, 30))),
            limits(100, 300, 20)
        );
        assert_eq!(scheduled_chunk_size(&limits(100, 60, 20)), 60);
        assert_eq!(scheduled_chunk_size(&configured), 100);
    }

    #[test]
    fn queued_servers_keep_the_wave_launching_until_the_timeout() {
        let succeeded = Verdict {
            status: WaveStatus::Succeeded,
            counts: ServerCounts {
                total: 100,
                launched: 100,
                ..ServerCounts::default()
            },
            reason: String::new(),
        };
        let v = with_queued(succeeded.clone(), 50, false);
        assert_eq!(v.status, WaveStatus::Launching);
        assert_eq!(
            (v.counts.total, v.counts.launched, v.counts.launching),
            (150, 100, 50)
        );
        let v = with_queued(succeeded.clone(), 50, true);
        assert_eq!(v.status, WaveStatus::Failed);
        assert!(v.reason.contains("50 server(s)"), "{}", v.reason);
        assert_eq!(with_queued(succeeded.clone(), 0, true), succeeded);
        let failed = Verdict {
            status: WaveStatus::Failed,
            reason: "required server s-1 FAILED".into(),
            ..succeeded
        };
        let v = with_queued(failed, 50, false);
        assert_eq!(
            (v.status, v.reason.as_str()),
            (WaveStatus::Failed, "required server s-1 FAILED")
        );
    }
}
