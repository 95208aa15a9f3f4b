//! Conformance cases at DRS's scale (issue #26: 10,000 servers, waves of up to 1,500): a large
//! wave is written and read back whole, and so is the clean-up of a 10,000-server drill, and no
//! item the history stores for them is over [`MAX_ITEM_BYTES`]: a wave's launch points and
//! health checks are split into pages, a large attempt's chunk servers kept beside the WAVE
//! item, a drill's terminated instances in an item per TERMINATE job.

use std::collections::BTreeMap;

use drs_waves_aws::drs::{JobStatus, LaunchStatus};
use drs_waves_contract::{HealthStatus, ServerCounts, WaveStatus};

use super::{StoredItems, exec_arn, record, wave};
use crate::prelude::*;
use crate::{
    ChunkWrite, HealthCheckRecord, JobRecord, MAX_ITEM_BYTES, ProbeRecord, ServerLaunchPoint,
    ServerRecord, WaveChunk, WaveHealthRecord,
};

/// More than the largest wave the issue names, in jobs of DRS's usual 100 servers.
const SERVERS: usize = 1_600;
const PER_JOB: usize = 100;

/// IDs as long as DRS's (`s-` and 17 hex digits), so that the items are their real size.
fn server(i: usize) -> String {
    format!("s-{i:017x}")
}

fn job_id(chunk: usize) -> String {
    format!("drsjob-{chunk:017x}")
}

fn launch_point(i: usize, attempt: u32) -> ServerLaunchPoint {
    ServerLaunchPoint {
        server_id: server(i),
        required: !i.is_multiple_of(10),
        snapshot_id: Some(format!("pit-{:017x}", i * 1000 + attempt as usize)),
        snapshot_taken_at: Some("2030-01-01T00:00:00.123456+00:00".into()),
        rpo_seconds: Some(600 + i as u64),
        replication: "CONTINUOUS".into(),
    }
}

fn job(id: &str, chunk: usize) -> JobRecord {
    let servers = (chunk * PER_JOB..(chunk + 1) * PER_JOB)
        .map(|i| {
            let failed = i.is_multiple_of(50);
            let record = ServerRecord {
                launch_status: if failed {
                    LaunchStatus::Failed
                } else {
                    LaunchStatus::Launched
                },
                recovery_instance_id: (!failed).then(|| format!("i-{i:017x}")),
                required: !i.is_multiple_of(10),
                failure_reason: failed
                    .then(|| "InsufficientInstanceCapacity: no capacity in us-east-1a".into()),
                action_warnings: Vec::new(),
            };
            (server(i), record)
        })
        .collect::<BTreeMap<_, _>>();
    JobRecord {
        execution_id: id.to_string(),
        wave_index: 1,
        job_id: job_id(chunk),
        job_status: JobStatus::Completed,
        servers,
        updated_at: "2030-01-01T00:30:00Z".into(),
    }
}

fn health(id: &str) -> WaveHealthRecord {
    let last = (0..SERVERS)
        .map(|i| ProbeRecord {
            target: format!(
                "http://10.{}.{}.{}:8080/health",
                i / 65_536,
                i / 256 % 256,
                i % 256
            ),
            ok: !i.is_multiple_of(7),
            answer: if i.is_multiple_of(7) {
                "connection refused".into()
            } else {
                "HTTP 200".into()
            },
            at: "2030-01-01T00:31:00.123Z".into(),
        })
        .collect();
    WaveHealthRecord {
        execution_id: id.to_string(),
        wave_index: 1,
        status: HealthStatus::Checking,
        started_at: "2030-01-01T00:30:00Z".into(),
        healthy_at: None,
        rounds: 3,
        checks: vec![HealthCheckRecord {
            what: "http http://{privateIp}:8080/health expects 2xx".into(),
            passed_at: None,
            probes: 3,
            last,
        }],
    }
}

/// A wave of 1,600 servers (16 jobs): its plan, chunk jobs, check, launch points (written,
/// replaced by fewer, written again) and health read back as written, and every item stored
/// for the execution at most 100 KB as DynamoDB counts it.
pub async fn a_wave_of_1600_servers_is_stored_in_items_under_100_kb(
    history: &(impl History + StoredItems),
    prefix: &str,
) {
    let id = exec_arn(prefix, "large-wave");
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    let chunks: Vec<WaveChunk> = (0..SERVERS / PER_JOB)
        .map(|c| WaveChunk {
            number: u32::try_from(c + 1).expect("few chunks"),
            servers: (c * PER_JOB..(c + 1) * PER_JOB).map(server).collect(),
            job_id: None,
            attempt: 1,
            planned_at: Some("2030-01-01T00:01:00Z".into()),
        })
        .collect();
    let total = u32::try_from(SERVERS).expect("a wave's size fits");
    let planned = history
        .plan_wave(crate::WaveRecord {
            chunks,
            servers: ServerCounts {
                total,
                launching: total,
                ..ServerCounts::default()
            },
            ..wave(&id, 1, "2030-01-01T00:01:00Z")
        })
        .await
        .expect("plan");
    assert_eq!(planned.planned_servers().len(), SERVERS);
    for c in 0..SERVERS / PER_JOB {
        let number = u32::try_from(c + 1).expect("few chunks");
        assert_eq!(
            history
                .record_chunk_job(&id, 1, number, &job_id(c))
                .await
                .expect("chunk job"),
            ChunkWrite::Written
        );
    }
    let jobs: Vec<JobRecord> = (0..SERVERS / PER_JOB).map(|c| job(&id, c)).collect();
    let checked = crate::WaveRecord {
        status: WaveStatus::Succeeded,
        job_ids: jobs.iter().map(|j| j.job_id.clone()).collect(),
        checks: 1,
        ..planned.clone()
    };
    history
        .record_wave_check(checked, jobs.clone())
        .await
        .expect("check");
    assert_eq!(
        history.list_jobs(&id).await.expect("jobs").len(),
        SERVERS / PER_JOB
    );

    let all: Vec<ServerLaunchPoint> = (0..SERVERS).map(|i| launch_point(i, 1)).collect();
    history
        .record_launch_points(&id, 1, all.iter().rev().cloned().collect())
        .await
        .expect("all points");
    assert_eq!(history.launch_points(&id, 1).await.expect("read"), all);
    let few: Vec<ServerLaunchPoint> = (0..300).map(|i| launch_point(i, 2)).collect();
    history
        .record_launch_points(&id, 1, few.clone())
        .await
        .expect("fewer points");
    assert_eq!(
        history.launch_points(&id, 1).await.expect("read fewer"),
        few,
        "a shorter write replaces every page of the longer one"
    );
    let again: Vec<ServerLaunchPoint> = (0..SERVERS).map(|i| launch_point(i, 3)).collect();
    history
        .record_launch_points(&id, 1, again.clone())
        .await
        .expect("all points again");
    assert_eq!(history.launch_points(&id, 1).await.expect("read"), again);

    let round = health(&id);
    history
        .record_wave_health(round.clone())
        .await
        .expect("health");
    assert_eq!(
        history.wave_health(&id, 1).await.expect("read health"),
        Some(round)
    );

    retry_a_large_wave(history, &id).await;

    let sizes = assert_items_under_the_bar(history, &id).await;
    let servers_pages = sizes
        .iter()
        .filter(|(sk, _)| sk.starts_with(&drs_waves_contract::history::servers_sk(1)))
        .count();
    assert!(
        servers_pages > 1,
        "a wave of {SERVERS} servers' launch points fill more than one item: {sizes:?}"
    );
    assert!(
        sizes.iter().any(|(sk, _)| sk.contains("#CHUNKS#")),
        "a 1,600-server attempt's chunk servers are kept beside the WAVE item: {sizes:?}"
    );
    let largest = sizes.iter().map(|(_, b)| *b).max().unwrap_or(0);
    assert!(
        largest > 20_000,
        "the items are sized (the largest is {largest} bytes): {sizes:?}"
    );
}

/// Chunks of `per_chunk` servers over all [`SERVERS`], of `attempt`.
fn large_chunks(attempt: u32, per_chunk: usize) -> Vec<WaveChunk> {
    (0..SERVERS / per_chunk)
        .map(|c| WaveChunk {
            number: u32::try_from(c + 1).expect("few chunks") + (attempt - 1) * 1000,
            servers: (c * per_chunk..(c + 1) * per_chunk).map(server).collect(),
            job_id: None,
            attempt,
            planned_at: Some("2030-01-01T01:00:00Z".into()),
        })
        .collect()
}

/// Wave 2, as large as wave 1: planned twice (the first plan wins), FAILED, retried whole
/// twice over (the first retry wins), and read back with both attempts' servers.
async fn retry_a_large_wave(history: &impl History, id: &str) {
    let first = crate::WaveRecord {
        chunks: large_chunks(1, PER_JOB),
        ..wave(id, 2, "2030-01-01T00:40:00Z")
    };
    let planned = history.plan_wave(first.clone()).await.expect("plan");
    let again = history
        .plan_wave(crate::WaveRecord {
            chunks: large_chunks(1, 50),
            ..first
        })
        .await
        .expect("plan again");
    assert_eq!(again.chunks, planned.chunks, "the first plan wins");
    assert!(
        history
            .end_wave(
                id,
                2,
                WaveStatus::Failed,
                "every server failed",
                "2030-01-01T00:50:00Z"
            )
            .await
            .expect("end")
    );
    let retried = history
        .plan_retry(id, 2, large_chunks(2, PER_JOB))
        .await
        .expect("retry");
    let second = history
        .plan_retry(id, 2, large_chunks(2, 50))
        .await
        .expect("the same retry again");
    assert_eq!(second, retried, "the first retry wins");
    assert_eq!(retried.status, WaveStatus::Launching);
    let mut want = large_chunks(1, PER_JOB);
    want.extend(large_chunks(2, PER_JOB));
    assert_eq!(
        retried.chunks, want,
        "both attempts' chunks, with their servers"
    );
    assert_eq!(
        history
            .get_wave(id, 2)
            .await
            .expect("read")
            .map(|w| w.chunks),
        Some(want)
    );
}

/// Asserts every item stored for `id` is at most [`MAX_ITEM_BYTES`]; returns their sizes.
async fn assert_items_under_the_bar(history: &impl StoredItems, id: &str) -> Vec<(String, usize)> {
    let sizes = history
        .stored_item_sizes(id)
        .await
        .expect("the stored items");
    let over: Vec<&(String, usize)> = sizes.iter().filter(|(_, b)| *b > MAX_ITEM_BYTES).collect();
    assert!(
        over.is_empty(),
        "items over {MAX_ITEM_BYTES} bytes: {over:?}"
    );
    sizes
}

/// The clean-up of a 10,000-server drill: 50 TERMINATE jobs of 200 instances each, one of them
/// recorded twice (a retried task). The execution reads back every instance once, in the jobs'
/// order, and no item is over 100 KB (the EXECUTION item lists the jobs, not the instances).
pub async fn a_drill_of_10000_instances_is_cleaned_up_in_items_under_100_kb(
    history: &(impl History + StoredItems),
    prefix: &str,
) {
    const JOBS: usize = 50;
    const PER_TERMINATE_JOB: usize = 200;
    let id = exec_arn(prefix, "large-cleanup");
    history
        .create_execution(record(&id, prefix))
        .await
        .expect("create");
    let instances = |job: usize| -> Vec<String> {
        (job * PER_TERMINATE_JOB..(job + 1) * PER_TERMINATE_JOB)
            .map(|i| format!("i-{i:017x}"))
            .collect()
    };
    for job in 0..JOBS {
        history
            .record_terminate_job(&id, &job_id(job), instances(job))
            .await
            .expect("terminate job");
    }
    history
        .record_terminate_job(&id, &job_id(7), instances(7))
        .await
        .expect("the same job again");
    let r = history
        .get_execution(&id)
        .await
        .expect("get")
        .expect("record");
    assert_eq!(r.terminate_job_ids.len(), JOBS + 1);
    let all: Vec<String> = (0..JOBS).flat_map(instances).collect();
    assert_eq!(
        r.terminating_instances, all,
        "every instance once, in the jobs' order"
    );
    let sizes = assert_items_under_the_bar(history, &id).await;
    assert!(
        sizes.len() > JOBS,
        "the EXECUTION item and a TERMINATE item per job: {sizes:?}"
    );
}
