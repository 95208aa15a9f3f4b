//! The deployment as the guard of what a test starts: a test that panics (or fails with `?`,
//! which drops it the same way) leaves no worker process and no drs-sim behind.

use std::net::TcpStream;
use std::panic::AssertUnwindSafe;

use anyhow::{Context, Result};
use drs_e2e::Deployment;
use drs_sim::SimConfig;
use drs_test_harness::{eventually, process_running};

use super::billing_servers;

/// A test that panics with its worker running: the unwinding drops the deployment, which stops
/// the worker's process (SIGTERM to its group, then its grace) and drs-sim, whose port then
/// refuses connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_stops_its_worker_and_drs_sim_when_the_test_panics() -> Result<()> {
    let mut dep =
        Deployment::new("guard", SimConfig::with_servers(billing_servers(&[], 1.0))).await?;
    dep.start_worker(&[])?;
    let worker_pid = dep
        .worker()
        .and_then(|w| w.pid())
        .context("the worker's PID")?;
    let sim_addr = dep.sim.addr();
    ensure_accepts(sim_addr)?;

    let failed_test = std::panic::catch_unwind(AssertUnwindSafe(move || {
        let _dep = dep;
        panic!("the test fails with its deployment running");
    }));
    assert!(failed_test.is_err(), "the stand-in test panicked");

    // The drop waited for the worker to exit: it is gone already.
    assert!(
        !process_running(worker_pid),
        "worker {worker_pid} still runs after its deployment was dropped"
    );
    // drs-sim's server task ends on the runtime once told to stop.
    eventually(
        "drs-sim to stop accepting connections",
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(50),
        || async move { ensure_accepts(sim_addr).is_err().then_some(()) },
    )
    .await?;
    Ok(())
}

fn ensure_accepts(addr: std::net::SocketAddr) -> Result<()> {
    TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))
        .with_context(|| format!("connecting to drs-sim at {addr}"))?;
    Ok(())
}
