//! The NETWORK item: none until the start task writes it, then the last write, per action;
//! a network recovery is never one of the launch jobs.

use super::exec_arn;
use crate::{History, NetworkRecord};

fn record(id: &str, position: u32, status: &str) -> NetworkRecord {
    NetworkRecord {
        execution_id: id.to_string(),
        wave_index: 1,
        phase: "before".into(),
        position,
        source_networks: vec!["sn-0123456789abcdef0".into()],
        job_id: format!("drsjob-0000000000000000{position}"),
        started_at: "2030-01-01T00:00:00Z".into(),
        status: status.into(),
        ended_at: (status != "IN_PROGRESS").then(|| "2030-01-01T00:05:00Z".to_string()),
        reason: String::new(),
    }
}

/// An action's network record: none until written, then the last write; other actions have
/// none, and the launch jobs do not list it.
pub async fn a_network_recovery_is_recorded_per_action(history: &impl History, prefix: &str) {
    let id = exec_arn(prefix, "network");
    assert_eq!(
        history.network(&id, 1, "before", 1).await.expect("none"),
        None
    );
    let started = record(&id, 1, "IN_PROGRESS");
    history
        .record_network(started.clone())
        .await
        .expect("write");
    assert_eq!(
        history.network(&id, 1, "before", 1).await.expect("read"),
        Some(started)
    );
    let ended = record(&id, 1, "SUCCEEDED");
    history
        .record_network(ended.clone())
        .await
        .expect("replace");
    assert_eq!(
        history.network(&id, 1, "before", 1).await.expect("read"),
        Some(ended)
    );
    assert_eq!(
        history.network(&id, 1, "before", 2).await.expect("other"),
        None
    );
    assert_eq!(
        history.network(&id, 1, "after", 1).await.expect("other"),
        None
    );
    assert!(
        history.list_jobs(&id).await.expect("jobs").is_empty(),
        "a NETWORK item is not a launch job"
    );
}
