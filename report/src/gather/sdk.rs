//! [`SdkEvidenceApis`]: the report's Step Functions and DRS reads over the SDK, through the
//! aws crate's shared reads (DescribeExecution, and [`SdkDrs`] for jobs, job logs, recovery
//! instances and source servers). A source that cannot answer gives its error as text.

use std::collections::BTreeMap;

use drs_waves_aws::drs::{Drs, JobFilter, SdkDrs};
use drs_waves_aws::s3::BoxFuture;

use super::{EvidenceApis, ExecutionDescription, instances};
use crate::build::{DrsJobFacts, InstanceFacts, ServerLog};

/// [`EvidenceApis`] over aws-sdk-sfn and aws-sdk-drs.
#[derive(Clone, Debug)]
pub struct SdkEvidenceApis {
    sfn: aws_sdk_sfn::Client,
    drs: aws_sdk_drs::Client,
}

impl SdkEvidenceApis {
    pub fn new(sfn: aws_sdk_sfn::Client, drs: aws_sdk_drs::Client) -> Self {
        SdkEvidenceApis { sfn, drs }
    }
}

fn sfn_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_sfn::error::SdkError<E, R>,
) -> String {
    aws_sdk_sfn::error::DisplayErrorContext(&e).to_string()
}

impl EvidenceApis for SdkEvidenceApis {
    fn describe_execution<'a>(
        &'a self,
        arn: &'a str,
    ) -> BoxFuture<'a, Result<ExecutionDescription, String>> {
        Box::pin(async move {
            match drs_waves_aws::sfn::describe_execution(&self.sfn, arn).await {
                Ok(Some(d)) => Ok(d),
                Ok(None) => Err(format!("execution {arn} does not exist")),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn machine_definition<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            self.sfn
                .describe_state_machine_for_execution()
                .execution_arn(arn)
                .send()
                .await
                .map(|m| m.definition().to_owned())
                .map_err(sfn_error)
        })
    }

    fn jobs<'a>(
        &'a self,
        ids: Vec<String>,
    ) -> BoxFuture<'a, Result<BTreeMap<String, DrsJobFacts>, String>> {
        Box::pin(async move {
            let found = SdkDrs::new(self.drs.clone())
                .describe_jobs(JobFilter {
                    job_ids: ids,
                    from_date: None,
                })
                .await
                .map_err(|e| e.to_string())?;
            Ok(found
                .into_iter()
                .map(|j| {
                    (
                        j.id.clone(),
                        DrsJobFacts {
                            status: j.status.as_str().to_owned(),
                            created_at: j.created_at,
                            ended_at: j.ended_at,
                        },
                    )
                })
                .collect())
        })
    }

    fn job_log<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, ServerLog>, String>> {
        Box::pin(async move {
            let items = SdkDrs::new(self.drs.clone())
                .describe_job_log_items(job_id)
                .await
                .map_err(|e| e.to_string())?;
            let mut out: BTreeMap<String, ServerLog> = BTreeMap::new();
            for item in items {
                let Some(server) = item.source_server_id.filter(|s| !s.is_empty()) else {
                    continue;
                };
                let event = item.event.unwrap_or_default();
                let log = out.entry(server).or_default();
                if log.first_event_at.is_none() {
                    log.first_event_at = item.at.clone();
                }
                if (event.ends_with("_FAIL") || event.ends_with("_FAILED"))
                    && log.failed_at.is_none()
                {
                    log.failed_at = item.at;
                    log.failure = Some(item.raw_error.filter(|r| !r.is_empty()).unwrap_or(event));
                }
            }
            Ok(out)
        })
    }

    fn recovery_instances<'a>(
        &'a self,
        server_ids: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<InstanceFacts>, String>> {
        Box::pin(async move {
            let listed = SdkDrs::new(self.drs.clone())
                .recovery_instances_of(server_ids)
                .await
                .map_err(|e| e.to_string())?;
            Ok(listed.into_iter().map(instances::facts_of).collect())
        })
    }

    fn hostnames(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, String>> {
        Box::pin(async move {
            let servers = SdkDrs::new(self.drs.clone())
                .describe_source_servers()
                .await
                .map_err(|e| e.to_string())?;
            Ok(servers
                .into_iter()
                .filter_map(|s| Some((s.id, s.hostname.filter(|h| !h.is_empty())?)))
                .collect())
        })
    }
}
