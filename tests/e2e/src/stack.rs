//! The services every test shares and the binaries the tests run: LocalStack and moto, found
//! from `scripts/test.sh`'s env file or started privately (with a watchdog that stops them when
//! the test process exits), and the `drs-worker` and `drs-waves` binaries beside the test
//! binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, anyhow, bail};
use drs_test_harness::{repo_root, unique_name};

/// Endpoints of the services every test shares.
#[derive(Clone, Debug)]
pub struct SharedStack {
    pub sfn_endpoint: String,
    pub dynamodb_endpoint: String,
    /// LocalStack's S3 (the report bucket).
    pub s3_endpoint: String,
}

static SHARED: OnceLock<std::result::Result<SharedStack, String>> = OnceLock::new();
/// Held for the life of the process: when the process exits, the watchdog reads EOF and stops
/// the private stack by PID.
static WATCHDOG: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// The shared LocalStack and moto, started on first use.
pub fn shared_stack() -> Result<SharedStack> {
    SHARED
        .get_or_init(|| start_or_find_stack().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("the local stack is not available: {e}"))
}

fn start_or_find_stack() -> Result<SharedStack> {
    if let Some(env_file) = std::env::var_os("DRS_WAVES_E2E_STACK_ENV") {
        return read_stack_env(Path::new(&env_file));
    }
    let root = repo_root();
    let dir = std::env::temp_dir().join(unique_name("drs-waves-e2e-stack"));
    std::fs::create_dir_all(&dir)?;
    let script = root.join("scripts/local-stack.sh");
    // The watchdog first, so that even a stack that half-started is stopped.
    let mut watchdog = Command::new("bash")
        .arg("-c")
        .arg("read -r _ || true; exec \"$0\" down >/dev/null 2>&1")
        .arg(&script)
        .env("DRS_WAVES_STACK_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the local stack's watchdog")?;
    if let Ok(mut slot) = WATCHDOG.lock() {
        *slot = watchdog.stdin.take();
    }
    let output = Command::new("bash")
        .arg(&script)
        .arg("up")
        .env("DRS_WAVES_STACK_DIR", &dir)
        .env("DRS_WAVES_SFN_PORT", "0")
        .env("DRS_WAVES_DDB_PORT", "0")
        .env("DRS_WAVES_DRS_PORT", "0")
        .env("DRS_WAVES_NO_BUILD", "1")
        .output()
        .context("running scripts/local-stack.sh up")?;
    if !output.status.success() {
        bail!(
            "scripts/local-stack.sh up failed ({}); run scripts/bootstrap.sh first:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    read_stack_env(&dir.join("env"))
}

/// Reads the endpoints from an env file written by `scripts/local-stack.sh up`.
fn read_stack_env(path: &Path) -> Result<SharedStack> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the local stack's env file {}", path.display()))?;
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ");
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(
                k.trim().to_owned(),
                v.trim().trim_matches(['"', '\'']).to_owned(),
            );
        }
    }
    let get = |k: &str| {
        vars.get(k)
            .cloned()
            .ok_or_else(|| anyhow!("{} has no {k}", path.display()))
    };
    Ok(SharedStack {
        sfn_endpoint: get("AWS_ENDPOINT_URL_SFN")?,
        dynamodb_endpoint: get("AWS_ENDPOINT_URL_DYNAMODB")?,
        s3_endpoint: get("AWS_ENDPOINT_URL_S3")?,
    })
}

/// The `drs-worker` binary built beside the test binary (`target/debug/drs-worker`).
pub fn worker_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/debug/deps/<test binary> -> target/debug/drs-worker
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("cannot place the test binary {}", exe.display()))?;
    let bin = dir.join("drs-worker");
    if !bin.exists() {
        bail!(
            "{} does not exist: build it first with `cargo build -p drs-worker` (scripts/test.sh does)",
            bin.display()
        );
    }
    Ok(bin)
}

/// The `drs-waves` operator CLI built beside the test binary (`target/debug/drs-waves`); run
/// it with [`Deployment::cli_env`] (or [`Deployment::cli_command`]).
pub fn drs_waves_cli_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("cannot place the test binary {}", exe.display()))?;
    let bin = dir.join("drs-waves");
    if !bin.exists() {
        bail!(
            "{} does not exist: build it first with `cargo build -p drs-waves-cli` (scripts/test.sh does)",
            bin.display()
        );
    }
    Ok(bin)
}
