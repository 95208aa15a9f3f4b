//! Recovery instances over the wire, as SdkDrs lists them (issue #21, items 6 and 7).

use super::*;

/// Issue #21, items 6 and 7, over the wire: jobs that do not name their recovery instances
/// (drs-sim's `omitRecoveryInstanceId`), and launches without `recoverySnapshotID`. SdkDrs
/// lists each instance by source server with the job that made it, its mode and the on-demand
/// snapshot's time, as FakeDrs does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_instances_are_listed_with_their_job_mode_and_on_demand_point_in_time() {
    use drs_waves_aws::drs::{Drs, JobFilter, StartRecoveryRequest};
    let specs: Vec<ServerSpec> = (1..=3)
        .map(|i| ServerSpec::new(sid(i), 0.2).omitting_recovery_instance_id())
        .collect();
    let sim = Simulator::start(SimConfig::with_servers(specs))
        .await
        .expect("drs-sim starts");
    let drs = SdkDrs::new(drs_client(&sim.endpoint()).await);
    let launch = |ids: Vec<String>, is_drill: bool| StartRecoveryRequest {
        source_server_ids: ids,
        snapshot_ids: BTreeMap::new(),
        is_drill,
        tags: BTreeMap::new(),
    };
    let drill = drs
        .start_recovery(launch(vec![sid(1), sid(2)], true))
        .await
        .expect("drill");
    let recovery = drs
        .start_recovery(launch(vec![sid(3)], false))
        .await
        .expect("recovery");
    let jobs = eventually(
        "both jobs COMPLETED",
        WAIT,
        Duration::from_millis(50),
        || {
            let drs = drs.clone();
            let ids = vec![drill.id.clone(), recovery.id.clone()];
            async move {
                let jobs = drs
                    .describe_jobs(JobFilter {
                        job_ids: ids,
                        from_date: None,
                    })
                    .await
                    .ok()?;
                (jobs.len() == 2 && jobs.iter().all(|j| !j.status.is_active())).then_some(jobs)
            }
        },
    )
    .await
    .expect("jobs end");
    for s in jobs.iter().flat_map(|j| &j.servers) {
        assert_eq!(s.launch_status, LaunchStatus::Launched, "{s:?}");
        assert_eq!(
            s.recovery_instance_id, None,
            "the knob leaves it out: {s:?}"
        );
    }
    let listed = drs
        .recovery_instances_of(vec![sid(1), sid(2), sid(3)])
        .await
        .expect("listed");
    assert_eq!(listed.len(), 3, "{listed:?}");
    let admin = sim.recovery_instances();
    for i in &listed {
        let (job, drill_mode) = if i.source_server_id == sid(3) {
            (&recovery.id, false)
        } else {
            (&drill.id, true)
        };
        assert_eq!(i.job_id.as_ref(), Some(job), "{i:?}");
        assert_eq!(i.is_drill, Some(drill_mode), "{i:?}");
        let in_sim = admin
            .iter()
            .find(|a| a.recovery_instance_id == i.id)
            .expect("drs-sim's record");
        let point = i
            .point_in_time
            .as_deref()
            .and_then(drs_waves_rules::parse_time);
        assert_eq!(point, in_sim.point_in_time_snapshot_date_time, "{i:?}");
        let sim_job = sim
            .jobs()
            .into_iter()
            .find(|j| &j.job_id == job)
            .expect("job");
        assert!(
            point.is_some_and(|p| p >= sim_job.creation_date_time),
            "an on-demand snapshot is taken after the request: {i:?}"
        );
    }
    assert!(
        drs.recovery_instances_of(vec![])
            .await
            .expect("nothing")
            .is_empty()
    );
    sim.shutdown().await;
}
