//! `drs-waves-report`: the evidence of a recovery. One execution as a self-contained HTML page
//! (inline CSS and an SVG timeline, prints on A4) and the same facts as JSON, whose schema is
//! `statemachines/schemas/report.schema.json`.
//!
//! - [`fetch`] gathers the facts (history table, Step Functions, DRS),
//! - [`build`] turns them into a [`Report`] (pure: RTO and RPO verdicts),
//! - [`timeline`] lays out the SVG (pure), [`render`] fills the page's template.
//!
//! The plan's targets are read from the state machine that ran (its preflight state's
//! `targets`), not from a plan file: a plan edited after the drill does not change its report.

pub mod build;
pub mod fetch;
pub mod model;
pub mod render;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use model::{Report, VerdictKind, schema};

/// The two files of a report.
pub const HTML_FILE: &str = "report.html";
pub const JSON_FILE: &str = "report.json";

/// Writes `report.html` and `report.json` into `dir` (created if missing); returns the HTML's
/// path.
pub fn write(report: &Report, dir: &Path) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let html = render::html(report).context("rendering the report's page")?;
    let html_path = dir.join(HTML_FILE);
    std::fs::write(&html_path, html).with_context(|| format!("writing {}", html_path.display()))?;
    let json_path = dir.join(JSON_FILE);
    let mut json = serde_json::to_string_pretty(report)?;
    json.push('\n');
    std::fs::write(&json_path, json).with_context(|| format!("writing {}", json_path.display()))?;
    Ok(html_path)
}

/// The schema file's text (pretty JSON, trailing newline), as checked in.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
