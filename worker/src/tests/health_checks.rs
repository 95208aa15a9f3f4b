//! The check-health task through the fakes: probes of the recovered servers' private IP
//! addresses (served on loopback), a round's verdict and wait, and the HEALTH item.

use drs_waves_contract::{
    CheckHealthInput, HealthCheck, HealthState, HealthStatus, Probe, StatusRange,
};
use drs_waves_history::Waves as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Answers every HTTP request with `status`, on a loopback port.
async fn serve_status(status: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    port
}

/// A one-server drill wave with `checks`, launched and completed, its checks begun at
/// `started_at`, its server's recovery instance at 127.0.0.1.
async fn launched_with(w: &World, checks: Vec<HealthCheck>, started_at: &str) -> CheckHealthInput {
    w.record_preflight().await;
    w.drs.set_private_ip(&server_id(1), "127.0.0.1");
    let mut spec = wave(1, "app", &[server_id(1)], &[]);
    spec.health = checks;
    let mut state = launch_and_complete(w, &spec, &[(&server_id(1), "i-00000000000000001")]).await;
    assert_eq!(state.status, WaveStatus::Succeeded, "{}", state.reason);
    state.health = Some(HealthState {
        status: HealthStatus::Checking,
        started_at: started_at.into(),
        rounds: 0,
        passed: vec![],
        next_wait_seconds: 0,
        healthy_at: String::new(),
        due_seconds: Vec::new(),
    });
    CheckHealthInput {
        run: run_ctx(Mode::Drill, None),
        wave: spec,
        state,
        heartbeat_seconds: 60,
        alarms: None,
    }
}

fn http(port: u16, timeout: u32) -> HealthCheck {
    HealthCheck {
        probe: Probe::Http {
            url: format!("http://{{privateIp}}:{port}/health"),
            expect: StatusRange { min: 200, max: 299 },
        },
        timeout_seconds: timeout,
        interval_seconds: 5,
    }
}

#[tokio::test]
async fn a_wave_is_healthy_when_every_check_passes_on_its_recovered_servers() {
    let w = World::with_servers(1);
    let port = serve_status(200).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tcp_port = listener.local_addr().expect("addr").port();
    let tcp = HealthCheck {
        probe: Probe::Tcp {
            port: tcp_port,
            host: None,
        },
        timeout_seconds: 60,
        interval_seconds: 5,
    };
    let input = launched_with(&w, vec![http(port, 60), tcp], "2030-01-01T00:09:50Z").await;
    let state = w.handlers().check_health(input).await.expect("round");
    let health = state.health.expect("health");
    assert_eq!(health.status, HealthStatus::Healthy);
    assert_eq!(health.passed, vec![0, 1]);
    assert_eq!(state.status, WaveStatus::Succeeded);
    let record = w
        .history
        .wave_health(EXEC, 1)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(record.status, HealthStatus::Healthy);
    assert_eq!(record.healthy_at.as_deref(), Some("2030-01-01T00:10:00Z"));
    assert_eq!(
        record.checks[0].last[0].target,
        format!("http://127.0.0.1:{port}/health")
    );
    assert_eq!(record.checks[0].last[0].answer, "HTTP 200");
    assert_eq!(record.checks[1].last[0].answer, "connected");
}

#[tokio::test]
async fn a_failing_check_waits_then_fails_the_wave_naming_the_check_and_its_answer() {
    let w = World::with_servers(1);
    let port = serve_status(503).await;
    // Begun ten seconds ago, a minute to pass: still checking, next round in 5 s.
    let input = launched_with(&w, vec![http(port, 60)], "2030-01-01T00:09:50Z").await;
    let state = w
        .handlers()
        .check_health(input.clone())
        .await
        .expect("round");
    let health = state.health.clone().expect("health");
    assert_eq!(health.status, HealthStatus::Checking);
    assert_eq!(health.next_wait_seconds, 5);
    assert_eq!(state.status, WaveStatus::Succeeded);
    let record = w
        .history
        .wave_health(EXEC, 1)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(record.checks[0].last[0].answer, "HTTP 503");
    assert_eq!(record.rounds, 1);
    // Begun ten minutes ago: past the timeout, the wave fails.
    let mut late = input;
    if let Some(h) = late.state.health.as_mut() {
        h.started_at = "2030-01-01T00:00:00Z".into();
    }
    let state = w.handlers().check_health(late).await.expect("round");
    assert_eq!(
        state.health.as_ref().map(|h| h.status),
        Some(HealthStatus::Failed)
    );
    assert_eq!(state.status, WaveStatus::Failed);
    assert!(
        state.reason.contains("health check 1")
            && state
                .reason
                .contains(&format!("http://127.0.0.1:{port}/health answered HTTP 503")),
        "{}",
        state.reason
    );
    let record = w
        .history
        .wave_health(EXEC, 1)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(record.status, HealthStatus::Failed);
    assert!(
        w.history.get_wave(EXEC, 1).await.expect("wave").is_some(),
        "the wave's own record stays"
    );
}

#[tokio::test]
async fn a_wave_without_a_recovered_address_fails_its_per_server_check_saying_why() {
    let w = World::with_servers(1);
    let mut input = launched_with(&w, vec![http(9, 60)], "2030-01-01T00:00:00Z").await;
    // The instance of another execution's job is not this wave's.
    input.run.mode = Mode::Recovery;
    let state = w.handlers().check_health(input).await.expect("round");
    assert_eq!(state.status, WaveStatus::Failed);
    assert!(
        state.reason.contains("no recovered server to probe"),
        "{}",
        state.reason
    );
}

#[tokio::test]
async fn each_check_is_probed_at_its_own_interval() {
    let w = World::with_servers(1);
    let port = serve_status(503).await;
    let mut slow = http(port, 600);
    slow.interval_seconds = 30;
    // The clock reads 00:10:00; begun 10 s ago: both checks are probed.
    let mut input = launched_with(&w, vec![http(port, 600), slow], "2030-01-01T00:09:50Z").await;
    let state = w
        .handlers()
        .check_health(input.clone())
        .await
        .expect("round 1");
    let health = state.health.expect("health");
    assert_eq!(health.due_seconds, [15, 40]);
    assert_eq!(health.next_wait_seconds, 5, "the 5 s check is due first");
    // Five seconds later (00:10:05, 15 s after the checks began): only the 5 s check is due.
    input.state.health = Some(health);
    let state = w
        .handlers_at(time::macros::datetime!(2030-01-01 00:10:05 UTC))
        .check_health(input)
        .await
        .expect("round 2");
    let health = state.health.expect("health");
    assert_eq!(health.due_seconds, [20, 40]);
    assert_eq!(health.next_wait_seconds, 5);
    let record = w
        .history
        .wave_health(EXEC, 1)
        .await
        .expect("read")
        .expect("recorded");
    let probes: Vec<u32> = record.checks.iter().map(|c| c.probes).collect();
    assert_eq!(probes, [2, 1], "the 30 s check was not probed again");
}
