//! The HTML page: one self-contained file (inline CSS and SVG, no script, nothing loaded from
//! elsewhere) that prints on A4.
//!
//! Written by hand rather than with a template engine: the worker renders reports at the end of
//! every execution and its binary stays small. Every text that comes from a source goes through
//! [`esc`]; only this module's own literals are written raw.

use std::fmt::Write;

use crate::clock::{human_bytes, human_seconds, parse_time};
use crate::model::{Report, ServerFacts, Verdict, VerdictKind};
use crate::timeline::{self, Timeline, thousands};

mod forecast;
mod servers;
mod svg;
pub use forecast::forecast_text;
pub use servers::{FAILED_SHOWN, FULL_LIST_OPEN_UP_TO, SLOWEST_SHOWN};

const STYLE: &str = r#"@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.4 -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #1b1f24; margin: 0 auto; max-width: 186mm; padding: 8px; }
h1 { font-size: 17pt; margin: 0 0 2px; }
h3 { font-size: 10.5pt; margin: 10px 0 4px; }
details > summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
h2 { font-size: 12.5pt; margin: 18px 0 6px; border-bottom: 1px solid #c9d1d9; padding-bottom: 2px; break-after: avoid; }
.sub { color: #57606a; margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; font-size: 9pt; }
th, td { border: 1px solid #d0d7de; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
tr { break-inside: avoid; }
td.num { text-align: right; white-space: nowrap; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 8.5pt; word-break: break-all; }
.verdicts { display: flex; gap: 10px; margin: 10px 0; }
.verdict { flex: 1 1 0; min-width: 0; border: 2px solid #d0d7de; border-radius: 6px; padding: 8px 10px; }
.verdict .big { font-size: 18pt; font-weight: 700; }
.PASS { color: #116329; border-color: #2da44e; }
.FAIL { color: #a40e26; border-color: #cf222e; }
.PENDING, .FORECAST { color: #57606a; }
.NO_TARGET, .LAUNCHED { color: #1b1f24; }
.verdict .note { color: #1b1f24; font-size: 9pt; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 8.5pt; font-weight: 600; border: 1px solid currentColor; }
.running { background: #fff8c5; border: 1px solid #d4a72c; padding: 6px 10px; border-radius: 6px; margin: 8px 0; }
.timeline { width: 100%; height: auto; break-inside: avoid; }
.timeline text { font-size: 9px; fill: #1b1f24; }
.timeline .band.shaded { fill: #f6f8fa; }
.timeline .band { fill: #ffffff; }
.timeline .bandlabel { font-weight: 600; }
.timeline .tick { stroke: #d0d7de; stroke-width: 0.5; }
.timeline .bar.launched { fill: #2da44e; }
.timeline .bar.failed { fill: #cf222e; }
.timeline .bar.running { fill: #d4a72c; }
.timeline .bar.pending { fill: #8c959f; }
.timeline .bar.group { fill-opacity: 0.75; }
.timeline .target { stroke: #8250df; stroke-width: 1.2; stroke-dasharray: 4 3; }
.timeline .targetlabel { fill: #8250df; font-size: 8px; }
.timeline .marker { stroke: #1b1f24; stroke-width: 1; }
.timeline .marker.operator { stroke: #0969da; stroke-dasharray: 2 2; }
.timeline .markerlabel.operator { fill: #0969da; font-size: 8px; }
.legend span { margin-right: 12px; font-size: 8.5pt; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; vertical-align: -1px; }
dl.facts { display: grid; grid-template-columns: 34mm 1fr; gap: 1px 8px; margin: 0; font-size: 9.5pt; }
dl.facts dt { color: #57606a; }
dl.facts dd { margin: 0; }
pre { white-space: pre-wrap; word-break: break-all; background: #f6f8fa; padding: 4px 6px; margin: 0; font-size: 8.5pt; }
footer { margin-top: 16px; color: #57606a; font-size: 8.5pt; }
"#;

/// HTML-escapes a text from the sources (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2F;"),
            c => out.push(c),
        }
    }
    out
}

fn or_dash(seconds: Option<u64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), human_seconds)
}

fn target_text(v: &Verdict) -> String {
    v.target_seconds
        .map_or_else(|| "none".to_owned(), human_seconds)
}

fn opt<'a>(v: &'a Option<String>, default: &'a str) -> &'a str {
    v.as_deref().unwrap_or(default)
}

/// Renders the page.
pub fn html(r: &Report) -> String {
    let now = parse_time(&r.generated_at).unwrap_or_else(time::OffsetDateTime::now_utc);
    let t = timeline::layout(r, now);
    let mut h = String::with_capacity(32 * 1024);
    // Writing to a String cannot fail.
    let _ = page(&mut h, r, &t);
    h
}

fn page(h: &mut String, r: &Report, t: &Timeline) -> std::fmt::Result {
    let e = &r.execution;
    writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    writeln!(
        h,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        h,
        "<meta name=\"generator\" content=\"drs-waves-report {}\">",
        r.report_version
    )?;
    writeln!(
        h,
        "<title>Recovery report: {} / {}</title>",
        esc(&r.plan.name),
        esc(&e.name)
    )?;
    writeln!(h, "<style>\n{STYLE}</style>\n</head>\n<body>")?;
    writeln!(h, "<h1>Recovery report: {}</h1>", esc(&r.plan.name))?;
    writeln!(
        h,
        "<p class=\"sub\">{} execution <code>{}</code>, outcome <strong id=\"outcome\">{}</strong>. Generated {}.</p>",
        esc(opt(&e.mode, "unknown mode")),
        esc(&e.name),
        esc(&e.status),
        esc(&r.generated_at)
    )?;
    if e.running {
        writeln!(
            h,
            "<p class=\"running\" id=\"running-note\">This execution is still RUNNING: the report shows what is known at {}.</p>",
            esc(&r.generated_at)
        )?;
    }
    verdicts(h, r)?;
    execution(h, r)?;
    svg::svg(h, t)?;
    waves(h, r)?;
    servers::servers(h, r)?;
    operator_actions(h, r)?;
    cleanup(h, r)?;
    if !r.warnings.is_empty() {
        writeln!(h, "<h2>Warnings</h2>\n<ul>")?;
        for w in &r.warnings {
            writeln!(h, "<li>{}</li>", esc(w))?;
        }
        writeln!(h, "</ul>")?;
    }
    writeln!(h, "<h2>Sources</h2>\n<ul>")?;
    for s in &r.sources {
        writeln!(h, "<li>{}</li>", esc(s))?;
    }
    writeln!(h, "</ul>")?;
    writeln!(
        h,
        "<footer>drs-waves recovery report, version {}. The same facts are in report.json beside this page.</footer>\n</body>\n</html>",
        r.report_version
    )
}

fn verdicts(h: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(h, "<div class=\"verdicts\">")?;
    let boxes = [
        ("rto-verdict", "Recovery time (RTO)", "achieved", &r.rto),
        ("rpo-verdict", "Recovery point (RPO)", "worst", &r.rpo),
    ];
    for (id, title, what, v) in boxes {
        // No target: the figure itself leads, not a verdict there is nothing to judge by.
        let (big, line) = if v.verdict == VerdictKind::NoTarget {
            (or_dash(v.achieved_seconds), what.to_owned())
        } else {
            (
                v.verdict.text().to_owned(),
                format!(
                    "{what} {} / target {}",
                    or_dash(v.achieved_seconds),
                    target_text(v)
                ),
            )
        };
        writeln!(
            h,
            "  <div class=\"verdict {}\" id=\"{id}\" data-verdict=\"{}\">\n    <div>{title}</div>\n    <div class=\"big\">{big}</div>\n    <div class=\"note\">{line}<br>{}</div>\n  </div>",
            verdict_class(v),
            v.verdict.text(),
            esc(&v.note)
        )?;
    }
    launched_box(h, r)?;
    // The forecast beside the outcome (numbers and this module's words: nothing to escape).
    let (big, note) = match r.forecast.as_ref() {
        Some(f) => match f.recovery {
            Some(d) => (
                format!(
                    "{} / {}",
                    human_seconds(d.p50_seconds),
                    human_seconds(d.p90_seconds)
                ),
                format!(
                    "p50 / p90 of the recovery time of the last {} successful execution(s) before this one",
                    d.samples
                ),
            ),
            None if f.executions.is_empty() => (
                "-".to_owned(),
                "no earlier successful execution of the plan to learn from".to_owned(),
            ),
            None => (
                "-".to_owned(),
                "no earlier successful execution recovered every wave".to_owned(),
            ),
        },
        None => (
            "-".to_owned(),
            "the past executions could not be read".to_owned(),
        ),
    };
    writeln!(
        h,
        "  <div class=\"verdict FORECAST\" id=\"rto-forecast\">\n    <div>Forecast RTO (p50 / p90)</div>\n    <div class=\"big\">{big}</div>\n    <div class=\"note\">{note}</div>\n  </div>\n</div>"
    )
}

/// How many servers launched, of how many: the figure a large recovery is judged by first.
fn launched_box(h: &mut String, r: &Report) -> std::fmt::Result {
    let launched = r
        .servers
        .iter()
        .filter(|s| matches!(s.launch_status.as_str(), "LAUNCHED" | "TERMINATED"))
        .count();
    let failed: Vec<&ServerFacts> = r
        .servers
        .iter()
        .filter(|s| s.launch_status == "FAILED")
        .collect();
    let required = failed.iter().filter(|s| s.required).count();
    let note = match (failed.len(), required) {
        (0, _) => "none failed".to_owned(),
        (n, 0) => format!("{} failed, none of them required", thousands(n)),
        (n, k) => format!("{} failed, {} of them required", thousands(n), thousands(k)),
    };
    let class = if required > 0 { "FAIL" } else { "LAUNCHED" };
    writeln!(
        h,
        "  <div class=\"verdict {class}\" id=\"servers-launched\">\n    <div>Servers launched</div>\n    <div class=\"big\">{} / {}</div>\n    <div class=\"note\">{note}</div>\n  </div>",
        thousands(launched),
        thousands(r.servers.len())
    )
}

/// A wave's verdict as a badge; none (a dash) when its plan sets no target.
fn verdict_badge(v: &Verdict) -> String {
    if v.verdict == VerdictKind::NoTarget {
        return "<span class=\"no-target\">-</span>".to_owned();
    }
    format!(
        "<span class=\"badge {}\">{}</span>",
        verdict_class(v),
        v.verdict.text()
    )
}

/// A wave's jobs listed in its row, at most; more are folded. A job ID takes a line and a half
/// of the narrow column: a large wave's jobs (15 for 1,500 servers) would make its row a column
/// of IDs, and the 40 rows of a large plan pages of them.
const JOBS_SHOWN: usize = 1;

/// The verdict's CSS class: its JSON name (PASS, FAIL, NO_TARGET, PENDING).
fn verdict_class(v: &Verdict) -> String {
    serde_json::to_value(v.verdict)
        .ok()
        .and_then(|j| j.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn execution(h: &mut String, r: &Report) -> std::fmt::Result {
    let e = &r.execution;
    let input = e
        .input
        .as_ref()
        .map_or_else(|| "not known".to_owned(), |i| i.to_string());
    writeln!(h, "\n<h2>Execution</h2>\n<dl class=\"facts\">")?;
    let mut fact = |dt: &str, dd: String| writeln!(h, "  <dt>{dt}</dt><dd>{dd}</dd>");
    fact("Plan", esc(&r.plan.name))?;
    fact("Mode", esc(opt(&e.mode, "not understood")))?;
    fact("Execution", format!("<code>{}</code>", esc(&e.arn)))?;
    fact(
        "State machine",
        format!("<code>{}</code>", esc(opt(&e.state_machine_arn, "unknown"))),
    )?;
    fact("Started", esc(&e.started_at))?;
    fact("Ended", esc(opt(&e.ended_at, "still running")))?;
    fact("Duration", human_seconds(e.duration_seconds))?;
    // A FAILBACK: what its instances replicated back before they came home.
    let back: Vec<u64> = r
        .servers
        .iter()
        .filter_map(|s| s.replicated_back_bytes)
        .collect();
    if !back.is_empty() {
        fact(
            "Replicated back",
            format!(
                "{} from {} recovery instance(s)",
                human_bytes(back.iter().sum()),
                back.len()
            ),
        )?;
    }
    fact(
        "Status",
        format!(
            "{} (Step Functions: {})",
            esc(&e.status),
            esc(opt(&e.machine_status, "not asked"))
        ),
    )?;
    fact(
        "Started by",
        format!(
            "{}. {}",
            esc(opt(&e.started_by, "not recorded")),
            esc(&e.started_by_note)
        ),
    )?;
    fact("Input", format!("<pre>{}</pre>", esc(&input)))?;
    if let Some(p) = &e.point_in_time {
        fact("Point in time", esc(p))?;
    }
    if let Some(x) = &e.error {
        fact("Error", format!("<code>{}</code>", esc(x)))?;
    }
    if let Some(x) = &e.cause {
        fact("Cause", format!("<pre>{}</pre>", esc(x)))?;
    }
    if let Some(x) = &e.preempted_by {
        fact("Preempted by", format!("<code>{}</code>", esc(x)))?;
    }
    writeln!(h, "</dl>")
}

fn waves(h: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(
        h,
        "\n<h2>Waves</h2>\n<table id=\"waves\">\n<thead><tr><th>#</th><th>wave</th><th>status</th><th>servers</th><th>jobs</th><th>duration (forecast p50 / p90)</th><th>recovered at (from start)</th><th>target</th><th>verdict</th></tr></thead>\n<tbody>"
    )?;
    for w in &r.waves {
        let reason = w
            .reason
            .as_ref()
            .map(|x| format!("<br><small>{}</small>", esc(x)))
            .unwrap_or_default();
        let mut jobs: String = w
            .job_ids
            .iter()
            .map(|j| format!("<code>{}</code> ", esc(j)))
            .collect();
        if w.job_ids.len() > JOBS_SHOWN {
            jobs = format!(
                "<details><summary>{} jobs</summary>{jobs}</details>",
                w.job_ids.len()
            );
        }
        let forecast = r
            .forecast
            .as_ref()
            .and_then(|f| f.waves.iter().find(|x| x.index == w.index))
            .map(|x| {
                let healthy = x
                    .to_healthy
                    .map(|h| {
                        format!(
                            "; healthy {} / {}",
                            human_seconds(h.p50_seconds),
                            human_seconds(h.p90_seconds)
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "<br><small class=\"forecast\">{} / {} ({} run{}){healthy}</small>",
                    human_seconds(x.duration.p50_seconds),
                    human_seconds(x.duration.p90_seconds),
                    x.duration.samples,
                    if x.duration.samples == 1 { "" } else { "s" }
                )
            })
            .unwrap_or_default();
        let account = w
            .account
            .as_ref()
            .map(|a| {
                format!(
                    "<br><small class=\"account\">in {}</small>",
                    esc(&a.describe())
                )
            })
            .unwrap_or_default();
        let account = match w.health_note() {
            Some(n) => format!("{account}<br><small class=\"health\">{}</small>", esc(&n)),
            None => account,
        };
        writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}{account}{reason}</td><td>{}</td><td class=\"num\">{} launched / {} failed / {}</td><td>{jobs}</td><td class=\"num\">{}{forecast}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            w.index,
            esc(&w.name),
            esc(&w.status),
            w.launched,
            w.failed,
            w.servers,
            or_dash(w.duration_seconds),
            or_dash(w.rto.achieved_seconds),
            target_text(&w.rto),
            verdict_badge(&w.rto)
        )?;
    }
    writeln!(h, "</tbody>\n</table>")?;
    if let Some(f) = &r.forecast {
        let note = match f.executions.len() {
            0 => "Forecast: no earlier successful execution of the plan to learn from.".to_owned(),
            n => format!(
                "Forecast (small print under each duration): the wave's duration, from its start to its last required server LAUNCHED, over the last {n} successful execution{} of the plan before this one (at most {}).",
                if n == 1 { "" } else { "s" },
                f.executions_wanted
            ),
        };
        writeln!(h, "<p id=\"forecast-note\"><small>{note}</small></p>")?;
    }
    Ok(())
}

fn operator_actions(h: &mut String, r: &Report) -> std::fmt::Result {
    writeln!(h, "\n<h2>Operator actions</h2>")?;
    if r.operator_actions.is_empty() {
        return writeln!(h, "<p>{}</p>", esc(&r.operator_actions_note));
    }
    writeln!(
        h,
        "<table id=\"operator-actions\"><thead><tr><th>when</th><th>who</th><th>action</th><th>wave</th></tr></thead><tbody>"
    )?;
    for a in &r.operator_actions {
        let wave = match (a.wave_index, &a.wave_name) {
            (Some(i), Some(n)) => format!("{i} {}", esc(n)),
            (Some(i), None) => i.to_string(),
            (None, Some(n)) => esc(n),
            (None, None) => String::new(),
        };
        writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{wave}</td></tr>",
            esc(&a.at),
            esc(&a.by),
            esc(&a.action)
        )?;
    }
    writeln!(h, "</tbody></table>")
}

fn cleanup(h: &mut String, r: &Report) -> std::fmt::Result {
    let c = &r.cleanup;
    writeln!(h, "\n<h2>Clean-up</h2>")?;
    let status = match &c.status {
        Some(s) => format!("Clean-up: <strong>{}</strong>", esc(s)),
        None => "Clean-up: not done yet".to_owned(),
    };
    let error = c
        .error
        .as_ref()
        .map(|x| format!(" Error: {}", esc(x)))
        .unwrap_or_default();
    writeln!(
        h,
        "<p>{status}. The plan {} a drill's recovery instances at the end.{error}</p>",
        if c.terminate_drill_instances {
            "terminates"
        } else {
            "keeps"
        }
    )?;
    if !c.terminate_job_ids.is_empty() {
        let jobs: String = c
            .terminate_job_ids
            .iter()
            .map(|j| format!("<code>{}</code> ", esc(j)))
            .collect();
        let instances: String = c
            .terminated_instances
            .iter()
            .map(|i| format!("<code>{}</code> ", esc(i)))
            .collect();
        writeln!(h, "<p>Terminate jobs: {jobs}; instances: {instances}</p>")?;
    }
    Ok(())
}
