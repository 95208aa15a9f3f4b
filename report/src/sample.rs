//! A made-up report of a large estate (issue #26: 10,000 servers in 40 waves over 5 accounts),
//! for the tests of how the page reads at that size and for the bench's figure of how fast
//! Chromium loads it (`examples/estate_report.rs`). Deterministic: the same sizes give the same
//! report.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::clock::format_time;
use crate::model::{
    CleanupFacts, ExecutionFacts, PlanFacts, REPORT_VERSION, Report, ServerFacts, Verdict,
    VerdictKind, WaveAccountFacts, WaveFacts,
};

/// The execution's start.
pub const STARTED: OffsetDateTime = datetime!(2026-11-28 10:00:00 UTC);
/// Servers per launch job, as DRS allows (its `maxServersPerJob`): a wave's jobs start 20 s
/// apart.
const PER_JOB: usize = 100;

/// `servers` spread over `waves` (sizes from half to one and a half times the mean), the waves
/// over `accounts` (round robin, each account's waves one after the other), no targets set.
pub fn estate(servers: usize, waves: usize, accounts: usize) -> Report {
    let waves = waves.max(1);
    let mean = servers / waves;
    let mut sizes: Vec<usize> = (0..waves)
        .map(|k| mean / 2 + (k * 37) % (mean + 1))
        .collect();
    // The last wave takes what is left (or gives back what is over), so that they add up.
    let rest: usize = sizes[..waves - 1].iter().sum();
    sizes[waves - 1] = servers.saturating_sub(rest);
    estate_of(&sizes, accounts)
}

/// Waves of the given sizes over `accounts`; about one server in a hundred fails, one in four
/// of those required; one in two hundred launches slowly.
pub fn estate_of(wave_sizes: &[usize], accounts: usize) -> Report {
    let accounts = accounts.max(1);
    let mut random = Lcg(26);
    let mut account_free = vec![STARTED; accounts];
    let mut waves = Vec::new();
    let mut servers = Vec::new();
    for (k, &size) in wave_sizes.iter().enumerate() {
        let index = u32::try_from(k + 1).unwrap_or(u32::MAX);
        let account = k % accounts;
        let wave_start = account_free[account];
        let mut wave_end = wave_start;
        let (mut launched, mut failed) = (0, 0);
        for n in 0..size {
            let number = servers.len() + 1;
            let chunk = n / PER_JOB;
            let start = wave_start + Duration::seconds(20 * chunk as i64 + 5);
            let mut took = 180 + random.next() % 300;
            if random.next().is_multiple_of(200) {
                took += 900;
            }
            let end = start + Duration::seconds(took as i64);
            wave_end = wave_end.max(end);
            let fails = random.next().is_multiple_of(100);
            let required = !fails || random.next().is_multiple_of(4);
            if fails {
                failed += 1;
            } else {
                launched += 1;
            }
            servers.push(ServerFacts {
                wave_index: index,
                wave_name: format!("tier-{index}"),
                source_server_id: format!("s-{number:017x}"),
                hostname: Some(format!("app-{number:05}")),
                required,
                job_id: Some(format!("drsjob-{index:02}{chunk:02}0000000000")),
                snapshot_id: Some(format!("pit-{number:017x}")),
                snapshot_taken_at: Some(format_time(start - Duration::seconds(120))),
                snapshot_age_seconds: Some(120),
                recovery_instance_id: (!fails).then(|| format!("i-{number:017x}")),
                ec2_instance_id: None,
                launch_status: if fails { "FAILED" } else { "LAUNCHED" }.to_owned(),
                launch_started_at: Some(format_time(start)),
                launch_ended_at: Some(format_time(end)),
                failure_reason: fails.then(|| {
                    "LAUNCH_FAILED: the instance did not pass its status checks".to_owned()
                }),
                warnings: Vec::new(),
                replicated_back_bytes: None,
            });
        }
        account_free[account] = wave_end + Duration::seconds(5);
        let previous = (k >= accounts).then(|| index - u32::try_from(accounts).unwrap_or(1));
        waves.push(WaveFacts {
            index,
            name: format!("tier-{index}"),
            status: "SUCCEEDED".to_owned(),
            started_at: Some(format_time(wave_start)),
            ended_at: Some(format_time(wave_end)),
            recovered_at: Some(format_time(wave_end)),
            duration_seconds: Some(seconds(wave_start, wave_end)),
            rto: no_target(Some(seconds(STARTED, wave_end))),
            job_ids: (0..size.div_ceil(PER_JOB))
                .map(|c| format!("drsjob-{index:02}{c:02}0000000000"))
                .collect(),
            servers: count(size),
            launched,
            failed,
            checks: 0,
            reason: None,
            account: Some(WaveAccountFacts {
                account_id: Some(format!("1111111111{:02}", account + 1)),
                region: Some("us-east-1".to_owned()),
                role_arn: None,
            }),
            waits_for: Some(previous.into_iter().collect()),
            healthy_at: None,
            health_checks: Vec::new(),
        });
    }
    let ended = account_free.iter().max().copied().unwrap_or(STARTED);
    let mut report = report(waves, servers, ended);
    if report.servers.iter().all(|s| s.launch_status == "LAUNCHED") {
        report.execution.status = "SUCCEEDED".to_owned();
    }
    report
}

fn report(waves: Vec<WaveFacts>, servers: Vec<ServerFacts>, ended: OffsetDateTime) -> Report {
    let recovered = waves.iter().filter_map(|w| w.rto.achieved_seconds).max();
    Report {
        report_version: REPORT_VERSION,
        generated_at: format_time(ended + Duration::minutes(1)),
        plan: PlanFacts {
            name: "estate".to_owned(),
            rto_target_seconds: None,
            rpo_target_seconds: None,
            targets_from_machine: true,
        },
        execution: ExecutionFacts {
            arn: "arn:aws:states:us-east-1:000000000000:execution:estate:drill-1".to_owned(),
            name: "drill-1".to_owned(),
            state_machine_arn: None,
            mode: Some("DRILL".to_owned()),
            status: "SUCCEEDED_WITH_FAILURES".to_owned(),
            machine_status: Some("SUCCEEDED".to_owned()),
            running: false,
            started_at: format_time(STARTED),
            ended_at: Some(format_time(ended)),
            duration_seconds: seconds(STARTED, ended),
            input: None,
            started_by: None,
            started_by_note: "a made-up estate".to_owned(),
            point_in_time: None,
            error: None,
            cause: None,
            preempted_by: None,
        },
        rto: no_target(recovered),
        rpo: no_target(Some(120)),
        forecast: None,
        waves,
        servers,
        operator_actions: Vec::new(),
        operator_actions_note: "No operator action.".to_owned(),
        cleanup: CleanupFacts {
            status: Some("NOT_NEEDED".to_owned()),
            error: None,
            terminate_drill_instances: false,
            terminate_job_ids: Vec::new(),
            terminated_instances: Vec::new(),
        },
        warnings: Vec::new(),
        sources: vec!["a made-up estate (drs_waves_report::sample)".to_owned()],
    }
}

fn no_target(achieved: Option<u64>) -> Verdict {
    Verdict {
        target_seconds: None,
        achieved_seconds: achieved,
        verdict: VerdictKind::NoTarget,
        note: "the plan sets no target".to_owned(),
    }
}

fn seconds(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    crate::clock::seconds_between(from, to)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A small linear congruential generator (Knuth's MMIX constants): the same estate every time,
/// without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}
