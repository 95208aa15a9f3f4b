//! The report of a FAILBACK: its instances are the RECOVERY's, found by their failback job,
//! and each says what it replicated back; the page says the total.

use std::collections::BTreeSet;

use drs_waves_contract::Mode;

use super::{S1, S2, sources};
use crate::build::{InstanceFacts, build};
use crate::gather::instances::of_execution;
use crate::render;

fn instance(
    id: &str,
    server: &str,
    launch_job: &str,
    failback_job: Option<&str>,
    bytes: u64,
) -> InstanceFacts {
    InstanceFacts {
        recovery_instance_id: id.into(),
        source_server_id: server.into(),
        job_id: Some(launch_job.into()),
        is_drill: Some(false),
        failback_job_id: failback_job.map(str::to_owned),
        replicated_back_bytes: Some(bytes),
        ..InstanceFacts::default()
    }
}

#[test]
fn a_failback_keeps_the_instances_its_failback_jobs_brought_home() {
    let listed = vec![
        instance("i-1", S1, "recovery-job", Some("drsjob-1"), 10),
        instance("i-2", S2, "recovery-job", Some("another-failback"), 20),
        instance("i-3", S2, "drsjob-1", None, 30),
    ];
    let jobs = BTreeSet::from(["drsjob-1".to_owned()]);
    let kept = of_execution(listed.clone(), &jobs, Some(Mode::Failback));
    let keys: Vec<(String, String)> = kept.keys().cloned().collect();
    assert_eq!(keys, [("drsjob-1".to_owned(), S1.to_owned())]);
    // A RECOVERY keeps instances by the job that launched them, as before.
    let kept = of_execution(listed, &jobs, Some(Mode::Recovery));
    assert_eq!(
        kept.values()
            .map(|i| i.recovery_instance_id.as_str())
            .collect::<Vec<_>>(),
        ["i-3"]
    );
}

#[test]
fn each_server_of_a_failback_says_what_it_replicated_back_and_the_page_the_total() {
    let mut s = sources();
    s.execution.mode = Some(Mode::Failback);
    for (job, server, bytes) in [("drsjob-1", S1, 3 << 30), ("drsjob-2", S2, 1 << 29)] {
        s.instances.insert(
            (job.into(), server.into()),
            instance(
                &format!("i-{server}"),
                server,
                "recovery-job",
                Some(job),
                bytes,
            ),
        );
    }
    let report = build(&s);
    let bytes: Vec<Option<u64>> = report
        .servers
        .iter()
        .map(|s| s.replicated_back_bytes)
        .collect();
    assert_eq!(bytes, [Some(3 << 30), Some(1 << 29)]);
    let page = render::html(&report);
    assert!(
        page.contains("<dt>Replicated back</dt><dd>3.5 GiB from 2 recovery instance(s)</dd>"),
        "{page}"
    );
    assert!(page.contains("replicated back 512.0 MiB"), "{page}");
    // A drill's servers say nothing of it, whatever DRS lists.
    s.execution.mode = Some(Mode::Drill);
    assert!(
        build(&s)
            .servers
            .iter()
            .all(|x| x.replicated_back_bytes.is_none())
    );
}
