//! Conformance cases: a drill's clean-up and the janitor: TERMINATE jobs on an existing record,
//! PENDING clean-ups listed until DONE, the status index and the janitor's lease.

use std::collections::BTreeMap;

use drs_waves_contract::{CleanupStatus, ExecutionStatus, Mode};

use super::{exec_arn, record};
use crate::prelude::*;
use crate::{ExecutionClose, JanitorWork};

/// Clean-up progress is recorded on an existing record only, one TERMINATE job at a time; a
/// PENDING clean-up is listed until it is DONE.
pub async fn terminate_jobs_need_an_execution_record(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "terminate");
    assert!(
        history
            .record_terminate_job(&id, "drsjob-1", vec!["i-1".into()])
            .await
            .is_err(),
        "no record is invented for an unknown execution"
    );
    assert!(
        history
            .set_cleanup(&id, CleanupStatus::Pending, None)
            .await
            .is_err()
    );
    assert_eq!(history.get_execution(&id).await.expect("get"), None);
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    history
        .record_terminate_job(&id, "drsjob-1", vec!["i-1".into(), "i-2".into()])
        .await
        .expect("first");
    history
        .record_terminate_job(&id, "drsjob-2", vec!["i-3".into()])
        .await
        .expect("second");
    history
        .set_cleanup(
            &id,
            CleanupStatus::Pending,
            Some("launch jobs still run".into()),
        )
        .await
        .expect("pending");
    let r = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(
        r.terminate_job_ids,
        vec!["drsjob-1".to_string(), "drsjob-2".to_string()]
    );
    assert_eq!(r.terminating_instances, vec!["i-1", "i-2", "i-3"]);
    assert_eq!(r.cleanup, Some(CleanupStatus::Pending));
    assert_eq!(r.cleanup_error.as_deref(), Some("launch jobs still run"));
    assert!(
        history
            .pending_cleanups(1000)
            .await
            .expect("pending")
            .contains(&id),
        "a PENDING clean-up is listed"
    );
    assert!(
        history
            .claim_for_janitor(
                &id,
                JanitorWork::PendingCleanup,
                "j",
                "2030-01-01T00:00:00Z",
                "2030-01-01T00:05:00Z"
            )
            .await
            .expect("claim")
    );
    history
        .set_cleanup(&id, CleanupStatus::Done, None)
        .await
        .expect("done");
    assert!(
        !history
            .pending_cleanups(1000)
            .await
            .expect("pending")
            .contains(&id)
    );
    assert!(
        !history
            .claim_for_janitor(
                &id,
                JanitorWork::PendingCleanup,
                "k",
                "2030-01-01T00:10:00Z",
                "2030-01-01T00:15:00Z"
            )
            .await
            .expect("claim"),
        "a DONE clean-up is not claimed"
    );
}

/// RUNNING records are listed newest first; one janitor at a time holds an execution's lease,
/// until it expires; an execution that is no longer RUNNING cannot be claimed.
pub async fn running_executions_and_the_janitor_lease(history: &impl History, prefix: &str) {
    let older = exec_arn(prefix, "run-older");
    let newer = exec_arn(prefix, "run-newer");
    let mut r = record(&older, prefix);
    r.started_at = "2030-02-01T00:00:00Z".into();
    history.create_execution(r).await.expect("older");
    let mut r = record(&newer, prefix);
    r.started_at = "2030-02-02T00:00:00Z".into();
    history.create_execution(r).await.expect("newer");
    let ids: Vec<String> = history
        .running_executions(1000)
        .await
        .expect("running")
        .into_iter()
        .map(|r| r.execution_id)
        .filter(|id| id.contains(&format!(":{prefix}:run-")))
        .collect();
    assert_eq!(ids, vec![newer.clone(), older.clone()], "newest first");

    let (t0, t1, t2) = (
        "2030-02-03T00:00:00Z",
        "2030-02-03T00:05:00Z",
        "2030-02-03T00:06:00Z",
    );
    assert!(
        history
            .claim_for_janitor(&older, JanitorWork::EndedRun, "a", t0, t1)
            .await
            .expect("a")
    );
    assert!(
        !history
            .claim_for_janitor(&older, JanitorWork::EndedRun, "b", t0, t1)
            .await
            .expect("b"),
        "held"
    );
    assert!(
        history
            .claim_for_janitor(&older, JanitorWork::EndedRun, "a", t0, t1)
            .await
            .expect("a again"),
        "the holder renews"
    );
    assert!(
        history
            .claim_for_janitor(
                &older,
                JanitorWork::EndedRun,
                "b",
                t2,
                "2030-02-03T00:11:00Z"
            )
            .await
            .expect("expired")
    );
    history
        .close_execution(ExecutionClose {
            execution_id: newer.clone(),
            execution_name: "run-newer".into(),
            plan_name: prefix.to_string(),
            mode: Some(Mode::Drill),
            started_at: "2030-02-02T00:00:00Z".into(),
            status: ExecutionStatus::Aborted,
            ended_at: t0.into(),
            error: None,
            cause: None,
            wave_statuses: BTreeMap::new(),
            preempted_by: None,
        })
        .await
        .expect("close");
    assert!(
        !history
            .claim_for_janitor(&newer, JanitorWork::EndedRun, "a", t0, t1)
            .await
            .expect("ended"),
        "not RUNNING"
    );
    assert!(
        !history
            .running_executions(1000)
            .await
            .expect("running")
            .iter()
            .any(|r| r.execution_id == newer)
    );
}
