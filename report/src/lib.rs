//! `drs-waves-report`: the evidence of a recovery, one execution as a self-contained HTML page
//! (inline CSS and an SVG timeline, prints on A4) and the same facts as JSON, whose schema is
//! `statemachines/schemas/report.schema.json`.
//!
//! The report is `drs_waves_report_core` (re-exported here): pure, so the worker links it too
//! and writes the same report to S3 at the end of every execution. The facts are gathered by
//! `drs_worker::evidence::gather` (the history through the worker's History seam, Step
//! Functions, DRS), the same function for both.

pub use drs_waves_report_core::*;
pub use drs_worker::evidence::{
    EvidenceApis, GatherError, SdkEvidenceApis, forecast, gather, plan_and_targets,
};

use drs_worker::history::History;

/// Gathers the sources of one execution and builds its report.
pub async fn report_of<H: History>(
    history: &H,
    table: &str,
    apis: &dyn EvidenceApis,
    execution_arn: &str,
    now: time::OffsetDateTime,
) -> Result<Report, GatherError> {
    let sources = gather(history, table, apis, execution_arn, now).await?;
    Ok(build::build(&sources))
}
