use super::exact::optimum;
use super::*;

fn quotas(per_job: usize, jobs: usize, servers: usize) -> AccountQuotas {
    AccountQuotas {
        servers_per_job: per_job,
        concurrent_jobs: jobs,
        servers_in_active_jobs: servers,
        held_jobs: 0,
        held_servers: 0,
    }
}

fn wave(account: usize, depends_on: &[usize], launch_ms: &[u64]) -> BoundWave {
    BoundWave {
        account,
        depends_on: depends_on.to_vec(),
        launch_ms: launch_ms.to_vec(),
    }
}

fn bound_of(input: &BoundInput) -> u64 {
    makespan_lower_bound(input)
        .expect("a runnable plan has a bound")
        .makespan_ms
}

/// A small deterministic generator (xorshift), so the random cases repeat.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A random tiny plan: 1 to 3 waves (a chain, side by side, or a diamond's first part), 1 or 2
/// accounts, at most 6 servers, small quotas, sometimes other teams' jobs.
fn random_plan(rng: &mut Rng) -> BoundInput {
    let accounts: Vec<AccountQuotas> = (0..=rng.below(2))
        .map(|_| {
            let mut q = quotas(
                1 + rng.below(3) as usize,
                1 + rng.below(3) as usize,
                1 + rng.below(4) as usize,
            );
            if rng.below(4) == 0 {
                q.held_jobs = 1;
                q.concurrent_jobs += 1;
                q.held_servers = 1;
                q.servers_in_active_jobs += 1;
            }
            q
        })
        .collect();
    let waves_n = 1 + rng.below(3) as usize;
    let mut left = 6usize;
    let waves = (0..waves_n)
        .map(|i| {
            let n = (1 + rng.below(3) as usize).min(left.max(1));
            left = left.saturating_sub(n);
            let depends_on: Vec<usize> = (0..i).filter(|_| rng.below(2) == 0).collect();
            let launch: Vec<u64> = (0..n).map(|_| 1 + rng.below(9)).collect();
            wave(
                rng.below(accounts.len() as u64) as usize,
                &depends_on,
                &launch,
            )
        })
        .collect();
    BoundInput {
        waves,
        accounts,
        job_overhead_ms: rng.below(2),
    }
}

#[test]
fn the_bound_never_exceeds_the_brute_force_optimum() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tight = 0;
    for case in 0..400 {
        let input = random_plan(&mut rng);
        let bound = bound_of(&input);
        let best = optimum(&input);
        assert!(
            bound <= best,
            "case {case}: bound {bound} > optimum {best} for {input:?}"
        );
        if bound == best {
            tight += 1;
        }
    }
    // Not a promise, a regression guard: the bound is tight on most tiny plans.
    assert!(tight >= 300, "tight on only {tight} of 400 cases");
}

#[test]
fn waves_that_fit_at_once_make_the_bound_exact_the_critical_path() {
    let mut rng = Rng(42);
    for case in 0..200 {
        let mut input = random_plan(&mut rng);
        // Quotas wide enough that each wave fits at once, one account per wave so side-by-side
        // waves do not share.
        input.accounts = (0..input.waves.len()).map(|_| quotas(6, 6, 6)).collect();
        for (i, w) in input.waves.iter_mut().enumerate() {
            w.account = i;
        }
        let bound = makespan_lower_bound(&input).expect("runnable");
        let best = optimum(&input);
        assert_eq!(bound.makespan_ms, best, "case {case}: {input:?}");
        assert_eq!(bound.critical_path_ms, best, "case {case}");
    }
}

#[test]
fn identical_servers_in_full_rounds_are_exact() {
    // 6 servers of 5 s, at most 2 in active jobs: three rounds.
    let input = BoundInput {
        waves: vec![wave(0, &[], &[5_000; 6])],
        accounts: vec![quotas(2, 3, 2)],
        job_overhead_ms: 0,
    };
    assert_eq!(bound_of(&input), 15_000);
    assert_eq!(optimum(&input), 15_000);
}

#[test]
fn waves_in_order_add_up() {
    let input = BoundInput {
        waves: vec![
            wave(0, &[], &[3, 8, 5]),
            wave(0, &[0], &[4, 4]),
            wave(0, &[1], &[10]),
        ],
        accounts: vec![quotas(100, 20, 200)],
        job_overhead_ms: 1,
    };
    let bound = makespan_lower_bound(&input).expect("runnable");
    assert_eq!(bound.critical_path_ms, 9 + 5 + 11);
    assert_eq!(bound.makespan_ms, optimum(&input));
}

#[test]
fn waves_side_by_side_in_one_account_share_its_quota() {
    // Two independent waves of 4 servers of 10 ms, 4 servers in active jobs at most: each alone
    // takes 10 ms, together 20 ms.
    let input = BoundInput {
        waves: vec![wave(0, &[], &[10; 4]), wave(0, &[], &[10; 4])],
        accounts: vec![quotas(4, 4, 4)],
        job_overhead_ms: 0,
    };
    let bound = makespan_lower_bound(&input).expect("runnable");
    assert_eq!(bound.critical_path_ms, 10);
    assert_eq!(bound.shared_capacity_ms, 20);
    assert_eq!(bound.makespan_ms, optimum(&input));
}

#[test]
fn other_teams_jobs_take_their_share() {
    let mut q = quotas(2, 2, 4);
    q.held_servers = 2;
    let input = BoundInput {
        waves: vec![wave(0, &[], &[7; 4])],
        accounts: vec![q],
        job_overhead_ms: 0,
    };
    // 2 slots left: two rounds of 7.
    assert_eq!(bound_of(&input), 14);
    assert_eq!(optimum(&input), 14);
}

#[test]
fn a_plan_no_schedule_can_run_is_an_error() {
    let mut q = quotas(2, 1, 4);
    q.held_jobs = 1;
    let input = BoundInput {
        waves: vec![wave(0, &[], &[1])],
        accounts: vec![q],
        job_overhead_ms: 0,
    };
    assert_eq!(
        makespan_lower_bound(&input),
        Err(BoundError::NoCapacity { account: 0 })
    );
    let input = BoundInput {
        waves: vec![wave(0, &[0], &[1])],
        accounts: vec![quotas(1, 1, 1)],
        job_overhead_ms: 0,
    };
    assert_eq!(
        makespan_lower_bound(&input),
        Err(BoundError::BadDependency {
            wave: 0,
            depends_on: 0
        })
    );
    let input = BoundInput {
        waves: vec![wave(3, &[], &[1])],
        accounts: vec![quotas(1, 1, 1)],
        job_overhead_ms: 0,
    };
    assert_eq!(
        makespan_lower_bound(&input),
        Err(BoundError::UnknownAccount { wave: 0 })
    );
}
