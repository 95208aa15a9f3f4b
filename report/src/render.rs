//! The HTML page: one self-contained file (inline CSS and SVG, no script, nothing loaded from
//! elsewhere) that prints on A4.

use serde::Serialize;
use tera::{Context, Tera};

use crate::build::{human_seconds, parse_time};
use crate::model::{Report, ServerFacts, Verdict, WaveFacts};
use crate::timeline;

const TEMPLATE: &str = include_str!("../templates/report.html");

#[derive(Serialize)]
struct WaveView<'a> {
    f: &'a WaveFacts,
    duration: String,
    achieved: String,
    target: String,
    verdict: &'static str,
}

#[derive(Serialize)]
struct ServerView<'a> {
    f: &'a ServerFacts,
    age: Option<String>,
}

fn or_dash(seconds: Option<u64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), human_seconds)
}

fn target_text(v: &Verdict) -> String {
    v.target_seconds
        .map_or_else(|| "none".to_owned(), human_seconds)
}

/// Renders the page. Every text from the sources is HTML-escaped (Tera's autoescape for
/// `.html` templates).
pub fn html(report: &Report) -> Result<String, tera::Error> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_template("report.html", TEMPLATE)?;
    let now = parse_time(&report.generated_at).unwrap_or_else(time::OffsetDateTime::now_utc);
    let mut ctx = Context::new();
    ctx.insert("r", report);
    ctx.insert("t", &timeline::layout(report, now));
    ctx.insert("rto_text", report.rto.verdict.text());
    ctx.insert("rpo_text", report.rpo.verdict.text());
    ctx.insert("rto_achieved", &or_dash(report.rto.achieved_seconds));
    ctx.insert("rto_target", &target_text(&report.rto));
    ctx.insert("rpo_achieved", &or_dash(report.rpo.achieved_seconds));
    ctx.insert("rpo_target", &target_text(&report.rpo));
    ctx.insert(
        "duration",
        &human_seconds(report.execution.duration_seconds),
    );
    ctx.insert(
        "input",
        &report
            .execution
            .input
            .as_ref()
            .map_or_else(|| "not known".to_owned(), |i| i.to_string()),
    );
    let waves: Vec<WaveView> = report
        .waves
        .iter()
        .map(|w| WaveView {
            f: w,
            duration: or_dash(w.duration_seconds),
            achieved: or_dash(w.rto.achieved_seconds),
            target: target_text(&w.rto),
            verdict: w.rto.verdict.text(),
        })
        .collect();
    ctx.insert("waves", &waves);
    let servers: Vec<ServerView> = report
        .servers
        .iter()
        .map(|s| ServerView {
            f: s,
            age: s.snapshot_age_seconds.map(human_seconds),
        })
        .collect();
    ctx.insert("servers", &servers);
    tera.render("report.html", &ctx)
}
