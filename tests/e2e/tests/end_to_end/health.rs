//! Health checks (issue #24): an HTTP check that fails for a while, then passes, holds the next
//! wave until it does; a TCP check that never passes fails its wave with `onFailure: ask`, and
//! an operator's retry runs the checks again (nothing is launched again) once the port is open.
//! The recovered servers' private IP is 127.0.0.1 (drs-sim's `recoveredIp` test knob), where
//! each test serves on a port of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use anyhow::{Context, Result, anyhow, ensure};
use drs_sim::ServerSpec;
use drs_test_harness::eventually;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::operator::{Act, deploy_plan_with_worker, operate, wait_for_gate, wave_jobs};
use crate::{DRILL_TIMEOUT, describe, drill};

const APP: &str = "s-0e2400000000000a1";
const WEB: &str = "s-0e2400000000000b1";
const LOOPBACK: &str = "127.0.0.1";

fn servers() -> Vec<ServerSpec> {
    vec![
        ServerSpec::new(APP, 1.0).with_recovered_ip(LOOPBACK),
        ServerSpec::new(WEB, 1.0).with_recovered_ip(LOOPBACK),
    ]
}

/// Serves HTTP on a loopback port: 503 until `healthy` is set, 200 after; counts the requests.
async fn flaky_http() -> Result<(u16, Arc<AtomicU32>, Arc<AtomicBool>)> {
    let listener = TcpListener::bind((LOOPBACK, 0)).await?;
    let port = listener.local_addr()?.port();
    let served = Arc::new(AtomicU32::new(0));
    let healthy = Arc::new(AtomicBool::new(false));
    let (count, ok) = (served.clone(), healthy.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let status = if ok.load(Ordering::SeqCst) {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            count.fetch_add(1, Ordering::SeqCst);
            let answer =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    Ok((port, served, healthy))
}

/// Wave `index`'s HEALTH record once it says `status`.
async fn health_when(
    dep: &drs_e2e::Deployment,
    execution: &str,
    index: u32,
    status: &str,
) -> Result<Value> {
    let history = dep.history(execution).await?;
    let health = history
        .health_if_any(index)
        .with_context(|| format!("wave {index} has no HEALTH item"))?;
    ensure!(
        health["status"] == status,
        "wave {index}'s health: {health}"
    );
    Ok(health)
}

/// An HTTP check answered 503 holds wave 2 (no job of it exists after three failed probes),
/// then 200: wave 2 launches and the drill succeeds; the history keeps the answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_check_holds_the_next_wave_until_it_passes() -> Result<()> {
    let (port, served, healthy) = flaky_http().await?;
    let (dep, machine) = deploy_plan_with_worker(
        "health-http",
        servers(),
        "healthy",
        &format!(
            "  - name: app\n    servers: {{ids: [{APP}]}}\n    health:\n      - http: {{url: \"http://{{privateIp}}:{port}/health\", expect: 2xx}}\n        timeoutMinutes: 2\n        intervalSeconds: 1\n  - name: web\n    servers: {{ids: [{WEB}]}}\n"
        ),
    )
    .await?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    eventually(
        "the check to be answered 503 three times",
        DRILL_TIMEOUT,
        crate::operator::POLL,
        || {
            let served = served.clone();
            async move { (served.load(Ordering::SeqCst) >= 3).then_some(()) }
        },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    // Three probes answered 503: wave 1 is not healthy, so wave 2 has not launched.
    ensure!(
        wave_jobs(&dep, &execution, "web").is_empty(),
        "wave 2 launched while wave 1's check failed"
    );
    let checking = dep.history(&execution).await?.health_if_any(1);
    ensure!(
        checking.as_ref().is_some_and(
            |h| h["status"] == "CHECKING" && h["checks"][0]["last"][0]["answer"] == "HTTP 503"
        ),
        "the history shows the failing probe: {checking:?}"
    );
    healthy.store(true, Ordering::SeqCst);
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let health = health_when(&dep, &execution, 1, "HEALTHY").await?;
    let check = &health["checks"][0];
    ensure!(check["passedAt"].is_string(), "{health}");
    let target = format!("http://{LOOPBACK}:{port}/health");
    assert_eq!(
        check["last"][0]["target"],
        Value::String(target),
        "{health}"
    );
    assert_eq!(check["last"][0]["answer"], "HTTP 200", "{health}");
    ensure!(
        check["probes"].as_u64() >= Some(4),
        "three 503s and a 200: {health}"
    );
    let web = wave_jobs(&dep, &execution, "web");
    ensure!(web.len() == 1, "wave 2 launched once: {web:?}");
    // The report: wave 1 launched, then was healthy, and its RTO counts to healthy.
    let report = dep.report(&execution).await?;
    let app = &report.waves[0];
    assert_eq!(
        app.healthy_at.as_deref(),
        health["healthyAt"].as_str(),
        "{app:?}"
    );
    ensure!(
        app.recovered_at.is_some() && app.recovered_at <= app.healthy_at,
        "launched before healthy: {app:?}"
    );
    let started = time::OffsetDateTime::parse(
        &report.execution.started_at,
        &time::format_description::well_known::Rfc3339,
    )?;
    let healthy = time::OffsetDateTime::parse(
        app.healthy_at.as_deref().unwrap_or_default(),
        &time::format_description::well_known::Rfc3339,
    )?;
    let to_healthy = u64::try_from((healthy - started).whole_seconds()).unwrap_or_default();
    ensure!(
        app.rto
            .achieved_seconds
            .is_some_and(|s| s.abs_diff(to_healthy) <= 1),
        "the wave's RTO is measured to healthy ({to_healthy} s): {:?}",
        app.rto
    );
    Ok(())
}

/// A TCP check whose port is closed fails wave 1 with `onFailure: ask`: the decision names the
/// check and its answer, wave 2 has not launched. The test opens the port and answers retry:
/// the checks run again (wave 1 is not launched again), pass, and the drill succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_check_that_fails_asks_and_a_retry_runs_the_checks_again() -> Result<()> {
    // A port that nothing listens on (taken, then let go) until the test opens it again.
    let port = TcpListener::bind((LOOPBACK, 0)).await?.local_addr()?.port();
    let (dep, machine) = deploy_plan_with_worker(
        "health-tcp",
        servers(),
        "tcpcheck",
        &format!(
            "  - name: app\n    servers: {{ids: [{APP}]}}\n    onFailure: ask\n    decision: {{timeoutMinutes: 10}}\n    health:\n      - tcp: {{port: {port}}}\n        timeoutMinutes: 0.1\n        intervalSeconds: 1\n  - name: web\n    servers: {{ids: [{WEB}]}}\n"
        ),
    )
    .await?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let gate = wait_for_gate(&dep, &execution, "DECISION", 1).await?;
    let reason = gate["reason"].as_str().unwrap_or_default();
    ensure!(
        reason.contains("health check 1")
            && reason.contains(&format!("{LOOPBACK}:{port} answered connection refused")),
        "the decision names the check and its answer: {gate}"
    );
    ensure!(
        wave_jobs(&dep, &execution, "web").is_empty(),
        "wave 2 started before the decision"
    );
    health_when(&dep, &execution, 1, "FAILED").await?;
    let listener = TcpListener::bind((LOOPBACK, port)).await?;
    operate(&dep, &execution, Act::Decide("retry")).await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    drop(listener);
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let app = wave_jobs(&dep, &execution, "app");
    ensure!(
        app.len() == 1,
        "a retry of the checks launches nothing: {app:?}"
    );
    let health = health_when(&dep, &execution, 1, "HEALTHY").await?;
    assert_eq!(
        health["checks"][0]["last"][0]["answer"], "connected",
        "{health}"
    );
    ensure!(
        wave_jobs(&dep, &execution, "web").len() == 1,
        "wave 2 launched once"
    );
    Ok(())
}

/// An alarm check (read by Step Functions from LocalStack's CloudWatch, judged by the worker)
/// holds wave 2 while the alarm is in ALARM; once it is OK, wave 2 launches and the drill
/// succeeds. The history keeps the alarm's state and reason as the probe's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_check_holds_the_next_wave_until_the_alarm_is_ok() -> Result<()> {
    let (dep, machine) = deploy_plan_with_worker(
        "health-alarm",
        servers(),
        "alarmcheck",
        &format!(
            "  - name: app\n    servers: {{ids: [{APP}]}}\n    health:\n      - alarm: health-alarm-app-5xx\n        timeoutMinutes: 3\n        intervalSeconds: 1\n  - name: web\n    servers: {{ids: [{WEB}]}}\n"
        ),
    )
    .await?;
    let endpoint = dep.localstack_endpoint().to_owned();
    drs_e2e::cloudwatch::put_alarm_in_state(
        &endpoint,
        "health-alarm-app-5xx",
        "ALARM",
        "5xx rate above 1%",
    )
    .await?;
    let execution = dep.start_execution(&machine, &drill()).await?;
    let (dep_ref, exec) = (&dep, execution.as_str());
    let checking = eventually(
        "the alarm check to be answered ALARM twice",
        DRILL_TIMEOUT,
        crate::operator::POLL,
        || async move {
            let h = dep_ref.history(exec).await.ok()?.health_if_any(1)?;
            let check = &h["checks"][0];
            (check["probes"].as_u64() >= Some(2)).then(|| h.clone())
        },
    )
    .await
    .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    ensure!(
        checking["status"] == "CHECKING"
            && checking["checks"][0]["last"][0]["answer"] == "ALARM: 5xx rate above 1%",
        "the history shows the alarm's state and reason: {checking}"
    );
    ensure!(
        wave_jobs(&dep, &execution, "web").is_empty(),
        "wave 2 launched while wave 1's alarm was in ALARM"
    );
    let set_ok_at = time::OffsetDateTime::now_utc();
    drs_e2e::cloudwatch::set_alarm_state(&endpoint, "health-alarm-app-5xx", "OK", "recovered")
        .await?;
    let ended = dep.wait_for_end(&execution, DRILL_TIMEOUT).await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let health = health_when(&dep, &execution, 1, "HEALTHY").await?;
    assert_eq!(health["checks"][0]["last"][0]["answer"], "OK", "{health}");
    let web = wave_jobs(&dep, &execution, "web");
    ensure!(
        web.len() == 1 && web[0].creation_date_time >= set_ok_at - time::Duration::seconds(1),
        "wave 2 launched once, after the alarm was OK ({set_ok_at}): {web:?}"
    );
    Ok(())
}
