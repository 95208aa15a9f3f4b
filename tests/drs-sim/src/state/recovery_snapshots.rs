//! DescribeRecoverySnapshots: a server's point-in-time snapshots, filtered, ordered and paged.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::SimState;
use super::paging::{decode_token, take_page, with_token};
use crate::config::DateStyle;
use crate::replication::RecoverySnapshot;
use crate::wire::{self, ApiError};

impl SimState {
    pub(super) fn describe_recovery_snapshots(
        &self,
        req: &wire::DescribeRecoverySnapshotsRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        // The model: maxResults has a minimum of 1 (checked) and no maximum.
        let size = self
            .paging
            .clamp(req.max_results.map_or(self.default_page_size, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }));
        let Some(id) = req.source_server_id.as_deref() else {
            return Err(ApiError::field(
                "sourceServerID",
                "sourceServerID is required",
            ));
        };
        // The model lists no ResourceNotFoundException for this operation: an unknown
        // server is a ValidationException, as for the simulator's other unknown IDs.
        let Some(all) = self.recovery_snapshots(id, now) else {
            return Err(ApiError::field(
                "sourceServerID",
                format!("Source server {id} does not exist"),
            ));
        };
        let filters = req.filters.as_ref();
        let parse = |field: &str, value: Option<&String>| -> Result<_, ApiError> {
            match value {
                None => Ok(None),
                Some(s) => wire::parse_date(s).map(Some).ok_or_else(|| {
                    ApiError::field(field, format!("{field} {s:?} is not an ISO-8601 date"))
                }),
            }
        };
        let from = parse(
            "fromDateTime",
            filters.and_then(|f| f.from_date_time.as_ref()),
        )?;
        let to = parse("toDateTime", filters.and_then(|f| f.to_date_time.as_ref()))?;
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "pit:") {
            return Ok(empty);
        }
        // The model's RecoverySnapshotsOrder (checked): ASC, the default, or DESC.
        let descending = req.order.as_deref() == Some("DESC");
        // The token is the timestamp (microseconds) of the last item returned.
        let after = decode_token(req.next_token.as_deref(), "pit:")?
            .map(|t| {
                t.parse::<i128>()
                    .map_err(|_| ApiError::field("nextToken", "Invalid nextToken"))
            })
            .transpose()?;
        let key = |snap: &RecoverySnapshot| snap.timestamp.unix_timestamp_nanos() / 1000;
        let mut matching: Vec<&RecoverySnapshot> = all
            .iter()
            .filter(|snap| {
                from.is_none_or(|f| snap.timestamp >= f) && to.is_none_or(|t| snap.timestamp <= t)
            })
            .collect();
        if descending {
            matching.reverse();
        }
        let matching = matching.into_iter().filter(|snap| {
            after.is_none_or(|a| {
                if descending {
                    key(snap) < a
                } else {
                    key(snap) > a
                }
            })
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| page.last().map(|snap| format!("pit:{}", key(snap))));
        // The model's RecoverySnapshot timestamps have the pattern ...Z.
        let zulu = |t| wire::format_date(t, DateStyle::Zulu);
        let items: Vec<Value> = page
            .iter()
            .map(|snap| {
                json!({
                    "snapshotID": snap.snapshot_id,
                    "sourceServerID": snap.source_server_id,
                    "expectedTimestamp": zulu(snap.expected_timestamp),
                    "timestamp": zulu(snap.timestamp),
                    "ebsSnapshots": snap.ebs_snapshots,
                })
            })
            .collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }
}
