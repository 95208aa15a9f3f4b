use super::*;
use drs_waves_aws::drs::JobServer;
use drs_waves_aws::drs::JobStatus;

fn waves() -> Vec<WaveSpec> {
    ["db", "app", "web"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut w = drs_test_builders::wave(i as u32 + 1, name, &[], &[]);
            w.launch_timeout_seconds = 600;
            w
        })
        .collect()
}

fn names(order: &[&str]) -> Vec<String> {
    order.iter().map(|s| (*s).to_string()).collect()
}

fn failback(state: FailbackState) -> InstanceFailback {
    InstanceFailback {
        state,
        job_id: None,
        replication_state: None,
        replication_error: None,
        replicated_bytes: 0,
        total_bytes: 0,
    }
}

#[test]
fn only_instances_ready_for_launch_fail_back_and_the_others_say_why() {
    let instance = |server: &str, state: Option<FailbackState>| RecoveredInstance {
        source_server_id: server.into(),
        recovery_instance_id: format!("i-{server}"),
        failback: state.map(failback),
    };
    let stalled = RecoveredInstance {
        failback: Some(InstanceFailback {
            replication_state: Some("STALLED".into()),
            replicated_bytes: 25,
            total_bytes: 100,
            ..failback(FailbackState::InProgress)
        }),
        ..instance("s-stalled", None)
    };
    let erred = RecoveredInstance {
        failback: Some(InstanceFailback {
            replication_error: Some("FAILBACK_CLIENT_NOT_SEEN".into()),
            ..failback(FailbackState::Error)
        }),
        ..instance("s-erred", None)
    };
    let instances = vec![
        instance("s-ready", Some(FailbackState::ReadyForLaunch)),
        instance("s-new", Some(FailbackState::NotStarted)),
        stalled,
        erred,
        instance("s-home", Some(FailbackState::Completed)),
        instance("s-silent", None),
    ];
    let required = names(&[
        "s-ready",
        "s-new",
        "s-stalled",
        "s-erred",
        "s-home",
        "s-silent",
        "s-gone",
    ]);
    let r = readiness(&required, &instances);
    assert_eq!(
        r.ready,
        BTreeMap::from([("s-ready".to_string(), "i-s-ready".to_string())])
    );
    let said: Vec<(&str, &str)> = r
        .not_ready
        .iter()
        .map(|n| (n.source_server_id.as_str(), n.state.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            ("s-new", "FAILBACK_NOT_STARTED"),
            ("s-stalled", "FAILBACK_IN_PROGRESS"),
            ("s-erred", "FAILBACK_ERROR"),
            ("s-home", "FAILBACK_COMPLETED"),
            ("s-silent", "FAILBACK_LAUNCH_STATE_NOT_AVAILABLE"),
            ("s-gone", "NO_RECOVERY_INSTANCE"),
        ]
    );
    let why = |server: &str| {
        r.not_ready
            .iter()
            .find(|n| n.source_server_id == server)
            .map(|n| n.why.clone())
            .expect("named")
    };
    assert!(why("s-new").contains("Failback Client"), "{}", why("s-new"));
    assert!(
        why("s-stalled").contains("STALLED, 25% replicated"),
        "{}",
        why("s-stalled")
    );
    assert!(
        why("s-erred").contains("FAILBACK_CLIENT_NOT_SEEN"),
        "{}",
        why("s-erred")
    );
    assert_eq!(r.not_ready[5].recovery_instance_id, None);
}

fn job(servers: &[(&str, LaunchStatus)]) -> Job {
    Job {
        id: "drsjob-1".into(),
        status: JobStatus::Started,
        job_type: Some("LAUNCH".into()),
        tags: BTreeMap::new(),
        created_at: None,
        ended_at: None,
        networks: Vec::new(),
        servers: servers
            .iter()
            .map(|(s, l)| JobServer {
                source_server_id: (*s).into(),
                recovery_instance_id: Some(format!("i-{s}")),
                launch_status: l.clone(),
                launch_actions: Vec::new(),
            })
            .collect(),
    }
}

#[test]
fn a_failback_wave_is_home_when_every_required_instance_completed_its_failback() {
    let mut wave = waves().remove(0);
    wave.optional = names(&["s-opt"]);
    let planned: BTreeMap<String, String> = ["s-a", "s-b", "s-opt"]
        .iter()
        .map(|s| ((*s).to_string(), format!("i-{s}")))
        .collect();
    let states = |a: FailbackState, b: FailbackState, opt: FailbackState| {
        BTreeMap::from([
            ("i-s-a".to_string(), failback(a)),
            ("i-s-b".to_string(), failback(b)),
            ("i-s-opt".to_string(), failback(opt)),
        ])
    };
    let jobs = [job(&[
        ("s-a", LaunchStatus::InProgress),
        ("s-b", LaunchStatus::InProgress),
        ("s-opt", LaunchStatus::InProgress),
    ])];
    use FailbackState::{Completed, Error, InProgress};
    let launching = judge_failback(
        &wave,
        &jobs,
        &planned,
        &states(Completed, InProgress, InProgress),
        30,
    );
    assert_eq!(launching.status, WaveStatus::Launching);
    assert_eq!(
        (launching.counts.launched, launching.counts.launching),
        (1, 2)
    );

    let home = judge_failback(
        &wave,
        &jobs,
        &planned,
        &states(Completed, Completed, Error),
        60,
    );
    assert_eq!(home.status, WaveStatus::Succeeded, "{}", home.reason);
    assert_eq!(home.counts.optional_failed, 1);

    let erred = judge_failback(
        &wave,
        &jobs,
        &planned,
        &states(Completed, Error, Completed),
        60,
    );
    assert_eq!(erred.status, WaveStatus::Failed);
    assert!(
        erred.reason.contains("s-b (i-s-b): FAILBACK_ERROR"),
        "{}",
        erred.reason
    );

    let launch_failed = [job(&[("s-b", LaunchStatus::Failed)])];
    let failed = judge_failback(
        &wave,
        &launch_failed,
        &planned,
        &states(Completed, InProgress, Completed),
        60,
    );
    assert_eq!(
        failed.status,
        WaveStatus::Failed,
        "a FAILED launch fails the wave"
    );

    let late = judge_failback(
        &wave,
        &jobs,
        &planned,
        &states(Completed, InProgress, Completed),
        601,
    );
    assert_eq!(late.status, WaveStatus::Failed);
    assert!(
        late.reason.contains("timed out after 600s: s-b not home"),
        "{}",
        late.reason
    );
}

fn execution(name: &str, mode: Option<Mode>, status: ExecutionStatus) -> ExecutionRecord {
    ExecutionRecord {
        mode,
        ..ExecutionRecord::new(
            format!("arn:aws:states:us-east-1:123456789012:execution:billing:{name}"),
            name,
            "billing",
            status,
            "2030-01-01T00:00:00Z",
        )
    }
}

#[test]
fn the_last_recovery_comes_home_when_it_succeeded_or_the_one_named() {
    use ExecutionStatus::{Failed, Running, Succeeded};
    let history = vec![
        execution("drill-2", Some(Mode::Drill), Succeeded),
        execution("recovery-2", Some(Mode::Recovery), Failed),
        execution("recovery-1", Some(Mode::Recovery), Succeeded),
    ];
    let refused = recovery_to_bring_home("billing", &history, None).expect_err("last failed");
    assert!(
        refused.contains("recovery-2") && refused.contains("FAILED"),
        "{refused}"
    );
    let named = recovery_to_bring_home("billing", &history, Some("recovery-1")).expect("named");
    assert_eq!(named.execution_name, "recovery-1");
    let by_arn = recovery_to_bring_home("billing", &history, Some(&history[1].execution_id))
        .expect("a failed RECOVERY named by its ARN");
    assert_eq!(by_arn.execution_name, "recovery-2");
    let drill = recovery_to_bring_home("billing", &history, Some("drill-2")).expect_err("drill");
    assert!(drill.contains("DRILL, not a RECOVERY"), "{drill}");
    let unknown = recovery_to_bring_home("billing", &history, Some("nope")).expect_err("unknown");
    assert!(unknown.contains("no execution nope"), "{unknown}");
    let ok = recovery_to_bring_home("billing", &history[2..], None).expect("succeeded");
    assert_eq!(ok.execution_name, "recovery-1");
    let none = recovery_to_bring_home("billing", &history[..1], None).expect_err("no RECOVERY");
    assert!(none.contains("no RECOVERY"), "{none}");
    let running = [execution("recovery-3", Some(Mode::Recovery), Running)];
    let still =
        recovery_to_bring_home("billing", &running, Some("recovery-3")).expect_err("running");
    assert!(still.contains("still RUNNING"), "{still}");
}

#[test]
fn the_servers_a_recovery_launched_are_those_launched_in_their_latest_job() {
    use drs_waves_history::ServerRecord;
    let record = |status: LaunchStatus, required: bool| ServerRecord {
        launch_status: status,
        recovery_instance_id: None,
        required,
        failure_reason: None,
        action_warnings: Vec::new(),
    };
    let job = |id: &str, wave: u32, at: &str, servers: Vec<(&str, ServerRecord)>| JobRecord {
        execution_id: "recovery-1".into(),
        wave_index: wave,
        job_id: id.into(),
        job_status: JobStatus::Completed,
        servers: servers
            .into_iter()
            .map(|(s, r)| (s.to_string(), r))
            .collect(),
        updated_at: at.into(),
    };
    let jobs = [
        job(
            "drsjob-1",
            1,
            "2030-01-01T00:01:00Z",
            vec![
                ("s-db", record(LaunchStatus::Launched, true)),
                ("s-retried", record(LaunchStatus::Failed, true)),
                ("s-lost", record(LaunchStatus::Failed, false)),
            ],
        ),
        job(
            "drsjob-2",
            1,
            "2030-01-01T00:05:00Z",
            vec![("s-retried", record(LaunchStatus::Launched, true))],
        ),
        job(
            "drsjob-3",
            2,
            "2030-01-01T00:06:00Z",
            vec![("s-web", record(LaunchStatus::Launched, false))],
        ),
    ];
    let (waves, job_ids) = recovered_servers(&jobs);
    let ids = |w: u32| -> Vec<(String, bool)> {
        waves[&w]
            .iter()
            .map(|s| (s.source_server_id.clone(), s.required))
            .collect()
    };
    assert_eq!(
        ids(1),
        [("s-db".to_string(), true), ("s-retried".to_string(), true)]
    );
    assert_eq!(ids(2), [("s-web".to_string(), false)]);
    assert_eq!(job_ids.len(), 3);
}
