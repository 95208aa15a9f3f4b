//! Time: the clock the tasks read (a test sets its own); the timestamps and durations are the
//! contract's ([`drs_waves_contract::clock`]), shared with the report and the CLI.

use std::sync::Arc;

use time::OffsetDateTime;

pub use drs_waves_contract::clock::*;

pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}
