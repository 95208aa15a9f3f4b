//! Faults that lose or double launches: an answer lost after the job was made, and the SDK's
//! own retry of it.

use super::*;

#[tokio::test]
async fn an_answer_lost_after_the_job_was_made_leaves_a_job_the_client_never_saw() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 0.1), ServerSpec::new(sid(2), 5.0)],
        |_| {},
    )
    .await;
    let c = no_retries(&sim);
    let mut faults = FaultConfig::default();
    faults.per_operation.insert(
        "StartRecovery".to_owned(),
        FaultSpec {
            error_after_commit_next: 1,
            drop_after_commit_next: 1,
            ..FaultSpec::default()
        },
    );
    sim.set_faults(faults).expect("faults");

    // 500 after the commit: the SDK sees InternalServerException, the job exists.
    let err = c
        .start_recovery()
        .source_servers(source(&sid(1)))
        .send()
        .await
        .expect_err("500")
        .into_service_error();
    assert!(
        matches!(&err, StartRecoveryError::InternalServerException(_)),
        "{err:?}"
    );
    assert_eq!(sim.jobs().len(), 1);
    assert_eq!(sim.jobs()[0].servers[0].source_server_id, sid(1));

    // No answer at all: a dispatch/response failure, not a service error; the job exists.
    let err = c
        .start_recovery()
        .source_servers(source(&sid(2)))
        .send()
        .await
        .expect_err("dropped");
    assert!(
        matches!(
            err,
            aws_sdk_drs::error::SdkError::DispatchFailure(_)
                | aws_sdk_drs::error::SdkError::ResponseError(_)
                | aws_sdk_drs::error::SdkError::TimeoutError(_)
        ),
        "{err:?}"
    );
    let jobs = sim.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].servers[0].source_server_id, sid(2));
    let counters = sim.counters();
    assert_eq!(counters.errors_after_commit("StartRecovery"), 1);
    assert_eq!(counters.drops_after_commit("StartRecovery"), 1);
    assert_eq!(counters.count("StartRecovery", 500), 1);
    assert_eq!(counters.calls("StartRecovery"), 2);
    // The next call is answered normally (the faults were for one call each), once the
    // first job the client never heard of has finished.
    wait_completed(&c, &jobs[0].job_id).await;
    let job = start_job(&c, &[sid(1)], true).await;
    assert_eq!(sim.jobs().len(), 3);

    // TerminateRecoveryInstances, through the admin API's keys: the TERMINATE job exists.
    let done = wait_completed(&c, job.job_id()).await;
    let instance = statuses(&done)[&sid(1)].1.clone().expect("instance");
    let (status, _, body) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/faults",
        r#"{"perOperation": {"TerminateRecoveryInstances": {"dropAfterCommitNext": 1}}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    c.terminate_recovery_instances()
        .recovery_instance_ids(&instance)
        .send()
        .await
        .expect_err("dropped");
    let jobs = sim.jobs();
    assert_eq!(jobs.last().map(|j| j.job_type.as_str()), Some("TERMINATE"));
    let (_, _, body) = http(&sim.endpoint(), "GET", "/_sim/counters", "").await;
    let counters = json(&body);
    assert_eq!(
        counters["operations"]["TerminateRecoveryInstances"]["dropAfterCommit"],
        1
    );
    assert_eq!(counters["dropAfterCommit"], 2);
    assert_eq!(counters["errorAfterCommit"], 1);
    let (status, _, _) = http(
        &sim.endpoint(),
        "POST",
        "/_sim/faults",
        r#"{"errorAfterCommitFraction": 1.5}"#,
    )
    .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_sdks_own_retry_of_a_lost_answer_runs_into_the_job_it_made() {
    // This is the bug the worker must avoid: StartRecovery has no client token, so the
    // SDK's retry of a 500 (or of a dropped connection) asks for a second launch, which DRS
    // refuses because the servers are in the first job already.
    let sim = start(
        vec![ServerSpec::new(sid(1), 30.0), ServerSpec::new(sid(2), 30.0)],
        |_| {},
    )
    .await;
    let c = client_with(&sim, 3);
    for (key, server) in [
        ("errorAfterCommitNext", sid(1)),
        ("dropAfterCommitNext", sid(2)),
    ] {
        let (status, _, body) = http(
            &sim.endpoint(),
            "POST",
            "/_sim/faults",
            &format!(r#"{{"perOperation": {{"StartRecovery": {{"{key}": 1}}}}}}"#),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let err = c
            .start_recovery()
            .source_servers(source(&server))
            .send()
            .await
            .expect_err("the retry conflicts")
            .into_service_error();
        assert!(
            matches!(&err, StartRecoveryError::ConflictException(e) if e.resource_id() == Some(server.as_str())),
            "{key}: {err:?}"
        );
    }
    assert_eq!(sim.jobs().len(), 2, "one job per server, none doubled");
    let counters = sim.counters();
    assert_eq!(counters.errors_after_commit("StartRecovery"), 1);
    assert_eq!(counters.drops_after_commit("StartRecovery"), 1);
    assert_eq!(counters.count("StartRecovery", 409), 2);
    sim.shutdown().await;
}
