//! The scheduled launch strategy (`--launch-strategy scheduled`, issue #26): a wave's chunks
//! are sent only when they fit the account's DRS quotas, the start task sending what fits at
//! its start and each check of the wave sending more as jobs end; the rules are in
//! `drs_waves_rules::schedule`.
//!
//! What the account holds is read from DescribeJobs (its active jobs, other teams' included:
//! one listing per round, which also finds a chunk's job an earlier attempt made but did not
//! record), plus the jobs this process sent that DRS does not list yet (DRS may list a new job
//! late, and a PENDING job may list no servers). Per account, one round at a time (an async
//! lock), so waves side by side in one account do not both spend the same room. A refusal
//! teaches the quota it names ([`drs_waves_rules::schedule::learn_from_refusal`]) for the
//! process's life; the chunk waits for the next round.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use clap::ValueEnum;
use drs_waves_contract::{RunContext, WaveAccount, WaveSpec, job_tags};
use drs_waves_history::{ChunkWrite, History, WaveChunk, WaveRecord};
use drs_waves_rules::Limits;
use drs_waves_rules::schedule::{QuotaUse, learn_from_refusal, refused_quota, tighter};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::Handlers;
use super::send_chunk::{Sent, chunk_of};
use crate::error::TaskError;
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::{Drs as _, DrsAccounts, Job, JobFilter};

/// How a wave's chunks are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LaunchStrategy {
    /// Every chunk at the wave's start; a full quota is waited out with a backoff (DRS refuses
    /// and the start task sends again). A wave larger than the quotas fails preflight.
    #[default]
    Eager,
    /// Only the chunks that fit the quotas now; the checks send the rest as jobs end. DRS
    /// refuses nothing when the quotas are known.
    Scheduled,
}

/// How far back the listing looks for the account's active jobs (as preflight does).
const ACTIVE_JOB_LOOKBACK: time::Duration = time::Duration::hours(24);

/// How long a job this process sent counts against the quotas while DRS does not list it.
const UNLISTED_GRACE: time::Duration = time::Duration::minutes(10);

/// What this process knows of each account's quotas beyond DRS's listing.
#[derive(Default)]
pub struct QuotaLedger {
    accounts: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<AccountLedger>>>>,
}

#[derive(Default)]
struct AccountLedger {
    /// The quotas refusals taught.
    learned: Option<Limits>,
    /// Jobs sent, with their servers, until DRS lists them.
    sent: BTreeMap<String, (usize, OffsetDateTime)>,
}

impl QuotaLedger {
    fn account(&self, account: Option<&WaveAccount>) -> Arc<tokio::sync::Mutex<AccountLedger>> {
        let key = account.map_or_else(String::new, |a| {
            format!(
                "{}|{}",
                a.role_arn.as_deref().unwrap_or(""),
                a.region.as_deref().unwrap_or("")
            )
        });
        let mut accounts = self
            .accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        accounts.entry(key).or_default().clone()
    }
}

/// What a round of sending did: every chunk's job ID so far (chunk order) and the servers
/// still queued.
pub(super) struct Round {
    pub job_ids: Vec<String>,
    /// Servers of the chunks not sent.
    pub queued: usize,
    /// Each chunk with a job: its job and servers.
    pub sent: BTreeMap<String, Vec<String>>,
    /// The jobs this round sent (DRS may not list them yet).
    pub fresh: Vec<String>,
}

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// The quotas this process keeps to in `account`: the configured ones, lowered by what
    /// refusals taught.
    pub(super) async fn quotas_of(&self, account: Option<&WaveAccount>) -> Limits {
        let ledger = self.ledger.account(account);
        let ledger = ledger.lock().await;
        tighter(&self.limits, ledger.learned.as_ref())
    }

    /// Sends, in chunk order, the wave's chunks without a job that fit the account's quotas
    /// now, each job recorded in the history before the next is sent.
    pub(super) async fn send_what_fits(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
        plan: &WaveRecord,
    ) -> Result<Round, TaskError> {
        let mut jobs: BTreeMap<u32, String> = plan
            .chunks
            .iter()
            .filter_map(|c| Some((c.number, c.job_id.clone()?)))
            .collect();
        let missing: Vec<&WaveChunk> = plan.chunks.iter().filter(|c| c.job_id.is_none()).collect();
        let mut round = Round {
            job_ids: Vec::new(),
            queued: 0,
            sent: BTreeMap::new(),
            fresh: Vec::new(),
        };
        if missing.is_empty() {
            round.finish(plan, jobs);
            return Ok(round);
        }
        let ledger = self.ledger.account(wave.account.as_ref());
        let mut ledger = ledger.lock().await;
        let now = self.now();
        let listing = self
            .drs_of(wave.account.as_ref())
            .await
            .describe_jobs(JobFilter {
                job_ids: vec![],
                from_date: Some(drs_waves_rules::format_time(now - ACTIVE_JOB_LOOKBACK)),
            })
            .await?;
        let mut used = use_of(&listing, &mut ledger, now);
        let limits = tighter(&self.limits, ledger.learned.as_ref());
        let mut snapshots: Option<BTreeMap<String, String>> = None;
        let no_snapshots = BTreeMap::new();
        let started = drs_waves_rules::parse_time(plan.attempt_started_at()).unwrap_or(now);
        let mut full = false;
        for chunk in missing {
            // An earlier attempt's job of this chunk (made, not recorded): adopt it.
            let adopted = listing.iter().find(|j| {
                super::is_ours(j, &run.execution_id)
                    && j.tags.get(job_tags::WAVE) == Some(&wave.name)
                    && chunk_of(j) == Some(chunk.number)
            });
            let n = chunk.servers.len();
            let job_id = if let Some(job) = adopted {
                info!(job = %job.id, chunk = chunk.number, "found the job an earlier attempt launched (tags)");
                job.id.clone()
            } else if full || !used.fits(&limits, n) {
                full = true;
                round.queued += n;
                continue;
            } else {
                if snapshots.is_none() {
                    snapshots = Some(self.snapshots_planned(run, wave).await?);
                }
                let points = snapshots.as_ref().unwrap_or(&no_snapshots);
                match self
                    .send_chunk_with(run, wave, chunk, points, started, false)
                    .await?
                {
                    Sent::Job(id) => {
                        used.add(n);
                        ledger.sent.insert(id.clone(), (n, self.now()));
                        round.fresh.push(id.clone());
                        id
                    }
                    Sent::Refused(err) => {
                        let learned =
                            learn_from_refusal(&limits, used, n, refused_quota(&err.to_string()));
                        warn!(account = ?wave.account, chunk = chunk.number, jobs = used.jobs, servers = used.servers,
                              learned_concurrent_jobs = learned.max_concurrent_jobs,
                              learned_servers_in_active_jobs = learned.max_active_servers, error = %err,
                              "DRS refused the launch for its quota: keeping to what it taught");
                        ledger.learned = Some(learned);
                        full = true;
                        round.queued += n;
                        continue;
                    }
                }
            };
            match self
                .history
                .record_chunk_job(&run.execution_id, wave.index, chunk.number, &job_id)
                .await?
            {
                ChunkWrite::Written => {
                    jobs.insert(chunk.number, job_id);
                }
                ChunkWrite::Conflict { recorded } => {
                    jobs.insert(chunk.number, recorded);
                }
            }
        }
        info!(wave = %wave.name, sent = jobs.len(), queued = round.queued, jobs_active = used.jobs,
              servers_active = used.servers, "scheduled launch round");
        round.finish(plan, jobs);
        Ok(round)
    }

    /// The snapshot each planned server launches from (none: DRS's on-demand snapshot).
    async fn snapshots_planned(
        &self,
        run: &RunContext,
        wave: &WaveSpec,
    ) -> Result<BTreeMap<String, String>, TaskError> {
        Ok(self
            .history
            .launch_points(&run.execution_id, wave.index)
            .await?
            .into_iter()
            .filter_map(|p| Some((p.server_id, p.snapshot_id?)))
            .collect())
    }
}

impl Round {
    /// Fills in every chunk's job (chunk order) and its servers.
    fn finish(&mut self, plan: &WaveRecord, jobs: BTreeMap<u32, String>) {
        for c in &plan.chunks {
            if let Some(id) = jobs.get(&c.number) {
                self.sent
                    .entry(id.clone())
                    .or_default()
                    .extend(c.servers.iter().cloned());
            }
        }
        self.job_ids = jobs.into_values().collect();
    }
}

/// What the account's active jobs hold: DRS's listing (a listed job's servers, or the count
/// this process sent it with when DRS lists none yet), plus the jobs this process sent that DRS
/// does not list yet. Forgets the sent jobs DRS lists, and those past the grace.
fn use_of(listing: &[Job], ledger: &mut AccountLedger, now: OffsetDateTime) -> QuotaUse {
    let mut used = QuotaUse::default();
    for job in listing.iter().filter(|j| j.status.is_active()) {
        let known = ledger.sent.get(&job.id).map_or(0, |(n, _)| *n);
        used.jobs += 1;
        used.servers += job.servers.len().max(known);
    }
    let listed: BTreeMap<&str, bool> = listing
        .iter()
        .map(|j| (j.id.as_str(), j.status.is_active()))
        .collect();
    // Kept while listed active (a PENDING job may list no servers) or unlisted within the grace.
    ledger
        .sent
        .retain(|id, (_, at)| match listed.get(id.as_str()) {
            Some(active) => *active,
            None => now - *at < UNLISTED_GRACE,
        });
    for (id, (n, _)) in &ledger.sent {
        if !listed.contains_key(id.as_str()) {
            used.add(*n);
        }
    }
    used
}
