//! The executions seam ([`ExecutionLookup`]): what StopExecution does, as far as a suite can
//! show it on both the fake and a real engine. Run against [`crate::testing::FakeExecutions`]
//! in the unit tests, and against [`crate::sfn::SdkSfn`] over moto in `tests/against_services/`
//! (moto does not run the definition: an execution stays RUNNING) and on LocalStack in the
//! end-to-end tests (with an execution that waits in a Wait state: there LocalStack, like AWS,
//! ends it at once).
//!
//! Not shown here, because LocalStack cannot show it: on AWS a stopped execution's activity
//! task that a worker holds learns it only at its next heartbeat (TaskTimedOut), and LocalStack
//! keeps an execution stopped during an activity task RUNNING until the worker answers. The
//! fakes follow AWS ([`crate::testing::FakeExecutions::linked_to`]); docs/local-stack.md says
//! what only a real account confirms.

use crate::sfn::ExecutionLookup;

/// The cases of the suite, by name, in the order [`run_all`] runs them.
pub const CASES: [&str; 1] = ["stop_ends_a_running_execution_at_once"];

/// Runs one case of the suite by its name (one of [`CASES`]); `running` and `unknown` as
/// [`stop_ends_a_running_execution_at_once`] takes them, `backend` names the adapter in failures.
pub async fn run_case<X: ExecutionLookup>(
    name: &str,
    executions: &X,
    running: &str,
    unknown: &str,
    backend: &str,
) {
    match name {
        "stop_ends_a_running_execution_at_once" => {
            stop_ends_a_running_execution_at_once(executions, running, unknown, backend).await
        }
        other => panic!("no Step Functions conformance case named {other}"),
    }
}

/// Runs every case of the suite, each to its end whatever the others do, and fails naming every
/// case that failed. For a real engine (costly to start once per case); a fake runs one test per
/// case ([`crate::sfn_conformance_tests`]).
pub async fn run_all<X: ExecutionLookup>(
    executions: &X,
    running: &str,
    unknown: &str,
    backend: &str,
) {
    super::run_cases("Step Functions", &CASES, |name| {
        run_case(name, executions, running, unknown, backend)
    })
    .await;
}

/// One `#[tokio::test]` per case of the suite, each on what `$make` gives: an async fn of the
/// case's name returning `(executions, running, unknown)`, fresh for the case.
#[macro_export]
macro_rules! sfn_conformance_tests {
    ($make:path) => {
        $crate::sfn_conformance_tests!(@cases $make; stop_ends_a_running_execution_at_once);
    };
    (@cases $make:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (executions, running, unknown) = $make(stringify!($case)).await;
                $crate::conformance::sfn::$case(&executions, &running, &unknown, "fake").await;
            }
        )*
    };
}

/// `running` names an execution that is RUNNING and not inside an activity task; `unknown` one
/// that Step Functions does not know (in the same account and region).
pub async fn stop_ends_a_running_execution_at_once<X: ExecutionLookup>(
    executions: &X,
    running: &str,
    unknown: &str,
    backend: &str,
) {
    let before = executions
        .execution(running)
        .await
        .unwrap_or_else(|e| panic!("{backend}: DescribeExecution: {e}"))
        .unwrap_or_else(|| panic!("{backend}: {running} is unknown"));
    assert_eq!(before.status, "RUNNING", "{backend}: {before:?}");
    assert!(before.stopped_at.is_none(), "{backend}: {before:?}");

    executions
        .stop_execution(
            running,
            "DrsWaves.Preempted",
            "stopped by the conformance suite",
        )
        .await
        .unwrap_or_else(|e| panic!("{backend}: StopExecution: {e}"));
    let after = executions
        .execution(running)
        .await
        .unwrap_or_else(|e| panic!("{backend}: DescribeExecution: {e}"))
        .unwrap_or_else(|| panic!("{backend}: {running} vanished"));
    assert_eq!(
        after.status, "ABORTED",
        "{backend}: a stopped execution ends at once: {after:?}"
    );
    assert!(
        after.stopped_at.is_some(),
        "{backend}: an ended execution says when: {after:?}"
    );

    let none = executions
        .execution(unknown)
        .await
        .unwrap_or_else(|e| panic!("{backend}: DescribeExecution of an unknown execution: {e}"));
    assert!(none.is_none(), "{backend}: {none:?}");
}
