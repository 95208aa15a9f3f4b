//! drs-sim's integration tests, one module per subject, in one test binary: each binary links
//! the SDK, and one link is much cheaper than eight on CI's two cores.

mod accounts;
mod common;
mod launch_actions;
mod model_requests;
mod model_responses;
mod model_rules;
mod model_vendored;
mod realistic;
mod recovery_instance_ids;
mod recovery_plans;
mod sdk_round_trip;
