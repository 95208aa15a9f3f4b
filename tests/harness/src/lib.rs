//! drs-test-harness: starts and stops the pieces of the local stack for tests, on free
//! loopback ports, and builds SDK clients for them.
//!
//! - [`free_port`], [`wait_for_port`], [`wait_for_http`]: ports and readiness with a deadline.
//! - [`ChildGuard`]: a child process stopped by PID when dropped (SIGTERM, a bounded wait,
//!   then SIGKILL of the same PID), so a failing test leaves nothing running.
//! - [`Moto`]: moto's server (DynamoDB) from the project's venv (`scripts/bootstrap.sh`).
//! - [`sdk_config`] and the client builders: a local endpoint, test credentials, fast retries.
//! - drs-sim is re-exported as [`drs_sim`]; start it in-process with `drs_sim::Simulator::start`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use drs_sim;

/// The repository root (this crate lives at `<root>/tests/harness`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A port free on 127.0.0.1 right now (the OS picks it; another process could still take it
/// before the caller binds it, so starters retry).
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A name no other test of this process (or a recent one) uses: for tables, executions, plans.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos:09}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until something accepts TCP connections at `addr`.
pub async fn wait_for_port(addr: SocketAddr, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                bail!("nothing listens on {addr} after {timeout:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until `url` (plain `http://host:port/path`) answers any HTTP status; returns it.
pub async fn wait_for_http(url: &str, timeout: Duration) -> Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.to_string();
    let path = path.to_string();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let a = authority.clone();
        let p = path.clone();
        let attempt = tokio::task::spawn_blocking(move || http_status(&a, &p)).await?;
        match attempt {
            Ok(status) => return Ok(status),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                bail!("{url} did not answer within {timeout:?}: {e:#}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn http_status(authority: &str, path: &str) -> Result<u16> {
    let addr: SocketAddr = authority
        .parse()
        .with_context(|| format!("{authority} is not IP:PORT"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP answer: {line:?}"))
}

/// A child process that is stopped, by its PID, when the guard is dropped.
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    log: Option<PathBuf>,
}

/// How long a dropped guard waits after SIGTERM before SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

impl ChildGuard {
    /// Spawns `command`; `name` is for messages.
    pub fn spawn(name: &str, command: &mut Command) -> Result<Self> {
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        Ok(ChildGuard {
            name: name.to_string(),
            child: Some(child),
            log: None,
        })
    }

    /// Spawns `command` with stdout and stderr appended to `log` (stdin closed).
    pub fn spawn_logged(name: &str, command: &mut Command, log: &Path) -> Result<Self> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let mut guard = Self::spawn(name, command)?;
        guard.log = Some(log.to_path_buf());
        Ok(guard)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where its output goes, if [`ChildGuard::spawn_logged`] started it.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The last `max` bytes of its log (for failure messages).
    pub fn log_tail(&self, max: usize) -> String {
        let Some(path) = &self.log else {
            return String::new();
        };
        let text = std::fs::read(path).unwrap_or_default();
        let start = text.len().saturating_sub(max);
        String::from_utf8_lossy(&text[start..]).into_owned()
    }

    /// Exited already? (Reaps it if so.)
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`, ...) to its PID.
    pub fn signal(&self, signal: &str) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{} is already stopped", self.name))?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("running kill")?;
        if !status.success() && self.child.is_some() {
            bail!("kill -{signal} {pid} ({}) failed", self.name);
        }
        Ok(())
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL the same PID. Returns how it exited.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        self.child = Some(child);
        let _ = self.signal("TERM");
        if let Some(status) = self.wait_timeout(grace) {
            self.child = None;
            return Some(status);
        }
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }

    /// SIGKILL now (an abrupt crash), and reap it.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop(DEFAULT_STOP_GRACE);
    }
}

/// The Python interpreter of the project's venv: `$DRS_WAVES_VENV/bin/python`, the venv
/// defaulting to `<repo>/.venv`. A missing venv is an error naming the command that makes it.
pub fn venv_python() -> Result<PathBuf> {
    let venv = std::env::var_os("DRS_WAVES_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    python_in_venv(&venv)
}

/// `<venv>/bin/python`, or an error naming the command that makes the venv.
pub fn python_in_venv(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin").join("python");
    if !python.exists() {
        bail!(
            "{} does not exist: the tests need the project's Python venv (moto). Create it with \
             `scripts/bootstrap.sh` (or point DRS_WAVES_VENV at an existing one)",
            python.display()
        );
    }
    Ok(python)
}

/// moto's server, serving DynamoDB (and the other moto services) on a free loopback port.
pub struct Moto {
    guard: ChildGuard,
    port: u16,
}

impl Moto {
    /// Starts `python -m moto.server` from the venv and waits until it answers.
    pub async fn start() -> Result<Self> {
        let python = venv_python()?;
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_port()?;
            let log = std::env::temp_dir().join(format!("drs-waves-moto-{port}.log"));
            let _ = std::fs::remove_file(&log);
            let mut cmd = Command::new(&python);
            cmd.args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ]);
            let mut guard = ChildGuard::spawn_logged("moto", &mut cmd, &log)?;
            match wait_for_http(
                &format!("http://127.0.0.1:{port}/moto-api/"),
                Duration::from_secs(60),
            )
            .await
            {
                Ok(_) => return Ok(Moto { guard, port }),
                Err(e) => {
                    let tail = guard.log_tail(2000);
                    guard.stop(Duration::from_secs(2));
                    last_error = Some(anyhow!("moto did not start on port {port}: {e:#}\n{tail}"));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("moto did not start")))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.guard.pid()
    }
}

pub const TEST_REGION: &str = "us-east-1";

/// An SDK configuration for a local endpoint: test credentials, `us-east-1`, and retries with
/// a short backoff (tests run against simulators that throttle on purpose).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(TEST_REGION))
        .test_credentials()
        .endpoint_url(endpoint)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(70))
                .build(),
        )
        .load()
        .await
}

pub async fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(endpoint).await)
}

pub async fn drs_client(endpoint: &str) -> aws_sdk_drs::Client {
    aws_sdk_drs::Client::new(&sdk_config(endpoint).await)
}

/// Step Functions with a read timeout above GetActivityTask's 60 s hold.
pub async fn sfn_client(endpoint: &str) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::new(&sdk_config(endpoint).await)
}

/// Polls `check` until it returns `Some`, every `every`, failing after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{what}: not true after {timeout:?}");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_stops_its_process_by_pid() {
        let guard = ChildGuard::spawn("sleep", Command::new("sleep").arg("300")).expect("spawn");
        let pid = guard.pid().expect("pid");
        drop(guard);
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .expect("kill -0");
        assert!(!alive.success(), "process {pid} still running");
    }

    #[test]
    fn stop_escalates_to_sigkill_when_sigterm_is_ignored() {
        let mut guard = ChildGuard::spawn(
            "trap",
            Command::new("sh").args(["-c", "trap '' TERM; sleep 300 & wait"]),
        )
        .expect("spawn");
        std::thread::sleep(Duration::from_millis(100));
        let status = guard.stop(Duration::from_millis(300)).expect("stopped");
        assert!(!status.success());
    }

    #[tokio::test]
    async fn waiting_for_a_closed_port_fails_with_a_deadline() {
        let port = free_port().expect("port");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let err = wait_for_port(addr, Duration::from_millis(200))
            .await
            .expect_err("closed");
        assert!(err.to_string().contains(&port.to_string()));
    }

    #[tokio::test]
    async fn wait_for_http_reads_the_status() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n").await;
            }
        });
        let status = wait_for_http(&format!("http://{addr}/x"), Duration::from_secs(5))
            .await
            .expect("answer");
        assert_eq!(status, 404);
    }

    #[test]
    fn a_missing_venv_names_the_bootstrap_command() {
        let err = python_in_venv(Path::new("/nonexistent/drs-waves-venv")).expect_err("missing");
        assert!(err.to_string().contains("scripts/bootstrap.sh"), "{err}");
        assert!(
            err.to_string()
                .contains("/nonexistent/drs-waves-venv/bin/python"),
            "{err}"
        );
    }
}
