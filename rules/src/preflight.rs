//! What a wave selects and what stops a plan from running: the checks of the preflight task,
//! the RECOVERY confirmation, and how a wave is split into jobs.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{Mode, PlanSpec, WaveSpec};
use time::OffsetDateTime;

use crate::Limits;
use crate::clock::{human_seconds, parse_time, seconds_between};
use crate::verdict::jobs_needed;
use drs_waves_aws::drs::{Job, RecoverySnapshot, SourceServer};

/// The servers a wave selects: its explicit IDs that exist, and every server carrying all of
/// its tags; sorted, so chunks are the same on every attempt.
pub struct Resolved {
    pub ids: Vec<String>,
    /// Explicit IDs DRS does not know.
    pub unknown: Vec<String>,
}

pub fn resolve_wave(wave: &WaveSpec, servers: &[SourceServer]) -> Resolved {
    let known: BTreeSet<&str> = servers.iter().map(|s| s.id.as_str()).collect();
    let mut ids = BTreeSet::new();
    let mut unknown = Vec::new();
    for id in &wave.server_ids {
        if known.contains(id.as_str()) {
            ids.insert(id.clone());
        } else {
            unknown.push(id.clone());
        }
    }
    if !wave.tags.is_empty() {
        for s in servers {
            if wave.tags.iter().all(|(k, v)| s.tags.get(k) == Some(v)) {
                ids.insert(s.id.clone());
            }
        }
    }
    Resolved {
        ids: ids.into_iter().collect(),
        unknown,
    }
}

/// Resolves every wave: the servers of each, and the problems that stop the plan before any
/// server is looked at (unknown IDs, empty waves, a server in two waves), named at once.
pub fn resolve_plan(plan: &PlanSpec, servers: &[SourceServer]) -> (Vec<Vec<String>>, Vec<String>) {
    let by_id: BTreeMap<&str, &SourceServer> = servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut problems = Vec::new();
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    let mut per_wave = Vec::new();
    for wave in &plan.waves {
        let name = &wave.name;
        let resolved = resolve_wave(wave, servers);
        for id in &resolved.unknown {
            problems.push(format!(
                "wave '{name}': source server {id} is not known to DRS in this account and region"
            ));
        }
        if resolved.ids.is_empty() {
            let tags = wave
                .tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            problems.push(format!(
                "wave '{name}' selects no source server (server IDs: [{}]; tags: [{tags}])",
                wave.server_ids.join(", ")
            ));
        }
        for id in &resolved.ids {
            if let Some(other) = owner.insert(id.clone(), name) {
                let label = by_id
                    .get(id.as_str())
                    .map_or_else(|| id.clone(), |s| s.label());
                problems.push(format!(
                    "source server {label} is selected by wave '{other}' and by wave '{name}'"
                ));
            }
        }
        per_wave.push(resolved.ids);
    }
    (per_wave, problems)
}

/// One server as preflight found it: where it will launch from, and how far back that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPoint {
    pub wave_index: u32,
    pub server_id: String,
    pub required: bool,
    /// The snapshot it will launch from; None when it has none (a refusal, or a warning for an
    /// optional server).
    pub snapshot: Option<RecoverySnapshot>,
    /// The snapshot's age at preflight, in seconds: the recovery point (RPO) for this server.
    pub age_seconds: Option<u64>,
    /// `dataReplicationState` with its error and last-seen time.
    pub replication: String,
}

/// What preflight needs to judge a plan: its servers as resolved, as DRS reports them, their
/// snapshots, the account's active jobs, and the execution's mode and point in time.
pub struct ReadinessInput<'a> {
    pub mode: Mode,
    pub plan: &'a PlanSpec,
    /// From [`resolve_plan`].
    pub per_wave: &'a [Vec<String>],
    pub servers: &'a [SourceServer],
    /// Each resolved server's latest snapshot at or before the point in time (or its latest).
    pub snapshots: &'a BTreeMap<String, Option<RecoverySnapshot>>,
    /// Every active job of the account (any type).
    pub active_jobs: &'a [Job],
    pub point_in_time: Option<&'a str>,
    pub now: OffsetDateTime,
    pub limits: &'a Limits,
    /// The worker sends each wave's chunks within the quotas as room frees up (the scheduled
    /// strategy): a wave larger than the quotas, or one that finds them partly taken, waits
    /// rather than being refused.
    pub scheduled: bool,
}

/// Preflight's judgement: refusals (every one named at once), warnings, and each server's
/// launch point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub points: Vec<LaunchPoint>,
}

impl Readiness {
    /// The oldest snapshot a required server launches from, as an age in seconds.
    pub fn worst_rpo_seconds(&self) -> Option<u64> {
        self.points
            .iter()
            .filter(|p| p.required)
            .filter_map(|p| p.age_seconds)
            .max()
    }
}

/// Whether a plan may run now.
///
/// - A DRILL is a readiness test: a required server whose replication is not healthy
///   ([`crate::drs::HEALTHY_REPLICATION_STATES`]) is refused, named with its state and error.
/// - A RECOVERY launches from recovery snapshots, so a source site that is down (servers
///   STALLED or DISCONNECTED) does not stop it: a server that is not CONTINUOUS is a warning.
/// - Either way, every required server needs a recovery snapshot (at or before the point in
///   time when one is given); an optional server without one is a warning.
/// - No server may already be in an active job, and each wave must fit the quotas, counting
///   the jobs and servers already active in the account (unless the worker schedules its
///   chunks within them: `scheduled`).
pub fn check_readiness(input: &ReadinessInput<'_>) -> Readiness {
    let by_id: BTreeMap<&str, &SourceServer> =
        input.servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut busy: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for job in input.active_jobs.iter().filter(|j| j.status.is_active()) {
        for s in &job.servers {
            busy.insert(
                s.source_server_id.as_str(),
                (job.id.as_str(), job.status.as_str()),
            );
        }
    }
    let active_jobs = input
        .active_jobs
        .iter()
        .filter(|j| j.status.is_active())
        .count();
    let active_servers = busy.len();
    let limits = input.limits;
    let at = input
        .point_in_time
        .map(|t| format!(" at or before {t}"))
        .unwrap_or_default();
    let mut out = Readiness::default();
    for (wave, ids) in input.plan.waves.iter().zip(input.per_wave) {
        let name = &wave.name;
        let optional: BTreeSet<&str> = wave.optional.iter().map(String::as_str).collect();
        for id in ids {
            let server = by_id.get(id.as_str());
            let label = server.map_or_else(|| id.clone(), |s| s.label());
            let required = !optional.contains(id.as_str());
            let replication =
                server.map_or_else(|| "unknown".to_string(), |s| s.replication_summary());
            let healthy = server.is_some_and(|s| s.replicating());
            let continuous = server
                .and_then(|s| s.replication_state.as_deref())
                .is_some_and(|st| st == "CONTINUOUS");
            let snapshot = input.snapshots.get(id).cloned().flatten();
            // DRS takes a snapshot at launch: none is looked up, none is needed.
            let on_demand = server.is_some_and(|s| s.launches_on_demand(input.point_in_time));
            let age_seconds = snapshot
                .as_ref()
                .and_then(|snap| parse_time(&snap.taken_at).map(|t| seconds_between(t, input.now)));
            match input.mode {
                Mode::Drill if !healthy && required => out.problems.push(format!(
                    "wave '{name}': source server {label} is not ready for a drill: replication {replication}; \
                     a drill tests readiness and needs healthy replication (a RECOVERY would launch from its snapshots)"
                )),
                Mode::Drill if !healthy => out.warnings.push(format!(
                    "wave '{name}': optional source server {label} is not replicating ({replication}); it may fail to launch"
                )),
                Mode::Recovery if !continuous => out.warnings.push(match (&snapshot, age_seconds) {
                    (Some(snap), Some(age)) => format!(
                        "wave '{name}': source server {label} is {replication}: launching from recovery snapshot {} taken {} ({} ago)",
                        snap.id, snap.taken_at, human_seconds(age)
                    ),
                    _ => format!("wave '{name}': source server {label} is {replication}"),
                }),
                _ => {}
            }
            if snapshot.is_none() && !on_demand {
                let text = format!(
                    "wave '{name}': source server {label} has no recovery snapshot{at} (replication {replication})"
                );
                if required {
                    out.problems.push(text);
                } else {
                    out.warnings
                        .push(format!("{text}; it is optional and will not launch"));
                }
            }
            if let Some((job, status)) = busy.get(id.as_str()) {
                out.problems.push(format!(
                    "wave '{name}': source server {label} is already in DRS job {job} ({status})"
                ));
            }
            out.points.push(LaunchPoint {
                wave_index: wave.index,
                server_id: id.clone(),
                required,
                snapshot,
                age_seconds,
                replication,
            });
        }
        let n = ids.len();
        if input.scheduled {
            continue;
        }
        if n > limits.max_active_servers {
            out.problems.push(format!(
                "wave '{name}' has {n} servers, more than the {} DRS allows in active jobs (--max-active-servers): split the wave",
                limits.max_active_servers
            ));
        } else if n + active_servers > limits.max_active_servers {
            out.problems.push(format!(
                "wave '{name}' has {n} servers, and {active_servers} servers are already in active DRS jobs of this account: \
                 together more than the {} allowed in active jobs (--max-active-servers); wait for those jobs to end",
                limits.max_active_servers
            ));
        }
        let jobs = jobs_needed(n, limits.max_servers_per_job);
        if jobs > limits.max_concurrent_jobs {
            out.problems.push(format!(
                "wave '{name}' needs {jobs} DRS jobs of at most {} servers, more than the {} concurrent jobs allowed (--max-concurrent-jobs)",
                limits.max_servers_per_job, limits.max_concurrent_jobs
            ));
        } else if jobs + active_jobs > limits.max_concurrent_jobs {
            out.problems.push(format!(
                "wave '{name}' needs {jobs} DRS jobs, and {active_jobs} jobs are already active in this account: \
                 together more than the {} concurrent jobs allowed (--max-concurrent-jobs); wait for those jobs to end",
                limits.max_concurrent_jobs
            ));
        }
    }
    out
}
