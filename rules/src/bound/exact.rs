//! The exact optimum of tiny plans, by brute force, for the tests only: every chunking of every
//! wave into jobs, and every semi-active schedule of those jobs (each job starts at time 0 or
//! when another job ends: any schedule can be shifted left into one of those without ending
//! later).

use super::{BoundInput, BoundWave};

/// A job of a chunking: its wave, account, servers and length.
#[derive(Debug, Clone, Copy)]
struct Job {
    wave: usize,
    account: usize,
    servers: usize,
    len: u64,
}

/// The shortest makespan of `input` over all chunkings and schedules.
pub(super) fn optimum(input: &BoundInput) -> u64 {
    let chunkings: Vec<Vec<Vec<u64>>> = input
        .waves
        .iter()
        .map(|w| {
            let (per_job, _, _) = input.accounts[w.account].free();
            partitions(w, per_job, input.job_overhead_ms)
        })
        .collect();
    let mut best = u64::MAX;
    let mut choice = vec![0usize; input.waves.len()];
    loop {
        let jobs: Vec<Job> = choice
            .iter()
            .enumerate()
            .flat_map(|(w, &c)| {
                let account = input.waves[w].account;
                chunkings[w][c].iter().map(move |&packed| Job {
                    wave: w,
                    account,
                    servers: (packed >> 48) as usize,
                    len: packed & ((1 << 48) - 1),
                })
            })
            .collect();
        let mut search = Search {
            input,
            jobs: &jobs,
            best: &mut best,
        };
        search.run(0, &mut vec![None; jobs.len()]);
        // Next combination of chunkings.
        let mut w = 0;
        loop {
            if w == choice.len() {
                return best;
            }
            choice[w] += 1;
            if choice[w] < chunkings[w].len() {
                break;
            }
            choice[w] = 0;
            w += 1;
        }
    }
}

/// Every way to cut a wave's servers into jobs of at most `per_job`: each job packed as
/// `servers << 48 | length`.
fn partitions(wave: &BoundWave, per_job: usize, overhead: u64) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    let mut blocks: Vec<Vec<u64>> = Vec::new();
    fn place(
        rest: &[u64],
        blocks: &mut Vec<Vec<u64>>,
        per_job: usize,
        overhead: u64,
        out: &mut Vec<Vec<u64>>,
    ) {
        let Some((&first, rest)) = rest.split_first() else {
            out.push(
                blocks
                    .iter()
                    .map(|b| {
                        ((b.len() as u64) << 48) | (overhead + b.iter().copied().max().unwrap_or(0))
                    })
                    .collect(),
            );
            return;
        };
        for i in 0..blocks.len() {
            if blocks[i].len() < per_job {
                blocks[i].push(first);
                place(rest, blocks, per_job, overhead, out);
                blocks[i].pop();
            }
        }
        blocks.push(vec![first]);
        place(rest, blocks, per_job, overhead, out);
        blocks.pop();
    }
    place(&wave.launch_ms, &mut blocks, per_job, overhead, &mut out);
    out
}

struct Search<'a> {
    input: &'a BoundInput,
    jobs: &'a [Job],
    best: &'a mut u64,
}

impl Search<'_> {
    /// At time `t`, with each job's start so far: try every feasible set of ready jobs to
    /// start now, then go on to the next end.
    fn run(&mut self, t: u64, starts: &mut Vec<Option<u64>>) {
        let end_of = |j: usize, starts: &[Option<u64>]| starts[j].map(|s| s + self.jobs[j].len);
        if starts.iter().all(Option::is_some) {
            let makespan = (0..self.jobs.len())
                .filter_map(|j| end_of(j, starts))
                .max()
                .unwrap_or(0);
            *self.best = (*self.best).min(makespan);
            return;
        }
        let wave_done = |w: usize, starts: &[Option<u64>]| {
            (0..self.jobs.len())
                .filter(|&j| self.jobs[j].wave == w)
                .all(|j| end_of(j, starts).is_some_and(|e| e <= t))
        };
        let ready: Vec<usize> = (0..self.jobs.len())
            .filter(|&j| starts[j].is_none())
            .filter(|&j| {
                self.input.waves[self.jobs[j].wave]
                    .depends_on
                    .iter()
                    .all(|&d| wave_done(d, starts))
            })
            .collect();
        let running = |starts: &[Option<u64>]| -> Vec<usize> {
            (0..self.jobs.len())
                .filter(|&j| {
                    starts[j].is_some_and(|s| s <= t) && end_of(j, starts).is_some_and(|e| e > t)
                })
                .collect()
        };
        for mask in 0u32..(1 << ready.len()) {
            let chosen: Vec<usize> = (0..ready.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| ready[i])
                .collect();
            for &j in &chosen {
                starts[j] = Some(t);
            }
            let now = running(starts);
            let fits = self.input.accounts.iter().enumerate().all(|(a, q)| {
                let (_, jobs, servers) = q.free();
                let mine = now.iter().filter(|&&j| self.jobs[j].account == a);
                mine.clone().count() <= jobs
                    && mine.map(|&j| self.jobs[j].servers).sum::<usize>() <= servers
            });
            let next = now.iter().filter_map(|&j| end_of(j, starts)).min();
            if fits && let Some(next) = next {
                // Nothing can end before the best known makespan is beaten: prune.
                if t < *self.best {
                    self.run(next, starts);
                }
            }
            for &j in &chosen {
                starts[j] = None;
            }
        }
    }
}
