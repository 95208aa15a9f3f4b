//! Conformance suites of the worker's seams: each seam's behaviour written once, as plain async
//! functions, and run against the fake and the real adapter alike (the fakes in the unit tests,
//! the SDK adapters over moto and drs-sim in `tests/against_services/`).
//!
//! Each suite names its cases (`CASES`) and runs one by name (`run_case`). The fakes run one test
//! per case (the suite's `*_conformance_tests!` macro), so a broken rule fails by its own name;
//! a real adapter, whose service is costly to start once per case, runs them all in one test
//! (`run_all`), each to its end whatever the others do, failing with the name of every case that
//! failed: the first failure does not hide the rest.

pub mod drs;
pub mod sfn;

/// The runner every conformance suite shares (the history crate's, behind its `fake` feature).
pub use drs_waves_history::conformance::run_cases;
