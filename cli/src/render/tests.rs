//! Tests of `render`.

use super::*;
use crate::view::{End, Event};
use drs_waves_contract::{
    ExecutionStatus, Mode, OperatorActionKind, PlanSpec, ServerCounts, WaveSpec, WaveState,
    WaveStatus,
};
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-11-28 10:00:00 UTC);

fn spec(index: u32, name: &str, ids: usize, tags: &[(&str, &str)]) -> WaveSpec {
    let ids: Vec<String> = (0..ids)
        .map(|i| drs_test_builders::server_id("", i))
        .collect();
    WaveSpec {
        launch_timeout_seconds: 120,
        polling: drs_test_builders::polling(1, 20, 5),
        max_attempts: 2,
        ..drs_test_builders::wave(index, name, &ids, tags)
    }
}

fn billing() -> View {
    let plan = PlanSpec {
        name: "billing".into(),
        terminate_drill_instances: true,
        waves: vec![
            spec(1, "databases", 2, &[]),
            spec(2, "app-servers", 2, &[]),
            spec(3, "web", 0, &[("App", "billing"), ("Tier", "web")]),
        ],
    };
    let mut v = View::new("drill-1", "arn:x", "billing", T0, Some(&plan));
    v.mode = Some(Mode::Drill);
    v
}

fn wave_state(index: u32, name: &str, status: WaveStatus, counts: ServerCounts) -> WaveState {
    WaveState {
        wave: name.into(),
        index,
        status,
        job_ids: vec!["drsjob-00000000000000001".into()],
        started_at: "2026-11-28T10:00:10Z".into(),
        ended_at: if status == WaveStatus::Launching {
            String::new()
        } else {
            "2026-11-28T10:00:52Z".into()
        },
        checks: 3,
        next_wait_seconds: 5,
        servers: counts,
        reason: if status == WaveStatus::Failed {
            "required server s-1 FAILED".into()
        } else {
            String::new()
        },
        health: None,
        recovered: None,
    }
}

fn counts(total: u32, launched: u32, failed: u32) -> ServerCounts {
    ServerCounts {
        total,
        launched,
        failed,
        launching: total - launched - failed,
        optional_failed: 0,
    }
}

#[test]
fn the_bar_shows_launched_failed_and_pending_in_proportion() {
    assert_eq!(bar(0, 0, 0, 10), "[          ]");
    assert_eq!(bar(5, 0, 10, 10), "[=====.....]");
    assert_eq!(bar(4, 2, 10, 10), "[====xx....]");
    assert_eq!(
        bar(1, 1, 1000, 10),
        "[=x........]",
        "a few servers still show"
    );
    assert_eq!(
        bar(999, 1, 1000, 10),
        "[=========x]",
        "no pending cell when all ended"
    );
    assert_eq!(bar(2, 0, 3, 10), "[======....]");
    assert_eq!(bar(3, 0, 3, 10), "[==========]");
}

#[test]
fn clocks_read_like_a_stopwatch() {
    assert_eq!(clock(42), "42s");
    assert_eq!(clock(185), "3:05");
    assert_eq!(clock(3723), "1:02:03");
}

#[test]
fn a_pending_wave_shows_its_selection_and_timeout() {
    let v = billing();
    let line = wave_line(&v.waves[2], 11, T0).to_string();
    assert_eq!(
        line,
        "PENDING   wave 3 web         [                        ] tags App=billing,Tier=web  timeout 2:00"
    );
}

#[test]
fn a_launching_wave_shows_its_bar_counts_elapsed_against_the_timeout_and_jobs() {
    let mut v = billing();
    v.apply(&Event::StateEntered {
        name: "Wave 1 databases: start".into(),
    });
    v.apply_wave_state(&wave_state(
        1,
        "databases",
        WaveStatus::Launching,
        counts(1000, 250, 10),
    ));
    v.waves[0].job_ids = (1..=5).map(|i| format!("drsjob-{i:017}")).collect();
    let line = wave_line(&v.waves[0], 11, T0 + time::Duration::seconds(52)).to_string();
    assert_eq!(
        line,
        "LAUNCHING wave 1 databases   [======x.................] 250/1000 launched, 10 failed, 740 pending  42s / 2:00  drsjob-00000000000000001, drsjob-00000000000000002 +3"
    );
}

#[test]
fn a_failback_wave_on_its_way_home_shows_as_launching() {
    let mut v = billing();
    v.apply(&Event::StateEntered {
        name: "Failback wave 3 web: start".into(),
    });
    assert_eq!(v.waves[2].phase, Phase::Launching);
    assert_eq!(
        v.waves[0].phase,
        Phase::Pending,
        "the databases come home last"
    );
}

#[test]
fn a_wave_under_health_checks_says_how_many_passed_and_a_failed_check_names_its_answer() {
    use drs_waves_contract::{HealthCheck, HealthState, HealthStatus, Probe};
    let mut plan_wave = spec(1, "databases", 1, &[]);
    plan_wave.health = vec![
        HealthCheck {
            probe: Probe::Tcp {
                port: 5432,
                host: None
            },
            timeout_seconds: 60,
            interval_seconds: 5,
        };
        2
    ];
    let plan = PlanSpec {
        name: "billing".into(),
        terminate_drill_instances: true,
        waves: vec![plan_wave],
    };
    let mut v = View::new("drill-1", "arn:x", "billing", T0, Some(&plan));
    v.apply(&Event::StateEntered {
        name: "Wave 1 databases: health checks begin".into(),
    });
    assert_eq!(v.waves[0].phase, Phase::Checking);
    let mut ws = wave_state(1, "databases", WaveStatus::Succeeded, counts(1, 1, 0));
    ws.health = Some(HealthState {
        status: HealthStatus::Checking,
        started_at: "2026-11-28T10:00:52Z".into(),
        rounds: 3,
        passed: vec![1],
        next_wait_seconds: 5,
        healthy_at: String::new(),
        due_seconds: Vec::new(),
    });
    v.apply_wave_state(&ws);
    let line = wave_line(&v.waves[0], 9, T0 + time::Duration::seconds(60)).to_string();
    assert!(line.starts_with("CHECKING  wave 1 databases"), "{line}");
    assert!(line.contains("checks 1/2 passed, round 3"), "{line}");
    ws.status = WaveStatus::Failed;
    ws.reason = "wave 'databases': health check 1 (tcp port 5432 of each recovered server) did not pass within 60 s: 10.0.0.5:5432 answered connection refused".into();
    if let Some(h) = ws.health.as_mut() {
        h.status = HealthStatus::Failed;
    }
    v.apply_wave_state(&ws);
    let line = wave_line(&v.waves[0], 9, T0 + time::Duration::seconds(120)).to_string();
    assert!(line.starts_with("FAILED    wave 1 databases"), "{line}");
    assert!(
        line.contains("checks failed: 1/2 passed in 3 round(s)")
            && line.contains("10.0.0.5:5432 answered connection refused"),
        "{line}"
    );
}

#[test]
fn the_plain_key_ignores_the_ticking_clock() {
    let mut v = billing();
    v.apply_wave_state(&wave_state(
        1,
        "databases",
        WaveStatus::Launching,
        counts(2, 1, 0),
    ));
    let a = wave_line(&v.waves[0], 11, T0 + time::Duration::seconds(20));
    let b = wave_line(&v.waves[0], 11, T0 + time::Duration::seconds(21));
    assert_ne!(a.to_string(), b.to_string());
    assert_eq!(a.key(), b.key());
    v.apply_wave_state(&wave_state(
        1,
        "databases",
        WaveStatus::Succeeded,
        counts(2, 2, 0),
    ));
    assert_ne!(wave_line(&v.waves[0], 11, T0).key(), a.key());
}

#[test]
fn live_job_statuses_count_each_server_by_its_latest_job() {
    let mut v = billing();
    v.apply_wave_state(&wave_state(
        2,
        "app-servers",
        WaveStatus::Launching,
        counts(3, 0, 0),
    ));
    v.waves[1].job_ids = vec!["drsjob-1".into(), "drsjob-2".into()];
    let jobs = [
        (
            "drsjob-1".to_string(),
            vec![
                ("s-a".to_string(), "FAILED".to_string()),
                ("s-b".to_string(), "LAUNCHED".to_string()),
                ("s-c".to_string(), "IN_PROGRESS".to_string()),
            ],
        ),
        (
            "drsjob-2".to_string(),
            vec![("s-a".to_string(), "LAUNCHED".to_string())],
        ),
    ]
    .into_iter()
    .collect();
    v.apply_jobs(2, &jobs);
    assert_eq!(
        v.waves[1].counts,
        ServerCounts {
            total: 3,
            launched: 2,
            failed: 0,
            launching: 1,
            optional_failed: 0
        }
    );
}

/// Issue #26: a 1,000-server drill showed wave 10 "40/90 launched", then "38/90": the live
/// DescribeJobs read was newer than the next check's counts, which replaced it.
#[test]
fn launched_counts_never_go_back_while_the_wave_launches() {
    let mut v = billing();
    v.apply(&Event::StateEntered {
        name: "Wave 2 app-servers: start".into(),
    });
    v.apply_wave_state(&wave_state(
        2,
        "app-servers",
        WaveStatus::Launching,
        counts(90, 30, 0),
    ));
    let live = |launched: usize,
                failed: usize|
     -> std::collections::BTreeMap<String, Vec<(String, String)>> {
        let servers = (0..90)
            .map(|i| {
                let status = if i < launched {
                    "LAUNCHED"
                } else if i < launched + failed {
                    "FAILED"
                } else {
                    "IN_PROGRESS"
                };
                (format!("s-{i}"), status.to_string())
            })
            .collect();
        [("drsjob-00000000000000001".to_string(), servers)]
            .into_iter()
            .collect()
    };
    v.apply_jobs(2, &live(40, 1));
    assert_eq!(v.waves[1].counts, counts(90, 40, 1));
    // The check that ran before that read answers after it.
    v.apply_wave_state(&wave_state(
        2,
        "app-servers",
        WaveStatus::Launching,
        counts(90, 38, 0),
    ));
    assert_eq!(v.waves[1].counts, counts(90, 40, 1), "40/90, then 38/90");
    let line = wave_line(&v.waves[1], 90, T0 + time::Duration::seconds(30)).to_string();
    assert!(line.contains("40/90 launched"), "{line}");
    // A live read that lags too.
    v.apply_jobs(2, &live(39, 0));
    assert_eq!(v.waves[1].counts, counts(90, 40, 1));
    v.apply_jobs(2, &live(45, 1));
    assert_eq!(v.waves[1].counts, counts(90, 45, 1));
    // The verdict's counts stand as they are.
    v.apply_wave_state(&wave_state(
        2,
        "app-servers",
        WaveStatus::Failed,
        counts(90, 88, 2),
    ));
    assert_eq!(v.waves[1].counts, counts(90, 88, 2));
    // An operator's retry launches the failed ones again: they are pending, not failed.
    v.apply(&Event::StateEntered {
        name: "Wave 2 app-servers: start".into(),
    });
    assert_eq!(v.waves[1].counts, counts(90, 88, 0));
    v.apply_wave_state(&wave_state(
        2,
        "app-servers",
        WaveStatus::Launching,
        counts(90, 88, 0),
    ));
    assert_eq!(v.waves[1].counts, counts(90, 88, 0));
}

#[test]
fn gates_say_what_they_wait_for_and_how_to_answer() {
    let gate = PendingGate {
        kind: GateKind::Approval,
        wave_index: 2,
        wave_name: "app-servers".into(),
        token: "secret".into(),
        since: "2026-11-28T10:00:00Z".into(),
        timeout_at: "2026-11-28T14:00:00Z".into(),
        attempts: 0,
        max_attempts: 1,
        reason: String::new(),
        heartbeat_seconds: None,
        reopened: 0,
        action: None,
    };
    let line = gate_line(&gate, "drill-1", T0 + time::Duration::seconds(75));
    assert_eq!(
        line,
        ">> wave 2 app-servers waits for approval (1:15, times out in 3:58:45): drs-waves approve drill-1  |  drs-waves stop drill-1"
    );
    assert!(!line.contains("secret"), "a token is never shown");
    let decision = PendingGate {
        kind: GateKind::Decision,
        attempts: 1,
        max_attempts: 2,
        reason: "s-1 FAILED".into(),
        ..gate
    };
    let line = gate_line(&decision, "drill-1", T0);
    assert!(
        line.contains("failed (s-1 FAILED); launch 1 of 2"),
        "{line}"
    );
    assert!(
        line.ends_with("drs-waves decide drill-1 retry|skip|stop"),
        "{line}"
    );
    // A failed action's decision names the action and what its service answered, not launches.
    let on_action = PendingGate {
        action: Some("Wave 2 app-servers: before 1 (fail over database)".into()),
        reason: "Failover.Refused: the replica is behind".into(),
        ..decision
    };
    let line = gate_line(&on_action, "drill-1", T0);
    assert!(
        line.starts_with(
            ">> Wave 2 app-servers: before 1 (fail over database) failed (Failover.Refused: the replica is behind): decide"
        ) && !line.contains("launch"),
        "{line}"
    );
    assert!(
        line.ends_with("drs-waves decide drill-1 retry|skip|stop"),
        "{line}"
    );
}

/// Waves side by side: every open gate has its line, each command naming its wave; a single
/// gate's line is as before (no --wave).
#[test]
fn several_open_gates_each_have_a_line_whose_commands_name_the_wave() {
    let approval = PendingGate {
        kind: GateKind::Approval,
        wave_index: 3,
        wave_name: "web".into(),
        token: "secret-3".into(),
        since: "2026-11-28T10:00:00Z".into(),
        timeout_at: "2026-11-28T14:00:00Z".into(),
        attempts: 0,
        max_attempts: 1,
        reason: String::new(),
        heartbeat_seconds: None,
        reopened: 0,
        action: None,
    };
    let decision = PendingGate {
        kind: GateKind::Decision,
        wave_index: 4,
        wave_name: "batch".into(),
        token: "secret-4".into(),
        attempts: 1,
        max_attempts: 2,
        reason: "s-9 FAILED".into(),
        ..approval.clone()
    };
    let lines = gate_lines(&[approval.clone(), decision], "drill-1", T0);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(">> wave 3 web waits for approval")
            && lines[0].ends_with(
                "drs-waves approve drill-1 --wave 3  |  drs-waves stop drill-1 --wave 3"
            ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(">> wave 4 batch failed (s-9 FAILED)")
            && lines[1].ends_with("drs-waves decide drill-1 retry|skip|stop --wave 4"),
        "{}",
        lines[1]
    );
    assert!(
        lines.iter().all(|l| !l.contains("secret")),
        "a token is never shown"
    );
    assert_eq!(
        gate_lines(std::slice::from_ref(&approval), "drill-1", T0),
        vec![gate_line(&approval, "drill-1", T0)]
    );
}

#[test]
fn the_summary_lists_every_wave_and_the_exit_status() {
    let mut v = billing();
    for (i, name) in [(1, "databases"), (2, "app-servers")] {
        v.apply_wave_state(&wave_state(i, name, WaveStatus::Succeeded, counts(2, 2, 0)));
    }
    v.apply_wave_state(&wave_state(3, "web", WaveStatus::Failed, counts(2, 1, 1)));
    v.started_by = Some("arn:aws:iam::1:user/alice".into());
    v.actions.push(OperatorAction {
        action: OperatorActionKind::Approve,
        wave_index: Some(2),
        wave_name: Some("app-servers".into()),
        by: "arn:aws:iam::1:user/bob".into(),
        at: "2026-11-28T10:00:30Z".into(),
    });
    v.end = Some(End {
        status: "FAILED".into(),
        error: Some("DrsWaves.WaveFailed".into()),
        cause: Some("wave 3 web failed:\nrequired server s-1 FAILED".into()),
        at: Some(T0 + time::Duration::seconds(61)),
        outcome: None,
    });
    let text = summary(&v).join("\n");
    assert_eq!(
        text,
        "DRILL drill-1 of plan billing: FAILED in 1:01\n\
         \x20 wave 1 databases    SUCCEEDED  2/2 launched, 0 failed      42s  drsjob-00000000000000001\n\
         \x20 wave 2 app-servers  SUCCEEDED  2/2 launched, 0 failed      42s  drsjob-00000000000000001\n\
         \x20 wave 3 web          FAILED     1/2 launched, 1 failed      42s  drsjob-00000000000000001  (required server s-1 FAILED)\n\
         started by arn:aws:iam::1:user/alice\n\
         operator: APPROVE wave 2 app-servers by arn:aws:iam::1:user/bob at 2026-11-28T10:00:30Z\n\
         DrsWaves.WaveFailed: wave 3 web failed: required server s-1 FAILED\n\
         exit 1"
    );
}

#[test]
fn exit_status_is_0_succeeded_1_failed_3_cancelled_or_stopped() {
    let ended = |status: &str, error: Option<&str>| {
        let mut v = billing();
        v.end = Some(End {
            status: status.into(),
            error: error.map(str::to_string),
            cause: None,
            at: None,
            outcome: None,
        });
        v
    };
    assert_eq!(crate::view::exit_code(&ended("SUCCEEDED", None)), 0);
    assert_eq!(
        crate::view::exit_code(&ended("FAILED", Some("DrsWaves.WaveFailed"))),
        1
    );
    assert_eq!(
        crate::view::exit_code(&ended("FAILED", Some("DrsWaves.Cancelled"))),
        3
    );
    assert_eq!(
        crate::view::exit_code(&ended("FAILED", Some("DrsWaves.StoppedByOperator"))),
        3
    );
    assert_eq!(crate::view::exit_code(&ended("ABORTED", None)), 3);
    let mut stopped = ended("FAILED", Some("States.TaskFailed"));
    stopped.recorded = Some(ExecutionStatus::Stopped);
    assert_eq!(crate::view::exit_code(&stopped), 3);
    assert_eq!(stopped.final_status(), "STOPPED");
}

#[test]
fn events_move_waves_through_gates_launches_and_decisions() {
    let mut v = billing();
    let enter = |v: &mut View, s: &str| v.apply(&Event::StateEntered { name: s.into() });
    enter(&mut v, "Wave 2 app-servers: approve?");
    assert_eq!(v.waves[1].phase, Phase::AwaitingApproval);
    enter(&mut v, "Wave 2 app-servers: start");
    assert_eq!(v.waves[1].phase, Phase::Launching);
    let mut state = serde_json::json!({"waves": {}});
    state["waves"]["w2"] = serde_json::to_value(wave_state(
        2,
        "app-servers",
        WaveStatus::Failed,
        counts(2, 1, 1),
    ))
    .expect("json");
    v.apply(&Event::StateExited {
        name: "Wave 2 app-servers: check".into(),
        output: Some(state.to_string()),
    });
    assert_eq!(v.waves[1].phase, Phase::Failed);
    enter(&mut v, "Wave 2 app-servers: decide?");
    assert_eq!(v.waves[1].phase, Phase::AwaitingDecision);
    enter(&mut v, "Wave 2 app-servers: skipped");
    assert_eq!(v.waves[1].phase, Phase::Skipped);
    assert_eq!(v.state.as_deref(), Some("Wave 2 app-servers: skipped"));
    enter(&mut v, "Wave 3 web: approve?");
    v.apply(&Event::Ended);
    assert_eq!(
        v.waves[2].phase,
        Phase::NotRun,
        "a gate never answered: the wave never ran"
    );
    assert_eq!(v.waves[1].phase, Phase::Skipped);
    let summary = summary(&v).join("\n");
    assert!(
        summary
            .contains("  wave 3 web          NOT RUN    -                             -  no job"),
        "{summary}"
    );
}

#[test]
fn a_wave_of_another_account_names_where_it_launches_and_is_not_read_from_our_drs() {
    let mut v = billing();
    v.waves[2].account = Some("222222222222 us-west-2".into());
    let line = wave_line(&v.waves[2], 11, T0).to_string();
    assert_eq!(
        line,
        "PENDING   wave 3 web         [                        ] tags App=billing,Tier=web  timeout 2:00  in 222222222222 us-west-2"
    );
    v.apply(&Event::StateEntered {
        name: "Wave 3 web: start".into(),
    });
    v.apply_wave_state(&wave_state(
        3,
        "web",
        WaveStatus::Launching,
        counts(2, 0, 0),
    ));
    v.waves[2].job_ids = vec!["drsjob-00000000000000009".into()];
    assert!(
        wave_line(&v.waves[2], 11, T0)
            .to_string()
            .ends_with("in 222222222222 us-west-2  drsjob-00000000000000009"),
    );
    assert!(
        v.launching_jobs().is_empty(),
        "its jobs are in the other account's DRS: the history's counts show it"
    );
}

#[test]
fn a_graph_plans_waves_say_what_they_wait_for_until_they_start() {
    let mut plan = PlanSpec {
        name: "shop".into(),
        terminate_drill_instances: true,
        waves: vec![
            spec(1, "db", 1, &[]),
            spec(2, "search", 1, &[]),
            spec(3, "app", 1, &[]),
        ],
    };
    let v = View::new("drill-1", "arn:x", "shop", T0, Some(&plan));
    assert!(
        v.waves.iter().all(|w| w.waits_for.is_none()),
        "waves in order: nothing to say"
    );
    plan.waves[1].depends_on = Some(vec![]);
    plan.waves[2].depends_on = Some(vec![1, 2]);
    let mut v = View::new("drill-1", "arn:x", "shop", T0, Some(&plan));
    let line = |v: &View, k: usize| wave_line(&v.waves[k], 6, T0).to_string();
    assert!(line(&v, 1).ends_with("at once"), "{}", line(&v, 1));
    assert!(line(&v, 2).ends_with("after db, search"), "{}", line(&v, 2));
    // Two waves launching side by side each have their own line; once started, the line shows
    // the launch, not the wait.
    for (i, name) in [(1, "db"), (2, "search")] {
        v.apply(&Event::StateEntered {
            name: format!("Wave {i} {name}: start"),
        });
        v.apply_wave_state(&wave_state(i, name, WaveStatus::Launching, counts(1, 0, 0)));
    }
    assert_eq!(v.waves[0].phase, Phase::Launching);
    assert_eq!(v.waves[1].phase, Phase::Launching);
    assert!(!line(&v, 1).contains("at once"), "{}", line(&v, 1));
    assert!(line(&v, 2).ends_with("after db, search"));
}

#[test]
fn a_wave_line_shows_its_action_as_it_runs_and_what_a_failed_one_said() {
    let mut v = billing();
    let action = "Wave 2 app-servers: before 1 (fail over database)";
    v.apply(&Event::StateEntered {
        name: action.into(),
    });
    let line = wave_line(&v.waves[1], 11, T0).to_string();
    assert!(
        line.ends_with("before 1 (fail over database): running"),
        "{line}"
    );
    v.apply(&Event::StateExited {
        name: action.into(),
        output: None,
    });
    let line = wave_line(&v.waves[1], 11, T0).to_string();
    assert!(
        line.ends_with("before 1 (fail over database): done"),
        "{line}"
    );

    v.apply(&Event::StateEntered {
        name: "Wave 3 web: after 1".into(),
    });
    v.apply(&Event::TaskFailed {
        error: "States.TaskFailed".into(),
        cause: "the replica is behind".into(),
    });
    v.apply(&Event::StateEntered {
        name: "Wave 3 web: after 1 / failed".into(),
    });
    let line = wave_line(&v.waves[2], 11, T0).to_string();
    assert!(
        line.ends_with("after 1: failed: States.TaskFailed: the replica is behind"),
        "{line}"
    );
    assert_eq!(v.waves[0].action, None, "a wave without actions shows none");
}
