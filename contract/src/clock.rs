//! Timestamps as Step Functions, DRS and the history write them, and durations as people read
//! them: the one copy the worker, the report and the CLI share.

use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};

/// RFC 3339 in UTC, whole seconds.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// RFC 3339 UTC to the millisecond (`2030-01-01T00:00:00.123Z`; no fraction when it is zero):
/// for the start of a wave, which learned timing measures completion times from, so that a
/// start early or late in its second does not shift every sample by up to a second.
pub fn format_time_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let millis = t.nanosecond() / 1_000_000 * 1_000_000;
    let t = t.replace_nanosecond(millis).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses the timestamps Step Functions and DRS give (RFC 3339 with `Z` or `+00:00`,
/// fractional seconds or not).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| OffsetDateTime::parse(s, &Iso8601::DEFAULT).ok())
}

pub fn seconds_between(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_seconds()).unwrap_or(0)
}

/// Whole milliseconds from `from` to `to`; 0 when `to` is earlier.
pub fn millis_between(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

/// `1 h 2 min 3 s`, `45 s`: a duration as people read it (warnings, reports).
pub fn human_seconds(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_in_whole_seconds_or_milliseconds() {
        let t = datetime!(2030-01-01 00:00:01.123456 UTC);
        assert_eq!(format_time(t), "2030-01-01T00:00:01Z");
        assert_eq!(format_time_millis(t), "2030-01-01T00:00:01.123Z");
        assert_eq!(
            format_time_millis(datetime!(2030-01-01 00:00:01 UTC)),
            "2030-01-01T00:00:01Z"
        );
        assert_eq!(
            parse_time("2030-01-01T00:00:01.123Z"),
            Some(datetime!(2030-01-01 00:00:01.123 UTC))
        );
        assert_eq!(
            parse_time("2030-01-01T00:00:01+00:00"),
            Some(datetime!(2030-01-01 00:00:01 UTC))
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(
            millis_between(t, t - time::Duration::SECOND),
            0,
            "never negative"
        );
        assert_eq!(human_seconds(3723), "1 h 2 min 3 s");
        assert_eq!(human_seconds(0), "0 s");
    }
}
