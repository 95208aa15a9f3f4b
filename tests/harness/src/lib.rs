//! drs-test-harness: starts and stops the pieces of the local stack for tests, on free
//! loopback ports, and builds SDK clients for them.
//!
//! - [`free_port`], [`wait_for_port`], [`wait_for_http`]: ports and readiness with a deadline.
//! - [`ChildGuard`]: a child process in a process group of its own, its output on `/dev/null`
//!   or a log file (never the test runner's), stopped with its whole group when dropped
//!   (SIGTERM, a bounded wait, then SIGKILL), so a failing test leaves nothing running.
//! - [`process_running`], [`wait_until_gone`]: whether a PID still runs, with a deadline.
//! - [`Moto`]: moto's server (DynamoDB) from the project's venv (`scripts/bootstrap.sh`).
//! - [`sdk_config`] and the client builders: a local endpoint, test credentials, fast retries.
//! - drs-sim is re-exported as [`drs_sim`]; start it in-process with `drs_sim::Simulator::start`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
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
    // One write of the whole request: a server that answers after its first read and closes
    // must not meet the rest of the request (a broken pipe on a loaded machine).
    let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP answer: {line:?}"))
}

/// A child process, in a process group of its own, that is stopped with that whole group when
/// the guard is dropped.
///
/// The child never shares the test runner's stdin, stdout or stderr: [`ChildGuard::spawn`]
/// gives it `/dev/null`, [`ChildGuard::spawn_logged`] a log file. A descendant left running
/// with the runner's stdout would hold the pipe of `cargo test | tee` open, and `tee` (so the
/// test command) would wait for it.
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    /// The group's ID: the child's PID (`process_group(0)`).
    pgid: u32,
    /// Whether the child (the group leader) has been reaped: until then its PID, so the
    /// group's ID, cannot be given to another process.
    reaped: bool,
    log: Option<PathBuf>,
}

/// How long a dropped guard waits after SIGTERM before SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

/// How long to wait for a SIGKILLed group to be gone (SIGKILL cannot be ignored; a process in
/// uninterruptible sleep can delay it).
const KILL_WAIT: Duration = Duration::from_secs(5);

impl ChildGuard {
    /// Spawns `command` in a process group of its own, with stdin, stdout and stderr on
    /// `/dev/null` (use [`ChildGuard::spawn_logged`] to keep its output); `name` is for messages.
    pub fn spawn(name: &str, command: &mut Command) -> Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Self::spawn_in_group(name, command, None)
    }

    /// Spawns `command` in a process group of its own, with stdout and stderr appended to
    /// `log` (stdin on `/dev/null`).
    pub fn spawn_logged(name: &str, command: &mut Command, log: &Path) -> Result<Self> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        Self::spawn_in_group(name, command, Some(log.to_path_buf()))
    }

    fn spawn_in_group(name: &str, command: &mut Command, log: Option<PathBuf>) -> Result<Self> {
        // Its own group: stop() and kill() signal the group, so whatever it forked goes too.
        command.process_group(0);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        Ok(ChildGuard {
            name: name.to_string(),
            pgid: child.id(),
            child: Some(child),
            reaped: false,
            log,
        })
    }

    /// The child's PID (also its process group's ID), while the guard still owns it.
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

    /// Exited already? (Reaps it if so; processes it started may still run, see
    /// [`ChildGuard::stop`].)
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if status.is_some() {
            self.reaped = true;
        }
        status
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`, ...) to its PID only (not to its group).
    pub fn signal(&self, signal: &str) -> Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{} is already stopped", self.name))?;
        if !send_signal(signal, &pid.to_string())? && self.child.is_some() {
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

    /// Stops the child and everything in its process group: SIGTERM to the group, a wait of up
    /// to `grace` for the group to be empty, then SIGKILL to the group. Returns how the child
    /// exited (None if the guard had stopped it before).
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.child.as_ref()?;
        self.signal_group("TERM");
        let deadline = Instant::now() + grace;
        while self.group_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill()
    }

    /// SIGKILL to its process group now (an abrupt crash), and reap it. Returns how the child
    /// exited (None if the guard had stopped it before).
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.child.as_ref()?;
        if self.group_running() {
            self.signal_group("KILL");
            let deadline = Instant::now() + KILL_WAIT;
            while self.group_running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let mut child = self.child.take()?;
        self.reaped = true;
        child.wait().ok()
    }

    /// Whether a process of its group, the child included, still runs (zombies do not count).
    fn group_running(&self) -> bool {
        // The leader, not yet reaped, is the cheap check; the scan of /proc only once it is gone.
        (!self.reaped && process_running(self.pgid)) || group_members(self.pgid).next().is_some()
    }

    /// Signals the whole group. Once the child has been reaped, only while the group still has
    /// members: an empty group's ID may belong to another process by now.
    fn signal_group(&self, signal: &str) {
        if self.reaped && !self.group_running() {
            return;
        }
        let _ = send_signal(signal, &format!("-{}", self.pgid));
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop(DEFAULT_STOP_GRACE);
    }
}

/// `kill -SIGNAL -- TARGET` (`TARGET` a PID, or `-PGID` for a group); whether it succeeded.
/// kill(1) rather than kill(2): the workspace forbids unsafe code.
fn send_signal(signal: &str, target: &str) -> Result<bool> {
    Ok(Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running kill")?
        .success())
}

/// The state (`R`, `S`, `Z`, ...) and process group of `pid`, from `/proc/PID/stat`.
fn proc_state_and_group(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// Whether `pid` is a running process (a zombie, which has exited, is not).
pub fn process_running(pid: u32) -> bool {
    matches!(proc_state_and_group(pid), Some((state, _)) if state != 'Z')
}

/// The running processes (not zombies) of process group `pgid`.
fn group_members(pgid: u32) -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(move |&pid| {
            matches!(proc_state_and_group(pid), Some((state, group)) if group == pgid && state != 'Z')
        })
}

/// Waits up to `timeout` for `pid` to be gone (or a zombie); whether it is.
pub fn wait_until_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !process_running(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
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
    use std::os::unix::process::ExitStatusExt;

    /// A `sh -c SCRIPT` guard whose script writes a PID to the file `$F`; returns the guard
    /// and that PID, read with a deadline.
    fn spawn_writing_pid(script: &str) -> (ChildGuard, u32) {
        let file = std::env::temp_dir().join(unique_name("drs-harness-pid"));
        let guard = ChildGuard::spawn(
            "sh",
            Command::new("sh").args(["-c", script]).env("F", &file),
        )
        .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.ends_with('\n') {
                break text.trim().parse::<u32>().expect("a PID");
            }
            assert!(
                Instant::now() < deadline,
                "{script}: no PID in {}",
                file.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let _ = std::fs::remove_file(&file);
        (guard, pid)
    }

    #[test]
    fn a_dropped_guard_stops_its_process_by_pid() {
        let guard = ChildGuard::spawn("sleep", Command::new("sleep").arg("300")).expect("spawn");
        let pid = guard.pid().expect("pid");
        assert!(process_running(pid));
        drop(guard);
        assert!(!process_running(pid), "process {pid} still running");
    }

    #[test]
    fn stop_escalates_to_sigkill_when_sigterm_is_ignored_and_leaves_no_grandchild() {
        // The grandchild inherits the ignored SIGTERM: only SIGKILL to the group stops it.
        let (mut guard, grandchild) =
            spawn_writing_pid("trap '' TERM; sleep 300 & echo $! > \"$F\"; wait");
        let child = guard.pid().expect("pid");
        let started = Instant::now();
        let status = guard.stop(Duration::from_millis(300)).expect("stopped");
        assert_eq!(status.signal(), Some(9), "{status:?}: not SIGKILLed");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(!process_running(child), "child {child} still running");
        assert!(
            wait_until_gone(grandchild, Duration::from_secs(5)),
            "grandchild {grandchild} (sleep 300) still running after stop"
        );
    }

    #[test]
    fn a_dropped_guard_stops_what_its_child_left_behind() {
        // The child dies of SIGTERM at once; its child ignores SIGTERM and stays in the group.
        let (mut guard, grandchild) =
            spawn_writing_pid("(trap '' TERM; exec sleep 300) & echo $! > \"$F\"; wait");
        let status = guard.stop(Duration::from_millis(300)).expect("stopped");
        assert_eq!(
            status.signal(),
            Some(15),
            "{status:?}: the child ignored SIGTERM?"
        );
        assert!(
            wait_until_gone(grandchild, Duration::from_secs(5)),
            "grandchild {grandchild} (sleep 300) still running after stop"
        );
    }

    #[test]
    fn kill_stops_the_whole_group() {
        let (mut guard, grandchild) = spawn_writing_pid("sleep 300 & echo $! > \"$F\"; wait");
        let status = guard.kill().expect("killed");
        assert_eq!(status.signal(), Some(9), "{status:?}");
        assert!(
            wait_until_gone(grandchild, Duration::from_secs(5)),
            "grandchild {grandchild} still running after kill"
        );
        assert!(guard.kill().is_none() && guard.stop(Duration::ZERO).is_none());
    }

    #[test]
    fn children_lead_their_own_group_and_never_get_the_runners_output() {
        let guard = ChildGuard::spawn("sleep", Command::new("sleep").arg("300")).expect("spawn");
        let pid = guard.pid().expect("pid");
        assert_eq!(proc_state_and_group(pid).map(|(_, g)| g), Some(pid));
        for fd in 0..3 {
            let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("fd");
            assert_eq!(target, Path::new("/dev/null"), "fd {fd}");
        }
        drop(guard);

        let log = std::env::temp_dir().join(format!("{}.log", unique_name("drs-harness")));
        let guard = ChildGuard::spawn_logged("sleep", Command::new("sleep").arg("300"), &log)
            .expect("spawn");
        let pid = guard.pid().expect("pid");
        let log = log.canonicalize().expect("log");
        assert_eq!(proc_state_and_group(pid).map(|(_, g)| g), Some(pid));
        let fd = |n: u32| std::fs::read_link(format!("/proc/{pid}/fd/{n}")).expect("fd");
        assert_eq!(fd(0), Path::new("/dev/null"));
        assert_eq!(fd(1), log);
        assert_eq!(fd(2), log);
        drop(guard);
        let _ = std::fs::remove_file(&log);
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
                // The whole request head, then the answer: as an HTTP server does.
                let mut head = Vec::new();
                let mut buf = [0u8; 256];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
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
