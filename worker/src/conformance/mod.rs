//! Conformance suites of the worker's seams: each seam's behaviour written once, as plain async
//! functions, and run against the fake and the real adapter alike (the fakes in the unit tests,
//! the SDK adapters over moto and drs-sim in `tests/against_services/`).
//!
//! Each suite names its cases (`CASES`) and runs one by name (`run_case`). The fakes run one test
//! per case (the suite's `*_conformance_tests!` macro), so a broken rule fails by its own name;
//! a real adapter, whose service is costly to start once per case, runs them all in one test
//! (`run_all`), each to its end whatever the others do, failing with the name of every case that
//! failed: the first failure does not hide the rest.

use std::future::Future;

use futures::FutureExt;

pub mod drs;
pub mod sfn;

/// Runs `run` for every case of `suite`, each to its end even when another panicked, and panics
/// naming every case that failed, with why.
pub async fn run_cases<F, Fut>(suite: &str, cases: &'static [&'static str], mut run: F)
where
    F: FnMut(&'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut failed = Vec::new();
    for &name in cases {
        let case = std::panic::AssertUnwindSafe(run(name));
        if let Err(panic) = case.catch_unwind().await {
            failed.push(format!("{name}: {}", panic_message(panic.as_ref())));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {suite} conformance cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// What a panic said (the message of `panic!`/`assert!`), or nothing when it carried no text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
