//! What a wave selects and what stops a plan from running: the checks of the preflight task,
//! the RECOVERY confirmation, and how a wave is split into jobs.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_contract::{Mode, PlanSpec, WaveSpec};
use tracing::warn;

use super::Limits;
use super::verdict::jobs_needed;
use crate::drs::{Job, SourceServer};
use crate::error::TaskError;

/// A RECOVERY launches production instances: it runs only when `confirm` names the plan.
pub fn check_confirmation(plan: &str, mode: Mode, confirm: Option<&str>) -> Result<(), TaskError> {
    if mode == Mode::Recovery && confirm != Some(plan) {
        let got = match confirm {
            Some(c) => format!("confirm was {c:?}"),
            None => "confirm is missing".to_string(),
        };
        return Err(TaskError::RecoveryNotConfirmed(format!(
            "a RECOVERY launches production recovery instances and must name the plan: start the execution with \
             {{\"mode\": \"RECOVERY\", \"confirm\": \"{plan}\"}} ({got}); nothing was launched"
        )));
    }
    Ok(())
}

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

/// Every problem that stops a plan from running, named at once, and the servers of each wave.
pub fn preflight_problems(
    plan: &PlanSpec,
    servers: &[SourceServer],
    jobs: &[Job],
    limits: &Limits,
) -> (Vec<Vec<String>>, Vec<String>) {
    let by_id: BTreeMap<&str, &SourceServer> = servers.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut active: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for job in jobs.iter().filter(|j| j.status.is_active()) {
        for s in &job.servers {
            active.insert(
                s.source_server_id.as_str(),
                (job.id.as_str(), job.status.as_str()),
            );
        }
    }
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
        let optional: BTreeSet<&str> = wave.optional.iter().map(String::as_str).collect();
        for id in &resolved.ids {
            let label = by_id
                .get(id.as_str())
                .map(|s| s.label())
                .unwrap_or_else(|| id.clone());
            if let Some(other) = owner.insert(id.clone(), name) {
                problems.push(format!(
                    "source server {label} is selected by wave '{other}' and by wave '{name}'"
                ));
            }
            let state = by_id
                .get(id.as_str())
                .and_then(|s| s.replication_state.as_deref())
                .unwrap_or("unknown");
            if state != "CONTINUOUS" {
                if optional.contains(id.as_str()) {
                    warn!(wave = %name, server = %label, state, "optional source server is not replicating; it may fail to launch");
                } else {
                    problems.push(format!(
                        "wave '{name}': source server {label} is not replicating (dataReplicationState {state}, needs CONTINUOUS)"
                    ));
                }
            }
            if let Some((job, status)) = active.get(id.as_str()) {
                problems.push(format!(
                    "wave '{name}': source server {label} is already in DRS job {job} ({status})"
                ));
            }
        }
        let n = resolved.ids.len();
        if n > limits.max_active_servers {
            problems.push(format!(
                "wave '{name}' has {n} servers, more than the {} DRS allows in active jobs (--max-active-servers): split the wave",
                limits.max_active_servers
            ));
        }
        let jobs = jobs_needed(n, limits.max_servers_per_job);
        if jobs > limits.max_concurrent_jobs {
            problems.push(format!(
                "wave '{name}' needs {jobs} DRS jobs of at most {} servers, more than the {} concurrent jobs allowed (--max-concurrent-jobs)",
                limits.max_servers_per_job, limits.max_concurrent_jobs
            ));
        }
        per_wave.push(resolved.ids);
    }
    (per_wave, problems)
}
