//! Metrics as CloudWatch embedded-metric-format (EMF) lines: one JSON object per line on
//! stdout, which CloudWatch Logs turns into metrics of the namespace [`NAMESPACE`] with the
//! dimensions Plan and Mode. The CDK app's alarms watch them (cdk/README.md).

use drs_waves_contract::Mode;

pub const NAMESPACE: &str = "DrsWaves";
/// 1 when an execution ended SUCCEEDED_WITH_FAILURES, or SUCCEEDED with failed optional servers.
pub const EXECUTIONS_SUCCEEDED_WITH_FAILURES: &str = "ExecutionsSucceededWithFailures";
/// 1 when a drill's clean-up could not finish and was left PENDING.
pub const CLEANUP_PENDING: &str = "CleanupPending";

/// The EMF line of one count of `metric` for a plan and mode.
pub fn line(metric: &str, plan: &str, mode: Mode, timestamp_ms: i128) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Plan", "Mode"]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        "Plan": plan,
        "Mode": mode.as_str(),
        metric: 1,
    })
    .to_string()
}

/// Writes one count of `metric` to stdout, a line of its own.
pub fn emit(metric: &str, plan: &str, mode: Mode) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    println!("{}", line(metric, plan, mode, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_names_the_metric_its_dimensions_and_a_count() {
        let v: serde_json::Value = serde_json::from_str(&line(
            CLEANUP_PENDING,
            "billing",
            Mode::Drill,
            1_700_000_000_000,
        ))
        .expect("json");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Plan", "Mode"]])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            CLEANUP_PENDING
        );
        assert_eq!(v["Plan"], "billing");
        assert_eq!(v["Mode"], "DRILL");
        assert_eq!(v[CLEANUP_PENDING], 1);
    }
}
