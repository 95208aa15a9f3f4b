//! One wave of the report: its facts and verdict from the history's record (or the plan, for a
//! wave not started), when it recovered, and one line per server it launched or plans to.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{Mode, Targets, WaveStatus};
use time::OffsetDateTime;

use super::{
    JobRecord, MachineFacts, Progress, ServerLaunchPoint, ServerRecord, Sources, WaveRecord,
    WaveSource,
};
use crate::clock::{format_time, parse_time, seconds_between};
use crate::model::{ServerFacts, WaveFacts};

/// One wave of the report: its facts, when it recovered, its servers.
pub(super) struct WaveOutcome {
    pub(super) facts: WaveFacts,
    /// None while (or because) the wave did not recover.
    pub(super) recovered_at: Option<OffsetDateTime>,
    pub(super) servers: Vec<ServerFacts>,
}

/// The wave of index `i`, from the history's record or, for a wave not started, the plan.
pub(super) fn wave_outcome(
    sources: &Sources,
    machine: &MachineFacts,
    targets: &Targets,
    progress: &Progress,
    i: u32,
) -> WaveOutcome {
    let source = sources.waves.iter().find(|w| w.record.index == i);
    let spec = machine
        .plan
        .as_ref()
        .and_then(|p| p.waves.iter().find(|w| w.index == i));
    let name = source
        .map(|w| w.record.name.clone())
        .or_else(|| spec.map(|s| s.name.clone()))
        .unwrap_or_else(|| format!("wave {i}"));
    let target = targets.wave_rto_seconds(i).map(u64::from);
    // What the wave waited for, when the plan is a graph: the timeline shows the branches.
    let waits_for = machine
        .plan
        .as_ref()
        .filter(|p| p.is_graph())
        .map(|p| p.dependencies(i));
    let Some(source) = source else {
        return WaveOutcome {
            facts: WaveFacts {
                waits_for,
                ..not_started_wave(i, name, target, progress)
            },
            recovered_at: None,
            servers: Vec::new(),
        };
    };
    let launched_at = wave_recovered_at(sources, &source.record);
    let servers = wave_servers(sources, source, &name);
    // A wave with health checks is recovered when healthy: its RTO (and the plan's) counts to
    // the moment its last check passed, and a wave that launched but never became healthy has
    // not recovered.
    let checked = source.health.is_some() || spec.is_some_and(|s| !s.health.is_empty());
    let healthy_at = source
        .health
        .as_ref()
        .and_then(|h| h.healthy_at.as_deref())
        .and_then(parse_time)
        .filter(|_| launched_at.is_some());
    let recovered_at = if checked { healthy_at } else { launched_at };
    let facts = started_wave(&source.record, name, target, launched_at, progress);
    let facts = if checked {
        WaveFacts {
            rto: progress.verdict(
                "healthy in",
                target,
                healthy_at.map(|h| seconds_between(progress.started, h)),
                if launched_at.is_some() {
                    "not healthy"
                } else {
                    "the wave failed"
                },
            ),
            healthy_at: healthy_at.map(format_time),
            health_checks: source.health.as_ref().map(health_lines).unwrap_or_default(),
            ..facts
        }
    } else {
        facts
    };
    WaveOutcome {
        facts: WaveFacts { waits_for, ..facts },
        recovered_at,
        servers,
    }
}

/// A wave the history has no record of: not started (yet).
fn not_started_wave(i: u32, name: String, target: Option<u64>, progress: &Progress) -> WaveFacts {
    WaveFacts {
        index: i,
        name,
        status: "NOT_STARTED".into(),
        started_at: None,
        ended_at: None,
        recovered_at: None,
        duration_seconds: None,
        rto: progress.verdict("recovered in", target, None, "not started"),
        job_ids: Vec::new(),
        servers: 0,
        launched: 0,
        failed: 0,
        checks: 0,
        reason: None,
        account: None,
        waits_for: None,
        healthy_at: None,
        health_checks: Vec::new(),
    }
}

/// Each check of a wave's HEALTH record, in words: when it passed, or its last answers.
fn health_lines(h: &drs_waves_history::WaveHealthRecord) -> Vec<String> {
    h.checks
        .iter()
        .map(|c| match &c.passed_at {
            Some(at) => format!("{}: passed at {at} ({} probe(s))", c.what, c.probes),
            None => {
                let answers: Vec<String> = c
                    .last
                    .iter()
                    .map(|p| format!("{} {}", p.target, p.answer))
                    .collect();
                format!(
                    "{}: not passed after {} probe(s); last: {}",
                    c.what,
                    c.probes,
                    if answers.is_empty() {
                        "none".to_owned()
                    } else {
                        answers.join("; ")
                    }
                )
            }
        })
        .collect()
}

/// When a wave that succeeded recovered: its last job's end as DRS tells it, else the wave's
/// recorded end. None for a wave that did not succeed.
fn wave_recovered_at(sources: &Sources, w: &WaveRecord) -> Option<OffsetDateTime> {
    (w.status == WaveStatus::Succeeded)
        .then(|| {
            w.job_ids
                .iter()
                .filter_map(|j| sources.drs_jobs.get(j)?.ended_at.as_deref())
                .filter_map(parse_time)
                .max()
                .or_else(|| w.ended_at.as_deref().and_then(parse_time))
        })
        .flatten()
}

/// A wave as the history recorded it, with its RTO measured from the execution's start.
fn started_wave(
    w: &WaveRecord,
    name: String,
    target: Option<u64>,
    recovered: Option<OffsetDateTime>,
    progress: &Progress,
) -> WaveFacts {
    let wave_started = parse_time(&w.started_at);
    let wave_end = recovered.or_else(|| w.ended_at.as_deref().and_then(parse_time));
    let missing = match w.status {
        WaveStatus::Launching => "not recovered",
        _ => "the wave failed",
    };
    WaveFacts {
        index: w.index,
        name,
        status: w.status.as_str().to_owned(),
        started_at: Some(w.started_at.clone()),
        ended_at: w.ended_at.clone(),
        recovered_at: recovered.map(format_time),
        duration_seconds: wave_started
            .zip(wave_end)
            .map(|(s, e)| seconds_between(s, e)),
        rto: progress.verdict(
            "recovered in",
            target,
            recovered.map(|r| seconds_between(progress.started, r)),
            missing,
        ),
        job_ids: w.job_ids.clone(),
        servers: w.servers.total,
        launched: w.servers.launched,
        failed: w.servers.failed,
        checks: w.checks,
        reason: Some(w.reason.clone()).filter(|r| !r.is_empty()),
        account: w.account.as_ref().map(crate::model::WaveAccountFacts::of),
        waits_for: None,
        healthy_at: None,
        health_checks: Vec::new(),
    }
}

/// When the plan recovered: the last wave's recovery, once every wave recovered (and there is
/// at least one).
pub(super) fn plan_recovered_at(outcomes: &[WaveOutcome]) -> Option<OffsetDateTime> {
    outcomes
        .iter()
        .map(|o| o.recovered_at)
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()
}

/// One line per server of a wave: the servers its jobs list, then planned ones with no job yet.
fn wave_servers(sources: &Sources, wave: &WaveSource, wave_name: &str) -> Vec<ServerFacts> {
    let w = &wave.record;
    let lines = ServerLines {
        sources,
        wave_index: w.index,
        wave_name,
        points: wave
            .launch_points
            .iter()
            .map(|p| (p.server_id.as_str(), p))
            .collect(),
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for job in jobs_latest_first(sources, w) {
        for (id, s) in &job.servers {
            if seen.insert(id.clone()) {
                out.push(lines.launched(job, id, s));
            }
        }
    }
    let planned = w
        .planned_servers()
        .into_iter()
        .chain(wave.launch_points.iter().map(|p| p.server_id.clone()));
    for id in planned {
        if seen.insert(id.clone()) {
            out.push(lines.pending(id));
        }
    }
    out
}

/// The wave's jobs, the latest launch of each server first (an operator's retry launches a
/// server again, in a later job): the wave's job IDs are in launch order, the history's JOB
/// items by ID.
fn jobs_latest_first<'a>(sources: &'a Sources, w: &WaveRecord) -> Vec<&'a JobRecord> {
    let mut jobs: Vec<&JobRecord> = sources
        .jobs
        .iter()
        .filter(|j| j.wave_index == w.index)
        .collect();
    let launched = |j: &JobRecord| w.job_ids.iter().position(|id| *id == j.job_id);
    jobs.sort_by_key(|j| std::cmp::Reverse(launched(j)));
    jobs
}

/// What every server line of one wave is read from.
struct ServerLines<'a> {
    sources: &'a Sources,
    wave_index: u32,
    wave_name: &'a str,
    /// The history's launch points, by source server ID.
    points: BTreeMap<&'a str, &'a ServerLaunchPoint>,
}

impl ServerLines<'_> {
    /// A server a job launched (or is launching): the history's record, filled in from DRS.
    fn launched(&self, job: &JobRecord, id: &str, s: &ServerRecord) -> ServerFacts {
        let sources = self.sources;
        let drs = sources.drs_jobs.get(&job.job_id);
        let log = sources
            .job_logs
            .get(&(job.job_id.clone(), id.to_owned()))
            .cloned()
            .unwrap_or_default();
        let status = s.launch_status.as_str().to_owned();
        let ended = match status.as_str() {
            "FAILED" => log
                .failed_at
                .clone()
                .or_else(|| drs.and_then(|d| d.ended_at.clone())),
            "LAUNCHED" | "TERMINATED" => drs.and_then(|d| d.ended_at.clone()),
            _ => None,
        };
        let point = self.points.get(id);
        let instance = sources.instances.get(&(job.job_id.clone(), id.to_owned()));
        ServerFacts {
            wave_index: self.wave_index,
            wave_name: self.wave_name.to_owned(),
            source_server_id: id.to_owned(),
            hostname: hostname(sources, id),
            required: s.required,
            job_id: Some(job.job_id.clone()),
            snapshot_id: point.and_then(|p| p.snapshot_id.clone()),
            // The history's launch point; for a launch from an on-demand snapshot whose
            // time was not read back yet, the instance's own.
            snapshot_taken_at: point
                .and_then(|p| p.snapshot_taken_at.clone())
                .or_else(|| instance.and_then(|i| i.point_in_time.clone())),
            snapshot_age_seconds: point.and_then(|p| p.rpo_seconds),
            recovery_instance_id: s
                .recovery_instance_id
                .clone()
                .or_else(|| instance.map(|i| i.recovery_instance_id.clone())),
            ec2_instance_id: instance.and_then(|i| i.ec2_instance_id.clone()),
            launch_status: status,
            launch_started_at: log
                .first_event_at
                .clone()
                .or_else(|| drs.and_then(|d| d.created_at.clone())),
            launch_ended_at: ended,
            failure_reason: s.failure_reason.clone().or(log.failure),
            warnings: s.action_warnings.clone(),
            replicated_back_bytes: (sources.execution.mode == Some(Mode::Failback))
                .then(|| instance.and_then(|i| i.replicated_back_bytes))
                .flatten(),
        }
    }

    /// A server the wave plans that no job lists yet: PENDING.
    fn pending(&self, id: String) -> ServerFacts {
        let point = self.points.get(id.as_str());
        ServerFacts {
            replicated_back_bytes: None,
            wave_index: self.wave_index,
            wave_name: self.wave_name.to_owned(),
            hostname: hostname(self.sources, &id),
            required: point.is_none_or(|p| p.required),
            job_id: None,
            snapshot_id: point.and_then(|p| p.snapshot_id.clone()),
            snapshot_taken_at: point.and_then(|p| p.snapshot_taken_at.clone()),
            snapshot_age_seconds: point.and_then(|p| p.rpo_seconds),
            recovery_instance_id: None,
            ec2_instance_id: None,
            launch_status: "PENDING".into(),
            launch_started_at: None,
            launch_ended_at: None,
            failure_reason: None,
            warnings: Vec::new(),
            source_server_id: id,
        }
    }
}

/// A hostname that says more than the server's ID.
fn hostname(sources: &Sources, id: &str) -> Option<String> {
    sources.hostnames.get(id).filter(|h| *h != id).cloned()
}
