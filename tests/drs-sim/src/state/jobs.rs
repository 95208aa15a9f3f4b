//! Jobs: making them (ours and background load), DescribeJobs and DescribeJobLogItems.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::SimState;
use super::paging::{decode_token, take_page, with_token};
use crate::fixture::{BackgroundJobSpec, BackgroundServers};
use crate::job_events::FailStage;
use crate::lifecycle::{
    Job, JobKind, JobStatus, ScheduledServer, SnapshotSource, seconds, truncate_to_micros,
};
use crate::wire::{self, ApiError};

impl SimState {
    /// Schedules background jobs, each created `startAfterSeconds` (scaled) after `now`.
    /// All or nothing. Returns their job IDs.
    pub fn add_background_jobs(
        &mut self,
        specs: &[BackgroundJobSpec],
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        let mut kinds = Vec::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            let kind = spec
                .validate(&|id| self.servers.contains_key(id))
                .map_err(|e| format!("jobs[{index}]: {e}"))?;
            kinds.push(kind);
        }
        let now = truncate_to_micros(now);
        let scale = self.timings.time_scale;
        let mut ids = Vec::with_capacity(specs.len());
        for (spec, (job_type, initiated_by)) in specs.iter().zip(kinds) {
            let created = now + seconds(spec.start_after_seconds * scale);
            let (started, listed) = self.job_start(created);
            let end = (created + seconds(spec.duration_seconds * scale)).max(started);
            let sources: Vec<String> = match &spec.servers {
                BackgroundServers::Ids(ids) => ids.clone(),
                // Synthetic servers of someone else's: DescribeSourceServers does not list
                // them.
                BackgroundServers::Count(n) => (0..*n).map(|_| self.hex_id("s-")).collect(),
            };
            let servers = sources
                .into_iter()
                .map(|source_server_id| ScheduledServer {
                    source_server_id,
                    recovery_instance_id: None,
                    conversion_server_id: String::new(),
                    start: started,
                    end,
                    fails: false,
                    fail_reason: None,
                    snapshot: None,
                    snapshot_source: SnapshotSource::Take,
                    fail_stage: FailStage::Launch,
                    skipped: false,
                    post_launch: None,
                })
                .collect();
            let index = self.insert_job(
                JobKind::Background {
                    job_type,
                    initiated_by,
                },
                spec.tags.clone(),
                created,
                (started, listed),
                servers,
            );
            ids.push(self.jobs[index].id.clone());
        }
        Ok(ids)
    }

    /// When a job created at `created` leaves PENDING, and when it lists its servers: it
    /// stays PENDING at least until it lists them.
    pub(super) fn job_start(&self, created: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        let scale = self.timings.time_scale;
        let listed = created + seconds(self.timings.participants_delay_seconds * scale);
        let started = (created + seconds(self.timings.pending_seconds * scale)).max(listed);
        (started, listed)
    }

    pub(super) fn insert_job(
        &mut self,
        kind: JobKind,
        tags: BTreeMap<String, String>,
        created: OffsetDateTime,
        (started, participants_listed): (OffsetDateTime, OffsetDateTime),
        servers: Vec<ScheduledServer>,
    ) -> usize {
        let id = loop {
            let id = self.hex_id("drsjob-");
            if !self.job_index.contains_key(&id) {
                break id;
            }
        };
        let index = self.jobs.len();
        // Someone else's job is listed from its creation; ours after the listing delay.
        let listed = if kind.is_background() {
            created
        } else {
            created + seconds(self.timings.job_listing_delay_seconds * self.timings.time_scale)
        };
        self.jobs.push(Job {
            listed,
            seq: index as u64 + 1,
            arn: self.arn("job", &id),
            id: id.clone(),
            kind,
            tags,
            created,
            started,
            participants_listed,
            servers,
            networks: Vec::new(),
        });
        self.job_index.insert(id, index);
        index
    }

    pub(super) fn job_json(&self, job: &Job, now: OffsetDateTime) -> Value {
        let status = job.status(now);
        // A job may list its servers only some time after it was created.
        let listed = if now >= job.participants_listed {
            job.servers.as_slice()
        } else {
            &[]
        };
        let servers: Vec<Value> = listed
            .iter()
            .map(|s| {
                let mut v = json!({
                    "sourceServerID": s.source_server_id,
                    "launchStatus": s.status(job.kind, now).as_str(),
                });
                if let Some(instance) = s.visible_instance(job.kind, now)
                    && self.names_recovery_instance(&s.source_server_id)
                {
                    v["recoveryInstanceID"] = Value::from(instance);
                }
                if let Some(actions) = s
                    .post_launch
                    .as_ref()
                    .and_then(|p| p.status_json(now, |t| self.date(t)))
                {
                    v["launchActionsStatus"] = actions;
                }
                v
            })
            .collect();
        let mut v = json!({
            "jobID": job.id,
            "arn": job.arn,
            "type": job.kind.job_type(),
            "initiatedBy": job.kind.initiated_by(),
            "creationDateTime": self.date(job.created),
            "status": status.as_str(),
            "tags": job.tags,
            "participatingServers": servers,
        });
        if !job.networks.is_empty() {
            // Model: Job.participatingResources, listed like participatingServers.
            let resources: Vec<Value> = job
                .networks
                .iter()
                .filter(|_| now >= job.participants_listed)
                .map(|n| {
                    json!({
                        "participatingResourceID": {"sourceNetworkID": n.source_network_id},
                        "launchStatus": n.status(now).as_str(),
                    })
                })
                .collect();
            v["participatingResources"] = Value::from(resources);
        }
        if status == JobStatus::Completed {
            v["endDateTime"] = Value::from(self.date(job.end()));
        }
        v
    }

    pub(super) fn describe_jobs(
        &self,
        req: &wire::DescribeJobsRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        let filters = req.filters.as_ref();
        let ids: HashSet<&str> = filters
            .map(|f| f.job_ids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let parse = |field: &str, value: &Option<String>| -> Result<_, ApiError> {
            match value {
                None => Ok(None),
                Some(s) => wire::parse_date(s).map(Some).ok_or_else(|| {
                    ApiError::field(field, format!("{field} {s:?} is not an ISO-8601 date"))
                }),
            }
        };
        let from = parse("fromDate", &filters.and_then(|f| f.from_date.clone()))?;
        let to = parse("toDate", &filters.and_then(|f| f.to_date.clone()))?;
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "job:") {
            return Ok(empty);
        }
        // Newest first; the token is the position (creation time, sequence number) of the
        // last job returned, so jobs created between pages never shift what the next page
        // holds (a job appears only once its creation time has come).
        let after = decode_token(req.next_token.as_deref(), "job:")?
            .map(|t| {
                t.split_once(':')
                    .and_then(|(at, seq)| {
                        Some((at.parse::<i128>().ok()?, seq.parse::<u64>().ok()?))
                    })
                    .ok_or_else(|| ApiError::field("nextToken", "Invalid nextToken"))
            })
            .transpose()?;
        // A job made less than `jobListingDelaySeconds` ago is not listed yet, even by its ID.
        let matching = self.jobs_newest_first(now).into_iter().filter(|j| {
            j.listed <= now
                && (ids.is_empty() || ids.contains(j.id.as_str()))
                && from.is_none_or(|f| j.created >= f)
                && to.is_none_or(|t| j.created <= t)
                && after.is_none_or(|a| job_position(j) < a)
        });
        let (page, more) = take_page(matching, size);
        let next = more.then(|| {
            page.last().map(|j| {
                let (at, seq) = job_position(j);
                format!("job:{at}:{seq}")
            })
        });
        let items: Vec<Value> = page.iter().map(|j| self.job_json(j, now)).collect();
        Ok(with_token(json!({ "items": items }), next.flatten()))
    }

    pub(super) fn describe_job_log_items(
        &self,
        req: &wire::DescribeJobLogItemsRequest,
        now: OffsetDateTime,
    ) -> Result<Value, ApiError> {
        let size = self.page_size(req.max_results)?;
        let Some(job_id) = req.job_id.as_deref() else {
            return Err(ApiError::field("jobID", "jobID is required"));
        };
        let Some(&index) = self
            .job_index
            .get(job_id)
            .filter(|&&i| self.jobs[i].exists(now))
        else {
            return Err(ApiError::field(
                "jobID",
                format!("Job {job_id} does not exist"),
            ));
        };
        if let Some(empty) = self.empty_first_page(req.next_token.as_deref(), "log:") {
            return Ok(empty);
        }
        let start = decode_token(req.next_token.as_deref(), "log:")?
            .map(|t| {
                t.parse::<usize>()
                    .map_err(|_| ApiError::field("nextToken", "Invalid nextToken"))
            })
            .transpose()?
            .unwrap_or(0);
        let log = self.jobs[index].log_at(now);
        let end = (start + size).min(log.len());
        let items: Vec<Value> = log
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|i| {
                let mut data = serde_json::Map::new();
                let mut put = |k: &str, v: &Option<String>| {
                    if let Some(v) = v {
                        data.insert(k.to_owned(), Value::from(v.clone()));
                    }
                };
                put("sourceServerID", &i.source_server_id);
                put("conversionServerID", &i.conversion_server_id);
                put("targetInstanceID", &i.target_instance_id);
                put("rawError", &i.raw_error);
                if let Some(n) = &i.network {
                    // Model: JobLogEventData.eventResourceData (a union) .sourceNetworkData.
                    let mut d = json!({
                        "sourceNetworkID": n.source_network_id,
                        "sourceVpc": n.source_vpc,
                        "stackName": n.stack_name,
                    });
                    if let Some(t) = &n.target_vpc {
                        d["targetVpc"] = Value::from(t.clone());
                    }
                    data.insert(
                        "eventResourceData".to_owned(),
                        json!({ "sourceNetworkData": d }),
                    );
                }
                json!({
                    "logDateTime": self.date(i.at),
                    "event": i.event,
                    "eventData": data,
                })
            })
            .collect();
        let next = (end < log.len()).then(|| format!("log:{end}"));
        Ok(with_token(json!({ "items": items }), next))
    }

    /// Jobs that exist at `now`, newest first (by creation time, then creation order).
    pub(super) fn jobs_newest_first(&self, now: OffsetDateTime) -> Vec<&Job> {
        let mut jobs: Vec<&Job> = self.jobs.iter().filter(|j| j.exists(now)).collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(job_position(j)));
        jobs
    }
}

/// A job's place in time order: creation time (microseconds), then creation order.
fn job_position(job: &Job) -> (i128, u64) {
    (job.created.unix_timestamp_nanos() / 1000, job.seq)
}
