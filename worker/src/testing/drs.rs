//! [`FakeDrs`]: DRS in memory (source servers, recovery snapshots and jobs) and the knobs a
//! test turns to make it answer as DRS may; the seam's answers are in `drs/answers.rs`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drs_waves_aws::drs::accounts::is_own;
use drs_waves_aws::drs::{
    DrsAccounts, Job, JobFilter, JobServer, JobStatus, LaunchStatus, RecoverySnapshot,
    SourceServer, StartRecoveryRequest,
};

use super::lock;
use drs_waves_aws::AwsError;
use drs_waves_contract::WaveAccount;
use drs_waves_rules::{format_time, parse_time};

mod answers;
mod failback;
mod instances;
mod networks;
mod post_launch;

#[derive(Default)]
struct DrsState {
    servers: Vec<SourceServer>,
    /// Per server, oldest first.
    snapshots: BTreeMap<String, Vec<RecoverySnapshot>>,
    /// Snapshots made so far: IDs are never reused, even after a server's are cleared.
    snapshots_made: usize,
    jobs: Vec<Job>,
    start_calls: Vec<StartRecoveryRequest>,
    terminate_calls: Vec<Vec<String>>,
    describe_jobs_calls: Vec<JobFilter>,
    /// Each DescribeSourceServers by selection, in order.
    selections: Vec<drs_waves_aws::drs::ServerSelection>,
    failures: HashMap<&'static str, VecDeque<AwsError>>,
    blank_job_ids: bool,
    next_job: u64,
    /// Recovery instances terminated so far.
    terminated: HashSet<String>,
    /// Per operation: let one call through, then fail the next with this error.
    pass_then_fail: HashMap<&'static str, AwsError>,
    /// Operations whose next call fails with the parked error.
    armed_after_pass: HashMap<&'static str, AwsError>,
    /// Per server, the `rawError` of its LAUNCH_FAILED log item.
    failure_reasons: HashMap<String, String>,
    /// Per server, the log event that says it failed when it is not LAUNCH_FAILED
    /// (SERVER_SKIPPED, CONVERSION_FAIL, ...).
    failure_events: HashMap<String, String>,
    /// TerminateRecoveryInstances answers lost after DRS acted (the job exists).
    lose_terminate_answers: VecDeque<AwsError>,
    /// StartRecovery answers lost after DRS acted (the job exists).
    lose_start_answers: VecDeque<AwsError>,
    /// The time new jobs are created at; the real clock when unset.
    now: Option<time::OffsetDateTime>,
    /// How DescribeRecoverySnapshots pages its answers.
    snapshot_paging: SnapshotPaging,
    /// DescribeRecoverySnapshots pages answered so far.
    snapshot_pages: usize,
    /// StartRecovery's per-job quota, when set.
    max_servers_per_job: Option<usize>,
    /// The account's concurrency quotas (jobs in progress, servers in active jobs), when set.
    concurrency_quotas: Option<(usize, usize)>,
    /// StartRecovery calls refused for a concurrency quota.
    quota_refusals: usize,
    /// How long after StartRecovery makes a job DescribeJobs starts listing it.
    listing_delay: Duration,
    /// Per job made while a listing delay was set, when DescribeJobs starts listing it.
    listed_from: HashMap<String, tokio::time::Instant>,
    /// Recovery instances as DescribeRecoveryInstances lists them (`testing/drs/instances.rs`).
    instances: instances::InstanceState,
    /// Failback states, failback jobs and calls (`testing/drs/failback.rs`).
    failback: failback::FailbackFake,
    /// Source networks DRS knows (`testing/drs/networks.rs`).
    networks: Vec<drs_waves_aws::drs::SourceNetwork>,
    network_calls: Vec<drs_waves_aws::drs::NetworkRecoveryRequest>,
    /// StartSourceNetworkRecovery answers lost after DRS acted (the job exists).
    lose_network_answers: VecDeque<AwsError>,
}

/// How the fake answers DescribeRecoverySnapshots: what the DRS API model allows besides one
/// page sorted newest first (`order` ASC is DRS's default; any Describe* may answer a short or
/// empty page with a `nextToken`). The default: newest first, everything on one page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotPaging {
    /// Oldest first, whatever `order` the caller asked for.
    pub ascending: bool,
    /// Items per page; 0: all on one page.
    pub per_page: usize,
    /// An empty page with a `nextToken` before each page of items (and one after the last).
    pub empty_pages: bool,
    /// Ignores the `toDateTime` filter (it is a narrowing hint to the worker, not a promise).
    pub ignore_time_filter: bool,
}

/// A fake DRS: servers and jobs in memory; StartRecovery makes a PENDING job of PENDING
/// servers; a test moves them on with [`FakeDrs::set_launch_status`].
///
/// It is also the fake of [`DrsAccounts`]: the worker's own account is this fake, and each
/// other account a fake of its own ([`FakeDrs::in_account`]), so a test sees which account a
/// call went to. [`FakeDrs::refuse_role`] makes a role one the worker cannot assume.
#[derive(Clone, Default)]
pub struct FakeDrs {
    state: Arc<Mutex<DrsState>>,
    accounts: Arc<Mutex<AccountFakes>>,
}

/// The other accounts' fakes, and the roles that cannot be assumed.
#[derive(Default)]
struct AccountFakes {
    by_account: BTreeMap<WaveAccount, FakeDrs>,
    refused_roles: BTreeMap<String, AwsError>,
    /// Each role checked, in order.
    checked_roles: Vec<String>,
}

impl FakeDrs {
    /// The DRS of `account` (made on first use; the same fake every time after).
    pub fn in_account(&self, account: &WaveAccount) -> FakeDrs {
        lock(&self.accounts)
            .by_account
            .entry(account.clone())
            .or_default()
            .clone()
    }

    /// The role `role_arn` cannot be assumed: its check fails with `error`.
    pub fn refuse_role(&self, role_arn: &str, error: AwsError) {
        lock(&self.accounts)
            .refused_roles
            .insert(role_arn.to_string(), error);
    }

    /// The roles checked so far, in order.
    pub fn checked_roles(&self) -> Vec<String> {
        lock(&self.accounts).checked_roles.clone()
    }
}

impl DrsAccounts for FakeDrs {
    type Drs = FakeDrs;

    async fn drs_for(&self, account: Option<&WaveAccount>) -> FakeDrs {
        match account {
            Some(a) if !is_own(Some(a)) => self.in_account(a),
            _ => self.clone(),
        }
    }

    async fn check_role(&self, account: &WaveAccount) -> Result<(), AwsError> {
        let Some(role) = &account.role_arn else {
            return Ok(());
        };
        let mut accounts = lock(&self.accounts);
        accounts.checked_roles.push(role.clone());
        match accounts.refused_roles.get(role) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl FakeDrs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a healthy (CONTINUOUS) server with one recovery snapshot, taken at
    /// [`FakeDrs::DEFAULT_SNAPSHOT_TIME`].
    pub fn add_server(&self, id: &str, tags: &[(&str, &str)]) {
        self.add_server_in_state(id, tags, "CONTINUOUS");
    }

    /// When the snapshot of a server added by [`FakeDrs::add_server`] was taken.
    pub const DEFAULT_SNAPSHOT_TIME: &'static str = "2030-01-01T00:00:00Z";

    /// Adds a server in the given replication state (AGENT_NOT_SEEN when it is STALLED or
    /// DISCONNECTED, as DRS reports a source site that is down) with one snapshot.
    pub fn add_server_in_state(&self, id: &str, tags: &[(&str, &str)], replication_state: &str) {
        let down = matches!(replication_state, "STALLED" | "DISCONNECTED");
        lock(&self.state).servers.push(SourceServer {
            id: id.to_string(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            replication_state: Some(replication_state.to_string()),
            replication_error: down.then(|| "AGENT_NOT_SEEN".to_string()),
            last_seen: Some(Self::DEFAULT_SNAPSHOT_TIME.to_string()),
            hostname: Some(format!("host-{id}")),
        });
        self.add_snapshot(id, Self::DEFAULT_SNAPSHOT_TIME);
    }

    pub fn set_hostname(&self, id: &str, hostname: &str) {
        for s in lock(&self.state).servers.iter_mut().filter(|s| s.id == id) {
            s.hostname = Some(hostname.to_string());
        }
    }

    /// Adds a recovery snapshot taken at `taken_at` (RFC 3339); returns its ID.
    pub fn add_snapshot(&self, server: &str, taken_at: &str) -> String {
        let mut state = lock(&self.state);
        state.snapshots_made += 1;
        let n = state.snapshots_made;
        let id = format!("pit-{n:017x}");
        let list = state.snapshots.entry(server.to_string()).or_default();
        list.push(RecoverySnapshot {
            id: id.clone(),
            source_server_id: server.to_string(),
            taken_at: taken_at.to_string(),
        });
        list.sort_by_key(|s| parse_time(&s.taken_at));
        id
    }

    /// StartRecovery refuses more than `n` servers in one job, as drs-sim does (402
    /// ServiceQuotaExceededException, `quotaCode` SourceServersPerJob), classified as SdkDrs
    /// classifies it.
    pub fn set_max_servers_per_job(&self, n: usize) {
        lock(&self.state).max_servers_per_job = Some(n);
    }

    /// Jobs StartRecovery makes from here on are listed by DescribeJobs (by ID or by date, so
    /// by their tags too) only `delay` later (tokio time), as DRS may list a new job late; DRS
    /// still refuses their servers in another job at once (ConflictException).
    /// DRS's concurrency quotas: StartRecovery is refused (402 ServiceQuotaExceededException,
    /// drs-sim's quota codes and messages) when `jobs` jobs are active, or when the servers in
    /// active jobs plus the new ones would be more than `servers`.
    pub fn set_concurrency_quotas(&self, jobs: usize, servers: usize) {
        lock(&self.state).concurrency_quotas = Some((jobs, servers));
    }

    /// StartRecovery calls refused for a concurrency quota so far.
    pub fn quota_refusals(&self) -> usize {
        lock(&self.state).quota_refusals
    }

    pub fn set_listing_delay(&self, delay: Duration) {
        lock(&self.state).listing_delay = delay;
    }

    /// How DescribeRecoverySnapshots answers from here on (order, short and empty pages).
    pub fn page_snapshots(&self, paging: SnapshotPaging) {
        lock(&self.state).snapshot_paging = paging;
    }

    /// DescribeRecoverySnapshots pages answered so far (empty ones included).
    pub fn snapshot_pages_served(&self) -> usize {
        lock(&self.state).snapshot_pages
    }

    /// One DescribeRecoverySnapshots page as [`SnapshotPaging`] lays them out: the items from
    /// `token` on, and the next token (absent on the last page).
    fn snapshot_page(
        state: &mut DrsState,
        server: &str,
        at_or_before: Option<&str>,
        token: Option<usize>,
    ) -> (Vec<RecoverySnapshot>, Option<usize>) {
        state.snapshot_pages += 1;
        let paging = state.snapshot_paging;
        let limit = at_or_before
            .filter(|_| !paging.ignore_time_filter)
            .and_then(parse_time);
        let mut items: Vec<RecoverySnapshot> = state
            .snapshots
            .get(server)
            .into_iter()
            .flatten()
            .filter(|s| limit.is_none_or(|l| parse_time(&s.taken_at).is_some_and(|t| t <= l)))
            .cloned()
            .collect();
        if !paging.ascending {
            items.reverse();
        }
        let per_page = if paging.per_page == 0 {
            items.len().max(1)
        } else {
            paging.per_page
        };
        // Tokens count steps: with empty pages, even steps are empty pages and odd ones carry
        // items; without, every step carries items.
        let step = token.unwrap_or(0);
        let steps_per_page = if paging.empty_pages { 2 } else { 1 };
        let pages = items.len().div_ceil(per_page);
        let last_step = pages * steps_per_page + usize::from(paging.empty_pages);
        let next = (step + 1 < last_step.max(1)).then_some(step + 1);
        if paging.empty_pages && step.is_multiple_of(2) {
            return (Vec::new(), next);
        }
        let page = step / steps_per_page;
        let page_items = items
            .into_iter()
            .skip(page * per_page)
            .take(per_page)
            .collect();
        (page_items, next)
    }

    /// Forgets every snapshot of a server (one still in INITIAL_SYNC has none).
    pub fn clear_snapshots(&self, server: &str) {
        lock(&self.state).snapshots.remove(server);
    }

    pub fn add_job(&self, job: Job) {
        lock(&self.state).jobs.push(job);
    }

    /// The next `op` call fails with `err` (ops: describe_source_servers, describe_jobs,
    /// start_recovery, terminate_recovery_instances).
    pub fn fail_next(&self, op: &'static str, err: AwsError) {
        lock(&self.state)
            .failures
            .entry(op)
            .or_default()
            .push_back(err);
    }

    /// The next StartRecovery creates its job, then fails with `err` (an answer lost after DRS
    /// acted).
    pub fn lose_next_start_answer(&self, err: AwsError) {
        lock(&self.state).lose_start_answers.push_back(err);
    }

    /// The next TerminateRecoveryInstances creates its job, then fails with `err`.
    pub fn lose_next_terminate_answer(&self, err: AwsError) {
        lock(&self.state).lose_terminate_answers.push_back(err);
    }

    /// The reason the job log gives when `server` fails to launch.
    pub fn set_failure_reason(&self, server: &str, reason: &str) {
        lock(&self.state)
            .failure_reasons
            .insert(server.to_string(), reason.to_string());
    }

    /// Recovery instances launched and not terminated.
    fn existing(state: &DrsState) -> HashSet<&str> {
        state
            .jobs
            .iter()
            .filter(|j| j.job_type.as_deref() != Some("TERMINATE"))
            .filter(|j| !state.failback.is_failback_job(&j.id))
            .flat_map(|j| j.servers.iter())
            .filter_map(|s| s.recovery_instance_id.as_deref())
            .filter(|i| !state.terminated.contains(*i))
            .collect()
    }

    /// Jobs are created at `now` from here on (tests whose handlers run on a fixed clock).
    pub fn set_now(&self, now: time::OffsetDateTime) {
        lock(&self.state).now = Some(now);
    }

    /// The next `op` call succeeds, and the one after fails with `err`.
    pub fn succeed_then_fail_next(&self, op: &'static str, err: AwsError) {
        lock(&self.state).pass_then_fail.insert(op, err);
    }

    /// StartRecovery answers with an empty jobID (as the SDK does when the field is missing).
    pub fn blank_job_ids(&self) {
        lock(&self.state).blank_job_ids = true;
    }

    pub fn set_launch_status(&self, server: &str, status: LaunchStatus, instance: Option<&str>) {
        let mut state = lock(&self.state);
        for job in &mut state.jobs {
            for s in &mut job.servers {
                if s.source_server_id == server {
                    s.launch_status = status.clone();
                    s.recovery_instance_id = instance.map(str::to_string);
                }
            }
        }
    }

    /// A server's launch status in one job only (a server an operator's retry launched again
    /// is in two jobs).
    pub fn set_launch_status_in(
        &self,
        job_id: &str,
        server: &str,
        status: LaunchStatus,
        instance: Option<&str>,
    ) {
        let mut state = lock(&self.state);
        for job in state.jobs.iter_mut().filter(|j| j.id == job_id) {
            for s in job
                .servers
                .iter_mut()
                .filter(|s| s.source_server_id == server)
            {
                s.launch_status = status.clone();
                s.recovery_instance_id = instance.map(str::to_string);
            }
        }
    }

    /// Removes a server from every job's participants (DRS listing a job without it).
    pub fn drop_server_from_jobs(&self, server: &str) {
        for job in &mut lock(&self.state).jobs {
            job.servers.retain(|s| s.source_server_id != server);
        }
    }

    pub fn set_job_status(&self, job_id: &str, status: JobStatus) {
        for job in lock(&self.state).jobs.iter_mut().filter(|j| j.id == job_id) {
            job.status = status.clone();
        }
    }

    /// The job COMPLETED at `ended_at` (its `endDateTime`).
    pub fn end_job(&self, job_id: &str, ended_at: &str) {
        for job in lock(&self.state).jobs.iter_mut().filter(|j| j.id == job_id) {
            job.status = JobStatus::Completed;
            job.ended_at = Some(ended_at.to_string());
        }
    }

    pub fn start_calls(&self) -> Vec<StartRecoveryRequest> {
        lock(&self.state).start_calls.clone()
    }

    pub fn terminate_calls(&self) -> Vec<Vec<String>> {
        lock(&self.state).terminate_calls.clone()
    }

    pub fn describe_jobs_calls(&self) -> Vec<JobFilter> {
        lock(&self.state).describe_jobs_calls.clone()
    }

    /// What each `select_source_servers` call asked for, in order.
    pub fn source_server_selections(&self) -> Vec<drs_waves_aws::drs::ServerSelection> {
        lock(&self.state).selections.clone()
    }

    pub fn jobs(&self) -> Vec<Job> {
        lock(&self.state).jobs.clone()
    }

    fn injected(&self, op: &'static str) -> Result<(), AwsError> {
        let mut state = lock(&self.state);
        if let Some(e) = state.failures.get_mut(op).and_then(VecDeque::pop_front) {
            return Err(e);
        }
        if let Some(e) = state.armed_after_pass.remove(op) {
            return Err(e);
        }
        if let Some(e) = state.pass_then_fail.remove(op) {
            state.armed_after_pass.insert(op, e);
        }
        Ok(())
    }

    fn new_job(
        state: &mut DrsState,
        job_type: &str,
        servers: Vec<JobServer>,
        tags: BTreeMap<String, String>,
    ) -> Job {
        state.next_job += 1;
        Job {
            id: format!("drsjob-{:017}", state.next_job),
            status: JobStatus::Pending,
            job_type: Some(job_type.to_string()),
            tags,
            created_at: Some(format_time(
                state.now.unwrap_or_else(time::OffsetDateTime::now_utc),
            )),
            ended_at: None,
            servers,
            networks: Vec::new(),
        }
    }
}
