//! drs-waves-report: the evidence of a recovery. One execution as a self-contained HTML page
//! (inline CSS and an SVG timeline, prints on A4) and the same facts as JSON, whose schema (the
//! `schema` feature) is `statemachines/schemas/report.schema.json`.
//!
//! - [`gather`] reads the sources ([`build::Sources`]): the history (through
//!   `drs_waves_history`), Step Functions and DRS (through [`gather::EvidenceApis`]), past
//!   executions; and makes the forecast of a plan from its past executions,
//! - [`build`] turns them into a [`Report`] (RTO and RPO verdicts, the forecast beside them),
//!   pure,
//! - [`timeline`] lays out the SVG, [`render`] writes the page (by hand: no template engine);
//!   a large recovery reads wave by wave (a bar per outcome, the failed and slowest servers
//!   first), which `sample`'s made-up 10,000-server estate (feature `sample`) shows.
//!
//! The worker writes the same report to S3 at the end of every execution, and
//! `drs-waves report EXECUTION -o DIR` writes it to a directory: one [`report_of`] for both.

pub mod build;
pub mod clock;
pub mod gather;
pub mod model;
pub mod native;
pub mod render;
#[cfg(any(test, feature = "sample"))]
pub mod sample;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use gather::{EvidenceApis, GatherError, SdkEvidenceApis, forecast, gather, plan_and_targets};
#[cfg(feature = "schema")]
pub use model::schema;
pub use model::{Forecast, Report, VerdictKind, WaveForecast};

/// Gathers the sources of one execution and builds its report.
pub async fn report_of<H: drs_waves_history::History>(
    history: &H,
    table: &str,
    apis: &dyn EvidenceApis,
    execution_arn: &str,
    now: time::OffsetDateTime,
) -> Result<Report, GatherError> {
    let sources = gather(history, table, apis, execution_arn, now).await?;
    Ok(build::build(&sources))
}

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
