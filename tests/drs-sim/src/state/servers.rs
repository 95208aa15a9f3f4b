//! Source servers staged at run time: adding or replacing them, picking them by ID or tag,
//! source-site outages, failing launches, and their point-in-time snapshots and aging.

use std::collections::HashSet;

use time::OffsetDateTime;

use super::{ServerEntry, ServerSelector, SimState};
use crate::fixture::{self, ResolvedDefaults, ServerSpec, SourceServerDef};
use crate::lifecycle::{seconds, truncate_to_micros};
use crate::replication::{self, OUTAGE_STATES, OutageState, RecoverySnapshot, Timeline};

impl SimState {
    /// Adds source servers, or replaces those with the same ID. All or nothing.
    ///
    /// A replaced server keeps its jobs, and its replication history (outages included)
    /// unless the replacement changes its replicationState, replicationError or
    /// downSinceMinutes: then the new state holds from `now` (less downSinceMinutes).
    pub fn upsert_servers(
        &mut self,
        specs: &[ServerSpec],
        defaults: &ResolvedDefaults,
        now: OffsetDateTime,
    ) -> Result<Vec<SourceServerDef>, String> {
        let now = truncate_to_micros(now);
        let mut defs = Vec::with_capacity(specs.len());
        let mut seen = HashSet::new();
        for spec in specs {
            let def =
                fixture::resolve(spec, defaults).map_err(|e| format!("server {}: {e}", spec.id))?;
            if !seen.insert(def.id.clone()) {
                return Err(format!("server {}: duplicate server ID", def.id));
            }
            defs.push(def);
        }
        for def in &defs {
            match self.servers.get_mut(&def.id) {
                Some(entry) => {
                    let replication_changed = entry.def.replication_state != def.replication_state
                        || entry.def.replication_error != def.replication_error
                        || entry.def.down_since_minutes != def.down_since_minutes;
                    if replication_changed {
                        // The new definition's change (or its state, from now).
                        let fresh = Timeline::from_def(def, now);
                        let (from, segment) = match fresh.last_change() {
                            Some(change) => (change.from, change.clone()),
                            None => (now, fresh.at(now).clone()),
                        };
                        entry.timeline.set(from, &segment.state, segment.error);
                        entry.pre_outage = None;
                    }
                    entry.def = def.clone();
                }
                None => {
                    self.servers
                        .insert(def.id.clone(), ServerEntry::new(def.clone(), now, now));
                }
            }
        }
        Ok(defs)
    }

    pub fn server_defs(&self) -> Vec<SourceServerDef> {
        self.servers.values().map(|e| e.def.clone()).collect()
    }

    /// The IDs `selector` names; an unknown ID, or tags that match nothing, is an error.
    pub(super) fn select(&self, selector: &ServerSelector) -> Result<Vec<String>, String> {
        match selector {
            ServerSelector::All => Ok(self.servers.keys().cloned().collect()),
            ServerSelector::Servers(ids) => {
                if ids.is_empty() {
                    return Err("servers is an empty list".to_owned());
                }
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    if !self.servers.contains_key(id) {
                        return Err(format!("server {id} is not a known source server"));
                    }
                    if !out.contains(id) {
                        out.push(id.clone());
                    }
                }
                Ok(out)
            }
            ServerSelector::Tags(tags) => {
                if tags.is_empty() {
                    return Err("tags is empty".to_owned());
                }
                let out: Vec<String> = self
                    .servers
                    .values()
                    .filter(|e| tags.iter().all(|(k, v)| e.def.tags.get(k) == Some(v)))
                    .map(|e| e.def.id.clone())
                    .collect();
                if out.is_empty() {
                    return Err(format!("no source server has the tags {tags:?}"));
                }
                Ok(out)
            }
        }
    }

    /// A source-site outage: from `now` the selected servers are in `state` with
    /// AGENT_NOT_SEEN, take no snapshots, and their `lastSeenByServiceDateTime` stops.
    /// Returns the servers it applies to.
    pub fn start_outage(
        &mut self,
        selector: &ServerSelector,
        state: OutageState,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        let now = truncate_to_micros(now);
        let ids = self.select(selector)?;
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                let current = entry.timeline.at(now).clone();
                if entry.pre_outage.is_none() {
                    entry.pre_outage = Some((current.state.clone(), current.error.clone()));
                }
                if current.state != state.as_str()
                    || current.error.as_deref() != Some("AGENT_NOT_SEEN")
                {
                    entry
                        .timeline
                        .set(now, state.as_str(), Some("AGENT_NOT_SEEN".to_owned()));
                }
            }
        }
        Ok(ids)
    }

    /// Ends the outage of the selected servers: from `now` each is back in the state it had
    /// before the outage (CONTINUOUS if it was STALLED or DISCONNECTED already, as servers
    /// down from the fixture are), and takes snapshots again if that state does. Returns
    /// the servers whose state changed.
    pub fn end_outage(
        &mut self,
        selector: &ServerSelector,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        let now = truncate_to_micros(now);
        let ids = self.select(selector)?;
        let mut changed = Vec::new();
        for id in ids {
            let Some(entry) = self.servers.get_mut(&id) else {
                continue;
            };
            let current = entry.timeline.at(now).clone();
            let restored = match entry.pre_outage.take() {
                Some((state, error)) if !OUTAGE_STATES.contains(&state.as_str()) => (state, error),
                Some(_) => ("CONTINUOUS".to_owned(), None),
                None if OUTAGE_STATES.contains(&current.state.as_str()) => {
                    ("CONTINUOUS".to_owned(), None)
                }
                None => continue,
            };
            if (current.state.as_str(), current.error.as_deref())
                != (restored.0.as_str(), restored.1.as_deref())
            {
                entry.timeline.set(now, &restored.0, restored.1);
                changed.push(id);
            }
        }
        Ok(changed)
    }

    /// Sets (or clears) `failLaunch` and its reason on the selected servers, for launches
    /// from now on. Returns the servers.
    pub fn set_fail_launch(
        &mut self,
        selector: &ServerSelector,
        fail_launch: bool,
        fail_reason: Option<String>,
    ) -> Result<Vec<String>, String> {
        if fail_reason.is_some() && !fail_launch {
            return Err("failReason is set but failLaunch is false".to_owned());
        }
        if fail_reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err("failReason is empty".to_owned());
        }
        let ids = self.select(selector)?;
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.def.fail_launch = fail_launch;
                entry.def.fail_reason = fail_reason.clone();
            }
        }
        Ok(ids)
    }

    /// The snapshots of `server_id` as of `now`, oldest first (None: no such server).
    pub fn recovery_snapshots(
        &self,
        server_id: &str,
        now: OffsetDateTime,
    ) -> Option<Vec<RecoverySnapshot>> {
        let entry = self.servers.get(server_id)?;
        Some(replication::snapshots(
            &entry.def,
            &entry.timeline,
            self.sim_start,
            now,
            self.snapshot_salt,
        ))
    }

    /// Makes every snapshot the selected servers have taken by `now` `minutes` older, as far
    /// as retention goes: what an hour (or a day) of DRS's retention would delete is gone,
    /// without waiting for it. Snapshots taken later age normally. Returns the servers.
    pub fn age_snapshots(
        &mut self,
        selector: &ServerSelector,
        minutes: f64,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        if !minutes.is_finite() || !(0.0..=525_600.0).contains(&minutes) {
            return Err(format!(
                "minutes {minutes} is not between 0 and a year of minutes"
            ));
        }
        let now = truncate_to_micros(now);
        let ids = self.select(selector)?;
        for id in &ids {
            if let Some(entry) = self.servers.get_mut(id) {
                entry.timeline.age_snapshots(now, seconds(minutes * 60.0));
            }
        }
        Ok(ids)
    }
}
