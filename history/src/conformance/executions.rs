//! Conformance cases: the EXECUTION record: an idempotent create, a close that is an upsert,
//! the plan index, and where the report went.

use std::collections::BTreeMap;

use drs_waves_contract::timing::LearnedTiming;
use drs_waves_contract::{ExecutionStatus, Mode, WaveStatus};

use super::{exec_arn, record, wave};
use crate::prelude::*;
use crate::{ExecutionClose, ExecutionRecord, WaveRecord};

/// A retried preflight's create leaves the first record as it was.
pub async fn execution_create_is_idempotent(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "create");
    assert_eq!(history.get_execution(&id).await.expect("get"), None);
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    let mut second = record(&id, prefix);
    second.server_count = 99;
    second.started_at = "2031-01-01T00:00:00Z".into();
    history
        .create_execution(second)
        .await
        .expect("create again");
    assert_eq!(
        history.get_execution(&id).await.expect("get"),
        Some(record(&id, prefix)),
        "the first record stays"
    );
}

/// Closing keeps the start time and mode of the record; closing an execution preflight never
/// recorded creates a readable record without a mode.
pub async fn close_is_an_upsert_that_keeps_what_was_recorded(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "close");
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    let statuses = BTreeMap::from([("wave-1".to_string(), WaveStatus::Failed)]);
    history
        .close_execution(ExecutionClose {
            execution_id: id.clone(),
            execution_name: "other-name".into(),
            plan_name: prefix.to_string(),
            mode: Some(Mode::Recovery),
            started_at: "2040-01-01T00:00:00Z".into(),
            status: ExecutionStatus::Failed,
            ended_at: "2030-01-01T01:00:00Z".into(),
            error: Some("DrsWaves.WaveFailed".into()),
            cause: Some("why".into()),
            wave_statuses: statuses.clone(),
            preempted_by: Some("arn:recovery".into()),
        })
        .await
        .expect("close");
    let closed = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(closed.status, ExecutionStatus::Failed);
    assert_eq!(closed.started_at, "2030-01-01T00:00:00Z", "start time kept");
    assert_eq!(closed.mode, Some(Mode::Drill), "mode kept");
    assert_eq!(closed.execution_name, record(&id, prefix).execution_name);
    assert_eq!(closed.ended_at.as_deref(), Some("2030-01-01T01:00:00Z"));
    assert_eq!(closed.error.as_deref(), Some("DrsWaves.WaveFailed"));
    assert_eq!(closed.cause.as_deref(), Some("why"));
    assert_eq!(closed.wave_statuses, statuses);
    assert_eq!(closed.wave_count, 2, "counts kept");
    assert_eq!(closed.preempted_by.as_deref(), Some("arn:recovery"));
    assert_eq!(
        closed.warnings,
        record(&id, prefix).warnings,
        "warnings kept"
    );
    assert_eq!(closed.worst_rpo_seconds, Some(3600));

    let early = exec_arn(prefix, "early");
    history
        .close_execution(ExecutionClose {
            execution_id: early.clone(),
            execution_name: "early".into(),
            plan_name: prefix.to_string(),
            mode: None,
            started_at: "2030-01-01T00:00:00Z".into(),
            status: ExecutionStatus::Failed,
            ended_at: "2030-01-01T00:00:05Z".into(),
            error: Some("DrsWaves.InvalidInput".into()),
            cause: Some("bad input".into()),
            wave_statuses: BTreeMap::new(),
            preempted_by: None,
        })
        .await
        .expect("close before preflight");
    let r = history
        .get_execution(&early)
        .await
        .expect("a record closed before preflight decodes")
        .expect("record");
    assert_eq!(r.mode, None);
    assert_eq!((r.wave_count, r.server_count), (0, 0));
    assert_eq!(r.status, ExecutionStatus::Failed);
}

/// The plan index lists a plan's executions newest first, whatever their status, and only that
/// plan's; a wave keeps what was learned when it was planned and records its completion time.
pub async fn recent_executions_of_a_plan_and_learned_timing(history: &impl History, prefix: &str) {
    let plan = format!("{prefix}-learn");
    for (name, day, status) in [
        ("learn-1", "01", ExecutionStatus::Succeeded),
        ("learn-2", "02", ExecutionStatus::Failed),
        ("learn-3", "03", ExecutionStatus::Aborted),
    ] {
        let mut r = record(&exec_arn(prefix, name), &plan);
        r.started_at = format!("2030-03-{day}T00:00:00Z");
        r.status = status;
        history.create_execution(r).await.expect("create");
    }
    let mut other = record(&exec_arn(prefix, "other-plan"), &format!("{prefix}-x"));
    other.status = ExecutionStatus::Succeeded;
    history.create_execution(other).await.expect("other plan");
    let names = |rs: Vec<ExecutionRecord>| -> Vec<String> {
        rs.into_iter().map(|r| r.execution_name).collect()
    };
    assert_eq!(
        names(history.recent_executions(&plan, 10).await.expect("all")),
        vec!["learn-3", "learn-2", "learn-1"],
        "newest first, every status, this plan only"
    );
    assert_eq!(
        names(history.recent_executions(&plan, 2).await.expect("two")),
        vec!["learn-3", "learn-2"]
    );
    assert!(
        history
            .recent_executions(&format!("{prefix}-none"), 10)
            .await
            .expect("none")
            .is_empty()
    );

    let id = exec_arn(prefix, "learn-3");
    let learned = LearnedTiming {
        samples: 4,
        p10_ms: 21_500,
        p50_ms: 24_000,
        p95_ms: 29_900,
        p90_ms: 28_000,
    };
    let planned = WaveRecord {
        learned: Some(learned),
        ..wave(&id, 1, "2030-03-03T00:00:10Z")
    };
    history.plan_wave(planned.clone()).await.expect("plan");
    assert_eq!(
        history
            .get_wave(&id, 1)
            .await
            .expect("get")
            .expect("wave")
            .learned,
        Some(learned)
    );
    let checked = |completion_ms| WaveRecord {
        status: WaveStatus::Launching,
        checks: 1,
        learned: None,
        completion_ms,
        ..planned.clone()
    };
    history
        .record_wave_check(checked(None), vec![])
        .await
        .expect("check");
    let got = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(
        got.learned,
        Some(learned),
        "a check leaves what was learned"
    );
    assert_eq!(got.completion_ms, None);
    history
        .record_wave_check(
            WaveRecord {
                status: WaveStatus::Succeeded,
                ..checked(Some(23_456))
            },
            vec![],
        )
        .await
        .expect("done");
    let got = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(got.completion_ms, Some(23_456));
    assert_eq!(got.learned, Some(learned));
    assert_eq!(
        history
            .get_wave(&exec_arn(prefix, "learn-1"), 1)
            .await
            .expect("none"),
        None
    );
}

/// Where the report went (or why it did not) is recorded on an existing execution only, and
/// the latest attempt wins.
pub async fn the_report_outcome_is_recorded_on_the_execution(history: &impl History, prefix: &str) {
    use crate::ReportOutcome;
    let id = exec_arn(prefix, "report");
    assert!(
        history
            .record_report(&id, ReportOutcome::Written("s3://b/p/x/".into()))
            .await
            .is_err(),
        "no record is invented for an unknown execution"
    );
    assert_eq!(history.report_outcome(&id).await.expect("read"), None);
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    assert_eq!(history.report_outcome(&id).await.expect("read"), None);
    let failed = ReportOutcome::Failed("S3 PutObject: access denied".into());
    history
        .record_report(&id, failed.clone())
        .await
        .expect("record");
    assert_eq!(
        history.report_outcome(&id).await.expect("read"),
        Some(failed)
    );
    let written = ReportOutcome::Written("s3://b/p/x/".into());
    history
        .record_report(&id, written.clone())
        .await
        .expect("record");
    assert_eq!(
        history.report_outcome(&id).await.expect("read"),
        Some(written),
        "the latest attempt wins"
    );
    assert!(
        history.get_execution(&id).await.expect("get").is_some(),
        "the execution record stays readable"
    );
}
