//! The fixture: which source servers exist and how each one's launch behaves.
//!
//! This file holds the fixture file itself (`Fixture`, its `defaults`, loading and
//! validation); a server's description and validation live in `servers`, snapshot schedules
//! in `snapshots`, launch failure causes in `fail_causes`, background load in `background`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Paging, Timings};
use crate::launch_actions::LaunchActionSpec;

mod background;
mod fail_causes;
mod servers;
mod snapshots;

pub use background::{BackgroundJobSpec, BackgroundServers};
pub use fail_causes::{FAIL_CAUSES, GENERIC_FAIL_REASON, fail_raw_error};
pub use servers::{
    PRE_SYNC_STATES, REPLICATION_ERRORS, REPLICATION_STATES, ServerSpec, SourceServerDef,
    is_source_server_id, resolve,
};
pub use snapshots::{DEFAULT_SNAPSHOTS, MAX_HISTORY_SNAPSHOTS, SnapshotSpec};

/// Launch time used when neither the server nor the fixture's `defaults` set one.
pub const DEFAULT_LAUNCH_SECONDS: f64 = 1.0;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureDefaults {
    #[serde(default)]
    pub launch_seconds: Option<f64>,
    #[serde(default)]
    pub snapshots: Option<SnapshotSpec>,
    /// The default post-launch actions: each applies to the servers carrying all of its
    /// `tags` (every server without tags) that have no `postLaunchActions` of their own.
    #[serde(default)]
    pub post_launch_actions: Option<Vec<LaunchActionSpec>>,
    /// Every server's `omitRecoveryInstanceId` unless it sets its own (default false).
    #[serde(default)]
    pub omit_recovery_instance_id: bool,
    /// The DAY rule's retention of every server that does not set its own (default 7).
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// The whole fixture file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub defaults: FixtureDefaults,
    #[serde(default)]
    pub servers: Vec<ServerSpec>,
    /// Jobs of others that occupy the account's quotas (see [`BackgroundJobSpec`]).
    #[serde(default)]
    pub background_jobs: Vec<BackgroundJobSpec>,
    /// Replaces the simulator's timings (`jobListingDelaySeconds`, `participantsDelaySeconds`,
    /// ...) while this fixture is loaded.
    #[serde(default)]
    pub timings: Option<Timings>,
    /// Replaces the simulator's paging (`pageSize`, `emptyFirstPage`).
    #[serde(default)]
    pub paging: Option<Paging>,
    /// Source networks (DescribeSourceNetworks, StartSourceNetworkRecovery; see
    /// [`crate::network`]).
    #[serde(default)]
    pub source_networks: Vec<crate::network::SourceNetworkSpec>,
    /// The one account and region the simulator serves (`--account-id` and `--region` win
    /// over it); absent: every caller is served.
    /// Boxed: a fixture is held inline in `FixtureSource`, kept small.
    #[serde(default)]
    pub account: Option<Box<crate::principal::Owner>>,
}

/// A fixture after validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedFixture {
    pub servers: Vec<SourceServerDef>,
    pub background_jobs: Vec<BackgroundJobSpec>,
    pub timings: Option<Timings>,
    pub paging: Option<Paging>,
    pub owner: Option<crate::principal::Owner>,
    pub source_networks: Vec<crate::network::SourceNetworkSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    // The I/O error is part of the message, not a `source`, so that a report prints it once.
    #[error("cannot read fixture {file}: {error}")]
    Read {
        file: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot parse fixture {file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("fixture {file}: server {server}: {reason}")]
    InvalidServer {
        file: PathBuf,
        server: String,
        reason: String,
    },
    #[error("fixture {file}: defaults.{field}: {reason}")]
    InvalidDefaults {
        file: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("fixture {file}: {field}: {reason}")]
    InvalidSetting {
        file: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("fixture {file}: backgroundJobs[{index}]: {reason}")]
    InvalidBackgroundJob {
        file: PathBuf,
        index: usize,
        reason: String,
    },
}

/// Defaults after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedDefaults {
    pub launch_seconds: f64,
    pub snapshots: SnapshotSpec,
    /// Checked against the model; resolved per server.
    pub post_launch_actions: Vec<LaunchActionSpec>,
    pub omit_recovery_instance_id: bool,
    pub retention_days: u32,
}

/// The DAY rule's default retention (DRS User Guide, point-in-time: 7 days).
pub const DEFAULT_RETENTION_DAYS: u32 = 7;

impl Default for ResolvedDefaults {
    fn default() -> Self {
        Self {
            launch_seconds: DEFAULT_LAUNCH_SECONDS,
            snapshots: DEFAULT_SNAPSHOTS,
            post_launch_actions: Vec::new(),
            omit_recovery_instance_id: false,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

impl FixtureDefaults {
    /// Validates the defaults; the error names the field.
    pub fn resolve(&self) -> Result<ResolvedDefaults, (&'static str, String)> {
        let launch_seconds = match self.launch_seconds {
            None => DEFAULT_LAUNCH_SECONDS,
            Some(s) => {
                check_seconds(s).map_err(|r| ("launchSeconds", r))?;
                s
            }
        };
        let snapshots = match &self.snapshots {
            None => DEFAULT_SNAPSHOTS,
            Some(s) => {
                s.validate().map_err(|r| ("snapshots", r))?;
                s.clone()
            }
        };
        let post_launch_actions = self.post_launch_actions.clone().unwrap_or_default();
        for (index, action) in post_launch_actions.iter().enumerate() {
            action.resolve(index, "defaults").map_err(|r| {
                (
                    "postLaunchActions",
                    format!("[{index}] {}: {r}", action.name),
                )
            })?;
        }
        let retention_days = self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        check_retention_days(retention_days).map_err(|r| ("retentionDays", r))?;
        Ok(ResolvedDefaults {
            launch_seconds,
            snapshots,
            post_launch_actions,
            omit_recovery_instance_id: self.omit_recovery_instance_id,
            retention_days,
        })
    }
}

impl Fixture {
    /// Reads a YAML or JSON fixture (`.json` is parsed as JSON, anything else as YAML, which
    /// also accepts JSON) and validates it.
    pub fn load(path: &Path) -> Result<Vec<SourceServerDef>, FixtureError> {
        Self::load_all(path).map(|f| f.servers)
    }

    /// Like [`Fixture::load`], with the background jobs too.
    pub fn load_all(path: &Path) -> Result<LoadedFixture, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|error| FixtureError::Read {
            file: path.to_path_buf(),
            error,
        })?;
        let fixture = Self::parse(&text, path)?;
        fixture.validate_all(path)
    }

    /// Parses fixture text; `origin` only names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, FixtureError> {
        let is_json = origin
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed: Result<Self, String> = if is_json {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else if text.trim().is_empty() {
            Ok(Self::default())
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
        };
        parsed.map_err(|message| FixtureError::Parse {
            file: origin.to_path_buf(),
            message,
        })
    }

    /// Applies defaults and checks IDs, duplicates, timings and replication states.
    pub fn validate(&self, origin: &Path) -> Result<Vec<SourceServerDef>, FixtureError> {
        self.validate_all(origin).map(|f| f.servers)
    }

    /// Like [`Fixture::validate`], checking the background jobs too.
    pub fn validate_all(&self, origin: &Path) -> Result<LoadedFixture, FixtureError> {
        let defaults =
            self.defaults
                .resolve()
                .map_err(|(field, reason)| FixtureError::InvalidDefaults {
                    file: origin.to_path_buf(),
                    field,
                    reason,
                })?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(self.servers.len());
        for (index, spec) in self.servers.iter().enumerate() {
            let label = if spec.id.is_empty() {
                format!("#{} (servers[{index}])", index + 1)
            } else {
                format!("{} (servers[{index}])", spec.id)
            };
            let invalid = |reason: String| FixtureError::InvalidServer {
                file: origin.to_path_buf(),
                server: label.clone(),
                reason,
            };
            let def = resolve(spec, &defaults).map_err(invalid)?;
            if !seen.insert(def.id.clone()) {
                return Err(invalid("duplicate server ID".to_owned()));
            }
            out.push(def);
        }
        for (index, job) in self.background_jobs.iter().enumerate() {
            job.validate(&|id| seen.contains(id)).map_err(|reason| {
                FixtureError::InvalidBackgroundJob {
                    file: origin.to_path_buf(),
                    index,
                    reason,
                }
            })?;
        }
        let invalid_setting = |field: &'static str| {
            move |reason: String| FixtureError::InvalidSetting {
                file: origin.to_path_buf(),
                field,
                reason,
            }
        };
        if let Some(t) = &self.timings {
            t.validate().map_err(invalid_setting("timings"))?;
        }
        if let Some(p) = &self.paging {
            p.validate().map_err(invalid_setting("paging"))?;
        }
        if let Some(owner) = &self.account {
            owner.validate().map_err(invalid_setting("account"))?;
        }
        let mut networks = HashSet::new();
        for n in &self.source_networks {
            n.validate().map_err(invalid_setting("sourceNetworks"))?;
            if !networks.insert(n.id.as_str()) {
                return Err(invalid_setting("sourceNetworks")(format!(
                    "{} is listed more than once",
                    n.id
                )));
            }
        }
        Ok(LoadedFixture {
            servers: out,
            background_jobs: self.background_jobs.clone(),
            timings: self.timings.clone(),
            paging: self.paging.clone(),
            owner: self.account.as_deref().cloned(),
            source_networks: self.source_networks.clone(),
        })
    }
}

/// The DAY rule's retention: 1 to 365 days (DRS User Guide, point-in-time: "the retention
/// period for daily snapshots" is configurable, 7 days by default).
pub(super) fn check_retention_days(days: u32) -> Result<(), String> {
    if (1..=365).contains(&days) {
        Ok(())
    } else {
        Err(format!("{days} is not between 1 and 365 days"))
    }
}

pub(super) fn check_seconds(s: f64) -> Result<(), String> {
    if !s.is_finite() || s < 0.0 {
        return Err(format!("{s} is not a non-negative number of seconds"));
    }
    if s > 86_400.0 {
        return Err(format!("{s} is more than a day"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
