//! `drs-waves start`'s check of the plan's launch points against its `rpoMinutes`, before a
//! RECOVERY is confirmed (issue #21): the same judgement preflight makes, read the same way
//! (`drs_waves_aws::drs::launch_points`).

use drs_waves_contract::{Mode, PlanSpec};
use time::OffsetDateTime;

use crate::aws::Aws;

/// The plan's launch points against its `rpoMinutes`, as preflight will judge them: what a
/// RECOVERY's operator must know before confirming, and why a DRILL would be refused. A check
/// that cannot be made never stops a start; preflight makes it again.
pub async fn rpo_check(
    aws: &Aws,
    spec: &PlanSpec,
    mode: Mode,
    rpo_seconds: u32,
    point_in_time: Option<&str>,
    now: OffsetDateTime,
) -> String {
    let drs = drs_waves_aws::drs::SdkDrs::new(aws.drs.clone());
    let target = drs_waves_contract::clock::human_seconds(u64::from(rpo_seconds));
    let found = drs_waves_rules::launch_points::rpo_findings(
        &drs,
        spec,
        mode,
        rpo_seconds,
        point_in_time,
        now,
    )
    .await;
    match found {
        Ok(lines) if lines.is_empty() => {
            format!(
                "Recovery point: every required server is within the plan's {target} (rpoMinutes)\n"
            )
        }
        Ok(lines) => {
            let head = match mode {
                Mode::Drill => "preflight will REFUSE this drill",
                Mode::Recovery | Mode::Failback => {
                    "WARNING, the recovery will lose more data than the plan allows"
                }
            };
            let mut out = format!(
                "Recovery point: {head}: {} required server(s) past the plan's {target}:\n",
                lines.len()
            );
            for line in lines {
                out.push_str(&format!("  {line}\n"));
            }
            out
        }
        Err(e) => format!("Recovery point: not checked ({e}); preflight checks it\n"),
    }
}
