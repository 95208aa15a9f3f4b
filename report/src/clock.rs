//! The report's times: the contract's ([`drs_waves_contract::clock`]), the same rules as the
//! worker's.

pub use drs_waves_contract::clock::{format_time, human_seconds, parse_time, seconds_between};
