//! The fakes pass the seams' conformance suites (`crate::conformance`), one test per case so that
//! a broken rule fails by its own name; and a suite run whole (as the real adapters run it) names
//! every case that failed, not only the first.

use super::*;

/// A fake DRS holding the DRS suite's fixture servers and no jobs.
pub(super) fn fake_drs_with_the_fixture() -> FakeDrs {
    let drs = FakeDrs::new();
    for s in crate::conformance::drs::fixture() {
        let tags: Vec<(&str, &str)> = s
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        drs.add_server_in_state(&s.id, &tags, &s.replication_state);
        drs.set_hostname(&s.id, &s.hostname);
        drs.clear_snapshots(&s.id);
        for t in &s.snapshots {
            drs.add_snapshot(&s.id, &drs_waves_rules::format_time(*t));
        }
    }
    drs.add_source_network(crate::conformance::drs::NETWORK);
    drs
}

mod fake_drs_passes_the_drs_conformance_suite {
    async fn fresh(_case: &str) -> crate::testing::FakeDrs {
        super::fake_drs_with_the_fixture()
    }

    crate::drs_conformance_tests!(fresh);
}

mod fake_executions_pass_the_step_functions_conformance_suite {
    const DRILL: &str = "arn:aws:states:us-east-1:123456789012:execution:billing:drill-1";

    async fn fresh(_case: &str) -> (crate::testing::FakeExecutions, String, String) {
        let executions = crate::testing::FakeExecutions::new();
        executions.set(DRILL, "RUNNING");
        let unknown = "arn:aws:states:us-east-1:123456789012:execution:billing:never-started";
        (executions, DRILL.to_string(), unknown.to_string())
    }

    crate::sfn_conformance_tests!(fresh);
}

/// What a panic said.
fn message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_suite_run_whole_names_every_case_that_failed() {
    use futures::FutureExt;
    // No servers at all: every case of the DRS suite breaks.
    let empty = FakeDrs::new();
    let run = std::panic::AssertUnwindSafe(crate::conformance::drs::run_all(&empty));
    let failure = message(
        run.catch_unwind()
            .await
            .expect_err("an empty DRS fails the suite"),
    );
    let cases = crate::conformance::drs::CASES;
    assert!(
        failure.starts_with(&format!(
            "{n} of {n} DRS conformance cases failed",
            n = cases.len()
        )),
        "{failure}"
    );
    for case in cases {
        assert!(
            failure.contains(&format!("\n{case}: ")),
            "{case}: {failure}"
        );
    }
}

#[tokio::test]
async fn a_suite_run_whole_passes_on_a_conforming_fake() {
    crate::conformance::drs::run_all(&fake_drs_with_the_fixture()).await;
    let executions = FakeExecutions::new();
    let running = "arn:aws:states:us-east-1:123456789012:execution:billing:drill-1";
    executions.set(running, "RUNNING");
    crate::conformance::sfn::run_all(
        &executions,
        running,
        "arn:aws:states:us-east-1:123456789012:execution:billing:never-started",
        "fake",
    )
    .await;
}
