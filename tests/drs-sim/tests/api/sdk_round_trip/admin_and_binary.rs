//! The admin API and raw protocol errors over plain HTTP, and the `drs-sim` binary.

use super::*;

#[tokio::test]
async fn admin_api_and_raw_protocol_errors() {
    let sim = start(
        vec![ServerSpec::new(sid(1), 0.1).with_tag("App", "billing")],
        |_| {},
    )
    .await;
    let ep = sim.endpoint();
    let c = client(&sim);

    let (status, head, body) = http(&ep, "POST", "/NoSuchOperation", "{}").await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: validationexception"),
        "{head}"
    );
    assert_eq!(json(&body)["reason"], "unknownOperation");
    let (status, _, body) = http(&ep, "POST", "/DescribeJobs", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(json(&body)["__type"], "ValidationException");
    assert_eq!(json(&body)["reason"], "cannotParse");

    // Servers added at run time are visible to DescribeSourceServers at once.
    let add = format!(
        r#"{{"servers":[{{"id":"{}","tags":{{"App":"billing"}},"launchSeconds":0.1}}]}}"#,
        sid(2)
    );
    let (status, _, _) = http(&ep, "POST", "/_sim/servers", &add).await;
    assert_eq!(status, 200);
    let (status, _, body) = http(
        &ep,
        "POST",
        "/_sim/servers",
        r#"{"servers":[{"id":"bad"}]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("bad"))
    );
    let servers = c.describe_source_servers().send().await.expect("servers");
    let billing = servers
        .items()
        .iter()
        .filter(|s| {
            s.tags()
                .and_then(|t| t.get("App"))
                .is_some_and(|a| a == "billing")
        })
        .count();
    assert_eq!(billing, 2);

    // Faults through the admin API, with unknown keys refused.
    let (status, _, _) = http(&ep, "POST", "/_sim/faults", r#"{"throttleFractio":1}"#).await;
    assert_eq!(status, 400);
    let (status, _, _) = http(
        &ep,
        "POST",
        "/_sim/faults",
        r#"{"perOperation":{"DescribeJobs":{"throttleNext":1}},"retryAfterSeconds":3}"#,
    )
    .await;
    assert_eq!(status, 200);
    let (status, head, body) = http(&ep, "POST", "/DescribeJobs", "{}").await;
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: 3"), "{head}");
    assert!(
        head.contains("x-amzn-errortype: throttlingexception"),
        "{head}"
    );
    assert_eq!(json(&body)["__type"], "ThrottlingException");

    let job = start_job(&c, &[sid(1)], true).await;
    wait_completed(&c, job.job_id()).await;
    let (status, _, body) = http(&ep, "GET", "/_sim/jobs", "").await;
    assert_eq!(status, 200);
    let jobs = json(&body);
    let first = &jobs["jobs"][0];
    assert_eq!(first["jobID"], job.job_id());
    assert_eq!(first["status"], "COMPLETED");
    assert_eq!(first["servers"][0]["launchStatus"], "LAUNCHED");
    assert!(first["servers"][0]["launchEndDateTime"].is_string());
    assert!(first["creationDateTime"].is_string());

    let (_, _, body) = http(&ep, "GET", "/_sim/counters", "").await;
    let counters = json(&body);
    assert_eq!(counters["operations"]["DescribeJobs"]["byStatus"]["429"], 1);
    assert_eq!(counters["operations"]["UnknownOperation"]["total"], 1);

    let (_, _, body) = http(&ep, "GET", "/_sim/recovery-instances", "").await;
    assert_eq!(
        json(&body)["recoveryInstances"].as_array().map(Vec::len),
        Some(1)
    );

    let (status, _, _) = http(&ep, "POST", "/_sim/limits", r#"{"maxConcurrentJobs":0}"#).await;
    assert_eq!(status, 400);
    let (status, _, body) = http(&ep, "POST", "/_sim/limits", r#"{"maxConcurrentJobs":5}"#).await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["maxServersPerJob"], 100);
    assert_eq!(sim.limits().max_concurrent_jobs, 5);

    // Reset forgets jobs, instances, counters and servers added at run time.
    let (status, _, _) = http(&ep, "POST", "/_sim/reset", "").await;
    assert_eq!(status, 200);
    assert!(sim.jobs().is_empty());
    assert!(sim.recovery_instances().is_empty());
    assert_eq!(sim.counters().total, 0);
    assert_eq!(sim.source_servers().len(), 1);
    let (status, _, _) = http(&ep, "GET", "/_sim/nothing", "").await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_binary_prints_its_endpoint_and_rejects_bad_fixtures() {
    let exe = env!("CARGO_BIN_EXE_drs-sim");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/examples.yaml");
    let (mut child, endpoint) = spawn_binary(&[
        "--listen",
        "127.0.0.1:0",
        "--fixture",
        fixture,
        "--seed",
        "1",
    ])
    .await;
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let out = binary_client(&endpoint)
        .describe_source_servers()
        .send()
        .await
        .expect("DescribeSourceServers");
    assert_eq!(out.items().len(), 12);
    let storefront_db = out
        .items()
        .iter()
        .filter(|s| {
            s.tags().is_some_and(|t| {
                t.get("App").is_some_and(|a| a == "storefront")
                    && t.get("Tier").is_some_and(|a| a == "db")
            })
        })
        .count();
    assert_eq!(storefront_db, 2);
    child.start_kill().expect("kill");
    child.wait().await.expect("wait");

    // The disaster-day fixture, with the participants delay, the listing delay and the
    // paging flags.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/disaster-day.yaml");
    let (mut child, endpoint) = spawn_binary(&[
        "--fixture",
        fixture,
        "--seed",
        "1",
        "--participants-delay-seconds",
        "0.5",
        "--job-listing-delay-seconds",
        "30",
        "--page-size",
        "1",
        "--empty-first-page",
    ])
    .await;
    let c = binary_client(&endpoint);
    let db1 = source_server(&c, "s-a1b2c3d4e5f600001").await;
    assert_eq!(
        replication(&db1),
        (
            "DISCONNECTED".to_owned(),
            Some(DataReplicationErrorString::AgentNotSeen)
        )
    );
    let app2 = all_snapshots(&c, "s-a1b2c3d4e5f600004", RecoverySnapshotsOrder::Asc, 10).await;
    assert!(app2.is_empty());
    let listed_jobs = || async {
        c.describe_jobs()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("DescribeJobs")
    };
    let first_page = c.describe_jobs().send().await.expect("DescribeJobs");
    assert!(first_page.items().is_empty() && first_page.next_token().is_some());
    assert_eq!(listed_jobs().await.len(), 2, "the background jobs");
    let job = c
        .start_recovery()
        .source_servers(source("s-b1b2c3d4e5f600001"))
        .send()
        .await
        .expect("StartRecovery")
        .job()
        .cloned()
        .expect("job");
    assert!(job.participating_servers().is_empty(), "listed after 0.5 s");
    assert_eq!(
        listed_jobs().await.len(),
        2,
        "the new job is listed after 30 s"
    );
    child.start_kill().expect("kill");
    child.wait().await.expect("wait");

    let dir = std::env::temp_dir().join(format!("drs-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "servers:\n  - id: s-1234\n").expect("write");
    let out = tokio::process::Command::new(exe)
        .args(["--fixture".as_ref(), bad.as_os_str()])
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("s-1234"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the drs-sim binary with `args`; its first line of output names its endpoint.
async fn spawn_binary(args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_drs-sim"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn drs-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::time::timeout(DEADLINE, BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("first line in time")
        .expect("read");
    let endpoint = line
        .trim()
        .strip_prefix("drs-sim listening on ")
        .expect("listening line")
        .to_owned();
    (child, endpoint)
}

/// An SDK client of the binary's endpoint, with the SDK's default retries.
fn binary_client(endpoint: &str) -> Client {
    let config = aws_sdk_drs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}
