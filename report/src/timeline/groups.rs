//! A large wave on the timeline: instead of a row per server (a 10,000-server recovery would be
//! a page of ten thousand rows), a row per outcome (failed, launched, launching, not launched),
//! each bar spanning its servers' launches and saying how many they are.

use super::{BAR, Bar, ROW, Scale, launch_span, round1};
use crate::clock::human_seconds;
use crate::model::{ServerFacts, WaveFacts};

/// A wave of at most this many servers keeps a row per server: twelve rows (216 units of the
/// viewBox) still read as a picture of the wave, one bar each, and the billing example's waves
/// (one to three servers) look as they always did. A larger wave gets a row per outcome.
pub const SERVER_ROWS_PER_WAVE: usize = 12;

/// ... and only while the whole report has at most this many servers: a hundred waves of ten
/// would otherwise be a thousand rows again. Below it, at most 120 rows of servers (an A4 page
/// and a half), however the servers fall into waves.
pub const SERVER_ROWS_IN_ALL: usize = 120;

/// Whether a wave of `wave_servers`, in a report of `total_servers`, is drawn a row per server.
pub fn per_server_rows(total_servers: usize, wave_servers: usize) -> bool {
    wave_servers <= SERVER_ROWS_PER_WAVE && total_servers <= SERVER_ROWS_IN_ALL
}

/// `10,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The outcomes in the order their rows are drawn: failures first.
const OUTCOMES: [(&str, &str); 4] = [
    ("failed", "failed"),
    ("launched", "launched"),
    ("running", "launching"),
    ("pending", "not launched"),
];

/// The rows of a large wave, the first at `top`: one per outcome its servers have, each bar
/// from the first of them to start to the last to end.
pub(super) fn outcome_bars(
    scale: &Scale,
    w: &WaveFacts,
    servers: &[&ServerFacts],
    top: f64,
) -> Vec<Bar> {
    let spans: Vec<(&str, u64, u64, &ServerFacts)> = servers
        .iter()
        .map(|s| {
            let (class, from, to) = launch_span(scale, s);
            (class, from, to, *s)
        })
        .collect();
    let mut bars = Vec::new();
    for (class, words) in OUTCOMES {
        let mine: Vec<_> = spans.iter().filter(|(c, ..)| *c == class).collect();
        let (Some(from), Some(to)) = (
            mine.iter().map(|(_, f, ..)| *f).min(),
            mine.iter().map(|(_, _, t, _)| *t).max(),
        ) else {
            continue;
        };
        let row_y = top + ROW * bars.len() as f64;
        let count = thousands(mine.len());
        let slowest = mine
            .iter()
            .filter(|(c, ..)| *c != "pending")
            .max_by_key(|(_, f, t, _)| t - f)
            .map(|(_, f, t, s)| {
                let name = s.hostname.as_deref().unwrap_or(&s.source_server_id);
                format!("; the slowest {name} in {}", human_seconds(t - f))
            })
            .unwrap_or_default();
        bars.push(Bar {
            x: scale.x(from),
            y: round1(row_y + (ROW - BAR) / 2.0),
            width: round1((scale.x(to) - scale.x(from)).max(2.0)),
            label_y: round1(row_y + ROW / 2.0 + 4.0),
            class,
            label: format!("{count} {words}"),
            title: format!(
                "Wave {} {}: {count} server(s) {words}, from +{} to +{}{slowest}",
                w.index,
                w.name,
                human_seconds(from),
                human_seconds(to)
            ),
            servers: u32::try_from(mine.len()).unwrap_or(u32::MAX),
            group: true,
        });
    }
    bars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn few_servers_keep_their_rows_many_do_not() {
        assert!(per_server_rows(6, 3));
        assert!(per_server_rows(SERVER_ROWS_IN_ALL, SERVER_ROWS_PER_WAVE));
        assert!(!per_server_rows(40, SERVER_ROWS_PER_WAVE + 1));
        assert!(!per_server_rows(SERVER_ROWS_IN_ALL + 1, 10));
    }
}
