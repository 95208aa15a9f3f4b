//! Issue #26: the scheduled launch strategy sends a wave's chunks only when they fit DRS's
//! quotas (less what other jobs hold), the start task what fits at once and the checks the rest
//! as jobs end; DRS refuses nothing when the quotas are known, and once at most when the
//! configured ones are too high (the refusal teaches them).

use super::*;
use crate::tasks::LaunchStrategy;

fn scheduled(w: &World, per_job: usize, active: usize, jobs: usize) -> TestHandlers {
    Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: per_job,
            max_active_servers: active,
            max_concurrent_jobs: jobs,
        },
    )
    .with_launch_strategy(LaunchStrategy::Scheduled)
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)))
}

/// The active jobs' count and servers, as DRS holds them now.
fn active(w: &World) -> (usize, usize) {
    let jobs: Vec<Job> = w
        .drs
        .jobs()
        .into_iter()
        .filter(|j| j.status.is_active())
        .collect();
    (jobs.len(), jobs.iter().map(|j| j.servers.len()).sum())
}

/// Ends every active job of the wave: its servers LAUNCHED, the job COMPLETED.
fn end_active_jobs(w: &World) {
    for job in w.drs.jobs().into_iter().filter(|j| j.status.is_active()) {
        for s in &job.servers {
            w.drs.set_launch_status(
                &s.source_server_id,
                LaunchStatus::Launched,
                Some(&format!("i-{:017x}", s.source_server_id.len())),
            );
        }
        w.drs.set_job_status(&job.id, JobStatus::Completed);
    }
}

/// Starts the wave and checks it, ending the active jobs between checks, until it has a
/// verdict; returns it and, per round, the jobs and servers DRS held.
async fn run_wave(w: &World, h: &TestHandlers) -> (WaveState, Vec<(usize, usize)>) {
    let spec = all_tagged_wave();
    let mut state = h
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("start");
    let mut held = vec![active(w)];
    for _ in 0..50 {
        end_active_jobs(w);
        let mut input = check_input(w, spec.clone());
        input.state = state;
        state = h.check_wave(input).await.expect("check");
        held.push(active(w));
        if state.status != WaveStatus::Launching {
            return (state, held);
        }
    }
    panic!("the wave never ended: {state:?}");
}

#[tokio::test]
async fn known_quotas_are_never_exceeded_and_drs_refuses_nothing() {
    let w = World::with_servers(11);
    w.drs.set_concurrency_quotas(3, 5);
    let h = scheduled(&w, 2, 5, 3);
    let (state, held) = run_wave(&w, &h).await;
    assert_eq!(state.status, WaveStatus::Succeeded, "{}", state.reason);
    assert_eq!(state.servers.launched, 11);
    assert_eq!(w.drs.quota_refusals(), 0);
    // 2 + 2 servers fit the 5 (a third chunk of 2 would not), so rounds of 4, 4, 3.
    assert_eq!(held[0], (2, 4));
    assert!(held.iter().all(|&(j, s)| j <= 3 && s <= 5), "{held:?}");
    assert_eq!(state.job_ids.len(), 6);
    assert_eq!(w.drs.start_calls().len(), 6);
}

#[tokio::test]
async fn a_wave_larger_than_the_quotas_waits_launching_for_room() {
    let w = World::with_servers(6);
    let h = scheduled(&w, 2, 4, 20);
    let spec = all_tagged_wave();
    let started = h
        .start_wave(start_input(Mode::Drill, None, spec.clone()))
        .await
        .expect("start");
    assert_eq!(started.job_ids.len(), 2, "4 of the 6 servers fit");
    assert_eq!(started.servers.total, 6);
    // Nothing ended: the check sends nothing and counts the queued servers as launching, even
    // once the first jobs' servers have launched.
    for s in &w.drs.jobs()[0].servers {
        w.drs
            .set_launch_status(&s.source_server_id, LaunchStatus::Launched, Some("i-1"));
    }
    let mut input = check_input(&w, spec.clone());
    input.state = started;
    let checked = h.check_wave(input).await.expect("check");
    assert_eq!(checked.status, WaveStatus::Launching);
    assert_eq!(checked.job_ids.len(), 2);
    assert_eq!(
        (
            checked.servers.total,
            checked.servers.launched,
            checked.servers.launching
        ),
        (6, 2, 4)
    );
    assert_eq!(w.drs.start_calls().len(), 2);
}

#[tokio::test]
async fn unknown_quotas_are_learned_from_the_first_refusal() {
    let w = World::with_servers(12);
    w.drs.set_concurrency_quotas(20, 5);
    // The worker believes in far more room than DRS gives.
    let h = scheduled(&w, 2, 1_000, 100);
    let (state, held) = run_wave(&w, &h).await;
    assert_eq!(state.status, WaveStatus::Succeeded, "{}", state.reason);
    assert_eq!(state.servers.launched, 12);
    assert_eq!(w.drs.quota_refusals(), 1, "one refusal teaches the quota");
    assert!(held.iter().all(|&(_, s)| s <= 5), "{held:?}");
}

#[tokio::test]
async fn other_teams_jobs_take_their_share_of_the_quotas() {
    let w = World::with_servers(4);
    w.drs.set_concurrency_quotas(3, 6);
    let mut other = Job::launch_for_test(
        "drsjob-other",
        JobStatus::Started,
        &[
            ("s-other-1", LaunchStatus::InProgress),
            ("s-other-2", LaunchStatus::InProgress),
            ("s-other-3", LaunchStatus::InProgress),
        ],
    );
    other.created_at = Some("2030-01-01T00:01:00Z".into());
    w.drs.add_job(other);
    let h = scheduled(&w, 2, 6, 3);
    let started = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect("start");
    // 3 servers of the 6 are taken: one chunk of 2 fits.
    assert_eq!(started.job_ids.len(), 1);
    assert_eq!(w.drs.quota_refusals(), 0);
}

#[tokio::test]
async fn eager_sends_every_chunk_and_drs_refuses_what_does_not_fit() {
    let w = World::with_servers(6);
    w.drs.set_concurrency_quotas(20, 4);
    let h = Handlers::new(
        w.drs.clone(),
        w.history.clone(),
        w.executions.clone(),
        Limits {
            max_servers_per_job: 2,
            max_active_servers: 6,
            max_concurrent_jobs: 20,
        },
    )
    .with_clock(Arc::new(|| datetime!(2030-01-01 00:10:00 UTC)))
    .with_quota_wait(Duration::from_millis(30), Duration::from_millis(10));
    let err = h
        .start_wave(start_input(Mode::Drill, None, all_tagged_wave()))
        .await
        .expect_err("the third chunk never fits while the first jobs run");
    assert_eq!(err.name(), ErrorName::QuotaExceeded);
    assert!(w.drs.quota_refusals() >= 2, "{}", w.drs.quota_refusals());
}
