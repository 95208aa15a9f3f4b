//! What a test (or any library user) reads and stages on a running simulator through its
//! `SimHandle`: counters, jobs, instances, faults, limits, servers, outages, snapshots,
//! background jobs, paging, timings and reset.

use time::OffsetDateTime;

use super::{SimError, SimHandle, reset, validate_limits};
use crate::config::{FaultConfig, Limits, Paging, Timings};
use crate::fixture::{BackgroundJobSpec, ResolvedDefaults, ServerSpec, SourceServerDef};
use crate::network::SourceNetworkSpec;
use crate::replication::{OutageState, RecoverySnapshot};
use crate::state::{Counters, InstanceSnapshot, JobSnapshot, ServerSelector};

impl SimHandle {
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Who called, by access key: the account each key encodes, the regions it signed for,
    /// its calls per operation and the refused ones (see [`crate::principal`]).
    pub fn callers(&self) -> crate::principal::Callers {
        self.shared.callers().clone()
    }

    /// Every job, oldest first, with each server's scheduled launch start and end.
    pub fn jobs(&self) -> Vec<JobSnapshot> {
        self.shared.lock().job_snapshots(OffsetDateTime::now_utc())
    }

    /// Every recovery instance launched so far, terminated ones included.
    pub fn recovery_instances(&self) -> Vec<InstanceSnapshot> {
        self.shared
            .lock()
            .instance_snapshots(OffsetDateTime::now_utc())
    }

    pub fn source_servers(&self) -> Vec<SourceServerDef> {
        self.shared.lock().server_defs()
    }

    pub fn faults(&self) -> FaultConfig {
        self.shared.lock().faults.clone()
    }

    /// Replaces the fault configuration (a `seed` in it reseeds the fault generator).
    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), SimError> {
        faults.validate().map_err(SimError::Config)?;
        self.shared.lock().set_faults(faults);
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        self.shared.lock().limits.clone()
    }

    pub fn set_limits(&self, limits: Limits) -> Result<(), SimError> {
        validate_limits(&limits).map_err(SimError::Config)?;
        self.shared.lock().limits = limits;
        Ok(())
    }

    /// Adds source servers (or replaces those with the same ID). All or nothing. Servers
    /// without `snapshots` get the default schedule, without `launchSeconds` 1 s.
    pub fn add_servers(&self, servers: &[ServerSpec]) -> Result<(), SimError> {
        self.shared
            .lock()
            .upsert_servers(
                servers,
                &ResolvedDefaults::default(),
                OffsetDateTime::now_utc(),
            )
            .map(|_| ())
            .map_err(SimError::Config)
    }

    /// A source-site outage from now on: the selected servers report `state` with
    /// AGENT_NOT_SEEN, take no new snapshots, and their `lastSeenByServiceDateTime` stops.
    /// Launches still work from the snapshots taken before. Returns the servers.
    pub fn start_outage(
        &self,
        selector: &ServerSelector,
        state: OutageState,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .start_outage(selector, state, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// Ends the outage of the selected servers (servers down from the fixture come back
    /// CONTINUOUS). Returns the servers whose state changed.
    pub fn end_outage(&self, selector: &ServerSelector) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .end_outage(selector, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// The point-in-time snapshots `server_id` has now, oldest first (as
    /// DescribeRecoverySnapshots answers, with ASC order).
    pub fn recovery_snapshots(&self, server_id: &str) -> Result<Vec<RecoverySnapshot>, SimError> {
        self.shared
            .lock()
            .recovery_snapshots(server_id, OffsetDateTime::now_utc())
            .ok_or_else(|| {
                SimError::Invalid(format!("server {server_id} is not a known source server"))
            })
    }

    /// Schedules background jobs (counted from now). All or nothing. Returns their job IDs.
    pub fn add_background_jobs(&self, jobs: &[BackgroundJobSpec]) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .add_background_jobs(jobs, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// Sets `failLaunch` (with an optional reason: a named cause or the `rawError` text) on
    /// the selected servers, or clears it (`fail_launch` false, no reason), for launches from
    /// now on. Returns the servers.
    pub fn set_fail_launch(
        &self,
        selector: &ServerSelector,
        fail_launch: bool,
        fail_reason: Option<&str>,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .set_fail_launch(selector, fail_launch, fail_reason.map(str::to_owned))
            .map_err(SimError::Invalid)
    }

    /// The selected servers' recovery instances start replicating back (the DRS Failback
    /// Client on an on-premises source), going as `staging` says; see the README's
    /// "Failback". Returns the recovery instances.
    pub fn stage_failback(
        &self,
        staging: &crate::state::FailbackStaging,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .stage_failback(staging, time::OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// Leaves `recoveryInstanceID` out of the selected servers' participatingServers in
    /// DescribeJobs (`omit` true) or names it again. Returns the servers.
    pub fn set_omit_recovery_instance_id(
        &self,
        selector: &ServerSelector,
        omit: bool,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .set_omit_recovery_instance_id(selector, omit)
            .map_err(SimError::Invalid)
    }

    /// Makes every snapshot the selected servers have taken so far `minutes` older, as far
    /// as DRS's retention goes (what it would have deleted by then is gone). Returns the
    /// servers.
    pub fn age_snapshots(
        &self,
        selector: &ServerSelector,
        minutes: f64,
    ) -> Result<Vec<String>, SimError> {
        self.shared
            .lock()
            .age_snapshots(selector, minutes, OffsetDateTime::now_utc())
            .map_err(SimError::Invalid)
    }

    /// Adds source networks (or replaces those with the same ID). All or nothing.
    pub fn add_source_networks(&self, networks: &[SourceNetworkSpec]) -> Result<(), SimError> {
        self.shared
            .lock()
            .upsert_networks(networks)
            .map_err(SimError::Invalid)
    }

    pub fn source_networks(&self) -> Vec<SourceNetworkSpec> {
        self.shared.lock().network_specs()
    }

    /// Makes the network's recoveries from now on fail (with `reason` as their `rawError`) or
    /// succeed, and take `recovery_seconds` when given.
    pub fn set_network_recovery(
        &self,
        network_id: &str,
        fails: bool,
        reason: Option<&str>,
        recovery_seconds: Option<f64>,
    ) -> Result<(), SimError> {
        self.shared
            .lock()
            .set_network_recovery(
                network_id,
                fails,
                reason.map(str::to_owned),
                recovery_seconds,
            )
            .map_err(SimError::Invalid)
    }

    pub fn paging(&self) -> Paging {
        self.shared.lock().paging().clone()
    }

    /// Replaces the paging knobs (`pageSize`, `emptyFirstPage`), for calls from now on.
    pub fn set_paging(&self, paging: Paging) -> Result<(), SimError> {
        paging.validate().map_err(SimError::Config)?;
        self.shared.lock().set_paging(paging);
        Ok(())
    }

    pub fn timings(&self) -> Timings {
        self.shared.lock().timings().clone()
    }

    /// Replaces the timings; they apply to jobs created from now on.
    pub fn set_timings(&self, timings: Timings) -> Result<(), SimError> {
        timings.validate().map_err(SimError::Config)?;
        self.shared.lock().set_timings(timings);
        Ok(())
    }

    /// Clears jobs, instances, counters and servers added at run time; with
    /// `reload_fixture`, re-reads the fixture file first. Faults and limits are kept.
    pub fn reset(&self, reload_fixture: bool) -> Result<(), SimError> {
        reset(&self.shared, reload_fixture)
    }
}
