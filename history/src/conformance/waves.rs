//! Conformance cases: a wave: its plan and chunk jobs, its checks and JOB records, its launch
//! points, its retries.

use std::collections::BTreeMap;

use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::{ServerCounts, WaveStatus};

use super::{exec_arn, record, wave};
use crate::prelude::*;
use crate::{ChunkWrite, JobRecord, ServerLaunchPoint, ServerRecord, WaveChunk, WaveRecord};

pub async fn wave_plan_is_kept_and_chunk_jobs_are_recorded_once(
    history: &impl History,
    prefix: &str,
) {
    let id = exec_arn(prefix, "launch");
    assert_eq!(history.get_wave(&id, 1).await.expect("get"), None);
    let first = wave(&id, 1, "2030-01-01T00:00:00Z");
    let stored = history.plan_wave(first.clone()).await.expect("plan");
    assert_eq!(stored, first, "the plan as written");
    let mut other = wave(&id, 1, "2030-01-01T00:09:00Z");
    other.chunks.truncate(1);
    assert_eq!(
        history.plan_wave(other).await.expect("plan again"),
        first,
        "a retry gets the first plan"
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 2, "drsjob-b")
            .await
            .expect("chunk 2"),
        ChunkWrite::Written
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 1, "drsjob-a")
            .await
            .expect("chunk 1"),
        ChunkWrite::Written
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 1, "drsjob-a")
            .await
            .expect("again"),
        ChunkWrite::Written,
        "the same job again is accepted"
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 1, "drsjob-x")
            .await
            .expect("other"),
        ChunkWrite::Conflict {
            recorded: "drsjob-a".into()
        },
        "another job for a recorded chunk is refused, naming the recorded one"
    );
    assert!(
        history
            .record_chunk_job(&id, 1, 9, "drsjob-z")
            .await
            .is_err(),
        "a chunk that was never planned is an error"
    );
    let got = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(
        got.job_ids,
        vec!["drsjob-b".to_string(), "drsjob-a".to_string()]
    );
    assert_eq!(got.chunks[0].job_id.as_deref(), Some("drsjob-a"));
    assert_eq!(got.chunks[1].job_id.as_deref(), Some("drsjob-b"));
    assert_eq!(got.planned_servers(), vec!["s-1", "s-2", "s-3"]);
    assert_eq!(got.started_at, "2030-01-01T00:00:00Z");
}

/// A check keeps the wave's first start time, records its status, counts and reason, and the
/// per-server detail of each job.
pub async fn wave_check_keeps_the_first_start_time_and_records_jobs(
    history: &impl History,
    prefix: &str,
) {
    let id = exec_arn(prefix, "check");
    history
        .plan_wave(wave(&id, 2, "2030-01-01T00:00:00Z"))
        .await
        .expect("plan");
    history
        .record_chunk_job(&id, 2, 1, "drsjob-c")
        .await
        .expect("launch");
    let checked = WaveRecord {
        status: WaveStatus::Failed,
        started_at: "2030-01-01T00:30:00Z".into(),
        ended_at: Some("2030-01-01T00:31:00Z".into()),
        checks: 3,
        servers: ServerCounts {
            total: 2,
            launched: 1,
            failed: 1,
            launching: 0,
            optional_failed: 0,
        },
        reason: "s-2 FAILED".into(),
        job_ids: vec!["drsjob-c".into()],
        ..wave(&id, 2, "")
    };
    let job = JobRecord {
        execution_id: id.clone(),
        wave_index: 2,
        job_id: "drsjob-c".into(),
        job_status: JobStatus::Completed,
        servers: BTreeMap::from([
            (
                "s-1".to_string(),
                ServerRecord {
                    launch_status: LaunchStatus::Launched,
                    recovery_instance_id: Some("i-1".into()),
                    required: true,
                    failure_reason: None,
                    action_warnings: vec![
                        "optional post-launch action 'Install agent' FAILED: timed out".into(),
                    ],
                },
            ),
            (
                "s-2".to_string(),
                ServerRecord {
                    launch_status: LaunchStatus::Failed,
                    recovery_instance_id: None,
                    required: false,
                    failure_reason: Some("InsufficientInstanceCapacity: no capacity".into()),
                    action_warnings: Vec::new(),
                },
            ),
        ]),
        updated_at: "2030-01-01T00:31:00Z".into(),
    };
    history
        .record_wave_check(checked.clone(), vec![job.clone()])
        .await
        .expect("check");
    let got = history.get_wave(&id, 2).await.expect("get").expect("wave");
    assert_eq!(
        got,
        WaveRecord {
            started_at: "2030-01-01T00:00:00Z".into(),
            chunks: got.chunks.clone(),
            ..checked
        },
        "everything but the start time and the chunk plan is the check's"
    );
    assert_eq!(
        got.chunks[0].job_id.as_deref(),
        Some("drsjob-c"),
        "the plan stays"
    );
    assert_eq!(history.list_jobs(&id).await.expect("jobs"), vec![job]);
    assert!(
        history
            .list_jobs(&exec_arn(prefix, "none"))
            .await
            .expect("none")
            .is_empty()
    );
}

/// A wave's launch points: none until written, then exactly the last write, by server ID.
pub async fn launch_points_are_replaced_whole(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "points");
    assert!(
        history
            .launch_points(&id, 1)
            .await
            .expect("none")
            .is_empty()
    );
    let point = |server: &str, snap: Option<&str>| ServerLaunchPoint {
        server_id: server.to_string(),
        required: server != "s-3",
        snapshot_id: snap.map(str::to_string),
        snapshot_taken_at: snap.map(|_| "2030-01-01T00:00:00Z".to_string()),
        rpo_seconds: snap.map(|_| 600),
        replication: "DISCONNECTED (AGENT_NOT_SEEN)".to_string(),
    };
    history
        .record_launch_points(
            &id,
            1,
            vec![point("s-2", Some("pit-2")), point("s-1", Some("pit-1"))],
        )
        .await
        .expect("write");
    history
        .record_launch_points(
            &id,
            1,
            vec![point("s-3", None), point("s-1", Some("pit-9"))],
        )
        .await
        .expect("replace");
    assert_eq!(
        history.launch_points(&id, 1).await.expect("read"),
        vec![point("s-1", Some("pit-9")), point("s-3", None)]
    );
    assert!(
        history
            .launch_points(&id, 2)
            .await
            .expect("other wave")
            .is_empty()
    );
}

/// A retry is planned only on a FAILED wave and only once per attempt: its chunks carry the
/// next attempt and its start time, the wave is LAUNCHING again, and the first launch's chunks
/// and jobs are kept.
pub async fn a_retry_adds_the_next_attempts_chunks_to_a_failed_wave(
    history: &impl History,
    prefix: &str,
) {
    let id = exec_arn(prefix, "retry");
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    history
        .plan_wave(wave(&id, 1, "2030-01-01T00:01:00Z"))
        .await
        .expect("plan");
    for (chunk, job) in [(1, "drsjob-1"), (2, "drsjob-2")] {
        history
            .record_chunk_job(&id, 1, chunk, job)
            .await
            .expect("chunk job");
    }
    let retry = vec![WaveChunk {
        number: 3,
        servers: vec!["s-2".into()],
        job_id: None,
        attempt: 2,
        planned_at: Some("2030-01-01T00:20:00Z".into()),
    }];
    let still = history
        .plan_retry(&id, 1, retry.clone())
        .await
        .expect("retry of a launching wave");
    assert_eq!(
        still.chunks.len(),
        2,
        "a wave that has not failed is not retried"
    );
    assert_eq!(still.status, WaveStatus::Launching);
    let mut failed = wave(&id, 1, "2030-01-01T00:01:00Z");
    failed.status = WaveStatus::Failed;
    failed.job_ids = vec!["drsjob-1".into(), "drsjob-2".into()];
    failed.ended_at = Some("2030-01-01T00:15:00Z".into());
    failed.reason = "wave 'wave-1': required server(s) failed to launch: s-2".into();
    failed.checks = 4;
    history
        .record_wave_check(failed, Vec::new())
        .await
        .expect("check");
    let planned = history
        .plan_retry(&id, 1, retry.clone())
        .await
        .expect("retry");
    assert_eq!(planned.status, WaveStatus::Launching);
    assert_eq!(planned.reason, "");
    assert_eq!(planned.ended_at, None);
    assert_eq!(planned.attempt(), 2);
    assert_eq!(planned.attempt_started_at(), "2030-01-01T00:20:00Z");
    assert_eq!(
        planned.started_at, "2030-01-01T00:01:00Z",
        "the wave's own start is kept"
    );
    assert_eq!(
        planned
            .chunks
            .iter()
            .map(|c| (c.number, c.job_id.clone(), c.attempt))
            .collect::<Vec<_>>(),
        vec![
            (1, Some("drsjob-1".to_string()), 1),
            (2, Some("drsjob-2".to_string()), 1),
            (3, None, 2),
        ]
    );
    assert_eq!(
        planned.planned_servers(),
        vec!["s-1", "s-2", "s-3"],
        "each server once"
    );
    let again = history
        .plan_retry(&id, 1, retry)
        .await
        .expect("retried start task");
    assert_eq!(
        again, planned,
        "a retried start task finds the retry it planned"
    );
    assert_eq!(
        history
            .record_chunk_job(&id, 1, 3, "drsjob-3")
            .await
            .expect("chunk job"),
        ChunkWrite::Written
    );
    let stored = history.get_wave(&id, 1).await.expect("get").expect("wave");
    assert_eq!(stored.job_ids, vec!["drsjob-1", "drsjob-2", "drsjob-3"]);

    a_started_wave_is_ended_and_a_missing_one_is_not(history, &id).await;
}

/// The end of the execution gives an open wave its final status; a wave never started has no
/// record to end.
async fn a_started_wave_is_ended_and_a_missing_one_is_not(history: &impl History, id: &str) {
    assert!(
        !history
            .end_wave(
                id,
                9,
                WaveStatus::Interrupted,
                "never started",
                "2030-01-01T00:30:00Z"
            )
            .await
            .expect("end"),
    );
    assert!(
        history.get_wave(id, 9).await.expect("get").is_none(),
        "no record is invented"
    );
    assert!(
        history
            .end_wave(
                id,
                1,
                WaveStatus::Interrupted,
                "wave 'wave-1': the execution was cancelled while it was launching",
                "2030-01-01T00:30:00Z",
            )
            .await
            .expect("end")
    );
    let ended = history.get_wave(id, 1).await.expect("get").expect("wave");
    assert_eq!(ended.status, WaveStatus::Interrupted);
    assert_eq!(
        ended.reason,
        "wave 'wave-1': the execution was cancelled while it was launching"
    );
    assert_eq!(ended.ended_at.as_deref(), Some("2030-01-01T00:30:00Z"));
    assert_eq!(ended.chunks.len(), 3, "the plan and its jobs are kept");
}

/// A wave planned in another account keeps its account (role, region, external ID) through
/// its checks and its end: clean-up and the janitor read it to reach the same DRS. A wave of
/// the worker's own account has none.
pub async fn a_wave_keeps_its_account(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "accounts");
    let account = drs_waves_contract::WaveAccount {
        role_arn: Some("arn:aws:iam::111111111111:role/drs-waves-recovery".into()),
        region: Some("eu-west-1".into()),
        external_id: Some("drill-111".into()),
    };
    let planned = WaveRecord {
        account: Some(account.clone()),
        ..wave(&id, 1, "2030-01-01T00:00:00Z")
    };
    let stored = history.plan_wave(planned.clone()).await.expect("plan");
    assert_eq!(
        stored.account.as_ref(),
        Some(&account),
        "the plan keeps the account"
    );
    let checked = WaveRecord {
        status: WaveStatus::Succeeded,
        checks: 1,
        account: None,
        ..stored
    };
    history
        .record_wave_check(checked, Vec::new())
        .await
        .expect("check");
    history
        .end_wave(
            &id,
            1,
            WaveStatus::Succeeded,
            "done",
            "2030-01-01T00:20:00Z",
        )
        .await
        .expect("end");
    let got = history
        .get_wave(&id, 1)
        .await
        .expect("get")
        .expect("a wave");
    assert_eq!(
        got.account,
        Some(account),
        "a check and the end leave the account"
    );
    let own = history
        .plan_wave(wave(&id, 2, "2030-01-01T00:00:00Z"))
        .await
        .expect("plan wave 2");
    assert_eq!(
        own.account, None,
        "a wave of the worker's own account has none"
    );
    let region_only = drs_waves_contract::WaveAccount {
        role_arn: None,
        region: Some("us-west-2".into()),
        external_id: None,
    };
    let third = history
        .plan_wave(WaveRecord {
            account: Some(region_only.clone()),
            ..wave(&id, 3, "2030-01-01T00:00:00Z")
        })
        .await
        .expect("plan wave 3");
    assert_eq!(third.account, Some(region_only), "only what the plan gave");
}
