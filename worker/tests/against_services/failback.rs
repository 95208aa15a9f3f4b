//! The DRS seam's failback calls over drs-sim: the failback state read with the recovery
//! instances, StartFailbackLaunch only of instances ready for it (a job initiatedBy FAILBACK
//! with the request's tags), an answer lost after the job was made, StopFailback.

use super::*;
use drs_sim::{FailbackOutcome, FailbackStaging};
use drs_waves_aws::drs::{FailbackLaunchRequest, FailbackState, RecoveryInstance};

async fn instance_of(drs: &SdkDrs, server: &str) -> RecoveryInstance {
    let mut listed = drs
        .recovery_instances_of(vec![server.to_string()])
        .await
        .expect("instances");
    assert_eq!(listed.len(), 1, "{listed:?}");
    listed.remove(0)
}

async fn state_of(drs: &SdkDrs, server: &str) -> FailbackState {
    instance_of(drs, server)
        .await
        .failback
        .expect("DRS reports a failback")
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failback_launch_is_a_tagged_job_of_instances_ready_for_it() {
    let sim = Simulator::start(SimConfig {
        seed: Some(11),
        ..SimConfig::with_servers(servers(3, 0.2))
    })
    .await
    .expect("drs-sim starts");
    let sdk = drs_test_harness::sdk_config(&sim.endpoint()).await;
    let drs = SdkDrs::new(drs_waves_aws::clients::drs_client(&sdk));
    let ids: Vec<String> = (1..=3).map(sid).collect();
    drs.start_recovery(drs_waves_aws::drs::StartRecoveryRequest {
        source_server_ids: ids.clone(),
        snapshot_ids: BTreeMap::new(),
        is_drill: false,
        tags: BTreeMap::new(),
    })
    .await
    .expect("recovery");
    eventually(
        "three recovery instances",
        WAIT,
        Duration::from_millis(50),
        || {
            let n = sim.recovery_instances().len();
            async move { (n == 3).then_some(()) }
        },
    )
    .await
    .expect("launched");
    assert_eq!(state_of(&drs, &ids[0]).await, FailbackState::NotStarted);

    sim.stage_failback(&FailbackStaging::ready(&[&ids[0], &ids[1]], 0.0))
        .expect("failback client");
    sim.stage_failback(&FailbackStaging {
        outcome: FailbackOutcome::Error("FAILBACK_CLIENT_NOT_SEEN".into()),
        ..FailbackStaging::ready(&[&ids[2]], 0.0)
    })
    .expect("erring");
    let erred = instance_of(&drs, &ids[2]).await.failback.expect("failback");
    assert_eq!(erred.state, FailbackState::Error);
    assert_eq!(
        erred.replication_error.as_deref(),
        Some("FAILBACK_CLIENT_NOT_SEEN")
    );
    let ready = instance_of(&drs, &ids[0]).await;
    let ready_failback = ready.failback.clone().expect("failback");
    assert_eq!(ready_failback.state, FailbackState::ReadyForLaunch);
    assert!(
        ready_failback.total_bytes > 0
            && ready_failback.replicated_bytes == ready_failback.total_bytes,
        "the data replicated back: {ready_failback:?}"
    );
    let not_ready = instance_of(&drs, &ids[2]).await;
    let refused = drs
        .start_failback_launch(FailbackLaunchRequest {
            recovery_instance_ids: vec![ready.id.clone(), not_ready.id.clone()],
            tags: BTreeMap::new(),
        })
        .await
        .expect_err("an instance in FAILBACK_ERROR is refused");
    assert!(refused.to_string().contains(&not_ready.id), "{refused}");
    assert!(
        sim.jobs().iter().all(|j| j.initiated_by != "FAILBACK"),
        "nothing launched"
    );

    // An answer lost after the job was made: the job exists, tagged, and the call failed.
    let mut faults = FaultConfig::default();
    faults.per_operation.insert(
        "StartFailbackLaunch".into(),
        FaultSpec {
            drop_after_commit_next: 1,
            ..Default::default()
        },
    );
    sim.set_faults(faults).expect("faults");
    let tags = BTreeMap::from([("drs-waves:execution".to_string(), "fb".to_string())]);
    let lost = drs
        .start_failback_launch(FailbackLaunchRequest {
            recovery_instance_ids: vec![ready.id.clone()],
            tags: tags.clone(),
        })
        .await;
    assert!(
        lost.is_err(),
        "sent once: the lost answer is an error: {lost:?}"
    );
    let failback_jobs: Vec<_> = sim
        .jobs()
        .into_iter()
        .filter(|j| j.initiated_by == "FAILBACK")
        .collect();
    assert_eq!(failback_jobs.len(), 1, "one job, no SDK retry");
    assert_eq!(failback_jobs[0].tags, tags);

    let second = instance_of(&drs, &ids[1]).await;
    let job = drs
        .start_failback_launch(FailbackLaunchRequest {
            recovery_instance_ids: vec![second.id.clone()],
            tags: tags.clone(),
        })
        .await
        .expect("failback launch");
    assert_eq!(job.job_type.as_deref(), Some("LAUNCH"));
    assert_eq!(job.tags, tags);
    eventually(
        "failback completed",
        WAIT,
        Duration::from_millis(50),
        || {
            let drs = drs.clone();
            let server = ids[1].clone();
            async move { (state_of(&drs, &server).await == FailbackState::Completed).then_some(()) }
        },
    )
    .await
    .expect("home");
    let home = instance_of(&drs, &ids[1]).await.failback.expect("failback");
    assert_eq!(home.job_id.as_deref(), Some(job.id.as_str()));

    drs.stop_failback(second.id.clone()).await.expect("stop");
    assert_eq!(state_of(&drs, &ids[1]).await, FailbackState::NotStarted);
}
