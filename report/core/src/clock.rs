//! The report's times: RFC 3339 in UTC, whole seconds, and durations as people read them.
//! (The worker keeps the same rules in `drs_worker::rules::clock`; this crate has no worker to
//! borrow them from.)

use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};

/// Parses the timestamps Step Functions and DRS give (RFC 3339 with `Z` or `+00:00`,
/// fractional seconds or not).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| OffsetDateTime::parse(s, &Iso8601::DEFAULT).ok())
}

/// RFC 3339 in UTC, whole seconds.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub fn seconds_between(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_seconds()).unwrap_or(0)
}

/// `1 h 2 min 3 s`, `45 s`.
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
