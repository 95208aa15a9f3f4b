//! The rules of a FAILBACK (issue #27), pure: which RECOVERY comes home and which servers it
//! launched, which required servers' recovery instances are ready to fail back (and why the
//! others are not), and the verdict of a wave's failback launch jobs. The order the waves come
//! home in is the generated machine's (codegen's `failback.order`).
//!
//! DRS's side (the model's RecoveryInstanceFailback): a recovery instance replicates back to
//! its origin (ReverseReplication for a source in EC2, the DRS Failback Client for an
//! on-premises one); it is FAILBACK_READY_FOR_LAUNCH once in sync; StartFailbackLaunch makes
//! a job (initiatedBy FAILBACK) and the instance ends FAILBACK_COMPLETED, or FAILBACK_ERROR.

use std::collections::{BTreeMap, BTreeSet};

use drs_waves_aws::drs::{FailbackState, InstanceFailback, Job, LaunchStatus};
use drs_waves_contract::{ExecutionStatus, Mode, ServerCounts, WaveSpec, WaveStatus};
use drs_waves_history::{ExecutionRecord, JobRecord};

use crate::Verdict;

/// The RECOVERY a FAILBACK brings home, from the plan's executions (newest first): the one
/// `named` (its execution ARN or name), which must be a RECOVERY that has ended; else the
/// plan's newest RECOVERY, which must have SUCCEEDED. Refused, saying why, otherwise.
pub fn recovery_to_bring_home<'a>(
    plan: &str,
    executions: &'a [ExecutionRecord],
    named: Option<&str>,
) -> Result<&'a ExecutionRecord, String> {
    let is_recovery = |e: &&ExecutionRecord| e.mode == Some(Mode::Recovery);
    let Some(named) = named else {
        let last = executions.iter().find(is_recovery).ok_or_else(|| {
            format!("plan {plan} has no RECOVERY in its history: there is nothing to bring home")
        })?;
        if last.status != ExecutionStatus::Succeeded {
            return Err(format!(
                "the last RECOVERY of plan {plan} ({}) is {}, not SUCCEEDED: name the RECOVERY                  to bring home (\"recovery\": \"<execution ARN or name>\")",
                last.execution_name,
                last.status.as_str()
            ));
        }
        return Ok(last);
    };
    let found = executions
        .iter()
        .find(|e| e.execution_id == named || e.execution_name == named)
        .ok_or_else(|| format!("plan {plan} has no execution {named} in its history"))?;
    if !is_recovery(&found) {
        return Err(format!(
            "execution {named} is a {}, not a RECOVERY",
            found.mode.map_or("execution of unknown mode", Mode::as_str)
        ));
    }
    if found.status == ExecutionStatus::Running {
        return Err(format!("the RECOVERY {named} is still RUNNING"));
    }
    Ok(found)
}

/// A server a RECOVERY launched, as its history recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredServer {
    pub source_server_id: String,
    pub required: bool,
}

/// Per wave index, the servers the RECOVERY's jobs (`jobs`, its history's JOB items) launched
/// (LAUNCHED in their latest job: a retried server is in two), each once, in ID order; and the
/// RECOVERY's launch job IDs, which tell its recovery instances from others'
/// ([`drs_waves_aws::drs::instances::of_execution`]).
pub fn recovered_servers(
    jobs: &[JobRecord],
) -> (BTreeMap<u32, Vec<RecoveredServer>>, BTreeSet<String>) {
    let mut latest: BTreeMap<&str, (&JobRecord, bool, bool)> = BTreeMap::new();
    for job in jobs {
        for (server, record) in &job.servers {
            let launched = record.launch_status == LaunchStatus::Launched;
            let entry = latest
                .entry(server.as_str())
                .or_insert((job, launched, record.required));
            if job.updated_at >= entry.0.updated_at {
                *entry = (job, launched, record.required);
            }
        }
    }
    let mut waves: BTreeMap<u32, Vec<RecoveredServer>> = BTreeMap::new();
    for (server, (job, launched, required)) in latest {
        if launched {
            waves
                .entry(job.wave_index)
                .or_default()
                .push(RecoveredServer {
                    source_server_id: server.to_string(),
                    required,
                });
        }
    }
    let job_ids = jobs.iter().map(|j| j.job_id.clone()).collect();
    (waves, job_ids)
}

/// A required server that cannot fail back now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub source_server_id: String,
    /// Its recovery instance, when the recovery left one.
    pub recovery_instance_id: Option<String>,
    /// Its failback state (`failback.state`), or `NO_RECOVERY_INSTANCE`.
    pub state: String,
    pub why: String,
}

/// What preflight of a FAILBACK finds: each ready server's recovery instance, and the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Per source server, the recovery instance that fails back.
    pub ready: BTreeMap<String, String>,
    pub not_ready: Vec<NotReady>,
}

/// One recovery instance of the RECOVERY a failback brings home, as DRS reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredInstance {
    pub source_server_id: String,
    pub recovery_instance_id: String,
    /// None when DRS reports no failback for it.
    pub failback: Option<InstanceFailback>,
}

/// Why a server in `state` cannot fail back, in words an operator acts on.
fn why_not(failback: &InstanceFailback) -> String {
    match failback.state {
        FailbackState::NotStarted => "its replication back has not started: run \
            ReverseReplication (a source in EC2) or boot the DRS Failback Client on the \
            original machine"
            .into(),
        FailbackState::InProgress => format!(
            "it is still replicating back ({}): wait until it is ready for launch",
            failback.summary()
        ),
        FailbackState::Error => format!(
            "its failback replication failed ({}): fix it, or StopFailback and start again",
            failback.summary()
        ),
        FailbackState::Completed => "it has already failed back".into(),
        _ => format!("DRS reports {}", failback.summary()),
    }
}

/// Which `required` servers can fail back now: each needs a recovery instance of the RECOVERY
/// (`instances`) that is FAILBACK_READY_FOR_LAUNCH. The others are named with their state and
/// why, in the order of `required`.
pub fn readiness(required: &[String], instances: &[RecoveredInstance]) -> Readiness {
    let by_server: BTreeMap<&str, &RecoveredInstance> = instances
        .iter()
        .map(|i| (i.source_server_id.as_str(), i))
        .collect();
    let mut out = Readiness::default();
    for server in required {
        let Some(instance) = by_server.get(server.as_str()) else {
            out.not_ready.push(NotReady {
                source_server_id: server.clone(),
                recovery_instance_id: None,
                state: "NO_RECOVERY_INSTANCE".into(),
                why: "the recovery left no recovery instance of it (never launched, or \
                      terminated since)"
                    .into(),
            });
            continue;
        };
        match &instance.failback {
            Some(f) if f.state == FailbackState::ReadyForLaunch => {
                out.ready
                    .insert(server.clone(), instance.recovery_instance_id.clone());
            }
            failback => {
                let failback = failback.clone().unwrap_or(InstanceFailback {
                    state: FailbackState::LaunchStateNotAvailable,
                    job_id: None,
                    replication_state: None,
                    replication_error: None,
                    replicated_bytes: 0,
                    total_bytes: 0,
                });
                out.not_ready.push(NotReady {
                    source_server_id: server.clone(),
                    recovery_instance_id: Some(instance.recovery_instance_id.clone()),
                    state: failback.state.as_str().to_string(),
                    why: why_not(&failback),
                });
            }
        }
    }
    out
}

/// Judges a failback wave from its failback launch jobs and its instances' failback states,
/// `elapsed` seconds after its start. `planned` maps each server the wave sent to its recovery
/// instance; `failback` holds the instances' failback as DRS reports it now.
///
/// - a server is home when its instance is FAILBACK_COMPLETED;
/// - it failed when its instance is FAILBACK_ERROR, or its job lists it FAILED;
/// - otherwise it is still coming home (a job that COMPLETED with the server LAUNCHED while
///   DRS does not report FAILBACK_COMPLETED yet is given until the timeout);
/// - FAILED when a required server failed, or is still coming home past the timeout;
///   SUCCEEDED when every required server is home; LAUNCHING otherwise.
pub fn judge_failback(
    wave: &WaveSpec,
    jobs: &[Job],
    planned: &BTreeMap<String, String>,
    failback: &BTreeMap<String, InstanceFailback>,
    elapsed: u64,
) -> Verdict {
    let optional: BTreeSet<&str> = wave.optional.iter().map(String::as_str).collect();
    let launch_failed: BTreeSet<&str> = jobs
        .iter()
        .flat_map(|j| j.servers.iter())
        .filter(|s| s.launch_status == LaunchStatus::Failed)
        .map(|s| s.source_server_id.as_str())
        .collect();
    let mut counts = ServerCounts::default();
    let (mut failed_required, mut pending_required) = (Vec::new(), Vec::new());
    for (server, instance) in planned {
        counts.total += 1;
        let state = failback.get(instance);
        let erred = state.is_some_and(|f| f.state == FailbackState::Error);
        let home = state.is_some_and(|f| f.state == FailbackState::Completed);
        let required = !optional.contains(server.as_str());
        if home {
            counts.launched += 1;
        } else if erred || launch_failed.contains(server.as_str()) {
            counts.failed += 1;
            if required {
                let why = match state {
                    Some(f) if erred => f.summary(),
                    _ => "its failback launch FAILED".to_string(),
                };
                failed_required.push(format!("{server} ({instance}): {why}"));
            } else {
                counts.optional_failed += 1;
            }
        } else {
            counts.launching += 1;
            if required {
                pending_required.push(server.clone());
            }
        }
    }
    let timed_out = elapsed > u64::from(wave.launch_timeout_seconds);
    let (status, reason) = if !failed_required.is_empty() {
        (
            WaveStatus::Failed,
            format!("failback failed: {}", failed_required.join("; ")),
        )
    } else if pending_required.is_empty() {
        (WaveStatus::Succeeded, String::new())
    } else if timed_out {
        (
            WaveStatus::Failed,
            format!(
                "failback timed out after {}s: {} not home",
                wave.launch_timeout_seconds,
                pending_required.join(", ")
            ),
        )
    } else {
        (WaveStatus::Launching, String::new())
    };
    Verdict {
        status,
        counts,
        reason,
    }
}

#[cfg(test)]
mod tests;
