//! The fastest recovery DRS's quotas allow: a lower bound on the makespan of a plan.
//!
//! # The model (drs-sim's, and DRS's as far as it is documented)
//!
//! - A wave is a set of source servers in one account and region; it may start when every wave
//!   it depends on has ended (its `dependsOn`, else the wave before it), and it ends when its
//!   last job has ended.
//! - A job holds servers of one wave only (the worker never mixes waves in a job), at most
//!   `servers_per_job` of them. All its servers launch in parallel from the job's start, after
//!   the job's fixed overhead (drs-sim's `pendingSeconds`); the job ends, and frees what it holds,
//!   when its slowest server has launched: a job lasts `overhead + max(launch)`.
//! - Per account, at every instant: at most `concurrent_jobs` active jobs and at most
//!   `servers_in_active_jobs` servers in active jobs, less what other teams' jobs hold
//!   (`held_jobs`, `held_servers`, for the whole run). A job that ends at `t` no longer counts
//!   at `t` (drs-sim's `is_active`).
//!
//! # What [`makespan_lower_bound`] is
//!
//! A **lower bound**, not the optimum: the exact problem (chunking plus scheduling under two
//! capacities) contains bin packing and is NP-hard, so a bound computed in linear-ish time
//! cannot be exact in general. It is exact in the cases the tests pin: every wave fits its
//! account's quotas at once (the critical path of the slowest servers is then achievable),
//! and waves of identical servers whose count is a multiple of what fits at once. Every
//! schedule of the model takes at least this long; `tests` checks it against a brute-force
//! optimum on many small random plans. Each term, and why it is valid:
//!
//! 1. **A wave's own length** `len(w)`, the largest of:
//!    - *slowest server*: some job holds it, and lasts `overhead + its launch`;
//!    - *server area*: every server is in an active job for at least `overhead + launch`, at
//!      most `A` at a time: `ceil(sum / A)`;
//!    - *job area*: sorted longest first and cut into groups of `J`, the group maxima are a
//!      pointwise lower bound on any chunking's sorted job lengths (the `i*J + 1` slowest
//!      servers need `i + 1` jobs, each at least as long as the slowest server's of them),
//!      at most `C` at a time: `ceil(sum of group lengths / C)`;
//!    - *chains*: among the `m*K + 1` longest intervals (servers with capacity `A`, or jobs
//!      with `C`) at most `K` overlap at any instant, so by Mirsky's theorem on the interval
//!      order `m + 1` of them run one after the other: `(m + 1) * length of the (m*K+1)-th`.
//! 2. **The critical path**: a wave ends no earlier than `max(end of its dependencies) +
//!    len(w)`; the largest such end over the graph.
//! 3. **Shared accounts**: waves of one account that may run side by side share its quotas.
//!    For every release time `t` (the earliest a wave may start, from 2), the waves of the
//!    account released at `t` or later put all their area after `t`, and the last of them to
//!    end is followed by at least the shortest path after it:
//!    `t + ceil(area / capacity) + min(tail)`, for the server area and for the job area.
//!
//! Times are integer milliseconds: in a schedule whose jobs start when something ends (any
//! schedule can be shifted left to one), every end is a sum of job lengths, so rounding a
//! quotient up keeps the bound valid.

use std::fmt;

/// One account's quotas, and what other teams' jobs hold of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountQuotas {
    /// Source servers in one job.
    pub servers_per_job: usize,
    /// Jobs in progress at once.
    pub concurrent_jobs: usize,
    /// Source servers in all active jobs.
    pub servers_in_active_jobs: usize,
    /// Jobs of other teams active for the whole run.
    pub held_jobs: usize,
    /// Their servers.
    pub held_servers: usize,
}

impl AccountQuotas {
    /// What is left for the plan: (servers per job, concurrent jobs, servers in active jobs).
    fn free(&self) -> (usize, usize, usize) {
        let active = self
            .servers_in_active_jobs
            .saturating_sub(self.held_servers);
        (
            self.servers_per_job.min(active),
            self.concurrent_jobs.saturating_sub(self.held_jobs),
            active,
        )
    }
}

/// One wave as the bound sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundWave {
    /// Index into [`BoundInput::accounts`].
    pub account: usize,
    /// Indexes of the waves (in [`BoundInput::waves`]) that must end before it starts; each
    /// lower than its own (a plan's waves are in an order that respects `dependsOn`).
    pub depends_on: Vec<usize>,
    /// Each server's launch time, milliseconds.
    pub launch_ms: Vec<u64>,
}

/// A plan, its fixture's launch times and the quotas of each account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundInput {
    pub waves: Vec<BoundWave>,
    pub accounts: Vec<AccountQuotas>,
    /// Added to every job's length (drs-sim's `pendingSeconds`).
    pub job_overhead_ms: u64,
}

/// The bound and the terms it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The lower bound on the makespan: the largest of the two below.
    pub makespan_ms: u64,
    /// The longest path of the waves' own lengths.
    pub critical_path_ms: u64,
    /// The strongest shared-account term.
    pub shared_capacity_ms: u64,
}

/// Why no bound exists: a plan no schedule can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundError {
    /// A wave names an account that is not given.
    UnknownAccount { wave: usize },
    /// A wave depends on itself or on a later wave.
    BadDependency { wave: usize, depends_on: usize },
    /// An account with servers has no free job, or no free server slot.
    NoCapacity { account: usize },
}

impl fmt::Display for BoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundError::UnknownAccount { wave } => write!(f, "wave {wave} names no known account"),
            BoundError::BadDependency { wave, depends_on } => {
                write!(
                    f,
                    "wave {wave} depends on wave {depends_on}, not an earlier one"
                )
            }
            BoundError::NoCapacity { account } => write!(
                f,
                "account {account} has no job or server slot left once other jobs are counted"
            ),
        }
    }
}

impl std::error::Error for BoundError {}

/// What one wave needs: its length alone and its areas.
#[derive(Debug, Clone, Copy, Default)]
struct WaveNeeds {
    len_ms: u64,
    server_area: u64,
    job_area: u64,
}

/// The lower bound on the makespan of `input` (see the module's documentation).
pub fn makespan_lower_bound(input: &BoundInput) -> Result<Bound, BoundError> {
    check(input)?;
    let needs: Vec<WaveNeeds> = input
        .waves
        .iter()
        .map(|w| wave_needs(w, &input.accounts[w.account], input.job_overhead_ms))
        .collect();
    // Earliest start (release) and end of each wave along the graph.
    let mut release = vec![0u64; input.waves.len()];
    let mut end = vec![0u64; input.waves.len()];
    for (i, w) in input.waves.iter().enumerate() {
        release[i] = w.depends_on.iter().map(|&d| end[d]).max().unwrap_or(0);
        end[i] = release[i] + needs[i].len_ms;
    }
    // The shortest that must follow a wave's end: the longest path after it.
    let mut tail = vec![0u64; input.waves.len()];
    for i in (0..input.waves.len()).rev() {
        for &d in &input.waves[i].depends_on {
            tail[d] = tail[d].max(needs[i].len_ms + tail[i]);
        }
    }
    let critical_path_ms = end.iter().copied().max().unwrap_or(0);
    let mut shared_capacity_ms = 0;
    for (a, quotas) in input.accounts.iter().enumerate() {
        let (_, jobs, servers) = quotas.free();
        let mine: Vec<usize> = (0..input.waves.len())
            .filter(|&i| input.waves[i].account == a)
            .collect();
        for &t in mine.iter().map(|&i| &release[i]) {
            let later: Vec<usize> = mine.iter().copied().filter(|&i| release[i] >= t).collect();
            let min_tail = later.iter().map(|&i| tail[i]).min().unwrap_or(0);
            let server_area: u64 = later.iter().map(|&i| needs[i].server_area).sum();
            let job_area: u64 = later.iter().map(|&i| needs[i].job_area).sum();
            let by_servers = server_area.div_ceil(servers as u64);
            let by_jobs = job_area.div_ceil(jobs as u64);
            shared_capacity_ms = shared_capacity_ms.max(t + by_servers.max(by_jobs) + min_tail);
        }
    }
    Ok(Bound {
        makespan_ms: critical_path_ms.max(shared_capacity_ms),
        critical_path_ms,
        shared_capacity_ms,
    })
}

fn check(input: &BoundInput) -> Result<(), BoundError> {
    for (i, w) in input.waves.iter().enumerate() {
        let Some(quotas) = input.accounts.get(w.account) else {
            return Err(BoundError::UnknownAccount { wave: i });
        };
        if let Some(&d) = w.depends_on.iter().find(|&&d| d >= i) {
            return Err(BoundError::BadDependency {
                wave: i,
                depends_on: d,
            });
        }
        let (per_job, jobs, servers) = quotas.free();
        if !w.launch_ms.is_empty() && (per_job == 0 || jobs == 0 || servers == 0) {
            return Err(BoundError::NoCapacity { account: w.account });
        }
    }
    Ok(())
}

/// A wave's own length and its server and job areas, in its account's free quotas.
fn wave_needs(wave: &BoundWave, quotas: &AccountQuotas, overhead: u64) -> WaveNeeds {
    if wave.launch_ms.is_empty() {
        return WaveNeeds::default();
    }
    let (per_job, jobs, servers) = quotas.free();
    let mut lengths: Vec<u64> = wave.launch_ms.iter().map(|&l| l + overhead).collect();
    lengths.sort_unstable_by(|a, b| b.cmp(a));
    // The i-th group's first (largest) length: a lower bound on the i-th longest job.
    let job_lengths: Vec<u64> = lengths.iter().step_by(per_job).copied().collect();
    let server_area: u64 = lengths.iter().sum();
    let job_area: u64 = job_lengths.iter().sum();
    let len_ms = lengths[0]
        .max(server_area.div_ceil(servers as u64))
        .max(job_area.div_ceil(jobs as u64))
        .max(chain(&lengths, servers))
        .max(chain(&job_lengths, jobs));
    WaveNeeds {
        len_ms,
        server_area,
        job_area,
    }
}

/// The longest chain forced among intervals of `sorted` lengths (longest first) when at most
/// `capacity` overlap at once: `(m + 1) * sorted[m * capacity]` for every `m`.
fn chain(sorted: &[u64], capacity: usize) -> u64 {
    (0..)
        .map(|m: usize| (m, m * capacity))
        .take_while(|&(_, i)| i < sorted.len())
        .map(|(m, i)| (m as u64 + 1) * sorted[i])
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod exact;
#[cfg(test)]
mod tests;
