//! Builders of the contract's plan types for tests: one definition of a wave, a plan and a
//! source server ID, with the defaults codegen gives a plan that says nothing more (stop on
//! failure, one attempt, an hour's launch timeout, the default polling bounds). A test sets what
//! it cares about with struct update syntax:
//!
//! ```
//! use drs_test_builders::wave;
//! use drs_waves_contract::WaveSpec;
//!
//! let ids = vec!["s-00000000000000001".to_string()];
//! let fast = WaveSpec { launch_timeout_seconds: 60, ..wave(1, "db", &ids, &[]) };
//! assert_eq!(fast.server_ids, ids);
//! ```

use drs_waves_contract::{OnFailure, PlanSpec, PollingBounds, WaveSpec};

/// A wave of `ids` and of every server carrying all of `tags`, with the plan defaults.
pub fn wave(index: u32, name: &str, ids: &[String], tags: &[(&str, &str)]) -> WaveSpec {
    WaveSpec {
        pause_before_seconds: None,
        index,
        name: name.to_owned(),
        server_ids: ids.to_vec(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        optional: Vec::new(),
        launch_timeout_seconds: 3600,
        on_failure: OnFailure::Stop,
        polling: PollingBounds {
            min_wait_seconds: 15,
            max_wait_seconds: 300,
            expected_launch_seconds: 1200,
        },
        approval: None,
        max_attempts: 1,
        decision_timeout_seconds: None,
        decision_notify: None,
        depends_on: None,
        account: None,
        health: Vec::new(),
        lists_recovered: false,
    }
}

/// Polling bounds of a test that must not wait long: checks every `min`..`max` seconds, the
/// first after `expected`.
pub fn polling(min: u32, max: u32, expected: u32) -> PollingBounds {
    PollingBounds {
        min_wait_seconds: min,
        max_wait_seconds: max,
        expected_launch_seconds: expected,
    }
}

/// A plan of `waves` whose drills terminate their instances at the end.
pub fn plan(name: &str, waves: Vec<WaveSpec>) -> PlanSpec {
    PlanSpec {
        name: name.to_owned(),
        terminate_drill_instances: true,
        waves,
    }
}

/// A source server ID as DRS makes them (`s-` and 17 characters), `stem` then `i` padded.
pub fn server_id(stem: &str, i: usize) -> String {
    let digits = 17usize.saturating_sub(stem.len());
    format!("s-{stem}{i:0digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_have_drs_shape() {
        assert_eq!(server_id("", 1), "s-00000000000000001");
        assert_eq!(server_id("a1b2c3d4e5f6", 7), "s-a1b2c3d4e5f600007");
        assert_eq!(server_id("a1b2c3d4e5f6", 7).len(), 19);
    }

    #[test]
    fn a_wave_has_the_plan_defaults() {
        let w = wave(2, "app", &[], &[("App", "billing")]);
        assert_eq!(w.on_failure, OnFailure::Stop);
        assert_eq!(w.max_attempts, 1);
        assert_eq!(w.tags.get("App").map(String::as_str), Some("billing"));
        assert_eq!(plan("billing", vec![w]).waves.len(), 1);
    }
}
