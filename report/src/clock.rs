//! The report's times: the contract's ([`drs_waves_contract::clock`]), the same rules as the
//! worker's; and its sizes ([`human_bytes`]).

pub use drs_waves_contract::clock::{format_time, human_seconds, parse_time, seconds_between};

/// `1.5 GiB`: bytes in binary units, one decimal above a KiB.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
