//! The report's pure parts: verdicts, the timeline's geometry, escaping, the schema file.

use std::collections::BTreeMap;

use drs_waves_contract::{
    CleanupStatus, ExecutionStatus, Mode, ServerCounts, Targets, WaveStatus, WaveTarget,
};
use time::macros::datetime;

use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::{OperatorAction as HistoryAction, OperatorActionKind};

use crate::build::{
    DrsJobFacts, ExecutionRecord, JobRecord, MachineFacts, ServerLaunchPoint, ServerLog,
    ServerRecord, Sources, WaveChunk, WaveRecord, WaveSource, build, verdict,
};
use crate::model::{DurationForecast, Forecast, VerdictKind, WaveForecast};
use crate::{render, schema_text, timeline};

const ARN: &str = "arn:aws:states:us-east-1:000000000000:execution:billing:drill-1";
const S1: &str = "s-a1b2c3d4e5f600001";
const S2: &str = "s-a1b2c3d4e5f600002";

fn execution(status: ExecutionStatus, ended: Option<&str>) -> ExecutionRecord {
    ExecutionRecord {
        mode: Some(Mode::Drill),
        ended_at: ended.map(str::to_owned),
        wave_count: 2,
        cleanup: Some(CleanupStatus::NotNeeded),
        worst_rpo_seconds: Some(300),
        ..ExecutionRecord::new(ARN, "drill-1", "billing", status, "2026-11-28T10:00:00Z")
    }
}

fn wave(index: u32, server: &str, status: WaveStatus, job: &str, started: &str) -> WaveSource {
    WaveSource {
        record: WaveRecord {
            execution_id: ARN.into(),
            index,
            name: format!("w{index}"),
            status,
            job_ids: vec![job.into()],
            started_at: started.into(),
            ended_at: None,
            checks: 3,
            servers: ServerCounts {
                total: 1,
                launched: u32::from(status == WaveStatus::Succeeded),
                ..ServerCounts::default()
            },
            reason: String::new(),
            chunks: vec![WaveChunk {
                number: 1,
                servers: vec![server.into()],
                job_id: Some(job.into()),
                attempt: 1,
                planned_at: None,
            }],
            learned: None,
            completion_ms: None,
            account: None,
        },
        launch_points: vec![ServerLaunchPoint {
            server_id: server.into(),
            required: true,
            snapshot_id: Some(format!("pit-{index}")),
            snapshot_taken_at: Some("2026-11-28T09:55:00Z".into()),
            rpo_seconds: Some(300 * u64::from(index)),
            replication: "CONTINUOUS".into(),
        }],
        health: None,
    }
}

fn job(index: u32, id: &str, server: &str, status: &str) -> JobRecord {
    JobRecord {
        execution_id: ARN.into(),
        wave_index: index,
        job_id: id.into(),
        job_status: JobStatus::Completed,
        updated_at: "2026-11-28T10:04:00Z".into(),
        servers: BTreeMap::from([(
            server.to_owned(),
            ServerRecord {
                launch_status: LaunchStatus::parse(status),
                recovery_instance_id: Some(format!("i-{index}")),
                required: true,
                failure_reason: None,
                action_warnings: Vec::new(),
            },
        )]),
    }
}

/// Two waves: w1 launched 10:00:05 to 10:02:00, w2 10:02:10 to 10:04:00; targets plan 5 min,
/// wave 1 1 min (missed), RPO 7 min (worst is 10 min: missed).
fn sources() -> Sources {
    Sources {
        now: datetime!(2026-11-28 10:10:00 UTC),
        execution: execution(ExecutionStatus::Succeeded, Some("2026-11-28T10:04:30Z")),
        waves: vec![
            wave(
                1,
                S1,
                WaveStatus::Succeeded,
                "drsjob-1",
                "2026-11-28T10:00:02Z",
            ),
            wave(
                2,
                S2,
                WaveStatus::Succeeded,
                "drsjob-2",
                "2026-11-28T10:02:05Z",
            ),
        ],
        jobs: vec![
            job(1, "drsjob-1", S1, "LAUNCHED"),
            job(2, "drsjob-2", S2, "LAUNCHED"),
        ],
        machine: Some(MachineFacts {
            targets: Some(Targets {
                rto_seconds: Some(300),
                rpo_seconds: Some(420),
                waves: vec![WaveTarget {
                    index: 1,
                    name: "w1".into(),
                    rto_seconds: 60,
                }],
            }),
            ..MachineFacts::default()
        }),
        drs_jobs: BTreeMap::from([
            (
                "drsjob-1".to_owned(),
                DrsJobFacts {
                    status: "COMPLETED".into(),
                    created_at: Some("2026-11-28T10:00:05Z".into()),
                    ended_at: Some("2026-11-28T10:02:00Z".into()),
                },
            ),
            (
                "drsjob-2".to_owned(),
                DrsJobFacts {
                    status: "COMPLETED".into(),
                    created_at: Some("2026-11-28T10:02:10Z".into()),
                    ended_at: Some("2026-11-28T10:04:00Z".into()),
                },
            ),
        ]),
        job_logs: BTreeMap::new(),
        instances: BTreeMap::new(),
        hostnames: BTreeMap::from([(S1.to_owned(), "db-1".to_owned())]),
        forecast: None,
        notes: Vec::new(),
    }
}

#[test]
fn verdicts_against_targets() {
    assert_eq!(
        verdict("x", Some(60), Some(60), false, 0, "m").verdict,
        VerdictKind::Pass
    );
    assert_eq!(
        verdict("x", Some(60), Some(61), false, 0, "m").verdict,
        VerdictKind::Fail
    );
    assert_eq!(
        verdict("x", None, Some(61), false, 0, "m").verdict,
        VerdictKind::NoTarget
    );
    // Not recovered: failed once ended, or once running past the target; pending before.
    assert_eq!(
        verdict("x", Some(60), None, false, 10, "m").verdict,
        VerdictKind::Fail
    );
    assert_eq!(
        verdict("x", Some(60), None, true, 10, "m").verdict,
        VerdictKind::Pending
    );
    assert_eq!(
        verdict("x", Some(60), None, true, 61, "m").verdict,
        VerdictKind::Fail
    );
    let v = verdict("recovered in", Some(60), Some(125), false, 0, "m");
    assert_eq!(
        v.note,
        "recovered in 2 min 5 s, over the target of 1 min by 1 min 5 s"
    );
}

#[test]
fn rto_is_measured_from_the_execution_start_to_the_last_job_end() {
    let r = build(&sources());
    // 10:00:00 to 10:04:00 (wave 2's job end), not to the execution's end at 10:04:30.
    assert_eq!(r.rto.achieved_seconds, Some(240));
    assert_eq!(r.rto.verdict, VerdictKind::Pass);
    assert_eq!(r.waves[0].rto.achieved_seconds, Some(120));
    assert_eq!(r.waves[0].rto.verdict, VerdictKind::Fail);
    assert_eq!(r.waves[1].rto.verdict, VerdictKind::NoTarget);
    assert_eq!(r.waves[0].duration_seconds, Some(118));
    // Worst RPO of the required servers: wave 2's 600 s, over 420.
    assert_eq!(r.rpo.achieved_seconds, Some(600));
    assert_eq!(r.rpo.verdict, VerdictKind::Fail);
    assert_eq!(r.servers.len(), 2);
    assert_eq!(r.servers[0].hostname.as_deref(), Some("db-1"));
    assert_eq!(
        r.servers[0].launch_ended_at.as_deref(),
        Some("2026-11-28T10:02:00Z")
    );
}

#[test]
fn a_failed_wave_fails_the_plan_rto_and_a_failed_server_ends_at_its_log_event() {
    let mut s = sources();
    s.waves[1].record.status = WaveStatus::Failed;
    s.jobs[1] = job(2, "drsjob-2", S2, "FAILED");
    s.job_logs.insert(
        ("drsjob-2".into(), S2.into()),
        ServerLog {
            first_event_at: Some("2026-11-28T10:02:11Z".into()),
            failed_at: Some("2026-11-28T10:03:00Z".into()),
            failure: Some("InsufficientInstanceCapacity".into()),
        },
    );
    let r = build(&s);
    assert_eq!(r.rto.verdict, VerdictKind::Fail);
    assert_eq!(r.rto.achieved_seconds, None);
    let failed = &r.servers[1];
    assert_eq!(
        failed.launch_started_at.as_deref(),
        Some("2026-11-28T10:02:11Z")
    );
    assert_eq!(
        failed.launch_ended_at.as_deref(),
        Some("2026-11-28T10:03:00Z")
    );
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("InsufficientInstanceCapacity")
    );
}

#[test]
fn an_optional_post_launch_action_that_failed_is_a_warning_of_its_server_and_the_report() {
    let mut s = sources();
    let warning = "optional post-launch action 'Install agent' (AWS-RunShellScript) FAILED: \
                   SSM document timed out";
    if let Some(server) = s.jobs[1].servers.get_mut(S2) {
        server.action_warnings = vec![warning.to_owned()];
    }
    let r = build(&s);
    let server = &r.servers[1];
    assert_eq!(server.launch_status, "LAUNCHED");
    assert_eq!(server.failure_reason, None);
    assert_eq!(server.warnings, [warning]);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains(S2) && w.ends_with(warning)),
        "{:?}",
        r.warnings
    );
    let html = render::html(&r);
    assert!(
        html.contains("<span class=\"warning\">warning: optional post-launch action "),
        "the servers table shows it"
    );
    // A server without warnings writes none into the JSON.
    let json = serde_json::to_value(&r).expect("json");
    assert!(json["servers"][0].get("warnings").is_none());
    assert_eq!(json["servers"][1]["warnings"][0], warning);
}

#[test]
fn a_running_execution_says_so_and_shows_waves_not_started() {
    let mut s = sources();
    s.execution = execution(ExecutionStatus::Running, None);
    s.now = datetime!(2026-11-28 10:01:00 UTC);
    s.waves.truncate(1);
    s.waves[0].record.status = WaveStatus::Launching;
    s.jobs.truncate(1);
    s.jobs[0] = job(1, "drsjob-1", S1, "IN_PROGRESS");
    let r = build(&s);
    assert!(r.execution.running);
    assert_eq!(r.execution.duration_seconds, 60);
    assert_eq!(r.rto.verdict, VerdictKind::Pending);
    assert_eq!(r.waves[1].status, "NOT_STARTED");
    assert!(r.sources[0].contains("still RUNNING"));
    let html = render::html(&r);
    assert!(html.contains("id=\"running-note\""));
    assert!(html.contains("class=\"bar running\""));
}

#[test]
fn timeline_has_a_band_per_wave_a_bar_per_server_and_target_lines() {
    let r = build(&sources());
    let t = timeline::layout(&r, datetime!(2026-11-28 10:10:00 UTC));
    assert_eq!(t.bands.len(), 2);
    assert_eq!(t.bars.len(), 2);
    // Span: the execution's end (270 s) is past the plan's target (300 s)? No: 300 wins.
    assert_eq!(t.span_seconds, 300);
    let x = |s: f64| timeline::PLOT_LEFT + (timeline::PLOT_RIGHT - timeline::PLOT_LEFT) * s / 300.0;
    // Wave 1's bar: its job's creation (5 s) to its end (120 s).
    assert_eq!(t.bars[0].x, x(5.0));
    assert!((t.bars[0].x + t.bars[0].width - x(120.0)).abs() < 0.11);
    assert_eq!(t.bars[0].class, "launched");
    // Targets: wave 1 at 60 s inside its band; the plan's at 300 s across every band.
    assert_eq!(t.targets.len(), 2);
    assert_eq!(t.targets[0].x, x(60.0));
    assert_eq!(t.targets[0].y1, t.bands[0].y);
    assert_eq!(t.targets[1].x, timeline::PLOT_RIGHT);
    assert!(t.bars[1].y > t.bands[1].y && t.bars[1].y < t.bands[1].y + t.bands[1].height);
    assert_eq!(timeline::tick_step(300), 60);
    assert_eq!(timeline::tick_step(8), 1);
    assert_eq!(timeline::tick_step(3 * 3600), 1800);
}

#[test]
fn rendering_escapes_what_the_sources_say() {
    let mut s = sources();
    s.hostnames
        .insert(S2.into(), "<script>alert(1)</script>".into());
    s.execution.cause = Some("a & b <i>".into());
    let html = render::html(&build(&s));
    assert!(!html.contains("<script"), "a hostname became markup");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    assert!(html.contains("a &amp; b &lt;i&gt;"));
    // Self-contained: nothing is loaded from elsewhere.
    for needle in ["<script", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(needle), "the page has {needle}");
    }
    assert_eq!(html.matches("class=\"bar ").count(), 2);
    assert!(html.contains("@page { size: A4"));
}

#[test]
fn the_schema_file_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../statemachines/schemas/report.schema.json");
    let want = schema_text();
    if std::env::var_os("DRS_WAVES_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &want).expect("writes the schema");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale: run `DRS_WAVES_UPDATE_SCHEMAS=1 cargo test -p drs-waves-report the_schema_file_is_current`",
        path.display()
    );
    // And a report validates against it.
    let report = serde_json::to_value(build(&sources())).expect("serializes");
    let validator = jsonschema::validator_for(&crate::schema()).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_target_far_past_the_execution_is_drawn_off_scale() {
    let mut s = sources();
    if let Some(m) = s.machine.as_mut().and_then(|m| m.targets.as_mut()) {
        m.rto_seconds = Some(3600);
    }
    let r = build(&s);
    let t = timeline::layout(&r, datetime!(2026-11-28 10:10:00 UTC));
    // The execution ended at 270 s: the scale stops there, not at the hour.
    assert_eq!(t.span_seconds, 270);
    let plan = t.targets.last().expect("the plan's target");
    assert!(plan.off_scale);
    assert_eq!(plan.x, timeline::PLOT_RIGHT);
    assert_eq!(plan.label, "plan RTO 1 h (off scale) \u{2192}");
    // Wave 1's minute is on the scale.
    assert!(!t.targets[0].off_scale);
}

#[test]
fn an_execution_stopped_outside_the_machine_is_not_running() {
    let mut s = sources();
    s.execution = execution(ExecutionStatus::Running, None);
    s.waves.truncate(1);
    s.jobs.truncate(1);
    if let Some(m) = s.machine.as_mut() {
        m.status = Some("ABORTED".into());
        m.stopped_at = Some("2026-11-28T10:03:00Z".into());
    }
    let r = build(&s);
    assert!(!r.execution.running);
    assert_eq!(r.execution.status, "RUNNING");
    assert_eq!(
        r.execution.ended_at.as_deref(),
        Some("2026-11-28T10:03:00Z")
    );
    assert_eq!(r.execution.duration_seconds, 180);
    assert!(r.sources[0].contains("ABORTED"), "{:?}", r.sources);
    // Wave 2 never started: the plan's RTO failed.
    assert_eq!(r.rto.verdict, VerdictKind::Fail);
}

fn forecast() -> Forecast {
    Forecast {
        executions_wanted: 10,
        executions: vec!["arn:1".into(), "arn:2".into(), "arn:3".into()],
        waves: vec![WaveForecast {
            index: 1,
            name: "w1".into(),
            duration: DurationForecast {
                samples: 3,
                p50_seconds: 100,
                p90_seconds: 130,
            },
            to_healthy: Default::default(),
        }],
        recovery: Some(DurationForecast {
            samples: 3,
            p50_seconds: 230,
            p90_seconds: 250,
        }),
    }
}

#[test]
fn the_forecast_is_shown_beside_the_outcome() {
    let mut s = sources();
    s.forecast = Some(forecast());
    let r = build(&s);
    assert_eq!(r.forecast, Some(forecast()));
    let html = render::html(&r);
    assert!(html.contains("id=\"rto-forecast\""), "{html}");
    assert!(html.contains("3 min 50 s / 4 min 10 s"));
    // Wave 1 has a forecast, wave 2 none.
    assert!(html.contains("1 min 40 s / 2 min 10 s (3 runs)"));
    // Without one, the page says so.
    let html = render::html(&build(&sources()));
    assert!(html.contains("the past executions could not be read"));
}

#[test]
fn operator_actions_are_a_table_and_markers_on_the_timeline() {
    let mut s = sources();
    s.execution.operator_actions = vec![
        HistoryAction {
            at: "2026-11-28T10:02:03Z".into(),
            by: "arn:aws:iam::000000000000:user/<ops>".into(),
            action: OperatorActionKind::Approve,
            wave_index: Some(2),
            wave_name: Some("w2".into()),
        },
        HistoryAction {
            at: "2026-11-28T10:04:10Z".into(),
            by: "arn:aws:sts::000000000000:assumed-role/dr/alice".into(),
            action: OperatorActionKind::Cancel,
            wave_index: None,
            wave_name: None,
        },
    ];
    let r = build(&s);
    assert_eq!(r.operator_actions.len(), 2);
    assert!(r.operator_actions_note.starts_with("2 operator action"));
    let t = timeline::layout(&r, datetime!(2026-11-28 10:10:00 UTC));
    let ops: Vec<_> = t.markers.iter().filter(|m| m.class == "operator").collect();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0].label, "APPROVE wave 2");
    let x = |s: f64| timeline::PLOT_LEFT + (timeline::PLOT_RIGHT - timeline::PLOT_LEFT) * s / 300.0;
    assert!((ops[0].x - x(123.0)).abs() < 0.11);
    let html = render::html(&r);
    assert!(html.contains("id=\"operator-actions\""));
    assert_eq!(html.matches("class=\"marker operator\"").count(), 2);
    assert!(html.contains("user&#x2F;&lt;ops&gt;"), "escaped");
    // The JSON carries them too.
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["operatorActions"][0]["waveIndex"], 2);
    assert_eq!(
        json["operatorActions"][1]["by"],
        "arn:aws:sts::000000000000:assumed-role/dr/alice"
    );
}

#[test]
fn the_input_names_who_started_the_execution() {
    let mut s = sources();
    if let Some(m) = s.machine.as_mut() {
        m.input =
            Some(serde_json::json!({"mode": "DRILL", "startedBy": "arn:aws:iam::1:user/bob"}));
    }
    let r = build(&s);
    assert_eq!(
        r.execution.started_by.as_deref(),
        Some("arn:aws:iam::1:user/bob")
    );
    assert_eq!(build(&sources()).execution.started_by, None);
}

#[test]
fn the_files_are_the_page_and_the_json() {
    let r = build(&sources());
    let [html, json] = crate::files(&r).expect("files");
    assert_eq!((html.name, json.name), (crate::HTML_FILE, crate::JSON_FILE));
    assert_eq!(html.body, render::html(&r).into_bytes());
    let back: crate::Report = serde_json::from_slice(&json.body).expect("the JSON reads back");
    assert_eq!(back, r);
}

#[test]
fn a_server_launched_again_shows_its_latest_launch() {
    let mut s = sources();
    // Wave 1's server failed in drsjob-1 and launched in drsjob-0 (a retry; IDs sort the other
    // way round).
    s.jobs[0] = job(1, "drsjob-1", S1, "FAILED");
    s.jobs.push(job(1, "drsjob-0", S1, "LAUNCHED"));
    s.waves[0].record.job_ids = vec!["drsjob-1".into(), "drsjob-0".into()];
    let r = build(&s);
    let s1: Vec<_> = r
        .servers
        .iter()
        .filter(|x| x.source_server_id == S1)
        .collect();
    assert_eq!(s1.len(), 1, "one line per server");
    assert_eq!(s1[0].job_id.as_deref(), Some("drsjob-0"));
    assert_eq!(s1[0].launch_status, "LAUNCHED");
}

#[test]
fn the_forecast_prints_as_text_for_the_cli() {
    assert_eq!(
        render::forecast_text(&forecast()),
        "RTO forecast from the last 3 successful executions (p50 / p90):\n  wave 1 w1: 1 min 40 s / 2 min 10 s (3 runs)\n  the plan, from the start to the last wave recovered (healthy, where it has checks): 3 min 50 s / 4 min 10 s\n"
    );
    let none = Forecast {
        executions: Vec::new(),
        waves: Vec::new(),
        recovery: None,
        ..forecast()
    };
    assert!(render::forecast_text(&none).contains("no earlier successful execution"));
}

/// A run that failed before preflight recorded its mode (a 1,000-server drill that failed in
/// preflight was titled "unknown mode execution"): the mode comes from the input, and only a
/// mode the contract knows counts.
#[test]
fn a_record_without_a_mode_takes_it_from_the_input() {
    let mut s = sources();
    s.execution.mode = None;
    if let Some(m) = s.machine.as_mut() {
        m.input = Some(serde_json::json!({"mode": "DRILL"}));
    }
    let r = build(&s);
    assert_eq!(r.execution.mode.as_deref(), Some("DRILL"));
    let page = render::html(&r);
    assert!(!page.contains("unknown mode"), "{page}");
    assert!(!page.contains("not understood"), "{page}");

    if let Some(m) = s.machine.as_mut() {
        m.input = Some(serde_json::json!({"mode": "drill"}));
    }
    assert_eq!(
        build(&s).execution.mode,
        None,
        "not a mode the contract knows"
    );
}

#[test]
fn a_wave_of_another_account_says_where_it_launched_and_the_others_as_before() {
    let plain = build(&sources());
    let plain_json = serde_json::to_value(&plain).expect("serializes");
    assert!(
        plain_json["waves"]
            .as_array()
            .is_some_and(|w| w.iter().all(|w| w.get("account").is_none())),
        "a wave of the worker's own account has no account: {plain_json}"
    );
    assert!(!render::html(&plain).contains("class=\"account\""));
    let mut s = sources();
    s.waves[1].record.account = Some(drs_waves_contract::WaveAccount {
        role_arn: Some("arn:aws:iam::222222222222:role/drs-waves-recovery".into()),
        region: Some("us-west-2".into()),
        external_id: Some("not-shown".into()),
    });
    let report = build(&s);
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(
        json["waves"][1]["account"],
        serde_json::json!({
            "accountId": "222222222222",
            "region": "us-west-2",
            "roleArn": "arn:aws:iam::222222222222:role/drs-waves-recovery",
        })
    );
    assert!(json["waves"][0].get("account").is_none());
    let html = render::html(&report);
    assert!(html.contains("<small class=\"account\">in 222222222222 us-west-2</small>"));
    assert!(
        !html.contains("not-shown"),
        "the external ID is not evidence"
    );
}

#[test]
fn a_graph_plans_timeline_says_what_each_wave_waited_for() {
    let mut s = sources();
    let mut plan = drs_test_builders::plan(
        "p",
        vec![
            drs_test_builders::wave(1, "w1", &[S1.to_owned()], &[]),
            drs_test_builders::wave(2, "w2", &[S2.to_owned()], &[]),
        ],
    );
    let r = build(&s);
    assert!(
        r.waves.iter().all(|w| w.waits_for.is_none()),
        "no plan in the machine: nothing said"
    );
    s.machine = Some(MachineFacts {
        plan: Some(plan.clone()),
        ..s.machine.clone().unwrap_or_default()
    });
    let t = timeline::layout(&build(&s), datetime!(2026-11-28 10:10:00 UTC));
    assert_eq!(
        t.bands[1].label, "Wave 2 w2 (SUCCEEDED)",
        "waves in order: as before"
    );
    plan.waves[1].depends_on = Some(vec![]);
    s.machine = Some(MachineFacts {
        plan: Some(plan.clone()),
        ..s.machine.clone().unwrap_or_default()
    });
    let r = build(&s);
    assert_eq!(r.waves[1].waits_for, Some(vec![]));
    let t = timeline::layout(&r, datetime!(2026-11-28 10:10:00 UTC));
    assert_eq!(t.bands[0].label, "Wave 1 w1 (SUCCEEDED), started at once");
    assert_eq!(t.bands[1].label, "Wave 2 w2 (SUCCEEDED), started at once");
    plan.waves[1].depends_on = Some(vec![1]);
    s.machine = Some(MachineFacts {
        plan: Some(plan),
        ..s.machine.clone().unwrap_or_default()
    });
    let t = timeline::layout(&build(&s), datetime!(2026-11-28 10:10:00 UTC));
    assert_eq!(t.bands[1].label, "Wave 2 w2 (SUCCEEDED), after wave 1");
}

mod failback;
mod health;
mod large;
mod native;
