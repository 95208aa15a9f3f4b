//! The servers section: the failed and the slowest first, then every server.

use std::fmt::Write;

use super::{esc, opt};
use crate::clock::{human_bytes, human_seconds, parse_time, seconds_between};
use crate::model::{Report, ServerFacts};
use crate::timeline::thousands;

/// Up to this many servers the full list is the section, open, as it always was; above it the
/// failed and the slowest lead and the full list is folded away (a closed `<details>`, which the
/// browser parses but does not lay out: a 10,000-row table open would take seconds to draw).
pub const FULL_LIST_OPEN_UP_TO: usize = 50;
/// The failed servers listed first, at most: the rest are in the full list (and report.json).
pub const FAILED_SHOWN: usize = 20;
/// The slowest launches listed first.
pub const SLOWEST_SHOWN: usize = 10;

pub(super) fn servers(h: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(h, "\n<h2>Servers</h2>")?;
    summary(h, r)?;
    if r.servers.len() <= FULL_LIST_OPEN_UP_TO {
        return full_list(h, r);
    }
    failed(h, r)?;
    slowest(h, r)?;
    writeln!(
        h,
        "<details id=\"all-servers\"><summary>Every server ({}), wave by wave</summary>",
        thousands(r.servers.len())
    )?;
    full_list(h, r)?;
    writeln!(h, "</details>")
}

/// How many servers launched, failed (and were required), are launching, have not launched.
fn summary(h: &mut String, r: &Report) -> std::fmt::Result {
    let count = |f: &dyn Fn(&ServerFacts) -> bool| r.servers.iter().filter(|s| f(s)).count();
    let launched = count(&|s| launched(s));
    let failed = count(&|s| s.launch_status == "FAILED");
    let failed_required = count(&|s| s.launch_status == "FAILED" && s.required);
    let pending = count(&|s| s.launch_started_at.is_none() && !launched_or_failed(s));
    let running = r.servers.len() - launched - failed - pending;
    let mut parts = vec![
        format!("{} launched", thousands(launched)),
        format!(
            "{} failed{}",
            thousands(failed),
            match (failed, failed_required) {
                (0, _) => String::new(),
                (_, 0) => " (none of them required)".to_owned(),
                (_, k) => format!(" ({} of them required)", thousands(k)),
            }
        ),
    ];
    if running > 0 {
        parts.push(format!("{} launching", thousands(running)));
    }
    if pending > 0 {
        parts.push(format!("{} not launched", thousands(pending)));
    }
    writeln!(
        h,
        "<p id=\"servers-summary\">{} server{}: {}.</p>",
        thousands(r.servers.len()),
        if r.servers.len() == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

fn launched(s: &ServerFacts) -> bool {
    matches!(s.launch_status.as_str(), "LAUNCHED" | "TERMINATED")
}

fn launched_or_failed(s: &ServerFacts) -> bool {
    launched(s) || s.launch_status == "FAILED"
}

fn name(s: &ServerFacts) -> String {
    esc(s.hostname.as_deref().unwrap_or(&s.source_server_id))
}

/// The failed servers, the required ones first, then by wave (the report's order).
fn failed(h: &mut String, r: &Report) -> std::fmt::Result {
    let mut failed: Vec<&ServerFacts> = r
        .servers
        .iter()
        .filter(|s| s.launch_status == "FAILED")
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    failed.sort_by_key(|s| !s.required);
    writeln!(
        h,
        "<h3>Failed servers</h3>\n<table id=\"failed-servers\">\n<thead><tr><th>hostname</th><th>source server</th><th>wave</th><th>required</th><th>failure reason</th></tr></thead>\n<tbody>"
    )?;
    for s in failed.iter().take(FAILED_SHOWN) {
        writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
            name(s),
            esc(&s.source_server_id),
            s.wave_index,
            esc(&s.wave_name),
            if s.required { "yes" } else { "no" },
            failure_and_warnings(s)
        )?;
    }
    writeln!(h, "</tbody>\n</table>")?;
    if failed.len() > FAILED_SHOWN {
        writeln!(
            h,
            "<p><small>And {} more failed servers: in the full list below, and in report.json.</small></p>",
            thousands(failed.len() - FAILED_SHOWN)
        )?;
    }
    Ok(())
}

/// The longest launches (from the server's first event to LAUNCHED), longest first.
fn slowest(h: &mut String, r: &Report) -> std::fmt::Result {
    let start = parse_time(&r.execution.started_at);
    let mut took: Vec<(u64, Option<u64>, &ServerFacts)> = r
        .servers
        .iter()
        .filter(|s| launched(s))
        .filter_map(|s| {
            let from = parse_time(s.launch_started_at.as_deref()?)?;
            let to = parse_time(s.launch_ended_at.as_deref()?)?;
            let at = start.map(|start| seconds_between(start, to));
            Some((seconds_between(from, to), at, s))
        })
        .collect();
    if took.is_empty() {
        return Ok(());
    }
    // Longest first; among equals, the report's order (a stable sort).
    took.sort_by_key(|(t, ..)| std::cmp::Reverse(*t));
    writeln!(
        h,
        "<h3>Slowest servers</h3>\n<table id=\"slowest-servers\">\n<thead><tr><th>hostname</th><th>source server</th><th>wave</th><th>launch took</th><th>launched at (from start)</th></tr></thead>\n<tbody>"
    )?;
    for (t, at, s) in took.iter().take(SLOWEST_SHOWN) {
        writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{} {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            name(s),
            esc(&s.source_server_id),
            s.wave_index,
            esc(&s.wave_name),
            human_seconds(*t),
            at.map_or_else(|| "-".to_owned(), |a| format!("+{}", human_seconds(a)))
        )?;
    }
    writeln!(
        h,
        "</tbody>\n</table>\n<p><small>A launch ends at its job's end (DRS logs no per-server launch end): a server of a slow job reads slow.</small></p>"
    )
}

/// Every server, wave by wave.
fn full_list(h: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(
        h,
        "<table id=\"servers\">\n<thead><tr><th>hostname</th><th>source server</th><th>wave</th><th>job</th><th>snapshot (age)</th><th>recovery instance</th><th>status</th><th>failure reason</th></tr></thead>\n<tbody>"
    )?;
    for s in &r.servers {
        server_row(h, s)?;
    }
    writeln!(h, "</tbody>\n</table>")
}

fn server_row(h: &mut String, s: &ServerFacts) -> std::fmt::Result {
    let optional = if s.required {
        ""
    } else {
        " <small>(optional)</small>"
    };
    let age = s
        .snapshot_age_seconds
        .map(|a| format!(" ({})", human_seconds(a)))
        .unwrap_or_default();
    // No snapshot named: DRS took an on-demand one at launch, at this time.
    let snapshot = match (
        &s.snapshot_id,
        &s.snapshot_taken_at,
        s.replicated_back_bytes,
    ) {
        (_, _, Some(bytes)) => format!("replicated back {}", human_bytes(bytes)),
        (Some(id), _, None) => id.clone(),
        (None, Some(at), None) => format!("on-demand {at}"),
        (None, None, None) => String::new(),
    };
    let ec2 = match &s.ec2_instance_id {
        Some(i) if Some(i) != s.recovery_instance_id.as_ref() => {
            format!("<br>EC2 <code>{}</code>", esc(i))
        }
        _ => String::new(),
    };
    writeln!(
        h,
        "<tr><td>{}{optional}</td><td><code>{}</code></td><td>{} {}</td><td><code>{}</code></td><td><code>{}</code>{age}</td><td><code>{}</code>{ec2}</td><td>{}</td><td>{}</td></tr>",
        esc(opt(&s.hostname, "")),
        esc(&s.source_server_id),
        s.wave_index,
        esc(&s.wave_name),
        esc(opt(&s.job_id, "")),
        esc(&snapshot),
        esc(opt(&s.recovery_instance_id, "")),
        esc(&s.launch_status),
        failure_and_warnings(s)
    )
}

/// The failure reason cell: the reason, then each warning (an optional post-launch action
/// that failed) marked as one.
fn failure_and_warnings(s: &ServerFacts) -> String {
    let mut cell = esc(opt(&s.failure_reason, ""));
    for w in &s.warnings {
        if !cell.is_empty() {
            cell.push_str("<br>");
        }
        cell.push_str(&format!(
            "<span class=\"warning\">warning: {}</span>",
            esc(w)
        ));
    }
    cell
}
