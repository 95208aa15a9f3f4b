//! In-memory fakes of the worker's three seams, primed with boring defaults: tests add only the
//! behaviour they care about. Public so the integration and end-to-end tests can use them too.
//!
//! One file a fake: `activity` (the activity side of Step Functions), `drs` (with the
//! answers of its seam, its recovery instances and its post-launch actions under `drs/`),
//! `executions` (StopExecution and DescribeExecution), `notifier` (SNS). Every fake is
//! re-exported here, so a test names it `drs_worker::testing::X` wherever it lives.

use std::sync::{Mutex, MutexGuard};

mod activity;
mod drs;
mod executions;
mod notifier;

pub use activity::{Answer, FakeActivityService};
pub use drs::{FakeDrs, SnapshotPaging};
pub use drs_waves_history::MemoryHistory;
pub use executions::FakeExecutions;
pub use notifier::RecordingNotifier;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the assertion that follows.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
