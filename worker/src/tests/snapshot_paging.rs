//! Issue #21, item 2: a launch point is read through every page of DescribeRecoverySnapshots
//! and chosen by the worker from the timestamps (the newest at or before the wanted time),
//! whatever order and page sizes DRS answers with. The DRS API model allows a short or empty
//! page with a `nextToken` on every Describe*, and `order` defaults to ASC.

use super::*;
use crate::testing::SnapshotPaging;
use drs_waves_aws::drs::snapshots::NewestAtOrBefore;
use drs_waves_aws::drs::{Drs as _, RecoverySnapshot};

/// Oldest first, one item a page, an empty page with a token around each, the time filter
/// ignored: everything DRS may do at once.
const HOSTILE: SnapshotPaging = SnapshotPaging {
    ascending: true,
    per_page: 1,
    empty_pages: true,
    ignore_time_filter: true,
};

fn snap(id: &str, at: &str) -> RecoverySnapshot {
    RecoverySnapshot {
        id: id.into(),
        source_server_id: "s-1".into(),
        taken_at: at.into(),
    }
}

#[test]
fn the_choice_is_the_newest_at_or_before_in_any_order() {
    let items = [
        snap("pit-a", "2030-01-01T00:00:00Z"),
        snap("pit-b", "2030-01-01T00:10:00+00:00"),
        snap("pit-c", "2030-01-01T00:20:00Z"),
        snap("pit-bad", "not a time"),
    ];
    let wanted = datetime!(2030-01-01 00:15:00 UTC);
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
        let mut newest = NewestAtOrBefore::new(wanted);
        for i in order {
            newest.offer(items[i].clone());
        }
        assert_eq!(
            newest.chosen().map(|s| s.id),
            Some("pit-b".into()),
            "{order:?}"
        );
    }
    let mut at = NewestAtOrBefore::new(datetime!(2030-01-01 00:10:00 UTC));
    items.iter().cloned().for_each(|s| at.offer(s));
    assert_eq!(at.chosen().map(|s| s.id), Some("pit-b".into()), "at counts");
    let mut before_all = NewestAtOrBefore::new(datetime!(2029-12-31 23:00:00 UTC));
    items.iter().cloned().for_each(|s| before_all.offer(s));
    assert_eq!(before_all.chosen(), None);
}

#[tokio::test]
async fn every_page_is_read_whatever_order_and_page_sizes_drs_uses() {
    let drs = FakeDrs::new();
    drs.set_now(datetime!(2030-01-01 00:30:00 UTC));
    drs.add_server("s-1", &[]);
    drs.clear_snapshots("s-1");
    let t0 = drs.add_snapshot("s-1", "2030-01-01T00:00:00Z");
    let t10 = drs.add_snapshot("s-1", "2030-01-01T00:10:00Z");
    let t20 = drs.add_snapshot("s-1", "2030-01-01T00:20:00Z");
    // Taken after "now" by a clock ahead of ours: never the launch point of a run without one.
    drs.add_snapshot("s-1", "2030-01-01T00:40:00Z");
    drs.page_snapshots(HOSTILE);
    let got = |at: Option<&'static str>| {
        let drs = drs.clone();
        async move {
            drs.latest_recovery_snapshot("s-1", at)
                .await
                .expect("lookup")
                .map(|s| s.id)
        }
    };
    assert_eq!(
        got(None).await,
        Some(t20.clone()),
        "the newest at or before now"
    );
    // 4 one-item pages, each after an empty one, and a trailing empty page.
    assert_eq!(drs.snapshot_pages_served(), 9, "every page, empty ones too");
    assert_eq!(got(Some("2030-01-01T00:15:00Z")).await, Some(t10.clone()));
    assert_eq!(got(Some("2030-01-01T00:10:00Z")).await, Some(t10));
    assert_eq!(got(Some("2030-01-01T00:05:00Z")).await, Some(t0));
    assert_eq!(got(Some("2029-12-31T00:00:00Z")).await, None);

    // Only the last of many pages holds the answer: newest first would have stopped early.
    drs.page_snapshots(SnapshotPaging {
        ascending: true,
        per_page: 2,
        ..SnapshotPaging::default()
    });
    assert_eq!(got(None).await, Some(t20));
}

#[tokio::test]
async fn a_recovery_at_a_point_in_time_launches_from_the_right_snapshot_over_hostile_pages() {
    let w = World::new();
    for i in 1..=2 {
        w.drs
            .add_server_in_state(&server_id(i), &[("App", PLAN)], "DISCONNECTED");
    }
    let early = w.drs.add_snapshot(&server_id(1), "2029-12-31T23:00:00Z");
    let mid = w.drs.add_snapshot(&server_id(1), "2029-12-31T23:30:00Z");
    let only = w.drs.add_snapshot(&server_id(2), "2029-12-31T23:10:00Z");
    w.drs.page_snapshots(HOSTILE);
    let mut input = start_input(Mode::Recovery, Some(PLAN), all_tagged_wave());
    input.run.point_in_time = Some("2029-12-31T23:45:00Z".into());
    w.handlers().start_wave(input).await.expect("start");
    let call = &w.drs.start_calls()[0];
    assert_eq!(call.snapshot_ids.get(&server_id(1)), Some(&mid));
    assert_ne!(call.snapshot_ids.get(&server_id(1)), Some(&early));
    assert_eq!(call.snapshot_ids.get(&server_id(2)), Some(&only));
    let points = w.history.launch_points_of(EXEC, 1);
    assert_eq!(points[0].snapshot_id.as_ref(), Some(&mid));
}

/// The suite on a fake that pages its snapshots as [`HOSTILE`]ly as DRS may, one test per case.
mod fake_drs_with_hostile_snapshot_pages_passes_the_drs_conformance_suite {
    async fn fresh(_case: &str) -> crate::testing::FakeDrs {
        let drs = super::super::conformance::fake_drs_with_the_fixture();
        drs.page_snapshots(super::HOSTILE);
        drs
    }

    crate::drs_conformance_tests!(fresh);
}
