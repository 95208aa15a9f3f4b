//! Replication over time and the point-in-time snapshots it yields.
//!
//! A source server's replication is a timeline of states (the fixture's, then whatever a
//! source-site outage sets at run time). DRS takes point-in-time snapshots only while a
//! server replicates, so the snapshots a server has are its schedule's times that fall in a
//! replicating stretch of the timeline and have come. Nothing is stored per snapshot: the
//! list, the IDs and the timestamps are pure functions of the schedule, the timeline, the
//! simulator's start and its seed, so they are the same whenever they are asked for.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::fixture::{PRE_SYNC_STATES, SnapshotSpec, SourceServerDef};
use crate::lifecycle::seconds;

/// States in which DRS keeps taking point-in-time snapshots (replication is running).
pub const SNAPSHOT_TAKING_STATES: &[&str] =
    &["CONTINUOUS", "BACKLOG", "CREATING_SNAPSHOT", "RESCAN"];

/// States a source-site outage puts servers in (the DRS documentation: when the source
/// site is down its servers turn STALLED or DISCONNECTED, with AGENT_NOT_SEEN).
pub const OUTAGE_STATES: &[&str] = &["STALLED", "DISCONNECTED"];

/// The MINUTE rule's retention (DRS User Guide, point-in-time: "The snapshot frequency
/// intervals and retention durations for the MINUTE rule (interval=10, retentionDuration=60)
/// and HOUR rule (interval=1, retentionDuration=24) are fixed").
pub const MINUTE_RULE_RETENTION: Duration = Duration::minutes(60);
/// The HOUR rule's retention (same page).
pub const HOUR_RULE_RETENTION: Duration = Duration::hours(24);
/// DisconnectSourceServer (the model's documentation): "All AWS resources created by Elastic
/// Disaster Recovery for enabling the replication of the Source Server will be terminated /
/// deleted within 90 minutes" (the simulator takes the whole 90 minutes).
pub const DISCONNECT_REMOVAL: Duration = Duration::minutes(90);

/// The state of an outage started at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutageState {
    Stalled,
    Disconnected,
}

impl OutageState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutageState::Stalled => "STALLED",
            OutageState::Disconnected => "DISCONNECTED",
        }
    }
}

/// From `from` on (until the next segment), the server is in `state` with `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub from: OffsetDateTime,
    pub state: String,
    pub error: Option<String>,
}

impl Segment {
    /// DRS takes snapshots in this stretch.
    pub fn takes_snapshots(&self) -> bool {
        SNAPSHOT_TAKING_STATES.contains(&self.state.as_str())
            && self.error.as_deref() != Some("SNAPSHOTS_FAILURE")
    }

    /// The service hears from the replication agent in this stretch.
    pub fn agent_seen(&self) -> bool {
        self.state != "DISCONNECTED" && self.error.as_deref() != Some("AGENT_NOT_SEEN")
    }
}

/// A server's replication states over time; never empty, sorted by `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    segments: Vec<Segment>,
    /// Admin agings: at `.0`, every snapshot taken by then became `.1` older (for its
    /// retention only).
    agings: Vec<(OffsetDateTime, Duration)>,
}

impl Timeline {
    /// The timeline a fixture entry describes, as of `anchor` (the simulator's start, or
    /// the moment a server is added or replaced at run time). A server that is not
    /// replicating (STALLED, DISCONNECTED, PAUSED, STOPPED, or SNAPSHOTS_FAILURE) replicated
    /// until `downSinceMinutes` before the anchor; one whose agent is not seen was seen until
    /// then; any other state holds from the beginning.
    pub fn from_def(def: &SourceServerDef, anchor: OffsetDateTime) -> Self {
        let segment = Segment {
            from: OffsetDateTime::UNIX_EPOCH,
            state: def.replication_state.clone(),
            error: def.replication_error.clone(),
        };
        let pre_sync = PRE_SYNC_STATES.contains(&def.replication_state.as_str());
        let changed = (!segment.takes_snapshots() && !pre_sync) || !segment.agent_seen();
        if !changed {
            return Self {
                segments: vec![segment],
                agings: Vec::new(),
            };
        }
        // Before: replicating (or still syncing), the agent seen.
        let before = Segment {
            from: OffsetDateTime::UNIX_EPOCH,
            state: if pre_sync {
                def.replication_state.clone()
            } else {
                "CONTINUOUS".to_owned()
            },
            error: None,
        };
        Self {
            segments: vec![
                before,
                Segment {
                    from: anchor - seconds(def.down_since_minutes * 60.0),
                    ..segment
                },
            ],
            agings: Vec::new(),
        }
    }

    /// Ages every snapshot taken by `at` by `by`, as far as its retention goes (a test's
    /// way to let an hour pass for the snapshots alone).
    pub fn age_snapshots(&mut self, at: OffsetDateTime, by: Duration) {
        self.agings.push((at, by));
    }

    /// When a snapshot taken at `taken` is deleted by a change of state after it: at once
    /// when the server is STOPPED (StopReplication, the model: "delete its existing
    /// snapshots"), 90 minutes after it is DISCONNECTED (DisconnectSourceServer).
    fn removed_at(&self, taken: OffsetDateTime) -> Option<OffsetDateTime> {
        self.segments
            .iter()
            .filter(|s| s.from > taken)
            .filter_map(|s| match s.state.as_str() {
                "STOPPED" => Some(s.from),
                "DISCONNECTED" => Some(s.from + DISCONNECT_REMOVAL),
                _ => None,
            })
            .min()
    }

    /// How much older the admin agings have made a snapshot taken at `taken`.
    fn aged(&self, taken: OffsetDateTime) -> Duration {
        self.agings
            .iter()
            .filter(|(at, _)| *at >= taken)
            .map(|(_, by)| *by)
            .sum()
    }

    /// The last change: its time and what it set (None when the timeline has only its
    /// beginning).
    pub fn last_change(&self) -> Option<&Segment> {
        self.segments
            .last()
            .filter(|s| s.from > OffsetDateTime::UNIX_EPOCH)
    }

    /// The segment in force at `t`.
    pub fn at(&self, t: OffsetDateTime) -> &Segment {
        let index = self.segments.partition_point(|s| s.from <= t);
        &self.segments[index.saturating_sub(1)]
    }

    /// From `from` on, the server is in `state` (later segments are dropped).
    pub fn set(&mut self, from: OffsetDateTime, state: &str, error: Option<String>) {
        self.segments.retain(|s| s.from < from);
        if self.segments.is_empty() {
            // Keep the timeline starting at the beginning of time.
            self.segments.push(Segment {
                from: OffsetDateTime::UNIX_EPOCH,
                state: state.to_owned(),
                error,
            });
            return;
        }
        self.segments.push(Segment {
            from,
            state: state.to_owned(),
            error,
        });
    }

    /// `lifeCycle.lastSeenByServiceDateTime`: `now` while the agent is seen, else when it
    /// was last seen (the start of the stretch in which it has not been).
    pub fn last_seen(&self, now: OffsetDateTime) -> OffsetDateTime {
        let mut since = now;
        for s in self.segments.iter().rev().filter(|s| s.from <= now) {
            if s.agent_seen() {
                break;
            }
            since = s.from;
        }
        since
    }

    /// Since when the server has not replicated (None while it does, or before its
    /// initial sync).
    pub fn not_replicating_since(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let current = self.at(now);
        if current.takes_snapshots() || PRE_SYNC_STATES.contains(&current.state.as_str()) {
            return None;
        }
        let mut since = current.from;
        for s in self.segments.iter().rev().filter(|s| s.from <= now) {
            if s.takes_snapshots() {
                break;
            }
            since = s.from;
        }
        Some(since)
    }
}

/// A point-in-time snapshot (the DRS model's RecoverySnapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoverySnapshot {
    #[serde(rename = "snapshotID")]
    pub snapshot_id: String,
    #[serde(rename = "sourceServerID")]
    pub source_server_id: String,
    /// When it was due.
    #[serde(with = "crate::state::rfc3339")]
    pub expected_timestamp: OffsetDateTime,
    /// When it was taken.
    #[serde(with = "crate::state::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub ebs_snapshots: Vec<String>,
}

/// Longest delay between a periodic snapshot's due time and its actual time.
const MAX_JITTER_US: i64 = 20_000_000;

/// Every snapshot `def`'s server has at `now`, oldest first: those taken (see [`taken`])
/// that neither their retention nor a change of state has deleted.
///
/// Retention follows DRS's point-in-time policy (User Guide, point-in-time): the MINUTE rule
/// keeps a snapshot 60 minutes, the HOUR rule 24 hours, the DAY rule `retentionDays` days
/// (default 7). Which rule a snapshot belongs to is the simulator's reading: the first
/// snapshot taken in a UTC day is the DAY rule's, the first in a UTC hour the HOUR rule's,
/// any other the MINUTE rule's (so every 10 minutes for the last hour, one an hour for a
/// day, one a day for `retentionDays`).
pub fn snapshots(
    def: &SourceServerDef,
    timeline: &Timeline,
    sim_start: OffsetDateTime,
    now: OffsetDateTime,
    salt: u64,
) -> Vec<RecoverySnapshot> {
    let all = taken(def, timeline, sim_start, now, salt);
    let mut kept = Vec::with_capacity(all.len());
    let (mut last_hour, mut last_day) = (None, None);
    for snap in all {
        let hour = micros(snap.timestamp).div_euclid(3_600_000_000);
        let day = hour.div_euclid(24);
        let retention = if last_day != Some(day) {
            Duration::days(i64::from(def.retention_days))
        } else if last_hour != Some(hour) {
            HOUR_RULE_RETENTION
        } else {
            MINUTE_RULE_RETENTION
        };
        (last_hour, last_day) = (Some(hour), Some(day));
        let expires = snap.timestamp + retention - timeline.aged(snap.timestamp);
        let removed = timeline.removed_at(snap.timestamp);
        if expires > now && removed.is_none_or(|r| r > now) {
            kept.push(snap);
        }
    }
    kept
}

/// Every snapshot `def`'s server has taken by `now`, deleted ones included, oldest first.
///
/// Periodic schedules are aligned on the wall clock (every 10 minutes: :00, :10, ...) from
/// `for_hours` before `sim_start`; each is taken a few seconds after it is due (a fixed,
/// seeded delay). Explicit times are taken exactly then. Either way a snapshot exists
/// only once its time has come and only if the server was replicating then.
pub fn taken(
    def: &SourceServerDef,
    timeline: &Timeline,
    sim_start: OffsetDateTime,
    now: OffsetDateTime,
    salt: u64,
) -> Vec<RecoverySnapshot> {
    let mut out = Vec::new();
    let mut push = |expected: OffsetDateTime, taken: OffsetDateTime| {
        if taken <= now && timeline.at(taken).takes_snapshots() {
            out.push(snapshot(&def.id, expected, taken, salt));
        }
    };
    match &def.snapshots {
        SnapshotSpec::None => {}
        SnapshotSpec::Every {
            every_minutes,
            for_hours,
        } => {
            let interval = ((every_minutes * 60e6).round() as i64).max(1);
            let from = micros(sim_start - seconds(for_hours * 3600.0));
            let first = from.div_euclid(interval) + i64::from(from.rem_euclid(interval) != 0);
            let last = micros(now).div_euclid(interval);
            let spread = (interval / 5).clamp(1, MAX_JITTER_US);
            for k in first..=last {
                let due = k * interval;
                let jitter = (hash(salt, &def.id, due, 2) % spread as u64) as i64;
                push(from_micros(due), from_micros(due + jitter));
            }
        }
        SnapshotSpec::At(_) => {
            let mut times = def.snapshots.times();
            times.sort();
            for t in times {
                let t = from_micros(micros(t));
                push(t, t);
            }
        }
    }
    out
}

fn snapshot(
    server: &str,
    expected: OffsetDateTime,
    taken: OffsetDateTime,
    salt: u64,
) -> RecoverySnapshot {
    let key = micros(expected);
    RecoverySnapshot {
        snapshot_id: format!("pit-{}", hex17(hash(salt, server, key, 0))),
        source_server_id: server.to_owned(),
        expected_timestamp: expected,
        timestamp: taken,
        ebs_snapshots: vec![format!("snap-{}", hex17(hash(salt, server, key, 1)))],
    }
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::microseconds(us)
}

/// SplitMix64's finalizer: a stable mix (the same on every build, unlike std's hasher).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash(salt: u64, text: &str, n: i64, tag: u64) -> u64 {
    let mut h = mix(salt);
    for b in text.bytes() {
        h = mix(h ^ u64::from(b));
    }
    mix(mix(h ^ n as u64) ^ tag)
}

/// 17 hex digits.
fn hex17(h: u64) -> String {
    format!("{h:016x}{:x}", mix(h) & 0xf)
}

/// `lagDuration` as ISO-8601 (`PT0S`, `PT1H2M3S`).
pub fn iso_duration(d: Duration) -> String {
    let total = d.whole_seconds().max(0);
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    let mut out = "PT".to_owned();
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || (h == 0 && m == 0) {
        out.push_str(&format!("{s}S"));
    }
    out
}

/// True for a well-formed recovery snapshot ID (`pit-` + 17 letters or digits, the DRS
/// model's pattern).
pub fn is_snapshot_id(id: &str) -> bool {
    id.strip_prefix("pit-")
        .is_some_and(|rest| rest.len() == 17 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{ResolvedDefaults, ServerSpec, resolve};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

    fn def(spec: ServerSpec) -> SourceServerDef {
        resolve(&spec, &ResolvedDefaults::default()).expect("valid")
    }

    #[test]
    fn default_schedule_is_every_ten_minutes_for_a_day_and_goes_on() {
        let d = def(ServerSpec::new("s-00000000000000001", 1.0));
        let t = Timeline::from_def(&d, T0);
        let at_start = taken(&d, &t, T0, T0, 7);
        // 12:00 the day before up to 11:50 (12:00 today is taken a little after 12:00).
        assert_eq!(at_start.len(), 144);
        assert_eq!(at_start[0].expected_timestamp, T0 - Duration::hours(24));
        assert!(at_start.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
        let later = taken(&d, &t, T0, T0 + Duration::minutes(31), 7);
        assert_eq!(later.len(), 148);
        // The same snapshot keeps its ID; IDs have the model's shape.
        assert_eq!(later[0], at_start[0]);
        assert!(
            is_snapshot_id(&later[0].snapshot_id),
            "{}",
            later[0].snapshot_id
        );
        let ebs = &later[0].ebs_snapshots[0];
        assert!(ebs.starts_with("snap-") && ebs.len() == 22, "{ebs}");
        // Another seed, other IDs.
        assert_ne!(
            taken(&d, &t, T0, T0, 8)[0].snapshot_id,
            at_start[0].snapshot_id
        );
    }

    #[test]
    fn a_stalled_server_has_snapshots_only_until_it_went_down() {
        let d = def(ServerSpec::new("s-00000000000000001", 1.0)
            .with_replication_state("STALLED")
            .down_since_minutes(30.0));
        assert_eq!(d.replication_error.as_deref(), Some("AGENT_NOT_SEEN"));
        let t = Timeline::from_def(&d, T0);
        let later = T0 + Duration::hours(2);
        let snaps = taken(&d, &t, T0, later, 1);
        let last = snaps.last().expect("snapshots before the outage");
        assert!(last.timestamp <= T0 - Duration::minutes(30));
        assert!(last.timestamp > T0 - Duration::minutes(41));
        assert_eq!(t.last_seen(later), T0 - Duration::minutes(30));
        assert_eq!(
            t.not_replicating_since(later),
            Some(T0 - Duration::minutes(30))
        );
    }

    #[test]
    fn outage_at_run_time_freezes_and_ending_it_resumes() {
        let d = def(ServerSpec::new("s-00000000000000001", 1.0));
        let mut t = Timeline::from_def(&d, T0);
        let down = T0 + Duration::minutes(5);
        t.set(down, "DISCONNECTED", Some("AGENT_NOT_SEEN".to_owned()));
        let up = T0 + Duration::minutes(45);
        let during = taken(&d, &t, T0, up, 3);
        assert!(during.iter().all(|s| s.timestamp < down));
        assert_eq!(t.last_seen(up), down);
        t.set(up, "CONTINUOUS", None);
        let after = taken(&d, &t, T0, up + Duration::minutes(20), 3);
        assert_eq!(after.len(), during.len() + 2);
        assert_eq!(
            t.last_seen(up + Duration::minutes(20)),
            up + Duration::minutes(20)
        );
    }

    #[test]
    fn explicit_times_and_none() {
        let d = def(
            ServerSpec::new("s-00000000000000001", 1.0).with_snapshots(SnapshotSpec::at(&[
                T0 - Duration::hours(1),
                T0 + Duration::minutes(1),
            ])),
        );
        let t = Timeline::from_def(&d, T0);
        let now = snapshots(&d, &t, T0, T0, 1);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].timestamp, T0 - Duration::hours(1));
        assert_eq!(now[0].expected_timestamp, now[0].timestamp);
        assert_eq!(snapshots(&d, &t, T0, T0 + Duration::minutes(2), 1).len(), 2);
        let sync =
            def(ServerSpec::new("s-00000000000000002", 1.0).with_replication_state("INITIAL_SYNC"));
        let t = Timeline::from_def(&sync, T0);
        assert!(snapshots(&sync, &t, T0, T0 + Duration::hours(1), 1).is_empty());
    }

    #[test]
    fn an_agent_not_seen_is_last_seen_when_it_went_down_whatever_the_state() {
        for state in ["INITIAL_SYNC", "CONTINUOUS"] {
            let d = def(ServerSpec::new("s-00000000000000001", 1.0)
                .with_replication_state(state)
                .with_replication_error("AGENT_NOT_SEEN")
                .down_since_minutes(5.0));
            let t = Timeline::from_def(&d, T0);
            assert_eq!(
                t.last_seen(T0 + Duration::hours(1)),
                T0 - Duration::minutes(5)
            );
            assert_eq!(t.at(T0).state, state);
        }
    }

    /// The minute of the hour and the hour of the day.
    fn clock(t: OffsetDateTime) -> (u8, u8) {
        (t.minute(), t.hour())
    }

    #[test]
    fn retention_keeps_ten_minute_snapshots_an_hour_hourly_ones_a_day_daily_ones_for_the_retention_days()
     {
        let mut spec = ServerSpec::new("s-00000000000000001", 1.0)
            .with_snapshots(SnapshotSpec::every(10.0, 72.0));
        spec.retention_days = Some(2);
        let d = def(spec);
        assert_eq!(d.retention_days, 2);
        let t = Timeline::from_def(&d, T0);
        let kept = snapshots(&d, &t, T0, T0, 7);
        // 11:00..11:50 today; 12:00..23:00 on 04-30 and 00:00..10:00 today one an hour; the
        // first of 04-30 (00:00) as a daily one. 04-28's and 04-29's are past two days.
        assert_eq!(kept.len(), 6 + 12 + 11 + 1, "{kept:#?}");
        for snap in &kept {
            let age = T0 - snap.timestamp;
            if age > MINUTE_RULE_RETENTION {
                assert_eq!(clock(snap.expected_timestamp).0, 0, "hourly: {snap:?}");
            }
            if age > HOUR_RULE_RETENTION {
                assert_eq!(clock(snap.expected_timestamp), (0, 0), "daily: {snap:?}");
            }
            assert!(age < Duration::days(2), "{snap:?}");
        }
        // Every snapshot kept is one that was taken, and ids stay.
        let all = taken(&d, &t, T0, T0, 7);
        assert!(kept.iter().all(|k| all.contains(k)));
        // Ten minutes on, 11:00's 10-minute neighbour 11:10 is gone, 11:00 (hourly) stays.
        let later = snapshots(&d, &t, T0, T0 + Duration::minutes(11), 7);
        let at = |h: u8, m: u8| later.iter().any(|s| clock(s.expected_timestamp) == (m, h));
        assert!(at(11, 0) && !at(11, 10) && at(11, 20) && at(12, 10));
    }

    #[test]
    fn stopped_deletes_snapshots_at_once_and_disconnected_after_ninety_minutes() {
        let d = def(ServerSpec::new("s-00000000000000001", 1.0));
        let mut stopped = Timeline::from_def(&d, T0);
        stopped.set(T0, "STOPPED", None);
        assert!(!snapshots(&d, &stopped, T0, T0 - Duration::seconds(1), 1).is_empty());
        assert!(snapshots(&d, &stopped, T0, T0, 1).is_empty());
        // Replication restarted: new snapshots, the old ones do not come back.
        stopped.set(T0 + Duration::minutes(5), "CONTINUOUS", None);
        let back = snapshots(&d, &stopped, T0, T0 + Duration::minutes(25), 1);
        assert_eq!(back.len(), 2, "{back:#?}");
        assert!(back.iter().all(|s| s.timestamp > T0));

        let mut disconnected = Timeline::from_def(&d, T0);
        disconnected.set(T0, "DISCONNECTED", Some("AGENT_NOT_SEEN".to_owned()));
        let before = T0 + DISCONNECT_REMOVAL - Duration::seconds(1);
        assert!(!snapshots(&d, &disconnected, T0, before, 1).is_empty());
        assert!(snapshots(&d, &disconnected, T0, T0 + DISCONNECT_REMOVAL, 1).is_empty());
        // A stalled server keeps what its retention keeps.
        let mut stalled = Timeline::from_def(&d, T0);
        stalled.set(T0, "STALLED", Some("AGENT_NOT_SEEN".to_owned()));
        assert!(!snapshots(&d, &stalled, T0, T0 + Duration::hours(3), 1).is_empty());
    }

    #[test]
    fn aging_expires_what_retention_would_and_spares_later_snapshots() {
        let d = def(ServerSpec::new("s-00000000000000001", 1.0));
        let mut t = Timeline::from_def(&d, T0);
        let before = snapshots(&d, &t, T0, T0, 1);
        t.age_snapshots(T0, Duration::minutes(61));
        let aged = snapshots(&d, &t, T0, T0, 1);
        // 11:10..11:50 are gone, and so is yesterday's 13:00 (hourly, 23 h old, now past
        // 24 h); 11:00, the other hourly ones and yesterday's 12:00 (the day's first) stay.
        assert_eq!(aged.len(), before.len() - 6);
        assert!(aged.iter().all(|s| clock(s.expected_timestamp).0 == 0));
        let later = snapshots(&d, &t, T0, T0 + Duration::minutes(21), 1);
        assert_eq!(
            later.len(),
            aged.len() + 3,
            "12:00, 12:10 and 12:20 age normally"
        );
    }

    #[test]
    fn durations_read_as_iso() {
        assert_eq!(iso_duration(Duration::ZERO), "PT0S");
        assert_eq!(iso_duration(Duration::seconds(3723)), "PT1H2M3S");
        assert_eq!(iso_duration(Duration::minutes(30)), "PT30M");
    }
}
