//! The report at the end of an execution: the finish and record-failure tasks each make one
//! call here, after the history has the end, the clean-up and the lock release. When a bucket
//! is configured ([`Evidence`]), both files go to `s3://<bucket>/<plan>/<execution name>/` and
//! the EXECUTION item records where (`reportLocation`), or why not (`reportError`).
//!
//! A report never fails or holds up the execution it describes: everything here is bounded by
//! [`Evidence::timeout`], and a failure is logged and recorded, never returned.

use tracing::{info, warn};

use super::Handlers;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::DrsAccounts;
use drs_waves_aws::s3::PutObject;
use drs_waves_history::{History, ReportOutcome};
use drs_waves_report as report;
use drs_waves_report::gather::{Evidence, gather};

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Where reports go; without it the tasks write none.
    pub fn with_evidence(mut self, evidence: Evidence) -> Self {
        self.evidence = Some(evidence);
        self
    }

    /// Writes the execution's report to the bucket, if one is configured, and records the
    /// outcome. Never fails.
    pub(super) async fn write_report(&self, execution_id: &str) {
        let Some(evidence) = &self.evidence else {
            return;
        };
        let outcome =
            match tokio::time::timeout(evidence.timeout, self.put_report(evidence, execution_id))
                .await
            {
                Ok(Ok(location)) => {
                    info!(report = %location, "report written");
                    ReportOutcome::Written(location)
                }
                Ok(Err(e)) => {
                    warn!(error = %e, "report not written; the execution goes on");
                    ReportOutcome::Failed(e)
                }
                Err(_) => {
                    let e = format!(
                        "writing the report to s3://{} took longer than {} s",
                        evidence.bucket,
                        evidence.timeout.as_secs()
                    );
                    warn!(error = %e, "report not written; the execution goes on");
                    ReportOutcome::Failed(e)
                }
            };
        // Bounded too: a history that hangs must not hold the task either.
        match tokio::time::timeout(
            evidence.timeout,
            self.history.record_report(execution_id, outcome),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "the report's outcome was not recorded"),
            Err(_) => warn!("recording the report's outcome timed out"),
        }
    }

    async fn put_report(&self, evidence: &Evidence, execution_id: &str) -> Result<String, String> {
        let sources = gather(
            &self.history,
            &evidence.table,
            evidence.apis.as_ref(),
            execution_id,
            self.now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let built = report::build::build(&sources);
        let files = report::files(&built).map_err(|e| format!("serializing the report: {e}"))?;
        let prefix = Evidence::prefix(&built.plan.name, &built.execution.name);
        for f in files {
            evidence
                .store
                .put_object_boxed(PutObject {
                    bucket: evidence.bucket.clone(),
                    key: format!("{prefix}{}", f.name),
                    content_type: f.content_type.to_owned(),
                    body: f.body,
                })
                .await
                .map_err(|e| format!("s3://{}/{prefix}{}: {e}", evidence.bucket, f.name))?;
        }
        Ok(evidence.location(&built.plan.name, &built.execution.name))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use drs_waves_contract::{ExecutionStatus, Mode};

    use crate::tasks::Handlers;
    use crate::testing::{FakeDrs, FakeExecutions, MemoryHistory};
    use drs_waves_aws::AwsError;
    use drs_waves_aws::s3::MemoryS3;
    use drs_waves_history::{ExecutionRecord, ReportOutcome, prelude::*};
    use drs_waves_report::gather::{Evidence, FakeEvidenceApis};
    use drs_waves_rules::Limits;

    const PLAN: &str = "billing";

    fn arn(name: &str) -> String {
        format!("arn:aws:states:us-east-1:000000000000:execution:{PLAN}:{name}")
    }

    fn record(name: &str, status: ExecutionStatus, started_at: &str) -> ExecutionRecord {
        ExecutionRecord {
            mode: Some(Mode::Drill),
            wave_count: 2,
            server_count: 2,
            ..ExecutionRecord::new(arn(name), name, PLAN, status, started_at)
        }
    }

    fn handlers(
        history: &MemoryHistory,
        store: &MemoryS3,
        timeout: Duration,
    ) -> Handlers<FakeDrs, MemoryHistory, FakeExecutions> {
        Handlers::new(
            FakeDrs::new(),
            history.clone(),
            FakeExecutions::new(),
            Limits::default(),
        )
        .with_evidence(Evidence {
            bucket: "dr-reports".into(),
            table: "drs-waves-history".into(),
            store: Arc::new(store.clone()),
            apis: Arc::new(FakeEvidenceApis::default()),
            timeout,
        })
    }

    #[tokio::test]
    async fn the_report_goes_to_the_bucket_under_plan_and_execution_and_its_place_is_recorded() {
        let history = MemoryHistory::new();
        let store = MemoryS3::new();
        history
            .create_execution(record(
                "drill-1",
                ExecutionStatus::Succeeded,
                "2026-11-28T10:00:00Z",
            ))
            .await
            .expect("create");
        handlers(&history, &store, Duration::from_secs(5))
            .write_report(&arn("drill-1"))
            .await;
        assert_eq!(
            store.keys(),
            vec!["billing/drill-1/report.html", "billing/drill-1/report.json"]
        );
        let json = store
            .object("dr-reports", "billing/drill-1/report.json")
            .expect("json");
        assert_eq!(json.content_type, "application/json");
        let report: drs_waves_report::Report =
            serde_json::from_slice(&json.body).expect("a report");
        assert_eq!(report.execution.arn, arn("drill-1"));
        // What the fake could not tell is said, not invented.
        assert!(
            report
                .sources
                .iter()
                .any(|s| s.contains("DescribeExecution failed")),
            "{:?}",
            report.sources
        );
        let html = store
            .object("dr-reports", "billing/drill-1/report.html")
            .expect("html");
        assert_eq!(html.content_type, "text/html; charset=utf-8");
        assert_eq!(
            html.body,
            drs_waves_report::render::html(&report).into_bytes(),
            "the page shows the JSON's facts"
        );
        assert_eq!(
            history.report_outcome(&arn("drill-1")).await.expect("read"),
            Some(ReportOutcome::Written(
                "s3://dr-reports/billing/drill-1/".into()
            ))
        );
    }

    #[tokio::test]
    async fn without_a_bucket_no_report_is_written() {
        let history = MemoryHistory::new();
        history
            .create_execution(record(
                "drill-1",
                ExecutionStatus::Succeeded,
                "2026-11-28T10:00:00Z",
            ))
            .await
            .expect("create");
        Handlers::new(
            FakeDrs::new(),
            history.clone(),
            FakeExecutions::new(),
            Limits::default(),
        )
        .write_report(&arn("drill-1"))
        .await;
        assert_eq!(
            history.report_outcome(&arn("drill-1")).await.expect("read"),
            None
        );
    }

    #[tokio::test]
    async fn a_failed_upload_is_recorded_and_does_not_fail_the_task() {
        let history = MemoryHistory::new();
        let store = MemoryS3::new();
        history
            .create_execution(record(
                "drill-1",
                ExecutionStatus::Failed,
                "2026-11-28T10:00:00Z",
            ))
            .await
            .expect("create");
        store.fail_next(AwsError::AccessDenied {
            call: "S3 PutObject".into(),
            detail: "not allowed".into(),
        });
        handlers(&history, &store, Duration::from_secs(5))
            .write_report(&arn("drill-1"))
            .await;
        match history.report_outcome(&arn("drill-1")).await.expect("read") {
            Some(ReportOutcome::Failed(e)) => {
                assert!(
                    e.contains("s3://dr-reports/billing/drill-1/report.html"),
                    "{e}"
                );
                assert!(e.contains("access denied"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_upload_that_hangs_is_given_up_after_the_timeout() {
        let history = MemoryHistory::new();
        let store = MemoryS3::new();
        history
            .create_execution(record(
                "drill-1",
                ExecutionStatus::Succeeded,
                "2026-11-28T10:00:00Z",
            ))
            .await
            .expect("create");
        store.hang();
        let started = tokio::time::Instant::now();
        handlers(&history, &store, Duration::from_secs(60))
            .write_report(&arn("drill-1"))
            .await;
        assert_eq!(started.elapsed(), Duration::from_secs(60));
        match history.report_outcome(&arn("drill-1")).await.expect("read") {
            Some(ReportOutcome::Failed(e)) => assert!(e.contains("longer than 60 s"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_execution_the_history_lacks_is_an_error_naming_table_and_key() {
        let history = MemoryHistory::new();
        let apis = FakeEvidenceApis::default();
        let err = drs_waves_report::gather::gather(
            &history,
            "drs-waves-history",
            &apis,
            &arn("nope"),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .expect_err("no such execution");
        let a = arn("nope");
        assert_eq!(
            err.to_string(),
            format!(
                "execution {a} is not in the history table drs-waves-history (no item pk=\"EXEC#{a}\", sk=\"EXECUTION\"): \
                 check the ARN, the table (--table) and the region/endpoint"
            )
        );
    }

    #[tokio::test]
    async fn a_running_execution_is_reported_as_running_with_what_is_known() {
        let history = MemoryHistory::new();
        history
            .create_execution(record(
                "drill-1",
                ExecutionStatus::Running,
                "2026-11-28T10:00:00Z",
            ))
            .await
            .expect("create");
        let apis = FakeEvidenceApis::default();
        let sources = drs_waves_report::gather::gather(
            &history,
            "t",
            &apis,
            &arn("drill-1"),
            time::macros::datetime!(2026-11-28 10:01:00 UTC),
        )
        .await
        .expect("sources");
        let r = drs_waves_report::build::build(&sources);
        assert!(r.execution.running);
        assert!(r.sources[0].contains("still RUNNING"), "{:?}", r.sources);
        assert_eq!(r.waves.len(), 2);
        assert!(r.waves.iter().all(|w| w.status == "NOT_STARTED"));
    }

    #[test]
    fn targets_and_plan_are_read_from_the_machine_that_ran() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../statemachines");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("checked-in machine");
        let (plan, targets) = drs_waves_report::gather::plan_and_targets(&read("billing.asl.json"));
        assert_eq!(plan.expect("the plan").waves.len(), 3);
        let targets = targets.expect("targets");
        assert_eq!(targets.rto_seconds, Some(360));
        assert_eq!(targets.rpo_seconds, Some(3600));
        assert_eq!(targets.wave_rto_seconds(1), Some(120));
        assert_eq!(targets.wave_rto_seconds(3), None);
        let (_, none) = drs_waves_report::gather::plan_and_targets(&read("storefront.asl.json"));
        assert_eq!(none, Some(drs_waves_contract::Targets::default()));
        assert_eq!(
            drs_waves_report::gather::plan_and_targets("not json"),
            (None, None)
        );
    }

    #[tokio::test]
    async fn record_failure_writes_the_report_of_a_failed_execution() {
        let history = MemoryHistory::new();
        let store = MemoryS3::new();
        let handlers = handlers(&history, &store, Duration::from_secs(5));
        // Failed before preflight: no record yet, record-failure makes it and reports it.
        let out = handlers
            .record_failure(drs_waves_contract::RecordFailureInput {
                execution: drs_waves_contract::ExecutionRef {
                    id: arn("early"),
                    name: "early".into(),
                    start_time: "2026-11-28T10:00:00Z".into(),
                },
                plan_name: PLAN.into(),
                state: serde_json::json!({
                    "error": {"Error": "DrsWaves.InvalidInput", "Cause": "no mode"}
                }),
                heartbeat_seconds: 10,
            })
            .await
            .expect("recorded");
        assert_eq!(out.error, "DrsWaves.InvalidInput");
        let json = store
            .object("dr-reports", "billing/early/report.json")
            .expect("the report");
        let report: drs_waves_report::Report =
            serde_json::from_slice(&json.body).expect("a report");
        assert_eq!(report.execution.status, "FAILED");
        assert_eq!(
            report.execution.error.as_deref(),
            Some("DrsWaves.InvalidInput")
        );
        assert_eq!(
            history.report_outcome(&arn("early")).await.expect("read"),
            Some(ReportOutcome::Written(
                "s3://dr-reports/billing/early/".into()
            ))
        );
    }

    #[tokio::test]
    async fn operator_actions_in_the_history_are_in_the_report() {
        let history = MemoryHistory::new();
        history
            .create_execution(record(
                "drill-1",
                ExecutionStatus::Running,
                "2026-11-28T10:00:00Z",
            ))
            .await
            .expect("create");
        let cancel = drs_waves_contract::OperatorAction {
            action: drs_waves_contract::OperatorActionKind::Cancel,
            wave_index: Some(2),
            wave_name: Some("app".into()),
            by: "arn:aws:iam::000000000000:user/alice".into(),
            at: "2026-11-28T10:03:00Z".into(),
        };
        history
            .request_cancel(&arn("drill-1"), cancel)
            .await
            .expect("cancel");
        let apis = FakeEvidenceApis::default();
        let sources = drs_waves_report::gather::gather(
            &history,
            "t",
            &apis,
            &arn("drill-1"),
            time::macros::datetime!(2026-11-28 10:04:00 UTC),
        )
        .await
        .expect("sources");
        let r = drs_waves_report::build::build(&sources);
        assert_eq!(
            r.operator_actions,
            vec![drs_waves_report::model::OperatorAction {
                at: "2026-11-28T10:03:00Z".into(),
                by: "arn:aws:iam::000000000000:user/alice".into(),
                action: "CANCEL".into(),
                wave_index: Some(2),
                wave_name: Some("app".into()),
            }]
        );
        let html = drs_waves_report::render::html(&r);
        assert!(html.contains("class=\"marker operator\""));
    }
}
