//! Preflight across accounts: a plan's waves grouped by the account and region they launch in,
//! each group's servers resolved, jobs listed and snapshots looked up through that account's
//! DRS; and, before any of it, each distinct role assumed and each account's DRS read once, so
//! that a role the worker cannot assume (AccessDenied: the role is missing, does not trust the
//! worker, or wants another external ID) or a region where DRS is not initialized
//! (UninitializedAccountException) fails preflight naming the wave and the role.

use std::collections::BTreeMap;

use drs_waves_aws::AwsError;
use drs_waves_aws::drs::RecoverySnapshot;
use drs_waves_aws::drs::accounts::is_own;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, Job, JobFilter, ServerSelection, SourceServer};
use drs_waves_contract::{PlanSpec, WaveAccount, WaveSpec};
use drs_waves_history::History;
use drs_waves_rules::launch_points as snapshot_lookups;
use drs_waves_rules::{format_time, resolve_plan};
use time::OffsetDateTime;
use tracing::info;

use super::Handlers;
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;

/// The waves of each account (None: the worker's own), in plan order within each.
pub(super) fn account_groups(plan: &PlanSpec) -> BTreeMap<Option<WaveAccount>, Vec<&WaveSpec>> {
    let mut groups: BTreeMap<Option<WaveAccount>, Vec<&WaveSpec>> = BTreeMap::new();
    for wave in &plan.waves {
        let account = wave.account.clone().filter(|a| !is_own(Some(a)));
        groups.entry(account).or_default().push(wave);
    }
    groups
}

/// `wave 'db'` or `waves 'db', 'app'`, for messages.
fn wave_names(waves: &[&WaveSpec]) -> String {
    let names: Vec<String> = waves.iter().map(|w| format!("'{}'", w.name)).collect();
    let noun = if names.len() == 1 { "wave" } else { "waves" };
    format!("{noun} {}", names.join(", "))
}

/// `role arn:aws:iam::111111111111:role/x (111111111111 eu-west-1)`.
fn role_of(account: &WaveAccount) -> String {
    match &account.role_arn {
        Some(role) => format!("role {role} ({})", account.describe()),
        None => format!("the worker's own credentials ({})", account.describe()),
    }
}

/// What the servers of one account's waves are, as preflight judges them.
#[derive(Default)]
pub(super) struct Resolved {
    pub per_wave: BTreeMap<u32, Vec<String>>,
    pub problems: Vec<String>,
    pub servers: Vec<SourceServer>,
    pub active_jobs: Vec<Job>,
    pub snapshots: BTreeMap<String, Option<RecoverySnapshot>>,
}

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// Assumes each distinct role of the plan and reads each other account's DRS once (a
    /// DescribeJobs from now: cheap, and refused as any call would be), naming every account
    /// that fails at once. A throttled or transient failure is returned as such (the task is
    /// retried); a refusal fails preflight.
    pub(super) async fn check_accounts(
        &self,
        plan: &PlanSpec,
        now: OffsetDateTime,
    ) -> Result<(), TaskError> {
        let mut problems = Vec::new();
        for (account, waves) in account_groups(plan) {
            let Some(account) = account else { continue };
            let names = wave_names(&waves);
            let role = role_of(&account);
            let refused = |what: &str, e: AwsError| -> Result<String, TaskError> {
                let text = format!("{names}: {what} {role}: {e}");
                if e.retryable() {
                    Err(TaskError::from(e).with_context(&text))
                } else {
                    Ok(text)
                }
            };
            if let Err(e) = self.drs.check_role(&account).await {
                problems.push(refused("cannot assume", e)?.replace(
                    "allow this call in the worker's IAM role",
                    "the role must exist, trust the worker's role (its trust policy) and, if it requires one, name this externalId",
                ));
                continue;
            }
            let read = self
                .drs_of(Some(&account))
                .await
                .describe_jobs(JobFilter {
                    job_ids: vec![],
                    from_date: Some(format_time(now)),
                })
                .await;
            if let Err(e) = read {
                problems.push(refused("DRS cannot be read through", e)?);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TaskError::PreflightFailed(problems))
        }
    }

    /// Resolves the waves of one account against its DRS: their servers (only those the waves
    /// select), the account's active jobs since `since`, and the snapshots the launches need.
    pub(super) async fn resolve_in_account(
        &self,
        plan: &PlanSpec,
        account: Option<&WaveAccount>,
        waves: &[&WaveSpec],
        since: String,
        point_in_time: Option<&str>,
    ) -> Result<Resolved, TaskError> {
        let drs = self.drs_of(account).await;
        let name = |e: AwsError| match account {
            Some(a) => TaskError::from(e).with_context(&format!(
                "{} through {}",
                wave_names(waves),
                role_of(a)
            )),
            None => TaskError::from(e),
        };
        let servers = drs
            .select_source_servers(&ServerSelection::of_waves(waves.iter().copied()))
            .await
            .map_err(name)?;
        let sub_plan = PlanSpec {
            waves: waves.iter().map(|w| (*w).clone()).collect(),
            ..plan.clone()
        };
        let (per_wave, problems) = resolve_plan(&sub_plan, &servers);
        let active_jobs = drs
            .describe_jobs(JobFilter {
                job_ids: vec![],
                from_date: Some(since),
            })
            .await
            .map_err(name)?
            .into_iter()
            .filter(|j| j.status.is_active())
            .collect();
        // A server launching from an on-demand snapshot needs no look-up (one call per server
        // saved, the launch names no snapshot).
        let ids = snapshot_lookups::needing_snapshots(&per_wave, &servers, point_in_time);
        let snapshots = self.snapshots_of(account, &ids, point_in_time).await?;
        Ok(Resolved {
            per_wave: waves.iter().map(|w| w.index).zip(per_wave).collect(),
            problems,
            servers,
            active_jobs,
            snapshots,
        })
    }

    /// Each server's latest recovery snapshot at or before `point_in_time` (or its latest), a
    /// few look-ups at a time, each tenth of a long run of them logged (how many, of how many,
    /// in which account, how long so far): a 10,000-server plan's preflight takes minutes
    /// and says where it is.
    pub(super) async fn snapshots_of(
        &self,
        account: Option<&WaveAccount>,
        ids: &[&String],
        point_in_time: Option<&str>,
    ) -> Result<BTreeMap<String, Option<RecoverySnapshot>>, TaskError> {
        let drs = self.drs_of(account).await;
        let started = std::time::Instant::now();
        let in_account =
            account.map_or_else(|| "the worker's own".to_string(), WaveAccount::describe);
        let report = |done: usize, total: usize| {
            if snapshot_lookups::worth_reporting(done, total) {
                info!(
                    account = %in_account,
                    done,
                    total,
                    elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "snapshot look-ups"
                );
            }
        };
        snapshot_lookups::snapshots_with_progress(&drs, ids, point_in_time, report)
            .await
            .map_err(TaskError::from)
    }
}
