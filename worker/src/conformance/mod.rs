//! Conformance suites of the worker's seams: each seam's behaviour written once, as plain async
//! functions, and run against the fake and the real adapter alike (the fakes in the unit tests,
//! the SDK adapters over moto and drs-sim in `tests/against_services.rs`).

pub mod drs;
pub mod sfn;
