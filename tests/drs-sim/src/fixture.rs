//! The fixture: which source servers exist and how each one's launch behaves.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Data replication states DRS reports (`dataReplicationInfo.dataReplicationState`).
pub const REPLICATION_STATES: &[&str] = &[
    "STOPPED",
    "INITIATING",
    "INITIAL_SYNC",
    "BACKLOG",
    "CREATING_SNAPSHOT",
    "CONTINUOUS",
    "PAUSED",
    "RESCAN",
    "STALLED",
    "DISCONNECTED",
];

/// Launch time used when neither the server nor the fixture's `defaults` set one.
pub const DEFAULT_LAUNCH_SECONDS: f64 = 1.0;

/// One source server as a fixture (or `POST /_sim/servers`) describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerSpec {
    /// `s-` followed by 17 letters or digits.
    pub id: String,
    /// Reported as `sourceProperties.identificationHints.hostname`; defaults to the ID.
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `dataReplicationInfo.dataReplicationState`; CONTINUOUS when absent.
    #[serde(default)]
    pub replication_state: Option<String>,
    /// How long this server's launch takes, before the time scale applies.
    #[serde(default)]
    pub launch_seconds: Option<f64>,
    /// When true the server's launch ends FAILED (LAUNCH_FAILED log item, no instance).
    #[serde(default)]
    pub fail_launch: bool,
}

impl ServerSpec {
    /// A server that launches successfully after `launch_seconds`.
    pub fn new(id: impl Into<String>, launch_seconds: f64) -> Self {
        Self {
            id: id.into(),
            hostname: None,
            tags: BTreeMap::new(),
            replication_state: None,
            launch_seconds: Some(launch_seconds),
            fail_launch: false,
        }
    }

    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    pub fn failing(mut self) -> Self {
        self.fail_launch = true;
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureDefaults {
    #[serde(default)]
    pub launch_seconds: Option<f64>,
}

/// The whole fixture file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub defaults: FixtureDefaults,
    #[serde(default)]
    pub servers: Vec<ServerSpec>,
}

/// A source server after validation, with every default applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceServerDef {
    pub id: String,
    pub hostname: String,
    pub tags: BTreeMap<String, String>,
    pub replication_state: String,
    pub launch_seconds: f64,
    pub fail_launch: bool,
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
    #[error("fixture {file}: defaults.launchSeconds: {reason}")]
    InvalidDefaults { file: PathBuf, reason: String },
}

/// True for a well-formed source server ID (`s-` + 17 letters or digits), as the DRS model's
/// pattern says.
pub fn is_source_server_id(id: &str) -> bool {
    id.strip_prefix("s-")
        .is_some_and(|rest| rest.len() == 17 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Fixture {
    /// Reads a YAML or JSON fixture (`.json` is parsed as JSON, anything else as YAML, which
    /// also accepts JSON) and validates it.
    pub fn load(path: &Path) -> Result<Vec<SourceServerDef>, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|error| FixtureError::Read {
            file: path.to_path_buf(),
            error,
        })?;
        let fixture = Self::parse(&text, path)?;
        fixture.validate(path)
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
        let default_launch = match self.defaults.launch_seconds {
            None => DEFAULT_LAUNCH_SECONDS,
            Some(s) => {
                check_seconds(s).map_err(|reason| FixtureError::InvalidDefaults {
                    file: origin.to_path_buf(),
                    reason,
                })?;
                s
            }
        };
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
            let def = resolve(spec, default_launch).map_err(invalid)?;
            if !seen.insert(def.id.clone()) {
                return Err(invalid("duplicate server ID".to_owned()));
            }
            out.push(def);
        }
        Ok(out)
    }
}

/// Validates one server spec and applies defaults. Used for fixtures and for servers added
/// at run time.
pub fn resolve(spec: &ServerSpec, default_launch: f64) -> Result<SourceServerDef, String> {
    if !is_source_server_id(&spec.id) {
        return Err(format!(
            "id {:?} is not a source server ID (expected s- followed by 17 letters or digits)",
            spec.id
        ));
    }
    let replication_state = spec
        .replication_state
        .clone()
        .unwrap_or_else(|| "CONTINUOUS".to_owned());
    if !REPLICATION_STATES.contains(&replication_state.as_str()) {
        return Err(format!(
            "replicationState {replication_state:?} is not one of {}",
            REPLICATION_STATES.join(", ")
        ));
    }
    let launch_seconds = spec.launch_seconds.unwrap_or(default_launch);
    check_seconds(launch_seconds).map_err(|r| format!("launchSeconds: {r}"))?;
    if let Some(hostname) = &spec.hostname
        && hostname.trim().is_empty()
    {
        return Err("hostname is empty".to_owned());
    }
    for key in spec.tags.keys() {
        if key.is_empty() {
            return Err("a tag key is empty".to_owned());
        }
    }
    Ok(SourceServerDef {
        id: spec.id.clone(),
        hostname: spec.hostname.clone().unwrap_or_else(|| spec.id.clone()),
        tags: spec.tags.clone(),
        replication_state,
        launch_seconds,
        fail_launch: spec.fail_launch,
    })
}

fn check_seconds(s: f64) -> Result<(), String> {
    if !s.is_finite() || s < 0.0 {
        return Err(format!("{s} is not a non-negative number of seconds"));
    }
    if s > 86_400.0 {
        return Err(format!("{s} is more than a day"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SourceServerDef>, FixtureError> {
        let origin = Path::new("f.yaml");
        Fixture::parse(text, origin)?.validate(origin)
    }

    #[test]
    fn defaults_apply() {
        let servers = parse(
            "defaults: {launchSeconds: 0.5}\nservers:\n  - id: s-00000000000000001\n    tags: {App: x}\n",
        )
        .expect("valid");
        assert_eq!(servers[0].launch_seconds, 0.5);
        assert_eq!(servers[0].replication_state, "CONTINUOUS");
        assert_eq!(servers[0].hostname, "s-00000000000000001");
        assert!(!servers[0].fail_launch);
    }

    #[test]
    fn bad_id_names_file_and_server() {
        let err = parse("servers:\n  - id: s-123\n").expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("f.yaml") && text.contains("s-123"), "{text}");
    }

    #[test]
    fn duplicates_are_rejected() {
        let err = parse("servers:\n  - id: s-00000000000000001\n  - id: s-00000000000000001\n")
            .expect_err("dup");
        assert!(err.to_string().contains("duplicate"), "{err}");
    }

    #[test]
    fn negative_launch_and_unknown_state_are_rejected() {
        assert!(parse("servers:\n  - id: s-00000000000000001\n    launchSeconds: -1\n").is_err());
        assert!(
            parse("servers:\n  - id: s-00000000000000001\n    replicationState: HAPPY\n").is_err()
        );
        assert!(parse("servers:\n  - id: s-00000000000000001\n    colour: red\n").is_err());
    }

    #[test]
    fn json_fixture_parses() {
        let origin = Path::new("f.json");
        let fixture = Fixture::parse(
            r#"{"servers":[{"id":"s-0000000000000000a","failLaunch":true}]}"#,
            origin,
        )
        .expect("json");
        let servers = fixture.validate(origin).expect("valid");
        assert!(servers[0].fail_launch);
    }

    #[test]
    fn shipped_examples_fixture_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/examples.yaml");
        let servers = Fixture::load(&path).expect("examples fixture");
        assert_eq!(servers.len(), 12);
        assert!(
            servers
                .iter()
                .all(|s| (2.0..=5.0).contains(&s.launch_seconds))
        );
    }
}
