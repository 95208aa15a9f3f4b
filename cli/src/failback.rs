//! `drs-waves failback-check PLAN`: whether the plan's RECOVERY can go home now, the question
//! an operator asks before a FAILBACK (and, in [`not_ready_to_retry`], before retrying a wave
//! on the way home): which RECOVERY would come home (its last one if it SUCCEEDED, or
//! the one named), and for each wave, in the order it would come home (the plan's reversed),
//! each server's recovery instance with its failback state and, for one not ready, why.
//!
//! Read-only: the history (the RECOVERY and its jobs) and DescribeRecoveryInstances, with the
//! operator's own credentials; a wave in another account or region is read there, through the
//! role the plan names for it (STS AssumeRole, as the worker does).

use std::collections::{BTreeMap, BTreeSet};

use comfy_table::{Table, presets};
use drs_waves_aws::drs::{Drs, DrsAccounts as _, SdkDrs, instances};
use drs_waves_history::{ExecutionRecord, Executions, Waves};
use drs_waves_rules::failback::{
    NotReady, Readiness, RecoveredInstance, readiness, recovered_servers, recovery_to_bring_home,
};

use crate::aws::Aws;
use crate::error::{self, CliError};
use crate::resolve;

/// How many of the plan's executions are searched for its RECOVERY.
const SEARCHED_EXECUTIONS: usize = 50;

/// One wave as the check found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveCheck {
    pub index: u32,
    pub name: String,
    /// The wave's account and region when they are not the caller's (read through its role).
    pub account: Option<String>,
    /// The wave's required servers' readiness (optional ones are listed, never refused).
    pub readiness: Readiness,
    /// The optional servers' readiness.
    pub optional: Readiness,
}

impl WaveCheck {
    fn ready(&self) -> bool {
        self.readiness.not_ready.is_empty()
    }
}

/// The text of a check: the RECOVERY, a table of every server not ready (or all ready), and
/// the verdict line. Pure.
pub fn render(plan: &str, recovery: &ExecutionRecord, waves: &[WaveCheck]) -> String {
    let mut out = format!(
        "plan {plan}: bringing home RECOVERY {} (started {}, {})\n",
        recovery.execution_name,
        recovery.started_at,
        recovery.status.as_str()
    );
    let order: Vec<String> = waves
        .iter()
        .map(|w| format!("{} {}", w.index, w.name))
        .collect();
    out.push_str(&format!("waves come home in order: {}\n", order.join(", ")));
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "wave",
        "server",
        "recovery instance",
        "failback state",
        "why",
    ]);
    let mut rows = 0;
    for w in waves {
        let wave = match &w.account {
            Some(account) => format!("{} {} ({account})", w.index, w.name),
            None => format!("{} {}", w.index, w.name),
        };
        let not_ready = |n: &NotReady, optional: bool| {
            vec![
                wave.clone(),
                if optional {
                    format!("{} (optional)", n.source_server_id)
                } else {
                    n.source_server_id.clone()
                },
                n.recovery_instance_id.clone().unwrap_or_else(|| "-".into()),
                n.state.clone(),
                n.why.clone(),
            ]
        };
        for n in &w.readiness.not_ready {
            t.add_row(not_ready(n, false));
            rows += 1;
        }
        for n in &w.optional.not_ready {
            t.add_row(not_ready(n, true));
            rows += 1;
        }
    }
    let ready: usize = waves.iter().map(|w| w.readiness.ready.len()).sum();
    if rows > 0 {
        out.push_str(&format!("{t}\n"));
    }
    let blocked = waves.iter().filter(|w| !w.ready()).count();
    if blocked == 0 {
        out.push_str(&format!(
            "ready: every required server ({ready}) is FAILBACK_READY_FOR_LAUNCH\n"
        ));
    } else {
        out.push_str(&format!(
            "not ready: {blocked} wave(s) have required servers that cannot fail back yet ({ready} ready)\n"
        ));
    }
    out
}

/// Exit status: 0 when every wave's required servers are ready, 1 otherwise.
pub fn exit_code(waves: &[WaveCheck]) -> u8 {
    u8::from(!waves.iter().all(WaveCheck::ready))
}

/// `drs-waves failback-check PLAN [--recovery EXECUTION]`.
pub async fn check(aws: &Aws, plan: &str, named: Option<&str>) -> Result<u8, CliError> {
    let p = resolve::find_plan(aws, plan).await?;
    let executions = aws
        .history
        .recent_executions(&p.name, SEARCHED_EXECUTIONS)
        .await
        .map_err(error::history)?;
    let recovery = recovery_to_bring_home(&p.name, &executions, named).map_err(CliError::Usage)?;
    let jobs = aws
        .history
        .list_jobs(&recovery.execution_id)
        .await
        .map_err(error::history)?;
    let (per_wave, job_ids) = recovered_servers(&jobs);
    let accounts = aws.drs_accounts()?;
    let mut waves = Vec::new();
    // The plan's order reversed: the web tier leaves first, the databases last.
    for (index, servers) in per_wave.iter().rev() {
        let record = aws
            .history
            .get_wave(&recovery.execution_id, *index)
            .await
            .map_err(error::history)?;
        let name = record.as_ref().map_or_else(String::new, |r| r.name.clone());
        let account = record.as_ref().and_then(|r| r.account.clone());
        let (required, optional): (Vec<_>, Vec<_>) = servers.iter().partition(|s| s.required);
        let ids = |list: &[&drs_waves_rules::failback::RecoveredServer]| -> Vec<String> {
            list.iter().map(|s| s.source_server_id.clone()).collect()
        };
        let (required, optional) = (ids(&required), ids(&optional));
        let drs = accounts.drs_for(account.as_ref()).await;
        let instances = instances_of(&drs, &required, &optional, &job_ids).await?;
        let check = WaveCheck {
            index: *index,
            name,
            account: account
                .as_ref()
                .filter(|a| !drs_waves_aws::drs::accounts::is_own(Some(a)))
                .map(drs_waves_contract::WaveAccount::describe),
            readiness: readiness(&required, &instances),
            optional: readiness(&optional, &instances),
        };
        waves.push(check);
    }
    print!("{}", render(&p.name, recovery, &waves));
    Ok(exit_code(&waves))
}

/// Why an operator's retry of a wave on the way home would be refused by the worker (see its
/// start task): the servers it brings home again whose recovery instance is not
/// FAILBACK_READY_FOR_LAUNCH now, with their state, read with `drs` (the wave's account's).
/// Said before anything is sent, so that the FAILBACK does not fail on it; None when all are
/// ready or nothing can be read (the worker decides then).
pub async fn not_ready_to_retry(
    aws: &Aws,
    exec: &resolve::Execution,
    (wave, drs): (&str, &SdkDrs),
    relaunch: &[String],
) -> Option<String> {
    // The FAILBACK holds the plan's run lock: no RECOVERY has ended since its preflight chose
    // one, so the same rule finds the same RECOVERY again.
    let named = exec
        .input
        .as_ref()
        .and_then(|i| i["recovery"].as_str().map(str::to_owned));
    let executions = aws
        .history
        .recent_executions(&exec.plan, SEARCHED_EXECUTIONS)
        .await
        .ok()?;
    let recovery = recovery_to_bring_home(&exec.plan, &executions, named.as_deref()).ok()?;
    let jobs = aws.history.list_jobs(&recovery.execution_id).await.ok()?;
    let (_, job_ids) = recovered_servers(&jobs);
    let instances = instances_of(drs, relaunch, &[], &job_ids).await.ok()?;
    let found = readiness(relaunch, &instances);
    if found.not_ready.is_empty() {
        return None;
    }
    let named: Vec<String> = found
        .not_ready
        .iter()
        .map(|n| format!("{} is {} ({})", n.source_server_id, n.state, n.why))
        .collect();
    Some(format!(
        "{wave} cannot come home again yet: {}. Restart its replication back (DRS: reverse replication, or the failback client), \
         check with drs-waves failback-check {}, then decide again; or skip|stop (drs-waves decide {} skip|stop)",
        named.join("; "),
        exec.plan,
        exec.name
    ))
}

/// The RECOVERY's recovery instances of these servers, with their failback state.
async fn instances_of(
    drs: &SdkDrs,
    required: &[String],
    optional: &[String],
    job_ids: &BTreeSet<String>,
) -> Result<Vec<RecoveredInstance>, CliError> {
    let servers: Vec<String> = required.iter().chain(optional).cloned().collect();
    let listed = drs
        .recovery_instances_of(servers)
        .await
        .map_err(|e| CliError::Aws(e.to_string()))?;
    let ours = instances::of_execution(listed, job_ids, false);
    let mut by_server: BTreeMap<String, RecoveredInstance> = BTreeMap::new();
    for i in ours {
        by_server.insert(
            i.source_server_id.clone(),
            RecoveredInstance {
                source_server_id: i.source_server_id,
                recovery_instance_id: i.id,
                failback: i.failback,
            },
        );
    }
    Ok(by_server.into_values().collect())
}

#[cfg(test)]
mod tests;
