//! `drs-worker health`: whether this worker still polls Step Functions.
//!
//! A worker can run and never poll: its role lost `states:GetActivityTask` after an IAM
//! change, or egress to Step Functions is blocked. Then every task waits for nobody, and
//! Step Functions' activity metrics say nothing until a worker takes a task. The runtime notes
//! the time of each GetActivityTask that answered (a task or an empty poll); the worker serves
//! that age on a loopback port, and `drs-worker health` (the container's health check: the
//! task's root file system is read-only, so the state is served, not written to a file)
//! asks for it and exits non-zero when it is too old, so ECS replaces a hung worker.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The loopback port the worker serves its health on unless configured.
pub const DEFAULT_HEALTH_PORT: u16 = 8787;

/// How old the last answered poll may be before the worker is unhealthy: an empty
/// GetActivityTask holds up to 60 s, so with every poll open a healthy worker still notes one
/// at least once a minute.
pub const DEFAULT_MAX_POLL_AGE_SECONDS: u64 = 180;

/// When the last GetActivityTask answered.
#[derive(Debug)]
pub struct PollHealth {
    started: Instant,
    /// Milliseconds after `started`; `u64::MAX` before the first answered poll.
    last_ok_ms: AtomicU64,
}

impl Default for PollHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl PollHealth {
    pub fn new() -> Self {
        PollHealth {
            started: Instant::now(),
            last_ok_ms: AtomicU64::new(u64::MAX),
        }
    }

    pub fn poll_succeeded(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_ok_ms.store(ms, Ordering::Relaxed);
    }

    /// Seconds since the last answered poll, or since the worker started when none has (a
    /// worker gets its start-up time to make its first poll).
    pub fn poll_age_seconds(&self) -> u64 {
        let now = self.started.elapsed();
        match self.last_ok_ms.load(Ordering::Relaxed) {
            u64::MAX => now.as_secs(),
            ms => now.saturating_sub(Duration::from_millis(ms)).as_secs(),
        }
    }

    /// The one line served to `drs-worker health`.
    pub fn report(&self) -> String {
        let polled = self.last_ok_ms.load(Ordering::Relaxed) != u64::MAX;
        format!(
            "{{\"lastPollAgeSeconds\":{},\"polledYet\":{polled}}}\n",
            self.poll_age_seconds()
        )
    }
}

/// Serves [`PollHealth::report`] to each connection on 127.0.0.1:`port` until shutdown. Only
/// loopback: the health is for the container's own check, not the network.
pub async fn serve(
    port: u16,
    health: std::sync::Arc<PollHealth>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = listener.accept() => a,
            };
            match accepted {
                Ok((mut stream, _)) => {
                    let line = health.report();
                    if let Err(e) = stream.write_all(line.as_bytes()).await {
                        debug!(error = %e, "health client went away");
                    }
                }
                Err(e) => warn!(error = %e, "health port: accept failed"),
            }
        }
    });
    Ok(addr)
}

/// What `drs-worker health` concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Healthy { poll_age_seconds: u64 },
    Unhealthy(String),
}

/// Asks the worker on 127.0.0.1:`port` for its poll age.
pub async fn check(port: u16, max_age_seconds: u64, timeout: Duration) -> Verdict {
    let asked = tokio::time::timeout(timeout, ask(port)).await;
    let line = match asked {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            return Verdict::Unhealthy(format!(
                "no worker answers on 127.0.0.1:{port} ({e}): it is not running or not serving its health"
            ));
        }
        Err(_) => {
            return Verdict::Unhealthy(format!(
                "the worker on 127.0.0.1:{port} did not answer within {} s",
                timeout.as_secs()
            ));
        }
    };
    let age = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| {
            v.get("lastPollAgeSeconds")
                .and_then(serde_json::Value::as_u64)
        });
    match age {
        Some(age) if age <= max_age_seconds => Verdict::Healthy {
            poll_age_seconds: age,
        },
        Some(age) => Verdict::Unhealthy(format!(
            "no GetActivityTask has answered for {age} s (more than {max_age_seconds} s): check the worker's \
             log for AccessDenied or network errors to Step Functions"
        )),
        None => Verdict::Unhealthy(format!(
            "the worker's health answer is not understood: {line:?}"
        )),
    }
}

async fn ask(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    let mut line = String::new();
    stream.read_to_string(&mut line).await?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_worker_that_polled_recently_is_healthy() {
        let health = Arc::new(PollHealth::new());
        health.poll_succeeded();
        let shutdown = CancellationToken::new();
        let addr = serve(0, health, shutdown.clone()).await.expect("serve");
        let verdict = check(addr.port(), 180, Duration::from_secs(5)).await;
        assert_eq!(
            verdict,
            Verdict::Healthy {
                poll_age_seconds: 0
            }
        );
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_worker_whose_last_poll_is_too_old_is_unhealthy_and_says_why() {
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(400))
            .expect("the machine has been up for 400 s");
        let health = Arc::new(PollHealth {
            started: long_ago,
            last_ok_ms: AtomicU64::new(0),
        });
        let shutdown = CancellationToken::new();
        let addr = serve(0, health, shutdown.clone()).await.expect("serve");
        match check(addr.port(), 180, Duration::from_secs(5)).await {
            Verdict::Unhealthy(why) => {
                assert!(
                    why.contains("no GetActivityTask has answered for 400 s"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        shutdown.cancel();
    }

    #[test]
    fn the_age_counts_from_the_start_until_the_first_poll() {
        let health = PollHealth::new();
        assert!(health.report().contains("\"polledYet\":false"));
        assert_eq!(health.poll_age_seconds(), 0);
    }

    #[tokio::test]
    async fn no_worker_on_the_port_is_unhealthy() {
        // Bind and drop to find a port nobody listens on.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        match check(port, 180, Duration::from_secs(5)).await {
            Verdict::Unhealthy(why) => assert!(why.contains("no worker answers"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
