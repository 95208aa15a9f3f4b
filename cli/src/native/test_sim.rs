//! drs-sim in-process for the native commands' tests, and the SDK adapter over it.

use drs_sim::{ServerSpec, SimConfig, SimHandle, Simulator};
use drs_waves_aws::drs::SdkDrs;

/// `s-` and 17 digits: server `i`'s source server ID.
pub fn sid(i: usize) -> String {
    format!("s-{i:017}")
}

/// drs-sim serving `servers` (kept alive by the handle), and the SDK adapter that calls it.
pub async fn sim_drs(servers: Vec<ServerSpec>) -> (SimHandle, SdkDrs) {
    let sim = Simulator::start(SimConfig::with_servers(servers))
        .await
        .expect("drs-sim starts");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .endpoint_url(sim.endpoint())
        .load()
        .await;
    (sim, SdkDrs::new(aws_sdk_drs::Client::new(&sdk)))
}
