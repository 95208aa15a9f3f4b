//! The worker's DRS client (`aws::drs_client`) in bad weather: it carries every call through
//! throttling and errors where the SDK's default gives up, and keeps retrying after a storm.

use super::*;

/// The weather of a large estate's preflight (issue #21 item 9): 30% of DRS calls throttled,
/// 5% answered 500. One call per server that fails past its retries fails the whole task, so
/// the worker's DRS client (`aws::drs_client`) must carry each call through: every one of 60
/// calls succeeds. The SDK's default (standard mode, 3 attempts) does not, with the same fault
/// sequence (a fixed seed, calls one at a time): the control shows the weather is bad enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_drs_client_carries_every_call_through_bad_weather() {
    const CALLS: usize = 60;
    let weather = || FaultConfig {
        all: FaultSpec {
            throttle_fraction: 0.3,
            error_fraction: 0.05,
            ..Default::default()
        },
        retry_after_seconds: 0,
        seed: Some(3),
        ..Default::default()
    };
    let calls = |drs: SdkDrs| async move {
        let mut failed = 0;
        for _ in 0..CALLS {
            if drs.describe_source_servers().await.is_err() {
                failed += 1;
            }
        }
        failed
    };
    let sim = Simulator::start(SimConfig {
        faults: weather(),
        ..SimConfig::with_servers(servers(2, 0.1))
    })
    .await
    .expect("drs-sim starts");
    let sdk = drs_test_harness::sdk_config(&sim.endpoint()).await;
    let began = std::time::Instant::now();
    let failed = calls(SdkDrs::new(drs_waves_aws::clients::drs_client(&sdk))).await;
    let counters = sim.counters();
    eprintln!("{CALLS} calls in {:?}: {counters:?}", began.elapsed());
    let op = "DescribeSourceServers";
    assert!(
        counters.count(op, 429) > 0 && counters.count(op, 500) > 0,
        "the weather was bad: {counters:?}"
    );
    assert_eq!(failed, 0, "every call of the worker's client got through");

    let control = Simulator::start(SimConfig {
        faults: weather(),
        ..SimConfig::with_servers(servers(2, 0.1))
    })
    .await
    .expect("drs-sim starts");
    let default_retries = aws_sdk_drs::config::Builder::from(
        &drs_test_harness::sdk_config(&control.endpoint()).await,
    )
    .retry_config(aws_config::retry::RetryConfig::standard())
    .build();
    let failed = calls(SdkDrs::new(aws_sdk_drs::Client::from_conf(default_retries))).await;
    eprintln!("control: {failed} failed: {:?}", control.counters());
    assert!(failed > 0, "the SDK's default retries let some calls fail");
}

/// The SDK's retry quota (a token bucket shared by every call of a client) runs dry under
/// sustained throttling, after which throttled calls fail at their first attempt: a preflight
/// of a thousand servers failed that way. The worker's DRS client has a bucket of its own
/// without limit. A storm of 150 throttled answers first (fifteen calls give up after their ten
/// attempts), then the weather: every later call gets through. The same retry settings with
/// the SDK's default bucket let later calls fail. Backoff shortened so the test takes seconds;
/// calls one at a time and a seeded weather, so both clients meet the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_drs_client_keeps_retrying_after_a_storm() {
    use aws_sdk_drs::config::retry::RetryPartition;
    const CALLS: usize = 80;
    const STORM: u32 = 150;
    let fast = || {
        drs_waves_aws::clients::drs_retry_config()
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5))
    };
    let weather = || SimConfig {
        faults: FaultConfig {
            all: FaultSpec {
                throttle_next: STORM,
                throttle_fraction: 0.3,
                error_fraction: 0.05,
                ..Default::default()
            },
            retry_after_seconds: 0,
            seed: Some(3),
            ..Default::default()
        },
        ..SimConfig::with_servers(servers(1, 0.1))
    };
    let failures = |drs: SdkDrs| async move {
        let mut failed = Vec::new();
        for call in 0..CALLS {
            if drs.describe_source_servers().await.is_err() {
                failed.push(call);
            }
        }
        failed
    };

    let sim = Simulator::start(weather()).await.expect("drs-sim starts");
    let sdk = drs_test_harness::sdk_config(&sim.endpoint()).await;
    let failed = failures(SdkDrs::new(drs_waves_aws::clients::drs_client_with(
        &sdk,
        fast(),
    )))
    .await;
    let storm_calls = (STORM / drs_waves_aws::clients::DRS_CALL_ATTEMPTS) as usize;
    assert_eq!(
        failed,
        (0..storm_calls).collect::<Vec<_>>(),
        "only the calls inside the storm give up: {:?}",
        sim.counters()
    );

    let control = Simulator::start(weather()).await.expect("drs-sim starts");
    let shared_bucket = aws_sdk_drs::config::Builder::from(
        &drs_test_harness::sdk_config(&control.endpoint()).await,
    )
    .retry_config(fast())
    .retry_partition(RetryPartition::new("control"))
    .build();
    let failed = failures(SdkDrs::new(aws_sdk_drs::Client::from_conf(shared_bucket))).await;
    assert!(
        failed.iter().any(|&call| call >= storm_calls),
        "with the SDK's bucket, calls after the storm fail too: {failed:?}"
    );
}
