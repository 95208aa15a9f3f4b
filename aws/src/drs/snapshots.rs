//! A server's launch point: DescribeRecoverySnapshots read through every page, and the snapshot
//! chosen by the worker from the snapshots' own timestamps.
//!
//! Why the worker decides and not DRS: the DRS API model lets every Describe* answer a short
//! page, or an empty one, with a `nextToken` (`DescribeRecoverySnapshotsResponse.nextToken`:
//! "Token to retrieve the next page"), and `order` (`RecoverySnapshotsOrder`, ASC by default) and
//! `filters.fromDateTime/toDateTime` are requests about what DRS returns, not promises the
//! worker can check on one item. So `order` DESC and `toDateTime` only narrow what is read;
//! every page is read until `nextToken` is absent, and the newest snapshot taken at or before the
//! wanted time wins, whatever order and page sizes DRS used.

use aws_sdk_drs::types::{DescribeRecoverySnapshotsRequestFilters, RecoverySnapshotsOrder};
use time::OffsetDateTime;

use super::{RecoverySnapshot, SdkDrs};
use crate::AwsError;
use crate::failure::from_sdk;
use drs_waves_contract::clock::parse_time;

/// Snapshots asked for per page (`maxResults` has no maximum in the model; a server keeps a few
/// dozen: 6 ten-minute, 24 hourly and its retention days of daily ones, User Guide,
/// point-in-time).
const SNAPSHOTS_PER_PAGE: i32 = 100;

/// The time a launch point must not be later than: the run's `pointInTime` (RFC 3339), or
/// `now` without one.
pub fn wanted_time(
    at_or_before: Option<&str>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, AwsError> {
    match at_or_before {
        None => Ok(now),
        Some(t) => parse_time(t).ok_or_else(|| {
            AwsError::Failed(format!(
                "DRS DescribeRecoverySnapshots: the point in time {t:?} is not an RFC 3339 time"
            ))
        }),
    }
}

/// Keeps, of the snapshots offered in any order, the newest taken at or before the wanted time.
#[derive(Debug, Clone)]
pub struct NewestAtOrBefore {
    wanted: OffsetDateTime,
    best: Option<(OffsetDateTime, RecoverySnapshot)>,
}

impl NewestAtOrBefore {
    pub fn new(wanted: OffsetDateTime) -> Self {
        NewestAtOrBefore { wanted, best: None }
    }

    /// Considers one snapshot. One whose time does not parse cannot be placed against the wanted
    /// time and is passed over; equal times are decided by the larger ID, so the choice does
    /// not depend on the order the pages came in.
    pub fn offer(&mut self, snapshot: RecoverySnapshot) {
        let Some(taken) = parse_time(&snapshot.taken_at) else {
            return;
        };
        if taken > self.wanted {
            return;
        }
        let better = match &self.best {
            None => true,
            Some((t, s)) => taken > *t || (taken == *t && snapshot.id > s.id),
        };
        if better {
            self.best = Some((taken, snapshot));
        }
    }

    pub fn chosen(self) -> Option<RecoverySnapshot> {
        self.best.map(|(_, s)| s)
    }
}

fn snapshot_of(snap: &aws_sdk_drs::types::RecoverySnapshot) -> RecoverySnapshot {
    RecoverySnapshot {
        id: snap.snapshot_id().to_string(),
        source_server_id: snap.source_server_id().to_string(),
        // `timestamp` is when it was taken; `expectedTimestamp` (required in the model) when
        // DRS gives no actual time yet.
        taken_at: snap
            .timestamp()
            .filter(|t| !t.is_empty())
            .unwrap_or(snap.expected_timestamp())
            .to_string(),
    }
}

impl SdkDrs {
    /// [`super::Drs::latest_recovery_snapshot`]: every page through the SDK's paginator (it
    /// goes on over empty pages while a `nextToken` comes back, and stops when none does).
    pub(super) async fn newest_snapshot(
        &self,
        source_server_id: &str,
        at_or_before: Option<&str>,
    ) -> Result<Option<RecoverySnapshot>, AwsError> {
        let wanted = wanted_time(at_or_before, OffsetDateTime::now_utc())?;
        let filters = at_or_before.map(|to| {
            DescribeRecoverySnapshotsRequestFilters::builder()
                .to_date_time(to)
                .build()
        });
        let mut pages = self
            .client
            .describe_recovery_snapshots()
            .source_server_id(source_server_id)
            .order(RecoverySnapshotsOrder::Desc)
            .max_results(SNAPSHOTS_PER_PAGE)
            .set_filters(filters)
            .into_paginator()
            .send();
        let mut newest = NewestAtOrBefore::new(wanted);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DRS DescribeRecoverySnapshots", &e))?;
            for snap in page.items() {
                newest.offer(snapshot_of(snap));
            }
        }
        Ok(newest.chosen())
    }
}
