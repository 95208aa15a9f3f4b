//! `recoveryInstanceID` left out of DescribeJobs' participatingServers (the model's
//! ParticipatingServer requires none of its members), with the instance still listed by
//! DescribeRecoveryInstances with its `jobID`, `isDrill` and `pointInTimeSnapshotDateTime`.

use std::path::Path;

use crate::common::{call, output_violations, sid, start, wait_for};
use drs_sim::{Fixture, ServerSelector, ServerSpec};
use serde_json::{Value, json};

/// The job's participatingServers once it is COMPLETED.
async fn completed_servers(endpoint: &str, job_id: &str) -> Vec<Value> {
    wait_for("the job to complete", || async {
        let answer = call(
            endpoint,
            "DescribeJobs",
            &json!({"filters": {"jobIDs": [job_id]}}),
        )
        .await;
        assert!(output_violations("DescribeJobs", &answer).is_empty());
        let job = answer.body["items"][0].clone();
        (job["status"] == "COMPLETED").then(|| {
            job["participatingServers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
    })
    .await
}

fn of_server<'a>(servers: &'a [Value], id: &str) -> &'a Value {
    servers
        .iter()
        .find(|s| s["sourceServerID"] == id)
        .unwrap_or_else(|| panic!("{id} in {servers:?}"))
}

async fn launch(endpoint: &str, ids: &[String], drill: bool) -> String {
    let sources: Vec<Value> = ids.iter().map(|id| json!({"sourceServerID": id})).collect();
    let answer = call(
        endpoint,
        "StartRecovery",
        &json!({"sourceServers": sources, "isDrill": drill}),
    )
    .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    answer.body["job"]["jobID"]
        .as_str()
        .expect("jobID")
        .to_owned()
}

#[tokio::test]
async fn a_server_set_to_omit_it_has_no_recovery_instance_id_in_its_jobs_but_is_listed() {
    let sim = start(
        vec![
            ServerSpec::new(sid(1), 0.1).omitting_recovery_instance_id(),
            ServerSpec::new(sid(2), 0.1),
        ],
        |_| {},
    )
    .await;
    let endpoint = sim.endpoint();
    let job = launch(&endpoint, &[sid(1), sid(2)], true).await;
    let servers = completed_servers(&endpoint, &job).await;
    let omitted = of_server(&servers, &sid(1));
    assert_eq!(omitted["launchStatus"], "LAUNCHED");
    assert!(omitted.get("recoveryInstanceID").is_none(), "{omitted}");
    assert!(of_server(&servers, &sid(2))["recoveryInstanceID"].is_string());

    // DescribeRecoveryInstances by source server still lists it, naming its job and mode.
    let answer = call(
        &endpoint,
        "DescribeRecoveryInstances",
        &json!({"filters": {"sourceServerIDs": [sid(1)]}}),
    )
    .await;
    assert!(output_violations("DescribeRecoveryInstances", &answer).is_empty());
    let items = answer.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["jobID"], job.as_str());
    assert_eq!(items[0]["isDrill"], true);
    assert!(items[0]["pointInTimeSnapshotDateTime"].is_string());
    let admin = sim.recovery_instances();
    assert_eq!(admin.len(), 2);
    assert!(
        admin
            .iter()
            .any(|i| i.recovery_instance_id == items[0]["recoveryInstanceID"])
    );

    // Named again from now on, and for every server with `all`.
    sim.set_omit_recovery_instance_id(&ServerSelector::Servers(vec![sid(1)]), false)
        .expect("knob");
    let servers = completed_servers(&endpoint, &job).await;
    assert!(of_server(&servers, &sid(1))["recoveryInstanceID"].is_string());
    sim.set_omit_recovery_instance_id(&ServerSelector::All, true)
        .expect("knob");
    let servers = completed_servers(&endpoint, &job).await;
    assert!(
        servers
            .iter()
            .all(|s| s.get("recoveryInstanceID").is_none())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_and_the_fixture_set_it_per_server_or_for_all() {
    let sim = start(vec![ServerSpec::new(sid(1), 0.1)], |_| {}).await;
    let endpoint = sim.endpoint();
    let admin = call(
        &endpoint,
        "_sim/omit-recovery-instance-id",
        &json!({"servers": [sid(1)]}),
    )
    .await;
    assert_eq!(admin.status, 200, "{:?}", admin.body);
    assert_eq!(admin.body["omitRecoveryInstanceId"], true);
    assert!(sim.source_servers()[0].omit_recovery_instance_id);
    for bad in [
        json!({"servers": [sid(1)], "all": true}),
        json!({"servers": [sid(9)]}),
        json!({"all": true, "omitted": true}),
    ] {
        let refused = call(&endpoint, "_sim/omit-recovery-instance-id", &bad).await;
        assert_eq!(refused.status, 400, "{bad} -> {:?}", refused.body);
    }
    let again = call(
        &endpoint,
        "_sim/omit-recovery-instance-id",
        &json!({"all": true, "omit": false}),
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert!(!sim.source_servers()[0].omit_recovery_instance_id);
    sim.shutdown().await;

    let fixture = Fixture::parse(
        &format!(
            "defaults: {{omitRecoveryInstanceId: true}}\nservers:\n  - id: {}\n  - id: {}\n    omitRecoveryInstanceId: false\n",
            sid(1),
            sid(2)
        ),
        Path::new("omit.yaml"),
    )
    .expect("parses");
    let servers = fixture.validate(Path::new("omit.yaml")).expect("valid");
    assert!(servers[0].omit_recovery_instance_id, "the default applies");
    assert!(
        !servers[1].omit_recovery_instance_id,
        "a server's own setting wins"
    );
}
