//! Everything drs-codegen checks in under `statemachines/`, rendered in memory: each example
//! plan's machine and runbook, the JSON Schemas, `contract.json`, and the generated fleet plan.
//! `drs-codegen regenerate` writes them; a test fails when a checked-in file differs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::contract::{self, Activity, ErrorName, ExecutionInput, history, job_tags};
use crate::generate::ActivityResources;
use crate::plan::{PlanError, PlanFile};

/// The `statemachines/` directory of this workspace (where `cargo run` finds it).
pub fn default_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("statemachines");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// The command that brings checked-in files up to date.
pub const REGENERATE_COMMAND: &str = "cargo run -p drs-codegen -- regenerate";

pub const PLAN_SUFFIX: &str = ".plan.yaml";
pub const ASL_SUFFIX: &str = ".asl.json";
pub const RUNBOOK_SUFFIX: &str = ".runbook.md";
pub const FLEET_PLAN: &str = "fleet.plan.yaml";
pub const PLAN_SCHEMA: &str = "schemas/plan.schema.json";
pub const INPUT_SCHEMA: &str = "schemas/input.schema.json";
pub const CONTRACT_JSON: &str = "contract.json";

/// One generated file, relative to the `statemachines/` directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    pub content: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(
        "{file}: the plan is named {name:?}; an example plan's file must be named {name}{PLAN_SUFFIX}"
    )]
    NameMismatch { file: String, name: String },
    #[error("{file}: {message}")]
    Runbook { file: String, message: String },
}

impl ArtifactError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ArtifactError::Plan(e) => e.exit_code(),
            ArtifactError::NameMismatch { .. } => 2,
            ArtifactError::Io { .. } | ArtifactError::Runbook { .. } => 1,
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn pretty(value: &impl serde::Serialize) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}

/// JSON Schema of the plan file.
pub fn plan_schema() -> String {
    pretty(&schemars::schema_for!(PlanFile))
}

/// JSON Schema of the execution input.
pub fn input_schema() -> String {
    pretty(&schemars::schema_for!(ExecutionInput))
}

/// `contract.json`: what the CDK app needs from the contract.
pub fn contract_json() -> String {
    let activities: Vec<_> = Activity::ALL
        .into_iter()
        .map(|a| json!({"name": a.name(), "placeholder": a.placeholder()}))
        .collect();
    let errors: Vec<_> = ErrorName::ALL
        .into_iter()
        .map(|e| json!({"name": e.as_str(), "retryable": e.retryable()}))
        .collect();
    pretty(&json!({
        "contractVersion": contract::CONTRACT_VERSION,
        "activityPrefix": contract::DEFAULT_ACTIVITY_PREFIX,
        "activities": activities,
        "errors": errors,
        "historyTable": {
            "defaultName": contract::DEFAULT_HISTORY_TABLE,
            "partitionKey": history::PARTITION_KEY,
            "sortKey": history::SORT_KEY,
            "indexes": [
                {"name": history::STATUS_INDEX, "partitionKey": history::STATUS_INDEX_PARTITION_KEY, "sortKey": history::STATUS_INDEX_SORT_KEY},
                {"name": history::PLAN_INDEX, "partitionKey": history::PLAN_INDEX_PARTITION_KEY, "sortKey": history::PLAN_INDEX_SORT_KEY},
            ],
            // How an execution's items are keyed, for tools that read the table (the bench).
            "keys": {
                "executionPartitionKeyPrefix": history::EXECUTION_PK_PREFIX,
                "waveSortKeyPrefix": history::WAVE_SK_PREFIX,
                "waveIndexDigits": history::WAVE_INDEX_DIGITS,
            },
        },
        // How the generated states are named: "<wavePrefix><index> <wave name><stepSeparator><step>".
        "stateNames": {
            "wavePrefix": contract::states::WAVE_PREFIX,
            "stepSeparator": contract::states::STEP_SEPARATOR,
            "waveSteps": contract::states::WaveStep::ALL.map(|s| s.suffix()),
        },
        "jobTags": {
            "execution": job_tags::EXECUTION,
            "wave": job_tags::WAVE,
            "chunk": job_tags::CHUNK,
            "plan": job_tags::PLAN,
            "networkOf": job_tags::NETWORK_OF,
            "action": job_tags::ACTION,
        },
    }))
}

/// Waves and servers of the large example plan.
pub const FLEET_WAVES: u32 = 20;
pub const FLEET_SERVERS_PER_WAVE: u32 = 50;

/// The large example plan: 20 waves of 50 servers with production-like timings. Generated so
/// that its 1,000 IDs follow one pattern: `s-c` + 4-digit wave + 12-digit server number.
pub fn fleet_plan_yaml() -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `{REGENERATE_COMMAND}` (drs_codegen::artifacts::fleet_plan_yaml): do not edit."
    );
    out.push_str(
        "# A large plan: 20 waves x 50 servers = 1,000 servers, with production-like timings (a DRS\n\
         # launch takes 5 to 20 minutes). It shows the size of the generated machine and stays within\n\
         # Step Functions' limits (1 MB definition, 25,000 history events, 256 KB state).\n",
    );
    out.push_str("name: fleet\n");
    out.push_str("description: Fleet-wide recovery, 20 waves of 50 servers\n");
    out.push_str("terminateDrillInstances: true\n");
    out.push_str("defaults:\n  launchTimeoutMinutes: 45\n  onFailure: stop\n");
    out.push_str(
        "  polling: {minWaitSeconds: 30, maxWaitSeconds: 300, expectedLaunchSeconds: 900}\n",
    );
    out.push_str("tasks: {heartbeatSeconds: 60}\n");
    out.push_str("waves:\n");
    let mut server = 0u64;
    for wave in 1..=FLEET_WAVES {
        let _ = writeln!(out, "  - name: wave-{wave:02}");
        out.push_str("    servers:\n      ids:\n");
        for _ in 0..FLEET_SERVERS_PER_WAVE {
            server += 1;
            let _ = writeln!(out, "        - s-c{wave:04}{server:012}");
        }
    }
    out
}

/// Every artifact, rendered from the plans in `dir` (the fleet plan from code).
pub fn render_all(dir: &Path) -> Result<Vec<Artifact>, ArtifactError> {
    let mut out = vec![Artifact {
        path: FLEET_PLAN.into(),
        content: fleet_plan_yaml(),
    }];
    for (stem, file, text) in plan_sources(dir, &out[0].content)? {
        let compiled = crate::compile_str(&file, &text, &ActivityResources::Placeholders)?;
        if compiled.plan.spec.name != stem {
            return Err(ArtifactError::NameMismatch {
                file,
                name: compiled.plan.spec.name,
            });
        }
        let runbook =
            crate::runbook::render(&compiled.plan).map_err(|e| ArtifactError::Runbook {
                file: file.clone(),
                message: e.to_string(),
            })?;
        out.push(Artifact {
            path: format!("{stem}{ASL_SUFFIX}").into(),
            content: compiled.definition,
        });
        out.push(Artifact {
            path: format!("{stem}{RUNBOOK_SUFFIX}").into(),
            content: runbook,
        });
    }
    out.push(Artifact {
        path: PLAN_SCHEMA.into(),
        content: plan_schema(),
    });
    out.push(Artifact {
        path: INPUT_SCHEMA.into(),
        content: input_schema(),
    });
    out.push(Artifact {
        path: CONTRACT_JSON.into(),
        content: contract_json(),
    });
    Ok(out)
}

/// (stem, display path, text) of every `*.plan.yaml` in `dir`, sorted; the fleet plan is the
/// generated text, whether or not its file exists yet.
fn plan_sources(dir: &Path, fleet: &str) -> Result<Vec<(String, String, String)>, ArtifactError> {
    let mut stems = vec![FLEET_PLAN.trim_end_matches(PLAN_SUFFIX).to_owned()];
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let name = entry
            .map_err(io_error(dir))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(stem) = name.strip_suffix(PLAN_SUFFIX)
            && name != FLEET_PLAN
        {
            stems.push(stem.to_owned());
        }
    }
    stems.sort();
    stems
        .into_iter()
        .map(|stem| {
            let path = dir.join(format!("{stem}{PLAN_SUFFIX}"));
            let text = if format!("{stem}{PLAN_SUFFIX}") == FLEET_PLAN {
                fleet.to_owned()
            } else {
                std::fs::read_to_string(&path).map_err(io_error(&path))?
            };
            Ok((stem, path.display().to_string(), text))
        })
        .collect()
}

/// Generated files in `dir` that no plan produces any more (a plan was renamed or removed).
fn orphans(dir: &Path, artifacts: &[Artifact]) -> Result<Vec<PathBuf>, ArtifactError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let name = PathBuf::from(entry.map_err(io_error(dir))?.file_name());
        let generated = name
            .to_str()
            .is_some_and(|n| n.ends_with(ASL_SUFFIX) || n.ends_with(RUNBOOK_SUFFIX));
        if generated && !artifacts.iter().any(|a| a.path == name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// What differs between the rendered artifacts and `dir`: one line per file.
pub fn stale(dir: &Path) -> Result<Vec<String>, ArtifactError> {
    let artifacts = render_all(dir)?;
    let mut out = Vec::new();
    for a in &artifacts {
        match std::fs::read_to_string(dir.join(&a.path)) {
            Ok(current) if current == a.content => {}
            Ok(_) => out.push(format!("{} is out of date", a.path.display())),
            Err(_) => out.push(format!("{} is missing", a.path.display())),
        }
    }
    for o in orphans(dir, &artifacts)? {
        out.push(format!("{} has no plan", o.display()));
    }
    Ok(out)
}

/// Writes every artifact that differs (atomically) and removes orphans; returns what changed.
pub fn write_all(dir: &Path) -> Result<Vec<String>, ArtifactError> {
    let artifacts = render_all(dir)?;
    let mut changed = Vec::new();
    for a in &artifacts {
        let path = dir.join(&a.path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(a.content.as_str()) {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io_error(parent))?;
            }
            write_atomic(&path, a.content.as_bytes())?;
            changed.push(format!("wrote {}", a.path.display()));
        }
    }
    for o in orphans(dir, &artifacts)? {
        let path = dir.join(&o);
        std::fs::remove_file(&path).map_err(io_error(&path))?;
        changed.push(format!("removed {}", o.display()));
    }
    Ok(changed)
}

/// Writes a file through a temporary file in the same directory and a rename, so a failure
/// leaves either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), ArtifactError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_error(&dir))?;
    tmp.write_all(content).map_err(io_error(path))?;
    // A temporary file is private (0600); the result should look like any other file here.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0o644);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_error(path))?;
    }
    tmp.as_file().sync_all().map_err(io_error(path))?;
    tmp.persist(path).map_err(|e| ArtifactError::Io {
        path: path.display().to_string(),
        source: e.error,
    })?;
    Ok(())
}
