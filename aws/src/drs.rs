//! The DRS seam: the few calls the worker makes, over plain types (the [`Drs`] trait), with the
//! aws-sdk-drs implementation in [`sdk`]. Unit tests use `drs_worker::testing::FakeDrs`;
//! integration tests point the real client at drs-sim.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use drs_waves_contract::WaveSpec;

use crate::AwsError;

pub mod accounts;
pub mod failback;
pub mod instances;
pub mod job_log;
pub mod launch_actions;
pub mod native;
mod native_sdk;
pub mod networks;
pub mod sdk;
pub mod snapshots;

pub use accounts::{DrsAccounts, SdkDrsAccounts};
pub use job_log::JobLogItem;
pub use sdk::{MAX_SOURCE_SERVER_IDS_PER_CALL, SdkDrs};

pub use failback::{FailbackLaunchRequest, FailbackState, InstanceFailback};
pub use instances::RecoveryInstance;
pub use launch_actions::{LaunchActionRun, RunStatus};
pub use networks::{JobNetwork, NetworkRecoveryRequest, SourceNetwork};

/// A DRS source server, as far as the worker cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceServer {
    pub id: String,
    pub tags: BTreeMap<String, String>,
    /// `dataReplicationInfo.dataReplicationState`; CONTINUOUS is healthy.
    pub replication_state: Option<String>,
    /// `dataReplicationInfo.dataReplicationError.error` (AGENT_NOT_SEEN when the source site
    /// is down).
    pub replication_error: Option<String>,
    /// `lastSeenByServiceDateTime`: stops moving when the agent is no longer seen.
    pub last_seen: Option<String>,
    pub hostname: Option<String>,
}

/// Replication states in which a drill may launch: CONTINUOUS, and the transient states a
/// healthy server passes through (DRS's `dataReplicationState`). Anything else (STALLED,
/// DISCONNECTED, PAUSED, STOPPED, INITIAL_SYNC, ...) means the server is not ready.
pub const HEALTHY_REPLICATION_STATES: [&str; 4] =
    ["CONTINUOUS", "BACKLOG", "CREATING_SNAPSHOT", "RESCAN"];

impl SourceServer {
    /// Whether replication is healthy (see [`HEALTHY_REPLICATION_STATES`]).
    pub fn replicating(&self) -> bool {
        self.replication_state
            .as_deref()
            .is_some_and(|s| HEALTHY_REPLICATION_STATES.contains(&s))
    }

    /// Whether a launch of this server names no snapshot and gets DRS's on-demand one: with
    /// replication healthy and no `pointInTime` ("Omit this field to launch from the latest
    /// data by taking an on-demand snapshot", the model's
    /// StartRecoveryRequestSourceServer.recoverySnapshotID). Its newest snapshot would be up to
    /// ten minutes older. A server that is not healthy cannot take one and launches from its
    /// newest snapshot; a `pointInTime` names the snapshot at or before it.
    pub fn launches_on_demand(&self, point_in_time: Option<&str>) -> bool {
        point_in_time.is_none() && self.replicating()
    }

    /// `DISCONNECTED (AGENT_NOT_SEEN, last seen 2026-11-27T03:00:00Z)`, for messages.
    pub fn replication_summary(&self) -> String {
        let state = self.replication_state.as_deref().unwrap_or("unknown");
        let mut detail = Vec::new();
        if let Some(e) = self.replication_error.as_deref().filter(|e| !e.is_empty()) {
            detail.push(e.to_string());
        }
        if let Some(seen) = self.last_seen.as_deref().filter(|s| !s.is_empty()) {
            detail.push(format!("last seen {seen}"));
        }
        if detail.is_empty() {
            state.to_string()
        } else {
            format!("{state} ({})", detail.join(", "))
        }
    }
}

/// Which source servers a task needs from DescribeSourceServers: those named by ID, and those
/// carrying every tag of one of `tag_sets` (a wave's tag selector). DRS filters by ID
/// (`filters.sourceServerIDs`) but not by tag, so only a selection with tags needs the whole
/// listing, and even then only the selected servers are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSelection {
    pub ids: BTreeSet<String>,
    /// Each non-empty; a server matches one when it carries all of its tags.
    pub tag_sets: Vec<BTreeMap<String, String>>,
}

impl ServerSelection {
    /// What `waves` select: every explicit ID and every tag selector, so that resolving any
    /// of the waves against the selected servers gives what it would against the whole
    /// listing (unknown IDs stay unknown, a server in two waves is seen in both).
    pub fn of_waves<'a>(waves: impl IntoIterator<Item = &'a WaveSpec>) -> Self {
        let mut selection = ServerSelection::default();
        for wave in waves {
            selection.ids.extend(wave.server_ids.iter().cloned());
            if !wave.tags.is_empty() && !selection.tag_sets.contains(&wave.tags) {
                selection.tag_sets.push(wave.tags.clone());
            }
        }
        selection
    }

    /// Whether it selects nothing (DRS reads an empty `sourceServerIDs` as "all servers", so
    /// an empty selection must not reach it as a filter).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.tag_sets.is_empty()
    }

    /// Whether `server` is selected: by its ID, or by carrying all tags of one tag set.
    pub fn selects(&self, server: &SourceServer) -> bool {
        self.ids.contains(&server.id)
            || self.tag_sets.iter().any(|tags| {
                !tags.is_empty() && tags.iter().all(|(k, v)| server.tags.get(k) == Some(v))
            })
    }
}

/// A point-in-time recovery snapshot of a source server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverySnapshot {
    /// `pit-` + 17 hex.
    pub id: String,
    pub source_server_id: String,
    /// When it was taken (`timestamp`, or `expectedTimestamp` when DRS gives no actual time).
    pub taken_at: String,
}

impl SourceServer {
    /// `s-123 (web-1)`, for messages.
    pub fn label(&self) -> String {
        match &self.hostname {
            Some(h) if !h.is_empty() => format!("{} ({h})", self.id),
            _ => self.id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Started,
    Completed,
    Other(String),
}

impl JobStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "PENDING" => JobStatus::Pending,
            "STARTED" => JobStatus::Started,
            "COMPLETED" => JobStatus::Completed,
            other => JobStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Started => "STARTED",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Other(s) => s,
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Started)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchStatus {
    Pending,
    InProgress,
    Launched,
    Failed,
    Terminated,
    Other(String),
}

impl LaunchStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "PENDING" => LaunchStatus::Pending,
            "IN_PROGRESS" => LaunchStatus::InProgress,
            "LAUNCHED" => LaunchStatus::Launched,
            "FAILED" => LaunchStatus::Failed,
            "TERMINATED" => LaunchStatus::Terminated,
            other => LaunchStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            LaunchStatus::Pending => "PENDING",
            LaunchStatus::InProgress => "IN_PROGRESS",
            LaunchStatus::Launched => "LAUNCHED",
            LaunchStatus::Failed => "FAILED",
            LaunchStatus::Terminated => "TERMINATED",
            LaunchStatus::Other(s) => s,
        }
    }
}

/// One server of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobServer {
    pub source_server_id: String,
    /// Not always filled in, even for a LAUNCHED server.
    pub recovery_instance_id: Option<String>,
    pub launch_status: LaunchStatus,
    /// Its post-launch action runs (`launchActionsStatus.runs`), as far as DRS lists them.
    pub launch_actions: Vec<LaunchActionRun>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Empty when DRS (or the SDK, which fills in "" for a missing required field) gave none.
    pub id: String,
    pub status: JobStatus,
    /// LAUNCH, TERMINATE, ...
    pub job_type: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created_at: Option<String>,
    pub ended_at: Option<String>,
    pub servers: Vec<JobServer>,
    /// A network recovery's networks (`participatingResources`); empty for other jobs.
    pub networks: Vec<JobNetwork>,
}

#[cfg(any(test, feature = "fake"))]
impl Job {
    /// A LAUNCH job as DescribeJobs returns it, for the rules' tests: `servers` with their
    /// launch status, no recovery instance IDs, no tags or times.
    pub fn launch_for_test(id: &str, status: JobStatus, servers: &[(&str, LaunchStatus)]) -> Job {
        Job {
            id: id.to_string(),
            status,
            job_type: Some("LAUNCH".into()),
            tags: BTreeMap::new(),
            created_at: None,
            ended_at: None,
            networks: Vec::new(),
            servers: servers
                .iter()
                .map(|(server, launch)| JobServer {
                    source_server_id: server.to_string(),
                    recovery_instance_id: None,
                    launch_status: launch.clone(),
                    launch_actions: Vec::new(),
                })
                .collect(),
        }
    }
}

/// DescribeJobs filters: by IDs, or everything since a date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub job_ids: Vec<String>,
    /// ISO-8601.
    pub from_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRecoveryRequest {
    pub source_server_ids: Vec<String>,
    /// The recovery snapshot each server launches from (`recoverySnapshotID`); a server not
    /// named here launches from its latest snapshot.
    pub snapshot_ids: BTreeMap<String, String>,
    pub is_drill: bool,
    pub tags: BTreeMap<String, String>,
}

/// The DRS calls the worker makes. Implementations paginate; errors are already classified.
pub trait Drs: Send + Sync + 'static {
    /// Every source server of the account and region (tags are matched by the caller: DRS has
    /// no tag filter).
    fn describe_source_servers(
        &self,
    ) -> impl Future<Output = Result<Vec<SourceServer>, AwsError>> + Send;
    /// The source servers `selection` selects, in no particular order; an ID DRS does not know
    /// is absent (the caller names it). A selection of IDs only is asked for by ID
    /// (`filters.sourceServerIDs`); one with tags lists every server, keeping only the
    /// selected ones page by page. An empty selection makes no call.
    fn select_source_servers(
        &self,
        selection: &ServerSelection,
    ) -> impl Future<Output = Result<Vec<SourceServer>, AwsError>> + Send;
    fn describe_jobs(
        &self,
        filter: JobFilter,
    ) -> impl Future<Output = Result<Vec<Job>, AwsError>> + Send;
    /// The server's newest recovery snapshot taken at or before `at_or_before` (RFC 3339), or
    /// at or before now; None when it has none. Every page is read and the worker chooses by
    /// the timestamps ([`snapshots`]): DRS's order and filters are a hint only.
    fn latest_recovery_snapshot(
        &self,
        source_server_id: &str,
        at_or_before: Option<&str>,
    ) -> impl Future<Output = Result<Option<RecoverySnapshot>, AwsError>> + Send;
    /// Has no client token: a second call launches a second job. Sent once (no SDK retry): an
    /// ambiguous failure is resolved by looking up the tagged jobs.
    fn start_recovery(
        &self,
        request: StartRecoveryRequest,
    ) -> impl Future<Output = Result<Job, AwsError>> + Send;
    /// StartFailbackLaunch: one job (initiatedBy FAILBACK) launching the original machines of
    /// these recovery instances. Has no client token, like StartRecovery: sent once (no SDK
    /// retry), and an ambiguous failure is resolved by the caller looking up its tagged job.
    fn start_failback_launch(
        &self,
        request: FailbackLaunchRequest,
    ) -> impl Future<Output = Result<Job, AwsError>> + Send;
    /// StopFailback: the instance's failback state goes back to FAILBACK_NOT_STARTED (the
    /// model's StopFailback). Sent once; asking again is harmless.
    fn stop_failback(
        &self,
        recovery_instance_id: String,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Sent once (no SDK retry): an ambiguous failure is resolved by the caller.
    fn terminate_recovery_instances(
        &self,
        recovery_instance_ids: Vec<String>,
    ) -> impl Future<Output = Result<Job, AwsError>> + Send;
    /// Every recovery instance DRS lists for these source servers (DescribeRecoveryInstances
    /// by `sourceServerIDs`, every page), whoever launched it: the caller keeps its own
    /// ([`instances::of_execution`]). No servers, no call (an empty filter means "all").
    fn recovery_instances_of(
        &self,
        source_server_ids: Vec<String>,
    ) -> impl Future<Output = Result<Vec<RecoveryInstance>, AwsError>> + Send;
    /// The recovery instances that still exist among `ids` (a terminated one disappears).
    fn existing_recovery_instances(
        &self,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// Why servers of a job failed, from its log (DescribeJobLogItems): each event that says a
    /// server failed or was skipped ([`job_log::is_server_failure`], read by name) with its
    /// source server and `rawError`, in log order.
    fn job_failures(
        &self,
        job_id: &str,
    ) -> impl Future<Output = Result<Vec<ServerFailure>, AwsError>> + Send;
    /// The source networks among `ids` that DRS knows (DescribeSourceNetworks by
    /// `filters.sourceNetworkIDs`, every page); an unknown one is absent. No IDs, no call.
    fn describe_source_networks(
        &self,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Vec<SourceNetwork>, AwsError>> + Send;
    /// Has no client token, like StartRecovery: sent once (no SDK retry), and an ambiguous
    /// failure is resolved by the caller looking up its tagged job.
    fn start_source_network_recovery(
        &self,
        request: NetworkRecoveryRequest,
    ) -> impl Future<Output = Result<Job, AwsError>> + Send;
}

/// One failure in a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFailure {
    pub source_server_id: String,
    /// The log event (LAUNCH_FAILED, CONVERSION_FAIL, ...).
    pub event: String,
    /// DRS's `rawError`, or the event name when it gave none.
    pub reason: String,
}

/// Whether StartRecovery was refused with ConflictException ("a source server is already in
/// an active job"; the model's ConflictException carries `code, message, resourceId,
/// resourceType`, no list of servers). [`crate::failure::classify`] maps it to `Failed` with the
/// code in its text; the start task reads it as "my job may exist but not be listed yet".
pub fn is_conflict(err: &AwsError) -> bool {
    matches!(err, AwsError::Failed(s) if s.contains("ConflictException"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wave from its plan JSON (every other field defaulted), so the test does not break
    /// when the contract's wave grows a field.
    fn wave(ids: &[&str], tags: &[(&str, &str)]) -> WaveSpec {
        serde_json::from_value(serde_json::json!({
            "index": 1,
            "name": "w",
            "serverIds": ids,
            "tags": tags.iter().copied().collect::<BTreeMap<_, _>>(),
            "launchTimeoutSeconds": 600,
            "onFailure": "stop",
            "polling": {"minWaitSeconds": 30, "maxWaitSeconds": 300, "expectedLaunchSeconds": 900},
        }))
        .expect("a wave")
    }

    fn server(id: &str, tags: &[(&str, &str)]) -> SourceServer {
        SourceServer {
            id: id.to_string(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            replication_state: None,
            replication_error: None,
            last_seen: None,
            hostname: None,
        }
    }

    #[test]
    fn a_selection_holds_every_id_and_each_tag_selector_of_the_waves_once() {
        let waves = [
            wave(&["s-2", "s-1"], &[]),
            wave(&["s-1"], &[("Tier", "web")]),
            wave(&[], &[("Tier", "web")]),
        ];
        let selection = ServerSelection::of_waves(&waves);
        assert_eq!(selection.ids.iter().collect::<Vec<_>>(), vec!["s-1", "s-2"]);
        assert_eq!(
            selection.tag_sets,
            vec![BTreeMap::from([("Tier".to_string(), "web".to_string())])]
        );
        assert!(ServerSelection::of_waves(&[wave(&[], &[])]).is_empty());
        assert!(!ServerSelection::of_waves(&[wave(&["s-1"], &[])]).is_empty());
    }

    #[test]
    fn a_server_is_selected_by_its_id_or_by_carrying_all_tags_of_one_tag_set() {
        let selection = ServerSelection::of_waves(&[
            wave(&["s-named"], &[("App", "shop"), ("Tier", "db")]),
            wave(&[], &[("Tier", "web")]),
        ]);
        assert!(selection.selects(&server("s-named", &[])));
        assert!(selection.selects(&server("s-db", &[("App", "shop"), ("Tier", "db")])));
        assert!(selection.selects(&server("s-web", &[("Tier", "web"), ("Other", "x")])));
        assert!(!selection.selects(&server("s-half", &[("App", "shop")])));
        assert!(!selection.selects(&server("s-other", &[("Tier", "app")])));
        let nothing = ServerSelection::default();
        assert!(!nothing.selects(&server("s-any", &[])));
        // An empty tag set (never made by of_waves) selects nothing, not everything.
        let empty_tags = ServerSelection {
            ids: BTreeSet::new(),
            tag_sets: vec![BTreeMap::new()],
        };
        assert!(!empty_tags.selects(&server("s-any", &[("Tier", "web")])));
    }
}

/// The SDK adapter over drs-sim at its worst paging (a unit test, so that it shares this
/// crate's one test binary instead of linking the SDK once more).
#[cfg(test)]
mod native_tests;
#[cfg(test)]
mod paging_tests;
