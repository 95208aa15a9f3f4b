//! A recovery at DRS's limits (issue #26): 10,000 servers in 40 waves over 5 accounts reads wave
//! by wave, the failed and the slowest first, the achieved figures leading when there is no
//! target; a small report keeps its bar per server.

use time::macros::datetime;

use crate::clock::{human_seconds, parse_time, seconds_between};
use crate::model::{Report, VerdictKind};
use crate::render::{FAILED_SHOWN, SLOWEST_SHOWN};
use crate::timeline::{self, AXIS_HEIGHT, BAND_HEADER, ROW};
use crate::{render, sample};

use super::sources;

const NOW: time::OffsetDateTime = datetime!(2026-11-28 13:00:00 UTC);

fn estate() -> Report {
    sample::estate(10_000, 40, 5)
}

/// The text of the element that follows `from` in `html`, up to its next tag.
fn text_after<'a>(html: &'a str, from: &str) -> &'a str {
    let at = html.find(from).map_or(html.len(), |a| a + from.len());
    let rest = &html[at..];
    &rest[..rest.find('<').unwrap_or(rest.len())]
}

/// The part of the page from `start` to the next `end`.
fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).expect("the section's start");
    let rest = &html[at..];
    &rest[..rest.find(end).expect("the section's end")]
}

fn failed(r: &Report) -> Vec<&crate::model::ServerFacts> {
    r.servers
        .iter()
        .filter(|s| s.launch_status == "FAILED")
        .collect()
}

#[test]
fn the_estate_is_what_it_says() {
    let r = estate();
    assert_eq!(r.servers.len(), 10_000);
    assert_eq!(r.waves.len(), 40);
    let accounts: std::collections::BTreeSet<_> = r
        .waves
        .iter()
        .filter_map(|w| w.account.as_ref()?.account_id.clone())
        .collect();
    assert_eq!(accounts.len(), 5);
    assert!(
        failed(&r).len() > FAILED_SHOWN,
        "more failures than the table shows"
    );
    assert!(failed(&r).iter().any(|s| !s.required));
}

#[test]
fn a_10000_server_timeline_is_a_row_per_outcome_of_each_wave_not_per_server() {
    let r = estate();
    let t = timeline::layout(&r, NOW);
    assert_eq!(t.bands.len(), 40);
    assert!(t.bars.iter().all(|b| b.group), "no server's own bar");
    // At most a row per outcome (failed, launched, launching, not launched) per wave.
    assert!(
        t.bars.len() >= 40 && t.bars.len() <= 4 * 40,
        "{} rows",
        t.bars.len()
    );
    let max_height = AXIS_HEIGHT + 40.0 * (BAND_HEADER + 4.0 * ROW) + 8.0;
    assert!(t.height <= max_height, "{} > {max_height}", t.height);
    // Every server is in exactly one bar, and the failed ones in the failed bars.
    let all: u32 = t.bars.iter().map(|b| b.servers).sum();
    assert_eq!(all, 10_000);
    let failed_in_bars: u32 = t
        .bars
        .iter()
        .filter(|b| b.class == "failed")
        .map(|b| b.servers)
        .sum();
    assert_eq!(failed_in_bars as usize, failed(&r).len());
    // A wave's band says where it launched and how many it holds; its failed row comes first.
    let first = &r.waves[0];
    let size = r.servers.iter().filter(|s| s.wave_index == 1).count();
    assert_eq!(
        t.bands[0].label,
        format!(
            "Wave 1 tier-1 (SUCCEEDED), started at once, in 111111111101 us-east-1: {size} servers"
        )
    );
    assert_eq!(
        r.waves[5].waits_for,
        Some(vec![1]),
        "the account's waves in turn"
    );
    let wave3: Vec<_> = t
        .bars
        .iter()
        .filter(|b| b.y > t.bands[2].y && b.y < t.bands[2].y + t.bands[2].height)
        .collect();
    assert_eq!(wave3[0].class, "failed", "{wave3:?}");
    assert_eq!(wave3[1].class, "launched");
    assert!(wave3[1].label.ends_with(" launched"), "{}", wave3[1].label);
    // The launched bar spans from the first of them to start to the last to end.
    let start = parse_time(&r.execution.started_at).expect("start");
    let launched = r
        .servers
        .iter()
        .filter(|s| s.wave_index == 3 && s.launch_status == "LAUNCHED");
    let ends = launched.clone().map(|s| {
        seconds_between(
            start,
            parse_time(s.launch_ended_at.as_deref().expect("end")).expect("time"),
        )
    });
    let last = ends.max().expect("launched servers");
    let x = |secs: u64| {
        timeline::PLOT_LEFT
            + (timeline::PLOT_RIGHT - timeline::PLOT_LEFT) * secs as f64 / t.span_seconds as f64
    };
    assert!((wave3[1].x + wave3[1].width - x(last)).abs() < 0.11);
    assert!(first.rto.target_seconds.is_none());
}

#[test]
fn a_10000_server_page_has_a_bounded_timeline_and_folds_the_full_list() {
    let r = estate();
    let html = render::html(&r);
    let svg = section(&html, "<svg class=\"timeline\"", "</svg>");
    let bars = svg.matches("class=\"bar ").count();
    assert!(bars <= 4 * 40, "{bars} bars in the timeline");
    assert_eq!(
        svg.matches("class=\"bar failed group\"").count(),
        r.waves.iter().filter(|w| w.failed > 0).count()
    );
    // The full list is still there, folded away, after the failed and the slowest.
    let failed_at = html.find("id=\"failed-servers\"").expect("failed servers");
    let slowest_at = html
        .find("id=\"slowest-servers\"")
        .expect("slowest servers");
    let all_at = html
        .find("<details id=\"all-servers\"><summary>Every server (10,000), wave by wave</summary>")
        .expect("the full list, closed");
    let full_at = html.find("<table id=\"servers\">").expect("the full table");
    assert!(failed_at < slowest_at && slowest_at < all_at && all_at < full_at);
    let full = section(&html, "<table id=\"servers\">", "</table>");
    assert_eq!(full.matches("<tr><td>").count(), 10_000);
    // A wave's jobs past the first are folded in the waves table.
    let jobs = r.waves[0].job_ids.len();
    assert!(jobs > 1);
    assert!(html.contains(&format!(
        "<td><details><summary>{jobs} jobs</summary><code>"
    )));
    // Smaller than a page per server: a few hundred bytes each, the timeline a few dozen rows.
    assert!(html.len() < 4_000_000, "{} bytes", html.len());
}

#[test]
fn the_failed_servers_lead_the_required_first() {
    let r = estate();
    let html = render::html(&r);
    let table = section(&html, "<table id=\"failed-servers\">", "</table>");
    let rows: Vec<&str> = table.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), FAILED_SHOWN);
    let required: Vec<_> = failed(&r).into_iter().filter(|s| s.required).collect();
    let first = required.first().expect("a required server failed");
    assert!(
        rows[0].starts_with(first.hostname.as_deref().expect("a hostname")),
        "{}",
        rows[0]
    );
    // Required ones before optional ones.
    let yes_no: Vec<bool> = rows.iter().map(|r| r.contains("<td>yes</td>")).collect();
    assert!(yes_no.windows(2).all(|w| w[0] >= w[1]), "{yes_no:?}");
    assert!(html.contains(&format!(
        "And {} more failed servers",
        failed(&r).len() - FAILED_SHOWN
    )));
    assert!(html.contains(&format!(
        "<p id=\"servers-summary\">10,000 servers: {} launched, {} failed ({} of them required).</p>",
        timeline::thousands(10_000 - failed(&r).len()),
        failed(&r).len(),
        required.len()
    )));
}

#[test]
fn the_slowest_servers_are_the_longest_launches_longest_first() {
    let r = estate();
    let html = render::html(&r);
    let table = section(&html, "<table id=\"slowest-servers\">", "</table>");
    let rows: Vec<&str> = table.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), SLOWEST_SHOWN);
    let took = |s: &crate::model::ServerFacts| {
        seconds_between(
            parse_time(s.launch_started_at.as_deref().expect("start")).expect("time"),
            parse_time(s.launch_ended_at.as_deref().expect("end")).expect("time"),
        )
    };
    let slowest = r
        .servers
        .iter()
        .filter(|s| s.launch_status == "LAUNCHED")
        .max_by_key(|s| (took(s), std::cmp::Reverse(s.source_server_id.clone())))
        .expect("launched servers");
    assert!(
        rows[0].starts_with(slowest.hostname.as_deref().expect("a hostname")),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains(&format!(
        "<td class=\"num\">{}</td>",
        human_seconds(took(slowest))
    )));
    // No faster launch listed before a slower one.
    let fastest_listed = r
        .servers
        .iter()
        .find(|s| rows[SLOWEST_SHOWN - 1].starts_with(s.hostname.as_deref().unwrap_or("-")))
        .expect("the last row's server");
    assert!(took(fastest_listed) <= took(slowest));
}

#[test]
fn with_no_target_the_achieved_figures_lead() {
    let r = estate();
    assert_eq!(r.rto.verdict, VerdictKind::NoTarget);
    let html = render::html(&r);
    let rto = section(&html, "id=\"rto-verdict\"", "</div>\n  </div>");
    assert!(rto.contains("data-verdict=\"NO TARGET\""), "{rto}");
    let big = text_after(rto, "<div class=\"big\">");
    assert_eq!(
        big,
        human_seconds(r.rto.achieved_seconds.expect("achieved"))
    );
    let rpo = section(&html, "id=\"rpo-verdict\"", "</div>\n  </div>");
    assert_eq!(text_after(rpo, "<div class=\"big\">"), "2 min");
    let launched = section(&html, "id=\"servers-launched\"", "</div>\n  </div>");
    assert_eq!(
        text_after(launched, "<div class=\"big\">"),
        format!(
            "{} / 10,000",
            timeline::thousands(10_000 - failed(&r).len())
        )
    );
    // No NO TARGET headline anywhere on the page: the waves' columns say "none" and a dash.
    assert!(!html.contains(">NO TARGET<"), "a NO TARGET badge");
}

#[test]
fn a_verdict_against_a_target_still_leads_with_pass_or_fail() {
    let html = render::html(&crate::build::build(&sources()));
    let rto = section(&html, "id=\"rto-verdict\"", "</div>\n  </div>");
    assert!(rto.contains("data-verdict=\"PASS\""), "{rto}");
    assert_eq!(text_after(rto, "<div class=\"big\">"), "PASS");
    let rpo = section(&html, "id=\"rpo-verdict\"", "</div>\n  </div>");
    assert_eq!(text_after(rpo, "<div class=\"big\">"), "FAIL");
    let launched = section(&html, "id=\"servers-launched\"", "</div>\n  </div>");
    assert_eq!(text_after(launched, "<div class=\"big\">"), "2 / 2");
}

#[test]
fn a_small_report_keeps_a_bar_per_server_and_its_open_list() {
    let html = render::html(&crate::build::build(&sources()));
    assert_eq!(html.matches("class=\"bar launched\"").count(), 2);
    assert!(!html.contains(" group\""), "no grouped bar");
    assert!(!html.contains("<details id=\"all-servers\""));
    assert!(!html.contains("id=\"failed-servers\""));
    assert!(html.contains("<table id=\"servers\">"));
    assert!(html.contains("<p id=\"servers-summary\">2 servers: 2 launched, 0 failed.</p>"));
}

#[test]
fn a_wave_keeps_its_server_rows_up_to_the_thresholds() {
    let per_wave = timeline::SERVER_ROWS_PER_WAVE;
    let bars = |sizes: &[usize]| timeline::layout(&sample::estate_of(sizes, 1), NOW).bars;
    let at_limit = bars(&[per_wave, 3]);
    assert_eq!(at_limit.len(), per_wave + 3);
    assert!(at_limit.iter().all(|b| !b.group && b.servers == 1));
    // One more server in the first wave: it alone becomes a row per outcome.
    let over = bars(&[per_wave + 1, 3]);
    assert!(over.len() <= 4 + 3, "{}", over.len());
    assert!(over.iter().take(over.len() - 3).all(|b| b.group));
    assert!(over.iter().rev().take(3).all(|b| !b.group));
    // Many small waves: every wave is grouped once the report is over the total.
    let waves = timeline::SERVER_ROWS_IN_ALL / 10 + 1;
    let many = bars(&vec![10; waves]);
    assert!(many.iter().all(|b| b.group));
    assert!(many.len() <= 4 * waves);
}
