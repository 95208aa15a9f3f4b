//! Job lifecycle, derived from timestamps.
//!
//! A job's schedule is fixed when it is created (when it starts, when each server's launch
//! ends and how); its status, its servers' statuses and its log are then pure functions of
//! the current time. Nothing runs in the background, and what a client sees is exact: a
//! server is LAUNCHED from the instant its schedule says, whenever it is asked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::job_events::FailStage;
use crate::launch_actions::PostLaunch;

/// `launchStatus` of a participating server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchStatus {
    Pending,
    InProgress,
    Launched,
    Failed,
    Terminated,
}

impl LaunchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchStatus::Pending => "PENDING",
            LaunchStatus::InProgress => "IN_PROGRESS",
            LaunchStatus::Launched => "LAUNCHED",
            LaunchStatus::Failed => "FAILED",
            LaunchStatus::Terminated => "TERMINATED",
        }
    }
}

/// A job's `status`: DRS has only these three (a job of FAILED servers is COMPLETED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Pending,
    Started,
    Completed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Started => "STARTED",
            JobStatus::Completed => "COMPLETED",
        }
    }
}

/// `type` of a job: the DRS model's JobType values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobType {
    Launch,
    Terminate,
    CreateConvertedSnapshot,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Launch => "LAUNCH",
            JobType::Terminate => "TERMINATE",
            JobType::CreateConvertedSnapshot => "CREATE_CONVERTED_SNAPSHOT",
        }
    }
}

/// `initiatedBy` of a job: the DRS model's InitiatedBy values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InitiatedBy {
    StartRecovery,
    StartDrill,
    Failback,
    Diagnostic,
    TerminateRecoveryInstances,
    TargetAccount,
    CreateNetworkRecovery,
    UpdateNetworkRecovery,
    AssociateNetworkRecovery,
}

impl InitiatedBy {
    pub const ALL: &'static [InitiatedBy] = &[
        InitiatedBy::StartRecovery,
        InitiatedBy::StartDrill,
        InitiatedBy::Failback,
        InitiatedBy::Diagnostic,
        InitiatedBy::TerminateRecoveryInstances,
        InitiatedBy::TargetAccount,
        InitiatedBy::CreateNetworkRecovery,
        InitiatedBy::UpdateNetworkRecovery,
        InitiatedBy::AssociateNetworkRecovery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InitiatedBy::StartRecovery => "START_RECOVERY",
            InitiatedBy::StartDrill => "START_DRILL",
            InitiatedBy::Failback => "FAILBACK",
            InitiatedBy::Diagnostic => "DIAGNOSTIC",
            InitiatedBy::TerminateRecoveryInstances => "TERMINATE_RECOVERY_INSTANCES",
            InitiatedBy::TargetAccount => "TARGET_ACCOUNT",
            InitiatedBy::CreateNetworkRecovery => "CREATE_NETWORK_RECOVERY",
            InitiatedBy::UpdateNetworkRecovery => "UPDATE_NETWORK_RECOVERY",
            InitiatedBy::AssociateNetworkRecovery => "ASSOCIATE_NETWORK_RECOVERY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|i| i.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// StartRecovery: a drill or a recovery.
    Launch { is_drill: bool },
    /// TerminateRecoveryInstances.
    Terminate,
    /// Background load: a job someone else started (it launches nothing the simulator
    /// tracks and terminates nothing).
    Background {
        job_type: JobType,
        initiated_by: InitiatedBy,
    },
    /// StartSourceNetworkRecovery ([`crate::network`]): `update` when the network's stack
    /// existed and is updated rather than deployed anew.
    NetworkRecovery { update: bool },
    /// StartFailbackLaunch: recovery instances launch their original machines (the model's
    /// StartFailbackLaunch: "Initiates a Job for launching the machine that is being failed
    /// back to"; initiatedBy FAILBACK). Its servers name the recovery instance they fail
    /// back from.
    Failback,
}

impl JobKind {
    pub fn job_type(self) -> &'static str {
        match self {
            JobKind::Launch { .. } => "LAUNCH",
            JobKind::Terminate => "TERMINATE",
            // The model's JobType has no network value (see crate::network).
            JobKind::NetworkRecovery { .. } => "LAUNCH",
            // The model's JobType has LAUNCH, TERMINATE and CREATE_CONVERTED_SNAPSHOT: a
            // failback launches.
            JobKind::Failback => "LAUNCH",
            JobKind::Background { job_type, .. } => job_type.as_str(),
        }
    }

    pub fn initiated_by(self) -> &'static str {
        match self {
            JobKind::Launch { is_drill: true } => "START_DRILL",
            JobKind::Launch { is_drill: false } => "START_RECOVERY",
            JobKind::Terminate => "TERMINATE_RECOVERY_INSTANCES",
            JobKind::NetworkRecovery { update: false } => "CREATE_NETWORK_RECOVERY",
            JobKind::NetworkRecovery { update: true } => "UPDATE_NETWORK_RECOVERY",
            JobKind::Failback => "FAILBACK",
            JobKind::Background { initiated_by, .. } => initiated_by.as_str(),
        }
    }

    pub fn is_drill(self) -> Option<bool> {
        match self {
            JobKind::Launch { is_drill } => Some(is_drill),
            JobKind::Terminate
            | JobKind::Background { .. }
            | JobKind::NetworkRecovery { .. }
            | JobKind::Failback => None,
        }
    }

    pub fn is_background(self) -> bool {
        matches!(self, JobKind::Background { .. })
    }

    /// Whether its servers end TERMINATED (rather than LAUNCHED or FAILED).
    fn terminates(self) -> bool {
        matches!(
            self,
            JobKind::Terminate
                | JobKind::Background {
                    job_type: JobType::Terminate,
                    ..
                }
        )
    }
}

/// The point-in-time snapshot a launch uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedSnapshot {
    pub snapshot_id: String,
    pub timestamp: OffsetDateTime,
    /// The client named it in `recoverySnapshotID` (otherwise it is the latest one).
    pub requested: bool,
}

/// How a launch gets its data (what its log says before the conversion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotSource {
    /// A replicating server without `recoverySnapshotID`: SNAPSHOT_START / SNAPSHOT_END.
    #[default]
    Take,
    /// A snapshot named in `recoverySnapshotID`, or the latest one of a server that is not
    /// replicating: USING_PREVIOUS_SNAPSHOT.
    Previous,
    /// No snapshot at all: USING_PREVIOUS_SNAPSHOT_FAILED, then LAUNCH_FAILED.
    Missing,
}

/// One participating server's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledServer {
    pub source_server_id: String,
    /// Launch: the instance it will get if it succeeds. Terminate: the instance it removes.
    pub recovery_instance_id: Option<String>,
    pub conversion_server_id: String,
    /// When the server leaves PENDING.
    pub start: OffsetDateTime,
    /// When it reaches its final status.
    pub end: OffsetDateTime,
    /// Launch jobs only: the launch ends FAILED.
    pub fails: bool,
    /// The LAUNCH_FAILED `rawError` when it fails.
    pub fail_reason: Option<String>,
    /// Launch jobs only: the snapshot it launches from.
    pub snapshot: Option<UsedSnapshot>,
    pub snapshot_source: SnapshotSource,
    /// Launch jobs only: where a failing launch fails (the event before LAUNCH_FAILED).
    pub fail_stage: FailStage,
    /// Launch jobs only: the job skips the server (SERVER_SKIPPED with `fail_reason`); it is
    /// FAILED from the job's start.
    pub skipped: bool,
    /// Launch jobs only: the post-launch actions that run once it is LAUNCHED.
    pub post_launch: Option<PostLaunch>,
}

/// A job and its whole schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Creation order; newer jobs have larger numbers.
    pub seq: u64,
    pub id: String,
    pub arn: String,
    pub kind: JobKind,
    pub tags: BTreeMap<String, String>,
    pub created: OffsetDateTime,
    /// When the job leaves PENDING.
    pub started: OffsetDateTime,
    /// From when DescribeJobs lists its participatingServers (empty before).
    pub participants_listed: OffsetDateTime,
    /// From when DescribeJobs lists the job at all (`jobListingDelaySeconds`).
    pub listed: OffsetDateTime,
    pub servers: Vec<ScheduledServer>,
    /// A network recovery's networks (`participatingResources`); empty for other jobs.
    pub networks: Vec<crate::network::ScheduledNetwork>,
}

/// A log item (`DescribeJobLogItems`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogItem {
    pub at: OffsetDateTime,
    pub event: &'static str,
    pub source_server_id: Option<String>,
    pub conversion_server_id: Option<String>,
    pub target_instance_id: Option<String>,
    pub raw_error: Option<String>,
    /// A network recovery's event: `eventResourceData.sourceNetworkData`.
    pub network: Option<crate::network::NetworkEventData>,
}

impl LogItem {
    pub(crate) fn job(at: OffsetDateTime, event: &'static str) -> Self {
        Self {
            at,
            event,
            source_server_id: None,
            conversion_server_id: None,
            target_instance_id: None,
            raw_error: None,
            network: None,
        }
    }

    fn server(at: OffsetDateTime, event: &'static str, server: &ScheduledServer) -> Self {
        Self {
            source_server_id: Some(server.source_server_id.clone()),
            ..Self::job(at, event)
        }
    }
}

/// The message a failed launch logs as `rawError` when the fixture names no cause.
pub const LAUNCH_FAILED_RAW_ERROR: &str = crate::fixture::GENERIC_FAIL_REASON;

/// Shares of a launch spent before the snapshot ends and before the conversion ends.
pub const SNAPSHOT_SHARE: f64 = 0.2;
pub const CONVERSION_SHARE: f64 = 0.6;

/// Seconds (already scaled) as a `Duration`, at microsecond precision, which is what the
/// timestamps carry on the wire.
pub fn seconds(s: f64) -> Duration {
    Duration::microseconds((s.max(0.0) * 1e6).round() as i64)
}

/// Drops the sub-microsecond part so that what is scheduled is exactly what is printed.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1000).unwrap_or(t)
}

impl ScheduledServer {
    pub fn status(&self, kind: JobKind, now: OffsetDateTime) -> LaunchStatus {
        if now < self.start {
            LaunchStatus::Pending
        } else if now < self.end {
            LaunchStatus::InProgress
        } else {
            if kind.terminates() {
                LaunchStatus::Terminated
            } else if self.fails {
                LaunchStatus::Failed
            } else {
                LaunchStatus::Launched
            }
        }
    }

    /// The recovery instance a client sees now: a launch shows it once LAUNCHED, a terminate
    /// job names the instance it removes from the start.
    pub fn visible_instance(&self, kind: JobKind, now: OffsetDateTime) -> Option<&str> {
        match (kind, self.status(kind, now)) {
            (JobKind::Terminate | JobKind::Failback, _)
            | (JobKind::Launch { .. }, LaunchStatus::Launched) => {
                self.recovery_instance_id.as_deref()
            }
            _ => None,
        }
    }

    fn fraction(&self, share: f64) -> OffsetDateTime {
        self.start + (self.end - self.start) * share
    }

    /// When the server is done in its job: its launch has ended, and so have its
    /// post-launch actions.
    pub fn finish(&self) -> OffsetDateTime {
        match &self.post_launch {
            Some(post) if !self.fails => post.end().max(self.end),
            _ => self.end,
        }
    }
}

/// A launching server's log items: SERVER_SKIPPED for a skipped server; else how it gets its
/// snapshot (DRS's SNAPSHOT_* events when it takes one, USING_PREVIOUS_SNAPSHOT[_FAILED] when
/// it uses an existing one), the conversion, the launch, and a failure where its `fail_stage`
/// says (SNAPSHOT_FAIL, CONVERSION_FAIL) followed by LAUNCH_FAILED, each with `rawError`.
fn launch_log(s: &ScheduledServer, items: &mut Vec<LogItem>) {
    let raw_error = || {
        Some(
            s.fail_reason
                .clone()
                .unwrap_or_else(|| LAUNCH_FAILED_RAW_ERROR.to_owned()),
        )
    };
    let failed = |at: OffsetDateTime, event: &'static str| LogItem {
        raw_error: raw_error(),
        ..LogItem::server(at, event, s)
    };
    if s.skipped {
        items.push(failed(s.start, "SERVER_SKIPPED"));
        return;
    }
    let snapshot_fails = s.fails && s.fail_stage == FailStage::Snapshot;
    let snapshot_end = if snapshot_fails {
        s.end
    } else {
        s.fraction(SNAPSHOT_SHARE)
    };
    match s.snapshot_source {
        SnapshotSource::Take if snapshot_fails => {
            items.push(LogItem::server(s.start, "SNAPSHOT_START", s));
            items.push(failed(s.end, "SNAPSHOT_FAIL"));
            items.push(failed(s.end, "LAUNCH_FAILED"));
            return;
        }
        SnapshotSource::Take => {
            items.push(LogItem::server(s.start, "SNAPSHOT_START", s));
            items.push(LogItem::server(snapshot_end, "SNAPSHOT_END", s));
        }
        SnapshotSource::Previous if !snapshot_fails => {
            items.push(LogItem::server(s.start, "USING_PREVIOUS_SNAPSHOT", s));
        }
        SnapshotSource::Previous | SnapshotSource::Missing => {
            items.push(failed(s.start, "USING_PREVIOUS_SNAPSHOT_FAILED"));
            items.push(failed(s.end, "LAUNCH_FAILED"));
            return;
        }
    }
    let conversion = |at: OffsetDateTime, event: &'static str| LogItem {
        conversion_server_id: Some(s.conversion_server_id.clone()),
        ..LogItem::server(at, event, s)
    };
    items.push(conversion(snapshot_end, "CONVERSION_START"));
    if s.fails && s.fail_stage == FailStage::Conversion {
        items.push(LogItem {
            raw_error: raw_error(),
            ..conversion(s.end, "CONVERSION_FAIL")
        });
        items.push(failed(s.end, "LAUNCH_FAILED"));
        return;
    }
    let conversion_end = s.fraction(CONVERSION_SHARE);
    items.push(conversion(conversion_end, "CONVERSION_END"));
    items.push(LogItem {
        target_instance_id: s.recovery_instance_id.clone(),
        ..LogItem::server(conversion_end, "LAUNCH_START", s)
    });
    if s.fails {
        items.push(failed(s.end, "LAUNCH_FAILED"));
    }
}

/// A failback launch's log items: the conversion on the failback client and the launch (the
/// model's StartFailbackLaunch: "This will run conversion on the failback client and will
/// reboot your machine"), CONVERSION_START/END then LAUNCH_START, and LAUNCH_FAILED with
/// `rawError` when it fails. No snapshot: the data is the failback replication's.
fn failback_log(s: &ScheduledServer, items: &mut Vec<LogItem>) {
    let conversion = |at: OffsetDateTime, event: &'static str| LogItem {
        conversion_server_id: Some(s.conversion_server_id.clone()),
        ..LogItem::server(at, event, s)
    };
    let conversion_end = s.fraction(CONVERSION_SHARE);
    items.push(conversion(s.start, "CONVERSION_START"));
    items.push(conversion(conversion_end, "CONVERSION_END"));
    items.push(LogItem {
        target_instance_id: s.recovery_instance_id.clone(),
        ..LogItem::server(conversion_end, "LAUNCH_START", s)
    });
    if s.fails {
        items.push(LogItem {
            raw_error: Some(LAUNCH_FAILED_RAW_ERROR.to_owned()),
            ..LogItem::server(s.end, "LAUNCH_FAILED", s)
        });
    }
}

impl Job {
    /// When every server has finished, its post-launch actions included (the job's
    /// `endDateTime`: DRS completes a job only when its servers' action runs have ended).
    pub fn end(&self) -> OffsetDateTime {
        self.servers
            .iter()
            .map(ScheduledServer::finish)
            .chain(self.networks.iter().map(|n| n.end))
            .max()
            .unwrap_or(self.started)
            .max(self.started)
    }

    pub fn status(&self, now: OffsetDateTime) -> JobStatus {
        if now < self.started {
            JobStatus::Pending
        } else if now < self.end() {
            JobStatus::Started
        } else {
            JobStatus::Completed
        }
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.exists(now) && self.status(now) != JobStatus::Completed
    }

    /// A background job scheduled for later does not exist before its creation time.
    pub fn exists(&self, now: OffsetDateTime) -> bool {
        self.created <= now
    }

    /// Every log item the job will ever have, in time order.
    pub fn full_log(&self) -> Vec<LogItem> {
        let mut items = vec![LogItem::job(self.started, "JOB_START")];
        for s in &self.servers {
            match self.kind {
                JobKind::Launch { .. } => launch_log(s, &mut items),
                JobKind::Failback => failback_log(s, &mut items),
                JobKind::Terminate => {
                    items.push(LogItem {
                        target_instance_id: s.recovery_instance_id.clone(),
                        ..LogItem::server(s.start, "CLEANUP_START", s)
                    });
                    items.push(LogItem {
                        target_instance_id: s.recovery_instance_id.clone(),
                        ..LogItem::server(s.end, "CLEANUP_END", s)
                    });
                }
                // Someone else's job: its start and end are all the simulator tells.
                JobKind::Background { .. } | JobKind::NetworkRecovery { .. } => {}
            }
        }
        for n in &self.networks {
            n.log(&mut items);
        }
        items.push(LogItem::job(self.end(), "JOB_END"));
        // Stable: items at the same instant keep the order above (JOB_END stays last).
        items.sort_by_key(|i| i.at);
        items
    }

    /// The log items that have happened by `now`. Items only ever appear at the end, so an
    /// index into this list is a stable pagination token.
    pub fn log_at(&self, now: OffsetDateTime) -> Vec<LogItem> {
        self.full_log()
            .into_iter()
            .filter(|i| i.at <= now)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

    fn ms(n: i64) -> Duration {
        Duration::milliseconds(n)
    }

    fn job(kind: JobKind) -> Job {
        let started = T0 + ms(50);
        let server = |id: &str, launch_ms: i64, fails: bool| ScheduledServer {
            source_server_id: id.to_owned(),
            recovery_instance_id: Some(format!("i-{id}")),
            conversion_server_id: "i-conv".to_owned(),
            start: started,
            end: started + ms(launch_ms),
            fails,
            fail_reason: None,
            snapshot: None,
            snapshot_source: SnapshotSource::Take,
            fail_stage: FailStage::Launch,
            skipped: false,
            post_launch: None,
        };
        Job {
            seq: 1,
            id: "drsjob-00000000000000001".to_owned(),
            arn: "arn".to_owned(),
            kind,
            tags: BTreeMap::new(),
            created: T0,
            started,
            participants_listed: T0,
            listed: T0,
            servers: vec![server("a", 300, false), server("b", 500, true)],
            networks: Vec::new(),
        }
    }

    #[test]
    fn job_moves_pending_started_completed() {
        let j = job(JobKind::Launch { is_drill: true });
        assert_eq!(j.status(T0), JobStatus::Pending);
        assert_eq!(j.status(T0 + ms(49)), JobStatus::Pending);
        assert_eq!(j.status(T0 + ms(50)), JobStatus::Started);
        assert_eq!(j.status(T0 + ms(549)), JobStatus::Started);
        assert_eq!(j.status(T0 + ms(550)), JobStatus::Completed);
        assert_eq!(j.end(), T0 + ms(550));
    }

    #[test]
    fn servers_finish_on_their_own_timing_and_failures_complete_the_job() {
        let j = job(JobKind::Launch { is_drill: false });
        let kind = j.kind;
        let (a, b) = (&j.servers[0], &j.servers[1]);
        assert_eq!(a.status(kind, T0), LaunchStatus::Pending);
        assert_eq!(a.status(kind, T0 + ms(100)), LaunchStatus::InProgress);
        assert_eq!(a.status(kind, T0 + ms(350)), LaunchStatus::Launched);
        assert_eq!(b.status(kind, T0 + ms(350)), LaunchStatus::InProgress);
        assert_eq!(b.status(kind, T0 + ms(550)), LaunchStatus::Failed);
        assert_eq!(j.status(T0 + ms(550)), JobStatus::Completed);
        // The instance shows only once launched, and never for a failed launch.
        assert_eq!(a.visible_instance(kind, T0 + ms(100)), None);
        assert_eq!(a.visible_instance(kind, T0 + ms(350)), Some("i-a"));
        assert_eq!(b.visible_instance(kind, T0 + ms(600)), None);
    }

    #[test]
    fn terminate_servers_end_terminated() {
        let j = job(JobKind::Terminate);
        let s = &j.servers[1];
        assert_eq!(s.status(j.kind, T0 + ms(100)), LaunchStatus::InProgress);
        assert_eq!(s.status(j.kind, T0 + ms(600)), LaunchStatus::Terminated);
        assert_eq!(s.visible_instance(j.kind, T0), Some("i-b"));
        assert_eq!(j.kind.initiated_by(), "TERMINATE_RECOVERY_INSTANCES");
        let events: Vec<_> = j.full_log().iter().map(|i| i.event).collect();
        assert!(events.contains(&"CLEANUP_END"), "{events:?}");
    }

    #[test]
    fn initiated_by_follows_is_drill() {
        assert_eq!(
            JobKind::Launch { is_drill: true }.initiated_by(),
            "START_DRILL"
        );
        assert_eq!(
            JobKind::Launch { is_drill: false }.initiated_by(),
            "START_RECOVERY"
        );
    }

    #[test]
    fn log_grows_in_time_order_and_ends_with_job_end() {
        let j = job(JobKind::Launch { is_drill: true });
        assert!(j.log_at(T0).is_empty());
        let early = j.log_at(T0 + ms(60));
        assert_eq!(early[0].event, "JOB_START");
        assert!(early.iter().all(|i| i.event != "JOB_END"));
        let full = j.log_at(T0 + ms(10_000));
        assert_eq!(full.len(), j.full_log().len());
        // Earlier views are prefixes of later ones: an index is a stable page token.
        assert_eq!(&full[..early.len()], &early[..]);
        assert!(full.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(full.last().map(|i| i.event), Some("JOB_END"));
        let failed: Vec<_> = full.iter().filter(|i| i.event == "LAUNCH_FAILED").collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].source_server_id.as_deref(), Some("b"));
        assert!(failed[0].raw_error.is_some());
        let launches = full.iter().filter(|i| i.event == "LAUNCH_START").count();
        assert_eq!(launches, 2);
    }

    #[test]
    fn seconds_rounds_to_micros() {
        assert_eq!(seconds(0.3), ms(300));
        assert_eq!(seconds(-1.0), Duration::ZERO);
        let t = T0 + Duration::nanoseconds(1_234_567);
        assert_eq!(truncate_to_micros(t), T0 + Duration::nanoseconds(1_234_000));
    }
}
