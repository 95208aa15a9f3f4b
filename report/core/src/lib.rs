//! `drs-waves-report-core`: the evidence of a recovery, without I/O. One execution as a
//! self-contained HTML page (inline CSS and an SVG timeline, prints on A4) and the same facts as
//! JSON, whose schema (the `schema` feature) is `statemachines/schemas/report.schema.json`.
//!
//! - [`build`] turns what the sources said ([`build::Sources`]: the history, Step Functions,
//!   DRS, past executions) into a [`Report`] (RTO and RPO verdicts, the forecast beside them),
//! - [`timeline`] lays out the SVG, [`render`] writes the page (by hand: no template engine, so
//!   the worker that links this crate stays small).
//!
//! Gathering the sources is not here: the worker does it through its own seams
//! (`drs_worker::evidence`), at the end of an execution (the copy it writes to S3) and for
//! `drs-waves-report EXECUTION -o DIR`, so both make the same report.

pub mod build;
pub mod clock;
pub mod model;
pub mod render;
pub mod timeline;

use std::path::{Path, PathBuf};

#[cfg(feature = "schema")]
pub use model::schema;
pub use model::{Forecast, Report, VerdictKind, WaveForecast};

/// The two files of a report.
pub const HTML_FILE: &str = "report.html";
pub const JSON_FILE: &str = "report.json";

/// One file of a report: its name, media type and content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFile {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// `report.html` and `report.json` of a report, as written to a directory or to S3.
pub fn files(report: &Report) -> Result<[ReportFile; 2], serde_json::Error> {
    let mut json = serde_json::to_string_pretty(report)?;
    json.push('\n');
    Ok([
        ReportFile {
            name: HTML_FILE,
            content_type: "text/html; charset=utf-8",
            body: render::html(report).into_bytes(),
        },
        ReportFile {
            name: JSON_FILE,
            content_type: "application/json",
            body: json.into_bytes(),
        },
    ])
}

/// Writes `report.html` and `report.json` into `dir` (created if missing); returns the HTML's
/// path.
pub fn write(report: &Report, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for f in files(report)? {
        std::fs::write(dir.join(f.name), &f.body)?;
    }
    Ok(dir.join(HTML_FILE))
}

/// The schema file's text (pretty JSON, trailing newline), as checked in.
#[cfg(feature = "schema")]
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
