//! [`SdkDrs`]: the [`Drs`] seam over aws-sdk-drs, every listing through the SDK's paginators
//! (which follow `nextToken` over short and empty pages until none comes back).

use aws_sdk_drs::types::{
    DescribeJobsRequestFilters, DescribeRecoveryInstancesRequestFilters,
    DescribeSourceServersRequestFilters, StartRecoveryRequestSourceServer,
};

use super::{
    Drs, FailbackLaunchRequest, Job, JobFilter, JobNetwork, JobServer, JobStatus, LaunchStatus,
    NetworkRecoveryRequest, RecoveryInstance, RecoverySnapshot, ServerFailure, ServerSelection,
    SourceNetwork, SourceServer, StartRecoveryRequest, job_log, launch_actions,
};
use crate::AwsError;
use crate::failure::from_sdk;

/// [`Drs`] over aws-sdk-drs.
#[derive(Clone, Debug)]
pub struct SdkDrs {
    pub(super) client: aws_sdk_drs::Client,
}

impl SdkDrs {
    pub fn new(client: aws_sdk_drs::Client) -> Self {
        SdkDrs { client }
    }
}

/// DescribeJobs accepts at most this many IDs in `filters.jobIDs`.
const MAX_JOB_IDS_PER_CALL: usize = 1000;

/// DescribeSourceServers accepts at most this many IDs in `filters.sourceServerIDs` (the DRS
/// API reference, DescribeSourceServersRequestFilters: "Maximum number of 200 items").
pub const MAX_SOURCE_SERVER_IDS_PER_CALL: usize = 200;

/// Servers per page of a DescribeSourceServers listing. Each page is held whole (the response
/// body and the SDK's parsed servers, every field of them) until it is filtered, so the page
/// bounds what one listing task holds; 200 servers a page is a few hundred KB, where pages of
/// 1,000 held several MB per task while up to 20 tasks ran at once.
const SOURCE_SERVERS_PER_PAGE: i32 = 200;

impl SdkDrs {
    /// Pages through DescribeSourceServers with `filters` and keeps the servers `keep` accepts.
    async fn source_servers_where(
        &self,
        filters: Option<DescribeSourceServersRequestFilters>,
        keep: impl Fn(&SourceServer) -> bool,
        out: &mut Vec<SourceServer>,
    ) -> Result<(), AwsError> {
        let mut pages = self
            .client
            .describe_source_servers()
            .set_filters(filters)
            .max_results(SOURCE_SERVERS_PER_PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DRS DescribeSourceServers", &e))?;
            for s in page.items() {
                let server = source_server_of(s)?;
                if keep(&server) {
                    out.push(server);
                }
            }
        }
        Ok(())
    }
}

fn source_server_of(s: &aws_sdk_drs::types::SourceServer) -> Result<SourceServer, AwsError> {
    let id = s.source_server_id().unwrap_or_default().to_string();
    if id.is_empty() {
        return Err(AwsError::Failed(
            "DRS DescribeSourceServers returned a server without a sourceServerID".into(),
        ));
    }
    Ok(SourceServer {
        id,
        tags: s
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        replication_state: s
            .data_replication_info()
            .and_then(|d| d.data_replication_state())
            .map(|st| st.as_str().to_string()),
        replication_error: s
            .data_replication_info()
            .and_then(|d| d.data_replication_error())
            .and_then(|e| e.error())
            .map(|e| e.as_str().to_string()),
        last_seen: s
            .life_cycle()
            .and_then(|l| l.last_seen_by_service_date_time())
            .map(str::to_string),
        hostname: s
            .source_properties()
            .and_then(|p| p.identification_hints())
            .and_then(|h| h.hostname())
            .map(str::to_string),
    })
}

impl Drs for SdkDrs {
    async fn describe_source_servers(&self) -> Result<Vec<SourceServer>, AwsError> {
        let mut out = Vec::new();
        self.source_servers_where(None, |_| true, &mut out).await?;
        Ok(out)
    }

    async fn select_source_servers(
        &self,
        selection: &ServerSelection,
    ) -> Result<Vec<SourceServer>, AwsError> {
        let mut out = Vec::new();
        if selection.is_empty() {
            return Ok(out);
        }
        if !selection.tag_sets.is_empty() {
            // No tag filter in DRS: one listing, which covers the named IDs too.
            self.source_servers_where(None, |s| selection.selects(s), &mut out)
                .await?;
            return Ok(out);
        }
        let ids: Vec<String> = selection.ids.iter().cloned().collect();
        for batch in ids.chunks(MAX_SOURCE_SERVER_IDS_PER_CALL) {
            let filters = DescribeSourceServersRequestFilters::builder()
                .set_source_server_ids(Some(batch.to_vec()))
                .build();
            // DRS answers only the servers asked for; the check guards against an answer
            // that ignored the filter (an empty list means "all servers" to it).
            self.source_servers_where(Some(filters), |s| selection.selects(s), &mut out)
                .await?;
        }
        Ok(out)
    }

    async fn describe_jobs(&self, filter: JobFilter) -> Result<Vec<Job>, AwsError> {
        let id_batches: Vec<Vec<String>> = if filter.job_ids.is_empty() {
            vec![Vec::new()]
        } else {
            filter
                .job_ids
                .chunks(MAX_JOB_IDS_PER_CALL)
                .map(<[String]>::to_vec)
                .collect()
        };
        let mut out = Vec::new();
        for ids in id_batches {
            let mut filters = DescribeJobsRequestFilters::builder();
            if !ids.is_empty() {
                filters = filters.set_job_ids(Some(ids));
            }
            if let Some(from) = &filter.from_date {
                filters = filters.from_date(from.clone());
            }
            let mut pages = self
                .client
                .describe_jobs()
                .filters(filters.build())
                .max_results(1000)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| from_sdk("DRS DescribeJobs", &e))?;
                out.extend(page.items().iter().map(job_of));
            }
        }
        Ok(out)
    }

    async fn latest_recovery_snapshot(
        &self,
        source_server_id: &str,
        at_or_before: Option<&str>,
    ) -> Result<Option<RecoverySnapshot>, AwsError> {
        self.newest_snapshot(source_server_id, at_or_before).await
    }

    async fn start_recovery(&self, request: StartRecoveryRequest) -> Result<Job, AwsError> {
        let servers = request
            .source_server_ids
            .iter()
            .map(|id| {
                StartRecoveryRequestSourceServer::builder()
                    .source_server_id(id)
                    .set_recovery_snapshot_id(request.snapshot_ids.get(id).cloned())
                    .build()
                    .map_err(|e| {
                        AwsError::Failed(format!("DRS StartRecovery request for {id}: {e}"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let resp = self
            .client
            .start_recovery()
            .set_source_servers(Some(servers))
            .is_drill(request.is_drill)
            .set_tags(Some(request.tags.into_iter().collect()))
            .customize()
            .config_override(send_once())
            .send()
            .await
            .map_err(|e| from_sdk("DRS StartRecovery", &e))?;
        resp.job()
            .map(job_of)
            .ok_or_else(|| AwsError::Failed("DRS StartRecovery answered without a job".into()))
    }

    async fn start_failback_launch(&self, request: FailbackLaunchRequest) -> Result<Job, AwsError> {
        self.failback_launch(request).await
    }

    async fn stop_failback(&self, recovery_instance_id: String) -> Result<(), AwsError> {
        self.stop_failback_of(&recovery_instance_id).await
    }

    async fn recovery_instances_of(
        &self,
        source_server_ids: Vec<String>,
    ) -> Result<Vec<RecoveryInstance>, AwsError> {
        if source_server_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.list_recovery_instances(&source_server_ids).await
    }

    async fn existing_recovery_instances(&self, ids: Vec<String>) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        for batch in ids.chunks(MAX_INSTANCE_IDS_PER_CALL) {
            let mut pages = self
                .client
                .describe_recovery_instances()
                .filters(
                    DescribeRecoveryInstancesRequestFilters::builder()
                        .set_recovery_instance_ids(Some(batch.to_vec()))
                        .build(),
                )
                .max_results(200)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| from_sdk("DRS DescribeRecoveryInstances", &e))?;
                out.extend(
                    page.items()
                        .iter()
                        .filter_map(|i| i.recovery_instance_id().map(str::to_string)),
                );
            }
        }
        Ok(out)
    }

    async fn job_failures(&self, job_id: &str) -> Result<Vec<ServerFailure>, AwsError> {
        let items = self.describe_job_log_items(job_id).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                job_log::server_failure(
                    item.event.as_deref()?,
                    item.source_server_id.as_deref().unwrap_or_default(),
                    item.raw_error.as_deref(),
                )
            })
            .collect())
    }

    async fn describe_source_networks(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<SourceNetwork>, AwsError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.source_networks(ids).await
    }

    async fn start_source_network_recovery(
        &self,
        request: NetworkRecoveryRequest,
    ) -> Result<Job, AwsError> {
        self.start_network_recovery(request).await
    }

    async fn terminate_recovery_instances(
        &self,
        recovery_instance_ids: Vec<String>,
    ) -> Result<Job, AwsError> {
        let resp = self
            .client
            .terminate_recovery_instances()
            .set_recovery_instance_ids(Some(recovery_instance_ids))
            .customize()
            .config_override(send_once())
            .send()
            .await
            .map_err(|e| from_sdk("DRS TerminateRecoveryInstances", &e))?;
        resp.job().map(job_of).ok_or_else(|| {
            AwsError::Failed("DRS TerminateRecoveryInstances answered without a job".into())
        })
    }
}

/// The SDK's automatic retry resends a call whose answer was lost; for a call that creates
/// something in DRS (StartRecovery, TerminateRecoveryInstances) that is a second job, or a
/// ConflictException while the first job runs untracked. These calls are sent once.
pub(super) fn send_once() -> aws_sdk_drs::config::Builder {
    aws_sdk_drs::config::Builder::default()
        .retry_config(aws_sdk_drs::config::retry::RetryConfig::disabled())
}

/// DescribeRecoveryInstances accepts at most this many IDs in `filters.recoveryInstanceIDs`.
const MAX_INSTANCE_IDS_PER_CALL: usize = 200;

pub(super) fn job_of(j: &aws_sdk_drs::types::Job) -> Job {
    Job {
        id: j.job_id().to_string(),
        status: j
            .status()
            .map(|s| JobStatus::parse(s.as_str()))
            .unwrap_or(JobStatus::Pending),
        job_type: j.r#type().map(|t| t.as_str().to_string()),
        tags: j
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        created_at: j.creation_date_time().map(str::to_string),
        ended_at: j.end_date_time().map(str::to_string),
        servers: j
            .participating_servers()
            .iter()
            .map(|p| JobServer {
                source_server_id: p.source_server_id().unwrap_or_default().to_string(),
                recovery_instance_id: p
                    .recovery_instance_id()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                // Not yet reported: the server has not started launching.
                launch_status: p
                    .launch_status()
                    .map(|s| LaunchStatus::parse(s.as_str()))
                    .unwrap_or(LaunchStatus::Pending),
                launch_actions: launch_actions::runs_of(p),
            })
            .collect(),
        networks: j
            .participating_resources()
            .iter()
            .filter_map(|r| {
                let id = r.participating_resource_id()?.as_source_network_id().ok()?;
                Some(JobNetwork {
                    source_network_id: id.clone(),
                    launch_status: r
                        .launch_status()
                        .map(|s| LaunchStatus::parse(s.as_str()))
                        .unwrap_or(LaunchStatus::Pending),
                })
            })
            .collect(),
    }
}

impl SdkDrs {
    pub(super) async fn source_networks(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<SourceNetwork>, AwsError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(super::networks::MAX_SOURCE_NETWORK_IDS_PER_CALL) {
            let filters = aws_sdk_drs::types::DescribeSourceNetworksRequestFilters::builder()
                .set_source_network_ids(Some(chunk.to_vec()))
                .build();
            let mut pages = self
                .client
                .describe_source_networks()
                .filters(filters)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| from_sdk("DRS DescribeSourceNetworks", &e))?;
                out.extend(page.items().iter().map(|n| SourceNetwork {
                    id: n.source_network_id().unwrap_or_default().to_owned(),
                    source_vpc_id: n.source_vpc_id().map(str::to_owned),
                    replication_status: n.replication_status().map(|s| s.as_str().to_owned()),
                    cfn_stack_name: n.cfn_stack_name().map(str::to_owned),
                    launched_vpc_id: n.launched_vpc_id().map(str::to_owned),
                }));
            }
        }
        Ok(out)
    }

    pub(super) async fn start_network_recovery(
        &self,
        request: NetworkRecoveryRequest,
    ) -> Result<Job, AwsError> {
        let mut networks = Vec::with_capacity(request.source_network_ids.len());
        for id in request.source_network_ids {
            networks.push(
                aws_sdk_drs::types::StartSourceNetworkRecoveryRequestNetworkEntry::builder()
                    .source_network_id(id)
                    .build()
                    .map_err(|e| {
                        AwsError::Failed(format!("DRS StartSourceNetworkRecovery: {e}"))
                    })?,
            );
        }
        let out = self
            .client
            .start_source_network_recovery()
            .set_source_networks(Some(networks))
            .deploy_as_new(request.deploy_as_new)
            .set_tags(Some(request.tags.into_iter().collect()))
            .customize()
            .config_override(send_once())
            .send()
            .await
            .map_err(|e| from_sdk("DRS StartSourceNetworkRecovery", &e))?;
        out.job().map(job_of).ok_or_else(|| {
            AwsError::Failed("DRS StartSourceNetworkRecovery answered without a job".into())
        })
    }
}
